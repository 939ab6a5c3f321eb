//! The per-batch processing shared by every mode (local files, tests, and later the queue):
//! detections, exceptions, deduplication and correlations, driven by an event-time watermark.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::TimestampMillisecondType;
use lake::schema::EVENT_TS;
use serde::{Deserialize, Serialize};

use crate::alert::{
    Alert, Deduplicator, EventContext, Hit, format_millis, single_alert, sort_alerts,
};
use crate::correlate::{CorrelationEngine, CorrelationStats};
use crate::detect::{DetectionEngine, RuleMatches, RulePack};
use crate::error::{PipelineError, Result};
use crate::exceptions::{ExceptionInfo, ExceptionSet};

/// Default allowed lateness: CloudTrail delivers files 5 to 15 minutes after the events.
pub const DEFAULT_LATENESS: Duration = Duration::from_secs(15 * 60);

/// A match an exception suppressed: kept and counted, never silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressedMatch {
    /// Rule that matched.
    pub rule_id: String,
    /// The event.
    pub event_id: String,
    /// Its time (RFC 3339).
    pub event_time: String,
    /// Who, where.
    #[serde(flatten)]
    pub context: EventContext,
    /// The exception that applied.
    pub exception: ExceptionInfo,
}

/// What survives a restart: correlation state and the hits held for deduplication.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Correlation engine state.
    pub correlations: crate::correlate::EngineState,
    /// Hits waiting for the watermark or in an open dedup period.
    pub dedup: Vec<crate::alert::HeldHit>,
}

/// Counters of a processor.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcessStats {
    /// Events that arrived behind the watermark.
    pub late_events: u64,
    /// Matches suppressed by exceptions.
    pub suppressed: u64,
    /// Correlation engine counters.
    pub correlation: CorrelationStats,
}

/// Detections, exceptions, dedup and correlations over a stream of batches.
pub struct Processor {
    detections: Arc<DetectionEngine>,
    correlations: CorrelationEngine,
    exceptions: ExceptionSet,
    deduplicator: Deduplicator,
    lateness_ms: i64,
    max_event_ms: Option<i64>,
    late_events: u64,
    suppressed: Vec<SuppressedMatch>,
    suppressed_total: u64,
    /// (rule, eventID) of recent immediate alerts, with the event time.
    alerted: HashMap<(String, String), i64>,
}

impl Processor {
    /// A processor; `lateness` is how far behind the newest event time the watermark trails.
    pub fn new(
        detections: Arc<DetectionEngine>,
        correlations: CorrelationEngine,
        exceptions: ExceptionSet,
        lateness: Duration,
    ) -> Self {
        Self {
            detections,
            correlations,
            exceptions,
            deduplicator: Deduplicator::default(),
            lateness_ms: lateness.as_millis() as i64,
            max_event_ms: None,
            late_events: 0,
            suppressed: Vec::new(),
            suppressed_total: 0,
            alerted: HashMap::new(),
        }
    }

    /// Compiles a rule pack into a processor.
    pub async fn for_pack(
        pack: RulePack,
        exceptions: ExceptionSet,
        lateness: Duration,
    ) -> Result<Self> {
        let detections = Arc::new(DetectionEngine::compile(pack.detections.clone()).await?);
        let correlations = CorrelationEngine::compile(
            pack.correlations,
            &pack.detections,
            lateness.as_millis() as i64,
        )
        .await?;
        Ok(Self::new(detections, correlations, exceptions, lateness))
    }

    /// Seeds `new_terms` histories from the lake (first start, no checkpoint).
    pub async fn seed_from_lake(&mut self, location: &lake::LakeLocation) -> Result<u64> {
        let detections: Vec<Arc<crate::detect::Rule>> = self.detections.rules().cloned().collect();
        crate::correlate::bootstrap::seed_new_terms_from_lake(
            &mut self.correlations,
            &detections,
            location,
        )
        .await
    }

    /// The state a checkpoint keeps: correlation state and the hits held for deduplication.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            correlations: self.correlations.state().clone(),
            dedup: self.deduplicator.snapshot(),
        }
    }

    /// Restores a checkpoint taken by [`Processor::checkpoint`].
    pub fn restore(&mut self, checkpoint: Checkpoint) {
        self.correlations.restore(checkpoint.correlations);
        let rules: HashMap<String, Arc<crate::detect::Rule>> =
            self.detections.rules().map(|rule| (rule.meta.id.clone(), rule.clone())).collect();
        self.deduplicator.restore(checkpoint.dedup, &rules);
    }

    /// The correlation engine (for checkpoints and seeding).
    pub fn correlations(&mut self) -> &mut CorrelationEngine {
        &mut self.correlations
    }

    /// The current watermark: newest event time seen minus the allowed lateness.
    pub fn watermark(&self) -> Option<i64> {
        self.max_event_ms.map(|max| max - self.lateness_ms)
    }

    /// Counters so far.
    pub fn stats(&self) -> ProcessStats {
        ProcessStats {
            late_events: self.late_events,
            suppressed: self.suppressed_total,
            correlation: self.correlations.stats().clone(),
        }
    }

    /// Suppressed matches since the last call.
    pub fn take_suppressed(&mut self) -> Vec<SuppressedMatch> {
        std::mem::take(&mut self.suppressed)
    }

    /// Runs every rule on `batch`; returns the alerts that are ready (immediate detections,
    /// dedup periods and correlation windows the watermark has closed).
    pub fn process(&mut self, batch: &RecordBatch) -> Result<Vec<Alert>> {
        let times = batch
            .column_by_name(EVENT_TS)
            .expect("lake batches carry event_ts")
            .as_primitive::<TimestampMillisecondType>();
        if let Some(watermark) = self.watermark() {
            self.late_events +=
                times.values().iter().filter(|time| **time < watermark).count() as u64;
        }
        if let Some(newest) = times.values().iter().max() {
            self.max_event_ms = Some(self.max_event_ms.map_or(*newest, |max| max.max(*newest)));
        }
        let mut alerts = Vec::new();
        for matches in self.detections.evaluate(batch)? {
            let matches = self.apply_exceptions(matches)?;
            if matches.rows.num_rows() == 0 {
                continue;
            }
            let hits = Hit::from_matches(&matches);
            if self.correlations.consumes(&matches.rule.meta.id) {
                self.correlations.observe(&matches, &hits)?;
            }
            if matches.rule.meta.signal_only {
                continue;
            }
            for hit in hits {
                if hit.is_deduplicated() {
                    self.deduplicator.add(hit);
                } else if self
                    .alerted
                    .insert((hit.rule.meta.id.clone(), hit.event_id.clone()), hit.event_millis)
                    .is_none()
                {
                    // A CloudTrail record delivered twice (or by two trails) alerts once.
                    alerts.push(single_alert(&hit));
                }
            }
        }
        if let Some(watermark) = self.watermark() {
            // Duplicates arrive within the lateness; older entries can go.
            let horizon = watermark.saturating_sub(self.lateness_ms);
            self.alerted.retain(|_, time| *time >= horizon);
            alerts.extend(self.deduplicator.advance(watermark));
            alerts.extend(self.correlations.advance(watermark));
        }
        Ok(alerts)
    }

    /// Emits everything still held (end of input).
    pub fn finish(&mut self) -> Vec<Alert> {
        let mut alerts = std::mem::take(&mut self.deduplicator).finish();
        alerts.extend(self.correlations.finish());
        sort_alerts(&mut alerts);
        alerts
    }

    /// Removes the rows an exception suppresses, keeping a record of each.
    fn apply_exceptions(&mut self, matches: RuleMatches) -> Result<RuleMatches> {
        if self.exceptions.is_empty() {
            return Ok(matches);
        }
        let today = chrono::Utc::now().date_naive();
        let verdicts = self.exceptions.suppressions(&matches.rule.meta.id, &matches.rows, today)?;
        if verdicts.iter().all(Option::is_none) {
            return Ok(matches);
        }
        let hits = Hit::from_matches(&matches);
        for (hit, verdict) in hits.iter().zip(&verdicts) {
            if let Some(index) = verdict {
                self.suppressed_total += 1;
                self.suppressed.push(SuppressedMatch {
                    rule_id: matches.rule.meta.id.clone(),
                    event_id: hit.event_id.clone(),
                    event_time: format_millis(hit.event_millis),
                    context: EventContext::of(&hit.record),
                    exception: self.exceptions.describe(*index),
                });
            }
        }
        let keep: Vec<bool> = verdicts.iter().map(Option::is_none).collect();
        let mask = BooleanArray::from(keep.clone());
        let rows = filter_record_batch(&matches.rows, &mask).map_err(|source| {
            PipelineError::Arrow { context: "removing suppressed matches", source }
        })?;
        Ok(RuleMatches {
            rule: matches.rule,
            rows,
            dedup_keys: matches.dedup_keys.map(|keys| kept(keys, &keep)),
            fields: matches.fields.map(|fields| kept(fields, &keep)),
        })
    }
}

/// The values whose flag in `keep` is set.
fn kept<T>(values: Vec<T>, keep: &[bool]) -> Vec<T> {
    values.into_iter().zip(keep).filter(|(_, kept)| **kept).map(|(value, _)| value).collect()
}
