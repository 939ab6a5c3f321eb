//! Grouped lake writes: the rows of many small sources share one file per partition, and a
//! process "killed" after any number of writes and deletes, then run again, leaves every row
//! in the lake exactly once with every source in the ledger.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use common::crashing::CrashingStore;
use common::readback::{csv, files_in};
use lake::LakeLocation;
use pipeline::detect::load_pack;
use pipeline::exceptions::ExceptionSet;
use pipeline::internal_events::Counters;
use pipeline::process::{DEFAULT_LATENESS, Processor};
use pipeline::run::{RunConfig, RunSummary, run_files};
use pipeline::sinks::Fanout;

fn samples() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/cloudtrail/AWSLogs")
        .display()
        .to_string()
}

async fn run(location: &LakeLocation) -> Result<RunSummary, pipeline::PipelineError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let pack = load_pack(&root.join("sql-rules")).unwrap();
    let mut processor =
        Processor::for_pack(pack, ExceptionSet::empty(), DEFAULT_LATENESS).await.unwrap();
    run_files(
        &RunConfig::for_inputs(vec![samples()]),
        location,
        &mut processor,
        &mut Fanout::new(Vec::new()),
        &Counters::default(),
    )
    .await
}

#[tokio::test]
async fn small_sources_share_a_file_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let location = LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
    let summary = run(&location).await.unwrap();
    let sources = files_in(dir.path(), "_ledger/sources").len();
    let events_files = files_in(dir.path(), "cloudtrail");
    let partitions: std::collections::BTreeSet<&str> =
        events_files.iter().map(|file| file.rsplit_once('/').unwrap().0).collect();
    assert!(sources > partitions.len(), "{sources} sources over {} partitions", partitions.len());
    assert_eq!(events_files.len(), partitions.len(), "one file per partition: {events_files:?}");
    assert_eq!(summary.lake.files as usize, events_files.len());
    assert!(files_in(dir.path(), "_ledger/journal").is_empty(), "no journal left behind");
    let entry: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join(&files_in(dir.path(), "_ledger/sources")[0])).unwrap(),
    )
    .unwrap();
    for file in entry["files"].as_array().unwrap() {
        assert!(events_files.contains(&file.as_str().unwrap().to_string()), "{entry}");
    }
}

#[tokio::test]
async fn a_crash_anywhere_then_a_rerun_keeps_every_row_once() {
    let clean_dir = tempfile::tempdir().unwrap();
    let clean = LakeLocation::open(clean_dir.path().to_str().unwrap()).unwrap();
    let counting =
        Arc::new(CrashingStore { inner: clean.store().clone(), budget: AtomicI64::new(i64::MAX) });
    let summary = run(&clean.with_store(counting.clone())).await.unwrap();
    let operations = i64::MAX - counting.budget.load(Ordering::SeqCst);
    let rows = summary.lake.rows;
    let expected = format!("n,d\n{rows},{rows}\n");
    let count_sql =
        "SELECT count(*) AS n, count(DISTINCT (source_uri, source_record)) AS d FROM cloudtrail";
    assert_eq!(csv(&clean, count_sql).await, expected);
    let sources = files_in(clean_dir.path(), "_ledger/sources").len();
    assert!(operations > 5, "{operations} writes");

    for budget in 0..operations {
        let dir = tempfile::tempdir().unwrap();
        let location = LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
        let crashing = Arc::new(CrashingStore {
            inner: location.store().clone(),
            budget: AtomicI64::new(budget),
        });
        assert!(run(&location.with_store(crashing)).await.is_err(), "killed after {budget} writes");
        run(&location).await.unwrap_or_else(|error| panic!("rerun after {budget} writes: {error}"));
        assert_eq!(csv(&location, count_sql).await, expected, "killed after {budget} writes");
        assert_eq!(files_in(dir.path(), "_ledger/sources").len(), sources, "after {budget}");
        assert!(files_in(dir.path(), "_ledger/journal").is_empty(), "after {budget}");
    }
}

/// Two writers sharing a lake (workers on one queue), each handed the same source before
/// either committed it (a notification delivered twice), each with another source besides:
/// writing sources to files of their own, the shared source's rows are in the lake once.
#[tokio::test]
async fn writers_sharing_a_lake_write_a_source_given_to_both_once() {
    use lake::{LakeWriter, LakeWriterConfig, SourceStatus};
    use pipeline::decode::{DecodeConfig, decode};
    use pipeline::sources::files::FileSource;

    let dir = tempfile::tempdir().unwrap();
    let location = LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
    let mut paths: Vec<_> = walkdir::WalkDir::new(samples())
        .into_iter()
        .map(|entry| entry.unwrap().into_path())
        // Log files of one hour: their rows share a partition, so a writer grouping sources
        // would put both of its sources in one file.
        .filter(|path| {
            let name = path.to_string_lossy();
            name.contains("/CloudTrail/") && name.contains("_20250309T17")
        })
        .collect();
    paths.sort();
    let decoded = |index: usize| {
        let path = paths[index].clone();
        let reader = FileSource { path: path.clone(), size: 0 }.open().unwrap();
        let mut batches = Vec::new();
        let uri = path.display().to_string();
        decode(reader, &uri, &DecodeConfig::default(), |batch| {
            batches.push(batch);
            true
        });
        (format!("source-{index}"), uri, batches)
    };
    let (shared, first_only, second_only) = (decoded(0), decoded(1), decoded(2));
    let config = LakeWriterConfig { group_sources: false, ..LakeWriterConfig::default() };
    let mut writers = [
        LakeWriter::new(location.clone(), config.clone()),
        LakeWriter::new(location.clone(), config),
    ];
    let mut expected = 0;
    for (writer, sources) in
        writers.iter_mut().zip([[&shared, &first_only], [&shared, &second_only]])
    {
        for (id, uri, _) in sources {
            assert_eq!(writer.begin_source(id, uri).await.unwrap(), SourceStatus::New);
        }
    }
    for (writer, sources) in
        writers.iter_mut().zip([[&shared, &first_only], [&shared, &second_only]])
    {
        for (id, _, batches) in sources {
            for batch in batches {
                writer.write(id, batch).await.unwrap();
            }
            writer.end_source(id).await.unwrap();
        }
        writer.flush().await.unwrap();
    }
    for (_, _, batches) in [&shared, &first_only, &second_only] {
        expected += batches.iter().map(|batch| batch.num_rows() as i64).sum::<i64>();
    }
    let (rows, _) = common::lake_counts(&location).await;
    assert!(expected > 0);
    assert_eq!(rows, expected, "the shared source's rows once");
}

/// Where sources are cut into lake files depends on their rows alone, not on the spare
/// capacity of the batches carrying them. That capacity follows the decoding buffers a batch
/// happened to reuse (decoders share a pool), and a source written again after a crash must
/// land in the same files, named by their rows, not beside them.
#[tokio::test]
async fn file_cuts_depend_on_the_rows_not_on_spare_capacity() {
    use arrow::array::RecordBatch;
    use lake::{LakeWriter, LakeWriterConfig, SourceStatus};
    use pipeline::decode::{BatchBuilder, DecodeConfig, decode_whole};
    use pipeline::sources::files::FileSource;

    let mut paths: Vec<_> = walkdir::WalkDir::new(samples())
        .into_iter()
        .map(|entry| entry.unwrap().into_path())
        .filter(|path| path.is_file() && path.to_string_lossy().contains("/CloudTrail/"))
        .collect();
    paths.sort();
    let decode_into = |path: &std::path::Path, rows: &mut BatchBuilder| {
        let reader = FileSource { path: path.to_path_buf(), size: 0 }.open().unwrap();
        decode_whole(reader, &path.display().to_string(), &DecodeConfig::default(), rows);
    };
    // Each source decoded by a builder of its own, or by one builder reused as the pool reuses
    // them, last used for a group four times as large: the same rows in larger buffers.
    let decode_all = |reuse: bool| -> Vec<(String, RecordBatch)> {
        let mut shared = BatchBuilder::new();
        paths
            .iter()
            .map(|path| {
                let mut own = BatchBuilder::new();
                let rows = if reuse { &mut shared } else { &mut own };
                if reuse {
                    for _ in 0..4 {
                        decode_into(path, rows);
                    }
                    rows.finish(true);
                }
                decode_into(path, rows);
                (path.display().to_string(), rows.finish(reuse))
            })
            .collect()
    };
    let (fresh, reused) = (decode_all(false), decode_all(true));
    let capacity = |sources: &[(String, RecordBatch)]| -> usize {
        sources.iter().map(|(_, batch)| batch.get_array_memory_size()).sum()
    };
    assert!(
        capacity(&reused) > 2 * capacity(&fresh),
        "reused builders carry spare capacity: {} against {}",
        capacity(&reused),
        capacity(&fresh)
    );
    // Small files, so the group is cut several times over the sources.
    let target = lake::writer::value_bytes(&fresh[0].1) * 3;
    let write = |sources: Vec<(String, RecordBatch)>| async move {
        let dir = tempfile::tempdir().unwrap();
        let location = LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
        let config = LakeWriterConfig {
            target_file_bytes: target,
            max_buffer_bytes: 2 * target,
            ..LakeWriterConfig::default()
        };
        let mut writer = LakeWriter::new(location, config);
        for (index, (uri, batch)) in sources.iter().enumerate() {
            let id = format!("source-{index}");
            assert_eq!(writer.begin_source(&id, uri).await.unwrap(), SourceStatus::New);
            writer.write(&id, batch).await.unwrap();
            writer.end_source(&id).await.unwrap();
        }
        writer.finish().await.unwrap();
        files_in(dir.path(), "cloudtrail")
    };
    let (fresh_files, reused_files) = (write(fresh).await, write(reused).await);
    let partitions: std::collections::BTreeSet<&str> =
        fresh_files.iter().map(|file| file.rsplit_once('/').unwrap().0).collect();
    assert!(fresh_files.len() > partitions.len(), "cut within partitions: {fresh_files:?}");
    assert_eq!(fresh_files, reused_files);
}
