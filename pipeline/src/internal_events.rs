//! Every internal event of the pipeline is logged and counted here, in one place, so logs,
//! the run summary and (later) metrics always agree.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Something that happened while processing.
#[derive(Debug)]
pub enum InternalEvent<'a> {
    /// A source was decoded (possibly with quarantined records).
    SourceDecoded { uri: &'a str, records: u64, bytes: u64 },
    /// A whole source was skipped on purpose (digest, Insights).
    SourceSkipped { uri: &'a str, reason: &'static str },
    /// A source could not be read at all, or stopped early; what was read is kept.
    SourceFailed { uri: &'a str, reason: &'a str },
    /// A source's rows were already in the lake: not written again.
    SourceAlreadyIngested { uri: &'a str },
    /// A source's events were already applied to the processing state: skipped whole.
    SourceAlreadyApplied { uri: &'a str },
    /// Records that could not be decoded were quarantined.
    RecordsQuarantined { uri: &'a str, count: u64, first_reason: &'a str, quarantine: &'a str },
    /// Insights records were skipped.
    InsightRecordsSkipped { uri: &'a str, count: u64 },
    /// A rule raised an alert.
    AlertRaised { rule_id: &'a str },
    /// A batch went through detection and into the lake buffers.
    BatchProcessed { rows: u64, newest_event_ms: Option<i64>, elapsed: Duration },
    /// A sink refused an alert.
    SinkFailed { sink: &'a str, reason: &'a str },
    /// A sink's receiver confirmed an alert, after `retries` retries.
    SinkDelivered { sink: &'a str, retries: u32 },
    /// A sink's receiver refused an alert for good: it went to the dead-letter folder.
    SinkDeadLettered { sink: &'a str, alert_id: &'a str, reason: &'a str },
    /// After a flush, `depth` alerts wait in a sink's outbox.
    SinkQueueDepth { sink: &'a str, depth: u64 },
    /// SQS messages were received.
    MessagesReceived { count: u64 },
    /// An SQS message was deleted once its work was durable.
    MessageDeleted,
    /// SQS messages received as the worker stopped were made visible again, not handled.
    MessagesReleased { count: u64 },
    /// An SQS message could not be understood: left to the redrive policy.
    MessageRejected { id: &'a str, reason: &'a str },
    /// Another worker committed the shared state first: the batch is redone.
    StateConflict,
}

/// Upper bounds (seconds) of the batch latency histogram buckets.
pub const BATCH_SECONDS_BUCKETS: [f64; 8] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Counters of the internal events.
#[derive(Debug, Default)]
pub struct Counters {
    /// Sources decoded.
    pub sources_decoded: AtomicU64,
    /// Sources skipped, by reason.
    pub sources_skipped: Mutex<BTreeMap<&'static str, u64>>,
    /// Sources that failed (fully or partly).
    pub sources_failed: AtomicU64,
    /// Sources already in the lake.
    pub sources_already_ingested: AtomicU64,
    /// Sources skipped whole because the state had already applied them.
    pub sources_already_applied: AtomicU64,
    /// Records decoded.
    pub events: AtomicU64,
    /// Decompressed bytes read.
    pub bytes: AtomicU64,
    /// Records quarantined.
    pub records_quarantined: AtomicU64,
    /// Insights records skipped.
    pub insight_records: AtomicU64,
    /// Alerts, by rule id.
    pub alerts_by_rule: Mutex<BTreeMap<String, u64>>,
    /// Batches processed.
    pub batches: AtomicU64,
    /// Batch latencies: count per [`BATCH_SECONDS_BUCKETS`] bucket (not cumulative), then
    /// the overflow bucket.
    pub batch_seconds_buckets: [AtomicU64; BATCH_SECONDS_BUCKETS.len() + 1],
    /// Sum of batch latencies, microseconds.
    pub batch_micros_sum: AtomicU64,
    /// Newest event time processed, ms since the epoch (0: none yet).
    pub newest_event_ms: AtomicI64,
    /// Sink failures, by sink.
    pub sink_failures: Mutex<BTreeMap<String, u64>>,
    /// Alerts confirmed, by sink.
    pub sink_sent: Mutex<BTreeMap<String, u64>>,
    /// Delivery retries, by sink.
    pub sink_retries: Mutex<BTreeMap<String, u64>>,
    /// Alerts dead-lettered, by sink.
    pub sink_dead_lettered: Mutex<BTreeMap<String, u64>>,
    /// Alerts waiting in each sink's outbox after its last flush.
    pub sink_queue_depth: Mutex<BTreeMap<String, u64>>,
    /// SQS messages received.
    pub messages_received: AtomicU64,
    /// SQS messages deleted.
    pub messages_deleted: AtomicU64,
    /// SQS messages made visible again, unhandled, as the worker stopped.
    pub messages_released: AtomicU64,
    /// SQS messages rejected (left for the dead-letter queue).
    pub messages_rejected: AtomicU64,
    /// Shared state commits lost to another worker.
    pub state_conflicts: AtomicU64,
}

impl Counters {
    /// Logs and counts `event`.
    pub fn emit(&self, event: InternalEvent<'_>) {
        match event {
            InternalEvent::SourceDecoded { uri, records, bytes } => {
                tracing::debug!(source = uri, records, bytes, "source decoded");
                self.sources_decoded.fetch_add(1, Ordering::Relaxed);
                self.events.fetch_add(records, Ordering::Relaxed);
                self.bytes.fetch_add(bytes, Ordering::Relaxed);
            }
            InternalEvent::SourceSkipped { uri, reason } => {
                tracing::info!(source = uri, reason, "source skipped");
                *self.sources_skipped.lock().expect("counter lock").entry(reason).or_default() += 1;
            }
            InternalEvent::SourceFailed { uri, reason } => {
                tracing::error!(source = uri, reason, "source failed");
                self.sources_failed.fetch_add(1, Ordering::Relaxed);
            }
            InternalEvent::SourceAlreadyIngested { uri } => {
                tracing::info!(source = uri, "source already in the lake: not written again");
                self.sources_already_ingested.fetch_add(1, Ordering::Relaxed);
            }
            InternalEvent::SourceAlreadyApplied { uri } => {
                tracing::info!(source = uri, "source already processed: skipped");
                self.sources_already_applied.fetch_add(1, Ordering::Relaxed);
            }
            InternalEvent::RecordsQuarantined { uri, count, first_reason, quarantine } => {
                tracing::warn!(
                    source = uri,
                    count,
                    reason = first_reason,
                    quarantine,
                    "records quarantined"
                );
                self.records_quarantined.fetch_add(count, Ordering::Relaxed);
            }
            InternalEvent::InsightRecordsSkipped { uri, count } => {
                tracing::info!(source = uri, count, "Insights records skipped");
                self.insight_records.fetch_add(count, Ordering::Relaxed);
            }
            InternalEvent::AlertRaised { rule_id } => {
                tracing::debug!(rule = rule_id, "alert raised");
                *self
                    .alerts_by_rule
                    .lock()
                    .expect("counter lock")
                    .entry(rule_id.to_string())
                    .or_default() += 1;
            }
            InternalEvent::BatchProcessed { rows, newest_event_ms, elapsed } => {
                tracing::trace!(rows, seconds = elapsed.as_secs_f64(), "batch processed");
                self.batches.fetch_add(1, Ordering::Relaxed);
                let seconds = elapsed.as_secs_f64();
                let bucket = BATCH_SECONDS_BUCKETS
                    .iter()
                    .position(|bound| seconds <= *bound)
                    .unwrap_or(BATCH_SECONDS_BUCKETS.len());
                self.batch_seconds_buckets[bucket].fetch_add(1, Ordering::Relaxed);
                self.batch_micros_sum.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
                if let Some(newest) = newest_event_ms {
                    self.newest_event_ms.fetch_max(newest, Ordering::Relaxed);
                }
            }
            InternalEvent::SinkFailed { sink, reason } => {
                tracing::error!(sink, reason, "alert sink failed");
                *self
                    .sink_failures
                    .lock()
                    .expect("counter lock")
                    .entry(sink.to_string())
                    .or_default() += 1;
            }
            InternalEvent::SinkDelivered { sink, retries } => {
                tracing::debug!(sink, retries, "alert delivered");
                let bump = |map: &Mutex<BTreeMap<String, u64>>, by: u64| {
                    *map.lock().expect("counter lock").entry(sink.to_string()).or_default() += by;
                };
                bump(&self.sink_sent, 1);
                bump(&self.sink_retries, u64::from(retries));
            }
            InternalEvent::SinkDeadLettered { sink, alert_id, reason } => {
                tracing::error!(
                    sink,
                    alert = alert_id,
                    reason,
                    "alert refused for good: dead-lettered"
                );
                *self
                    .sink_dead_lettered
                    .lock()
                    .expect("counter lock")
                    .entry(sink.to_string())
                    .or_default() += 1;
            }
            InternalEvent::SinkQueueDepth { sink, depth } => {
                if depth > 0 {
                    tracing::warn!(sink, depth, "alerts wait in the sink's outbox");
                }
                self.sink_queue_depth.lock().expect("counter lock").insert(sink.to_string(), depth);
            }
            InternalEvent::MessagesReceived { count } => {
                tracing::debug!(count, "messages received");
                self.messages_received.fetch_add(count, Ordering::Relaxed);
            }
            InternalEvent::MessageDeleted => {
                self.messages_deleted.fetch_add(1, Ordering::Relaxed);
            }
            InternalEvent::MessagesReleased { count } => {
                tracing::info!(count, "stopping: messages received but not handled released");
                self.messages_released.fetch_add(count, Ordering::Relaxed);
            }
            InternalEvent::MessageRejected { id, reason } => {
                tracing::error!(
                    message = id,
                    reason,
                    "message not understood: left to the queue's redrive policy"
                );
                self.messages_rejected.fetch_add(1, Ordering::Relaxed);
            }
            InternalEvent::StateConflict => {
                tracing::debug!("another worker committed the state first: redoing the batch");
                self.state_conflicts.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Alerts raised over all rules.
    pub fn alerts(&self) -> u64 {
        self.alerts_by_rule.lock().expect("counter lock").values().sum()
    }

    /// Sources skipped over all reasons.
    pub fn sources_skipped_total(&self) -> u64 {
        self.sources_skipped.lock().expect("counter lock").values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted() {
        let counters = Counters::default();
        counters.emit(InternalEvent::SourceDecoded { uri: "a", records: 3, bytes: 10 });
        counters.emit(InternalEvent::SourceSkipped { uri: "b", reason: "cloudtrail-digest" });
        counters.emit(InternalEvent::AlertRaised { rule_id: "r" });
        counters.emit(InternalEvent::AlertRaised { rule_id: "r" });
        assert_eq!(counters.events.load(Ordering::Relaxed), 3);
        assert_eq!(counters.sources_skipped_total(), 1);
        assert_eq!(counters.alerts(), 2);
    }
}
