//! `coalesce`, evaluated column-wise.
//!
//! DataFusion rewrites `coalesce(a, b)` into `CASE WHEN a IS NOT NULL THEN a ELSE b END`, and
//! that CASE filters every column the expression reads, whole structs included, once per
//! branch. Half the rule pack has `coalesce(useridentity.type, '')` or the like, run on every
//! batch: the CASE was a tenth of the rule thread's time (`perf`, benches/end-to-end.sh).
//! This `coalesce` evaluates its arguments on the whole batch and takes, per row, the first
//! that is not NULL. Unlike the CASE, every argument is evaluated on every row, so an argument
//! that fails fails the call even where an earlier one is not NULL.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::compute::is_not_null;
use arrow::compute::kernels::zip::zip;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::binary::try_type_union_resolution;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// `coalesce(value, ...)`: the first argument that is not NULL, per row.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Coalesce {
    signature: Signature,
}

impl Coalesce {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for Coalesce {
    fn name(&self) -> &str {
        "coalesce"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() {
            return plan_err!("coalesce takes at least one argument");
        }
        try_type_union_resolution(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.iter().find(|t| !t.is_null()).unwrap_or(&DataType::Null).clone())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let types: Vec<DataType> =
            args.arg_fields.iter().map(|field| field.data_type().clone()).collect();
        // NULL only when every argument can be.
        let nullable = args.arg_fields.iter().all(|field| field.is_nullable());
        Ok(Arc::new(Field::new(self.name(), self.return_type(&types)?, nullable)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut values = args.args.into_iter().rev();
        let Some(mut result) = values.next() else {
            return plan_err!("coalesce takes at least one argument");
        };
        // From the last argument back: each earlier one wins where it is not NULL.
        for value in values {
            result = match value {
                ColumnarValue::Scalar(scalar) if scalar.is_null() => result,
                ColumnarValue::Scalar(scalar) => ColumnarValue::Scalar(scalar),
                ColumnarValue::Array(array) if array.null_count() == 0 => {
                    ColumnarValue::Array(array)
                }
                ColumnarValue::Array(array) => {
                    let merged = match (coalesce_text(&array, &result), &result) {
                        (Some(merged), _) => merged,
                        (None, ColumnarValue::Array(later)) => {
                            zip(&is_not_null(&array)?, &array, later)?
                        }
                        (None, ColumnarValue::Scalar(later)) => {
                            zip(&is_not_null(&array)?, &array, &later.to_scalar()?)?
                        }
                    };
                    ColumnarValue::Array(merged)
                }
            };
        }
        Ok(result)
    }
}

/// Text `first` where it is not NULL and `later` (text) elsewhere, a row at a time; `None`
/// when either is not text. Arrow's `zip` copies a run of rows per call, and a text column of
/// CloudTrail events is often NULL every other row or two: in the rules, `zip` made a call per
/// row or two, 1.3% of a run's instructions (benches/profile.sh).
fn coalesce_text(first: &ArrayRef, later: &ColumnarValue) -> Option<ArrayRef> {
    let first = first.as_string_opt::<i32>()?;
    let (later_value, later_array) = match later {
        ColumnarValue::Scalar(ScalarValue::Utf8(value)) => (value.as_deref(), None),
        ColumnarValue::Array(array) => (None, Some(array.as_string_opt::<i32>()?)),
        ColumnarValue::Scalar(_) => return None,
    };
    let mut merged = StringBuilder::with_capacity(first.len(), first.values().len());
    for row in 0..first.len() {
        merged.append_option(if first.is_valid(row) {
            Some(first.value(row))
        } else if let Some(array) = later_array {
            array.is_valid(row).then(|| array.value(row))
        } else {
            later_value
        });
    }
    Some(Arc::new(merged.finish()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch, StringArray, StructArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::ScalarValue;
    use datafusion::datasource::MemTable;

    use super::super::tests::{rows, session, value};

    #[tokio::test]
    async fn coalesce_takes_the_first_value_that_is_not_null() {
        let names = StringArray::from(vec![Some("a"), None, None, Some("d")]);
        let backups = StringArray::from(vec![Some("x"), Some("y"), None, None]);
        let numbers = Int64Array::from(vec![None, Some(2), None, Some(4)]);
        let identity = StructArray::from(vec![(
            Arc::new(Field::new("type", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec![Some("IAMUser"), None, Some("AWSService"), None])) as _,
        )]);
        let batch = RecordBatch::try_from_iter(vec![
            ("name", Arc::new(names) as _),
            ("backup", Arc::new(backups) as _),
            ("number", Arc::new(numbers) as _),
            ("identity", Arc::new(identity) as _),
        ])
        .unwrap();
        let schema: Arc<Schema> = batch.schema();
        let ctx = session();
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap()))
            .unwrap();
        let sql = "SELECT coalesce(name, backup, 'z'), coalesce(name, backup), \
                   coalesce(identity.type, '') <> 'AWSService', coalesce(NULL, number, 7), \
                   coalesce(name) FROM t";
        assert_eq!(
            rows(&ctx, sql).await,
            [
                "a, a, true, 7, a",
                "y, y, true, 2, NULL",
                "z, NULL, false, 7, NULL",
                "d, d, true, 4, d",
            ]
        );
        // Evaluated as this function, not rewritten into a CASE.
        let plan = rows(&ctx, "EXPLAIN SELECT coalesce(name, backup) FROM t").await.join("\n");
        assert!(plan.contains("coalesce(t.name, t.backup)") && !plan.contains("CASE"), "{plan}");
    }

    #[tokio::test]
    async fn coalesce_of_literals_coerces_to_one_type() {
        assert_eq!(value("SELECT coalesce(NULL, 1, 2.5)").await, ScalarValue::Float64(Some(1.0)));
        assert_eq!(value("SELECT coalesce(NULL, NULL, 'x')").await.to_string(), "x");
        assert!(value("SELECT coalesce(NULL, NULL)").await.is_null());
    }
}
