//! The main job: read sources, decode them to batches, run the rules on every batch, write
//! the lake and hand alerts to the sink. Several sources are downloaded and decoded at once,
//! each on a blocking thread feeding a small channel, while detection and lake writing consume
//! their batches one source after another, in order (so results never depend on timing).
//! Runs of small sources are decoded in groups, each group into one batch on one thread, and
//! processed together.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::BooleanArray;
use arrow::array::RecordBatch;
use arrow::compute::{concat_batches, filter_record_batch};
use futures::StreamExt;
use lake::quarantine::write_quarantine;
use lake::writer::find_ledger_entry;
use lake::{LakeLocation, LakeWriter, LakeWriterConfig, LedgerEntry, SourceStatus, WriteStats};
use object_store::{ObjectStoreExt, PutPayload};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::alert::Alert;
use crate::decode::{BatchBuilder, DecodeConfig, DecodeReport, decode, decode_whole};
use crate::error::{PipelineError, Result};
use crate::internal_events::{Counters, InternalEvent};
use crate::process::{Processor, SuppressedMatch};
use crate::sinks::AlertSink;
use crate::sources::files::skip_by_path;
use crate::sources::{Prepared, Source, discover};
use crate::state::{Commit, EncodedCheckpoint, SharedState};

/// Settings of a run over local files.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Files and folders to read (folders recursively).
    pub inputs: Vec<String>,
    /// Decoder settings.
    pub decode: DecodeConfig,
    /// Lake writer settings.
    pub writer: LakeWriterConfig,
    /// Sources downloaded and decoded at once.
    pub concurrency: usize,
    /// Stored (compressed) bytes of the sources started ahead of the one being processed:
    /// bounds the decoded batches waiting for processing.
    pub read_ahead_bytes: u64,
}

impl RunConfig {
    /// Defaults for reading `inputs`.
    pub fn for_inputs(inputs: Vec<String>) -> Self {
        Self {
            inputs,
            decode: DecodeConfig::default(),
            writer: LakeWriterConfig::default(),
            concurrency: DEFAULT_CONCURRENCY,
            read_ahead_bytes: DEFAULT_READ_AHEAD_BYTES,
        }
    }
}

/// Sources read at once by default.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Stored bytes read ahead by default: CloudTrail's gzip is about a tenth of its JSON, so
/// this is about twice [`COALESCE_ROWS`] events decoded ahead, enough to keep decoding busy
/// on another core while a batch is processed.
pub const DEFAULT_READ_AHEAD_BYTES: u64 = 2 * 1024 * 1024;

/// Started sources queued for processing at most (their memory is bounded by
/// [`RunConfig::read_ahead_bytes`]; this only bounds the queue itself).
const MAX_SOURCES_AHEAD: usize = 4096;

/// Sources up to this stored size are decoded in groups, one after another on one thread into
/// one batch: most CloudTrail files hold a few dozen events, and a thread hand-off, a set of
/// column builders and a batch for each cost more than decoding them.
const SMALL_SOURCE_BYTES: u64 = 256 * 1024;

/// A group's batch is cut (between sources) once it holds this many times
/// [`DecodeConfig::batch_rows`]: a group is at most half the read-ahead of stored bytes, which
/// is only about one batch at CloudTrail's usual compression, but could be many at a better one.
const GROUP_BATCH_ROWS_FACTOR: usize = 4;

/// Downloads of a group's objects under way at once, ahead of the one being decoded.
const OPENS_AHEAD: usize = 8;

/// Ledger lookups under way at once, across groups.
const LEDGER_LOOKUPS_AT_ONCE: usize = 16;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    /// Sources found.
    pub files: u64,
    /// Events decoded.
    pub events: u64,
    /// Records quarantined.
    pub rejected: u64,
    /// Sources skipped on purpose (digests, Insights).
    pub skipped: u64,
    /// Sources that failed fully or partly.
    pub failed: u64,
    /// Sources already in the lake.
    pub already_ingested: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Events that arrived behind the watermark.
    pub late_events: u64,
    /// Matches suppressed by exceptions.
    pub suppressed: u64,
    /// What the lake writer wrote.
    pub lake: WriteStats,
    /// Wall time.
    pub elapsed: Duration,
}

impl RunSummary {
    /// One line for stderr.
    pub fn line(&self) -> String {
        format!(
            "files={} events={} rejected={} skipped={} failed={} already_in_lake={} alerts={} late_events={} suppressed={} lake_files={} lake_rows={} seconds={:.2}",
            self.files,
            self.events,
            self.rejected,
            self.skipped,
            self.failed,
            self.already_ingested,
            self.alerts,
            self.late_events,
            self.suppressed,
            self.lake.files,
            self.lake.rows,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Runs the pipeline over local files into the lake at `location`. The correlation state is
/// restored from the lake's checkpoint, checkpointed again once the inputs are read, and then
/// everything still held is emitted.
pub async fn run_files(
    config: &RunConfig,
    location: &LakeLocation,
    processor: &mut Processor,
    sink: &mut dyn AlertSink,
    counters: &Counters,
) -> Result<RunSummary> {
    let started = Instant::now();
    let mut state = SharedState::new(location);
    restore_or_seed(&mut state, location, processor).await?;
    // A local run is the lake's only writer: whatever group write is pending was interrupted.
    lake::writer::recover(location, std::time::Duration::ZERO).await?;
    let discovered = discover(&config.inputs).await;
    for (path, reason) in &discovered.unreadable {
        counters.emit(InternalEvent::SourceFailed { uri: path, reason });
    }
    let mut writer = LakeWriter::new(location.clone(), config.writer.clone());
    let mut sources = start_sources(discovered.sources.clone(), location, config);
    let mut ingestion = Ingestion::new(location, processor, &mut writer, counters);
    while let Some(started) = sources.next().await {
        let alerts = ingestion.push(started?).await?;
        send_all(alerts, sink, counters).await?;
    }
    send_all(ingestion.finish().await?, sink, counters).await?;
    // The checkpoint is encoded while the last files are written on other threads; it is
    // committed only once they are durable.
    let (flushed, checkpoint) =
        tokio::join!(writer.flush(), async { EncodedCheckpoint::of(&processor.checkpoint(&[])) });
    flushed?;
    sink.flush().await?;
    if state.commit_encoded(checkpoint).await? == Commit::Conflict {
        return Err(PipelineError::StateConflict { lake: location.url().to_string() });
    }
    send_all(processor.finish(), sink, counters).await?;
    sink.flush().await?;
    let lake = writer.finish().await?;
    let stats = processor.stats();
    Ok(RunSummary {
        files: (discovered.sources.len() + discovered.unreadable.len()) as u64,
        events: counters.events.load(Ordering::Relaxed),
        rejected: counters.records_quarantined.load(Ordering::Relaxed),
        skipped: counters.sources_skipped_total(),
        failed: counters.sources_failed.load(Ordering::Relaxed),
        already_ingested: counters.sources_already_ingested.load(Ordering::Relaxed)
            + counters.sources_already_applied.load(Ordering::Relaxed),
        alerts: counters.alerts(),
        late_events: stats.late_events,
        suppressed: stats.suppressed,
        lake,
        elapsed: started.elapsed(),
    })
}

/// Hands alerts to the sink, counting each.
pub(crate) async fn send_all(
    alerts: Vec<Alert>,
    sink: &mut dyn AlertSink,
    counters: &Counters,
) -> Result<()> {
    for alert in alerts {
        counters.emit(InternalEvent::AlertRaised { rule_id: &alert.rule_id });
        if let Err(error) = sink.send(&alert).await {
            counters
                .emit(InternalEvent::SinkFailed { sink: sink.name(), reason: &error.to_string() });
            return Err(error);
        }
    }
    Ok(())
}

/// Restores the shared state, or on a lake without one, seeds `new_terms` histories from
/// the lake's events.
pub async fn restore_or_seed(
    state: &mut SharedState,
    location: &LakeLocation,
    processor: &mut Processor,
) -> Result<Option<crate::process::Checkpoint>> {
    match state.load().await? {
        Some(checkpoint) => {
            processor.restore(checkpoint.clone());
            Ok(Some(checkpoint))
        }
        None => {
            let seeded = processor.seed_from_lake(location).await?;
            tracing::info!(
                tuples = seeded,
                "no correlation checkpoint: new_terms history seeded from the lake"
            );
            Ok(None)
        }
    }
}

/// A source whose download and decoding have started (or that needs neither), or a group of
/// small sources decoded.
pub enum StartedSource {
    /// Skipped on purpose (digest, Insights), by its path.
    Skipped { uri: String, reason: &'static str },
    /// Could not be identified or opened.
    Failed { uri: String, reason: String },
    /// Decoding on a blocking thread, batches arriving on `batches`.
    Decoding {
        uri: String,
        source_id: String,
        batches: mpsc::Receiver<RecordBatch>,
        decoding: JoinHandle<DecodeReport>,
        /// Its share of the read-ahead budget, given back once its batches are all received.
        reserved: OwnedSemaphorePermit,
        /// Its ledger entry, looked up while it started: the lookup's round trip would
        /// otherwise hold up processing once per source.
        ledger_entry: lake::Result<Option<LedgerEntry>>,
    },
    /// Consecutive small sources, decoded.
    Group {
        /// Their rows and outcomes, in source order.
        chunks: Vec<DecodedChunk>,
        /// The group's share of the read-ahead budget.
        reserved: OwnedSemaphorePermit,
    },
}

/// Rows of consecutive sources of a group, decoded into one batch, and what each gave.
pub struct DecodedChunk {
    /// The members' rows, in member order; `None` when they had none.
    batch: Option<RecordBatch>,
    members: Vec<GroupMember>,
}

/// A source of a group.
struct GroupMember {
    uri: String,
    outcome: MemberOutcome,
}

/// What became of a source of a group.
enum MemberOutcome {
    /// Skipped by its path.
    Skipped(&'static str),
    /// Could not be opened.
    Failed(String),
    /// Decoded: its rows (`report.records` of them) follow the earlier members' in the batch.
    Decoded {
        source_id: String,
        report: DecodeReport,
        /// Its ledger lookup, under way while the rest of the group is decoded.
        ledger_entry: JoinHandle<lake::Result<Option<LedgerEntry>>>,
    },
}

/// Starts reading `sources` in order on a task of its own, yielding them in order: up to
/// `config.concurrency` are opened and decoded at once, and sources keep starting while
/// earlier ones are processed, as long as those started and not yet processed stay within
/// `config.read_ahead_bytes`. Runs of small sources (see [`SMALL_SOURCE_BYTES`]) start as
/// groups of up to half that budget.
///
/// Decoding slots and read-ahead bytes are both taken in source order, so the source
/// processed next never waits for a later one: whatever holds them comes before it.
pub fn start_sources(
    sources: Vec<Source>,
    location: &LakeLocation,
    config: &RunConfig,
) -> impl futures::Stream<Item = Result<StartedSource>> + Unpin + Send {
    let location = location.clone();
    let decode_config = config.decode.clone();
    let budget = config.read_ahead_bytes.clamp(1, u64::from(u32::MAX));
    let read_ahead = Arc::new(Semaphore::new(budget as usize));
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let lookups = Arc::new(Semaphore::new(LEDGER_LOOKUPS_AT_ONCE));
    let builders = Arc::new(Mutex::new(Vec::new()));
    let (started_tx, started) = mpsc::channel(MAX_SOURCES_AHEAD);
    tokio::spawn(async move {
        let mut sources = sources.into_iter().peekable();
        while let Some(source) = sources.next() {
            let (group, bytes) = match source.size() <= SMALL_SOURCE_BYTES {
                true => {
                    let mut bytes = source.size();
                    let mut group = vec![source];
                    while let Some(next) = sources.next_if(|next| {
                        next.size() <= SMALL_SOURCE_BYTES && bytes + next.size() <= budget / 2
                    }) {
                        bytes += next.size();
                        group.push(next);
                    }
                    (Starting::Group(group), bytes)
                }
                false => {
                    let bytes = source.size();
                    (Starting::Alone(source), bytes)
                }
            };
            let cost = bytes.clamp(1, budget) as u32;
            let reserved = read_ahead.clone().acquire_many_owned(cost).await.expect("never closed");
            let slot = slots.clone().acquire_owned().await.expect("never closed");
            let (location, decode_config) = (location.clone(), decode_config.clone());
            let starting = match group {
                Starting::Group(group) => {
                    let shared =
                        GroupShared { lookups: lookups.clone(), builders: builders.clone() };
                    tokio::spawn(start_group(
                        group,
                        location,
                        decode_config,
                        slot,
                        reserved,
                        shared,
                    ))
                }
                Starting::Alone(source) => tokio::spawn(async move {
                    Ok(start_source(source, location, decode_config, slot, reserved).await)
                }),
            };
            if started_tx.send(starting).await.is_err() {
                break; // Processing stopped.
            }
        }
    });
    futures::stream::unfold(started, |mut started| async move {
        let starting = started.recv().await?;
        Some((starting, started))
    })
    .then(|starting| async move {
        starting.await.map_err(|join_error| PipelineError::Input {
            path: "source reader".into(),
            source: join_error.into(),
        })?
    })
    .boxed()
}

/// How sources start: a larger one alone, streaming; a run of small ones as a group.
enum Starting {
    Alone(Source),
    Group(Vec<Source>),
}

/// What the groups of a run share.
struct GroupShared {
    /// Bounds the ledger lookups under way.
    lookups: Arc<Semaphore>,
    /// Builders left by groups decoded, with room for about as many rows again: grown by
    /// doubling instead, a group's batch would hold up to twice the memory its rows need.
    builders: Arc<Mutex<Vec<BatchBuilder>>>,
}

/// Decodes the sources of `group` in order on one blocking thread, which holds `slot`, into
/// one batch (cut between sources past [`GROUP_BATCH_ROWS_FACTOR`] batches' rows),
/// while their objects download a few ahead and their ledger entries are looked up in the
/// lake at `location`.
async fn start_group(
    group: Vec<Source>,
    location: LakeLocation,
    decode_config: DecodeConfig,
    slot: OwnedSemaphorePermit,
    reserved: OwnedSemaphorePermit,
    shared: GroupShared,
) -> Result<StartedSource> {
    let runtime = tokio::runtime::Handle::current();
    let decoding = tokio::task::spawn_blocking(move || {
        let mut opening = futures::stream::iter(group)
            .map(|source| async move {
                let uri = source.uri();
                match skip_by_path(&source.layout_path()) {
                    Some(reason) => (uri, Err(reason.name())),
                    None => (uri, Ok(source.prepare().await)),
                }
            })
            .buffered(OPENS_AHEAD);
        let mut rows = shared.builders.lock().expect("not poisoned").pop().unwrap_or_default();
        let mut chunks = Vec::new();
        let mut members = Vec::new();
        while let Some((uri, prepared)) = runtime.block_on(opening.next()) {
            let outcome = match prepared.map(Prepared::open) {
                Err(reason) => MemberOutcome::Skipped(reason),
                Ok(Err(error)) => MemberOutcome::Failed(format!("cannot open: {error}")),
                Ok(Ok((source_id, reader))) => {
                    let report = decode_whole(reader, &uri, &decode_config, &mut rows);
                    let (location, lookups, id) =
                        (location.clone(), shared.lookups.clone(), source_id.clone());
                    let ledger_entry = runtime.spawn(async move {
                        let _permit = lookups.acquire_owned().await.expect("never closed");
                        find_ledger_entry(&location, &id).await
                    });
                    MemberOutcome::Decoded { source_id, report, ledger_entry }
                }
            };
            members.push(GroupMember { uri, outcome });
            if rows.rows() >= GROUP_BATCH_ROWS_FACTOR * decode_config.batch_rows {
                let batch = Some(rows.finish(true));
                chunks.push(DecodedChunk { batch, members: std::mem::take(&mut members) });
            }
        }
        if !members.is_empty() {
            let batch = (rows.rows() > 0).then(|| rows.finish(true));
            chunks.push(DecodedChunk { batch, members });
        }
        shared.builders.lock().expect("not poisoned").push(rows);
        drop(slot);
        chunks
    });
    let chunks = decoding.await.map_err(|join_error| PipelineError::Input {
        path: "group of small sources".into(),
        source: join_error.into(),
    })?;
    Ok(StartedSource::Group { chunks, reserved })
}

/// Identifies `source`, opens it and starts decoding it on a blocking thread, which holds
/// `slot` until decoding ends; meanwhile looks it up in the ledger of the lake at `location`.
async fn start_source(
    source: Source,
    location: LakeLocation,
    decode_config: DecodeConfig,
    slot: OwnedSemaphorePermit,
    reserved: OwnedSemaphorePermit,
) -> StartedSource {
    let uri = source.uri();
    if let Some(reason) = skip_by_path(&source.layout_path()) {
        return StartedSource::Skipped { uri, reason: reason.name() };
    }
    let (source_id, reader) = match source.open().await {
        Ok(opened) => opened,
        Err(error) => {
            return StartedSource::Failed { uri, reason: format!("cannot open: {error}") };
        }
    };
    // Two batches in flight per source bound the memory of a large source read ahead.
    let (batches_tx, batches) = mpsc::channel(2);
    let decode_uri = uri.clone();
    let decoding = tokio::task::spawn_blocking(move || {
        let report = decode(reader, &decode_uri, &decode_config, |batch| {
            batches_tx.blocking_send(batch).is_ok()
        });
        drop(slot);
        report
    });
    let ledger_entry = find_ledger_entry(&location, &source_id).await;
    StartedSource::Decoding { uri, source_id, batches, decoding, reserved, ledger_entry }
}

/// Sources smaller than this are processed together, in batches of about this many rows: a
/// CloudTrail file holds a few dozen events, and detection's fixed costs per batch would
/// outweigh the work on so few rows.
pub const COALESCE_ROWS: usize = 8192;

/// A source read whole, held to be processed with others: its rows follow the earlier held
/// sources' in the held batches.
struct HeldSource {
    source_id: String,
    rows: usize,
    write_to_lake: bool,
}

/// Runs started sources through the processor and into the lake, in order. Small sources are
/// held and processed together (see [`COALESCE_ROWS`]); a large one streams, a batch at a
/// time, after what is held. Call [`Ingestion::finish`] once the sources are pushed.
pub struct Ingestion<'a> {
    location: &'a LakeLocation,
    processor: &'a mut Processor,
    writer: &'a mut LakeWriter,
    counters: &'a Counters,
    held: Vec<HeldSource>,
    /// The held sources' rows, in their order.
    held_batches: Vec<RecordBatch>,
    held_rows: usize,
}

impl<'a> Ingestion<'a> {
    /// An ingestion into `writer`'s lake at `location`.
    pub fn new(
        location: &'a LakeLocation,
        processor: &'a mut Processor,
        writer: &'a mut LakeWriter,
        counters: &'a Counters,
    ) -> Self {
        Self {
            location,
            processor,
            writer,
            counters,
            held: Vec::new(),
            held_batches: Vec::new(),
            held_rows: 0,
        }
    }

    /// Reads one started source; returns the alerts that became ready.
    pub async fn push(&mut self, started: StartedSource) -> Result<Vec<Alert>> {
        let counters = self.counters;
        let (uri, source_id, mut batches, decoding, reserved, ledger_entry) = match started {
            StartedSource::Skipped { uri, reason } => {
                counters.emit(InternalEvent::SourceSkipped { uri: &uri, reason });
                return Ok(Vec::new());
            }
            StartedSource::Failed { uri, reason } => {
                counters.emit(InternalEvent::SourceFailed { uri: &uri, reason: &reason });
                return Ok(Vec::new());
            }
            StartedSource::Group { chunks, reserved } => {
                let mut alerts = Vec::new();
                for chunk in chunks {
                    alerts.extend(self.push_chunk(chunk).await?);
                }
                drop(reserved);
                return Ok(alerts);
            }
            StartedSource::Decoding {
                uri,
                source_id,
                batches,
                decoding,
                reserved,
                ledger_entry,
            } => (uri, source_id, batches, decoding, reserved, ledger_entry),
        };
        let Some(write_to_lake) = self.admit(&uri, &source_id, ledger_entry?) else {
            return Ok(Vec::new());
        };
        let mut read = Vec::new();
        let mut rows = 0;
        while rows < COALESCE_ROWS {
            let Some(batch) = batches.recv().await else { break };
            rows += batch.num_rows();
            read.push(batch);
        }
        if rows < COALESCE_ROWS {
            self.record_decoding(decoding, &uri, &source_id).await?;
            drop(reserved);
            self.held.push(HeldSource { source_id, rows, write_to_lake });
            self.held_batches.extend(read);
            self.held_rows += rows;
            if self.held_rows >= COALESCE_ROWS {
                return self.flush().await;
            }
            return Ok(Vec::new());
        }
        let mut alerts = self.flush().await?;
        for batch in read {
            alerts.extend(self.process_streamed(&source_id, &batch, write_to_lake).await?);
        }
        while let Some(batch) = batches.recv().await {
            alerts.extend(self.process_streamed(&source_id, &batch, write_to_lake).await?);
        }
        self.record_decoding(decoding, &uri, &source_id).await?;
        drop(reserved);
        let suppressed = self.processor.take_suppressed();
        self.end_source(&source_id, suppressed, write_to_lake).await?;
        Ok(alerts)
    }

    /// Whether a decoded source is to be processed (`None` when this state or the held sources
    /// have it already), and if so, whether to write it to the lake (not when its ledger entry,
    /// `ledger_entry`, or the writer says the lake has it).
    fn admit(
        &mut self,
        uri: &str,
        source_id: &str,
        ledger_entry: Option<LedgerEntry>,
    ) -> Option<bool> {
        let held_already = self.held.iter().any(|held| held.source_id == source_id);
        if held_already || self.processor.has_applied(source_id) {
            // Durable in the lake before the state that applied it was committed, or the same
            // content twice among the held sources.
            self.counters.emit(InternalEvent::SourceAlreadyApplied { uri });
            return None;
        }
        match self.writer.begin_looked_up_source(source_id, uri, ledger_entry) {
            SourceStatus::New => Some(true),
            SourceStatus::AlreadyIngested(_) | SourceStatus::InProgress => {
                self.counters.emit(InternalEvent::SourceAlreadyIngested { uri });
                Some(false)
            }
        }
    }

    /// Holds the sources of a decoded chunk of a group, and processes what is held once it is
    /// enough. A chunk of half [`COALESCE_ROWS`] or more is processed alone, as it is: joining
    /// it to others would copy it.
    async fn push_chunk(&mut self, chunk: DecodedChunk) -> Result<Vec<Alert>> {
        let DecodedChunk { batch, members } = chunk;
        let chunk_rows = batch.as_ref().map_or(0, RecordBatch::num_rows);
        let alone = chunk_rows >= COALESCE_ROWS / 2;
        let mut alerts = match alone && !self.held.is_empty() {
            true => self.flush().await?,
            false => Vec::new(),
        };
        // Rows of members not admitted, when there are any: dropped from the batch.
        let mut dropped: Option<Vec<bool>> = None;
        let mut start = 0;
        for GroupMember { uri, outcome } in members {
            let (source_id, report, ledger_entry) = match outcome {
                MemberOutcome::Skipped(reason) => {
                    self.counters.emit(InternalEvent::SourceSkipped { uri: &uri, reason });
                    continue;
                }
                MemberOutcome::Failed(reason) => {
                    self.counters.emit(InternalEvent::SourceFailed { uri: &uri, reason: &reason });
                    continue;
                }
                MemberOutcome::Decoded { source_id, report, ledger_entry } => {
                    (source_id, report, ledger_entry)
                }
            };
            let rows = report.records as usize;
            let ledger_entry = ledger_entry.await.map_err(|join_error| {
                PipelineError::Input { path: uri.clone().into(), source: join_error.into() }
            })??;
            match self.admit(&uri, &source_id, ledger_entry) {
                Some(write_to_lake) => {
                    record_report(&report, &uri, &source_id, self.location, self.counters).await?;
                    self.held.push(HeldSource { source_id, rows, write_to_lake });
                }
                None => dropped.get_or_insert_with(|| vec![false; chunk_rows])[start..start + rows]
                    .fill(true),
            }
            start += rows;
        }
        if let Some(batch) = batch {
            let batch = match dropped {
                None => batch,
                Some(dropped) => {
                    let kept: BooleanArray =
                        dropped.iter().map(|&dropped| Some(!dropped)).collect();
                    filter_record_batch(&batch, &kept).map_err(|source| PipelineError::Arrow {
                        context: "dropping the rows of sources applied already",
                        source,
                    })?
                }
            };
            self.held_rows += batch.num_rows();
            self.held_batches.push(batch);
        }
        if alone || self.held_rows >= COALESCE_ROWS {
            alerts.extend(self.flush().await?);
        }
        Ok(alerts)
    }

    /// Processes what is still held; returns the alerts that became ready.
    pub async fn finish(mut self) -> Result<Vec<Alert>> {
        self.flush().await
    }

    /// Processes the held sources as one batch, then writes each to the lake.
    async fn flush(&mut self) -> Result<Vec<Alert>> {
        let held = std::mem::take(&mut self.held);
        let mut batches = std::mem::take(&mut self.held_batches);
        self.held_rows = 0;
        let Some(first) = batches.first() else {
            for source in held {
                self.end_source(&source.source_id, Vec::new(), source.write_to_lake).await?;
            }
            return Ok(Vec::new());
        };
        let started = Instant::now();
        // Joined, the sources' own batches go: each source is written as its slice of the
        // join, which is compact where a small source's batch is mostly builder slack.
        let joined = match batches.len() {
            1 => batches.pop().expect("one batch"),
            _ => concat_batches(&first.schema(), &batches).map_err(|source| {
                PipelineError::Arrow { context: "joining the batches of small sources", source }
            })?,
        };
        drop(batches);
        let alerts = self.processor.process(&joined)?;
        let ends: Vec<usize> = held
            .iter()
            .scan(0, |end, source| {
                *end += source.rows;
                Some(*end)
            })
            .collect();
        let suppressed = self.processor.take_suppressed_by_rows(&ends);
        self.counters.emit(InternalEvent::BatchProcessed {
            rows: joined.num_rows() as u64,
            newest_event_ms: newest_event_time(&joined),
            elapsed: started.elapsed(),
        });
        let joined_bytes = joined.get_array_memory_size();
        let mut start = 0;
        for (source, suppressed) in held.into_iter().zip(suppressed) {
            if source.write_to_lake && source.rows > 0 {
                let part = joined.slice(start, source.rows);
                let bytes = joined_bytes * source.rows / joined.num_rows();
                self.writer.write_shared(&source.source_id, &part, bytes).await?;
            }
            start += source.rows;
            self.end_source(&source.source_id, suppressed, source.write_to_lake).await?;
        }
        Ok(alerts)
    }

    /// Processes and writes one batch of a source too large to hold.
    async fn process_streamed(
        &mut self,
        source_id: &str,
        batch: &RecordBatch,
        write_to_lake: bool,
    ) -> Result<Vec<Alert>> {
        let started = Instant::now();
        let alerts = self.processor.process(batch)?;
        if write_to_lake {
            self.writer.write(source_id, batch).await?;
        }
        self.counters.emit(InternalEvent::BatchProcessed {
            rows: batch.num_rows() as u64,
            newest_event_ms: newest_event_time(batch),
            elapsed: started.elapsed(),
        });
        Ok(alerts)
    }

    /// Waits for the decoder of a source whose batches have all arrived, and counts what it
    /// found.
    async fn record_decoding(
        &self,
        decoding: JoinHandle<DecodeReport>,
        uri: &str,
        source_id: &str,
    ) -> Result<()> {
        let report = decoding.await.map_err(|join_error| PipelineError::Input {
            path: uri.into(),
            source: join_error.into(),
        })?;
        record_report(&report, uri, source_id, self.location, self.counters).await
    }

    /// Closes a processed source: its suppressed matches kept, its rows committed to the
    /// lake, and the state marked as having applied it.
    async fn end_source(
        &mut self,
        source_id: &str,
        suppressed: Vec<SuppressedMatch>,
        write_to_lake: bool,
    ) -> Result<()> {
        if !suppressed.is_empty() {
            write_suppressed(self.location, source_id, &suppressed).await?;
        }
        if write_to_lake {
            self.writer.end_source(source_id).await?;
        }
        self.processor.mark_applied(source_id);
        Ok(())
    }
}

fn newest_event_time(batch: &RecordBatch) -> Option<i64> {
    use arrow::array::AsArray;
    batch
        .column_by_name(lake::schema::EVENT_TS)?
        .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
        .values()
        .iter()
        .max()
        .copied()
}

/// Counts what decoding found and keeps the quarantined records.
async fn record_report(
    report: &DecodeReport,
    uri: &str,
    source_id: &str,
    location: &LakeLocation,
    counters: &Counters,
) -> Result<()> {
    if let Some(reason) = report.skipped {
        counters.emit(InternalEvent::SourceSkipped { uri, reason: reason.name() });
        return Ok(());
    }
    counters.emit(InternalEvent::SourceDecoded {
        uri,
        records: report.records,
        bytes: report.bytes,
    });
    if report.insight_records > 0 {
        counters.emit(InternalEvent::InsightRecordsSkipped { uri, count: report.insight_records });
    }
    if let Some(first) = report.quarantined.first() {
        let quarantine = write_quarantine(location, source_id, &report.quarantined).await?;
        counters.emit(InternalEvent::RecordsQuarantined {
            uri,
            count: report.quarantined.len() as u64,
            first_reason: &first.reason,
            quarantine: &quarantine,
        });
    }
    if let Some(reason) = &report.read_error {
        counters.emit(InternalEvent::SourceFailed { uri, reason });
    } else if report.records == 0 && report.insight_records == 0 && !report.quarantined.is_empty() {
        let reason = format!("no CloudTrail records: {}", report.quarantined[0].reason);
        counters.emit(InternalEvent::SourceFailed { uri, reason: &reason });
    }
    Ok(())
}

/// Where suppressed matches are kept, per source (so a replay rewrites rather than adds).
pub const SUPPRESSED_DIR: &str = "_suppressed";

async fn write_suppressed(
    location: &LakeLocation,
    source_id: &str,
    matches: &[SuppressedMatch],
) -> Result<()> {
    let path = location.path(&format!("{SUPPRESSED_DIR}/{source_id}.jsonl"));
    let mut body = Vec::new();
    for suppressed in matches {
        serde_json::to_writer(&mut body, suppressed).expect("suppressed matches serialise");
        body.push(b'\n');
    }
    location
        .store()
        .put(&path, PutPayload::from(body))
        .await
        .map_err(|source| lake::LakeError::ObjectStore { path: path.to_string(), source })?;
    Ok(())
}
