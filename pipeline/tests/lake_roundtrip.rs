//! End to end over the bundled samples: the lake written by a run reads back through
//! DataFusion with the exact schema and row count, re-runs add no rows, and alerts repeat
//! identically.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, Field};
use datafusion::prelude::SessionContext;
use lake::schema::cloudtrail_schema;
use lake::table::LakeTables;
use lake::{LakeLocation, LakeWriterConfig};
use pipeline::alert::Alert;
use pipeline::decode::DecodeConfig;
use pipeline::detect::load_pack;
use pipeline::exceptions::ExceptionSet;
use pipeline::internal_events::Counters;
use pipeline::process::{DEFAULT_LATENESS, Processor};
use pipeline::run::{RunConfig, RunSummary, run_files};
use pipeline::sinks::jsonl::JsonLinesSink;

fn project(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// A writer that keeps what is written, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn run_samples(lake_dir: &Path, config: RunConfig) -> (RunSummary, Vec<Alert>) {
    let pack = load_pack(&project("sql-rules")).unwrap();
    let mut processor =
        Processor::for_pack(pack, ExceptionSet::empty(), DEFAULT_LATENESS).await.unwrap();
    let location = LakeLocation::open(lake_dir.to_str().unwrap()).unwrap();
    let captured = Captured::default();
    let mut sink = JsonLinesSink::writer("test", Box::new(captured.clone()));
    let summary = run_files(&config, &location, &mut processor, &mut sink, &Counters::default())
        .await
        .unwrap();
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let alerts = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    (summary, alerts)
}

fn samples_config() -> RunConfig {
    RunConfig::for_inputs(vec![project("samples/cloudtrail").display().to_string()])
}

/// The single integer a `SELECT <aggregate> FROM cloudtrail <filter>` query returns.
async fn query_count(lake_dir: &Path, aggregate: &str, filter: &str) -> i64 {
    let ctx = SessionContext::new();
    let location = LakeLocation::open(lake_dir.to_str().unwrap()).unwrap();
    LakeTables::new(location.clone()).register(&ctx).await.unwrap();
    let sql = format!("SELECT {aggregate} FROM cloudtrail {filter}");
    let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    let column = batches[0].column(0).as_any();
    column.downcast_ref::<arrow::array::Int64Array>().unwrap().value(0)
}

async fn count_rows(lake_dir: &Path, filter: &str) -> i64 {
    query_count(lake_dir, "count(*)", filter).await
}

#[tokio::test]
async fn lake_reads_back_with_the_documented_schema_and_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, alerts) = run_samples(dir.path(), samples_config()).await;
    assert!(summary.events > 500, "{summary:?}");
    assert_eq!(summary.lake.rows, summary.events);
    assert_eq!(summary.rejected, 1, "the truncated sample's third record");
    assert_eq!(summary.skipped, 1, "the digest file");
    assert!(!alerts.is_empty());

    let ctx = SessionContext::new();
    LakeTables::new(LakeLocation::open(dir.path().to_str().unwrap()).unwrap())
        .register(&ctx)
        .await
        .unwrap();
    let frame = ctx.sql("SELECT * FROM cloudtrail").await.unwrap();
    let schema = frame.schema().as_arrow().clone();
    let mut expected: Vec<Field> =
        cloudtrail_schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    expected.push(Field::new("dt", DataType::Utf8, false));
    expected.push(Field::new("hour", DataType::Utf8, false));
    let names = |fields: &[Field]| fields.iter().map(|f| f.name().clone()).collect::<Vec<_>>();
    let actual: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    assert_eq!(names(&actual), names(&expected));
    for (got, want) in actual.iter().zip(&expected) {
        assert_eq!(got.data_type(), want.data_type(), "column {}", want.name());
    }
    let rows: usize = frame.collect().await.unwrap().iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows as u64, summary.events);

    // Partition pruning sees the hour folders; leading zeros survive in account ids.
    assert!(count_rows(dir.path(), "WHERE dt = '2025-03-09' AND hour = '17'").await > 0);
    assert!(count_rows(dir.path(), "WHERE recipientaccountid = '012345678901'").await > 0);
    let parquet = walk_parquet(dir.path());
    assert!(parquet.iter().all(|path| path.to_string_lossy().contains("/cloudtrail/dt=")));
}

#[tokio::test]
async fn rerunning_the_same_input_adds_no_rows_and_raises_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let (first, first_alerts) = run_samples(dir.path(), samples_config()).await;
    let rows_after_first = count_rows(dir.path(), "").await;
    let (second, second_alerts) = run_samples(dir.path(), samples_config()).await;
    assert_eq!(count_rows(dir.path(), "").await, rows_after_first);
    assert_eq!(second.lake.rows, 0);
    assert_eq!(second.already_ingested, first.files - first.skipped - first.failed);
    // A replay raises nothing new: the state remembers the recent records that alerted and
    // the correlation windows it holds, so those are not sent again; anything repeated from
    // further back carries the same id as before, for downstream dedup.
    for alert in &second_alerts {
        assert!(first_alerts.contains(alert), "new on replay: {}", alert.alert_id);
    }
    assert!(second_alerts.len() < first_alerts.len(), "{second_alerts:?}");
    assert!(first_alerts.iter().any(|alert| alert.rule_id.starts_with("aws.correlation.")));
}

#[tokio::test]
async fn small_buffers_split_files_but_keep_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = RunConfig {
        decode: DecodeConfig { batch_rows: 7, ..DecodeConfig::default() },
        writer: LakeWriterConfig {
            target_file_bytes: 64 * 1024,
            max_buffer_bytes: 128 * 1024,
            ..LakeWriterConfig::default()
        },
        ..samples_config()
    };
    let (summary, _) = run_samples(dir.path(), config).await;
    assert!(summary.lake.files > 6, "{summary:?}");
    assert_eq!(count_rows(dir.path(), "").await as u64, summary.events);
    let distinct = query_count(dir.path(), "count(DISTINCT eventid)", "").await;
    assert_eq!(distinct as u64, summary.events);
}

fn walk_parquet(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(next).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                found.push(path);
            }
        }
    }
    found
}
