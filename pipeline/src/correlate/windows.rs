//! What one correlation does with its signals, in event-time order: windows per group,
//! the firing rule of each kind, and the alert a fired window makes.

use std::collections::VecDeque;

use serde_json::{Map, Value};
use xxhash_rust::xxh3::Xxh3;

use super::engine::CorrelationState;
use super::signal::Signal;
use super::spec::{CorrelationKind, CorrelationRule};
use crate::alert::{Alert, MAX_EVENTS_PER_ALERT, Mitre, format_millis};

/// Processes one signal (in order) for its correlation.
pub(super) fn process(
    rule: &CorrelationRule,
    state: &mut CorrelationState,
    signal: Signal,
) -> Vec<Alert> {
    let timespan = rule.timespan.as_millis() as i64;
    match rule.spec.kind {
        CorrelationKind::NewTerms => {
            let Some(tuple) = signal.value.as_deref() else {
                return Vec::new();
            };
            let earliest = *state.earliest.get_or_insert(signal.time);
            let history = rule.history.as_millis() as i64;
            let known = state.history.get(tuple).is_some_and(|last| last >= signal.time - history);
            state.history.record(tuple, signal.time);
            let learned = signal.time >= earliest + rule.learning.as_millis() as i64;
            if known || !learned {
                return Vec::new();
            }
            vec![correlation_alert(rule, &[signal])]
        }
        CorrelationKind::EventCount | CorrelationKind::ValueCount => {
            let condition = rule.spec.condition.clone().unwrap_or_default();
            let key = signal.group.join("\u{1f}");
            let window = state.groups.entry(key).or_default();
            let mut fired = close_windows(rule, window, signal.time);
            window.push_back(signal);
            if condition.fires_early() {
                let newest = window.back().map_or(0, |s| s.time);
                while window.front().is_some_and(|s| s.time < newest - timespan) {
                    window.pop_front();
                }
                if condition.holds(measure(rule, window.iter())) {
                    let members: Vec<Signal> = window.drain(..).collect();
                    fired.push(correlation_alert(rule, &members));
                }
            }
            fired
        }
        CorrelationKind::Temporal => {
            let window = state.groups.entry(signal.group.join("\u{1f}")).or_default();
            let newest = signal.time;
            window.push_back(signal);
            while window.front().is_some_and(|s| s.time < newest - timespan) {
                window.pop_front();
            }
            let complete =
                (0..rule.spec.rules.len()).all(|step| window.iter().any(|s| s.source == step));
            if complete {
                let members: Vec<Signal> = window.drain(..).collect();
                return vec![correlation_alert(rule, &members)];
            }
            Vec::new()
        }
        CorrelationKind::TemporalOrdered => {
            let window = state.groups.entry(signal.group.join("\u{1f}")).or_default();
            let newest = signal.time;
            let last_step = rule.spec.rules.len() - 1;
            let is_last = signal.source == last_step;
            window.push_back(signal);
            while window.front().is_some_and(|s| s.time < newest - timespan) {
                window.pop_front();
            }
            if !is_last && !window.iter().any(|s| s.source == last_step) {
                return Vec::new();
            }
            // A chain may end at any last-step signal: with times to the second, an earlier
            // step can be processed after a later one of the same second.
            let ends: Vec<usize> =
                (0..window.len()).rev().filter(|&i| window[i].source == last_step).collect();
            let Some(chain) =
                ends.into_iter().find_map(|end| ordered_chain(window, end, last_step))
            else {
                return Vec::new();
            };
            let members: Vec<Signal> = chain.iter().map(|&i| window[i].clone()).collect();
            window.clear();
            vec![correlation_alert(rule, &members)]
        }
    }
}

/// The chain of one signal per step ending at `end`, each step no later in event time than
/// the next (ties count as in order), taking the latest candidate for each earlier step.
fn ordered_chain(window: &VecDeque<Signal>, end: usize, last_step: usize) -> Option<Vec<usize>> {
    let mut chain = vec![end];
    let mut bound = window[end].time;
    for step in (0..last_step).rev() {
        let found = (0..window.len())
            .filter(|&i| window[i].source == step && window[i].time <= bound && !chain.contains(&i))
            .max_by_key(|&i| (window[i].time, i))?;
        chain.push(found);
        bound = window[found].time;
    }
    chain.reverse();
    Some(chain)
}

/// For conditions judged at window close: judges every window of `window` closed by `upto`.
pub(super) fn close_windows(
    rule: &CorrelationRule,
    window: &mut VecDeque<Signal>,
    upto: i64,
) -> Vec<Alert> {
    let Some(condition) = rule.spec.condition.as_ref() else {
        return Vec::new();
    };
    if condition.fires_early()
        || !matches!(rule.spec.kind, CorrelationKind::EventCount | CorrelationKind::ValueCount)
    {
        return Vec::new();
    }
    let timespan = rule.timespan.as_millis() as i64;
    let mut fired = Vec::new();
    while let Some(anchor) = window.front() {
        let end = anchor.time + timespan;
        if end >= upto {
            break;
        }
        let members = window.iter().take_while(|s| s.time <= end).count();
        if condition.holds(measure(rule, window.iter().take(members))) {
            let taken: Vec<Signal> = window.drain(..members).collect();
            fired.push(correlation_alert(rule, &taken));
        } else {
            window.pop_front();
        }
    }
    fired
}

/// The count a condition is compared with: signals, or distinct values for `value_count`.
fn measure<'a>(rule: &CorrelationRule, signals: impl Iterator<Item = &'a Signal>) -> u64 {
    match rule.spec.kind {
        CorrelationKind::ValueCount => signals
            .filter_map(|s| s.value.as_deref())
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u64,
        _ => signals.count() as u64,
    }
}

/// The alert of a firing correlation.
fn correlation_alert(rule: &CorrelationRule, members: &[Signal]) -> Alert {
    let first = &members[0];
    let last = &members[members.len() - 1];
    let group_key = if rule.spec.kind == CorrelationKind::NewTerms {
        first.value.clone().unwrap_or_default()
    } else {
        first.group.join("\u{1f}")
    };
    let mut hasher = Xxh3::new();
    for part in [rule.meta.id.as_str(), group_key.as_str(), first.event_id.as_str()] {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    let mut event_ids: Vec<String> = Vec::new();
    for id in members.iter().flat_map(Signal::event_ids) {
        if !event_ids.contains(id) {
            event_ids.push(id.clone());
        }
    }
    let mut fields = Map::new();
    let names = group_names(rule);
    let values: Vec<String> = if rule.spec.kind == CorrelationKind::NewTerms {
        first.value.clone().unwrap_or_default().split('\u{1f}').map(str::to_string).collect()
    } else {
        first.group.clone()
    };
    fields.insert(
        "group".into(),
        names
            .iter()
            .cloned()
            .zip(values.iter().cloned().map(Value::String))
            .collect::<Map<_, _>>()
            .into(),
    );
    fields.insert(
        "group_values".into(),
        values.iter().cloned().map(Value::String).collect::<Vec<_>>().into(),
    );
    fields.insert(
        "rules".into(),
        members
            .iter()
            .map(|s| Value::String(rule.spec.rules[s.source].clone()))
            .collect::<Vec<_>>()
            .into(),
    );
    if rule.spec.kind == CorrelationKind::ValueCount {
        let distinct: std::collections::BTreeSet<&str> =
            members.iter().filter_map(|s| s.value.as_deref()).collect();
        fields.insert("distinct_count".into(), distinct.len().into());
        fields.insert(
            "distinct_values".into(),
            distinct
                .into_iter()
                .map(|v| Value::String(v.replace('\u{1f}', ",")))
                .collect::<Vec<_>>()
                .into(),
        );
    }
    let context = last.context();
    Alert {
        alert_id: format!("{:032x}", hasher.digest128()),
        rule_id: rule.meta.id.clone(),
        title: rule.meta.title.clone(),
        severity: rule.meta.severity,
        mitre: Mitre::of(&rule.meta),
        dedup_key: Some(group_key.replace('\u{1f}', ",")),
        event_ids: event_ids.clone(),
        first_event_time: format_millis(first.time),
        last_event_time: format_millis(last.time),
        count: event_ids.len() as u64,
        actor: context.actor.clone(),
        account: context.account.clone(),
        region: context.region.clone(),
        source_ip: context.source_ip.clone(),
        runbook: rule.meta.runbook.clone(),
        fields: Some(fields),
        events: members
            .iter()
            .flat_map(Signal::records)
            .take(MAX_EVENTS_PER_ALERT)
            .filter_map(|record| serde_json::from_str(&record).ok())
            .collect(),
        enrichment: None,
    }
}

/// The names of the values an alert of `rule` is grouped by (and chained correlations group
/// by): the `fields` tuple for `new_terms`, the `group_by` expressions otherwise.
pub(super) fn group_names(rule: &CorrelationRule) -> &[String] {
    if rule.spec.kind == CorrelationKind::NewTerms {
        &rule.spec.fields
    } else {
        &rule.spec.group_by
    }
}
