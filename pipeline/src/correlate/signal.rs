//! Signals: rule matches as correlations hold them, and their flat form in checkpoints.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::RecordBatch;
use lake::record_json::RecordRenderer;
use serde::{Deserialize, Serialize};

use crate::alert::{EventContext, identity_of};

/// One rule match as a correlation sees it.
///
/// A correlation holds every signal for its window and the allowed lateness (tens of
/// thousands on a large file), so what only an alert reads is kept apart, and left out for a
/// signal that cannot alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredSignal", into = "StoredSignal")]
pub struct Signal {
    /// Event time, ms since the epoch.
    pub time: i64,
    /// CloudTrail eventID (or the alert id of a chained correlation).
    pub event_id: String,
    /// Position of the source rule in the correlation's `rules`.
    pub source: usize,
    /// Group-by values (none kept for a signal that cannot alert).
    pub group: Vec<String>,
    /// `value_count` / `new_terms` value tuple, joined.
    pub value: Option<String>,
    /// What an alert shows of the signal.
    pub evidence: Evidence,
}

/// A `new_terms` signal sure not to alert (its tuple known within the history, or the
/// learning period running at its time), most of such a rule's signals: it only feeds the
/// duplicate check and the history, in event-time order like any signal, so it keeps the
/// hashes they keep rather than its texts. As full signals, their texts and sorting them were
/// half of the correlations' cost on the benchmark corpus.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuietSignal {
    /// Event time, ms since the epoch.
    pub time: i64,
    /// Hash of its duplicate-check key (rule position and event id).
    pub seen: u64,
    /// Hash of its value tuple.
    pub tuple: u64,
}

/// What an alert shows of a signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// Nothing: a signal read from a checkpoint that stored no record for it (one written
    /// before quiet signals, which held a `new_terms` signal sure not to alert as a signal
    /// without evidence).
    None,
    /// The matched row, rendered only when an alert shows it or a checkpoint stores it: an
    /// alert shows at most a few records, and on the benchmark corpus rendering every
    /// signal's record was a tenth of a run for under 300 records shown out of 50,000.
    Row(MatchedRow),
    /// Rendered (read from a checkpoint, a chained alert, or rendered for a checkpoint).
    Rendered(Box<Rendered>),
}

/// A row among the matched rows of one rule in one batch, which its signals share.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedRow {
    /// The matched rows (every lake column), taken out of their batch so the batch is not held.
    pub rows: Arc<RecordBatch>,
    /// The signal's row in `rows`.
    pub row: usize,
}

/// Rendered evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Who and where.
    pub context: EventContext,
    /// The CloudTrail eventIDs behind a chained alert; empty for a rule match, whose only one
    /// is the signal's `event_id`.
    pub chained_event_ids: Vec<String>,
    /// The CloudTrail records behind it (a chained alert's first ones), as compact JSON:
    /// signals wait for the watermark, and text is several times smaller than a JSON tree.
    pub records: Vec<String>,
}

impl MatchedRow {
    fn render(&self) -> Rendered {
        let renderer = RecordRenderer::new(&self.rows);
        Rendered {
            context: identity_of(&renderer, self.row).1,
            chained_event_ids: Vec::new(),
            records: vec![renderer.json_text(self.row)],
        }
    }
}

/// The context of a signal without evidence.
const NO_CONTEXT: &EventContext =
    &EventContext { actor: None, account: None, region: None, source_ip: None };

impl Signal {
    /// The CloudTrail eventIDs behind the signal: its own, or those of a chained alert.
    pub fn event_ids(&self) -> &[String] {
        match &self.evidence {
            Evidence::Rendered(rendered) if !rendered.chained_event_ids.is_empty() => {
                &rendered.chained_event_ids
            }
            _ => std::slice::from_ref(&self.event_id),
        }
    }

    /// Who and where, for the alert.
    pub fn context(&self) -> Cow<'_, EventContext> {
        match &self.evidence {
            Evidence::None => Cow::Borrowed(NO_CONTEXT),
            Evidence::Row(matched) => {
                Cow::Owned(identity_of(&RecordRenderer::new(&matched.rows), matched.row).1)
            }
            Evidence::Rendered(rendered) => Cow::Borrowed(&rendered.context),
        }
    }

    /// The CloudTrail records behind the signal, as compact JSON.
    pub fn records(&self) -> Vec<Cow<'_, str>> {
        match &self.evidence {
            Evidence::None => Vec::new(),
            Evidence::Row(matched) => {
                vec![Cow::Owned(RecordRenderer::new(&matched.rows).json_text(matched.row))]
            }
            Evidence::Rendered(rendered) => {
                rendered.records.iter().map(|record| Cow::Borrowed(record.as_str())).collect()
            }
        }
    }

    /// Renders a matched row's evidence in place, letting go of the rows it shared.
    pub fn render(&mut self) {
        if let Evidence::Row(matched) = &self.evidence {
            self.evidence = Evidence::Rendered(Box::new(matched.render()));
        }
    }
}

/// A signal as checkpoints store it (its members flat, as before the evidence was boxed).
#[derive(Serialize, Deserialize)]
struct StoredSignal {
    time: i64,
    event_id: String,
    source: usize,
    group: Vec<String>,
    value: Option<String>,
    context: EventContext,
    event_ids: Vec<String>,
    records: Vec<String>,
}

impl From<StoredSignal> for Signal {
    fn from(stored: StoredSignal) -> Self {
        let own_id_only =
            stored.event_ids.is_empty() || stored.event_ids == [stored.event_id.as_str()];
        let chained_event_ids = if own_id_only { Vec::new() } else { stored.event_ids };
        let evidence = if stored.context != *NO_CONTEXT
            || !chained_event_ids.is_empty()
            || !stored.records.is_empty()
        {
            Evidence::Rendered(Box::new(Rendered {
                context: stored.context,
                chained_event_ids,
                records: stored.records,
            }))
        } else {
            Evidence::None
        };
        Self {
            time: stored.time,
            event_id: stored.event_id,
            source: stored.source,
            group: stored.group,
            value: stored.value,
            evidence,
        }
    }
}

impl From<Signal> for StoredSignal {
    fn from(signal: Signal) -> Self {
        let event_ids = signal.event_ids().to_vec();
        let (context, records) = match signal.evidence {
            Evidence::None => (EventContext::default(), Vec::new()),
            Evidence::Row(matched) => {
                let rendered = matched.render();
                (rendered.context, rendered.records)
            }
            Evidence::Rendered(rendered) => (rendered.context, rendered.records),
        };
        Self {
            time: signal.time,
            event_id: signal.event_id,
            source: signal.source,
            group: signal.group,
            value: signal.value,
            context,
            event_ids,
            records,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn stored(event_ids: &[&str], records: &[&str], actor: Option<&str>) -> Value {
        json!({
            "time": 5, "event_id": "e1", "source": 0, "group": ["g"], "value": null,
            "context": {"actor": actor, "account": null, "region": null, "source_ip": null},
            "event_ids": event_ids, "records": records,
        })
    }

    #[test]
    fn checkpoints_keep_the_flat_signal_form_and_read_it_back() {
        let matched: Signal =
            serde_json::from_value(stored(&["e1"], &["{\"eventID\":\"e1\"}"], Some("arn:a")))
                .unwrap();
        let Evidence::Rendered(evidence) = &matched.evidence else {
            panic!("a record is evidence")
        };
        assert!(evidence.chained_event_ids.is_empty(), "its own id is not stored twice");
        assert_eq!(matched.event_ids(), ["e1"]);
        assert_eq!(matched.context().actor.as_deref(), Some("arn:a"));
        assert_eq!(matched.records(), ["{\"eventID\":\"e1\"}"]);
        assert_eq!(
            serde_json::to_value(&matched).unwrap(),
            stored(&["e1"], &["{\"eventID\":\"e1\"}"], Some("arn:a"))
        );

        let silent: Signal = serde_json::from_value(stored(&["e1"], &[], None)).unwrap();
        assert_eq!(silent.evidence, Evidence::None);
        assert_eq!(silent.event_ids(), ["e1"]);
        assert_eq!(*silent.context(), EventContext::default());
        assert_eq!(serde_json::to_value(&silent).unwrap(), stored(&["e1"], &[], None));

        let chained: Signal = serde_json::from_value(stored(&["a", "b"], &[], None)).unwrap();
        assert_eq!(chained.event_ids(), ["a", "b"]);
        assert_eq!(serde_json::to_value(&chained).unwrap(), stored(&["a", "b"], &[], None));
    }

    #[test]
    fn a_matched_row_is_rendered_as_its_record_when_shown_or_stored() {
        let record = json!({
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "IAMUser",
                "arn": "arn:aws:iam::011122223333:user/alice",
                "accountId": "011122223333"
            },
            "eventTime": "2025-03-09T00:00:00Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": "CreateUser",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.9",
            "requestParameters": {"userName": "mallory"},
            "eventID": "e1",
            "recipientAccountId": "011122223333",
            "tlsDetails": {"tlsVersion": "TLSv1.3"}
        });
        let file = json!({ "Records": [record] }).to_string();
        let mut batches = Vec::new();
        crate::decode::decode(
            file.as_bytes(),
            "test.json",
            &crate::decode::DecodeConfig::default(),
            |batch| {
                batches.push(batch);
                true
            },
        );
        let lazy = Signal {
            time: 5,
            event_id: "e1".into(),
            source: 0,
            group: vec!["g".into()],
            value: None,
            evidence: Evidence::Row(MatchedRow { rows: Arc::new(batches.remove(0)), row: 0 }),
        };

        let shown: Vec<Value> =
            lazy.records().iter().map(|text| serde_json::from_str(text).unwrap()).collect();
        assert_eq!(shown, std::slice::from_ref(&record));
        assert_eq!(lazy.context().actor.as_deref(), Some("arn:aws:iam::011122223333:user/alice"));
        assert_eq!(lazy.context().account.as_deref(), Some("011122223333"));
        assert_eq!(lazy.event_ids(), ["e1"]);

        let mut rendered = lazy.clone();
        rendered.render();
        let Evidence::Rendered(evidence) = &rendered.evidence else { panic!("rendered in place") };
        assert_eq!(serde_json::from_str::<Value>(&evidence.records[0]).unwrap(), record);
        let stored = serde_json::to_value(&lazy).unwrap();
        assert_eq!(stored, serde_json::to_value(&rendered).unwrap(), "stored alike");
        let restored: Signal = serde_json::from_value(stored).unwrap();
        assert_eq!(restored, rendered);
    }
}
