//! The main job: read sources, decode them to batches, run the rules on every batch, write
//! the lake and hand alerts to the sink. Decoding runs on a blocking thread per source while
//! detection and lake writing consume its batches.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lake::quarantine::write_quarantine;
use lake::{LakeLocation, LakeWriter, LakeWriterConfig, SourceStatus, WriteStats};
use object_store::{ObjectStoreExt, PutPayload};
use tokio::sync::mpsc;

use crate::alert::Alert;
use crate::decode::{DecodeConfig, DecodeReport, decode};
use crate::error::{PipelineError, Result};
use crate::internal_events::{Counters, InternalEvent};
use crate::process::{Checkpoint, Processor, SuppressedMatch};
use crate::sinks::AlertSink;
use crate::sources::files::skip_by_path;
use crate::sources::{Source, discover};

/// Settings of a run over local files.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Files and folders to read (folders recursively).
    pub inputs: Vec<String>,
    /// Decoder settings.
    pub decode: DecodeConfig,
    /// Lake writer settings.
    pub writer: LakeWriterConfig,
}

/// Where the correlation state is checkpointed, below the lake root.
pub const CHECKPOINT_PATH: &str = "_state/correlations.json";

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
    if !restore_checkpoint(location, processor).await? {
        let seeded = processor.seed_from_lake(location).await?;
        tracing::info!(
            tuples = seeded,
            "no correlation checkpoint: new_terms history seeded from the lake"
        );
    }
    let discovered = discover(&config.inputs).await;
    for (path, reason) in &discovered.unreadable {
        counters.emit(InternalEvent::SourceFailed { uri: path, reason });
    }
    let mut writer = LakeWriter::new(location.clone(), config.writer.clone());
    for source in &discovered.sources {
        process_source(source, config, location, processor, &mut writer, sink, counters).await?;
    }
    save_checkpoint(location, processor).await?;
    send_all(processor.finish(), sink, counters)?;
    sink.flush()?;
    let lake = writer.finish().await?;
    let stats = processor.stats();
    Ok(RunSummary {
        files: (discovered.sources.len() + discovered.unreadable.len()) as u64,
        events: counters.events.load(Ordering::Relaxed),
        rejected: counters.records_quarantined.load(Ordering::Relaxed),
        skipped: counters.sources_skipped_total(),
        failed: counters.sources_failed.load(Ordering::Relaxed),
        already_ingested: counters.sources_already_ingested.load(Ordering::Relaxed),
        alerts: counters.alerts(),
        late_events: stats.late_events,
        suppressed: stats.suppressed,
        lake,
        elapsed: started.elapsed(),
    })
}

/// Hands alerts to the sink, counting each.
pub(crate) fn send_all(
    alerts: Vec<Alert>,
    sink: &mut dyn AlertSink,
    counters: &Counters,
) -> Result<()> {
    for alert in alerts {
        counters.emit(InternalEvent::AlertRaised { rule_id: &alert.rule_id });
        sink.send(&alert)?;
    }
    Ok(())
}

/// Restores the correlation state checkpointed by an earlier run; false when there is none.
pub async fn restore_checkpoint(
    location: &LakeLocation,
    processor: &mut Processor,
) -> Result<bool> {
    let path = location.path(CHECKPOINT_PATH);
    match location.store().get(&path).await {
        Ok(found) => {
            let bytes = found.bytes().await.map_err(|source| lake::LakeError::ObjectStore {
                path: path.to_string(),
                source,
            })?;
            let checkpoint: Checkpoint = serde_json::from_slice(&bytes)
                .map_err(|source| lake::LakeError::Json { path: path.to_string(), source })?;
            processor.restore(checkpoint);
            Ok(true)
        }
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(source) => Err(lake::LakeError::ObjectStore { path: path.to_string(), source }.into()),
    }
}

/// Checkpoints the correlation and dedup state next to the lake.
pub async fn save_checkpoint(location: &LakeLocation, processor: &mut Processor) -> Result<()> {
    let path = location.path(CHECKPOINT_PATH);
    let body = serde_json::to_vec(&processor.checkpoint()).expect("state serialises");
    location
        .store()
        .put(&path, PutPayload::from(body))
        .await
        .map_err(|source| lake::LakeError::ObjectStore { path: path.to_string(), source })?;
    Ok(())
}

/// Reads, decodes, detects and writes one source.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn process_source(
    source: &Source,
    config: &RunConfig,
    location: &LakeLocation,
    processor: &mut Processor,
    writer: &mut LakeWriter,
    sink: &mut dyn AlertSink,
    counters: &Counters,
) -> Result<()> {
    let uri = source.uri();
    if let Some(reason) = skip_by_path(&source.layout_path()) {
        counters.emit(InternalEvent::SourceSkipped { uri: &uri, reason: reason.name() });
        return Ok(());
    }
    let source_id = match source.content_id().await {
        Ok(id) => id,
        Err(error) => {
            counters.emit(InternalEvent::SourceFailed { uri: &uri, reason: &error.to_string() });
            return Ok(());
        }
    };
    let write_to_lake = match writer.begin_source(&source_id, &uri).await? {
        SourceStatus::New => true,
        SourceStatus::AlreadyIngested(_) | SourceStatus::InProgress => {
            counters.emit(InternalEvent::SourceAlreadyIngested { uri: &uri });
            false
        }
    };

    let reader = match source.open().await {
        Ok(reader) => reader,
        Err(error) => {
            counters.emit(InternalEvent::SourceFailed {
                uri: &uri,
                reason: &format!("cannot open: {error}"),
            });
            return Ok(());
        }
    };
    let (batches_tx, mut batches_rx) = mpsc::channel(2);
    let decode_uri = uri.clone();
    let decode_config = config.decode.clone();
    let decoding = tokio::task::spawn_blocking(move || {
        decode(reader, &decode_uri, &decode_config, |batch| batches_tx.blocking_send(batch).is_ok())
    });
    while let Some(batch) = batches_rx.recv().await {
        send_all(processor.process(&batch)?, sink, counters)?;
        if write_to_lake {
            writer.write(&source_id, &batch).await?;
        }
    }
    let report = decoding.await.map_err(|join_error| PipelineError::Input {
        path: uri.clone().into(),
        source: join_error.into(),
    })?;
    record_report(&report, &uri, &source_id, location, counters).await?;
    let suppressed = processor.take_suppressed();
    if !suppressed.is_empty() {
        write_suppressed(location, &source_id, &suppressed).await?;
    }
    if write_to_lake {
        writer.end_source(&source_id).await?;
    }
    Ok(())
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
