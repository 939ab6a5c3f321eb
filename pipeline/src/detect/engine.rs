//! Rules compiled once into DataFusion physical expressions and evaluated on every batch.
//!
//! A rule's WHERE clause is planned by DataFusion's SQL planner against the lake schema
//! (unknown columns and type errors fail here, at load time), coerced and simplified into a
//! physical expression, and then evaluated directly on each record batch: no per-batch
//! planning, and only the columns the predicate reads are touched.
//!
//! Work is shared across rules so that their cost grows slower than their number: most rules
//! can only match a few event names (`eventname = 'X'`, `eventname IN (...)` in a
//! conjunction), so each batch's rows are grouped by event name once, a rule runs only on
//! the rows of its names (and not at all when the batch has none), and it reads only the
//! columns it needs, gathered for those rows.

use std::collections::{BTreeSet, HashMap};
use std::panic::resume_unwind;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::{cast, filter_record_batch, take_record_batch};
use arrow::datatypes::{DataType, Schema};
use datafusion::common::tree_node::TreeNode;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, Operator};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::utils::{collect_columns, reassign_expr_columns};
use datafusion::physical_expr::{PhysicalExpr, create_physical_expr};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, SelectItem, SetExpr, Statement as SqlStatement, Value as SqlValue,
    WildcardAdditionalOptions,
};
use lake::schema::cloudtrail_schema;
use serde_json::{Map, Value};

use super::regex_match::compile_regex_matches;
use super::rule::{RULE_TABLE, Rule};
use crate::error::{PipelineError, Result};

/// A rule ready to run.
#[derive(Debug)]
pub struct CompiledRule {
    /// The rule.
    pub rule: Arc<Rule>,
    /// The WHERE clause over [`Self::columns`] of the lake schema, in that order.
    predicate: Arc<dyn PhysicalExpr>,
    /// The lake columns the WHERE clause reads (indexes into the lake schema).
    columns: Vec<usize>,
    /// The event names outside of which the rule cannot match (`None`: any row may).
    event_names: Option<BTreeSet<String>>,
    /// Extra alert fields: the SELECT list when it is not `*`.
    fields: Vec<(String, Arc<dyn PhysicalExpr>)>,
    dedup_key: Vec<Arc<dyn PhysicalExpr>>,
}

/// The rows of one batch that matched one rule.
#[derive(Debug)]
pub struct RuleMatches {
    /// The rule that matched.
    pub rule: Arc<Rule>,
    /// The batch the rule was evaluated on (lake schema).
    pub batch: RecordBatch,
    /// Per match, its row in `batch`, ascending.
    pub positions: Vec<u32>,
    /// The matching rows gathered, once something needs them whole (an alert, an exception,
    /// dedup keys, fields). A signal rule feeding correlations reads a few columns of its
    /// matches, and gathering every column of them was most of what its matches cost.
    rows: OnceLock<RecordBatch>,
    /// Per match, the dedup key (when the rule has one).
    pub dedup_keys: Option<Vec<String>>,
    /// Per match, the rule's selected fields (when it selects more than `*`).
    pub fields: Option<Vec<Map<String, Value>>>,
}

impl RuleMatches {
    /// The matches of `rule` at `positions` of `batch`, without dedup keys or fields.
    pub fn new(rule: Arc<Rule>, batch: RecordBatch, positions: Vec<u32>) -> Self {
        Self { rule, batch, positions, rows: OnceLock::new(), dedup_keys: None, fields: None }
    }

    /// How many rows matched.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether no row matched.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The matching rows (lake schema), gathered on first use.
    pub fn rows(&self) -> Result<&RecordBatch> {
        if let Some(rows) = self.rows.get() {
            return Ok(rows);
        }
        let rows = take_record_batch(&self.batch, &UInt32Array::from(self.positions.clone()))
            .map_err(|source| PipelineError::Arrow { context: "selecting matched rows", source })?;
        Ok(self.rows.get_or_init(|| rows))
    }

    /// The matches whose flag in `keep` is set.
    pub fn subset(self, keep: &[bool]) -> Result<Self> {
        let rows = match self.rows.get() {
            Some(rows) => {
                let mask = BooleanArray::from(keep.to_vec());
                let rows = filter_record_batch(rows, &mask).map_err(|source| {
                    PipelineError::Arrow { context: "removing suppressed matches", source }
                })?;
                OnceLock::from(rows)
            }
            None => OnceLock::new(),
        };
        Ok(Self {
            rule: self.rule,
            batch: self.batch,
            positions: kept(self.positions, keep),
            rows,
            dedup_keys: self.dedup_keys.map(|keys| kept(keys, keep)),
            fields: self.fields.map(|fields| kept(fields, keep)),
        })
    }
}

/// The values whose flag in `keep` is set.
fn kept<T>(values: Vec<T>, keep: &[bool]) -> Vec<T> {
    values.into_iter().zip(keep).filter(|(_, kept)| **kept).map(|(value, _)| value).collect()
}

/// All loaded rules, compiled.
#[derive(Debug)]
pub struct DetectionEngine {
    rules: Vec<CompiledRule>,
    /// Event name → positions of the rules that can match it.
    by_event_name: HashMap<String, Vec<usize>>,
    /// Index of the `eventname` column in the lake schema.
    event_name_column: usize,
    /// Per rule, the first rule with the same filter (predicate and event names): a filter
    /// several rules share is evaluated once per batch.
    same_filter: Vec<usize>,
}

impl DetectionEngine {
    /// Plans every rule against the lake schema. The first broken rule fails the load with
    /// its file and line.
    pub async fn compile(rules: Vec<Rule>) -> Result<Self> {
        let ctx = SessionContext::new();
        lake::functions::register_all(&ctx);
        let schema = cloudtrail_schema();
        let table = MemTable::try_new(schema.clone(), vec![vec![]]).map_err(|source| {
            PipelineError::RuleEvaluation { rule_id: "(setup)".into(), source }
        })?;
        ctx.register_table(RULE_TABLE, Arc::new(table)).map_err(|source| {
            PipelineError::RuleEvaluation { rule_id: "(setup)".into(), source }
        })?;
        let qualified =
            DFSchema::try_from_qualified_schema(RULE_TABLE, &schema).map_err(|source| {
                PipelineError::RuleEvaluation { rule_id: "(setup)".into(), source }
            })?;
        // Planned on the runtime's threads at once: planning the pack is most of a start.
        let qualified = Arc::new(qualified);
        let planning: Vec<_> = rules
            .into_iter()
            .map(|rule| {
                let (ctx, qualified, schema) = (ctx.clone(), qualified.clone(), schema.clone());
                tokio::spawn(async move { compile_rule(&ctx, &qualified, &schema, rule).await })
            })
            .collect();
        let mut compiled = Vec::with_capacity(planning.len());
        for planned in planning {
            let planned = planned.await.unwrap_or_else(|error| resume_unwind(error.into_panic()));
            compiled.push(planned?);
        }
        let mut by_event_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (position, rule) in compiled.iter().enumerate() {
            for name in rule.event_names.iter().flatten() {
                by_event_name.entry(name.clone()).or_default().push(position);
            }
        }
        let event_name_column = schema.index_of(EVENT_NAME).expect("the lake schema has eventname");
        let mut first_with: HashMap<String, usize> = HashMap::new();
        let same_filter = compiled
            .iter()
            .enumerate()
            .map(|(position, rule)| {
                let key = format!("{:?}|{}", rule.event_names, rule.predicate);
                *first_with.entry(key).or_insert(position)
            })
            .collect();
        Ok(Self { rules: compiled, by_event_name, event_name_column, same_filter })
    }

    /// The compiled rules.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<Rule>> {
        self.rules.iter().map(|compiled| &compiled.rule)
    }

    /// Evaluates every rule on `batch` (lake schema); returns the rules that matched, in
    /// rule order.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<Vec<RuleMatches>> {
        // The candidate rows of each rule that is limited to some event names.
        let mut candidates: Vec<Vec<u32>> = vec![Vec::new(); self.rules.len()];
        let names = cast(batch.column(self.event_name_column), &DataType::Utf8)
            .map_err(|source| PipelineError::Arrow { context: "reading event names", source })?;
        let names = names.as_string::<i32>();
        let mut rows_by_name: HashMap<&str, Vec<u32>> = HashMap::new();
        for row in 0..names.len() {
            if names.is_valid(row) {
                rows_by_name.entry(names.value(row)).or_default().push(row as u32);
            }
        }
        for (name, rows) in &rows_by_name {
            for &position in self.by_event_name.get(*name).into_iter().flatten() {
                candidates[position].extend_from_slice(rows);
            }
        }
        let mut found = Vec::new();
        let mut matched_by_filter: HashMap<usize, Vec<u32>> = HashMap::new();
        for (position, (compiled, mut rows)) in self.rules.iter().zip(candidates).enumerate() {
            let filter = self.same_filter[position];
            let matched = match matched_by_filter.get(&filter) {
                Some(matched) => matched.clone(),
                None => {
                    let matched = if compiled.event_names.is_some() {
                        // Matches come out in row order, whatever the order of the names.
                        rows.sort_unstable();
                        if rows.is_empty() {
                            Vec::new()
                        } else {
                            compiled.matching_rows(batch, Some(&UInt32Array::from(rows)))?
                        }
                    } else {
                        compiled.matching_rows(batch, None)?
                    };
                    matched_by_filter.insert(filter, matched.clone());
                    matched
                }
            };
            found.extend(compiled.matches(batch, matched)?);
        }
        Ok(found)
    }
}

impl CompiledRule {
    /// The rows of `batch` (or of its rows `candidates`) the rule's filter holds for.
    fn matching_rows(
        &self,
        batch: &RecordBatch,
        candidates: Option<&UInt32Array>,
    ) -> Result<Vec<u32>> {
        let failed =
            |source| PipelineError::RuleEvaluation { rule_id: self.rule.meta.id.clone(), source };
        let arrow_error =
            |source| PipelineError::Arrow { context: "gathering a rule's rows", source };
        let projected = batch.project(&self.columns).map_err(arrow_error)?;
        let input = match candidates {
            Some(rows) => take_record_batch(&projected, rows).map_err(arrow_error)?,
            None => projected,
        };
        let mask = self
            .predicate
            .evaluate(&input)
            .and_then(|value| value.into_array(input.num_rows()))
            .map_err(failed)?;
        let mask = mask.as_boolean();
        let rows: Vec<u32> = (0..mask.len())
            .filter(|&row| mask.is_valid(row) && mask.value(row))
            .map(|row| candidates.map_or(row as u32, |candidates| candidates.value(row)))
            .collect();
        Ok(rows)
    }

    /// The rule's matches among `batch`'s `rows`, with their dedup keys and fields.
    fn matches(&self, batch: &RecordBatch, rows: Vec<u32>) -> Result<Option<RuleMatches>> {
        let failed =
            |source| PipelineError::RuleEvaluation { rule_id: self.rule.meta.id.clone(), source };
        if rows.is_empty() {
            return Ok(None);
        }
        let mut matches = RuleMatches::new(self.rule.clone(), batch.clone(), rows);
        if !self.dedup_key.is_empty() {
            matches.dedup_keys = Some(self.dedup_keys(matches.rows()?).map_err(failed)?);
        }
        if !self.fields.is_empty() {
            matches.fields = Some(self.fields(matches.rows()?)?);
        }
        Ok(Some(matches))
    }

    /// The dedup key of each row: the key expressions' values as text, joined.
    fn dedup_keys(&self, rows: &RecordBatch) -> datafusion::error::Result<Vec<String>> {
        let mut keys = vec![String::new(); rows.num_rows()];
        for (position, expr) in self.dedup_key.iter().enumerate() {
            let values = expr.evaluate(rows)?.into_array(rows.num_rows())?;
            let text = cast(&values, &DataType::Utf8)?;
            let text = text.as_string::<i32>();
            for (row, key) in keys.iter_mut().enumerate() {
                if position > 0 {
                    key.push('\u{1f}');
                }
                key.push_str(if text.is_null(row) { "\u{0}" } else { text.value(row) });
            }
        }
        Ok(keys)
    }

    /// The SELECT list's values of each row, as JSON objects.
    fn fields(&self, rows: &RecordBatch) -> Result<Vec<Map<String, Value>>> {
        let failed =
            |source| PipelineError::RuleEvaluation { rule_id: self.rule.meta.id.clone(), source };
        let mut columns = Vec::with_capacity(self.fields.len());
        let mut schema_fields = Vec::with_capacity(self.fields.len());
        for (name, expr) in &self.fields {
            let values = expr
                .evaluate(rows)
                .and_then(|value| value.into_array(rows.num_rows()))
                .map_err(failed)?;
            schema_fields.push(arrow::datatypes::Field::new(
                name,
                values.data_type().clone(),
                true,
            ));
            columns.push(values);
        }
        let schema = Arc::new(arrow::datatypes::Schema::new(schema_fields));
        let arrow_error =
            |source| PipelineError::Arrow { context: "rendering rule fields as JSON", source };
        let batch = RecordBatch::try_new(schema, columns).map_err(arrow_error)?;
        let mut writer = arrow::json::ArrayWriter::new(Vec::new());
        writer.write(&batch).map_err(arrow_error)?;
        writer.finish().map_err(arrow_error)?;
        let rendered: Vec<Map<String, Value>> =
            serde_json::from_slice(&writer.into_inner()).unwrap_or_default();
        Ok(rendered)
    }
}

/// The lake column of CloudTrail's `eventName`.
const EVENT_NAME: &str = "eventname";

async fn compile_rule(
    ctx: &SessionContext,
    schema: &DFSchema,
    lake_schema: &Schema,
    rule: Rule,
) -> Result<CompiledRule> {
    let plan = plan_rule(ctx, &rule).await.map_err(|error| plan_error(&rule, &error))?;
    let (projection, predicate) = split_plan(&plan).ok_or_else(|| {
        rule.error_at(
            None,
            "the statement did not plan as SELECT ... FROM cloudtrail WHERE ...".into(),
        )
    })?;
    let event_names = event_names(predicate);
    let predicate_expr =
        to_physical(ctx, predicate.clone(), schema).map_err(|error| plan_error(&rule, &error))?;
    // Evaluated on the batch projected to the columns it reads.
    let mut columns: Vec<usize> =
        collect_columns(&predicate_expr).iter().map(|column| column.index()).collect();
    columns.sort_unstable();
    let projected = lake_schema.project(&columns).map_err(|source| PipelineError::Arrow {
        context: "projecting the lake schema to a rule's columns",
        source,
    })?;
    let predicate_expr = reassign_expr_columns(predicate_expr, &projected)
        .map_err(|error| plan_error(&rule, &error))?;
    let mut fields = Vec::new();
    if !rule.selects_all {
        for expr in projection {
            let name = expr.schema_name().to_string();
            let name = match expr {
                Expr::Alias(alias) => alias.name.clone(),
                Expr::Column(column) => column.name.clone(),
                _ => name,
            };
            let physical = to_physical(ctx, expr.clone(), schema)
                .map_err(|error| plan_error(&rule, &error))?;
            fields.push((name, physical));
        }
    }
    let mut dedup_key = Vec::new();
    for key in &rule.meta.dedup_key {
        let expr = ctx
            .parse_sql_expr(key, schema)
            .and_then(|expr| to_physical(ctx, expr, schema))
            .map_err(|error| rule.error_at(None, format!("invalid dedup_key '{key}': {error}")))?;
        dedup_key.push(expr);
    }
    Ok(CompiledRule {
        rule: Arc::new(rule),
        predicate: predicate_expr,
        columns,
        event_names,
        fields,
        dedup_key,
    })
}

/// The logical plan of `rule`'s statement, with any `*` of its SELECT list planned as a
/// constant: the matches of a rule selecting `*` carry whole events, not its projection, and
/// expanding the wildcard over the lake's columns was half of planning the pack
/// (deduplicating the expanded names is quadratic in the columns). The other items of the
/// list, and a `*` with options, are still planned, so a broken one fails the load.
async fn plan_rule(ctx: &SessionContext, rule: &Rule) -> datafusion::error::Result<LogicalPlan> {
    let state = ctx.state();
    let mut statement =
        state.sql_to_statement(&rule.sql, &state.config_options().sql_parser.dialect)?;
    if let DFStatement::Statement(statement) = &mut statement
        && let SqlStatement::Query(query) = statement.as_mut()
        && let SetExpr::Select(select) = query.body.as_mut()
    {
        let plain_wildcard = WildcardAdditionalOptions::default();
        for item in &mut select.projection {
            // A `*` with options (EXCLUDE, REPLACE, ...) is planned as written: they name
            // columns, which must exist.
            if matches!(item, SelectItem::Wildcard(options) if *options == plain_wildcard) {
                let constant = SqlExpr::value(SqlValue::Number("1".into(), false));
                *item = SelectItem::UnnamedExpr(constant);
            }
        }
    }
    state.statement_to_plan(statement).await
}

/// The event names a predicate can only be true for, when it says so plainly: `eventname`
/// compared for equality with text, or listed with `IN`, in a conjunction (`AND` narrows,
/// `OR` of two narrowed sides unites). `None`: the rule may match any event name.
fn event_names(predicate: &Expr) -> Option<BTreeSet<String>> {
    let is_event_name =
        |expr: &Expr| matches!(expr, Expr::Column(column) if column.name == EVENT_NAME);
    let text = |expr: &Expr| match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(text))
            | ScalarValue::LargeUtf8(Some(text))
            | ScalarValue::Utf8View(Some(text)),
            _,
        ) => Some(text.clone()),
        _ => None,
    };
    match predicate {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
            match (event_names(left), event_names(right)) {
                (Some(left), Some(right)) => Some(left.intersection(&right).cloned().collect()),
                (left, right) => left.or(right),
            }
        }
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Or, right }) => {
            let mut names = event_names(left)?;
            names.extend(event_names(right)?);
            Some(names)
        }
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) => {
            match (is_event_name(left), is_event_name(right)) {
                (true, _) => text(right).map(|name| BTreeSet::from([name])),
                (_, true) => text(left).map(|name| BTreeSet::from([name])),
                _ => None,
            }
        }
        Expr::InList(list) if !list.negated && is_event_name(&list.expr) => {
            list.list.iter().map(text).collect()
        }
        Expr::Alias(alias) => event_names(&alias.expr),
        _ => None,
    }
}

/// Coerces, simplifies and plans an expression: what DataFusion's optimizer would do to it
/// inside a query (some functions, such as `coalesce`, only execute once simplified), with
/// regex matches against constant patterns compiled once here.
pub(crate) fn to_physical(
    ctx: &SessionContext,
    expr: Expr,
    schema: &DFSchema,
) -> datafusion::error::Result<Arc<dyn PhysicalExpr>> {
    let state = ctx.state();
    let context = SimplifyContext::builder()
        .with_schema(Arc::new(schema.clone()))
        .with_config_options(Arc::clone(state.config_options()))
        .build();
    let simplifier = ExprSimplifier::new(context);
    let mut expr = simplifier.simplify(simplifier.coerce(expr, schema)?)?;
    // What `SessionState::create_physical_expr` does but coercing again (a fifth of planning).
    for rewrite in state.analyzer().function_rewrites() {
        expr =
            expr.transform_up(|expr| rewrite.rewrite(expr, schema, state.config_options()))?.data;
    }
    let planning = PhysicalPlanningContext::default();
    let physical = create_physical_expr(&expr, schema, state.execution_props(), &planning)?;
    compile_regex_matches(physical, schema.as_arrow())
}

/// The SELECT list and WHERE predicate of a `Projection(Filter(TableScan))` plan.
fn split_plan(plan: &LogicalPlan) -> Option<(&[Expr], &Expr)> {
    let LogicalPlan::Projection(projection) = plan else {
        return None;
    };
    let LogicalPlan::Filter(filter) = projection.input.as_ref() else {
        return None;
    };
    matches!(filter.input.as_ref(), LogicalPlan::TableScan(_))
        .then_some((&projection.expr, &filter.predicate))
}

/// A planning error, placed on the line naming the offending field when there is one.
fn plan_error(rule: &Rule, error: &datafusion::error::DataFusionError) -> PipelineError {
    let message = error.to_string();
    let needle = message
        .split("No field named ")
        .nth(1)
        .map(|rest| {
            rest.trim_matches(|c: char| c == '"' || c == '\'' || c == '.')
                .split(['"', '.', ' '])
                .next()
                .unwrap_or("")
        })
        .filter(|name| !name.is_empty())
        .map(|name| name.rsplit('.').next().unwrap_or(name).to_string());
    rule.error_at(needle.as_deref(), message.lines().next().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::decode::{DecodeConfig, decode};

    fn rule(select: &str, extra_meta: &str) -> Rule {
        let text = format!(
            "/*\nid = \"t.rule\"\ntitle = \"T\"\nseverity = \"low\"\ndescription = \"d\"\ntactics = [\"TA0001\"]\ntechniques = [\"T1078\"]\n{extra_meta}*/\n{select}"
        );
        Rule::parse(Path::new("rules/t.sql"), &text).unwrap()
    }

    fn batch(records: &[serde_json::Value]) -> RecordBatch {
        let text = serde_json::to_string(records).unwrap();
        let mut batches = Vec::new();
        decode(text.as_bytes(), "t", &DecodeConfig::default(), |batch| {
            batches.push(batch);
            true
        });
        batches.remove(0)
    }

    fn event(name: &str, user_type: &str, bucket: &str) -> serde_json::Value {
        serde_json::json!({
            "eventTime": "2025-01-01T00:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": name,
            "userIdentity": {"type": user_type, "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/r"}}},
            "requestParameters": {"bucketName": bucket}, "eventID": format!("{name}-{bucket}")
        })
    }

    #[tokio::test]
    async fn rules_run_only_on_the_rows_of_their_event_names() {
        let ctx = SessionContext::new();
        let schema = DFSchema::try_from(cloudtrail_schema().as_ref().clone()).unwrap();
        let names = |condition: &str| {
            let expr = ctx.parse_sql_expr(condition, &schema).unwrap();
            event_names(&expr).map(|names| names.into_iter().collect::<Vec<_>>())
        };
        assert_eq!(names("eventname = 'A' AND useridentity.type = 'Root'"), Some(vec!["A".into()]));
        assert_eq!(
            names("eventname IN ('A', 'B') AND (eventname = 'B' OR eventname = 'C')"),
            Some(vec!["B".into()])
        );
        assert_eq!(names("eventname = 'A' OR eventsource = 'x'"), None);
        assert_eq!(names("eventname LIKE 'Describe%'"), None);
        assert_eq!(names("eventname NOT IN ('A')"), None);

        // Three rules over a batch of mixed names: each matches exactly as if it ran on every
        // row, in row order, and a rule whose names are absent is not run at all.
        let records = [
            event("PutBucketPolicy", "Root", "a"),
            event("GetObject", "Root", "b"),
            event("PutBucketPolicy", "IAMUser", "c"),
            event("DeleteBucketPolicy", "Root", "d"),
        ];
        let named = |id: &str, condition: &str| {
            let text = format!(
                "/*\nid = \"{id}\"\ntitle = \"T\"\nseverity = \"low\"\ndescription = \"d\"\ntactics = [\"TA0001\"]\ntechniques = [\"T1078\"]\n*/\nSELECT * FROM cloudtrail WHERE {condition}"
            );
            Rule::parse(Path::new("rules/t.sql"), &text).unwrap()
        };
        let engine = DetectionEngine::compile(vec![
            named(
                "t.policy",
                "eventname IN ('DeleteBucketPolicy', 'PutBucketPolicy') AND useridentity.type = 'Root'",
            ),
            named("t.any", "useridentity.type = 'Root'"),
            named("t.absent", "eventname = 'StopLogging'"),
            // The same filter as the first rule: evaluated once, matched by both.
            named(
                "t.policy_again",
                "eventname IN ('DeleteBucketPolicy', 'PutBucketPolicy') AND useridentity.type = 'Root'",
            ),
        ])
        .await
        .unwrap();
        let found = engine.evaluate(&batch(&records)).unwrap();
        let ids = |matches: &RuleMatches| {
            let column = matches.rows().unwrap().column_by_name("eventid").unwrap();
            let column = cast(column, &DataType::Utf8).unwrap();
            (0..column.len())
                .map(|row| column.as_string::<i32>().value(row).to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(found.len(), 3);
        assert_eq!(ids(&found[0]), ["PutBucketPolicy-a", "DeleteBucketPolicy-d"]);
        assert_eq!(ids(&found[1]), ["PutBucketPolicy-a", "GetObject-b", "DeleteBucketPolicy-d"]);
        assert_eq!(found[2].rule.meta.id, "t.policy_again");
        assert_eq!(ids(&found[2]), ids(&found[0]));
    }

    #[tokio::test]
    async fn evaluates_struct_members_and_json_paths() {
        let sql = "SELECT * FROM cloudtrail WHERE useridentity.type = 'Root' \
                   AND json_extract_scalar(requestparameters, '$.bucketName') LIKE 'prod-%' \
                   AND useridentity.sessioncontext.sessionissuer.arn IS NOT NULL";
        let engine = DetectionEngine::compile(vec![rule(sql, "")]).await.unwrap();
        let rows = batch(&[
            event("DeleteBucket", "Root", "prod-a"),
            event("DeleteBucket", "IAMUser", "prod-b"),
            event("DeleteBucket", "Root", "dev-c"),
        ]);
        let matches = engine.evaluate(&rows).unwrap();
        assert_eq!(matches.len(), 1);
        assert_eq!(matches[0].len(), 1);
        assert!(matches[0].fields.is_none() && matches[0].dedup_keys.is_none());
    }

    #[tokio::test]
    async fn selected_fields_and_dedup_keys_are_computed_per_match() {
        let sql = "SELECT json_extract_scalar(requestparameters, '$.bucketName') AS bucket, eventname \
                   FROM cloudtrail WHERE eventname = 'DeleteBucket'";
        let meta = "dedup_key = [\"useridentity.type\", \"eventname\"]\ndedup_period = \"1h\"\n";
        let engine = DetectionEngine::compile(vec![rule(sql, meta)]).await.unwrap();
        let matches = engine
            .evaluate(&batch(&[
                event("DeleteBucket", "Root", "b1"),
                event("GetObject", "Root", "b2"),
            ]))
            .unwrap();
        let fields = matches[0].fields.as_ref().unwrap();
        assert_eq!(fields[0]["bucket"], "b1");
        assert_eq!(fields[0]["eventname"], "DeleteBucket");
        assert_eq!(
            matches[0].dedup_keys.as_ref().unwrap(),
            &["Root\u{1f}DeleteBucket".to_string()]
        );
    }

    /// The load error of a pack holding only the rule `select` (with `extra_meta`).
    async fn load_error(select: &str, extra_meta: &str) -> String {
        DetectionEngine::compile(vec![rule(select, extra_meta)]).await.unwrap_err().to_string()
    }

    #[tokio::test]
    async fn broken_rules_fail_at_load_with_file_and_line() {
        let error = load_error("SELECT *\nFROM cloudtrail\nWHERE no_such_column = 1", "").await;
        assert!(error.starts_with("rule rules/t.sql:11:"), "{error}");
        assert!(error.contains("no_such_column"), "{error}");

        let error =
            load_error("SELECT * FROM cloudtrail WHERE useridentity.nosuchmember = 'x'", "").await;
        assert!(error.starts_with("rule rules/t.sql:"), "{error}");

        let error = load_error("SELECT * FROM cloudtrail WHERE eventname", "").await;
        assert!(error.contains("non-boolean predicate"), "{error}");

        let error =
            load_error("SELECT * FROM cloudtrail WHERE regexp_like(eventname, 'Delete(')", "")
                .await;
        assert!(error.starts_with("rule rules/t.sql:") && error.contains("regex"), "{error}");

        // The `*` is not expanded at planning; what is listed beside it still is.
        let error =
            load_error("SELECT *, no_such_column FROM cloudtrail WHERE eventname = 'A'", "").await;
        assert!(error.contains("no_such_column"), "{error}");
        let error = load_error(
            "SELECT * EXCLUDE (no_such_column) FROM cloudtrail WHERE eventname = 'A'",
            "",
        )
        .await;
        assert!(error.contains("no_such_column"), "{error}");

        let meta = "dedup_key = [\"nope(\"]\ndedup_period = \"1h\"\n";
        let error = load_error("SELECT * FROM cloudtrail WHERE true", meta).await;
        assert!(error.contains("invalid dedup_key"), "{error}");
    }
}
