//! Seeds `new_terms` histories from the lake, so a first start (or a new rule) does not
//! treat everything already in the lake as new.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimestampMillisecondType};
use datafusion::prelude::SessionContext;
use lake::LakeLocation;
use lake::table::LakeTables;

use super::{CorrelationEngine, CorrelationKind};
use crate::detect::Rule;
use crate::error::{PipelineError, Result};

/// For every `new_terms` correlation fed by detection rules, runs those rules over the lake
/// and seeds the correlation with each value tuple's last time seen and the earliest event.
/// Returns how many tuples were seeded.
pub async fn seed_new_terms_from_lake(
    engine: &mut CorrelationEngine,
    detections: &[Arc<Rule>],
    location: &LakeLocation,
) -> Result<u64> {
    let targets: Vec<(String, Vec<String>, Vec<Arc<Rule>>)> = engine
        .rules()
        .filter(|rule| rule.spec.kind == CorrelationKind::NewTerms)
        .map(|rule| {
            let sources = detections
                .iter()
                .filter(|detection| {
                    rule.spec.rules.contains(&detection.meta.id) && detection.selects_all
                })
                .cloned()
                .collect();
            (rule.meta.id.clone(), rule.spec.fields.clone(), sources)
        })
        .collect();
    if targets.iter().all(|(_, _, sources)| sources.is_empty()) {
        return Ok(0);
    }
    let ctx = SessionContext::new();
    lake::functions::register_all(&ctx);
    LakeTables::new(location.clone()).register(&ctx).await?;
    let mut seeded = 0;
    for (correlation_id, fields, sources) in targets {
        let failed =
            |source| PipelineError::RuleEvaluation { rule_id: correlation_id.clone(), source };
        let mut tuples = Vec::new();
        let mut earliest: Option<i64> = None;
        for source in sources {
            let keys: Vec<String> =
                fields.iter().enumerate().map(|(i, field)| format!("{field} AS k{i}")).collect();
            let group: Vec<String> = (1..=fields.len()).map(|i| i.to_string()).collect();
            let sql = format!(
                "SELECT {}, max(event_ts) AS last_seen, min(event_ts) AS first_seen FROM ({}) AS signals GROUP BY {}",
                keys.join(", "),
                source.sql,
                group.join(", ")
            );
            let batches = ctx.sql(&sql).await.map_err(failed)?.collect().await.map_err(failed)?;
            for batch in batches {
                let key_columns = (0..fields.len())
                    .map(|i| cast(batch.column(i), &DataType::Utf8))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|source| PipelineError::Arrow {
                        context: "reading new_terms history",
                        source,
                    })?;
                let last = batch.column(fields.len()).as_primitive::<TimestampMillisecondType>();
                let first =
                    batch.column(fields.len() + 1).as_primitive::<TimestampMillisecondType>();
                for row in 0..batch.num_rows() {
                    if key_columns.iter().any(|column| column.is_null(row)) {
                        continue;
                    }
                    let tuple: Vec<&str> = key_columns
                        .iter()
                        .map(|column| column.as_string::<i32>().value(row))
                        .collect();
                    tuples.push((tuple.join("\u{1f}"), last.value(row)));
                    earliest = Some(earliest.map_or(first.value(row), |e| e.min(first.value(row))));
                }
            }
        }
        seeded += tuples.len() as u64;
        engine.seed_history(&correlation_id, tuples, earliest);
    }
    Ok(seeded)
}
