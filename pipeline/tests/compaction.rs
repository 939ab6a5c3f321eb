//! `lake compact` over a lake written from the samples: a process "killed" after any number
//! of writes and deletes, then a re-run, leaves every row exactly once and the same files a
//! clean compaction leaves.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

mod common;

use common::crashing::CrashingStore;
use common::readback::{csv, files};
use lake::LakeLocation;
use lake::compact::{CompactConfig, CompactStats, Compaction};
use pipeline::detect::load_pack;
use pipeline::exceptions::ExceptionSet;
use pipeline::internal_events::Counters;
use pipeline::process::{DEFAULT_LATENESS, Processor};
use pipeline::run::{RunConfig, run_files};
use pipeline::sinks::Fanout;
use pipeline::sinks::lake_alerts::LakeAlertsSink;

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Counts that must hold after any compaction: every event and alert exactly once.
async fn counts(location: &LakeLocation) -> String {
    let events = csv(
        location,
        "SELECT count(*) AS n, count(DISTINCT (source_uri, source_record)) AS d FROM cloudtrail",
    )
    .await;
    let alerts =
        csv(location, "SELECT count(*) AS n, count(DISTINCT alert_id) AS d FROM alerts").await;
    format!("{events}{alerts}")
}

async fn compact(location: &LakeLocation) -> Result<CompactStats, lake::LakeError> {
    let config =
        CompactConfig { older_than: std::time::Duration::ZERO, ..CompactConfig::default() };
    // Far in the future: every partition is closed.
    Compaction::new(location.clone(), config).execute(i64::MAX / 2).await
}

#[tokio::test]
async fn a_crash_anywhere_then_a_rerun_keeps_every_row_once() {
    let work = tempfile::tempdir().unwrap();
    let template = work.path().join("template");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let location = LakeLocation::open(template.to_str().unwrap()).unwrap();
    let pack = load_pack(&root.join("sql-rules")).unwrap();
    let mut processor =
        Processor::for_pack(pack, ExceptionSet::empty(), DEFAULT_LATENESS).await.unwrap();
    // Files written as soon as a source's rows are buffered: a file per source and
    // partition, so the partitions hold several files to merge.
    let config = RunConfig {
        writer: lake::LakeWriterConfig { target_file_bytes: 1, ..Default::default() },
        ..RunConfig::for_inputs(vec![root.join("samples/cloudtrail").display().to_string()])
    };
    let summary = run_files(
        &config,
        &location,
        &mut processor,
        &mut Fanout::new(vec![Box::new(LakeAlertsSink::new(location.clone()))]),
        &Counters::default(),
    )
    .await
    .unwrap();
    let expected = format!(
        "n,d\n{events},{events}\nn,d\n{alerts},{alerts}\n",
        events = summary.lake.rows,
        alerts = summary.alerts
    );
    assert_eq!(counts(&location).await, expected);

    // A clean compaction, counting the writes and deletes it makes.
    let clean = work.path().join("clean");
    copy_dir(&template, &clean);
    let clean_location = LakeLocation::open(clean.to_str().unwrap()).unwrap();
    let counting = Arc::new(CrashingStore {
        inner: clean_location.store().clone(),
        budget: AtomicI64::new(i64::MAX),
    });
    let stats = compact(&clean_location.with_store(counting.clone())).await.unwrap();
    let operations = i64::MAX - counting.budget.load(Ordering::SeqCst);
    assert!(stats.merges > 0 && stats.files_merged > stats.merges, "{stats:?}");
    // Each merge at least writes its journal and its output, and deletes inputs and journal.
    assert!(operations >= 4 * stats.merges as i64, "{operations} operations for {stats:?}");
    eprintln!("clean compaction: {stats:?}, {operations} writes and deletes");
    assert_eq!(counts(&clean_location).await, expected);
    let clean_files = files(&clean);
    let events_files = |all: &[String]| all.iter().filter(|f| f.starts_with("cloudtrail/")).count();
    assert!(events_files(&clean_files) < events_files(&files(&template)), "files were merged");
    // Nothing left to do.
    assert_eq!(compact(&clean_location).await.unwrap(), CompactStats::default());

    // Every ledger entry names files that exist.
    for entry in std::fs::read_dir(clean.join("_ledger/sources")).unwrap() {
        let entry: lake::writer::LedgerEntry =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        for file in entry.files {
            assert!(clean.join(&file).is_file(), "{file}");
        }
    }

    // A crash after each possible number of writes and deletes, then a re-run.
    for budget in 0..operations {
        let lake_dir = work.path().join(format!("crash-{budget}"));
        copy_dir(&template, &lake_dir);
        let location = LakeLocation::open(lake_dir.to_str().unwrap()).unwrap();
        let crashing = Arc::new(CrashingStore {
            inner: location.store().clone(),
            budget: AtomicI64::new(budget),
        });
        assert!(compact(&location.with_store(crashing)).await.is_err(), "crash after {budget}");
        compact(&location).await.unwrap_or_else(|error| panic!("re-run after {budget}: {error}"));
        assert_eq!(counts(&location).await, expected, "crash after {budget} operations");
        assert_eq!(files(&lake_dir), clean_files, "crash after {budget} operations");
        std::fs::remove_dir_all(&lake_dir).unwrap();
    }
}
