//! Partitioned Parquet writing with per-source idempotency.
//!
//! Rows are buffered per Hive partition (`dt=YYYY-MM-DD/hour=HH`, from `event_ts` in UTC)
//! and source, sorted by event time, and written as zstd Parquet through `object_store`.
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

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use arrow::array::{AsArray, RecordBatch, UInt32Array};
use arrow::compute::{
    SortColumn, concat, interleave_record_batch, lexsort_to_indices, take_record_batch,
};
use arrow::datatypes::{Int64Type, SchemaRef, TimestampMillisecondType};
use chrono::{DateTime, Datelike};
use object_store::buffered::BufWriter;
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use xxhash_rust::xxh3::Xxh3;

use crate::error::{LakeError, Result};
use crate::location::{EVENTS_TABLE_DIR, LEDGER_DIR, LakeLocation};
use crate::schema::{EVENT_TS, SOURCE_RECORD, SOURCE_URI, cloudtrail_schema};

/// Settings of a [`LakeWriter`].
#[derive(Debug, Clone)]
pub struct LakeWriterConfig {
    /// Buffered Arrow bytes at which one partition is written out as a file.
    pub target_file_bytes: usize,
    /// Buffered Arrow bytes over all partitions at which the largest partition is written out.
    pub max_buffer_bytes: usize,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// zstd compression level.
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
            zstd_level: 3,
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
    fn add(&mut self, other: &WriteStats) {
        self.files += other.files;
        self.rows += other.rows;
        self.bytes += other.bytes;
        self.sources_committed += other.sources_committed;
    }
}

/// One source's buffered rows in one partition.
#[derive(Default)]
struct PartitionBuffer {
    batches: Vec<RecordBatch>,
    bytes: usize,
}

/// The journal of a group write: what a crash between the files and the ledger entries
/// leaves to be finished or undone.
#[derive(Debug, Serialize, Deserialize)]
struct GroupJournal {
    /// The group's files (relative to the lake root), written after this journal.
    files: Vec<String>,
    /// The ledger entries to write once every file is durable.
    entries: Vec<LedgerEntry>,
}

/// Where group journals live.
const JOURNAL_DIR: &str = "_ledger/journal";

#[derive(Default)]
struct SourceProgress {
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
}

/// Background file writes at once: one lets the next group fill while the last is written,
/// and bounds the rows held twice.
pub const WRITES_IN_FLIGHT: usize = 1;

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
        }
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
        let writing = |write: &BackgroundWrite| write.sources.contains(source_id);
        if self.sources.contains_key(source_id) || self.in_flight.iter().any(writing) {
            return Ok(SourceStatus::InProgress);
        }
        let path = self.location.path(&format!("{LEDGER_DIR}/{source_id}.json"));
        match self.location.store().get(&path).await {
            Ok(found) => {
                let bytes = found
                    .bytes()
                    .await
                    .map_err(|source| LakeError::ObjectStore { path: path.to_string(), source })?;
                let entry = serde_json::from_slice(&bytes)
                    .map_err(|source| LakeError::Json { path: path.to_string(), source })?;
                Ok(SourceStatus::AlreadyIngested(entry))
            }
            Err(object_store::Error::NotFound { .. }) => {
                self.sources.insert(
                    source_id.to_string(),
                    SourceProgress {
                        source_uri: source_uri.to_string(),
                        ..SourceProgress::default()
                    },
                );
                Ok(SourceStatus::New)
            }
            Err(source) => Err(LakeError::ObjectStore { path: path.to_string(), source }),
        }
    }

    /// Buffers a batch of `source_id`'s rows (lake schema), flushing partitions as they fill.
    pub async fn write(&mut self, source_id: &str, batch: &RecordBatch) -> Result<()> {
        self.write_accounted(source_id, batch, batch.get_array_memory_size()).await
    }

    /// As [`LakeWriter::write`], for a slice of a larger batch whose buffers it shares:
    /// `bytes` is the share of that batch's memory it stands for (the slice's own size would
    /// count the whole batch's buffers).
    pub async fn write_shared(
        &mut self,
        source_id: &str,
        batch: &RecordBatch,
        bytes: usize,
    ) -> Result<()> {
        self.write_accounted(source_id, batch, bytes).await
    }

    async fn write_accounted(
        &mut self,
        source_id: &str,
        batch: &RecordBatch,
        batch_bytes: usize,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let event_ts = batch
            .column_by_name(EVENT_TS)
            .expect("lake batches carry event_ts")
            .as_primitive::<TimestampMillisecondType>();
        let mut rows_by_partition: BTreeMap<Partition, Vec<u32>> = BTreeMap::new();
        for (row, millis) in event_ts.values().iter().enumerate() {
            rows_by_partition.entry(Partition::of_millis(*millis)).or_default().push(row as u32);
        }
        let progress =
            self.sources.get_mut(source_id).expect("begin_source is called before write");
        progress.rows += batch.num_rows() as u64;
        let mut filled = Vec::new();
        for (partition, rows) in rows_by_partition {
            let (part, bytes) = if rows.len() == batch.num_rows() {
                (batch.clone(), batch_bytes)
            } else {
                let part =
                    take_record_batch(batch, &UInt32Array::from(rows)).map_err(|source| {
                        LakeError::Arrow { context: "splitting a batch by partition", source }
                    })?;
                let bytes = part.get_array_memory_size();
                (part, bytes)
            };
            let key = (source_id.to_string(), partition);
            let buffer = self.partitions.entry(key.clone()).or_default();
            buffer.batches.push(part);
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
        let mut by_partition: BTreeMap<Partition, Vec<RecordBatch>> = BTreeMap::new();
        for key in &keys {
            let buffer = self.partitions.remove(key).expect("listed above");
            self.buffered_bytes -= buffer.bytes;
            by_partition.entry(key.1).or_default().extend(buffer.batches);
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
        let order = sorted_order(&self.schema, &buffer.batches)?;
        let relative = format!(
            "{EVENTS_TABLE_DIR}/{}/part-{}.parquet",
            partition.folder(),
            content_name(&buffer.batches, &order)
        );
        if let Some(progress) = self.sources.get_mut(&source_id) {
            progress.pending.remove(&partition);
            progress.files.push(relative.clone());
        }
        let file = SortedFile { relative, batches: buffer.batches, order };
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
        for source_id in finished {
            let progress = self.sources.remove(&source_id).expect("listed above");
            put_ledger_entry(&self.location, &ledger_entry(source_id, progress)).await?;
            self.stats.sources_committed += 1;
        }
        Ok(())
    }
}

/// The ledger entry of a source whose rows are all written.
fn ledger_entry(source_id: String, progress: SourceProgress) -> LedgerEntry {
    let mut files = progress.files;
    files.sort();
    files.dedup();
    LedgerEntry { source_id, source_uri: progress.source_uri, rows: progress.rows, files }
}

/// The rows of several ended sources, written as one file per partition under a journal,
/// then the sources' ledger entries.
struct GroupWrite {
    location: LakeLocation,
    schema: SchemaRef,
    config: LakeWriterConfig,
    by_partition: BTreeMap<Partition, Vec<RecordBatch>>,
    /// The sources, with the files already written for them.
    sources: Vec<(String, SourceProgress)>,
}

impl GroupWrite {
    async fn run(self) -> Result<WriteStats> {
        // Name every file first: the journal lists them before any is written.
        let mut files = Vec::new();
        for (partition, batches) in self.by_partition {
            let order = sorted_order(&self.schema, &batches)?;
            let relative = format!(
                "{EVENTS_TABLE_DIR}/{}/part-{}.parquet",
                partition.folder(),
                content_name(&batches, &order)
            );
            files.push(SortedFile { relative, batches, order });
        }
        let names: Vec<String> = files.iter().map(|file| file.relative.clone()).collect();
        let group_size = self.sources.len();
        let entries: Vec<LedgerEntry> = self
            .sources
            .into_iter()
            .map(|(source_id, mut progress)| {
                progress.files.extend(names.iter().cloned());
                ledger_entry(source_id, progress)
            })
            .collect();
        let journal = GroupJournal { files: names, entries };
        let mut hasher = Xxh3::new();
        for file in &journal.files {
            hasher.update(file.as_bytes());
        }
        let journal_path =
            self.location.path(&format!("{JOURNAL_DIR}/{:032x}.json", hasher.digest128()));
        let body = serde_json::to_vec_pretty(&journal).expect("journals serialise");
        self.location
            .store()
            .put(&journal_path, PutPayload::from(body))
            .await
            .map_err(|source| LakeError::ObjectStore { path: journal_path.to_string(), source })?;
        let mut stats = WriteStats::default();
        for file in files {
            stats.add(&file.write(&self.location, &self.schema, &self.config).await?);
        }
        tracing::debug!(
            files = stats.files,
            rows = stats.rows,
            sources = group_size,
            "lake group written"
        );
        for entry in &journal.entries {
            put_ledger_entry(&self.location, entry).await?;
            stats.sources_committed += 1;
        }
        match self.location.store().delete(&journal_path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(stats),
            Err(source) => Err(LakeError::ObjectStore { path: journal_path.to_string(), source }),
        }
    }
}

/// Rows to be written as one lake file, in `order`.
struct SortedFile {
    /// The file's path relative to the lake root.
    relative: String,
    batches: Vec<RecordBatch>,
    order: Vec<(usize, usize)>,
}

impl SortedFile {
    /// Writes the rows a row group at a time, so a file never holds a second sorted copy of
    /// all its rows.
    async fn write(
        self,
        location: &LakeLocation,
        schema: &SchemaRef,
        config: &LakeWriterConfig,
    ) -> Result<WriteStats> {
        let path = location.path(&self.relative);
        let parquet_error = |source| LakeError::Parquet { path: path.to_string(), source };
        let properties = parquet_properties(config.zstd_level, config.row_group_rows, &path)?;
        let object = BufWriter::new(location.store().clone(), path.clone());
        let mut writer = AsyncArrowWriter::try_new(object, schema.clone(), Some(properties))
            .map_err(parquet_error)?;
        let sources: Vec<&RecordBatch> = self.batches.iter().collect();
        for chunk in self.order.chunks(WRITE_CHUNK_ROWS) {
            let rows = interleave_record_batch(&sources, chunk)
                .map_err(|source| LakeError::Arrow { context: "gathering sorted rows", source })?;
            writer.write(&rows).await.map_err(parquet_error)?;
        }
        let metadata = writer.finish().await.map_err(parquet_error)?;
        let bytes = metadata.row_groups().iter().map(|group| group.compressed_size() as u64).sum();
        tracing::debug!(file = %self.relative, rows = self.order.len(), bytes, "lake file written");
        Ok(WriteStats { files: 1, rows: self.order.len() as u64, bytes, sources_committed: 0 })
    }
}

/// Writes a ledger entry create-only: if another writer committed the same source first, its
/// entry stands.
async fn put_ledger_entry(location: &LakeLocation, entry: &LedgerEntry) -> Result<()> {
    let path = location.path(&format!("{LEDGER_DIR}/{}.json", entry.source_id));
    let body = serde_json::to_vec_pretty(entry).expect("ledger entries serialise");
    match location.store().put_opts(&path, PutPayload::from(body), PutMode::Create.into()).await {
        Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
        Err(source) => Err(LakeError::ObjectStore { path: path.to_string(), source }),
    }
}

/// What [`recover`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Group writes finished: their missing ledger entries written.
    pub completed: u64,
    /// Group writes undone: their files deleted, their sources to be read again.
    pub undone: u64,
}

/// Finishes or undoes the group writes a crash interrupted: journals older than `grace`
/// (a live writer's journal is younger: give it time to finish). With every file of the
/// group present, the missing ledger entries are written; otherwise no entry was written
/// yet, and the files that exist are deleted so the sources are read again.
pub async fn recover(location: &LakeLocation, grace: std::time::Duration) -> Result<Recovery> {
    let store = location.store();
    let journals = location.list(JOURNAL_DIR).await?;
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
    let mut recovery = Recovery::default();
    for meta in journals.into_iter().filter(|meta| meta.last_modified <= cutoff) {
        let object_error =
            |source| LakeError::ObjectStore { path: meta.location.to_string(), source };
        let bytes = store
            .get(&meta.location)
            .await
            .map_err(object_error)?
            .bytes()
            .await
            .map_err(object_error)?;
        let journal: GroupJournal = serde_json::from_slice(&bytes)
            .map_err(|source| LakeError::Json { path: meta.location.to_string(), source })?;
        let mut present = Vec::new();
        for file in &journal.files {
            let path = location.path(file);
            match store.head(&path).await {
                Ok(_) => present.push(path),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => {
                    return Err(LakeError::ObjectStore { path: path.to_string(), source });
                }
            }
        }
        if present.len() == journal.files.len() {
            for entry in &journal.entries {
                put_ledger_entry(location, entry).await?;
            }
            recovery.completed += 1;
        } else {
            for path in present {
                match store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(source) => {
                        return Err(LakeError::ObjectStore { path: path.to_string(), source });
                    }
                }
            }
            recovery.undone += 1;
        }
        match store.delete(&meta.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(source) => return Err(object_error(source)),
        }
        tracing::warn!(journal = %meta.location, files = journal.files.len(), "interrupted lake write recovered");
    }
    Ok(recovery)
}

/// The Parquet settings of every lake file: zstd, page statistics (so queries prune by
/// event time within a file) and bounded row groups.
pub(crate) fn parquet_properties(
    zstd_level: i32,
    row_group_rows: usize,
    path: &object_store::path::Path,
) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(zstd_level)
        .map_err(|source| LakeError::Parquet { path: path.to_string(), source })?;
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(row_group_rows))
        // Every column (over a hundred leaves) buffers a data and a dictionary page before
        // compressing: at the 1 MiB defaults that alone is hundreds of MB.
        .set_data_page_size_limit(PAGE_BYTES)
        .set_dictionary_page_size_limit(PAGE_BYTES)
        .build())
}

/// Data and dictionary page size limit of the lake's Parquet files.
const PAGE_BYTES: usize = 128 * 1024;

/// Rows gathered at once when writing a sorted file.
const WRITE_CHUNK_ROWS: usize = 16 * 1024;

/// The rows of `batches` as (batch, row) pairs sorted by event time, then source and position,
/// so the file content does not depend on arrival order. Only the sort keys are copied.
fn sorted_order(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<(usize, usize)>> {
    let arrow_error =
        |source| LakeError::Arrow { context: "sorting a partition by event time", source };
    let keys: Vec<SortColumn> = [EVENT_TS, SOURCE_URI, SOURCE_RECORD]
        .iter()
        .map(|name| {
            let index = schema.index_of(name).expect("lake schema");
            let columns: Vec<&dyn arrow::array::Array> =
                batches.iter().map(|batch| batch.column(index).as_ref()).collect();
            Ok(SortColumn { values: concat(&columns).map_err(arrow_error)?, options: None })
        })
        .collect::<Result<_>>()?;
    let sorted = lexsort_to_indices(&keys, None).map_err(arrow_error)?;
    let mut position = Vec::with_capacity(sorted.len());
    for (batch_index, batch) in batches.iter().enumerate() {
        position.extend((0..batch.num_rows()).map(|row| (batch_index, row)));
    }
    Ok(sorted.values().iter().map(|&index| position[index as usize]).collect())
}

/// A file name derived from the identities (source and position) of the rows in `order`,
/// hex xxh3-128.
fn content_name(batches: &[RecordBatch], order: &[(usize, usize)]) -> String {
    let columns: Vec<_> = batches
        .iter()
        .map(|batch| {
            (
                batch.column_by_name(SOURCE_URI).expect("lake schema").as_string::<i32>(),
                batch
                    .column_by_name(SOURCE_RECORD)
                    .expect("lake schema")
                    .as_primitive::<Int64Type>(),
            )
        })
        .collect();
    let mut hasher = Xxh3::new();
    for &(batch, row) in order {
        let (uris, records) = &columns[batch];
        hasher.update(uris.value(row).as_bytes());
        hasher.update(&[0]);
        hasher.update(&records.value(row).to_le_bytes());
    }
    format!("{:032x}", hasher.digest128())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

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

    #[test]
    fn content_names_identify_the_rows() {
        use arrow::array::{Int64Array, StringArray};
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new(SOURCE_URI, arrow::datatypes::DataType::Utf8, false),
            arrow::datatypes::Field::new(SOURCE_RECORD, arrow::datatypes::DataType::Int64, false),
        ]));
        let batch = |uris: Vec<&str>, records: Vec<i64>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(StringArray::from(uris)), Arc::new(Int64Array::from(records))],
            )
            .unwrap()
        };
        let in_order = [(0, 0), (0, 1)];
        let one_batch = [batch(vec!["a", "b"], vec![1, 2])];
        let split = [batch(vec!["b"], vec![2]), batch(vec!["a"], vec![1])];
        let other = [batch(vec!["a", "b"], vec![1, 3])];
        // The same rows in the same order name the same file, however they were batched.
        assert_eq!(content_name(&one_batch, &in_order), content_name(&split, &[(1, 0), (0, 0)]));
        assert_ne!(content_name(&one_batch, &in_order), content_name(&other, &in_order));
    }
}
