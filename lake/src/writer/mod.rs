//! Partitioned Parquet writing with per-source idempotency.
//!
//! Rows are buffered per Hive partition (`dt=YYYY-MM-DD/hour=HH`, from `event_ts` in UTC)
//! and source, put in source order, and written as zstd Parquet through `object_store`.
//! CloudTrail delivers many small files (one per account, region and five minutes), so the
//! rows of the sources that have ended are written together: one file per partition for a
//! whole group of sources (at [`LakeWriter::flush`], or once they hold a file's worth). A
//! source that is large by itself has its rows written alone whenever they fill a file, and
//! the largest buffer goes out alone when all of them together reach their limit, so memory
//! stays bounded for any file size.
//!
//! Idempotency (replaying a source never duplicates or loses rows, whatever else is replayed
//! with it):
//! - every source (a log file or object) has a content-derived id; once all its rows are
//!   durable, a ledger entry `_ledger/sources/<id>.json` is written create-only, and later
//!   runs skip the lake write for sources already in the ledger;
//! - a file's name is a hash of the rows it holds (source and position): a file holding one
//!   source's rows is written again under the same name when that source is replayed;
//! - a file holding several sources is written under a journal,
//!   `_ledger/journal/<group>.json`, naming its sources, their files and ledger entries,
//!   written first and deleted after the entries. [`recover`] finishes or undoes what a
//!   crash left: with every file present, the missing entries are written; otherwise the
//!   group's files are deleted (no entry can exist yet) and the sources are read again;
//! - grouping is for a lake with one writer at a time. Writers sharing a lake (workers on one
//!   queue) may be handed the same source at once, before either has committed it: each
//!   would put its rows in a file of a different group. They set
//!   [`LakeWriterConfig::group_sources`] off, so every file holds one source's rows and is
//!   named by them: the same source written twice is the same file.

mod files;
mod lookup;
mod recovery;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Range;
use std::path::PathBuf;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::SchemaRef;
use chrono::{DateTime, Datelike};
use futures::{StreamExt, TryStreamExt};
use object_store::{PutMode, PutPayload};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

pub use self::files::parquet_properties;
use self::files::{GroupWrite, SortedFile};
pub use self::lookup::LedgerLookup;
pub use self::recovery::{Recovery, recover};
use crate::error::{LakeError, Result};
use crate::location::{LEDGER_DIR, LakeLocation};
use crate::schema::{cloudtrail_schema, event_times};

/// Settings of a [`LakeWriter`].
#[derive(Debug, Clone)]
pub struct LakeWriterConfig {
    /// Buffered bytes ([`value_bytes`]) at which one partition is written out as a file.
    pub target_file_bytes: usize,
    /// Buffered bytes ([`value_bytes`]) over all partitions at which the largest partition is
    /// written out.
    pub max_buffer_bytes: usize,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// zstd compression level. 1 by default: on the lake's 128 KiB pages it encodes a file
    /// about a fifth faster than 3, and the corpus's lake came out no larger (compaction, which
    /// writes files to keep, uses 3).
    pub zstd_level: i32,
    /// Whether the rows of several ended sources share one file per partition. Only for a
    /// writer that is the lake's only one (see the module documentation); otherwise each
    /// source's rows go to files of their own.
    pub group_sources: bool,
}

impl Default for LakeWriterConfig {
    fn default() -> Self {
        Self {
            // With the Parquet writer's own buffers and a file written in the background while
            // the next fills, these keep a run under 300 MB of memory on any input
            // (benches/large-file.sh, benches/end-to-end.sh).
            target_file_bytes: 16 * 1024 * 1024,
            max_buffer_bytes: 32 * 1024 * 1024,
            row_group_rows: 64 * 1024,
            zstd_level: 1,
            group_sources: true,
        }
    }
}

/// A Hive partition of the events table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition {
    /// Days since 1970-01-01 (UTC).
    days: i64,
    /// Hour of the day (UTC).
    hour: u8,
}

impl Partition {
    /// The partition of an event time in milliseconds since the epoch.
    pub fn of_millis(millis: i64) -> Self {
        let hours = millis.div_euclid(3_600_000);
        Self { days: hours.div_euclid(24), hour: hours.rem_euclid(24) as u8 }
    }

    /// The partition folder, relative to the table folder: `dt=YYYY-MM-DD/hour=HH`.
    pub fn folder(&self) -> String {
        format!("dt={}/hour={:02}", self.date(), self.hour)
    }

    /// The first instant of the partition, ms since the epoch.
    pub fn start_millis(&self) -> i64 {
        (self.days * 24 + i64::from(self.hour)) * 3_600_000
    }

    /// The hour of the day (UTC).
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// The partition a lake path lies in, from its `dt=YYYY-MM-DD/hour=HH` folders.
    pub fn from_path(path: &str) -> Option<Self> {
        let value =
            |key: &str| path.split('/').find_map(|part| part.strip_prefix(key)?.strip_prefix('='));
        let date = chrono::NaiveDate::parse_from_str(value("dt")?, "%Y-%m-%d").ok()?;
        let hour: u8 = value("hour")?.parse().ok().filter(|hour| *hour < 24)?;
        let days = date.signed_duration_since(chrono::NaiveDate::default()).num_days();
        Some(Self { days, hour })
    }

    /// The `dt` value: the UTC date, `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        let day = DateTime::from_timestamp(self.days * 86_400, 0).unwrap_or_default();
        format!("{:04}-{:02}-{:02}", day.year(), day.month(), day.day())
    }
}

/// The ledger entry of a source whose rows are durable in the lake.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LedgerEntry {
    /// The source's content-derived id.
    pub source_id: String,
    /// Where the source was read from.
    pub source_uri: String,
    /// Rows the source contributed.
    pub rows: u64,
    /// Lake files holding those rows, relative to the lake root.
    pub files: Vec<String>,
}

/// Whether a source still has to be written to the lake.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceStatus {
    /// Not in the ledger: its rows must be written.
    New,
    /// Already durable in the lake (a previous run wrote it).
    AlreadyIngested(LedgerEntry),
    /// Already being written by this writer (the same content twice in one run).
    InProgress,
}

/// What a writer did, for the run summary and the metrics.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WriteStats {
    /// Parquet files written.
    pub files: u64,
    /// Rows written.
    pub rows: u64,
    /// Parquet bytes written.
    pub bytes: u64,
    /// Sources committed to the ledger.
    pub sources_committed: u64,
}

impl WriteStats {
    pub(super) fn add(&mut self, other: &WriteStats) {
        self.files += other.files;
        self.rows += other.rows;
        self.bytes += other.bytes;
        self.sources_committed += other.sources_committed;
    }
}

/// One source's buffered rows in one partition.
#[derive(Default)]
struct PartitionBuffer {
    rows: Vec<BufferedRows>,
    bytes: usize,
}

/// Rows held for the lake: `rows` of `batch`. The sources processed together lie in one
/// batch (see [`LakeWriter::share`]): a file writes consecutive rows of several of them as one
/// slice of it, where copying each source's rows into the file's order was 7% of a run.
#[derive(Clone)]
pub(super) struct BufferedRows {
    pub(super) batch: RecordBatch,
    /// Tells `batch` apart from the writer's other batches.
    pub(super) batch_id: u64,
    pub(super) rows: Range<usize>,
}

/// A batch whose rows several sources share, as [`LakeWriter::share`] returns it.
pub struct SharedBatch {
    batch: RecordBatch,
    id: u64,
    bytes: usize,
}

#[derive(Default)]
pub(super) struct SourceProgress {
    source_uri: String,
    rows: u64,
    /// Partitions still holding unflushed rows of this source.
    pending: BTreeSet<Partition>,
    files: Vec<String>,
    /// All of the source has been handed to the writer.
    ended: bool,
}

/// Writes CloudTrail batches into the partitioned Parquet lake. Build it with [`LakeWriter::new`],
/// announce each source with [`LakeWriter::begin_source`], hand it batches with
/// [`LakeWriter::write`], close sources with [`LakeWriter::end_source`], then call
/// [`LakeWriter::finish`].
///
/// Files are sorted, encoded and stored by background tasks (at most
/// [`WRITES_IN_FLIGHT`]), so the caller goes on decoding and detecting meanwhile; a source's
/// ledger entry is written only once all of its files are durable, and
/// [`LakeWriter::flush`] waits for everything.
pub struct LakeWriter {
    location: LakeLocation,
    config: LakeWriterConfig,
    schema: SchemaRef,
    /// Buffers per (source id, partition).
    partitions: BTreeMap<(String, Partition), PartitionBuffer>,
    /// Bytes buffered by sources that have ended (written at the next group flush).
    ended_bytes: usize,
    buffered_bytes: usize,
    sources: HashMap<String, SourceProgress>,
    /// Background writes, oldest first.
    in_flight: VecDeque<BackgroundWrite>,
    stats: WriteStats,
    /// The id of the next batch buffered (see [`BufferedRows`]).
    next_batch_id: u64,
}

/// Background file writes at once. Encoding is about two fifths of a run's CPU: with one
/// write at a time, the group that filled next waited for it, and so did reading and
/// detection, with a core idle (2-CPU wall medians 1.47 -> 1.38 s on the benchmark corpus,
/// benches/ab.sh 9 pairs, same CPU and peak RSS; the 1 GiB file's peak stayed 267-277 MB).
/// Two also let the last files of a run be encoded side by side. Each write holds its rows
/// until written, so this bounds the rows held twice.
pub const WRITES_IN_FLIGHT: usize = 2;

/// A write running on its own task.
struct BackgroundWrite {
    /// Sources whose rows it writes.
    sources: BTreeSet<String>,
    task: JoinHandle<Result<WriteStats>>,
}

impl LakeWriter {
    /// A writer into `location`.
    pub fn new(location: LakeLocation, config: LakeWriterConfig) -> Self {
        Self {
            location,
            config,
            schema: cloudtrail_schema(),
            partitions: BTreeMap::new(),
            ended_bytes: 0,
            buffered_bytes: 0,
            sources: HashMap::new(),
            in_flight: VecDeque::new(),
            stats: WriteStats::default(),
            next_batch_id: 0,
        }
    }

    fn new_batch_id(&mut self) -> u64 {
        self.next_batch_id += 1;
        self.next_batch_id
    }

    /// What has been written so far.
    pub fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// Looks the source up in the ledger; a new source is registered for writing.
    pub async fn begin_source(
        &mut self,
        source_id: &str,
        source_uri: &str,
    ) -> Result<SourceStatus> {
        if self.is_in_progress(source_id) {
            return Ok(SourceStatus::InProgress);
        }
        let found = find_ledger_entry(&self.location, source_id).await?;
        Ok(self.begin_looked_up_source(source_id, source_uri, found))
    }

    /// As [`LakeWriter::begin_source`], with the source's ledger entry looked up beforehand
    /// by [`find_ledger_entry`] (ahead of processing, while earlier sources are processed).
    /// An entry committed since the lookup can only be a source this writer has seen, which
    /// its caller knows of.
    pub fn begin_looked_up_source(
        &mut self,
        source_id: &str,
        source_uri: &str,
        found: Option<LedgerEntry>,
    ) -> SourceStatus {
        if self.is_in_progress(source_id) {
            return SourceStatus::InProgress;
        }
        if let Some(entry) = found {
            return SourceStatus::AlreadyIngested(entry);
        }
        let progress =
            SourceProgress { source_uri: source_uri.to_string(), ..SourceProgress::default() };
        self.sources.insert(source_id.to_string(), progress);
        SourceStatus::New
    }

    /// Whether the source's rows are being buffered or written.
    fn is_in_progress(&self, source_id: &str) -> bool {
        let writing = |write: &BackgroundWrite| write.sources.contains(source_id);
        self.sources.contains_key(source_id) || self.in_flight.iter().any(writing)
    }

    /// Buffers a batch of `source_id`'s rows (lake schema), flushing partitions as they fill.
    /// Buffers count by [`value_bytes`].
    pub async fn write(&mut self, source_id: &str, batch: &RecordBatch) -> Result<()> {
        let rows = BufferedRows {
            batch: batch.clone(),
            batch_id: self.new_batch_id(),
            rows: 0..batch.num_rows(),
        };
        self.write_accounted(source_id, rows, value_bytes(batch)).await
    }

    /// A batch holding the rows of several sources, for [`LakeWriter::write_shared`].
    pub fn share(&mut self, batch: RecordBatch) -> SharedBatch {
        SharedBatch { bytes: value_bytes(&batch), id: self.new_batch_id(), batch }
    }

    /// As [`LakeWriter::write`], for a source's `rows` of a batch it shares with others. They
    /// count for their share of the batch's [`value_bytes`] (a slice's own would count the
    /// whole of its list columns' values).
    pub async fn write_shared(
        &mut self,
        source_id: &str,
        shared: &SharedBatch,
        rows: Range<usize>,
    ) -> Result<()> {
        let bytes = shared.bytes * rows.len() / shared.batch.num_rows().max(1);
        let rows = BufferedRows { batch: shared.batch.clone(), batch_id: shared.id, rows };
        self.write_accounted(source_id, rows, bytes).await
    }

    async fn write_accounted(
        &mut self,
        source_id: &str,
        rows: BufferedRows,
        rows_bytes: usize,
    ) -> Result<()> {
        if rows.rows.is_empty() {
            return Ok(());
        }
        let mut rows_by_partition: BTreeMap<Partition, Vec<u32>> = BTreeMap::new();
        let times = &event_times(&rows.batch)[rows.rows.clone()];
        for (row, millis) in rows.rows.clone().zip(times) {
            rows_by_partition.entry(Partition::of_millis(*millis)).or_default().push(row as u32);
        }
        let progress =
            self.sources.get_mut(source_id).expect("begin_source is called before write");
        progress.rows += rows.rows.len() as u64;
        let whole = rows_by_partition.len() == 1;
        let mut filled = Vec::new();
        for (partition, indices) in rows_by_partition {
            let (part, bytes) = if whole {
                (rows.clone(), rows_bytes)
            } else {
                let part = take_record_batch(&rows.batch, &UInt32Array::from(indices)).map_err(
                    |source| LakeError::Arrow { context: "splitting a batch by partition", source },
                )?;
                let bytes = value_bytes(&part);
                // Not `new_batch_id`: `progress` borrows the sources.
                self.next_batch_id += 1;
                let part_rows = 0..part.num_rows();
                (BufferedRows { batch: part, batch_id: self.next_batch_id, rows: part_rows }, bytes)
            };
            let key = (source_id.to_string(), partition);
            let buffer = self.partitions.entry(key.clone()).or_default();
            buffer.rows.push(part);
            buffer.bytes += bytes;
            progress.pending.insert(partition);
            self.buffered_bytes += bytes;
            if buffer.bytes >= self.config.target_file_bytes {
                filled.push(key);
            }
        }
        for partition in filled {
            self.flush_partition(partition).await?;
        }
        while self.buffered_bytes >= self.config.max_buffer_bytes {
            let Some(largest) = self
                .partitions
                .iter()
                .max_by_key(|(_, buffer)| buffer.bytes)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            self.flush_partition(largest).await?;
        }
        Ok(())
    }

    /// Marks all of a source's rows as handed over: they are written out, then its ledger
    /// entry.
    pub async fn end_source(&mut self, source_id: &str) -> Result<()> {
        if let Some(progress) = self.sources.get_mut(source_id) {
            progress.ended = true;
        }
        self.ended_bytes += self
            .partitions
            .iter()
            .filter(|((source, _), _)| source == source_id)
            .map(|(_, buffer)| buffer.bytes)
            .sum::<usize>();
        if self.ended_bytes >= self.config.target_file_bytes {
            self.flush_group().await?;
        }
        self.commit_finished_sources().await
    }

    /// Writes every buffered partition and the remaining ledger entries.
    pub async fn finish(mut self) -> Result<WriteStats> {
        self.flush().await?;
        Ok(self.stats)
    }

    /// Writes every buffered partition now and commits the ledger entries of the sources
    /// that ended: after it returns, every ended source is durable.
    pub async fn flush(&mut self) -> Result<()> {
        self.flush_group().await?;
        // Sources still being read are written alone.
        let buffers: Vec<(String, Partition)> = self.partitions.keys().cloned().collect();
        for key in buffers {
            self.flush_partition(key).await?;
        }
        while self.wait_for_oldest_write().await? {}
        self.commit_finished_sources().await
    }

    /// Writes the buffered rows of every ended source: one file per partition, then their
    /// ledger entries, under a journal when the group holds more than one source.
    async fn flush_group(&mut self) -> Result<()> {
        let keys: Vec<(String, Partition)> = self
            .partitions
            .keys()
            .filter(|(source, _)| self.sources.get(source).is_some_and(|progress| progress.ended))
            .cloned()
            .collect();
        let group: BTreeSet<String> = keys.iter().map(|(source, _)| source.clone()).collect();
        if group.len() < 2 || !self.config.group_sources {
            for key in keys {
                self.flush_partition(key).await?;
            }
            return self.commit_finished_sources().await;
        }
        let mut by_partition: BTreeMap<Partition, Vec<BufferedRows>> = BTreeMap::new();
        for key in &keys {
            let buffer = self.partitions.remove(key).expect("listed above");
            self.buffered_bytes -= buffer.bytes;
            by_partition.entry(key.1).or_default().extend(buffer.rows);
        }
        self.ended_bytes = 0;
        // The group commits its sources: files they wrote alone must be durable first.
        let members: Vec<String> = group.iter().cloned().collect();
        self.wait_for_writes_of(&members).await?;
        // Every partition of these sources is in the group: its write commits them all.
        let sources: Vec<(String, SourceProgress)> = group
            .iter()
            .map(|source| {
                let progress = self.sources.remove(source).expect("ended sources are tracked");
                (source.clone(), progress)
            })
            .collect();
        let write = GroupWrite {
            location: self.location.clone(),
            schema: self.schema.clone(),
            config: self.config.clone(),
            by_partition,
            sources,
        };
        self.start_write(group, write.run()).await?;
        self.commit_finished_sources().await
    }

    /// Writes one source's buffer of one partition as a file of its own.
    async fn flush_partition(&mut self, key: (String, Partition)) -> Result<()> {
        let Some(buffer) = self.partitions.remove(&key) else {
            return Ok(());
        };
        let (source_id, partition) = key;
        self.buffered_bytes -= buffer.bytes;
        if self.sources.get(&source_id).is_some_and(|progress| progress.ended) {
            self.ended_bytes = self.ended_bytes.saturating_sub(buffer.bytes);
        }
        let file = SortedFile::new(partition, buffer.rows);
        if let Some(progress) = self.sources.get_mut(&source_id) {
            progress.pending.remove(&partition);
            progress.files.push(file.relative.clone());
        }
        let (location, schema, config) =
            (self.location.clone(), self.schema.clone(), self.config.clone());
        let write = async move { file.write(&location, &schema, &config).await };
        self.start_write(BTreeSet::from([source_id]), write).await?;
        self.commit_finished_sources().await
    }

    /// Starts `write` on a task of its own once fewer than [`WRITES_IN_FLIGHT`] are running.
    async fn start_write(
        &mut self,
        sources: BTreeSet<String>,
        write: impl Future<Output = Result<WriteStats>> + Send + 'static,
    ) -> Result<()> {
        while self.in_flight.len() >= WRITES_IN_FLIGHT {
            self.wait_for_oldest_write().await?;
        }
        self.in_flight.push_back(BackgroundWrite { sources, task: tokio::spawn(write) });
        Ok(())
    }

    /// Waits until no background write holds rows of `sources`.
    async fn wait_for_writes_of(&mut self, sources: &[String]) -> Result<()> {
        let writing = |write: &BackgroundWrite| sources.iter().any(|id| write.sources.contains(id));
        while self.in_flight.iter().any(writing) {
            self.wait_for_oldest_write().await?;
        }
        Ok(())
    }

    /// Waits for the oldest background write; `false` when none is running.
    async fn wait_for_oldest_write(&mut self) -> Result<bool> {
        let Some(write) = self.in_flight.pop_front() else {
            return Ok(false);
        };
        let written = write.task.await.map_err(|source| LakeError::Task {
            context: "writing lake files",
            reason: source.to_string(),
        })??;
        self.stats.add(&written);
        Ok(true)
    }

    /// Writes the ledger entries of the sources that ended and whose rows are all written,
    /// once the background writes holding their files are done.
    async fn commit_finished_sources(&mut self) -> Result<()> {
        let finished: Vec<String> = self
            .sources
            .iter()
            .filter(|(_, progress)| progress.ended && progress.pending.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        self.wait_for_writes_of(&finished).await?;
        let entries: Vec<LedgerEntry> = finished
            .into_iter()
            .map(|source_id| {
                let progress = self.sources.remove(&source_id).expect("listed above");
                ledger_entry(source_id, progress)
            })
            .collect();
        put_ledger_entries(&self.location, &entries).await?;
        self.stats.sources_committed += entries.len() as u64;
        Ok(())
    }
}

/// The bytes of a batch's values, without the spare capacity of its buffers: what the writer
/// counts a buffered batch for. Where files are cut then depends on the rows alone. Spare
/// capacity varies with the decoding buffers a batch happened to reuse, and a source written
/// again after a crash must be cut into the same files, named by their rows.
pub fn value_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|column| {
            column.to_data().get_slice_memory_size().expect("lake columns have a known layout")
        })
        .sum()
}

/// The ledger entry of a source, if its rows are in the lake.
pub async fn find_ledger_entry(
    location: &LakeLocation,
    source_id: &str,
) -> Result<Option<LedgerEntry>> {
    location.get_json(&ledger_entry_path(location, source_id)).await
}

/// Where a source's ledger entry is, in the lake's store.
pub(crate) fn ledger_entry_path(
    location: &LakeLocation,
    source_id: &str,
) -> object_store::path::Path {
    location.path(&format!("{LEDGER_DIR}/{source_id}.json"))
}

/// A ledger entry as it is stored.
fn ledger_entry_body(entry: &LedgerEntry) -> Vec<u8> {
    serde_json::to_vec_pretty(entry).expect("ledger entries serialise")
}

/// The ledger entry of a source whose rows are all written.
pub(super) fn ledger_entry(source_id: String, progress: SourceProgress) -> LedgerEntry {
    let mut files = progress.files;
    files.sort();
    files.dedup();
    LedgerEntry { source_id, source_uri: progress.source_uri, rows: progress.rows, files }
}

/// Ledger entries written at once: each is a request of its own to the store, and a group
/// commits a hundred-odd sources.
const LEDGER_PUTS_AT_ONCE: usize = 8;

/// Writes ledger entries, several at once (see [`put_ledger_entry`]).
pub(super) async fn put_ledger_entries(
    location: &LakeLocation,
    entries: &[LedgerEntry],
) -> Result<()> {
    // Called once per ended source, mostly with nothing to commit yet.
    if entries.is_empty() {
        return Ok(());
    }
    let local: Option<Vec<(PathBuf, Vec<u8>)>> = entries
        .iter()
        .map(|entry| {
            let path = location.local_path(&ledger_entry_path(location, &entry.source_id))?;
            Some((path, ledger_entry_body(entry)))
        })
        .collect();
    if let Some(files) = local {
        // In one blocking task: a hand-off to the blocking pool per entry cost more than the
        // entry's own file system calls (5% of a run on the benchmark corpus).
        let created = tokio::task::spawn_blocking(move || create_local_entries(&files));
        return created.await.map_err(|source| LakeError::Task {
            context: "writing ledger entries",
            reason: source.to_string(),
        })?;
    }
    let puts: Vec<_> = entries
        .iter()
        .map(|entry| {
            let (location, entry) = (location.clone(), entry.clone());
            async move { put_ledger_entry(&location, &entry).await }
        })
        .collect();
    futures::stream::iter(puts).buffer_unordered(LEDGER_PUTS_AT_ONCE).try_collect().await
}

/// Writes a ledger entry create-only: if another writer committed the same source first, its
/// entry stands.
async fn put_ledger_entry(location: &LakeLocation, entry: &LedgerEntry) -> Result<()> {
    let path = ledger_entry_path(location, &entry.source_id);
    let body = PutPayload::from(ledger_entry_body(entry));
    match location.store().put_opts(&path, body, PutMode::Create.into()).await {
        Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
        Err(source) => Err(LakeError::ObjectStore { path: path.to_string(), source }),
    }
}

/// Writes ledger entries (local file and body) create-only, as `object_store`'s local store
/// does a [`PutMode::Create`] put: each written whole under a staging name (one its listings
/// skip), then linked to its own name, which fails if another writer's entry is there; that
/// one stands.
fn create_local_entries(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let io_error =
        |path: &std::path::Path, source| LakeError::Io { path: path.display().to_string(), source };
    for (path, body) in files {
        let (mut staged, staging) = match create_staging_file(path) {
            // A source id may hold `/`: its entry's folder is created when first missing.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let folder = path.parent().expect("a ledger entry lies in the lake folder");
                std::fs::create_dir_all(folder).map_err(|source| io_error(folder, source))?;
                create_staging_file(path)
            }
            created => created,
        }
        .map_err(|source| io_error(path, source))?;
        let linked = std::io::Write::write_all(&mut staged, body)
            .and_then(|()| std::fs::hard_link(&staging, path));
        let _ = std::fs::remove_file(&staging);
        if let Err(source) = linked
            && source.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(io_error(path, source));
        }
    }
    Ok(())
}

/// A new file beside `path` named `<name>#<number>`, the staging names of `object_store`'s
/// local store, which its listings skip.
fn create_staging_file(path: &std::path::Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    let mut number = 1u64;
    loop {
        let mut staging = path.as_os_str().to_owned();
        staging.push(format!("#{number}"));
        let staging = PathBuf::from(staging);
        match std::fs::File::options().write(true).create_new(true).open(&staging) {
            Ok(file) => return Ok((file, staging)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => number += 1,
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_utc_hours() {
        // 2025-03-09T16:39:48.5Z
        let partition = Partition::of_millis(1_741_538_388_500);
        assert_eq!(partition.folder(), "dt=2025-03-09/hour=16");
        assert_eq!(Partition::of_millis(-1).folder(), "dt=1969-12-31/hour=23");
        assert_eq!(Partition::of_millis(0).folder(), "dt=1970-01-01/hour=00");
        assert_eq!(
            Partition::from_path("lake/cloudtrail/dt=2025-03-09/hour=16/part-1.parquet"),
            Some(partition)
        );
        assert_eq!(Partition::from_path("cloudtrail/dt=2025-03-09/hour=24/x.parquet"), None);
    }

    #[tokio::test]
    async fn ledger_entries_are_created_once_in_a_local_lake() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let location =
            LakeLocation::open(folder.path().to_str().expect("UTF-8 path")).expect("a local lake");
        let entry = |rows| LedgerEntry {
            source_id: "00c0ffee".into(),
            source_uri: "file:///logs/a.json.gz".into(),
            rows,
            files: vec!["cloudtrail/dt=2025-03-09/hour=16/part-1.parquet".into()],
        };
        let ledger = ledger_entry_path(&location, "00c0ffee");
        assert!(location.local_path(&ledger).is_some(), "written with file system calls");
        put_ledger_entries(&location, &[entry(3)]).await.expect("first entry");
        put_ledger_entries(&location, &[entry(5)]).await.expect("second writer's entry");
        let found = find_ledger_entry(&location, "00c0ffee").await.expect("readable");
        assert_eq!(found.map(|entry| entry.rows), Some(3), "the first entry stands");
        let names: Vec<_> = std::fs::read_dir(folder.path().join(LEDGER_DIR))
            .expect("ledger folder")
            .map(|name| name.expect("listable").file_name())
            .collect();
        assert_eq!(names, ["00c0ffee.json"], "no staging file is left");
        // Through a wrapping store, entries go through `object_store`, with the same outcome.
        let wrapped = location.with_store(location.store().clone());
        assert!(wrapped.local_path(&ledger).is_none());
        put_ledger_entries(&wrapped, &[entry(7)]).await.expect("put through the store");
        let found = find_ledger_entry(&wrapped, "00c0ffee").await.expect("readable");
        assert_eq!(found.map(|entry| entry.rows), Some(3));
    }

    #[tokio::test]
    async fn ledger_entries_of_source_ids_holding_folders_are_created() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let location =
            LakeLocation::open(folder.path().to_str().expect("UTF-8 path")).expect("a local lake");
        let ids = ["flat", "logs/2025/03/09/a.json.gz", "logs/2025/03/10/b.json.gz"];
        let entries: Vec<LedgerEntry> = ids
            .iter()
            .enumerate()
            .map(|(rows, id)| LedgerEntry {
                source_id: id.to_string(),
                source_uri: format!("file:///{id}"),
                rows: rows as u64,
                files: Vec::new(),
            })
            .collect();
        put_ledger_entries(&location, &entries).await.expect("entries in new folders");
        for (rows, id) in ids.iter().enumerate() {
            let found = find_ledger_entry(&location, id).await.expect("readable");
            assert_eq!(found.map(|entry| entry.rows), Some(rows as u64), "{id}");
        }
    }
}
