//! SQL functions trailhound adds to DataFusion so Athena (Trino) CloudTrail queries run
//! unchanged, in rules and in hunting alike.
//!
//! Where DataFusion already has a function of the same name with Trino's semantics
//! (`regexp_like`, `any_match`), its own stays; where the name exists with other semantics
//! (`contains`, `element_at`, `cardinality`, `split_part`, `to_unixtime`, `from_unixtime`),
//! the Trino version here replaces it.
//!
//! `any_match(array, x -> ...)` is DataFusion's and plans and runs with Trino's semantics,
//! but only under a SQL dialect whose parser knows lambdas (DuckDB, Databricks, ...): the
//! generic dialect that trailhound's sessions and rule validation use parses `x -> x > 2` as
//! the JSON operator `->` between a column `x` and `x > 2`, so planning fails on the unknown
//! column `x`. `trailhound hunt` therefore parses with DuckDB's dialect, where
//! `any_match(resources, r -> r['type'] = 'AWS::KMS::Key')` works (a row's members are read
//! with `r['member']` inside a lambda, not Trino's `r.member`); rules keep the generic dialect.

mod arrays;
mod calendar;
mod conditional;
mod json;
pub mod json_path;
mod network;
mod strings;
mod structure;
mod time;
mod time_format;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, internal_datafusion_err};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, ScalarUDFImpl};
use datafusion::prelude::SessionContext;

/// Registers every trailhound function on a session, replacing DataFusion's functions of the
/// same name.
pub fn register_all(ctx: &SessionContext) {
    let functions: [Arc<dyn ScalarUDFImpl>; 17] = [
        Arc::new(conditional::Coalesce::new()),
        Arc::new(json::JsonExtract::scalar()),
        Arc::new(json::JsonExtract::json()),
        Arc::new(json::JsonArrayContains::new()),
        Arc::new(json::JsonArrayLength::new()),
        Arc::new(time::FromIso8601Timestamp::new()),
        Arc::new(time::DateParse::new()),
        Arc::new(time::ToUnixtime::new()),
        Arc::new(time::FromUnixtime::new()),
        Arc::new(calendar::DateAdd::new()),
        Arc::new(calendar::DateDiff::new()),
        Arc::new(arrays::ElementAt::new()),
        Arc::new(arrays::Cardinality::new()),
        Arc::new(arrays::Contains::new()),
        Arc::new(strings::SplitPart::new()),
        Arc::new(structure::JsonContains::new()),
        Arc::new(network::CidrContains::new()),
    ];
    for function in functions {
        ctx.register_udf(ScalarUDF::new_from_shared_impl(function));
    }
}

/// Whether `data_type` is one of Arrow's string types.
fn is_string(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Any string array as `Utf8`, the one string layout the text functions read.
fn as_utf8(array: &ArrayRef) -> Result<StringArray> {
    let utf8 = cast(array, &DataType::Utf8)?;
    Ok(utf8.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").clone())
}

/// The `N` arguments (as many as `coerce_types` let through) expanded to arrays.
fn arg_arrays<const N: usize>(args: &[ColumnarValue]) -> Result<[ArrayRef; N]> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let count = arrays.len();
    arrays.try_into().map_err(|_| internal_datafusion_err!("expected {N} arguments, got {count}"))
}

/// Wraps a result computed over `args` expanded to arrays: a scalar when every argument was
/// one, since DataFusion expects constant inputs to give a constant.
fn columnar_result(args: &[ColumnarValue], result: ArrayRef) -> Result<ColumnarValue> {
    if args.iter().all(|arg| matches!(arg, ColumnarValue::Scalar(_))) {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?))
    } else {
        Ok(ColumnarValue::Array(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::RecordBatch;
    use arrow::util::display::{ArrayFormatter, FormatOptions};

    /// A session with trailhound's functions.
    pub(super) fn session() -> SessionContext {
        let ctx = SessionContext::new();
        register_all(&ctx);
        ctx
    }

    async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
        ctx.sql(sql).await?.collect().await
    }

    /// The single value `sql` selects.
    pub(super) async fn value(sql: &str) -> ScalarValue {
        let batches = run(&session(), sql).await.unwrap_or_else(|error| panic!("{sql}: {error}"));
        let [batch] = batches.as_slice() else { panic!("{sql}: {} batches", batches.len()) };
        assert_eq!((batch.num_rows(), batch.num_columns()), (1, 1), "{sql}");
        ScalarValue::try_from_array(batch.column(0), 0).unwrap()
    }

    /// The single value `sql` selects, as DataFusion displays it (NULL as `None`).
    pub(super) async fn text(sql: &str) -> Option<String> {
        let value = value(sql).await;
        if value.is_null() {
            return None;
        }
        let array = value.to_array().unwrap();
        let formatter = ArrayFormatter::try_new(&array, &FormatOptions::default()).unwrap();
        Some(formatter.value(0).to_string())
    }

    /// Every row `sql` returns on `ctx`, its values as DataFusion displays them.
    pub(super) async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
        let batches = run(ctx, sql).await.unwrap_or_else(|error| panic!("{sql}: {error}"));
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &batches {
            let columns: Vec<ArrayFormatter> = batch
                .columns()
                .iter()
                .map(|column| ArrayFormatter::try_new(column, &options).unwrap())
                .collect();
            for row in 0..batch.num_rows() {
                let cells: Vec<String> =
                    columns.iter().map(|column| column.value(row).to_string()).collect();
                rows.push(cells.join(", "));
            }
        }
        rows
    }

    /// The error running `sql` fails with.
    pub(super) async fn failure(sql: &str) -> String {
        match run(&session(), sql).await {
            Ok(batches) => panic!("{sql} succeeded: {batches:?}"),
            Err(error) => error.to_string(),
        }
    }
}
