//! Backtesting replays the lake through the streaming code path: over the lake a streaming
//! run wrote, it raises exactly the alerts streaming raised; `--compare` shows what a rule
//! change does.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lake::LakeLocation;
use lake::table::TimeRange;
use pipeline::alert::Alert;
use pipeline::backtest::{backtest, comparison};
use pipeline::detect::load_pack;
use pipeline::exceptions::ExceptionSet;
use pipeline::internal_events::Counters;
use pipeline::process::{DEFAULT_LATENESS, Processor};
use pipeline::run::{RunConfig, run_files};
use pipeline::sinks::jsonl::JsonLinesSink;

fn project(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

async fn processor(rules: &Path, lateness: std::time::Duration) -> Processor {
    Processor::for_pack(load_pack(rules).unwrap(), ExceptionSet::empty(), lateness).await.unwrap()
}

fn by_id(mut alerts: Vec<Alert>) -> Vec<Alert> {
    alerts.sort_by(|a, b| a.alert_id.cmp(&b.alert_id));
    alerts
}

/// Streams the samples into a lake, returning the lake and the alerts streaming raised.
async fn streamed_lake(dir: &Path) -> (LakeLocation, Vec<Alert>) {
    let location = LakeLocation::open(dir.to_str().unwrap()).unwrap();
    // A lateness covering the samples' disorder: every event enters its windows, as in a
    // replay, which reads events in order.
    let mut streaming =
        processor(&project("sql-rules"), std::time::Duration::from_secs(86_400)).await;
    let alerts_file = dir.join("streamed.jsonl");
    let summary = run_files(
        &RunConfig::for_inputs(vec![project("samples/cloudtrail").display().to_string()]),
        &location,
        &mut streaming,
        &mut JsonLinesSink::file(&alerts_file).unwrap(),
        &Counters::default(),
    )
    .await
    .unwrap();
    assert_eq!(summary.late_events, 0);
    let alerts = std::fs::read_to_string(&alerts_file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (location, alerts)
}

#[tokio::test]
async fn backtest_raises_what_streaming_raised() {
    let dir = tempfile::tempdir().unwrap();
    let (location, streamed) = streamed_lake(dir.path()).await;
    assert!(streamed.len() > 10, "the samples raise detections and correlations");

    let mut processors = [processor(&project("sql-rules"), DEFAULT_LATENESS).await];
    let report =
        backtest(&location, TimeRange::default(), &mut processors, &BTreeSet::new()).await.unwrap();
    assert_eq!(report.events, 576);
    assert_eq!(by_id(report.results[0].alerts.clone()), by_id(streamed.clone()));
    let total: u64 = report.results[0].fires.values().sum();
    assert_eq!(total, streamed.len() as u64);

    // Reporting one rule runs them all (correlations keep their signals) but keeps its alerts.
    let correlation = streamed
        .iter()
        .find(|alert| alert.rule_id.starts_with("aws.correlation."))
        .expect("a correlation fires on the samples")
        .rule_id
        .clone();
    let mut processors = [processor(&project("sql-rules"), DEFAULT_LATENESS).await];
    let only = BTreeSet::from([correlation.clone()]);
    let report = backtest(&location, TimeRange::default(), &mut processors, &only).await.unwrap();
    let expected: Vec<Alert> =
        streamed.iter().filter(|alert| alert.rule_id == correlation).cloned().collect();
    assert_eq!(by_id(report.results[0].alerts.clone()), by_id(expected));

    // A time range replays only its events.
    let first = streamed.iter().map(|alert| alert.first_event_time.clone()).min().unwrap();
    let from = chrono::DateTime::parse_from_rfc3339(&first).unwrap().timestamp_millis() + 1;
    let mut processors = [processor(&project("sql-rules"), DEFAULT_LATENESS).await];
    let range = TimeRange { from: Some(from), to: None };
    let report = backtest(&location, range, &mut processors, &BTreeSet::new()).await.unwrap();
    assert!(report.events < 576 && report.events > 0, "{}", report.events);
    assert!(report.results[0].alerts.iter().all(|alert| alert.first_event_time > first));
}

#[tokio::test]
async fn compare_shows_the_rules_a_change_affects() {
    let dir = tempfile::tempdir().unwrap();
    let (location, streamed) = streamed_lake(&dir.path().join("lake")).await;
    // The candidate pack drops the StopLogging detection.
    let candidate = dir.path().join("candidate");
    for entry in walkdir::WalkDir::new(project("sql-rules")) {
        let entry = entry.unwrap();
        let target = candidate.join(entry.path().strip_prefix(project("sql-rules")).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else if !entry.path().to_string_lossy().contains("cloudtrail-tampering/stop_logging.") {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    let mut processors = [
        processor(&candidate, DEFAULT_LATENESS).await,
        processor(&project("sql-rules"), DEFAULT_LATENESS).await,
    ];
    let report =
        backtest(&location, TimeRange::default(), &mut processors, &BTreeSet::new()).await.unwrap();
    let stop_logging =
        streamed.iter().filter(|alert| alert.rule_id == "aws.cloudtrail.stop_logging").count();
    assert!(stop_logging > 0);
    let table = comparison(&report.results[0], &report.results[1]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "rule\trules\tcompare\tchange\tonly_rules\tonly_compare");
    let changed: Vec<&str> =
        lines[1..].iter().copied().filter(|line| !line.contains("\t+0\t")).collect();
    assert_eq!(
        changed,
        [format!(
            "aws.cloudtrail.stop_logging\t0\t{stop_logging}\t-{stop_logging}\t0\t{stop_logging}"
        )]
    );
    assert_eq!(lines.len() - 1, report.results[1].fires.len());
}

#[test]
fn unknown_rules_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["backtest", "--lake", dir.path().to_str().unwrap(), "--rule", "aws.no.such.rule"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--rule aws.no.such.rule: no such rule is loaded"), "{stderr}");
}
