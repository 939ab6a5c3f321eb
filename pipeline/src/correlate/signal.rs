//! Signals: rule matches as correlations hold them, and their flat form in checkpoints.

use serde::{Deserialize, Serialize};

use crate::alert::EventContext;

/// One rule match as a correlation sees it.
///
/// A correlation holds every signal for its window and the allowed lateness (tens of
/// thousands on a large file), so what only an alert reads is boxed apart, and left out for a
/// signal that cannot alert: this struct is a third of its size with those members inline.
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
    /// What an alert shows of the signal; `None` for one that cannot alert (a `new_terms`
    /// tuple already known, which only feeds the history).
    pub evidence: Option<Box<Evidence>>,
}

/// What an alert shows of a signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Who and where.
    pub context: EventContext,
    /// The CloudTrail eventIDs behind a chained alert; empty for a rule match, whose only one
    /// is the signal's `event_id`.
    pub chained_event_ids: Vec<String>,
    /// The CloudTrail records behind it (a chained alert's first ones), as compact JSON:
    /// signals wait for the watermark, and text is several times smaller than a JSON tree.
    pub records: Vec<String>,
}

/// The context of a signal without evidence.
const NO_CONTEXT: &EventContext =
    &EventContext { actor: None, account: None, region: None, source_ip: None };

impl Signal {
    /// The CloudTrail eventIDs behind the signal: its own, or those of a chained alert.
    pub fn event_ids(&self) -> &[String] {
        match &self.evidence {
            Some(evidence) if !evidence.chained_event_ids.is_empty() => &evidence.chained_event_ids,
            _ => std::slice::from_ref(&self.event_id),
        }
    }

    /// Who and where, for the alert.
    pub fn context(&self) -> &EventContext {
        self.evidence.as_ref().map_or(NO_CONTEXT, |evidence| &evidence.context)
    }

    /// The CloudTrail records behind the signal, as compact JSON.
    pub fn records(&self) -> &[String] {
        self.evidence.as_ref().map_or(&[], |evidence| &evidence.records)
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
        let evidence = (stored.context != *NO_CONTEXT
            || !chained_event_ids.is_empty()
            || !stored.records.is_empty())
        .then(|| {
            Box::new(Evidence {
                context: stored.context,
                chained_event_ids,
                records: stored.records,
            })
        });
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
            Some(evidence) => (evidence.context, evidence.records),
            None => (EventContext::default(), Vec::new()),
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
        let evidence = matched.evidence.as_deref().expect("a record is evidence");
        assert!(evidence.chained_event_ids.is_empty(), "its own id is not stored twice");
        assert_eq!(matched.event_ids(), ["e1"]);
        assert_eq!(matched.context().actor.as_deref(), Some("arn:a"));
        assert_eq!(matched.records(), ["{\"eventID\":\"e1\"}"]);
        assert_eq!(
            serde_json::to_value(&matched).unwrap(),
            stored(&["e1"], &["{\"eventID\":\"e1\"}"], Some("arn:a"))
        );

        let silent: Signal = serde_json::from_value(stored(&["e1"], &[], None)).unwrap();
        assert_eq!(silent.evidence, None);
        assert_eq!(silent.event_ids(), ["e1"]);
        assert_eq!(silent.context(), &EventContext::default());
        assert_eq!(serde_json::to_value(&silent).unwrap(), stored(&["e1"], &[], None));

        let chained: Signal = serde_json::from_value(stored(&["a", "b"], &[], None)).unwrap();
        assert_eq!(chained.event_ids(), ["a", "b"]);
        assert_eq!(serde_json::to_value(&chained).unwrap(), stored(&["a", "b"], &[], None));
    }
}
