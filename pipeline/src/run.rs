//! The main job: read sources, decode them to batches, run the rules on every batch, write
//! the lake and hand alerts to the sink. Decoding runs on a blocking thread per source while
//! detection and lake writing consume its batches.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lake::quarantine::write_quarantine;
use lake::{LakeLocation, LakeWriter, LakeWriterConfig, SourceStatus, WriteStats};
use tokio::sync::mpsc;

use crate::alert::{Deduplicator, Hit, single_alert};
use crate::decode::{DecodeConfig, DecodeReport, decode};
use crate::detect::DetectionEngine;
use crate::error::{PipelineError, Result};
use crate::internal_events::{Counters, InternalEvent};
use crate::sinks::AlertSink;
use crate::sources::files::{FileSource, discover, skip_by_path};

/// Settings of a run over local files.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Files and folders to read (folders recursively).
    pub inputs: Vec<PathBuf>,
    /// Decoder settings.
    pub decode: DecodeConfig,
    /// Lake writer settings.
    pub writer: LakeWriterConfig,
}

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
    /// What the lake writer wrote.
    pub lake: WriteStats,
    /// Wall time.
    pub elapsed: Duration,
}

impl RunSummary {
    /// One line for stderr.
    pub fn line(&self) -> String {
        format!(
            "files={} events={} rejected={} skipped={} failed={} already_in_lake={} alerts={} lake_files={} lake_rows={} seconds={:.2}",
            self.files,
            self.events,
            self.rejected,
            self.skipped,
            self.failed,
            self.already_ingested,
            self.alerts,
            self.lake.files,
            self.lake.rows,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Runs the pipeline over local files into the lake at `location`.
pub async fn run_files(
    config: &RunConfig,
    location: &LakeLocation,
    engine: &DetectionEngine,
    sink: &mut dyn AlertSink,
    counters: &Counters,
) -> Result<RunSummary> {
    let started = Instant::now();
    let discovered = discover(&config.inputs);
    for (path, reason) in &discovered.unreadable {
        counters.emit(InternalEvent::SourceFailed {
            uri: &path.display().to_string(),
            reason,
        });
    }
    let mut writer = LakeWriter::new(location.clone(), config.writer.clone());
    let mut deduplicator = Deduplicator::default();
    for source in &discovered.files {
        process_source(
            source,
            config,
            location,
            engine,
            &mut writer,
            &mut deduplicator,
            sink,
            counters,
        )
        .await?;
    }
    for alert in deduplicator.finish() {
        counters.emit(InternalEvent::AlertRaised {
            rule_id: &alert.rule_id,
        });
        sink.send(&alert)?;
    }
    sink.flush()?;
    let lake = writer.finish().await?;
    Ok(RunSummary {
        files: (discovered.files.len() + discovered.unreadable.len()) as u64,
        events: counters.events.load(Ordering::Relaxed),
        rejected: counters.records_quarantined.load(Ordering::Relaxed),
        skipped: counters.sources_skipped_total(),
        failed: counters.sources_failed.load(Ordering::Relaxed),
        already_ingested: counters.sources_already_ingested.load(Ordering::Relaxed),
        alerts: counters.alerts(),
        lake,
        elapsed: started.elapsed(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn process_source(
    source: &FileSource,
    config: &RunConfig,
    location: &LakeLocation,
    engine: &DetectionEngine,
    writer: &mut LakeWriter,
    deduplicator: &mut Deduplicator,
    sink: &mut dyn AlertSink,
    counters: &Counters,
) -> Result<()> {
    let uri = source.uri();
    if let Some(reason) = skip_by_path(&source.path) {
        counters.emit(InternalEvent::SourceSkipped {
            uri: &uri,
            reason: reason.name(),
        });
        return Ok(());
    }
    let id_source = source.clone();
    let source_id = match tokio::task::spawn_blocking(move || id_source.content_id()).await {
        Ok(Ok(id)) => id,
        Ok(Err(error)) => {
            counters.emit(InternalEvent::SourceFailed {
                uri: &uri,
                reason: &error.to_string(),
            });
            return Ok(());
        }
        Err(join_error) => {
            return Err(PipelineError::Input {
                path: source.path.clone(),
                source: join_error.into(),
            });
        }
    };
    let write_to_lake = match writer.begin_source(&source_id, &uri).await? {
        SourceStatus::New => true,
        SourceStatus::AlreadyIngested(_) => {
            counters.emit(InternalEvent::SourceAlreadyIngested { uri: &uri });
            false
        }
    };

    let (batches_tx, mut batches_rx) = mpsc::channel(2);
    let decode_source = source.clone();
    let decode_uri = uri.clone();
    let decode_config = config.decode.clone();
    let decoding = tokio::task::spawn_blocking(move || -> std::io::Result<DecodeReport> {
        let reader = decode_source.open()?;
        Ok(decode(reader, &decode_uri, &decode_config, |batch| {
            batches_tx.blocking_send(batch).is_ok()
        }))
    });
    while let Some(batch) = batches_rx.recv().await {
        for matches in engine.evaluate(&batch)? {
            for hit in Hit::from_matches(matches) {
                if hit.is_deduplicated() {
                    deduplicator.add(hit);
                } else {
                    let alert = single_alert(&hit);
                    counters.emit(InternalEvent::AlertRaised {
                        rule_id: &alert.rule_id,
                    });
                    sink.send(&alert)?;
                }
            }
        }
        if write_to_lake {
            writer.write(&source_id, &batch).await?;
        }
    }
    let report = match decoding.await {
        Ok(Ok(report)) => report,
        Ok(Err(error)) => {
            counters.emit(InternalEvent::SourceFailed {
                uri: &uri,
                reason: &format!("cannot open: {error}"),
            });
            return Ok(());
        }
        Err(join_error) => {
            return Err(PipelineError::Input {
                path: source.path.clone(),
                source: join_error.into(),
            });
        }
    };
    record_report(&report, &uri, &source_id, location, counters).await?;
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
        counters.emit(InternalEvent::SourceSkipped {
            uri,
            reason: reason.name(),
        });
        return Ok(());
    }
    counters.emit(InternalEvent::SourceDecoded {
        uri,
        records: report.records,
        bytes: report.bytes,
    });
    if report.insight_records > 0 {
        counters.emit(InternalEvent::InsightRecordsSkipped {
            uri,
            count: report.insight_records,
        });
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
        counters.emit(InternalEvent::SourceFailed {
            uri,
            reason: &reason,
        });
    }
    Ok(())
}
