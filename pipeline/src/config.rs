//! Settings of `trailhound run`, from three places: a TOML file (`--config`), environment
//! variables (`TRAILHOUND_<SETTING>`), and flags. A flag beats its environment variable,
//! which beats the file, which beats the default. Every setting has all three forms, e.g.
//! `lake = "s3://bucket/lake"`, `TRAILHOUND_LAKE=s3://bucket/lake`, `--lake s3://bucket/lake`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::detect::rule::parse_duration;
use crate::error::{PipelineError, Result};

/// Every setting of `trailhound run`, each optional until [`RunSettings::resolve`].
#[derive(Debug, Default, Clone, PartialEq, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RunSettings {
    /// CloudTrail files, folders (walked recursively) or s3://bucket/prefix URLs to read.
    #[arg(long = "input", env = "TRAILHOUND_INPUTS", value_delimiter = ',')]
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Consume S3 object notifications from this SQS queue instead of reading inputs.
    #[arg(long, env = "TRAILHOUND_SQS_QUEUE_URL")]
    pub sqs_queue_url: Option<String>,
    /// Queue drain mode: stop after this many consecutive empty receives once the queue holds
    /// no message at all, emitting everything still held (default: run until stopped).
    #[arg(long, env = "TRAILHOUND_MAX_EMPTY_RECEIVES")]
    pub max_empty_receives: Option<u32>,
    /// Long-poll wait per receive, in seconds, 0 to 20 (default 20).
    #[arg(long, env = "TRAILHOUND_WAIT_SECONDS")]
    pub wait_seconds: Option<i32>,
    /// Seconds a received batch stays invisible, renewed while it is processed (default 300).
    #[arg(long, env = "TRAILHOUND_VISIBILITY_TIMEOUT")]
    pub visibility_timeout: Option<i32>,
    /// How long alerts committed by another worker may wait for its hand-off before this
    /// worker hands them off (default: twice the visibility timeout).
    #[arg(long, env = "TRAILHOUND_TAKEOVER")]
    pub takeover: Option<String>,
    /// Serve /health, /ready and /metrics (Prometheus) on this address, e.g. 0.0.0.0:9100.
    #[arg(long, env = "TRAILHOUND_OPS_LISTEN")]
    pub ops_listen: Option<String>,
    /// Lake location: a folder, a file:// URL or s3://bucket/prefix (required).
    #[arg(long, env = "TRAILHOUND_LAKE")]
    pub lake: Option<String>,
    /// Rules folder (default: the rule pack built into the binary).
    #[arg(long, env = "TRAILHOUND_RULES")]
    pub rules: Option<PathBuf>,
    /// Where alerts go: a file (appended) or - for stdout (default -).
    #[arg(long, env = "TRAILHOUND_ALERTS")]
    pub alerts: Option<String>,
    /// Sinks file (TOML): webhook, Slack and PagerDuty destinations with routing.
    #[arg(long, env = "TRAILHOUND_SINKS")]
    pub sinks: Option<PathBuf>,
    /// AWS's ip-ranges.json: alerts then say whether their source IP is AWS's.
    #[arg(long, env = "TRAILHOUND_AWS_IP_RANGES")]
    pub aws_ip_ranges: Option<PathBuf>,
    /// MaxMind-format databases (GeoLite2/GeoIP2 Country, ASN, City; comma-separated):
    /// alerts then carry their source IP's country and autonomous system.
    #[arg(long, env = "TRAILHOUND_MAXMIND", value_delimiter = ',')]
    #[serde(default)]
    pub maxmind: Vec<PathBuf>,
    /// Also write every alert to the lake's `alerts` table: true or false (default true).
    #[arg(long, env = "TRAILHOUND_ALERTS_TABLE")]
    pub alerts_table: Option<bool>,
    /// Rows per record batch (default 8192).
    #[arg(long, env = "TRAILHOUND_BATCH_ROWS")]
    pub batch_rows: Option<usize>,
    /// How far behind the newest event time the watermark trails: 30s, 15m, 2h (default 15m).
    #[arg(long, env = "TRAILHOUND_LATENESS")]
    pub lateness: Option<String>,
    /// Sources downloaded and decoded at once (default 4).
    #[arg(long, env = "TRAILHOUND_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// Exceptions file: TOML, or TrailAlerts' exceptions.json keyed by rule title.
    #[arg(long, env = "TRAILHOUND_EXCEPTIONS")]
    pub exceptions: Option<PathBuf>,
}

fn invalid(reason: String) -> PipelineError {
    PipelineError::Config { file: PathBuf::from("settings"), reason }
}

/// [`RunSettings`] with every default applied and every value checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedRun {
    /// See [`RunSettings::inputs`].
    pub inputs: Vec<String>,
    /// See [`RunSettings::sqs_queue_url`].
    pub sqs_queue_url: Option<String>,
    /// See [`RunSettings::max_empty_receives`].
    pub max_empty_receives: Option<u32>,
    /// See [`RunSettings::wait_seconds`].
    pub wait_seconds: i32,
    /// See [`RunSettings::visibility_timeout`].
    pub visibility_timeout: i32,
    /// See [`RunSettings::takeover`].
    pub takeover: Duration,
    /// See [`RunSettings::ops_listen`].
    pub ops_listen: Option<String>,
    /// See [`RunSettings::lake`].
    pub lake: String,
    /// See [`RunSettings::rules`].
    pub rules: Option<PathBuf>,
    /// See [`RunSettings::alerts`].
    pub alerts: String,
    /// See [`RunSettings::sinks`].
    pub sinks: Option<PathBuf>,
    /// See [`RunSettings::aws_ip_ranges`].
    pub aws_ip_ranges: Option<PathBuf>,
    /// See [`RunSettings::maxmind`].
    pub maxmind: Vec<PathBuf>,
    /// See [`RunSettings::alerts_table`].
    pub alerts_table: bool,
    /// See [`RunSettings::batch_rows`].
    pub batch_rows: usize,
    /// See [`RunSettings::lateness`].
    pub lateness: Duration,
    /// See [`RunSettings::concurrency`].
    pub concurrency: usize,
    /// See [`RunSettings::exceptions`].
    pub exceptions: Option<PathBuf>,
}

impl RunSettings {
    /// Reads a settings file; unknown keys are errors (a typo must not silently do nothing).
    pub fn from_file(path: &Path) -> Result<Self> {
        let invalid = |reason: String| PipelineError::Config { file: path.to_path_buf(), reason };
        let text = std::fs::read_to_string(path).map_err(|error| invalid(error.to_string()))?;
        toml::from_str(&text).map_err(|error| invalid(error.to_string()))
    }

    /// These settings, with those left unset taken from `fallback`.
    pub fn or(self, fallback: RunSettings) -> RunSettings {
        RunSettings {
            inputs: if self.inputs.is_empty() { fallback.inputs } else { self.inputs },
            sqs_queue_url: self.sqs_queue_url.or(fallback.sqs_queue_url),
            max_empty_receives: self.max_empty_receives.or(fallback.max_empty_receives),
            wait_seconds: self.wait_seconds.or(fallback.wait_seconds),
            visibility_timeout: self.visibility_timeout.or(fallback.visibility_timeout),
            takeover: self.takeover.or(fallback.takeover),
            ops_listen: self.ops_listen.or(fallback.ops_listen),
            lake: self.lake.or(fallback.lake),
            rules: self.rules.or(fallback.rules),
            alerts: self.alerts.or(fallback.alerts),
            alerts_table: self.alerts_table.or(fallback.alerts_table),
            maxmind: if self.maxmind.is_empty() { fallback.maxmind } else { self.maxmind },
            aws_ip_ranges: self.aws_ip_ranges.or(fallback.aws_ip_ranges),
            sinks: self.sinks.or(fallback.sinks),
            batch_rows: self.batch_rows.or(fallback.batch_rows),
            lateness: self.lateness.or(fallback.lateness),
            concurrency: self.concurrency.or(fallback.concurrency),
            exceptions: self.exceptions.or(fallback.exceptions),
        }
    }

    /// Applies defaults and checks every value, for `run`: inputs or a queue are required.
    pub fn resolve(self) -> Result<ResolvedRun> {
        if self.inputs.is_empty() && self.sqs_queue_url.is_none() {
            return Err(invalid("give `inputs` or `sqs_queue_url`".into()));
        }
        self.resolve_values()
    }

    /// As [`Self::resolve`], for Lambda mode: the event source mapping delivers the
    /// messages, so inputs are refused. A queue URL (the one the mapping reads) is accepted
    /// and unused: deployments may set it for both modes.
    pub fn resolve_for_lambda(self) -> Result<ResolvedRun> {
        if !self.inputs.is_empty() {
            return Err(invalid(
                "Lambda's event source mapping delivers the messages: `inputs` cannot be given"
                    .into(),
            ));
        }
        self.resolve_values()
    }

    fn resolve_values(self) -> Result<ResolvedRun> {
        let lake = self.lake.ok_or_else(|| invalid("`lake` is required".into()))?;
        let duration = |name: &str, text: &str| {
            parse_duration(text).map_err(|reason| invalid(format!("`{name}`: {reason}")))
        };
        let wait_seconds = self.wait_seconds.unwrap_or(20);
        if !(0..=20).contains(&wait_seconds) {
            return Err(invalid(format!("`wait_seconds` must be 0 to 20, not {wait_seconds}")));
        }
        let visibility_timeout = self.visibility_timeout.unwrap_or(300);
        if !(1..=43_200).contains(&visibility_timeout) {
            return Err(invalid(format!(
                "`visibility_timeout` must be 1 to 43200 seconds, not {visibility_timeout}"
            )));
        }
        let takeover = match &self.takeover {
            Some(text) => duration("takeover", text)?,
            None => Duration::from_secs(2 * visibility_timeout as u64),
        };
        let batch_rows = self.batch_rows.unwrap_or(8192);
        let concurrency = self.concurrency.unwrap_or(crate::run::DEFAULT_CONCURRENCY);
        if batch_rows == 0 || concurrency == 0 {
            return Err(invalid("`batch_rows` and `concurrency` must be at least 1".into()));
        }
        Ok(ResolvedRun {
            inputs: self.inputs,
            sqs_queue_url: self.sqs_queue_url,
            max_empty_receives: self.max_empty_receives,
            wait_seconds,
            visibility_timeout,
            takeover,
            ops_listen: self.ops_listen,
            lake,
            rules: self.rules,
            alerts: self.alerts.unwrap_or_else(|| "-".to_string()),
            alerts_table: self.alerts_table.unwrap_or(true),
            maxmind: self.maxmind,
            aws_ip_ranges: self.aws_ip_ranges,
            sinks: self.sinks,
            batch_rows,
            lateness: duration("lateness", self.lateness.as_deref().unwrap_or("15m"))?,
            concurrency,
            exceptions: self.exceptions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trailhound.toml");
        std::fs::write(
            &path,
            "lake = \"s3://b/lake\"\nsqs_queue_url = \"http://q\"\nconcurrency = 8\nlateness = \"5m\"\n",
        )
        .unwrap();
        let flags = RunSettings { concurrency: Some(2), ..RunSettings::default() };
        let resolved = flags.or(RunSettings::from_file(&path).unwrap()).resolve().unwrap();
        assert_eq!(resolved.lake, "s3://b/lake");
        assert_eq!(resolved.concurrency, 2);
        assert_eq!(resolved.lateness, Duration::from_secs(300));
        assert_eq!(resolved.wait_seconds, 20);
        assert_eq!(resolved.takeover, Duration::from_secs(600));
        assert_eq!(resolved.alerts, "-");
    }

    #[test]
    fn bad_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "lake = \"x\"\nconcurency = 3\n").unwrap();
        let error = RunSettings::from_file(&path).unwrap_err().to_string();
        assert!(error.contains("bad.toml") && error.contains("concurency"), "{error}");
        let no_source = RunSettings { lake: Some("x".into()), ..RunSettings::default() };
        assert!(no_source.resolve().unwrap_err().to_string().contains("sqs_queue_url"));
        let wait = RunSettings {
            lake: Some("x".into()),
            inputs: vec!["a".into()],
            wait_seconds: Some(30),
            ..RunSettings::default()
        };
        assert!(wait.resolve().unwrap_err().to_string().contains("wait_seconds"));
    }
}
