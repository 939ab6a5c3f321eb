//! Trino's `split_part`, replacing DataFusion's, which follows PostgreSQL: an empty string past
//! the last field and negative indexes counting from the end, where Trino returns NULL and
//! rejects indexes below 1.
//!
//! `regexp_like` is DataFusion's own: like Trino's it is true when the pattern occurs anywhere
//! in the string. Its patterns are Rust `regex` syntax, which lacks the look-arounds and
//! back-references of Trino's Java syntax; such patterns fail to compile rather than match.

use std::sync::Arc;

use arrow::array::{AsArray, StringArray};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{arg_arrays, as_utf8, columnar_result, is_string};

/// Field `index` (from 1) of `text` split on `delimiter`, as Trino finds it; an empty
/// delimiter splits `text` into its characters.
fn split_part<'a>(text: &'a str, delimiter: &str, index: usize) -> Option<&'a str> {
    if delimiter.is_empty() {
        let (at, character) = text.char_indices().nth(index - 1)?;
        return Some(&text[at..at + character.len_utf8()]);
    }
    text.split(delimiter).nth(index - 1)
}

/// Trino's `split_part(string, delimiter, index)`: the field `index` (from 1) of `string` split
/// on `delimiter`, NULL past the last field.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SplitPart {
    signature: Signature,
}

impl SplitPart {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for SplitPart {
    fn name(&self) -> &str {
        "split_part"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let text = |data_type: &DataType| is_string(data_type) || data_type.is_null();
        match arg_types {
            [string, delimiter, index]
                if text(string) && text(delimiter) && (index.is_integer() || index.is_null()) =>
            {
                Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Int64])
            }
            _ => plan_err!("split_part takes (string, delimiter, index), got {arg_types:?}"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [strings, delimiters, indexes] = arg_arrays(&args.args)?;
        let (strings, delimiters) = (as_utf8(&strings)?, as_utf8(&delimiters)?);
        let indexes = indexes.as_primitive::<Int64Type>();
        let parts = (strings.iter().zip(delimiters.iter()).zip(indexes.iter()))
            .map(|((string, delimiter), index)| {
                let (Some(string), Some(delimiter), Some(index)) = (string, delimiter, index)
                else {
                    return Ok(None);
                };
                match usize::try_from(index) {
                    Ok(index) if index > 0 => Ok(split_part(string, delimiter, index)),
                    _ => exec_err!("split_part: index must be greater than zero, got {index}"),
                }
            })
            .collect::<Result<StringArray>>()?;
        columnar_result(&args.args, Arc::new(parts))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::common::ScalarValue;

    use super::super::tests::{failure, value};

    #[tokio::test]
    async fn split_part_follows_trino() {
        // Trino semantics: fields from 1, NULL past the last one, an empty delimiter splitting
        // into characters.
        let cases = [
            ("'a,b,c', ',', 2", Some("b")),
            ("'a,b,c', ',', 3", Some("c")),
            ("'a,b,c', ',', 4", None),
            ("'a,b,', ',', 3", Some("")),
            ("'', ',', 1", Some("")),
            ("'a::b::c', '::', 2", Some("b")),
            ("'abc', '', 2", Some("b")),
            ("'abc', '', 4", None),
            ("'arn:aws:iam::123456789012:user/alice', ':', 5", Some("123456789012")),
            ("NULL, ',', 1", None),
            ("'a,b', ',', NULL", None),
        ];
        for (args, expected) in cases {
            let got = value(&format!("SELECT split_part({args})")).await;
            assert_eq!(got, ScalarValue::Utf8(expected.map(str::to_string)), "split_part({args})");
        }
        for index in [0, -1] {
            let error = failure(&format!("SELECT split_part('a,b', ',', {index})")).await;
            assert!(error.contains("split_part: index must be greater than zero"), "{error}");
        }
    }

    #[tokio::test]
    async fn regexp_like_is_datafusions_with_trino_semantics() {
        // Trino documentation example: the pattern only needs to occur in the string.
        assert_eq!(
            value(r"SELECT regexp_like('1a 2b 14m', '\d+b')").await,
            ScalarValue::Boolean(Some(true))
        );
        // Trino documentation: anchoring with ^ and $ matches the whole string.
        assert_eq!(
            value(r"SELECT regexp_like('1a 2b 14m', '^\d+b$')").await,
            ScalarValue::Boolean(Some(false))
        );
        assert_eq!(value("SELECT regexp_like(NULL, 'a')").await, ScalarValue::Boolean(None));
        // Rust's syntax, not Java's: no look-arounds.
        let error = failure("SELECT regexp_like('ab', 'a(?=b)')").await;
        assert!(error.contains("look-around"), "{error}");
    }
}
