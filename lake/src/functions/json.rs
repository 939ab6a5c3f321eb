//! Trino's JSON functions (`json_extract_scalar`, `json_extract`, `json_array_contains`,
//! `json_array_length`), so Athena CloudTrail queries run unchanged over the JSON-text columns
//! (`requestparameters`, `responseelements`, ...).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringBuilder};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_json::Value;

use super::json_path::{self, Step};
use super::{arg_arrays, as_utf8, columnar_result, is_string};
use crate::json_tape::{self, Kind, Node};

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

    /// Appends what `steps` select in `document`; `nodes` is room for parsing it.
    fn extract(
        &self,
        document: &str,
        steps: &[Step],
        nodes: &mut Vec<Node>,
        out: &mut StringBuilder,
    ) {
        if self.kind == Extract::Scalar {
            return extract_scalar(document, steps, nodes, out);
        }
        // Trino returns NULL for text that is not JSON, like for a missing member.
        let Ok(value) = serde_json::from_str::<Value>(document) else {
            out.append_null();
            return;
        };
        match json_path::select(&value, steps) {
            Some(found) => out.append_value(found.to_string()),
            None => out.append_null(),
        }
    }
}

/// `json_extract_scalar` of one document: read from its tape rather than a tree (hunting
/// and detection call it on every row's request parameters).
fn extract_scalar(document: &str, steps: &[Step], nodes: &mut Vec<Node>, out: &mut StringBuilder) {
    // Trino returns NULL for text that is not JSON, like for a missing member.
    let found = json_tape::parse(document, nodes)
        .ok()
        .and_then(|root| json_path::select_in_tape(root, steps));
    match found.map(|value| (value.kind(), value)) {
        Some((Kind::String, value)) => match value.str() {
            Some(text) => out.append_value(text),
            None => out.append_null(),
        },
        Some((Kind::Bool, value)) => out.append_value(value.raw()),
        Some((Kind::Number, value)) => out.append_value(number_text(value.raw())),
        _ => out.append_null(),
    }
}

/// A JSON number as serde_json writes it: integers as written, others as the `f64` they read
/// as (`1E3` is `1000.0`).
fn number_text(raw: &str) -> Cow<'_, str> {
    let integer = raw.parse::<u64>().is_ok() || (raw != "-0" && raw.parse::<i64>().is_ok());
    if integer {
        return Cow::Borrowed(raw);
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(number) => Cow::Owned(number.to_string()),
        Err(_) => Cow::Borrowed(raw),
    }
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
        let mut nodes = Vec::new();
        for row in 0..documents.len() {
            if documents.is_null(row) {
                out.append_null();
                continue;
            }
            match (&compiled_path, &paths) {
                (Some(steps), _) => self.extract(documents.value(row), steps, &mut nodes, &mut out),
                (None, Some(paths)) if !paths.is_null(row) => {
                    let steps = json_path::parse(paths.value(row))
                        .map_err(datafusion::error::DataFusionError::Execution)?;
                    self.extract(documents.value(row), &steps, &mut nodes, &mut out)
                }
                _ => out.append_null(),
            }
        }
        let result: ArrayRef = Arc::new(out.finish());
        columnar_result(&args.args, result)
    }
}

/// Visits the top-level elements of the JSON array `document` in order, reading no further
/// than Trino's streaming parser does: once `visit` returns true the rest is not read, and text
/// after the closing `]` is ignored. Returns whether `visit` stopped the walk, or None when
/// `document` is not a JSON array or breaks off before the walk ends.
fn visit_array(document: &str, visit: impl FnMut(Value) -> bool) -> Option<bool> {
    struct Elements<F> {
        visit: F,
        stopped: bool,
    }
    impl<'de, F: FnMut(Value) -> bool> Visitor<'de> for &mut Elements<F> {
        type Value = ();

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a JSON array")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut elements: A) -> Result<(), A::Error> {
            while let Some(element) = elements.next_element::<Value>()? {
                if (self.visit)(element) {
                    self.stopped = true;
                    break;
                }
            }
            Ok(())
        }
    }
    let mut elements = Elements { visit, stopped: false };
    // Stopping early leaves the array unclosed, which serde reports as an error.
    let walked = serde_json::Deserializer::from_str(document).deserialize_seq(&mut elements);
    (elements.stopped || walked.is_ok()).then_some(elements.stopped)
}

/// What `json_array_contains` looks for. Like Trino, a BIGINT matches only JSON integers, a
/// DOUBLE only JSON numbers with a fraction or exponent.
#[derive(Clone, Copy)]
enum Needle<'a> {
    Integer(i64),
    Double(f64),
    Boolean(bool),
    Text(&'a str),
}

impl Needle<'_> {
    fn matches(self, element: &Value) -> bool {
        match (self, element) {
            (Needle::Integer(wanted), Value::Number(number)) => {
                !number.is_f64() && number.as_i64() == Some(wanted)
            }
            (Needle::Double(wanted), Value::Number(number)) => {
                number.is_f64() && number.as_f64() == Some(wanted)
            }
            (Needle::Boolean(wanted), Value::Bool(found)) => wanted == *found,
            (Needle::Text(wanted), Value::String(found)) => wanted == found,
            _ => false,
        }
    }
}

/// Trino's `json_array_contains(json, value)`: whether the JSON array holds `value` as a
/// top-level element; NULL when the text is not a JSON array.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonArrayContains {
    signature: Signature,
}

impl JsonArrayContains {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for JsonArrayContains {
    fn name(&self) -> &str {
        "json_array_contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [document, value] = arg_types else {
            return plan_err!("json_array_contains takes two arguments: (json, value)");
        };
        if !is_string(document) && !document.is_null() {
            return plan_err!("json_array_contains expects JSON text, got {document}");
        }
        // Trino's overloads: BIGINT, DOUBLE, BOOLEAN and VARCHAR.
        let value = match value {
            value if value.is_integer() => DataType::Int64,
            value if value.is_floating() || value.is_decimal() => DataType::Float64,
            value if is_string(value) || value.is_null() => DataType::Utf8,
            DataType::Boolean => DataType::Boolean,
            other => return plan_err!("json_array_contains cannot look for a {other}"),
        };
        Ok(vec![DataType::Utf8, value])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [documents, values] = arg_arrays(&args.args)?;
        let documents = as_utf8(&documents)?;
        let needle = |row: usize| -> Option<Needle<'_>> {
            if values.is_null(row) {
                return None;
            }
            Some(match values.data_type() {
                DataType::Int64 => Needle::Integer(values.as_primitive::<Int64Type>().value(row)),
                DataType::Float64 => {
                    Needle::Double(values.as_primitive::<Float64Type>().value(row))
                }
                DataType::Boolean => Needle::Boolean(values.as_boolean().value(row)),
                _ => Needle::Text(values.as_string::<i32>().value(row)),
            })
        };
        let result: BooleanArray = (0..documents.len())
            .map(|row| {
                let document = documents.is_valid(row).then(|| documents.value(row))?;
                let needle = needle(row)?;
                // Trino answers false for NaN and infinities before reading the document.
                if let Needle::Double(wanted) = needle
                    && !wanted.is_finite()
                {
                    return Some(false);
                }
                visit_array(document, |element| needle.matches(&element))
            })
            .collect();
        columnar_result(&args.args, Arc::new(result))
    }
}

/// Trino's `json_array_length(json)`: the number of top-level elements of a JSON array; NULL
/// when the text is not a JSON array.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonArrayLength {
    signature: Signature,
}

impl JsonArrayLength {
    pub fn new() -> Self {
        Self { signature: Signature::string(1, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for JsonArrayLength {
    fn name(&self) -> &str {
        "json_array_length"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [documents] = arg_arrays(&args.args)?;
        let result: Int64Array = as_utf8(&documents)?
            .iter()
            .map(|document| {
                let mut length = 0;
                visit_array(document?, |_| {
                    length += 1;
                    false
                })?;
                Some(length)
            })
            .collect();
        columnar_result(&args.args, Arc::new(result))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{LargeStringArray, RecordBatch, StringArray, StringViewArray};
    use arrow::datatypes::{Field, Schema};
    use datafusion::datasource::MemTable;

    use super::super::tests::{failure, rows, session, text, value};
    use super::*;

    #[test]
    fn scalars_read_from_the_tape_match_those_read_from_a_tree() {
        // The tree reading json_extract_scalar did before it read tapes.
        fn from_tree(document: &str, steps: &[Step]) -> Option<String> {
            let value = serde_json::from_str::<Value>(document).ok()?;
            match json_path::select(&value, steps)? {
                Value::String(text) => Some(text.clone()),
                scalar @ (Value::Number(_) | Value::Bool(_)) => Some(scalar.to_string()),
                _ => None,
            }
        }
        let documents = [
            r#"{"a": "x\u00e9\n", "n": 7, "m": -12, "z": -0, "f": 1.50, "e": 1E3, "big": 123456789012345678901234}"#,
            r#"{"a": {"b": [true, false, null, {"c": "deep"}]}, "a": {"b": [1]}}"#,
            r#"{"a": [], "n": null, "o": {}}"#,
            r#"{"a": "unclosed"#,
            r#"["first", 2]"#,
            "not json",
        ];
        let paths = [
            "$.a",
            "$.n",
            "$.m",
            "$.z",
            "$.f",
            "$.e",
            "$.big",
            "$.a.b[0]",
            "$.a.b[1]",
            "$.a.b[2]",
            "$.a.b[3].c",
            "$.a.b[9]",
            "$.o",
            "$[0]",
            "$[1]",
            "$.missing",
        ];
        let mut nodes = Vec::new();
        for document in documents {
            for path in paths {
                let steps = json_path::parse(path).unwrap();
                let mut out = StringBuilder::new();
                extract_scalar(document, &steps, &mut nodes, &mut out);
                let got = out.finish();
                let got = (!got.is_null(0)).then(|| got.value(0).to_string());
                assert_eq!(got, from_tree(document, &steps), "{document} {path}");
            }
        }
    }

    #[tokio::test]
    async fn json_extract_scalar_follows_trino() {
        // Trino documentation examples.
        let json = r#"'{"store": {"book": [{"author": "Nigel Rees", "price": 8.95}], "open": true, "tags": null}}'"#;
        let cases = [
            ("$.store.book[0].author", Some("Nigel Rees")),
            ("$.store.book[0].price", Some("8.95")),
            ("$.store.open", Some("true")),
            ("$.store.tags", None),
            ("$.store.book", None),
            ("$.store.missing", None),
        ];
        for (path, expected) in cases {
            let got = text(&format!("SELECT json_extract_scalar({json}, '{path}')")).await;
            assert_eq!(got.as_deref(), expected, "path {path}");
        }
        assert_eq!(text("SELECT json_extract_scalar('not json', '$.a')").await, None);
    }

    #[tokio::test]
    async fn json_extract_returns_json_text() {
        let got = text(r#"SELECT json_extract('{"a": {"b": [1, 2]}}', '$.a')"#).await;
        assert_eq!(got.as_deref(), Some(r#"{"b":[1,2]}"#));
        let got = text(r#"SELECT json_extract('{"a": "x"}', '$.a')"#).await;
        assert_eq!(got.as_deref(), Some(r#""x""#));
    }

    #[tokio::test]
    async fn invalid_paths_are_errors() {
        let error = failure("SELECT json_extract_scalar('{}', 'a.b')").await;
        assert!(error.contains("must start with '$'"), "{error}");
    }

    /// CloudTrail's JSON columns are Utf8 in the lake; Parquet readers may hand them over as
    /// Utf8View, and LargeUtf8 is the other string layout.
    #[tokio::test]
    async fn json_functions_read_every_string_column_layout() {
        let documents =
            [Some(r#"{"bucketName": "b1", "keys": ["x", "y"]}"#), None, Some(r#"{"keys": []}"#)];
        let columns: [ArrayRef; 3] = [
            Arc::new(StringArray::from(documents.to_vec())),
            Arc::new(StringViewArray::from(documents.to_vec())),
            Arc::new(LargeStringArray::from(documents.to_vec())),
        ];
        for column in columns {
            let layout = column.data_type().clone();
            let schema =
                Arc::new(Schema::new(vec![Field::new("requestparameters", layout.clone(), true)]));
            let batch = RecordBatch::try_new(schema.clone(), vec![column]).unwrap();
            let ctx = session();
            ctx.register_table(
                "cloudtrail",
                Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap()),
            )
            .unwrap();
            let sql = "SELECT json_extract_scalar(requestparameters, '$.bucketName'), \
                       json_array_length(json_extract(requestparameters, '$.keys')), \
                       json_array_contains(json_extract(requestparameters, '$.keys'), 'y') \
                       FROM cloudtrail";
            assert_eq!(
                rows(&ctx, sql).await,
                ["b1, 2, true", "NULL, NULL, NULL", "NULL, 0, false"],
                "{layout}"
            );
        }
    }

    #[tokio::test]
    async fn json_array_contains_follows_trino() {
        // Trino documentation example.
        assert_eq!(
            value("SELECT json_array_contains('[1, 2, 3]', 2)").await,
            ScalarValue::Boolean(Some(true))
        );
        // Trino semantics: each of BIGINT, DOUBLE, BOOLEAN and VARCHAR matches only JSON
        // values of its own kind, among the top-level elements; nested arrays are not searched.
        let cases = [
            ("'[1, 2, 3]', 4", Some(false)),
            ("'[1.0, 2]', 1", Some(false)),
            ("'[1.5, 2]', 1.5", Some(true)),
            ("'[1, 2]', 1.0", Some(false)),
            ("'nonsense', CAST('NaN' AS DOUBLE)", Some(false)),
            (r#"'["a", true]', true"#, Some(true)),
            (r#"'["a", "true"]', false"#, Some(false)),
            (r#"'["a", "b"]', 'b'"#, Some(true)),
            (r#"'["a", "2"]', 2"#, Some(false)),
            ("'[[2], {\"a\": 2}]', 2", Some(false)),
            ("'[]', 1", Some(false)),
            // Not an array, or not JSON: NULL.
            (r#"'{"a": 1}', 1"#, None),
            ("'[1, 2', 3", None),
            ("'nonsense', 1", None),
            ("'[1, 2]', NULL", None),
            ("NULL, 1", None),
        ];
        for (args, expected) in cases {
            let got = value(&format!("SELECT json_array_contains({args})")).await;
            assert_eq!(got, ScalarValue::Boolean(expected), "json_array_contains({args})");
        }
        // Trino's parser streams: a match is reported before a malformed tail is read.
        assert_eq!(
            value("SELECT json_array_contains('[1, 2, oops', 1)").await,
            ScalarValue::Boolean(Some(true))
        );
    }

    #[tokio::test]
    async fn json_array_length_follows_trino() {
        // Trino documentation example.
        assert_eq!(
            value("SELECT json_array_length('[1, 2, 3]')").await,
            ScalarValue::Int64(Some(3))
        );
        // Trino semantics: nested values count once; anything but a JSON array is NULL.
        let cases = [
            (r#"'[1, [2, 3], {"a": [4]}, null]'"#, Some(4)),
            ("'[]'", Some(0)),
            ("' [1] '", Some(1)),
            (r#"'{"a": 1}'"#, None),
            ("'[1, 2'", None),
            ("'3'", None),
            ("NULL", None),
        ];
        for (document, expected) in cases {
            let got = value(&format!("SELECT json_array_length({document})")).await;
            assert_eq!(got, ScalarValue::Int64(expected), "json_array_length({document})");
        }
    }
}
