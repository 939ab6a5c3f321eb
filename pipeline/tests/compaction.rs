//! `lake compact` over a lake written from the samples: a process "killed" after any number
//! of writes and deletes, then a re-run, leaves every row exactly once and the same files a
//! clean compaction leaves.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use lake::LakeLocation;
use lake::compact::{CompactConfig, CompactStats, Compaction};
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use pipeline::detect::load_pack;
use pipeline::exceptions::ExceptionSet;
use pipeline::hunt::{OutputFormat, hunt};
use pipeline::internal_events::Counters;
use pipeline::process::{DEFAULT_LATENESS, Processor};
use pipeline::run::{RunConfig, run_files};
use pipeline::sinks::Fanout;
use pipeline::sinks::lake_alerts::LakeAlertsSink;

/// A store whose writes and deletes fail once `budget` of them have been made: the process
/// died there. Reads always work.
#[derive(Debug)]
struct CrashingStore {
    inner: Arc<dyn ObjectStore>,
    budget: AtomicI64,
}

impl CrashingStore {
    fn spend(&self) -> object_store::Result<()> {
        if self.budget.fetch_sub(1, Ordering::SeqCst) > 0 {
            Ok(())
        } else {
            Err(object_store::Error::Generic { store: "crashing", source: "killed".into() })
        }
    }
}

impl std::fmt::Display for CrashingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CrashingStore({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for CrashingStore {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.spend()?;
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.spend()?;
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    async fn get_ranges(
        &self,
        location: &ObjectPath,
        ranges: &[std::ops::Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        match self.spend() {
            Ok(()) => self.inner.delete_stream(locations),
            Err(_) => locations
                .map(|_| {
                    Err(object_store::Error::Generic { store: "crashing", source: "killed".into() })
                })
                .boxed(),
        }
    }
    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.spend()?;
        self.inner.copy_opts(from, to, options).await
    }
}

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

/// Relative paths of the files below `root`, sorted.
fn files(root: &Path) -> Vec<String> {
    let mut found: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.path().strip_prefix(root).unwrap().display().to_string())
        .collect();
    found.sort();
    found
}

async fn csv(location: &LakeLocation, sql: &str) -> String {
    let mut out = Vec::new();
    hunt(location, Default::default(), sql, OutputFormat::Csv, &mut out, false).await.unwrap();
    String::from_utf8(out).unwrap()
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
    let summary = run_files(
        &RunConfig::for_inputs(vec![root.join("samples/cloudtrail").display().to_string()]),
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
