//! Rules compiled once into DataFusion physical expressions and evaluated on every batch.
//!
//! A rule's WHERE clause is planned by DataFusion's SQL planner against the lake schema
//! (unknown columns and type errors fail here, at load time), coerced and simplified into a
//! physical expression, and then evaluated directly on each record batch: no per-batch
//! planning, and only the columns the predicate reads are touched.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use arrow::compute::{cast, take_record_batch};
use arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use lake::schema::cloudtrail_schema;
use serde_json::{Map, Value};

use super::rule::{RULE_TABLE, Rule};
use crate::error::{PipelineError, Result};

/// A rule ready to run.
#[derive(Debug)]
pub struct CompiledRule {
    /// The rule.
    pub rule: Arc<Rule>,
    predicate: Arc<dyn PhysicalExpr>,
    /// Extra alert fields: the SELECT list when it is not `*`.
    fields: Vec<(String, Arc<dyn PhysicalExpr>)>,
    dedup_key: Vec<Arc<dyn PhysicalExpr>>,
}

/// The rows of one batch that matched one rule.
#[derive(Debug)]
pub struct RuleMatches {
    /// The rule that matched.
    pub rule: Arc<Rule>,
    /// The matching rows (lake schema).
    pub rows: RecordBatch,
    /// Per row, the dedup key (when the rule has one).
    pub dedup_keys: Option<Vec<String>>,
    /// Per row, the rule's selected fields (when it selects more than `*`).
    pub fields: Option<Vec<Map<String, Value>>>,
}

/// All loaded rules, compiled.
#[derive(Debug)]
pub struct DetectionEngine {
    rules: Vec<CompiledRule>,
}

impl DetectionEngine {
    /// Plans every rule against the lake schema. The first broken rule fails the load with
    /// its file and line.
    pub async fn compile(rules: Vec<Rule>) -> Result<Self> {
        let ctx = SessionContext::new();
        lake::functions::register_all(&ctx);
        let schema = cloudtrail_schema();
        let table = MemTable::try_new(schema.clone(), vec![vec![]]).map_err(|source| {
            PipelineError::RuleEvaluation {
                rule_id: "(setup)".into(),
                source,
            }
        })?;
        ctx.register_table(RULE_TABLE, Arc::new(table))
            .map_err(|source| PipelineError::RuleEvaluation {
                rule_id: "(setup)".into(),
                source,
            })?;
        let qualified =
            DFSchema::try_from_qualified_schema(RULE_TABLE, &schema).map_err(|source| {
                PipelineError::RuleEvaluation {
                    rule_id: "(setup)".into(),
                    source,
                }
            })?;
        let mut compiled = Vec::with_capacity(rules.len());
        for rule in rules {
            compiled.push(compile_rule(&ctx, &qualified, rule).await?);
        }
        Ok(Self { rules: compiled })
    }

    /// The compiled rules.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<Rule>> {
        self.rules.iter().map(|compiled| &compiled.rule)
    }

    /// Evaluates every rule on `batch` (lake schema); returns the rules that matched.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<Vec<RuleMatches>> {
        let mut found = Vec::new();
        for compiled in &self.rules {
            if let Some(matches) = compiled.evaluate(batch)? {
                found.push(matches);
            }
        }
        Ok(found)
    }
}

impl CompiledRule {
    fn evaluate(&self, batch: &RecordBatch) -> Result<Option<RuleMatches>> {
        let failed = |source| PipelineError::RuleEvaluation {
            rule_id: self.rule.meta.id.clone(),
            source,
        };
        let mask = self
            .predicate
            .evaluate(batch)
            .and_then(|value| value.into_array(batch.num_rows()))
            .map_err(failed)?;
        let mask = mask.as_boolean();
        let rows: Vec<u32> = (0..mask.len())
            .filter(|&row| mask.is_valid(row) && mask.value(row))
            .map(|row| row as u32)
            .collect();
        if rows.is_empty() {
            return Ok(None);
        }
        let matched = take_record_batch(batch, &UInt32Array::from(rows)).map_err(|source| {
            PipelineError::Arrow {
                context: "selecting matched rows",
                source,
            }
        })?;
        let dedup_keys = if self.dedup_key.is_empty() {
            None
        } else {
            Some(self.dedup_keys(&matched).map_err(failed)?)
        };
        let fields = if self.fields.is_empty() {
            None
        } else {
            Some(self.fields(&matched)?)
        };
        Ok(Some(RuleMatches {
            rule: self.rule.clone(),
            rows: matched,
            dedup_keys,
            fields,
        }))
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
                key.push_str(if text.is_null(row) {
                    "\u{0}"
                } else {
                    text.value(row)
                });
            }
        }
        Ok(keys)
    }

    /// The SELECT list's values of each row, as JSON objects.
    fn fields(&self, rows: &RecordBatch) -> Result<Vec<Map<String, Value>>> {
        let failed = |source| PipelineError::RuleEvaluation {
            rule_id: self.rule.meta.id.clone(),
            source,
        };
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
        let arrow_error = |source| PipelineError::Arrow {
            context: "rendering rule fields as JSON",
            source,
        };
        let batch = RecordBatch::try_new(schema, columns).map_err(arrow_error)?;
        let mut writer = arrow::json::ArrayWriter::new(Vec::new());
        writer.write(&batch).map_err(arrow_error)?;
        writer.finish().map_err(arrow_error)?;
        let rendered: Vec<Map<String, Value>> =
            serde_json::from_slice(&writer.into_inner()).unwrap_or_default();
        Ok(rendered)
    }
}

async fn compile_rule(ctx: &SessionContext, schema: &DFSchema, rule: Rule) -> Result<CompiledRule> {
    let plan = ctx
        .state()
        .create_logical_plan(&rule.sql)
        .await
        .map_err(|error| plan_error(&rule, &error))?;
    let (projection, predicate) = split_plan(&plan).ok_or_else(|| {
        rule.error_at(
            None,
            "the statement did not plan as SELECT ... FROM cloudtrail WHERE ...".into(),
        )
    })?;
    let predicate_expr =
        to_physical(ctx, predicate.clone(), schema).map_err(|error| plan_error(&rule, &error))?;
    let predicate_type = predicate_expr
        .data_type(&cloudtrail_schema())
        .map_err(|error| plan_error(&rule, &error))?;
    if predicate_type != DataType::Boolean {
        return Err(rule.error_at(
            None,
            format!("the WHERE clause is {predicate_type}, not a boolean condition"),
        ));
    }
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
        fields,
        dedup_key,
    })
}

/// Coerces, simplifies and plans an expression: what DataFusion's optimizer would do to it
/// inside a query (some functions, such as `coalesce`, only execute once simplified).
fn to_physical(
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
    let expr = simplifier.simplify(simplifier.coerce(expr, schema)?)?;
    ctx.create_physical_expr(expr, schema)
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
    rule.error_at(
        needle.as_deref(),
        message.lines().next().unwrap_or_default().to_string(),
    )
}
