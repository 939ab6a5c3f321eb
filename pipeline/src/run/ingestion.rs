//! Ingestion: started sources run through the processor and into the lake, in order, small
//! ones held and processed together.

use std::time::Instant;

use arrow::array::BooleanArray;
use arrow::array::RecordBatch;
use arrow::compute::{concat_batches, filter_record_batch};
use lake::quarantine::write_quarantine;
use lake::schema::event_times;
use lake::{LakeLocation, LakeWriter, LedgerEntry, SourceStatus};
use object_store::{ObjectStoreExt, PutPayload};
use tokio::task::JoinHandle;

use crate::alert::Alert;
use crate::decode::DecodeReport;
use crate::error::{PipelineError, Result};
use crate::internal_events::{Counters, InternalEvent};
use crate::process::{Processor, SuppressedMatch};

use super::start::{DecodedChunk, GroupMember, MemberOutcome, StartedSource};

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
        let mut alerts =
            if alone && !self.held.is_empty() { self.flush().await? } else { Vec::new() };
        // Rows to keep, once a member is not admitted: its rows are dropped from the batch.
        let mut kept: Option<Vec<bool>> = None;
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
            let ledger_entry = match ledger_entry {
                Some(lookup) => lookup.await.map_err(|join_error| PipelineError::Input {
                    path: uri.clone().into(),
                    source: join_error.into(),
                })??,
                None => None,
            };
            match self.admit(&uri, &source_id, ledger_entry) {
                Some(write_to_lake) => {
                    record_report(&report, &uri, &source_id, self.location, self.counters).await?;
                    self.held.push(HeldSource { source_id, rows, write_to_lake });
                }
                None => kept.get_or_insert_with(|| vec![true; chunk_rows])[start..start + rows]
                    .fill(false),
            }
            start += rows;
        }
        if let Some(batch) = batch {
            let batch = match kept {
                None => batch,
                Some(kept) => {
                    let kept = BooleanArray::from(kept);
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
        let joined = self.writer.share(joined);
        let mut start = 0;
        for (source, suppressed) in held.into_iter().zip(suppressed) {
            if source.write_to_lake && source.rows > 0 {
                let rows = start..start + source.rows;
                self.writer.write_shared(&source.source_id, &joined, rows).await?;
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
    event_times(batch).iter().max().copied()
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
