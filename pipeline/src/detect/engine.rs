//! Rules compiled once into DataFusion physical expressions and evaluated on every batch.
//!
//! A rule's WHERE clause is planned by DataFusion's SQL planner against the lake schema
//! (unknown columns and type errors fail here, at load time), coerced and simplified into a
//! physical expression, and then evaluated directly on each record batch: no per-batch
//! planning, and only the columns the predicate reads are touched.
//!
//! Work is shared across rules so that their cost grows slower than their number: most rules
//! can only match a few event sources and names (see [`super::prefilter`]), so each batch's
//! rows are grouped by source and name once, a rule runs only on the rows it may match (and
//! not at all when the batch has none), and it reads only the columns it needs, gathered for
//! those rows. The conditions of a rule's conjunction are evaluated one after another, the
//! costly ones (functions, patterns) last and only on the rows the others left.

use std::collections::HashMap;
use std::panic::resume_unwind;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::kernels::boolean::and;
use arrow::compute::{cast, filter_record_batch, take_record_batch};
use arrow::datatypes::{DataType, Schema};
use datafusion::common::DFSchema;
use datafusion::common::tree_node::TreeNode;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::utils::split_conjunction;
use datafusion::physical_expr::{PhysicalExpr, create_physical_expr};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, SelectItem, SetExpr, Statement as SqlStatement, Value as SqlValue,
    WildcardAdditionalOptions,
};
use lake::schema::cloudtrail_schema;
use serde_json::{Map, Value};

use super::conditions::{Condition, GATHER_BELOW};
use super::prefilter::{EVENT_NAME, EVENT_SOURCE, KeyFilter};
use super::regex_match::compile_regex_matches;
use super::rule::{RULE_TABLE, Rule};
use crate::error::{PipelineError, Result};

/// A rule ready to run.
#[derive(Debug)]
pub struct CompiledRule {
    /// The rule.
    pub rule: Arc<Rule>,
    /// The WHERE clause's conjunction: the conditions costly to evaluate last.
    conditions: Vec<Condition>,
    /// What the WHERE clause says of the event source and name of the rows it can match.
    keys: KeyFilter,
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
    /// Indexes of the `eventsource` and `eventname` columns in the lake schema.
    key_columns: (usize, usize),
    /// Per rule, the first rule with the same filter (conditions and keys): a filter
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
        let column = |name| schema.index_of(name).expect("the lake schema has the key columns");
        let key_columns = (column(EVENT_SOURCE), column(EVENT_NAME));
        let mut first_with: HashMap<String, usize> = HashMap::new();
        let same_filter = compiled
            .iter()
            .enumerate()
            .map(|(position, rule)| {
                let conditions: Vec<String> =
                    rule.conditions.iter().map(Condition::describe).collect();
                let key = format!("{:?}|{}", rule.keys, conditions.join(" AND "));
                *first_with.entry(key).or_insert(position)
            })
            .collect();
        Ok(Self { rules: compiled, key_columns, same_filter })
    }

    /// The compiled rules.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<Rule>> {
        self.rules.iter().map(|compiled| &compiled.rule)
    }

    /// Evaluates every rule on `batch` (lake schema); returns the rules that matched, in
    /// rule order.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<Vec<RuleMatches>> {
        let text = |column| {
            cast(batch.column(column), &DataType::Utf8).map_err(|source| PipelineError::Arrow {
                context: "reading event sources and names",
                source,
            })
        };
        let (sources, names) = (text(self.key_columns.0)?, text(self.key_columns.1)?);
        let (sources, names) = (sources.as_string::<i32>(), names.as_string::<i32>());
        fn value(column: &arrow::array::StringArray, row: usize) -> Option<&str> {
            column.is_valid(row).then(|| column.value(row))
        }
        let mut rows_by_key: HashMap<(Option<&str>, Option<&str>), Vec<u32>> = HashMap::new();
        for row in 0..batch.num_rows() {
            let key = (value(sources, row), value(names, row));
            rows_by_key.entry(key).or_default().push(row as u32);
        }
        let mut found = Vec::new();
        let mut matched_by_filter: HashMap<usize, Vec<u32>> = HashMap::new();
        for (position, compiled) in self.rules.iter().enumerate() {
            let filter = self.same_filter[position];
            let matched = match matched_by_filter.get(&filter) {
                Some(matched) => matched.clone(),
                None => {
                    let mut rows: Vec<u32> = rows_by_key
                        .iter()
                        .filter(|((source, name), _)| compiled.keys.accepts(*source, *name))
                        .flat_map(|(_, rows)| rows.iter().copied())
                        .collect();
                    let matched = if rows.is_empty() {
                        Vec::new()
                    } else if rows.len() == batch.num_rows() {
                        compiled.matching_rows(batch, None)?
                    } else {
                        // Matches come out in row order, whatever the order of the keys.
                        rows.sort_unstable();
                        compiled.matching_rows(batch, Some(rows))?
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
    /// The rows of `batch` (or of its rows `candidates`, ascending) the rule's filter holds
    /// for, ascending. The conditions are evaluated in order, each reading only its own
    /// columns: a cheap one on every row of the batch while the rows left are many (and its
    /// result combined with the others'), else, like a costly one, on the rows left only,
    /// gathered (a copy of its columns for those rows).
    fn matching_rows(&self, batch: &RecordBatch, candidates: Option<Vec<u32>>) -> Result<Vec<u32>> {
        let failed =
            |source| PipelineError::RuleEvaluation { rule_id: self.rule.meta.id.clone(), source };
        let arrow_error =
            |source| PipelineError::Arrow { context: "combining a rule's conditions", source };
        // The rows left, ascending (`None`: all of the batch's).
        let mut rows: Option<Vec<u32>> = candidates;
        for condition in &self.conditions {
            let left = rows.as_ref().map_or(batch.num_rows(), Vec::len);
            let gather = condition.costly || left * GATHER_BELOW <= batch.num_rows();
            rows = Some(match rows {
                Some(rows) if gather => {
                    let indices = UInt32Array::from(rows.clone());
                    let holds = condition.holds(batch, Some(&indices)).map_err(failed)?;
                    holds.values().set_indices().map(|index| rows[index]).collect()
                }
                rows => {
                    let mut holds = condition.holds(batch, None).map_err(failed)?;
                    if let Some(rows) = rows {
                        let mut left = vec![false; batch.num_rows()];
                        rows.iter().for_each(|&row| left[row as usize] = true);
                        holds = and(&holds, &BooleanArray::from(left)).map_err(arrow_error)?;
                    }
                    holds.values().set_indices().map(|row| row as u32).collect()
                }
            });
            if rows.as_ref().is_some_and(Vec::is_empty) {
                break;
            }
        }
        Ok(rows.unwrap_or_else(|| (0..batch.num_rows() as u32).collect()))
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
    let keys = KeyFilter::of(predicate);
    let predicate_expr =
        to_physical(ctx, predicate.clone(), schema).map_err(|error| plan_error(&rule, &error))?;
    let mut conditions: Vec<Condition> = split_conjunction(&predicate_expr)
        .into_iter()
        .map(|expr| Condition::new(expr, lake_schema))
        .collect::<datafusion::error::Result<_>>()
        .map_err(|error| plan_error(&rule, &error))?;
    // Stable: conditions alike in cost keep the rule's order.
    conditions.sort_by_key(|condition| condition.costly);
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
    Ok(CompiledRule { rule: Arc::new(rule), conditions, keys, fields, dedup_key })
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

    /// Conditions evaluated one after another, on fewer rows as they go, keep the rows
    /// DataFusion's own query keeps, NULLs included.
    #[tokio::test]
    async fn a_conjunction_keeps_the_rows_a_query_keeps() {
        let records: Vec<serde_json::Value> = (0..40)
            .map(|index: usize| {
                let mut record = event(
                    ["GetObject", "PutObject", "DeleteBucketPolicy", "ListBuckets"][index % 4],
                    ["Root", "IAMUser", "AssumedRole"][index % 3],
                    &format!("{}-{index}", ["prod", "dev"][index % 5 / 3]),
                );
                record["eventID"] = serde_json::json!(format!("e{index}"));
                if index.is_multiple_of(7) {
                    record["errorCode"] = serde_json::json!("AccessDenied");
                }
                if index.is_multiple_of(6) {
                    record["requestParameters"] = serde_json::Value::Null;
                }
                record
            })
            .collect();
        let rows = batch(&records);
        let ctx = SessionContext::new();
        lake::functions::register_all(&ctx);
        ctx.register_batch(RULE_TABLE, rows.clone()).unwrap();
        let conditions = [
            "json_extract_scalar(requestparameters, '$.bucketName') LIKE 'prod-%' \
             AND useridentity.type = 'Root' AND errorcode IS NULL",
            "errorcode IS NULL AND useridentity.type <> 'AssumedRole' \
             AND regexp_like(json_extract_scalar(requestparameters, '$.bucketName'), '-[0-9]*1$')",
            "eventname LIKE 'Get%' AND errorcode IS NULL",
            "eventname IN ('PutObject', 'ListBuckets') AND useridentity.type = 'IAMUser' \
             AND errorcode = 'AccessDenied'",
            "(errorcode IS NULL OR useridentity.type = 'Root') AND lower(eventname) LIKE '%object'",
            "useridentity.type = 'Nobody' AND json_extract_scalar(requestparameters, '$.x') = 'y'",
        ];
        for condition in conditions {
            let query = format!("SELECT eventid FROM {RULE_TABLE} WHERE {condition}");
            let expected: Vec<String> = ctx
                .sql(&query)
                .await
                .unwrap()
                .collect()
                .await
                .unwrap()
                .iter()
                .flat_map(|batch| {
                    let ids = cast(batch.column(0), &DataType::Utf8).unwrap();
                    let ids = ids.as_string::<i32>();
                    (0..ids.len()).map(|row| ids.value(row).to_string()).collect::<Vec<_>>()
                })
                .collect();
            let sql = format!("SELECT * FROM cloudtrail WHERE {condition}");
            let engine = DetectionEngine::compile(vec![rule(&sql, "")]).await.unwrap();
            let found: Vec<String> = engine
                .evaluate(&rows)
                .unwrap()
                .iter()
                .flat_map(|matches| {
                    let ids = matches.rows().unwrap().column_by_name("eventid").unwrap().clone();
                    let ids = cast(&ids, &DataType::Utf8).unwrap();
                    let ids = ids.as_string::<i32>();
                    (0..ids.len()).map(|row| ids.value(row).to_string()).collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(found, expected, "{condition}");
            assert!(expected.len() < records.len(), "{condition} filters some rows out");
            assert!(!expected.is_empty() || condition.contains("Nobody"), "{condition} matches");
        }
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
