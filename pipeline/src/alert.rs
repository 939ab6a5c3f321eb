//! Alerts: what a rule match becomes, with a deterministic id, and the deduplication that
//! folds repeated matches of the same activity into one alert.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::TimestampMillisecondType;
use chrono::{DateTime, SecondsFormat};
use lake::record_json::row_to_json;
use lake::schema::EVENT_TS;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use xxhash_rust::xxh3::Xxh3;

use crate::detect::{Rule, RuleMatches, Severity};

/// Full records kept in an alert's `events`; `event_ids` and `count` always cover all of them.
pub const MAX_EVENTS_PER_ALERT: usize = 10;

/// MITRE ATT&CK references of an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mitre {
    /// Tactic ids.
    pub tactics: Vec<String>,
    /// Technique ids.
    pub techniques: Vec<String>,
}

/// An alert, as written to sinks (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic id: the same events and rule always give the same id.
    pub alert_id: String,
    /// Id of the rule that fired.
    pub rule_id: String,
    /// Rule title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// ATT&CK tactics and techniques.
    pub mitre: Mitre,
    /// The rule's dedup key value, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// CloudTrail eventIDs of every matching event, in event-time order.
    pub event_ids: Vec<String>,
    /// Event time of the first matching event (RFC 3339, UTC).
    pub first_event_time: String,
    /// Event time of the last matching event.
    pub last_event_time: String,
    /// Number of matching events.
    pub count: u64,
    /// Who acted: the principal ARN, or the best identifier CloudTrail gives.
    pub actor: Option<String>,
    /// Account the event was recorded in.
    pub account: Option<String>,
    /// Region of the call.
    pub region: Option<String>,
    /// Caller IP address or service.
    pub source_ip: Option<String>,
    /// The rule's runbook line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// Values the rule selected, when it selects more than `*` (from the first event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Map<String, Value>>,
    /// The matching CloudTrail records (the first [`MAX_EVENTS_PER_ALERT`]).
    pub events: Vec<Map<String, Value>>,
}

/// One matching event, before it becomes (part of) an alert.
#[derive(Debug, Clone)]
pub struct Hit {
    rule: Arc<Rule>,
    dedup_key: Option<String>,
    event_millis: i64,
    event_id: String,
    record: Map<String, Value>,
    fields: Option<Map<String, Value>>,
}

impl Hit {
    /// The hits of one rule's matches in a batch.
    pub fn from_matches(matches: RuleMatches) -> Vec<Hit> {
        let RuleMatches {
            rule,
            rows,
            dedup_keys,
            fields,
        } = matches;
        let times = event_times(&rows);
        let mut fields = fields.map(Vec::into_iter);
        (0..rows.num_rows())
            .map(|row| {
                let record = row_to_json(&rows, row);
                let event_id = record
                    .get("eventID")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| content_id(&record));
                Hit {
                    rule: rule.clone(),
                    dedup_key: dedup_keys.as_ref().map(|keys| keys[row].clone()),
                    event_millis: times[row],
                    event_id,
                    record,
                    fields: fields.as_mut().and_then(Iterator::next),
                }
            })
            .collect()
    }

    /// Whether this hit waits for deduplication rather than alerting at once.
    pub fn is_deduplicated(&self) -> bool {
        self.rule.dedup_period.is_some()
    }
}

fn event_times(rows: &RecordBatch) -> Vec<i64> {
    rows.column_by_name(EVENT_TS)
        .expect("lake batches carry event_ts")
        .as_primitive::<TimestampMillisecondType>()
        .values()
        .to_vec()
}

/// An id for a record without an eventID: a hash of its content.
fn content_id(record: &Map<String, Value>) -> String {
    let text = serde_json::to_string(record).expect("records serialise");
    format!(
        "content-{:032x}",
        xxhash_rust::xxh3::xxh3_128(text.as_bytes())
    )
}

/// RFC 3339 in UTC with milliseconds.
pub fn format_millis(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn identity_str<'a>(record: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let mut value = record.get(path[0])?;
    for step in &path[1..] {
        value = value.get(step)?;
    }
    value.as_str()
}

/// Builds the alert of `hits` (same rule, sorted by event time, at least one).
fn alert_of(hits: &[Hit]) -> Alert {
    let first = &hits[0];
    let last = &hits[hits.len() - 1];
    let rule = &first.rule;
    let mut hasher = Xxh3::new();
    for part in [
        rule.meta.id.as_str(),
        first.dedup_key.as_deref().unwrap_or(""),
        first.event_id.as_str(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    let record = &first.record;
    let actor = ["arn", "principalId", "invokedBy", "userName", "type"]
        .iter()
        .find_map(|member| identity_str(record, &["userIdentity", member]))
        .map(str::to_string);
    let account = identity_str(record, &["recipientAccountId"])
        .or_else(|| identity_str(record, &["userIdentity", "accountId"]))
        .map(str::to_string);
    Alert {
        alert_id: format!("{:032x}", hasher.digest128()),
        rule_id: rule.meta.id.clone(),
        title: rule.meta.title.clone(),
        severity: rule.meta.severity,
        mitre: Mitre {
            tactics: rule.meta.tactics.clone(),
            techniques: rule.meta.techniques.clone(),
        },
        dedup_key: first.dedup_key.clone(),
        event_ids: hits.iter().map(|hit| hit.event_id.clone()).collect(),
        first_event_time: format_millis(first.event_millis),
        last_event_time: format_millis(last.event_millis),
        count: hits.len() as u64,
        actor,
        account,
        region: identity_str(record, &["awsRegion"]).map(str::to_string),
        source_ip: identity_str(record, &["sourceIPAddress"]).map(str::to_string),
        runbook: rule.meta.runbook.clone(),
        fields: first.fields.clone(),
        events: hits
            .iter()
            .take(MAX_EVENTS_PER_ALERT)
            .map(|hit| hit.record.clone())
            .collect(),
    }
}

/// The alert of a single hit of a rule without deduplication.
pub fn single_alert(hit: &Hit) -> Alert {
    alert_of(std::slice::from_ref(hit))
}

/// Folds the hits of rules with a dedup key and period into alerts: hits are ordered by event
/// time (then event id, so input order never matters); the first hit of a key opens an alert,
/// hits within the period after it join it, and the first hit after the period opens the next.
#[derive(Debug, Default)]
pub struct Deduplicator {
    pending: BTreeMap<(String, String), Vec<Hit>>,
}

impl Deduplicator {
    /// Holds a hit of a deduplicated rule.
    pub fn add(&mut self, hit: Hit) {
        let key = (
            hit.rule.meta.id.clone(),
            hit.dedup_key.clone().unwrap_or_default(),
        );
        self.pending.entry(key).or_default().push(hit);
    }

    /// Every held hit as alerts (at the end of the input).
    pub fn finish(self) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for (_, mut hits) in self.pending {
            hits.sort_by(|a, b| (a.event_millis, &a.event_id).cmp(&(b.event_millis, &b.event_id)));
            hits.dedup_by(|a, b| a.event_id == b.event_id);
            let period = hits[0]
                .rule
                .dedup_period
                .map_or(0, |period| period.as_millis() as i64);
            let mut start = 0;
            for index in 1..=hits.len() {
                if index == hits.len()
                    || hits[index].event_millis >= hits[start].event_millis + period
                {
                    alerts.push(alert_of(&hits[start..index]));
                    start = index;
                }
            }
        }
        alerts.sort_by(|a, b| {
            (&a.first_event_time, &a.rule_id, &a.alert_id).cmp(&(
                &b.first_event_time,
                &b.rule_id,
                &b.alert_id,
            ))
        });
        alerts
    }
}
