//! Trino's `json_extract_scalar` and `json_extract`, so Athena CloudTrail queries run unchanged
//! over the JSON-text columns (`requestparameters`, `responseelements`, ...).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use super::json_path::{self, Step};

/// Which of Trino's two extraction functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Extract {
    /// `json_extract_scalar`: the value as text when it is a string, number or boolean, else NULL.
    Scalar,
    /// `json_extract`: the value as JSON text.
    Json,
}

/// A Trino JSON extraction function over JSON text.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonExtract {
    kind: Extract,
    signature: Signature,
}

impl JsonExtract {
    /// `json_extract_scalar(json, path)`.
    pub fn scalar() -> Self {
        Self { kind: Extract::Scalar, signature: Signature::string(2, Volatility::Immutable) }
    }

    /// `json_extract(json, path)`.
    pub fn json() -> Self {
        Self { kind: Extract::Json, signature: Signature::string(2, Volatility::Immutable) }
    }

    fn extract(&self, document: &str, steps: &[Step], out: &mut StringBuilder) {
        // Trino returns NULL for text that is not JSON, like for a missing member.
        let Ok(value) = serde_json::from_str::<Value>(document) else {
            out.append_null();
            return;
        };
        match (self.kind, json_path::select(&value, steps)) {
            (_, None) | (Extract::Scalar, Some(Value::Null)) => out.append_null(),
            (Extract::Scalar, Some(Value::String(text))) => out.append_value(text),
            (Extract::Scalar, Some(scalar @ (Value::Number(_) | Value::Bool(_)))) => {
                out.append_value(scalar.to_string())
            }
            (Extract::Scalar, Some(_)) => out.append_null(),
            (Extract::Json, Some(found)) => out.append_value(found.to_string()),
        }
    }
}

fn as_utf8(array: &ArrayRef) -> Result<StringArray> {
    let utf8 = cast(array, &DataType::Utf8)?;
    Ok(utf8.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").clone())
}

impl ScalarUDFImpl for JsonExtract {
    fn name(&self) -> &str {
        match self.kind {
            Extract::Scalar => "json_extract_scalar",
            Extract::Json => "json_extract",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [document, path] = args.args.as_slice() else {
            return exec_err!("{} takes two arguments", self.name());
        };
        let compiled_path = match path {
            ColumnarValue::Scalar(scalar) => match scalar.try_as_str().flatten() {
                Some(text) => Some(
                    json_path::parse(text)
                        .map_err(datafusion::error::DataFusionError::Execution)?,
                ),
                None => return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
            },
            ColumnarValue::Array(_) => None,
        };
        let documents = as_utf8(&document.to_array(args.number_rows)?)?;
        let paths = match compiled_path {
            Some(_) => None,
            None => Some(as_utf8(&path.to_array(args.number_rows)?)?),
        };
        let mut out = StringBuilder::with_capacity(documents.len(), documents.len() * 16);
        for row in 0..documents.len() {
            if documents.is_null(row) {
                out.append_null();
                continue;
            }
            match (&compiled_path, &paths) {
                (Some(steps), _) => self.extract(documents.value(row), steps, &mut out),
                (None, Some(paths)) if !paths.is_null(row) => {
                    let steps = json_path::parse(paths.value(row))
                        .map_err(datafusion::error::DataFusionError::Execution)?;
                    self.extract(documents.value(row), &steps, &mut out)
                }
                _ => out.append_null(),
            }
        }
        let result: ArrayRef = Arc::new(out.finish());
        Ok(match document {
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?)
            }
            ColumnarValue::Array(_) => ColumnarValue::Array(result),
        })
    }
}
