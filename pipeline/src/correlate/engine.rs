//! The correlation engine: signals (rule matches) in, correlation alerts out, in event time.
//!
//! Semantics (the choices the Sigma correlation spec leaves open):
//! - Signals wait until the watermark passes their event time, then are processed per
//!   correlation in (event time, event id, rule position) order: the same events give the same
//!   alerts whatever the file order or batch split, as long as no event is later than the
//!   allowed lateness.
//! - A signal whose group-by values include a NULL forms no group (it is counted, not used).
//! - A repeated (rule, eventID) pair counts once.
//! - When a window fires, its signals are consumed: the next alert needs new signals (reset).
//! - `gt`/`gte` conditions fire as soon as they hold; other conditions (`lt`, `lte`, `eq`,
//!   `neq`, ranges) are judged when the window anchored at the group's oldest signal closes.
//! - `temporal_ordered` looks backwards from each last-step signal for the latest chain of
//!   earlier steps, so the chain it reports is the tightest one.
//! - `new_terms` alerts on a value tuple not seen within `history`, once `learning` has passed
//!   since the earliest event known (from the lake or the stream).
//! - An alert carries the group values, the count, the distinct values (`value_count`), the
//!   contributing event ids and up to 10 contributing records.
//! - A correlation alert is a signal for correlations that refer to it (chaining); their
//!   group-by expressions must be among the referenced correlation's.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, StringArray, UInt32Array,
};
use arrow::compute::{cast, take_record_batch};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::datasource::MemTable;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::utils::{collect_columns, reassign_expr_columns};
use datafusion::prelude::SessionContext;
use lake::record_json::RecordRenderer;
use lake::schema::{cloudtrail_schema, event_times};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::last_seen::{LastSeen, hash_of};
use super::signal::{Evidence, MatchedRow, QuietSignal, Rendered, Signal};
use super::spec::{CorrelationKind, CorrelationRule};
use super::windows::{close_windows, group_names, process};
use crate::alert::{Alert, EventContext, event_id_of, sort_alerts};
use crate::detect::engine::to_physical;
use crate::detect::rule::RULE_TABLE;
use crate::detect::{Rule, RuleMatches};
use crate::error::{PipelineError, Result};

/// Per-correlation state: what a checkpoint saves.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct CorrelationState {
    /// Signals not yet behind the watermark.
    pub(super) pending: Vec<Signal>,
    /// Quiet signals (of a `new_terms` correlation) not yet behind the watermark.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) pending_quiet: Vec<QuietSignal>,
    /// Window contents per group key.
    pub(super) groups: BTreeMap<String, VecDeque<Signal>>,
    /// (rule position, event id) already counted, with their time, for duplicate detection.
    pub(super) seen: LastSeen,
    /// `new_terms`: value tuple to last time seen.
    pub(super) history: LastSeen,
    /// `new_terms`: earliest event time known, anchor of the learning period.
    pub(super) earliest: Option<i64>,
}

/// Counters of the correlation engine.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelationStats {
    /// Signals received.
    pub signals: u64,
    /// Signals that arrived behind the watermark (still evaluated against retained state).
    pub late_signals: u64,
    /// Signals with a NULL group-by value.
    pub ungrouped_signals: u64,
    /// Repeated (rule, eventID) signals ignored.
    pub duplicate_signals: u64,
}

/// The whole engine state, as checkpointed.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct EngineState {
    /// Highest watermark applied.
    pub watermark: Option<i64>,
    /// State per correlation id.
    pub correlations: BTreeMap<String, CorrelationState>,
    /// Counters.
    pub stats: CorrelationStats,
}

struct Compiled {
    rule: Arc<CorrelationRule>,
    /// Per position in `rules`: what is evaluated on that rule's matches.
    sources: Vec<SourceExprs>,
    /// For each source that is a correlation: positions of our group_by in its group_by.
    chained_groups: HashMap<usize, Vec<usize>>,
}

/// Correlations compiled and ready to receive signals.
pub struct CorrelationEngine {
    /// In dependency order: a correlation comes after those it refers to.
    correlations: Vec<Compiled>,
    /// Source rule id to (correlation index, position in its rules).
    consumers: HashMap<String, Vec<(usize, usize)>>,
    state: EngineState,
    lateness_ms: i64,
    /// Per correlation, the horizon up to which its `seen` and `history` maps were last
    /// pruned: pruning on every batch would cost a pass over them per batch.
    pruned_to: HashMap<usize, i64>,
}

/// One correlation's signals from a batch, each with its matched row (an index into the
/// matches), and its quiet signals.
type ObservedSignals = (String, Vec<(Signal, usize)>, Vec<QuietSignal>);

/// How far (event time) a correlation's horizon moves before its maps are pruned again.
const PRUNE_STEP_MS: i64 = 60_000;

impl CorrelationEngine {
    /// Validates references (every listed rule exists, no cycles), compiles the expressions
    /// against the lake schema and orders correlations by dependency.
    pub async fn compile(
        correlations: Vec<CorrelationRule>,
        detections: &[Rule],
        lateness_ms: i64,
    ) -> Result<Self> {
        let detection_ids: std::collections::HashSet<&str> =
            detections.iter().map(|rule| rule.meta.id.as_str()).collect();
        let by_id: HashMap<String, CorrelationRule> =
            correlations.into_iter().map(|rule| (rule.meta.id.clone(), rule)).collect();
        let order = dependency_order(&by_id, &detection_ids)?;
        let ctx = SessionContext::new();
        lake::functions::register_all(&ctx);
        let schema = cloudtrail_schema();
        let setup = |source| PipelineError::RuleEvaluation {
            rule_id: "(correlation setup)".into(),
            source,
        };
        ctx.register_table(
            RULE_TABLE,
            Arc::new(MemTable::try_new(schema.clone(), vec![vec![]]).map_err(setup)?),
        )
        .map_err(setup)?;
        let qualified = DFSchema::try_from_qualified_schema(RULE_TABLE, &schema).map_err(setup)?;
        let mut compiled: Vec<Compiled> = Vec::new();
        let mut consumers: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for id in order {
            let rule = by_id[&id].clone();
            let compile = |exprs: &[String]| -> Result<Vec<Arc<dyn PhysicalExpr>>> {
                exprs
                    .iter()
                    .map(|text| {
                        ctx.parse_sql_expr(text, &qualified)
                            .and_then(|expr| to_physical(&ctx, expr, &qualified))
                            .map_err(|error| PipelineError::Rule {
                                file: rule.file.clone(),
                                line: 0,
                                reason: format!("invalid expression '{text}': {error}"),
                            })
                    })
                    .collect()
            };
            let value_texts = if rule.spec.kind == CorrelationKind::NewTerms {
                &rule.spec.fields
            } else {
                &rule.spec.field
            };
            let value_exprs = compile(value_texts)?;
            let sources = rule
                .spec
                .rules
                .iter()
                .map(|source| {
                    let group = compile(&rule.spec.group_for(source))?;
                    SourceExprs::new(group, value_exprs.clone(), &schema).map_err(|error| {
                        PipelineError::Rule {
                            file: rule.file.clone(),
                            line: 0,
                            reason: format!("projecting the expressions of '{source}': {error}"),
                        }
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let mut chained_groups = HashMap::new();
            for (position, source) in rule.spec.rules.iter().enumerate() {
                if let Some(source_index) = compiled.iter().position(|c| &c.rule.meta.id == source)
                {
                    let source_group = group_names(&compiled[source_index].rule);
                    let positions = rule
                        .spec
                        .group_for(source)
                        .iter()
                        .map(|expr| {
                            source_group.iter().position(|other| other == expr).ok_or_else(|| PipelineError::Rule {
                                file: rule.file.clone(),
                                line: 0,
                                reason: format!("group_by '{expr}' is not among the group_by (or new_terms fields) of the referenced correlation '{source}'"),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    chained_groups.insert(position, positions);
                }
                consumers.entry(source.clone()).or_default().push((compiled.len(), position));
            }
            compiled.push(Compiled { rule: Arc::new(rule), sources, chained_groups });
        }
        Ok(Self {
            correlations: compiled,
            consumers,
            state: EngineState::default(),
            lateness_ms,
            pruned_to: HashMap::new(),
        })
    }

    /// An engine without correlations.
    pub fn empty() -> Self {
        Self {
            correlations: Vec::new(),
            consumers: HashMap::new(),
            state: EngineState::default(),
            lateness_ms: 0,
            pruned_to: HashMap::new(),
        }
    }

    /// Whether any correlation consumes matches of `rule_id`.
    pub fn consumes(&self, rule_id: &str) -> bool {
        self.consumers.contains_key(rule_id)
    }

    /// The compiled correlation rules, in dependency order.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<CorrelationRule>> {
        self.correlations.iter().map(|compiled| &compiled.rule)
    }

    /// Counters so far.
    pub fn stats(&self) -> &CorrelationStats {
        &self.state.stats
    }

    /// The state, for a checkpoint.
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// Restores a checkpointed state; state of correlations that no longer exist is dropped.
    pub fn restore(&mut self, mut state: EngineState) {
        let known: std::collections::HashSet<&String> =
            self.correlations.iter().map(|c| &c.rule.meta.id).collect();
        state.correlations.retain(|id, _| known.contains(id));
        self.state = state;
    }

    /// Seeds a `new_terms` correlation's history (from the lake): tuples with their last time
    /// seen, and the earliest event time known.
    pub fn seed_history(
        &mut self,
        correlation_id: &str,
        tuples: Vec<(String, i64)>,
        earliest: Option<i64>,
    ) {
        let state = self.state.correlations.entry(correlation_id.to_string()).or_default();
        for (tuple, time) in tuples {
            state.history.record(&tuple, time);
        }
        state.earliest = match (state.earliest, earliest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Turns one rule's matches into signals.
    pub fn observe(&mut self, matches: &RuleMatches) -> Result<()> {
        let Some(targets) = self.consumers.get(&matches.rule.meta.id).cloned() else {
            return Ok(());
        };
        // Rows are read where they lie in the evaluated batch: each correlation gathers only
        // the columns its expressions read. The rows of signals that may alert are taken
        // whole once, after every correlation has said which those are, and rendered only if
        // an alert shows them (see `Evidence::Row`).
        let renderer = RecordRenderer::new(&matches.batch);
        let rows: Vec<usize> = matches.positions.iter().map(|&row| row as usize).collect();
        let positions = UInt32Array::from(matches.positions.clone());
        let times: Vec<i64> = {
            let all = event_times(&matches.batch);
            rows.iter().map(|&row| all[row]).collect()
        };
        let event_ids: Vec<Cow<str>> =
            rows.iter().map(|&row| event_id_of(&renderer, row)).collect();
        // Per matched row, its place among the rows taken for evidence.
        let mut evidence_rows: Vec<Option<usize>> = vec![None; rows.len()];
        let mut taken = 0;
        let mut observed: Vec<ObservedSignals> = Vec::new();
        // One buffer for every row's value tuple and duplicate-check key.
        let (mut tuple, mut seen_key) = (String::new(), String::new());
        for (index, position) in targets {
            let compiled = &self.correlations[index];
            let failed = |source| PipelineError::RuleEvaluation {
                rule_id: compiled.rule.meta.id.clone(),
                source,
            };
            let (groups, values) =
                compiled.sources[position].evaluate(&matches.batch, &positions).map_err(failed)?;
            let (groups, values) = (text_columns(&groups), text_columns(&values));
            // `new_terms`: what decides, before the signal is processed, that it cannot alert.
            let new_terms = (compiled.rule.spec.kind == CorrelationKind::NewTerms)
                .then(|| self.state.correlations.get(&compiled.rule.meta.id))
                .flatten()
                .map(|state| NewTermsView::of(&compiled.rule, state));
            let mut signals = Vec::with_capacity(rows.len());
            let mut quiet = Vec::new();
            for (index, time) in times.iter().copied().enumerate() {
                let has_null = |columns: &[&StringArray]| columns.iter().any(|c| c.is_null(index));
                if has_null(&groups) || has_null(&values) {
                    self.state.stats.ungrouped_signals += 1;
                    continue;
                }
                tuple.clear();
                for (part, column) in values.iter().enumerate() {
                    if part > 0 {
                        tuple.push('\u{1f}');
                    }
                    tuple.push_str(column.value(index));
                }
                let value = (!values.is_empty()).then_some(tuple.as_str());
                if new_terms.as_ref().is_some_and(|view| view.silent(value, time)) {
                    write_seen_key(&mut seen_key, position, &event_ids[index]);
                    quiet.push(QuietSignal {
                        time,
                        seen: hash_of(&seen_key),
                        tuple: hash_of(&tuple),
                    });
                    continue;
                }
                if evidence_rows[index].is_none() {
                    evidence_rows[index] = Some(taken);
                    taken += 1;
                }
                let signal = Signal {
                    time,
                    event_id: event_ids[index].to_string(),
                    source: position,
                    group: groups.iter().map(|column| column.value(index).to_string()).collect(),
                    value: value.map(str::to_string),
                    // The row taken for it, once every correlation has said which rows it keeps.
                    evidence: Evidence::None,
                };
                signals.push((signal, index));
            }
            observed.push((compiled.rule.meta.id.clone(), signals, quiet));
        }
        let evidence = (taken > 0)
            .then(|| {
                let mut kept = vec![0; taken];
                for (index, place) in evidence_rows.iter().enumerate() {
                    if let Some(place) = place {
                        kept[*place] = rows[index] as u32;
                    }
                }
                take_record_batch(&matches.batch, &UInt32Array::from(kept)).map(Arc::new)
            })
            .transpose()
            .map_err(|source| PipelineError::RuleEvaluation {
                rule_id: matches.rule.meta.id.clone(),
                source: source.into(),
            })?;
        for (id, signals, quiet) in observed {
            for (mut signal, index) in signals {
                if let Some(rows) = &evidence {
                    let row = evidence_rows[index].expect("a row taken for evidence");
                    signal.evidence = Evidence::Row(MatchedRow { rows: rows.clone(), row });
                }
                self.push(&id, signal);
            }
            self.push_quiet(&id, quiet);
        }
        Ok(())
    }

    /// Renders the evidence of every signal held, so that each is rendered once however
    /// many checkpoints store it, and the rows it shared are let go.
    pub fn render_held_evidence(&mut self) {
        for state in self.state.correlations.values_mut() {
            state.pending.iter_mut().for_each(Signal::render);
            state.groups.values_mut().flatten().for_each(Signal::render);
        }
    }

    fn push(&mut self, correlation_id: &str, signal: Signal) {
        self.count_signal(signal.time);
        self.state.correlations.entry(correlation_id.to_string()).or_default().pending.push(signal);
    }

    fn push_quiet(&mut self, correlation_id: &str, signals: Vec<QuietSignal>) {
        if signals.is_empty() {
            return;
        }
        for signal in &signals {
            self.count_signal(signal.time);
        }
        let state = self.state.correlations.entry(correlation_id.to_string()).or_default();
        state.pending_quiet.extend(signals);
    }

    fn count_signal(&mut self, time: i64) {
        self.state.stats.signals += 1;
        if self.state.watermark.is_some_and(|watermark| time < watermark) {
            self.state.stats.late_signals += 1;
        }
    }

    /// Processes every signal the watermark has passed; returns the alerts that fired.
    /// Signal-only correlations feed their consumers but are not returned.
    pub fn advance(&mut self, watermark: i64) -> Vec<Alert> {
        let watermark = self.state.watermark.map_or(watermark, |current| current.max(watermark));
        self.state.watermark = Some(watermark);
        let mut alerts = Vec::new();
        for index in 0..self.correlations.len() {
            let fired = self.advance_one(index, watermark);
            for alert in fired {
                let rule = self.correlations[index].rule.clone();
                if let Some(targets) = self.consumers.get(&rule.meta.id).cloned() {
                    for (target, position) in targets {
                        let signal = self.chained_signal(target, position, &alert);
                        let target_id = self.correlations[target].rule.meta.id.clone();
                        self.push(&target_id, signal);
                    }
                }
                if !rule.meta.signal_only {
                    alerts.push(alert);
                }
            }
        }
        sort_alerts(&mut alerts);
        alerts
    }

    /// Processes everything held (end of input).
    pub fn finish(&mut self) -> Vec<Alert> {
        self.advance(i64::MAX)
    }

    fn chained_signal(&self, target: usize, position: usize, alert: &Alert) -> Signal {
        let source_group: Vec<String> = alert
            .fields
            .as_ref()
            .and_then(|fields| fields.get("group_values"))
            .and_then(Value::as_array)
            .map(|values| {
                values.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect()
            })
            .unwrap_or_default();
        let positions = &self.correlations[target].chained_groups[&position];
        let time = chrono::DateTime::parse_from_rfc3339(&alert.last_event_time)
            .map_or(0, |t| t.timestamp_millis());
        Signal {
            time,
            event_id: alert.alert_id.clone(),
            source: position,
            group: positions
                .iter()
                .map(|&p| source_group.get(p).cloned().unwrap_or_default())
                .collect(),
            value: None,
            evidence: Evidence::Rendered(Box::new(Rendered {
                context: EventContext {
                    actor: alert.actor.clone(),
                    account: alert.account.clone(),
                    region: alert.region.clone(),
                    source_ip: alert.source_ip.clone(),
                },
                chained_event_ids: alert.event_ids.clone(),
                records: alert
                    .events
                    .iter()
                    .map(|record| Value::Object(record.clone()).to_string())
                    .collect(),
            })),
        }
    }

    fn advance_one(&mut self, index: usize, watermark: i64) -> Vec<Alert> {
        let compiled = &self.correlations[index];
        let rule = compiled.rule.clone();
        let state = self.state.correlations.entry(rule.meta.id.clone()).or_default();
        // Taken out in place: the signals still pending (a lateness's worth) are most of them,
        // and partitioning into two new vectors held them three times over at the peak.
        let mut due: Vec<Signal> =
            state.pending.extract_if(.., |signal| signal.time <= watermark).collect();
        due.sort_by(|a, b| (a.time, &a.event_id, a.source).cmp(&(b.time, &b.event_id, b.source)));
        let mut quiet: Vec<QuietSignal> =
            state.pending_quiet.extract_if(.., |signal| signal.time <= watermark).collect();
        quiet.sort_unstable_by_key(|signal| signal.time);
        let mut quiet = quiet.into_iter().peekable();
        // Quiet signals go in between in time order. Among signals of one time their order
        // does not matter: a quiet signal's tuple was known (or learning) from signals
        // processed before it was seen, which every signal processed after that knows too.
        let stats = &mut self.state.stats;
        let mut fired = Vec::new();
        // One buffer for every signal's key: formatting a new string per signal showed.
        let mut seen_key = String::new();
        for signal in due {
            while let Some(earlier) = quiet.next_if(|quiet| quiet.time < signal.time) {
                process_quiet(state, earlier, stats);
            }
            write_seen_key(&mut seen_key, signal.source, &signal.event_id);
            if state.seen.record(&seen_key, signal.time) {
                stats.duplicate_signals += 1;
                continue;
            }
            fired.extend(process(&rule, state, signal));
        }
        quiet.for_each(|signal| process_quiet(state, signal, stats));
        if rule.spec.kind != CorrelationKind::NewTerms {
            let keys: Vec<String> = state.groups.keys().cloned().collect();
            for key in keys {
                let window = state.groups.get_mut(&key).expect("listed above");
                fired.extend(close_windows(&rule, window, watermark));
            }
        }
        // Keep what a signal up to the allowed lateness behind the watermark could still need.
        let horizon = watermark
            .saturating_sub(rule.timespan.as_millis() as i64)
            .saturating_sub(self.lateness_ms);
        let pruned_to = self.pruned_to.entry(index).or_insert(i64::MIN);
        let prune_maps = horizon.saturating_sub(*pruned_to) >= PRUNE_STEP_MS;
        if prune_maps {
            *pruned_to = horizon;
            state.seen.forget_before(horizon);
        }
        for window in state.groups.values_mut() {
            while window.front().is_some_and(|signal| signal.time < horizon) {
                window.pop_front();
            }
        }
        if prune_maps && rule.spec.kind == CorrelationKind::TemporalOrdered {
            // A last step ends a chain only with earlier steps no later than itself, and a
            // signal still to come is at most the lateness behind the watermark: last steps
            // older than that can end no chain. Held for the whole timespan, they were most of
            // the state (a common last step such as AssumeRole waiting for a rare first one).
            let last_step = rule.spec.rules.len() - 1;
            let ends_horizon = watermark.saturating_sub(self.lateness_ms);
            for window in state.groups.values_mut() {
                window.retain(|signal| signal.source != last_step || signal.time >= ends_horizon);
            }
        }
        state.groups.retain(|_, window| !window.is_empty());
        if prune_maps {
            let history_horizon = watermark.saturating_sub(rule.history.as_millis() as i64);
            state.history.forget_before(history_horizon);
        }
        fired
    }
}

/// What a `new_terms` correlation's state says of a signal before it is processed.
struct NewTermsView<'a> {
    /// Value tuples to the time they were last seen.
    history: &'a LastSeen,
    /// How long a tuple stays known, ms.
    history_ms: i64,
    /// The event time from which the learning period is over, once the earliest is known:
    /// it only moves back when the history is seeded, which happens before any signal.
    learned_from: Option<i64>,
}

impl<'a> NewTermsView<'a> {
    fn of(rule: &CorrelationRule, state: &'a CorrelationState) -> Self {
        Self {
            history: &state.history,
            history_ms: rule.history.as_millis() as i64,
            learned_from: state
                .earliest
                .map(|earliest| earliest + rule.learning.as_millis() as i64),
        }
    }

    /// Whether a signal of `tuple` at `time` is sure not to alert: its tuple is known within
    /// the history, or the learning period is still running at its time.
    fn silent(&self, tuple: Option<&str>, time: i64) -> bool {
        let learning = self.learned_from.is_some_and(|from| time < from);
        let known = tuple
            .and_then(|tuple| self.history.get(tuple))
            .is_some_and(|last| last >= time - self.history_ms);
        learning || known
    }
}

/// Processes a quiet signal (in order): it is counted once, and its tuple is seen.
fn process_quiet(state: &mut CorrelationState, signal: QuietSignal, stats: &mut CorrelationStats) {
    if state.seen.record_hash(signal.seen, signal.time) {
        stats.duplicate_signals += 1;
        return;
    }
    state.earliest.get_or_insert(signal.time);
    state.history.record_hash(signal.tuple, signal.time);
}

/// Writes the duplicate-check key of a signal (rule position and event id) into `key`.
fn write_seen_key(key: &mut String, source: usize, event_id: &str) {
    key.clear();
    write!(key, "{source}\u{1f}{event_id}").expect("writing to a String");
}

/// What a correlation evaluates on the matches of one of its rules, over the columns read.
struct SourceExprs {
    /// The lake columns the expressions read (indexes into the lake schema), ascending.
    columns: Vec<usize>,
    /// The group-by expressions, over `columns`.
    group: Vec<Arc<dyn PhysicalExpr>>,
    /// The `value_count` field or `new_terms` fields, over `columns`.
    value: Vec<Arc<dyn PhysicalExpr>>,
}

impl SourceExprs {
    /// `group` and `value` (over the lake `schema`) moved onto the columns they read.
    fn new(
        group: Vec<Arc<dyn PhysicalExpr>>,
        value: Vec<Arc<dyn PhysicalExpr>>,
        schema: &SchemaRef,
    ) -> datafusion::error::Result<Self> {
        let mut columns: Vec<usize> = group
            .iter()
            .chain(&value)
            .flat_map(collect_columns)
            .map(|column| column.index())
            .collect();
        columns.sort_unstable();
        columns.dedup();
        let projected = schema.project(&columns)?;
        let onto_projection = |exprs: Vec<Arc<dyn PhysicalExpr>>| {
            exprs
                .into_iter()
                .map(|expr| reassign_expr_columns(expr, &projected))
                .collect::<datafusion::error::Result<Vec<_>>>()
        };
        Ok(Self { group: onto_projection(group)?, value: onto_projection(value)?, columns })
    }

    /// The group-by values and the values, as text columns, of the rows `positions` of
    /// `batch`.
    fn evaluate(
        &self,
        batch: &RecordBatch,
        positions: &UInt32Array,
    ) -> datafusion::error::Result<(Vec<ArrayRef>, Vec<ArrayRef>)> {
        let input = if self.columns.is_empty() {
            // Expressions that read no column (a constant group) still need the row count,
            // which a batch without columns only has when it is given.
            let rows = RecordBatchOptions::new().with_row_count(Some(positions.len()));
            RecordBatch::try_new_with_options(Arc::new(Schema::empty()), Vec::new(), &rows)?
        } else {
            take_record_batch(&batch.project(&self.columns)?, positions)?
        };
        Ok((evaluate_text(&self.group, &input)?, evaluate_text(&self.value, &input)?))
    }
}

/// Evaluates expressions over matched rows, as text columns.
fn evaluate_text(
    exprs: &[Arc<dyn PhysicalExpr>],
    rows: &RecordBatch,
) -> datafusion::error::Result<Vec<ArrayRef>> {
    exprs
        .iter()
        .map(|expr| Ok(cast(&expr.evaluate(rows)?.into_array(rows.num_rows())?, &DataType::Utf8)?))
        .collect()
}

/// The text columns of [`evaluate_text`] as string arrays.
fn text_columns(columns: &[ArrayRef]) -> Vec<&StringArray> {
    columns.iter().map(|column| column.as_string::<i32>()).collect()
}

/// Correlation ids in dependency order; errors on unknown references and cycles.
fn dependency_order(
    by_id: &HashMap<String, CorrelationRule>,
    detections: &std::collections::HashSet<&str>,
) -> Result<Vec<String>> {
    let mut order = Vec::new();
    let mut state: HashMap<&str, bool> = HashMap::new(); // false = visiting, true = done
    fn visit<'a>(
        id: &'a str,
        by_id: &'a HashMap<String, CorrelationRule>,
        detections: &std::collections::HashSet<&str>,
        state: &mut HashMap<&'a str, bool>,
        order: &mut Vec<String>,
    ) -> Result<()> {
        match state.get(id) {
            Some(true) => return Ok(()),
            Some(false) => {
                let rule = &by_id[id];
                return Err(PipelineError::Rule {
                    file: rule.file.clone(),
                    line: 0,
                    reason: format!("correlation '{id}' is part of a reference cycle"),
                });
            }
            None => {}
        }
        state.insert(id, false);
        let rule = &by_id[id];
        for source in &rule.spec.rules {
            if by_id.contains_key(source) {
                visit(source, by_id, detections, state, order)?;
            } else if !detections.contains(source.as_str()) {
                return Err(PipelineError::Rule {
                    file: rule.file.clone(),
                    line: 0,
                    reason: format!(
                        "rules names '{source}', which is neither a detection nor a correlation rule"
                    ),
                });
            }
        }
        state.insert(id, true);
        order.push(id.to_string());
        Ok(())
    }
    let mut ids: Vec<&String> = by_id.keys().collect();
    ids.sort();
    for id in ids {
        visit(id, by_id, detections, &mut state, &mut order)?;
    }
    Ok(order)
}
