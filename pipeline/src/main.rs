//! The `trailhound` command line.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use pipeline::config::RunSettings;
use pipeline::decode::DecodeConfig;
use pipeline::detect::coverage;
use pipeline::detect::testing::run_rule_tests;
use pipeline::detect::{Rule, RulePack, embedded_pack, embedded_rules, load_pack};
use pipeline::exceptions::ExceptionSet;
use pipeline::hunt::{self, OutputFormat};
use pipeline::ops::{self, OpsState};
use pipeline::process::Processor;
use pipeline::run::{FileRun, RunConfig};
use pipeline::sinks::jsonl::JsonLinesSink;
use pipeline::sinks::lake_alerts::LakeAlertsSink;
use pipeline::sinks::{AlertSink, Fanout};
use pipeline::sources::sqs::{self, SqsConfig};

/// trailhound: CloudTrail detection engine and data lake.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Log format on stderr: text, or json (one object per line, for log pipelines).
    #[arg(
        long,
        global = true,
        env = "TRAILHOUND_LOG_FORMAT",
        default_value = "text",
        value_parser = ["text", "json"]
    )]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Process CloudTrail files, or S3 notifications from SQS: write the Parquet lake and
    /// hand alerts to the sink. Settings come from flags, TRAILHOUND_* variables and a TOML
    /// file, in that order of precedence.
    Run {
        /// TOML settings file; its keys are the flag names with underscores.
        #[arg(long, env = "TRAILHOUND_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Box<RunSettings>,
    },
    /// AWS Lambda mode: handle SQS event batches through the Lambda runtime API
    /// (`AWS_LAMBDA_RUNTIME_API`), reporting the messages that failed as batchItemFailures.
    /// Chosen by itself when the binary starts without arguments inside Lambda. Settings as
    /// for `run` (TRAILHOUND_LAKE, TRAILHOUND_RULES, TRAILHOUND_SINKS, ...).
    Lambda {
        /// TOML settings file; its keys are the flag names with underscores.
        #[arg(long, env = "TRAILHOUND_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Box<RunSettings>,
    },
    /// Exit 0 when a trailhound ops endpoint answers 200 (a container health check without
    /// curl in the image).
    Health {
        /// The URL to check.
        #[arg(long, default_value = "http://127.0.0.1:9100/health")]
        url: String,
    },
    /// Run every rule's test events and golden alerts; ends with "N passed, M failed".
    Test {
        /// Rules folder.
        #[arg(long, default_value = "sql-rules")]
        rules: PathBuf,
        /// Rewrite the golden alert files from the current output.
        #[arg(long)]
        bless: bool,
    },
    /// Inspect rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Read-only SQL over the lake: tables `cloudtrail` (partitions `dt`, `hour`) and `alerts`
    /// (partition `dt`), with Athena's functions. Rows stream to stdout; a summary goes to
    /// stderr.
    Hunt {
        /// Lake location: a folder, a file:// URL or s3://bucket/prefix.
        #[arg(long, env = "TRAILHOUND_LAKE")]
        lake: String,
        /// Only events at or after this time: 2025-03-09T16:00:00Z, 2025-03-09, or 7d ago.
        #[arg(long)]
        from: Option<String>,
        /// Only events before this time (same forms as --from).
        #[arg(long)]
        to: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// Read the query from this file instead of the argument.
        #[arg(long, conflicts_with = "sql")]
        file: Option<PathBuf>,
        /// Progress line on stderr: auto (when stderr is a terminal), always or never.
        #[arg(long, value_enum, default_value = "auto")]
        progress: Progress,
        /// The SQL query.
        #[arg(required_unless_present = "file")]
        sql: Option<String>,
    },
    /// Replay the lake through the rules in event-time order, exactly as streaming would
    /// (detections, exceptions, dedup, correlations). Alerts go out as JSON Lines, the fires
    /// per rule and events/s to stderr; no sink receives anything.
    Backtest {
        /// Lake location: a folder, a file:// URL or s3://bucket/prefix.
        #[arg(long, env = "TRAILHOUND_LAKE")]
        lake: String,
        /// Rules folder; without it, the built-in pack.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Only report this rule id (repeatable). Every rule still runs, so correlations
        /// still see their signals.
        #[arg(long = "rule")]
        rule: Vec<String>,
        /// Replay events at or after this time: 2025-03-09T16:00:00Z, 2025-03-09, or 30d ago.
        #[arg(long)]
        from: Option<String>,
        /// Replay events before this time.
        #[arg(long)]
        to: Option<String>,
        /// Another rules folder, replayed over the same events: prints the per-rule
        /// difference.
        #[arg(long)]
        compare: Option<PathBuf>,
        /// Exceptions file, as for `run`.
        #[arg(long)]
        exceptions: Option<PathBuf>,
        /// Where alerts go as JSON Lines: a file, or - for stdout.
        #[arg(long, default_value = "-")]
        alerts: String,
        /// Watermark lateness, as for `run`.
        #[arg(long, default_value = "15m")]
        lateness: String,
    },
    /// Sigma rules.
    Sigma {
        #[command(subcommand)]
        command: SigmaCommand,
    },
    /// Lake utilities.
    Lake {
        #[command(subcommand)]
        command: LakeCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// List rules: id, severity, tactics, title.
    List {
        /// Rules folder; without it, the built-in pack.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Convert TrailAlerts post-processing rules (threshold, correlation) into correlation
    /// rules (.toml files), resolving rule titles against the loaded rules.
    ImportTrailalerts {
        /// TrailAlerts post-processing JSON file.
        postprocessing: PathBuf,
        /// Folder to write the correlation rules to.
        #[arg(long)]
        out: PathBuf,
        /// Rules folder whose titles are resolved; without it, the built-in pack.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// ATT&CK coverage: a table per tactic, and optionally a Navigator layer file.
    Coverage {
        /// Rules folder; without it, the built-in pack.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Write an ATT&CK Navigator layer (JSON) to this file.
        #[arg(long)]
        layer: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SigmaCommand {
    /// Print the trailhound rules (metadata and SQL, or the correlation table) Sigma files
    /// compile to; files given together may refer to each other's rules.
    Convert {
        /// Sigma processing pipeline (field mappings, placeholder values); repeatable.
        #[arg(long = "pipeline")]
        pipelines: Vec<PathBuf>,
        /// Sigma YAML files (one or more documents each).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// When to draw a progress line.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Progress {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum LakeCommand {
    /// Print the lake schema as a Markdown table.
    Schema,
    /// Print Athena's CREATE EXTERNAL TABLE statements for the lake's events and alerts, with
    /// partition projection.
    Ddl {
        /// The lake on S3: s3://bucket/prefix.
        #[arg(long)]
        lake: String,
        /// Glue database to create the tables in.
        #[arg(long)]
        database: Option<String>,
        /// Name of the events table.
        #[arg(long, default_value = "cloudtrail")]
        table: String,
        /// Name of the alerts table.
        #[arg(long, default_value = "cloudtrail_alerts")]
        alerts_table: String,
    },
    /// Print both tables as Glue definitions (JSON), as the Terraform module reads them.
    GlueSchema,
    /// Merge the small files of closed partitions (events and alerts) into files near the
    /// target size, sorted by event time. Crash-safe: re-run it after any failure.
    Compact {
        /// Lake location: a folder, a file:// URL or s3://bucket/prefix.
        #[arg(long, env = "TRAILHOUND_LAKE")]
        lake: String,
        /// A partition is closed this long after its end: 30m, 2h, 1d.
        #[arg(long, default_value = "2h")]
        older_than: String,
        /// Size merged files aim at: 128MB, 1GB, 512KB.
        #[arg(long, default_value = "128MB")]
        target_size: String,
    },
}

/// A size such as 128MB, 1GB, 512KB or a number of bytes (units are powers of 1024).
fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().context("expected a number followed by KB, MB or GB")?;
    let scale = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "K" => 1 << 10,
        "MB" | "M" => 1 << 20,
        "GB" | "G" => 1 << 30,
        other => anyhow::bail!("unknown unit '{other}' (use KB, MB or GB)"),
    };
    anyhow::ensure!(number > 0, "must be more than zero");
    Ok(number * scale)
}

fn load_pack_or_embedded(dir: Option<&PathBuf>) -> Result<RulePack> {
    Ok(match dir {
        Some(dir) => load_pack(dir)?,
        None => embedded_pack()?,
    })
}

/// Loads `--exceptions`: TOML, or TrailAlerts' JSON keyed by rule titles of the pack. An
/// exception naming a rule id that is not loaded is an error: it would silently do nothing.
async fn load_exceptions(path: Option<&PathBuf>, pack: &RulePack) -> Result<ExceptionSet> {
    let Some(path) = path else {
        return Ok(ExceptionSet::empty());
    };
    let exceptions = if path.extension().is_some_and(|ext| ext == "json") {
        let titles: HashMap<String, String> = pack
            .detections
            .iter()
            .map(|rule| (rule.meta.title.clone(), rule.meta.id.clone()))
            .collect();
        ExceptionSet::from_trailalerts(path, &titles).await?
    } else {
        ExceptionSet::load(path).await?
    };
    let ids: std::collections::HashSet<&str> = pack
        .detections
        .iter()
        .map(|rule| rule.meta.id.as_str())
        .chain(pack.correlations.iter().map(|rule| rule.meta.id.as_str()))
        .collect();
    for index in 0..exceptions.len() {
        let info = exceptions.describe(index);
        if let Some(unknown) =
            info.rules.iter().find(|id| !id.contains(['*', '?']) && !ids.contains(id.as_str()))
        {
            anyhow::bail!(
                "{}: exception {index} names rule '{unknown}', which is not loaded",
                path.display()
            );
        }
    }
    Ok(exceptions)
}

/// What `run` and `lambda` share: rules (being compiled), lake, sinks and the ops endpoint.
struct Prepared {
    processor: Compiling,
    location: lake::LakeLocation,
    sink: Box<dyn AlertSink>,
    config: RunConfig,
    ops: Arc<OpsState>,
}

async fn prepare(settings: &pipeline::config::ResolvedRun) -> Result<Prepared> {
    pipeline::secrets::resolve_from_env().await?;
    let rules_copy = match &settings.rules {
        Some(path) if pipeline::remote::is_remote(path) => {
            Some(pipeline::remote::copy_local(&path.to_string_lossy()).await?)
        }
        _ => None,
    };
    let rules = rules_copy.as_ref().map(|copy| copy.path.clone()).or(settings.rules.clone());
    let pack = load_pack_or_embedded(rules.as_ref())?;
    let exceptions = load_exceptions(settings.exceptions.as_ref(), &pack).await?;
    let rule_tags: HashMap<String, Vec<String>> = pack
        .detections
        .iter()
        .map(|rule| &rule.meta)
        .chain(pack.correlations.iter().map(|rule| &rule.meta))
        .map(|meta| (meta.id.clone(), meta.tags.clone()))
        .collect();
    let processor = tokio::spawn(Processor::for_pack(pack, exceptions, settings.lateness));
    let location = lake::LakeLocation::open(&settings.lake)?;
    let ops = Arc::new(OpsState::default());
    let mut sinks: Vec<Box<dyn AlertSink>> = vec![match settings.alerts.as_str() {
        "-" => Box::new(JsonLinesSink::stdout()),
        path => Box::new(JsonLinesSink::file(std::path::Path::new(path))?),
    }];
    if settings.alerts_table {
        sinks.push(Box::new(LakeAlertsSink::new(location.clone())));
    }
    let sinks_copy = match &settings.sinks {
        Some(path) if pipeline::remote::is_remote(path) => {
            Some(pipeline::remote::copy_local(&path.to_string_lossy()).await?)
        }
        _ => None,
    };
    if let Some(path) = sinks_copy.as_ref().map(|copy| &copy.path).or(settings.sinks.as_ref()) {
        let context = pipeline::sinks::config::SinkContext {
            location: &location,
            counters: ops.counters.clone(),
            rule_tags: Arc::new(rule_tags),
            // A local run is the lake's only writer: what an earlier run left is its own.
            takeover: if settings.sqs_queue_url.is_some() {
                settings.takeover
            } else {
                std::time::Duration::ZERO
            },
        };
        let file = pipeline::sinks::config::load(path)?;
        sinks.extend(pipeline::sinks::config::build(path, file, &context).await?);
    }
    let enricher = pipeline::enrich::Enricher::new(
        settings.aws_ip_ranges.as_deref().map(pipeline::enrich::AwsRanges::load).transpose()?,
        settings
            .maxmind
            .iter()
            .map(|path| pipeline::maxmind::MaxMindDb::open(path))
            .collect::<pipeline::Result<_>>()?,
    );
    let sink: Box<dyn AlertSink> = if enricher.is_empty() {
        Box::new(Fanout::new(sinks))
    } else {
        Box::new(pipeline::enrich::EnrichingSink::new(enricher, Box::new(Fanout::new(sinks))))
    };
    let config = RunConfig {
        decode: DecodeConfig { batch_rows: settings.batch_rows, ..DecodeConfig::default() },
        concurrency: settings.concurrency,
        ..RunConfig::for_inputs(settings.inputs.clone())
    };
    if let Some(address) = &settings.ops_listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("--ops-listen {address}"))?;
        tokio::spawn(ops::serve(listener, ops.clone()));
    }
    Ok(Prepared { processor, location, sink, config, ops })
}

/// A rule pack compiled on a task of its own, so that a run starts reading meanwhile.
type Compiling = tokio::task::JoinHandle<pipeline::Result<Processor>>;

/// The processor of a rule pack once compiled; a broken rule fails here.
async fn compiled(compiling: Compiling) -> Result<Processor> {
    Ok(compiling.await.context("compiling the rules")??)
}

/// Handles SQS batches through the Lambda runtime API until it goes away.
async fn lambda(settings: pipeline::config::ResolvedRun) -> Result<ExitCode> {
    let address = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .context("AWS_LAMBDA_RUNTIME_API is not set: lambda runs inside AWS Lambda")?;
    let api = pipeline::sources::lambda::RuntimeApi::new(&address);
    let ready = async {
        let Prepared { processor, location, sink, config, ops } = prepare(&settings).await?;
        anyhow::Ok((compiled(processor).await?, location, sink, config, ops))
    };
    let (mut processor, location, mut sink, config, ops) = match ready.await {
        Ok(ready) => ready,
        Err(error) => {
            api.init_error(&format!("{error:#}")).await?;
            return Err(error);
        }
    };
    let mut worker = sqs::Worker::start(
        &config,
        &location,
        &mut processor,
        &ops.counters,
        settings.takeover.as_secs(),
    )
    .await?;
    ops.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    pipeline::sources::lambda::serve(&api, &mut worker, sink.as_mut()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn run(settings: pipeline::config::ResolvedRun) -> Result<ExitCode> {
    let Prepared { processor, location, mut sink, config, ops } = prepare(&settings).await?;
    let counters = &ops.counters;
    if let Some(queue_url) = settings.sqs_queue_url {
        let mut processor = compiled(processor).await?;
        let sqs = SqsConfig {
            queue_url,
            wait_seconds: settings.wait_seconds,
            max_empty_receives: settings.max_empty_receives,
            visibility_timeout: settings.visibility_timeout,
            takeover_seconds: settings.takeover.as_secs(),
        };
        let client = sqs::client().await;
        client.get_queue_attributes().queue_url(&sqs.queue_url).send().await.map_err(|error| {
            anyhow::anyhow!("queue {} is not reachable: {error}", sqs.queue_url)
        })?;
        // Reading the shared state proves the lake reachable (and the credentials good).
        pipeline::state::SharedState::new(&location)
            .load()
            .await
            .with_context(|| format!("lake {} is not reachable", settings.lake))?;
        ops.ready.store(true, std::sync::atomic::Ordering::Relaxed);
        let stats = sqs::consume(
            &client,
            &sqs,
            &config,
            &location,
            &mut processor,
            sink.as_mut(),
            counters,
            sqs::shutdown_signal(),
        )
        .await
        .context("the queue consumer stopped")?;
        eprintln!(
            "trailhound: messages_received={} messages_deleted={} messages_failed={} messages_released={} state_conflicts={} events={} alerts={}",
            stats.received,
            stats.deleted,
            stats.failed,
            stats.released,
            stats.state_conflicts,
            counters.events.load(std::sync::atomic::Ordering::Relaxed),
            counters.alerts()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let reading = FileRun::start(&config, &location, counters).await.context("the run stopped")?;
    let mut processor = compiled(processor).await?;
    ops.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    let summary = reading
        .process(&location, &mut processor, sink.as_mut(), counters)
        .await
        .context("the run stopped")?;
    eprintln!("trailhound: {}", summary.line());
    Ok(ExitCode::SUCCESS)
}

fn load_rules(dir: Option<&PathBuf>) -> Result<Vec<Rule>> {
    Ok(match dir {
        Some(dir) => load_pack(dir)?.detections,
        None => embedded_rules()?,
    })
}

/// Flag and environment settings, with the settings file's values under them.
fn with_file(settings: Box<RunSettings>, file: Option<&std::path::Path>) -> Result<RunSettings> {
    Ok(match file {
        Some(path) => settings.or(RunSettings::from_file(path)?),
        None => *settings,
    })
}

/// `trailhound health`: GET the URL, success on 200.
async fn health(url: &str) -> Result<ExitCode> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build()?;
    let response = client.get(url).send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "GET {url} answered {status}");
    Ok(ExitCode::SUCCESS)
}

/// mimalloc: allocation was over a quarter of a run's cycles with the system allocator
/// (`perf`, benches/end-to-end.sh); decoding and rule matching allocate per row.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, mimalloc.h, v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Gives memory freed by the run back to the system after 30 ms rather than mimalloc 3's
/// default of a second: batches are freed on other threads than the decoders that allocated
/// them, and a second's worth of them held back about 65 MB of peak memory on the benchmark
/// corpus. The price is page faults on memory used again. Against 10 ms, 30 ms costs 4% less
/// CPU on the corpus (medians of nine runs, 2.46 to 2.36 s) for 10 MB more peak memory there
/// and on the 1 GiB file (275 to 285 MB); 100 ms went over 300 MB on that file.
fn return_freed_memory_promptly() {
    // SAFETY: sets a plain integer option; mimalloc reads it when it next purges.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 30) };
}

fn main() -> ExitCode {
    return_freed_memory_promptly();
    // Inside Lambda the runtime starts the `bootstrap` binary without arguments.
    let lambda_start =
        std::env::args_os().len() == 1 && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let cli = if lambda_start { Cli::parse_from(["trailhound", "lambda"]) } else { Cli::parse() };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRAILHOUND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    if cli.log_format == "json" {
        logs.json().init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(source_concurrency(&cli) + SPARE_BLOCKING_THREADS)
        .build();
    let outcome = match runtime {
        Ok(runtime) => runtime.block_on(execute(cli)),
        Err(error) => Err(anyhow::Error::new(error).context("starting the async runtime")),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("trailhound: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Blocking threads beyond the source decoders: file and object store work, which never
/// waits on processing. Unbounded, bursts of it grew the pool to dozens of threads, each
/// keeping an allocator heap (about 100 MB more peak memory on the benchmark corpus); the
/// decoders, at most one per source read at once, are the only blocking work that waits on
/// processing, so these always remain for the rest.
const SPARE_BLOCKING_THREADS: usize = 4;

/// Sources read at once by the command (the settings are resolved again, and any error
/// reported, when it runs).
fn source_concurrency(cli: &Cli) -> usize {
    let configured = match &cli.command {
        Command::Run { config, settings } | Command::Lambda { config, settings } => {
            with_file(settings.clone(), config.as_deref()).ok().and_then(|run| run.concurrency)
        }
        _ => None,
    };
    configured.unwrap_or(pipeline::run::DEFAULT_CONCURRENCY)
}

async fn execute(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run { config, settings } => {
            run(with_file(settings, config.as_deref())?.resolve()?).await
        }
        Command::Lambda { config, settings } => {
            lambda(with_file(settings, config.as_deref())?.resolve_for_lambda()?).await
        }
        Command::Health { url } => health(&url).await,
        Command::Test { rules, bless } => {
            let report = run_rule_tests(load_pack(&rules)?, bless).await;
            for failure in &report.failures {
                println!("FAIL {}: {}", failure.file.display(), failure.reason);
            }
            println!("{} passed, {} failed", report.passed, report.failures.len());
            Ok(if report.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Rules { command: RulesCommand::List { rules } } => {
            let pack = load_pack_or_embedded(rules.as_ref())?;
            let detections = pack.detections.iter().map(|rule| {
                let kind = if rule.meta.signal_only { "signal" } else { "detection" };
                (kind, &rule.meta)
            });
            let correlations = pack.correlations.iter().map(|rule| ("correlation", &rule.meta));
            println!("id\tkind\tseverity\ttactics\ttitle");
            for (kind, meta) in detections.chain(correlations) {
                let tactics = meta.tactics.join(",");
                println!("{}\t{kind}\t{}\t{tactics}\t{}", meta.id, meta.severity, meta.title);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules { command: RulesCommand::Coverage { rules, layer } } => {
            let rules = load_rules(rules.as_ref())?;
            print!("{}", coverage::coverage_table(&rules));
            if let Some(path) = layer {
                let text = serde_json::to_string_pretty(&coverage::navigator_layer(&rules))?;
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("trailhound: ATT&CK Navigator layer written to {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules {
            command: RulesCommand::ImportTrailalerts { postprocessing, out, rules },
        } => {
            let pack = load_pack_or_embedded(rules.as_ref())?;
            let titles: HashMap<String, String> = pack
                .detections
                .iter()
                .map(|rule| (rule.meta.title.clone(), rule.meta.id.clone()))
                .collect();
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for (text, rule) in
                pipeline::correlate::import::from_trailalerts(&postprocessing, &titles)?
            {
                let path = out.join(format!("{}.toml", rule.meta.id.replace('.', "_")));
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("trailhound: wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Backtest {
            lake,
            rules,
            rule,
            from,
            to,
            compare,
            exceptions,
            alerts,
            lateness,
        } => {
            let range = hunt::time_range(from.as_deref(), to.as_deref())?;
            let lateness = pipeline::detect::rule::parse_duration(&lateness)
                .map_err(|reason| anyhow::anyhow!("--lateness: {reason}"))?;
            let mut processors = Vec::new();
            let mut known = std::collections::BTreeSet::new();
            for dir in std::iter::once(rules.as_ref()).chain(compare.as_ref().map(Some)) {
                let pack = load_pack_or_embedded(dir)?;
                known.extend(pack.detections.iter().map(|rule| rule.meta.id.clone()));
                known.extend(pack.correlations.iter().map(|rule| rule.meta.id.clone()));
                let exceptions = load_exceptions(exceptions.as_ref(), &pack).await?;
                processors.push(Processor::for_pack(pack, exceptions, lateness).await?);
            }
            let selected: std::collections::BTreeSet<String> = rule.into_iter().collect();
            if let Some(unknown) = selected.iter().find(|id| !known.contains(*id)) {
                anyhow::bail!("--rule {unknown}: no such rule is loaded");
            }
            let location = lake::LakeLocation::open(&lake)?;
            let report =
                pipeline::backtest::backtest(&location, range, &mut processors, &selected).await?;
            let mut out: Box<dyn std::io::Write> = match alerts.as_str() {
                "-" => Box::new(std::io::stdout().lock()),
                path => Box::new(
                    std::fs::File::create(path).with_context(|| format!("creating {path}"))?,
                ),
            };
            for alert in &report.results[0].alerts {
                serde_json::to_writer(&mut out, alert)?;
                writeln!(out)?;
            }
            out.flush()?;
            eprintln!(
                "trailhound: replayed {} events in {} hour partitions in {:.2} s ({:.0} events/s)",
                report.events,
                report.partitions,
                report.elapsed.as_secs_f64(),
                report.events_per_second()
            );
            match report.results.get(1) {
                Some(other) => {
                    eprint!("{}", pipeline::backtest::comparison(&report.results[0], other))
                }
                None => {
                    eprintln!("rule\tfires");
                    for (rule, fires) in &report.results[0].fires {
                        eprintln!("{rule}\t{fires}");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sigma { command: SigmaCommand::Convert { pipelines, files } } => {
            let mut loaded = pipeline::sigma::Pipeline::default();
            for path in &pipelines {
                loaded.extend_from_file(path)?;
            }
            for compiled in pipeline::sigma::compile_files(&files, &loaded)? {
                match compiled {
                    pipeline::sigma::Compiled::Rule(rule) => {
                        print!("{}", pipeline::sigma::rule_text(&rule))
                    }
                    pipeline::sigma::Compiled::Correlation(rule) => {
                        print!("{}", pipeline::sigma::correlation_text(&rule))
                    }
                    pipeline::sigma::Compiled::Skipped { title, reason } => {
                        eprintln!("trailhound: skipped Sigma rule '{title}': {reason}")
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Hunt { lake, from, to, format, file, progress, sql } => {
            let sql = match (file, sql) {
                (Some(path), _) => std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?,
                (None, sql) => sql.unwrap_or_default(),
            };
            let range = hunt::time_range(from.as_deref(), to.as_deref())?;
            let location = lake::LakeLocation::open(&lake)?;
            let progress = match progress {
                Progress::Auto => std::io::IsTerminal::is_terminal(&std::io::stderr()),
                Progress::Always => true,
                Progress::Never => false,
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let summary = hunt::hunt(&location, range, &sql, format, &mut out, progress).await?;
            eprintln!("trailhound: {}", summary.line());
            Ok(ExitCode::SUCCESS)
        }
        Command::Lake { command: LakeCommand::Ddl { lake, database, table, alerts_table } } => {
            use lake::athena::{LakeTable, table_ddl};
            anyhow::ensure!(lake.starts_with("s3://"), "--lake must be an s3:// URL for Athena");
            print!("{}", table_ddl(LakeTable::Events, &lake, database.as_deref(), &table));
            print!("{}", table_ddl(LakeTable::Alerts, &lake, database.as_deref(), &alerts_table));
            Ok(ExitCode::SUCCESS)
        }
        Command::Lake { command: LakeCommand::Compact { lake, older_than, target_size } } => {
            let config = lake::compact::CompactConfig {
                older_than: pipeline::detect::rule::parse_duration(&older_than)
                    .map_err(|reason| anyhow::anyhow!("--older-than: {reason}"))?,
                target_bytes: parse_size(&target_size)
                    .with_context(|| format!("--target-size '{target_size}'"))?,
                ..lake::compact::CompactConfig::default()
            };
            let compaction =
                lake::compact::Compaction::new(lake::LakeLocation::open(&lake)?, config);
            let stats = compaction.execute(chrono::Utc::now().timestamp_millis()).await?;
            eprintln!(
                "trailhound: merges={} resumed={} files_merged={} rows={} ledger_entries_updated={}",
                stats.merges,
                stats.resumed,
                stats.files_merged,
                stats.rows,
                stats.ledger_entries_updated
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Lake { command: LakeCommand::GlueSchema } => {
            println!("{}", serde_json::to_string_pretty(&lake::athena::glue_tables())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Lake { command: LakeCommand::Schema } => {
            print!("{}", lake::schema::markdown_table());
            Ok(ExitCode::SUCCESS)
        }
    }
}
