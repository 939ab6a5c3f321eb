//! `trailhound backtest`: replays the lake through the streaming code path (detections,
//! exceptions, deduplication, correlations), an hour partition at a time in event-time
//! order, and reports what each rule would have raised. No sink receives anything.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use futures::StreamExt;
use lake::LakeLocation;
use lake::location::EVENTS_TABLE_DIR;
use lake::schema::cloudtrail_schema;
use lake::table::TimeRange;
use lake::writer::Partition;

use crate::alert::Alert;
use crate::error::{PipelineError, Result};
use crate::hunt::{lake_session, query_error};
use crate::process::Processor;

/// What one rule pack raised over the replayed events.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PackResult {
    /// Alerts, in the order the pipeline emitted them.
    pub alerts: Vec<Alert>,
    /// Alerts per rule id.
    pub fires: BTreeMap<String, u64>,
}

/// What a backtest replayed and what each pack raised.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestReport {
    /// Events replayed.
    pub events: u64,
    /// Hour partitions replayed.
    pub partitions: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// One result per processor, in the order given.
    pub results: Vec<PackResult>,
}

impl BacktestReport {
    /// Events replayed per second of wall time.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Replays the events of `range` through every processor (each a rule pack), keeping only
/// alerts of `rules` when it is not empty.
pub async fn backtest(
    location: &LakeLocation,
    range: TimeRange,
    processors: &mut [Processor],
    rules: &BTreeSet<String>,
) -> Result<BacktestReport> {
    let started = Instant::now();
    let ctx = lake_session(location, range, Arc::new(AtomicU64::new(0))).await?;
    let schema = cloudtrail_schema();
    let columns: Vec<String> =
        schema.fields().iter().map(|field| format!("\"{}\"", field.name())).collect();
    let mut results = vec![PackResult::default(); processors.len()];
    let mut events = 0;
    let partitions = partitions_in(location, range).await?;
    for partition in &partitions {
        // One hour at a time keeps the sort small; hours follow each other in time.
        let sql = format!(
            "SELECT {} FROM cloudtrail WHERE dt = '{}' AND hour = '{:02}' \
             ORDER BY event_ts, source_uri, source_record",
            columns.join(", "),
            partition.date(),
            partition.hour()
        );
        let frame = ctx.sql(&sql).await.map_err(|error| query_error("backtest", &error))?;
        let mut batches =
            frame.execute_stream().await.map_err(|error| query_error("backtest", &error))?;
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(|error| query_error("backtest", &error))?;
            // The lake's own schema, exactly as the decoder produces it for streaming.
            let batch = RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
                .map_err(|source| PipelineError::Arrow { context: "replaying the lake", source })?;
            events += batch.num_rows() as u64;
            for (processor, result) in processors.iter_mut().zip(&mut results) {
                keep(result, processor.process(&batch)?, rules);
            }
        }
    }
    for (processor, result) in processors.iter_mut().zip(&mut results) {
        keep(result, processor.finish(), rules);
    }
    Ok(BacktestReport {
        events,
        partitions: partitions.len() as u64,
        elapsed: started.elapsed(),
        results,
    })
}

fn keep(result: &mut PackResult, alerts: Vec<Alert>, rules: &BTreeSet<String>) {
    for alert in alerts {
        if rules.is_empty() || rules.contains(&alert.rule_id) {
            *result.fires.entry(alert.rule_id.clone()).or_default() += 1;
            result.alerts.push(alert);
        }
    }
}

/// The hour partitions of the events table that overlap `range`, in time order.
async fn partitions_in(location: &LakeLocation, range: TimeRange) -> Result<Vec<Partition>> {
    let objects = location.list(EVENTS_TABLE_DIR).await?;
    let partitions: BTreeSet<Partition> = objects
        .iter()
        .filter(|object| object.location.as_ref().ends_with(".parquet"))
        .filter_map(|object| Partition::from_path(object.location.as_ref()))
        .filter(|partition| range.overlaps(*partition))
        .collect();
    Ok(partitions.into_iter().collect())
}

/// The per-rule comparison of two packs' fires: rule, fires with `rules`, fires with
/// `compare`, and the alerts raised by only one of them.
pub fn comparison(rules: &PackResult, compare: &PackResult) -> String {
    let ids = |result: &PackResult, rule: &str| -> BTreeSet<String> {
        result
            .alerts
            .iter()
            .filter(|alert| alert.rule_id == rule)
            .map(|alert| alert.alert_id.clone())
            .collect()
    };
    let all: BTreeSet<&String> = rules.fires.keys().chain(compare.fires.keys()).collect();
    let mut text = String::from("rule\trules\tcompare\tchange\tonly_rules\tonly_compare\n");
    for rule in all {
        let (mine, theirs) = (ids(rules, rule), ids(compare, rule));
        let (a, b) = (mine.len() as i64, theirs.len() as i64);
        text.push_str(&format!(
            "{rule}\t{a}\t{b}\t{:+}\t{}\t{}\n",
            a - b,
            mine.difference(&theirs).count(),
            theirs.difference(&mine).count()
        ));
    }
    text
}
