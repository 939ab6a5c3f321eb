//! The per-batch processing shared by every mode (local files, tests, and later the queue):
//! detections, exceptions, deduplication and correlations, driven by an event-time watermark.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use lake::schema::event_times;
use serde::{Deserialize, Serialize};

use crate::alert::{
    Alert, Deduplicator, EventContext, Hit, format_millis, single_alert, sort_alerts,
};
use crate::correlate::{CorrelationEngine, CorrelationStats};
use crate::detect::{DetectionEngine, RuleMatches, RulePack};
use crate::error::Result;
use crate::exceptions::{ExceptionInfo, ExceptionSet};

/// Default allowed lateness: CloudTrail delivers files 5 to 15 minutes after the events.
pub const DEFAULT_LATENESS: Duration = Duration::from_secs(15 * 60);

/// How often, at most, old entries are pruned from the applied sources (wall clock), so
/// that marking a source costs no pass over all of them.
const PRUNE_INTERVAL_MS: i64 = 60_000;

/// How long the state remembers which sources it has applied: longer than any redelivery
/// (a visibility timeout) or duplicated notification, short enough to keep the state small.
pub const APPLIED_RETENTION: Duration = Duration::from_secs(3600);

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

/// What survives a restart, and what workers sharing a queue share: the watermark,
/// correlation state, the hits held for deduplication and recent immediate alerts.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Newest event time seen, ms (the watermark trails it by the lateness).
    #[serde(default)]
    pub max_event_ms: Option<i64>,
    /// Correlation engine state.
    pub correlations: crate::correlate::EngineState,
    /// Hits waiting for the watermark or in an open dedup period.
    pub dedup: Vec<crate::alert::HeldHit>,
    /// (rule id, eventID, event time ms) of recent matches: a record delivered twice alerts
    /// once.
    #[serde(default)]
    pub alerted: Vec<(String, String, i64)>,
    /// Sources whose events this state has seen, with the wall-clock time (ms) they were
    /// applied: a redelivered or duplicated source is skipped instead of counted twice.
    #[serde(default)]
    pub applied: BTreeMap<String, i64>,
    /// Alerts committed with this state but not yet confirmed handed to the sink, so a crash
    /// between the commit and the hand-off loses none (see `sources::sqs`).
    #[serde(default)]
    pub outbox: Vec<crate::alert::PendingAlert>,
}

/// A [`Checkpoint`] of a processor by reference, for writing: the correlation state (with the
/// records its windows hold) can be most of a run's memory, and is not copied.
#[derive(Debug, Serialize)]
pub struct CheckpointView<'a> {
    max_event_ms: Option<i64>,
    correlations: &'a crate::correlate::EngineState,
    dedup: Vec<crate::alert::HeldHit>,
    alerted: Vec<(String, String, i64)>,
    applied: &'a BTreeMap<String, i64>,
    outbox: &'a [crate::alert::PendingAlert],
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
    /// Suppressed matches not yet taken, with their positions in the batch processed.
    suppressed: Vec<(u32, SuppressedMatch)>,
    suppressed_total: u64,
    /// (rule, eventID) of recent matches, with the event time.
    alerted: HashMap<(String, String), i64>,
    /// Sources applied to this state, with the wall-clock time.
    applied: BTreeMap<String, i64>,
    /// When `applied` was last pruned (wall clock): pruning every source would cost a pass
    /// over all of them per source.
    applied_pruned_at: i64,
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
            applied: BTreeMap::new(),
            applied_pruned_at: 0,
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

    /// The state a checkpoint keeps (correlation state and the hits held for deduplication)
    /// with `outbox`, serialised as a [`Checkpoint`] without copying the correlation state.
    /// The evidence of the signals held is rendered first, once for all later checkpoints.
    pub fn checkpoint<'a>(
        &'a mut self,
        outbox: &'a [crate::alert::PendingAlert],
    ) -> CheckpointView<'a> {
        self.correlations.render_held_evidence();
        let mut alerted: Vec<(String, String, i64)> = self
            .alerted
            .iter()
            .map(|((rule, event), time)| (rule.clone(), event.clone(), *time))
            .collect();
        alerted.sort();
        CheckpointView {
            max_event_ms: self.max_event_ms,
            correlations: self.correlations.state(),
            dedup: self.deduplicator.snapshot(),
            alerted,
            applied: &self.applied,
            outbox,
        }
    }

    /// Whether this state has already seen the events of `source_id`.
    pub fn has_applied(&self, source_id: &str) -> bool {
        self.applied.contains_key(source_id)
    }

    /// Records that all of `source_id`'s events went through this state; forgets sources
    /// applied longer than [`APPLIED_RETENTION`] ago.
    pub fn mark_applied(&mut self, source_id: &str) {
        let now = chrono::Utc::now().timestamp_millis();
        if now - self.applied_pruned_at >= PRUNE_INTERVAL_MS {
            let horizon = now - APPLIED_RETENTION.as_millis() as i64;
            self.applied.retain(|_, applied_at| *applied_at >= horizon);
            self.applied_pruned_at = now;
        }
        self.applied.insert(source_id.to_string(), now);
    }

    /// Replaces the state with a checkpoint taken by [`Processor::checkpoint`] (its outbox
    /// is the caller's business).
    pub fn restore(&mut self, checkpoint: Checkpoint) {
        self.max_event_ms = checkpoint.max_event_ms;
        self.correlations.restore(checkpoint.correlations);
        let rules: HashMap<String, Arc<crate::detect::Rule>> =
            self.detections.rules().map(|rule| (rule.meta.id.clone(), rule.clone())).collect();
        self.deduplicator = Deduplicator::default();
        self.deduplicator.restore(checkpoint.dedup, &rules);
        self.alerted = checkpoint
            .alerted
            .into_iter()
            .map(|(rule, event, time)| ((rule, event), time))
            .collect();
        self.applied = checkpoint.applied;
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
        std::mem::take(&mut self.suppressed).into_iter().map(|(_, suppressed)| suppressed).collect()
    }

    /// Suppressed matches of the one batch processed since the last call, split by the rows
    /// they came from: part `i` holds the matches of rows `ends[i - 1]..ends[i]` (the batch
    /// joined the rows of several sources).
    pub fn take_suppressed_by_rows(&mut self, ends: &[usize]) -> Vec<Vec<SuppressedMatch>> {
        let mut parts: Vec<Vec<SuppressedMatch>> = vec![Vec::new(); ends.len()];
        for (position, suppressed) in std::mem::take(&mut self.suppressed) {
            parts[ends.partition_point(|end| *end <= position as usize)].push(suppressed);
        }
        parts
    }

    /// Runs every rule on `batch`; returns the alerts that are ready (immediate detections,
    /// dedup periods and correlation windows the watermark has closed).
    pub fn process(&mut self, batch: &RecordBatch) -> Result<Vec<Alert>> {
        let times = event_times(batch);
        if let Some(watermark) = self.watermark() {
            self.late_events += times.iter().filter(|time| **time < watermark).count() as u64;
        }
        if let Some(newest) = times.iter().max() {
            self.max_event_ms = Some(self.max_event_ms.map_or(*newest, |max| max.max(*newest)));
        }
        let mut alerts = Vec::new();
        for matches in self.detections.evaluate(batch)? {
            let matches = self.apply_exceptions(matches)?;
            if matches.is_empty() {
                continue;
            }
            if self.correlations.consumes(&matches.rule.meta.id) {
                self.correlations.observe(&matches)?;
            }
            if matches.rule.meta.signal_only {
                continue;
            }
            for hit in Hit::from_matches(&matches)? {
                // A CloudTrail record delivered twice (by two trails, or a replayed file)
                // alerts once, even after its dedup period was emitted.
                let key = (hit.rule.meta.id.clone(), hit.event_id.clone());
                if self.alerted.insert(key, hit.event_millis).is_some() {
                    continue;
                }
                if hit.is_deduplicated() {
                    self.deduplicator.add(hit);
                } else {
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
        let today = chrono::Utc::now().date_naive();
        if !self.exceptions.covers(&matches.rule.meta.id, today) {
            return Ok(matches);
        }
        let verdicts =
            self.exceptions.suppressions(&matches.rule.meta.id, matches.rows()?, today)?;
        if verdicts.iter().all(Option::is_none) {
            return Ok(matches);
        }
        let hits = Hit::from_matches(&matches)?;
        for ((hit, verdict), position) in hits.iter().zip(&verdicts).zip(&matches.positions) {
            if let Some(index) = verdict {
                self.suppressed_total += 1;
                self.suppressed.push((
                    *position,
                    SuppressedMatch {
                        rule_id: matches.rule.meta.id.clone(),
                        event_id: hit.event_id.clone(),
                        event_time: format_millis(hit.event_millis),
                        context: EventContext::of(&hit.record),
                        exception: self.exceptions.describe(*index),
                    },
                ));
            }
        }
        let keep: Vec<bool> = verdicts.iter().map(Option::is_none).collect();
        matches.subset(&keep)
    }
}
