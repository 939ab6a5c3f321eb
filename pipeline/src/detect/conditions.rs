//! The conditions of a rule's conjunction, each evaluated on its own: on every row of a
//! batch, or on the rows the conditions before it left, reading only what it needs.

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::{prep_null_mask_filter, take};
use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::physical_expr::expressions::{Column, LikeExpr, Literal};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};

use super::regex_match::RegexMatchExpr;

/// One condition of a rule's conjunction.
#[derive(Debug)]
pub(super) struct Condition {
    /// Over the values of [`Self::leaves`], one column each.
    expr: Arc<dyn PhysicalExpr>,
    /// What the condition reads, over the lake schema: columns, and struct members
    /// (`useridentity.type`) rather than whole structs, so that gathering a condition's rows
    /// copies the members it reads only.
    leaves: Vec<Arc<dyn PhysicalExpr>>,
    /// The schema of the leaves' values.
    schema: SchemaRef,
    /// It calls a function (a JSON path, a regular expression, a text function) or matches
    /// a LIKE pattern: worth evaluating on the rows left only.
    pub(super) costly: bool,
}

impl Condition {
    /// The condition `expr` over `lake_schema`, moved onto its leaves.
    pub(super) fn new(
        expr: &Arc<dyn PhysicalExpr>,
        lake_schema: &Schema,
    ) -> datafusion::error::Result<Self> {
        let mut leaves: Vec<Arc<dyn PhysicalExpr>> = Vec::new();
        let expr = Arc::clone(expr)
            .transform_down(|node| {
                if !is_leaf(&node) {
                    return Ok(Transformed::no(node));
                }
                let index = match leaves.iter().position(|leaf| leaf.as_ref() == node.as_ref()) {
                    Some(index) => index,
                    None => {
                        leaves.push(node);
                        leaves.len() - 1
                    }
                };
                let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(&leaf_name(index), index));
                Ok(Transformed::new(column, true, TreeNodeRecursion::Jump))
            })?
            .data;
        let fields = leaves
            .iter()
            .enumerate()
            .map(|(index, leaf)| {
                Ok(Field::new(leaf_name(index), leaf.data_type(lake_schema)?, true))
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        Ok(Self { costly: is_costly(&expr), expr, leaves, schema: Arc::new(Schema::new(fields)) })
    }

    /// Where the condition holds among `rows` of `batch` (all of them when `None`), NULL
    /// counting as false, as in a WHERE clause.
    pub(super) fn holds(
        &self,
        batch: &RecordBatch,
        rows: Option<&UInt32Array>,
    ) -> datafusion::error::Result<BooleanArray> {
        let row_count = rows.map_or(batch.num_rows(), |rows| rows.len());
        let values = self
            .leaves
            .iter()
            .map(|leaf| {
                let values = leaf.evaluate(batch)?.into_array(batch.num_rows())?;
                Ok(match rows {
                    Some(rows) => take(&values, rows, None)?,
                    None => values,
                })
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(row_count));
        let input = RecordBatch::try_new_with_options(self.schema.clone(), values, &options)?;
        let result = self.expr.evaluate(&input)?.into_array(row_count)?;
        Ok(match result.as_boolean() {
            result if result.null_count() > 0 => prep_null_mask_filter(result),
            result => result.clone(),
        })
    }

    /// What tells two conditions apart: the expression and what its leaves are.
    pub(super) fn describe(&self) -> String {
        let leaves: Vec<String> = self.leaves.iter().map(ToString::to_string).collect();
        format!("{} [{}]", self.expr, leaves.join(", "))
    }
}

/// Whether `expr` is a column or a member of a struct column (`get_field` with constant
/// names).
fn is_leaf(expr: &Arc<dyn PhysicalExpr>) -> bool {
    if expr.downcast_ref::<Column>().is_some() {
        return true;
    }
    let Some(function) = expr.downcast_ref::<ScalarFunctionExpr>() else { return false };
    let args = function.args();
    function.name() == "get_field"
        && args.first().is_some_and(is_leaf)
        && args[1..].iter().all(|arg| arg.downcast_ref::<Literal>().is_some())
}

/// The name of a condition's input column `index`.
fn leaf_name(index: usize) -> String {
    format!("leaf{index}")
}

/// A cheap condition is evaluated on the rows left, gathered, rather than on every row of
/// the batch, once they are fewer than one in this many.
pub(super) const GATHER_BELOW: usize = 5;

/// Whether `expr` calls a function (but `coalesce`, which picks among its arguments) or
/// matches a pattern: per row, such calls cost many times a comparison of columns.
fn is_costly(expr: &Arc<dyn PhysicalExpr>) -> bool {
    let calls = expr
        .downcast_ref::<ScalarFunctionExpr>()
        .is_some_and(|function| function.name() != "coalesce");
    calls
        || expr.downcast_ref::<LikeExpr>().is_some()
        || expr.downcast_ref::<RegexMatchExpr>().is_some()
        || expr.children().into_iter().any(is_costly)
}
