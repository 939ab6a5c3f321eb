//! The main job: read sources, decode them to batches, run the rules on every batch, write
//! the lake and hand alerts to the sink. Several sources are downloaded and decoded at once,
//! each on a blocking thread feeding a small channel, while detection and lake writing consume
//! their batches one source after another, in order (so results never depend on timing);
//! small sources are processed together, a batch of several at a time.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use futures::StreamExt;
use lake::quarantine::write_quarantine;
use lake::writer::find_ledger_entry;
use lake::{LakeLocation, LakeWriter, LakeWriterConfig, LedgerEntry, SourceStatus, WriteStats};
use object_store::{ObjectStoreExt, PutPayload};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::alert::Alert;
use crate::decode::{DecodeConfig, DecodeReport, decode};
use crate::error::{PipelineError, Result};
use crate::internal_events::{Counters, InternalEvent};
use crate::process::{Processor, SuppressedMatch};
use crate::sinks::AlertSink;
use crate::sources::files::skip_by_path;
use crate::sources::{Source, discover};
use crate::state::{Commit, SharedState};

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
    writer.flush().await?;
    sink.flush().await?;
    if state.commit(&processor.checkpoint(&[])).await? == Commit::Conflict {
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

/// A source whose download and decoding have started (or that needs neither).
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
}

/// Starts reading `sources` in order on a task of its own, yielding them in order: up to
/// `config.concurrency` are opened and decoded at once, and sources keep starting while
/// earlier ones are processed, as long as those started and not yet processed stay within
/// `config.read_ahead_bytes`.
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
    let (started_tx, started) = mpsc::channel(MAX_SOURCES_AHEAD);
    tokio::spawn(async move {
        for source in sources {
            let cost = source.size().clamp(1, budget) as u32;
            let reserved = read_ahead.clone().acquire_many_owned(cost).await.expect("never closed");
            let slot = slots.clone().acquire_owned().await.expect("never closed");
            let starting = tokio::spawn(start_source(
                source,
                location.clone(),
                decode_config.clone(),
                slot,
                reserved,
            ));
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
        })
    })
    .boxed()
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

/// A source read whole, held to be processed with others.
struct HeldSource {
    source_id: String,
    batches: Vec<RecordBatch>,
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
        Self { location, processor, writer, counters, held: Vec::new(), held_rows: 0 }
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
            StartedSource::Decoding {
                uri,
                source_id,
                batches,
                decoding,
                reserved,
                ledger_entry,
            } => (uri, source_id, batches, decoding, reserved, ledger_entry),
        };
        let held_already = self.held.iter().any(|held| held.source_id == source_id);
        if held_already || self.processor.has_applied(&source_id) {
            // Durable in the lake before the state that applied it was committed, or the same
            // content twice among the held sources.
            counters.emit(InternalEvent::SourceAlreadyApplied { uri: &uri });
            return Ok(Vec::new());
        }
        let write_to_lake =
            match self.writer.begin_looked_up_source(&source_id, &uri, ledger_entry?) {
                SourceStatus::New => true,
                SourceStatus::AlreadyIngested(_) | SourceStatus::InProgress => {
                    counters.emit(InternalEvent::SourceAlreadyIngested { uri: &uri });
                    false
                }
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
            self.held.push(HeldSource { source_id, batches: read, rows, write_to_lake });
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

    /// Processes what is still held; returns the alerts that became ready.
    pub async fn finish(mut self) -> Result<Vec<Alert>> {
        self.flush().await
    }

    /// Processes the held sources as one batch, then writes each to the lake.
    async fn flush(&mut self) -> Result<Vec<Alert>> {
        let mut held = std::mem::take(&mut self.held);
        self.held_rows = 0;
        // The sources' own batches go once joined: each is written as its slice of the join,
        // which is compact where a small source's batch is mostly builder slack.
        let batches: Vec<RecordBatch> =
            held.iter_mut().flat_map(|source| std::mem::take(&mut source.batches)).collect();
        let Some(first) = batches.first() else {
            for source in held {
                self.end_source(&source.source_id, Vec::new(), source.write_to_lake).await?;
            }
            return Ok(Vec::new());
        };
        let started = Instant::now();
        let joined = concat_batches(&first.schema(), &batches).map_err(|source| {
            PipelineError::Arrow { context: "joining the batches of small sources", source }
        })?;
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
