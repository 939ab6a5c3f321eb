//! Regular-expression matches against a constant pattern, compiled once when a rule is
//! planned. DataFusion's `~` operator (which `regexp_like` with a constant pattern simplifies
//! to) compiles its pattern again on every batch it evaluates: a regex compile per rule and
//! batch was 0.8% of a run over the benchmark corpus (`benches/profile.sh`), and more with the
//! small batches of a queue.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, StringArrayType};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, Schema};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Literal};
use regex::Regex;

/// Replaces every regex match of a text expression against a constant pattern in `expr` by
/// one holding the compiled pattern. An invalid pattern is a planning error.
pub(crate) fn compile_regex_matches(
    expr: Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> Result<Arc<dyn PhysicalExpr>> {
    expr.transform_up(|node| {
        let Some(binary) = node.downcast_ref::<BinaryExpr>() else {
            return Ok(Transformed::no(node));
        };
        let op = *binary.op();
        if !matches!(
            op,
            Operator::RegexMatch
                | Operator::RegexIMatch
                | Operator::RegexNotMatch
                | Operator::RegexNotIMatch
        ) {
            return Ok(Transformed::no(node));
        }
        let pattern = binary
            .right()
            .downcast_ref::<Literal>()
            .and_then(|literal| literal.value().try_as_str().flatten());
        let text_input = matches!(
            binary.left().data_type(schema)?,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        let Some(pattern) = pattern.filter(|_| text_input) else {
            return Ok(Transformed::no(node));
        };
        let match_expr = RegexMatchExpr::new(Arc::clone(binary.left()), op, pattern.to_string())?;
        Ok(Transformed::yes(Arc::new(match_expr) as Arc<dyn PhysicalExpr>))
    })
    .data()
}

/// `input ~ 'pattern'` (or `~*`, `!~`, `!~*`) with the pattern compiled. A NULL input gives
/// NULL, as with DataFusion's operator.
#[derive(Debug)]
pub(super) struct RegexMatchExpr {
    input: Arc<dyn PhysicalExpr>,
    /// One of the four regex match operators.
    op: Operator,
    pattern: String,
    regex: Regex,
}

impl RegexMatchExpr {
    fn new(input: Arc<dyn PhysicalExpr>, op: Operator, pattern: String) -> Result<Self> {
        // The same pattern DataFusion's operator compiles.
        let case_insensitive = matches!(op, Operator::RegexIMatch | Operator::RegexNotIMatch);
        let full = if case_insensitive { format!("(?i){pattern}") } else { pattern.clone() };
        let regex = Regex::new(&full).map_err(|error| {
            DataFusionError::Plan(format!("invalid regular expression '{pattern}': {error}"))
        })?;
        Ok(Self { input, op, pattern, regex })
    }

    fn matches<'a>(&self, strings: impl StringArrayType<'a>) -> BooleanArray {
        let negated = matches!(self.op, Operator::RegexNotMatch | Operator::RegexNotIMatch);
        let matched = BooleanBuffer::collect_bool(strings.len(), |row| {
            strings.is_valid(row) && self.regex.is_match(strings.value(row)) != negated
        });
        BooleanArray::new(matched, strings.logical_nulls())
    }
}

impl PartialEq for RegexMatchExpr {
    fn eq(&self, other: &Self) -> bool {
        self.input.eq(&other.input) && self.op == other.op && self.pattern == other.pattern
    }
}

impl Eq for RegexMatchExpr {}

impl Hash for RegexMatchExpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.input.hash(state);
        self.op.hash(state);
        self.pattern.hash(state);
    }
}

impl fmt::Display for RegexMatchExpr {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {} '{}'", self.input, self.op, self.pattern)
    }
}

impl PhysicalExpr for RegexMatchExpr {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.input.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let values = self.input.evaluate(batch)?.into_array(batch.num_rows())?;
        let matched = match values.data_type() {
            DataType::Utf8 => self.matches(values.as_string::<i32>()),
            DataType::LargeUtf8 => self.matches(values.as_string::<i64>()),
            DataType::Utf8View => self.matches(values.as_string_view()),
            other => return exec_err!("a regular expression cannot match a value of {other}"),
        };
        Ok(ColumnarValue::Array(Arc::new(matched)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("a regex match has one input".into()))?;
        Ok(Arc::new(Self {
            input,
            op: self.op,
            pattern: self.pattern.clone(),
            regex: self.regex.clone(),
        }))
    }

    fn fmt_sql(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.input.fmt_sql(formatter)?;
        write!(formatter, " {} '{}'", self.op, self.pattern.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::StringArray;
    use arrow::datatypes::Field;
    use datafusion::physical_expr::expressions::{col, lit};

    use super::*;

    fn names() -> (Schema, RecordBatch) {
        let schema = Schema::new(vec![Field::new("name", DataType::Utf8, true)]);
        let names = StringArray::from(vec![
            Some("DeleteTrail"),
            None,
            Some("deletetrail"),
            Some(""),
            Some("StopLogging"),
        ]);
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(names)]).unwrap();
        (schema, batch)
    }

    fn operator(schema: &Schema, op: Operator, pattern: &str) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(col("name", schema).unwrap(), op, lit(pattern)))
    }

    #[test]
    fn compiled_matches_agree_with_datafusions_operator() {
        let (schema, batch) = names();
        let operators = [
            Operator::RegexMatch,
            Operator::RegexIMatch,
            Operator::RegexNotMatch,
            Operator::RegexNotIMatch,
        ];
        for op in operators {
            for pattern in ["^Delete", "trail$", "", "Logging|^$", "(?i)stop"] {
                let operator = operator(&schema, op, pattern);
                let compiled = compile_regex_matches(Arc::clone(&operator), &schema).unwrap();
                assert!(compiled.downcast_ref::<RegexMatchExpr>().is_some(), "{op} '{pattern}'");
                let expected = operator.evaluate(&batch).unwrap().into_array(5).unwrap();
                let actual = compiled.evaluate(&batch).unwrap().into_array(5).unwrap();
                assert_eq!(actual.as_boolean(), expected.as_boolean(), "{op} '{pattern}'");
                assert!(actual.is_null(1), "a NULL name matches nothing: {op} '{pattern}'");
            }
        }
        let matches =
            compile_regex_matches(operator(&schema, Operator::RegexMatch, "^Delete"), &schema)
                .unwrap()
                .evaluate(&batch)
                .unwrap()
                .into_array(5)
                .unwrap();
        let expected =
            BooleanArray::from(vec![Some(true), None, Some(false), Some(false), Some(false)]);
        assert_eq!(matches.as_boolean(), &expected);
    }

    #[test]
    fn an_invalid_pattern_fails_when_planned() {
        let (schema, _) = names();
        let error =
            compile_regex_matches(operator(&schema, Operator::RegexMatch, "(unclosed"), &schema)
                .unwrap_err()
                .to_string();
        assert!(error.contains("invalid regular expression '(unclosed'"), "{error}");
    }

    #[test]
    fn other_expressions_are_kept() {
        let (schema, _) = names();
        let name = col("name", &schema).unwrap();
        let against_column: Arc<dyn PhysicalExpr> =
            Arc::new(BinaryExpr::new(Arc::clone(&name), Operator::RegexMatch, Arc::clone(&name)));
        let equality: Arc<dyn PhysicalExpr> =
            Arc::new(BinaryExpr::new(name, Operator::Eq, lit("DeleteTrail")));
        for expr in [against_column, equality] {
            let kept = compile_regex_matches(Arc::clone(&expr), &schema).unwrap();
            assert_eq!(kept.to_string(), expr.to_string());
            assert!(kept.downcast_ref::<BinaryExpr>().is_some());
        }
    }
}
