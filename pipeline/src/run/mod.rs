//! The main job: read sources, decode them to batches, run the rules on every batch, write
//! the lake and hand alerts to the sink. Several sources are downloaded and decoded at once,
//! each on a blocking thread feeding a small channel, while detection and lake writing consume
//! their batches one source after another, in order, so alerts and lake files never depend on
//! timing.
//! Runs of small sources are decoded in groups, each group into one batch on one thread, and
//! processed together.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lake::writer::LedgerLookup;
use lake::{LakeLocation, LakeWriter, LakeWriterConfig, WriteStats};

use crate::alert::Alert;
use crate::decode::DecodeConfig;
use crate::error::{PipelineError, Result};
use crate::internal_events::{Counters, InternalEvent};
use crate::process::Processor;
use crate::sinks::AlertSink;
use crate::sources::discover;
use crate::state::{Commit, EncodedCheckpoint, SharedState};

mod ingestion;
mod start;

pub use self::ingestion::{COALESCE_ROWS, Ingestion, SUPPRESSED_DIR};
pub use self::start::{DecodedChunk, StartedSource, start_sources};

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
    FileRun::start(config, location, counters)
        .await?
        .process(location, processor, sink, counters)
        .await
}

/// A run over local files, in two steps: [`FileRun::start`] readies the lake and starts
/// reading and decoding sources ahead; [`FileRun::process`] runs the rules over them and writes
/// the lake. `trailhound run` starts reading while its rules are compiled, so neither waits
/// for the other (a tenth of a second on one thread before reading began).
pub struct FileRun {
    started: Instant,
    /// Sources found and inputs that could not be read.
    files: u64,
    writer_config: LakeWriterConfig,
    sources: futures::stream::BoxStream<'static, Result<StartedSource>>,
}

impl FileRun {
    /// Finishes what an interrupted run left in the lake, finds the sources of
    /// `config.inputs` and starts reading them (bounded by `config.read_ahead_bytes`).
    pub async fn start(
        config: &RunConfig,
        location: &LakeLocation,
        counters: &Counters,
    ) -> Result<Self> {
        let started = Instant::now();
        // A local run is the lake's only writer: whatever group write is pending was
        // interrupted. Sources are looked up in the ledger only once it is finished.
        lake::writer::recover(location, std::time::Duration::ZERO).await?;
        let discovered = discover(&config.inputs).await;
        for (path, reason) in &discovered.unreadable {
            counters.emit(InternalEvent::SourceFailed { uri: path, reason });
        }
        let files = (discovered.sources.len() + discovered.unreadable.len()) as u64;
        let ledger = LedgerLookup::listed(location, discovered.sources.len()).await?;
        let sources = start_sources(discovered.sources, ledger, config).boxed();
        Ok(Self { started, files, writer_config: config.writer.clone(), sources })
    }

    /// Runs `processor` over the sources, restoring its state from the lake's checkpoint
    /// first and checkpointing it once they are read, writes the lake, and emits everything
    /// still held.
    pub async fn process(
        self,
        location: &LakeLocation,
        processor: &mut Processor,
        sink: &mut dyn AlertSink,
        counters: &Counters,
    ) -> Result<RunSummary> {
        let Self { started, files, writer_config, mut sources } = self;
        let mut state = SharedState::new(location);
        restore_or_seed(&mut state, location, processor).await?;
        let mut writer = LakeWriter::new(location.clone(), writer_config);
        let mut ingestion = Ingestion::new(location, processor, &mut writer, counters);
        while let Some(started) = sources.next().await {
            let alerts = ingestion.push(started?).await?;
            send_all(alerts, sink, counters).await?;
        }
        send_all(ingestion.finish().await?, sink, counters).await?;
        // The checkpoint is encoded while the last files are written on other threads; it is
        // committed only once they are durable.
        let (flushed, checkpoint) = tokio::join!(writer.flush(), async {
            EncodedCheckpoint::of(&processor.checkpoint(&[]))
        });
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
            files,
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
