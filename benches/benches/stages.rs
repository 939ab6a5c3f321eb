//! Micro-benchmarks of the pipeline's stages on the seeded corpus: decode (gzip + JSON to
//! Arrow), the rule stage (the built-in pack, and ten times as many rules, to show how its
//! cost grows with the number of rules), Parquet encoding through the lake writer, the
//! correlation state update, and a hunting query over a written lake.
//!
//! `cargo bench -p trailhound-benches` (Criterion; add `-- <name>` to run one).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use arrow::array::RecordBatch;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use flate2::Compression;
use flate2::write::GzEncoder;
use pipeline::decode::{DecodeConfig, decode};
use pipeline::detect::{DetectionEngine, Rule, RulePack, embedded_pack};
use pipeline::exceptions::ExceptionSet;
use pipeline::process::Processor;
use trailhound_benches::{ACCOUNTS, REGIONS, Rng, START, record};

/// Events in the benchmark file: one batch-sized file of five minutes' activity per
/// account and region, as CloudTrail delivers them.
const EVENTS: usize = 8192;

fn corpus_json() -> Vec<u8> {
    let mut rng = Rng(7);
    let records: Vec<String> = (0..EVENTS)
        .map(|index| {
            let account = ACCOUNTS[index % ACCOUNTS.len()];
            let region = REGIONS[index % REGIONS.len()];
            record(&mut rng, account, region, START + (index as i64 * 300) / EVENTS as i64)
        })
        .collect();
    format!("{{\"Records\":[{}]}}", records.join(",")).into_bytes()
}

fn batches(json: &[u8]) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    let report = decode(json, "bench.json", &DecodeConfig::default(), |batch| {
        batches.push(batch);
        true
    });
    assert!(report.quarantined.is_empty());
    batches
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

fn decode_stage(c: &mut Criterion) {
    let json = corpus_json();
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    gzip.write_all(&json).unwrap();
    let gzip = gzip.finish().unwrap();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("gzip_json_to_arrow", |b| {
        b.iter(|| {
            let reader = flate2::read::MultiGzDecoder::new(gzip.as_slice());
            let mut rows = 0;
            decode(reader, "bench.json.gz", &DecodeConfig::default(), |batch| {
                rows += batch.num_rows();
                true
            });
            assert_eq!(rows, EVENTS);
        })
    });
    group.finish();
}

/// The pack's detections, `copies` times over (copies get their own ids).
fn detections(copies: usize) -> Vec<Rule> {
    let pack = embedded_pack().unwrap();
    (0..copies)
        .flat_map(|copy| {
            pack.detections.iter().map(move |rule| {
                let mut rule = rule.clone();
                rule.meta.id = format!("{}.copy{copy}", rule.meta.id);
                rule
            })
        })
        .collect()
}

fn rule_stage(c: &mut Criterion) {
    let runtime = runtime();
    let batch = batches(&corpus_json()).remove(0);
    let mut group = c.benchmark_group("rules_per_batch");
    group.throughput(Throughput::Elements(batch.num_rows() as u64));
    for copies in [1, 10] {
        let rules = detections(copies);
        let count = rules.len();
        let engine = runtime.block_on(DetectionEngine::compile(rules)).unwrap();
        // As the processor does: the rows of a rule that alerts are gathered whole for its
        // alerts (a signal rule's are read by its correlations, column by column).
        group.bench_function(format!("{count}_rules"), |b| {
            b.iter(|| {
                let found = engine.evaluate(&batch).unwrap();
                for matches in &found {
                    if !matches.rule.meta.signal_only {
                        matches.rows().unwrap();
                    }
                }
                found
            })
        });
    }
    group.finish();
}

fn parquet_stage(c: &mut Criterion) {
    let runtime = runtime();
    let batches = batches(&corpus_json());
    let mut group = c.benchmark_group("parquet");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);
    group.bench_function("zstd_lake_file", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                runtime.block_on(async {
                    let location = lake::LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
                    let mut writer =
                        lake::LakeWriter::new(location, lake::LakeWriterConfig::default());
                    writer.begin_source("bench", "bench.json.gz").await.unwrap();
                    for batch in &batches {
                        writer.write("bench", batch).await.unwrap();
                    }
                    writer.end_source("bench").await.unwrap();
                    writer.finish().await.unwrap();
                });
                dir
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn correlation_stage(c: &mut Criterion) {
    let runtime = runtime();
    let batch = batches(&corpus_json()).remove(0);
    // Every event is a signal of two correlations keeping per-principal windows: the state
    // update dominates, next to one cheap detection.
    let signal = Rule::parse(
        std::path::Path::new("every_event.sql"),
        "/*\nid = \"bench.every_event\"\ntitle = \"t\"\nseverity = \"low\"\ndescription = \"d\"\ntactics = [\"TA0007\"]\ntechniques = [\"T1087\"]\nsignal_only = true\n*/\nSELECT * FROM cloudtrail WHERE eventname IS NOT NULL",
    )
    .unwrap();
    let correlation = |id: &str, section: &str| {
        pipeline::correlate::CorrelationRule::parse(
            std::path::Path::new(&format!("{id}.toml")),
            &format!("id = \"{id}\"\ntitle = \"t\"\nseverity = \"low\"\ndescription = \"d\"\ntactics = [\"TA0007\"]\ntechniques = [\"T1087\"]\n\n[correlation]\n{section}"),
        )
        .unwrap()
    };
    let pack = RulePack {
        detections: vec![signal],
        correlations: vec![
            correlation(
                "bench.count",
                "type = \"event_count\"\nrules = [\"bench.every_event\"]\ngroup_by = [\"useridentity.arn\"]\ntimespan = \"10m\"\ncondition = { gte = 100000 }",
            ),
            correlation(
                "bench.distinct",
                "type = \"value_count\"\nrules = [\"bench.every_event\"]\ngroup_by = [\"sourceipaddress\"]\nfield = [\"eventname\"]\ntimespan = \"10m\"\ncondition = { gte = 100000 }",
            ),
        ],
    };
    let mut group = c.benchmark_group("correlation");
    group.throughput(Throughput::Elements(batch.num_rows() as u64));
    group.sample_size(20);
    group.bench_function("two_windows_per_event", |b| {
        b.iter_batched(
            || {
                runtime
                    .block_on(Processor::for_pack(
                        pack.clone(),
                        ExceptionSet::empty(),
                        Duration::from_secs(900),
                    ))
                    .unwrap()
            },
            |mut processor| processor.process(&batch).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn hunting_stage(c: &mut Criterion) {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let location = lake::LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
    runtime.block_on(async {
        let mut writer = lake::LakeWriter::new(location.clone(), lake::LakeWriterConfig::default());
        writer.begin_source("bench", "bench.json.gz").await.unwrap();
        for batch in batches(&corpus_json()) {
            writer.write("bench", &batch).await.unwrap();
        }
        writer.end_source("bench").await.unwrap();
        writer.finish().await.unwrap();
    });
    let query = "SELECT useridentity.arn, eventname, count(*) AS calls FROM cloudtrail \
                 WHERE errorcode IS NOT NULL GROUP BY 1, 2 ORDER BY calls DESC LIMIT 20";
    let mut group = c.benchmark_group("hunting");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("errors_by_principal", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let ctx = pipeline::hunt::lake_session(
                    &location,
                    lake::table::TimeRange::default(),
                    Arc::new(AtomicU64::new(0)),
                )
                .await
                .unwrap();
                ctx.sql(query).await.unwrap().collect().await.unwrap()
            })
        })
    });
    group.finish();
}

criterion_group!(stages, decode_stage, rule_stage, parquet_stage, correlation_stage, hunting_stage);
criterion_main!(stages);
