//! `json_contains(json, pattern)`: whether a JSON document holds the structure of a JSON
//! pattern. trailhound's own (Trino has no equivalent): Sigma rules that match a structured
//! value (`rules: [{expiration: {days: 1}}]`) compile to it.
//!
//! A pattern object is held by an object whose members hold the pattern's members (others
//! may exist); a pattern array by a value holding each of its elements; a scalar by an equal
//! scalar, compared as text without case (Sigma's default). An array value holds a pattern
//! when any of its elements does. NULL or unparsable JSON gives NULL.

use std::sync::Arc;

use arrow::array::BooleanArray;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use super::{arg_arrays, as_utf8, columnar_result};

/// The `json_contains` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonContains {
    signature: Signature,
}

impl JsonContains {
    /// The function, over two strings.
    pub fn new() -> Self {
        Self { signature: Signature::string(2, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for JsonContains {
    fn name(&self) -> &str {
        "json_contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [documents, patterns] = arg_arrays(&args.args)?;
        let (documents, patterns) = (as_utf8(&documents)?, as_utf8(&patterns)?);
        let mut parsed_pattern: Option<(String, Option<Value>)> = None;
        let result: BooleanArray = documents
            .iter()
            .zip(patterns.iter())
            .map(|(document, pattern)| {
                let (document, pattern) = (document?, pattern?);
                // The pattern is a constant in practice: parse it once.
                if parsed_pattern.as_ref().is_none_or(|(text, _)| text != pattern) {
                    parsed_pattern =
                        Some((pattern.to_string(), serde_json::from_str(pattern).ok()));
                }
                let pattern = parsed_pattern.as_ref()?.1.as_ref()?;
                let document: Value = serde_json::from_str(document).ok()?;
                Some(holds(&document, pattern))
            })
            .collect();
        columnar_result(&args.args, Arc::new(result))
    }
}

/// Whether `value` holds `pattern`.
fn holds(value: &Value, pattern: &Value) -> bool {
    if let Value::Array(items) = value
        && !pattern.is_array()
    {
        return items.iter().any(|item| holds(item, pattern));
    }
    match pattern {
        Value::Object(members) => {
            let Value::Object(value) = value else { return false };
            members
                .iter()
                .all(|(key, expected)| value.get(key).is_some_and(|found| holds(found, expected)))
        }
        Value::Array(expected) => expected.iter().all(|element| match value {
            Value::Array(items) => items.iter().any(|item| holds(item, element)),
            other => holds(other, element),
        }),
        Value::Null => value.is_null(),
        scalar => scalar_text(scalar).is_some_and(|expected| {
            scalar_text(value).is_some_and(|found| found.eq_ignore_ascii_case(&expected))
        }),
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::text;

    #[tokio::test]
    async fn structures_are_found_inside_documents() {
        let document = r#"'{"rules": [{"id": "a", "expiration": {"days": 1}}, {"id": "b"}], "name": "Trail"}'"#;
        for (pattern, expected) in [
            (r#"{"rules": [{"expiration": {"days": 1}}]}"#, "true"),
            (r#"{"rules": {"expiration": {"days": "1"}}}"#, "true"),
            (r#"{"rules": [{"expiration": {"days": 2}}]}"#, "false"),
            (r#"{"name": "trail"}"#, "true"),
            (r#"{"name": "other"}"#, "false"),
            (r#"{"missing": 1}"#, "false"),
        ] {
            let got = text(&format!("SELECT json_contains({document}, '{pattern}')")).await;
            assert_eq!(got.as_deref(), Some(expected), "{pattern}");
        }
        assert_eq!(text("SELECT json_contains('not json', '{}')").await, None);
    }
}
