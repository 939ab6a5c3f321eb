//! Alerts: what a rule match becomes, with a deterministic id, and the deduplication that
//! folds repeated matches of the same activity into one alert.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat};
use lake::record_json::RecordRenderer;
use lake::schema::event_times;
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

impl Mitre {
    /// The tactics and techniques a rule declares.
    pub fn of(meta: &crate::detect::rule::RuleMeta) -> Self {
        Self { tactics: meta.tactics.clone(), techniques: meta.techniques.clone() }
    }
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
    /// What local enrichment added (only when enrichment is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<crate::enrich::Enrichment>,
}

/// An alert committed with the shared state and not yet confirmed handed to the sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingAlert {
    /// The worker that committed it and hands it off.
    pub owner: String,
    /// Wall-clock commit time, ms since the epoch: once it is older than the takeover delay,
    /// its owner is presumed dead and another worker hands it off.
    pub committed_at_ms: i64,
    /// The alert.
    pub alert: Alert,
}

/// One matching event, before it becomes (part of) an alert.
#[derive(Debug, Clone)]
pub struct Hit {
    pub(crate) rule: Arc<Rule>,
    pub(crate) dedup_key: Option<String>,
    pub(crate) event_millis: i64,
    pub(crate) event_id: String,
    pub(crate) record: Map<String, Value>,
    pub(crate) fields: Option<Map<String, Value>>,
}

impl Hit {
    /// The hits of one rule's matches in a batch.
    pub fn from_matches(matches: &RuleMatches) -> crate::error::Result<Vec<Hit>> {
        let RuleMatches { rule, dedup_keys, fields, .. } = matches;
        let rows = matches.rows()?;
        let mut fields = fields.clone().map(Vec::into_iter);
        let times = event_times(rows);
        let renderer = RecordRenderer::new(rows);
        Ok((0..rows.num_rows())
            .map(|row| {
                let record = renderer.record(row);
                let event_id = event_id_in(&record);
                Hit {
                    rule: rule.clone(),
                    dedup_key: dedup_keys.as_ref().map(|keys| keys[row].clone()),
                    event_millis: times[row],
                    event_id,
                    record,
                    fields: fields.as_mut().and_then(Iterator::next),
                }
            })
            .collect())
    }

    /// Whether this hit waits for deduplication rather than alerting at once.
    pub fn is_deduplicated(&self) -> bool {
        self.rule.dedup_period.is_some()
    }
}

/// The top-level members an event's id and context are read from.
const IDENTITY_MEMBERS: [&str; 5] =
    ["eventID", "userIdentity", "recipientAccountId", "awsRegion", "sourceIPAddress"];

/// The eventID of `row`, or for a record without one, a hash of its content.
pub(crate) fn event_id_of<'a>(renderer: &RecordRenderer<'a>, row: usize) -> Cow<'a, str> {
    if renderer.unmapped_has_any(row, &IDENTITY_MEMBERS[..1]) {
        return Cow::Owned(event_id_in(&renderer.record(row)));
    }
    column_event_id(renderer, row)
}

/// The eventID and context of `row`: read from its columns unless a member outside them
/// could change them, then from its record.
pub(crate) fn identity_of(renderer: &RecordRenderer, row: usize) -> (String, EventContext) {
    if renderer.unmapped_has_any(row, &IDENTITY_MEMBERS) {
        let record = renderer.record(row);
        return (event_id_in(&record), EventContext::of(&record));
    }
    let context = EventContext::read(|path| renderer.text_at(row, path));
    (column_event_id(renderer, row).into_owned(), context)
}

/// The eventID from the typed column, or the content hash.
fn column_event_id<'a>(renderer: &RecordRenderer<'a>, row: usize) -> Cow<'a, str> {
    match renderer.text_at(row, &["eventID"]) {
        Some(id) => Cow::Borrowed(id),
        None => Cow::Owned(content_id(&renderer.record(row))),
    }
}

/// The eventID of a record, or for a record without one, a hash of its content.
fn event_id_in(record: &Map<String, Value>) -> String {
    record
        .get("eventID")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| content_id(record))
}

/// An id for a record without an eventID: a hash of its content.
fn content_id(record: &Map<String, Value>) -> String {
    let text = serde_json::to_string(record).expect("records serialise");
    format!("content-{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
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

/// Who, where and from which address, as alerts report them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventContext {
    /// The principal ARN or best identifier.
    pub actor: Option<String>,
    /// Account the event was recorded in.
    pub account: Option<String>,
    /// Region of the call.
    pub region: Option<String>,
    /// Caller IP address or service.
    pub source_ip: Option<String>,
}

impl EventContext {
    /// The context of a CloudTrail record.
    pub fn of(record: &Map<String, Value>) -> Self {
        Self::read(|path| identity_str(record, path))
    }

    /// The context, given the text at a path of record members.
    fn read<'a>(text: impl Fn(&[&str]) -> Option<&'a str>) -> Self {
        let owned = |path: &[&str]| text(path).map(str::to_string);
        Self {
            actor: ["arn", "principalId", "invokedBy", "userName", "type"]
                .iter()
                .find_map(|member| owned(&["userIdentity", member])),
            account: owned(&["recipientAccountId"])
                .or_else(|| owned(&["userIdentity", "accountId"])),
            region: owned(&["awsRegion"]),
            source_ip: owned(&["sourceIPAddress"]),
        }
    }
}

/// Builds the alert of `hits` (same rule, sorted by event time, at least one).
fn alert_of(hits: &[Hit]) -> Alert {
    let first = &hits[0];
    let last = &hits[hits.len() - 1];
    let rule = &first.rule;
    let mut hasher = Xxh3::new();
    for part in
        [rule.meta.id.as_str(), first.dedup_key.as_deref().unwrap_or(""), first.event_id.as_str()]
    {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    let context = EventContext::of(&first.record);
    Alert {
        alert_id: format!("{:032x}", hasher.digest128()),
        rule_id: rule.meta.id.clone(),
        title: rule.meta.title.clone(),
        severity: rule.meta.severity,
        mitre: Mitre::of(&rule.meta),
        dedup_key: first.dedup_key.clone(),
        event_ids: hits.iter().map(|hit| hit.event_id.clone()).collect(),
        first_event_time: format_millis(first.event_millis),
        last_event_time: format_millis(last.event_millis),
        count: hits.len() as u64,
        actor: context.actor,
        account: context.account,
        region: context.region,
        source_ip: context.source_ip,
        runbook: rule.meta.runbook.clone(),
        fields: first.fields.clone(),
        events: hits.iter().take(MAX_EVENTS_PER_ALERT).map(|hit| hit.record.clone()).collect(),
        enrichment: None,
    }
}

/// The alert of a single hit of a rule without deduplication.
pub fn single_alert(hit: &Hit) -> Alert {
    alert_of(std::slice::from_ref(hit))
}

/// Folds the hits of rules with a dedup key and period into alerts, in event time.
///
/// Hits wait until the watermark passes them, then join the open alert of their key in
/// (event time, event id) order, so arrival order never matters: the first hit of a key opens
/// an alert, hits within the period after it join it (a repeated event id counts once), and
/// the first hit after the period opens the next. An alert is emitted when the watermark
/// passes the end of its period, and only if it reached the rule's threshold (default 1).
#[derive(Debug, Default)]
pub struct Deduplicator {
    pending: Vec<Hit>,
    open: BTreeMap<(String, String), Vec<Hit>>,
}

/// A hit held for deduplication, as a checkpoint stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldHit {
    /// The rule's id (rules are looked up again on restore).
    pub rule_id: String,
    /// The dedup key value.
    pub dedup_key: Option<String>,
    /// Event time, ms.
    pub event_millis: i64,
    /// CloudTrail eventID.
    pub event_id: String,
    /// The record.
    pub record: Map<String, Value>,
    /// The rule's selected fields.
    pub fields: Option<Map<String, Value>>,
}

impl Deduplicator {
    /// Every hit held (waiting for the watermark or in an open period), for a checkpoint.
    pub fn snapshot(&self) -> Vec<HeldHit> {
        self.pending
            .iter()
            .chain(self.open.values().flatten())
            .map(|hit| HeldHit {
                rule_id: hit.rule.meta.id.clone(),
                dedup_key: hit.dedup_key.clone(),
                event_millis: hit.event_millis,
                event_id: hit.event_id.clone(),
                record: hit.record.clone(),
                fields: hit.fields.clone(),
            })
            .collect()
    }

    /// Holds checkpointed hits again; those of rules no longer loaded are dropped. Re-held
    /// hits are grouped again in event-time order, which rebuilds the same open periods.
    pub fn restore(
        &mut self,
        held: Vec<HeldHit>,
        rules: &std::collections::HashMap<String, Arc<Rule>>,
    ) {
        for hit in held {
            if let Some(rule) = rules.get(&hit.rule_id) {
                self.pending.push(Hit {
                    rule: rule.clone(),
                    dedup_key: hit.dedup_key,
                    event_millis: hit.event_millis,
                    event_id: hit.event_id,
                    record: hit.record,
                    fields: hit.fields,
                });
            }
        }
    }

    /// Holds a hit of a deduplicated rule.
    pub fn add(&mut self, hit: Hit) {
        self.pending.push(hit);
    }

    /// Alerts whose period the watermark has passed.
    pub fn advance(&mut self, watermark: i64) -> Vec<Alert> {
        let mut ready: Vec<Hit> = Vec::new();
        self.pending.retain(|hit| {
            let due = hit.event_millis <= watermark;
            if due {
                ready.push(hit.clone());
            }
            !due
        });
        ready.sort_by(|a, b| (a.event_millis, &a.event_id).cmp(&(b.event_millis, &b.event_id)));
        let mut alerts = Vec::new();
        for hit in ready {
            let key = (hit.rule.meta.id.clone(), hit.dedup_key.clone().unwrap_or_default());
            let period = period_millis(&hit);
            let open = self.open.entry(key).or_default();
            if let Some(first) = open.first()
                && hit.event_millis >= first.event_millis + period
            {
                alerts.extend(close(std::mem::take(open)));
            }
            if !open.iter().any(|held| held.event_id == hit.event_id) {
                open.push(hit);
            }
        }
        let expired: Vec<(String, String)> = self
            .open
            .iter()
            .filter(|(_, hits)| {
                hits.first()
                    .is_none_or(|first| first.event_millis + period_millis(first) <= watermark)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            if let Some(hits) = self.open.remove(&key) {
                alerts.extend(close(hits));
            }
        }
        sort_alerts(&mut alerts);
        alerts
    }

    /// Every held hit as alerts (at the end of the input).
    pub fn finish(mut self) -> Vec<Alert> {
        self.advance(i64::MAX)
    }
}

fn period_millis(hit: &Hit) -> i64 {
    hit.rule.dedup_period.map_or(0, |period| period.as_millis() as i64)
}

/// The alert of a closed dedup group, if it reached the rule's threshold.
fn close(hits: Vec<Hit>) -> Option<Alert> {
    let threshold = hits.first()?.rule.meta.threshold.unwrap_or(1);
    (hits.len() as u64 >= threshold).then(|| alert_of(&hits))
}

/// Orders alerts by first event time, rule and id: the output order of a batch of alerts.
pub fn sort_alerts(alerts: &mut [Alert]) {
    alerts.sort_by(|a, b| {
        (&a.first_event_time, &a.rule_id, &a.alert_id).cmp(&(
            &b.first_event_time,
            &b.rule_id,
            &b.alert_id,
        ))
    });
}
