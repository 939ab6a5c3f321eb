//! A run over a folder mixing good files with broken ones: the run completes, every broken
//! file is reported with its path and reason, bad records are quarantined with their
//! position, and the good rows all reach the lake.

use std::io::Write;
use std::path::Path;

mod common;

use common::rules::list_users_processor;
use lake::LakeLocation;
use lake::quarantine::QuarantinedRecord;
use pipeline::exceptions::ExceptionSet;
use pipeline::internal_events::Counters;
use pipeline::run::{RunConfig, run_files};
use pipeline::sinks::jsonl::JsonLinesSink;

fn record(event_id: &str, event_time: &str) -> String {
    format!(
        r#"{{"eventTime":"{event_time}","eventSource":"iam.amazonaws.com","eventName":"ListUsers","eventID":"{event_id}","awsRegion":"us-east-1","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::012345678901:user/a"}}}}"#
    )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn broken_inputs_are_reported_and_the_run_goes_on() {
    let input = tempfile::tempdir().unwrap();
    let good = format!(
        r#"{{"Records":[{},{}]}}"#,
        record("g1", "2025-03-09T10:00:00Z"),
        record("g2", "2025-03-09T11:00:00.5Z")
    );
    write(input.path(), "a/good.json.gz", &gzip(good.as_bytes()));
    let gz = gzip(good.as_bytes());
    write(input.path(), "b/cut.json.gz", &gz[..gz.len() - 12]);
    write(input.path(), "c/binary.bin", &[0u8, 159, 146, 150, 255, 0, 1]);
    let mixed = format!(
        "{}\n{{\"eventTime\": \"soon\", \"eventSource\": \"x\", \"eventName\": \"y\"}}\n",
        record("m1", "2025-03-09 12:00:00")
    );
    write(input.path(), "d/mixed.jsonl", mixed.as_bytes());

    let lake_dir = tempfile::tempdir().unwrap();
    let location = LakeLocation::open(lake_dir.path().to_str().unwrap()).unwrap();
    let mut processor = list_users_processor(ExceptionSet::empty()).await;
    let mut sink = JsonLinesSink::writer("test", Box::new(std::io::sink()));
    let counters = Counters::default();
    let config = RunConfig::for_inputs(vec![input.path().display().to_string()]);
    let summary =
        run_files(&config, &location, &mut processor, &mut sink, &counters).await.unwrap();

    // good.json.gz: 2 events; cut.json.gz: a gzip read error after its first record, which
    // is kept; binary.bin: not JSON at all; mixed.jsonl: 1 event and 1 quarantined record.
    assert_eq!(summary.files, 4);
    assert_eq!(summary.failed, 2, "{summary:?}");
    assert_eq!(summary.events, 4, "{summary:?}");
    assert_eq!(summary.rejected, 2, "{summary:?}");
    assert_eq!(summary.lake.rows, summary.events);
    // The record kept from cut.json.gz is good.json.gz's g1 again: it alerts once.
    assert_eq!(summary.alerts, summary.events - 1);
    let quarantined: Vec<QuarantinedRecord> =
        std::fs::read_dir(lake_dir.path().join("_quarantine"))
            .unwrap()
            .flat_map(|entry| {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                text.lines()
                    .map(|line| serde_json::from_str::<QuarantinedRecord>(line).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
    let soon = quarantined
        .iter()
        .find(|q| q.reason.contains("'soon'"))
        .expect("bad eventTime quarantined");
    assert!(soon.source_uri.ends_with("d/mixed.jsonl"));
    assert_eq!(soon.record_index, Some(1));
    assert!(soon.raw.contains("\"soon\""));
    let binary = quarantined
        .iter()
        .find(|q| q.source_uri.ends_with("c/binary.bin"))
        .expect("binary file reported");
    assert!(
        binary.reason.contains("unexpected byte") || binary.reason.contains("UTF-8"),
        "{}",
        binary.reason
    );
    assert_eq!(summary.rejected, quarantined.len() as u64);
}
