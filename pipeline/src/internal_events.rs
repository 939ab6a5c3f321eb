//! Every internal event of the pipeline is logged and counted here, in one place, so logs,
//! the run summary and (later) metrics always agree.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Records that could not be decoded were quarantined.
    RecordsQuarantined { uri: &'a str, count: u64, first_reason: &'a str, quarantine: &'a str },
    /// Insights records were skipped.
    InsightRecordsSkipped { uri: &'a str, count: u64 },
    /// A rule raised an alert.
    AlertRaised { rule_id: &'a str },
}

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
