//! What a rule's WHERE clause says plainly of the event source and name of the rows it can
//! match. A batch's rows are grouped by (event source, event name) once, and each rule runs
//! only on the rows of the pairs it may match (and not at all when the batch has none): most
//! rules name the calls they look at, and a batch holds a few dozen pairs.

use std::collections::BTreeSet;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{InList, Like, ScalarFunction};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

/// The lake column of CloudTrail's `eventSource`.
pub(super) const EVENT_SOURCE: &str = "eventsource";
/// The lake column of CloudTrail's `eventName`.
pub(super) const EVENT_NAME: &str = "eventname";

/// A condition on a row's event source and name that holds for every row a predicate can
/// hold for. A row whose source or name is NULL fails a condition on it: in a conjunction or
/// disjunction, such a comparison can only make the predicate NULL or false.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum KeyFilter {
    /// Says nothing: any row.
    Any,
    /// `eventsource` is one of these.
    SourceIn(BTreeSet<String>),
    /// `eventname` is one of these.
    NameIn(BTreeSet<String>),
    /// `eventname` starts with this (`LIKE 'Prefix%'`, `starts_with`).
    NamePrefix(String),
    /// Every one holds.
    All(Vec<KeyFilter>),
    /// One holds at least.
    Either(Vec<KeyFilter>),
}

impl KeyFilter {
    /// The condition `predicate` implies, from its `AND`s and `OR`s of `eventsource` and
    /// `eventname` equalities, lists (`IN`) and name prefixes.
    pub(super) fn of(predicate: &Expr) -> Self {
        match predicate {
            Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
                let parts: Vec<Self> =
                    [Self::of(left), Self::of(right)].into_iter().filter(|p| !p.is_any()).collect();
                match parts.len() {
                    0 => Self::Any,
                    1 => parts.into_iter().next().expect("one part"),
                    _ => Self::All(parts),
                }
            }
            Expr::BinaryExpr(BinaryExpr { left, op: Operator::Or, right }) => {
                let (left, right) = (Self::of(left), Self::of(right));
                if left.is_any() || right.is_any() {
                    Self::Any
                } else {
                    Self::Either(vec![left, right])
                }
            }
            Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) => {
                match (key_column(left), text(right), key_column(right), text(left)) {
                    (Some(column), Some(value), _, _) | (_, _, Some(column), Some(value)) => {
                        Self::among(column, BTreeSet::from([value]))
                    }
                    _ => Self::Any,
                }
            }
            Expr::InList(InList { expr, list, negated: false }) => {
                let values: Option<BTreeSet<String>> = list.iter().map(text).collect();
                match (key_column(expr), values) {
                    (Some(column), Some(values)) => Self::among(column, values),
                    _ => Self::Any,
                }
            }
            Expr::Like(Like {
                negated: false,
                expr,
                pattern,
                escape_char: None,
                case_insensitive: false,
            }) => match (key_column(expr), text(pattern).as_deref().and_then(like_prefix)) {
                (Some(EVENT_NAME), Some(prefix)) => Self::NamePrefix(prefix.to_string()),
                _ => Self::Any,
            },
            Expr::ScalarFunction(ScalarFunction { func, args }) if func.name() == "starts_with" => {
                match (args.first().and_then(key_column), args.get(1).and_then(text)) {
                    (Some(EVENT_NAME), Some(prefix)) => Self::NamePrefix(prefix),
                    _ => Self::Any,
                }
            }
            Expr::Alias(alias) => Self::of(&alias.expr),
            _ => Self::Any,
        }
    }

    fn among(column: &str, values: BTreeSet<String>) -> Self {
        if column == EVENT_SOURCE { Self::SourceIn(values) } else { Self::NameIn(values) }
    }

    /// Whether the condition says nothing.
    pub(super) fn is_any(&self) -> bool {
        matches!(self, Self::Any)
    }

    /// Whether a row with this event source and name may match.
    pub(super) fn accepts(&self, source: Option<&str>, name: Option<&str>) -> bool {
        match self {
            Self::Any => true,
            Self::SourceIn(sources) => source.is_some_and(|source| sources.contains(source)),
            Self::NameIn(names) => name.is_some_and(|name| names.contains(name)),
            Self::NamePrefix(prefix) => name.is_some_and(|name| name.starts_with(prefix.as_str())),
            Self::All(parts) => parts.iter().all(|part| part.accepts(source, name)),
            Self::Either(parts) => parts.iter().any(|part| part.accepts(source, name)),
        }
    }
}

/// `eventsource` or `eventname`, when `expr` is that column.
fn key_column(expr: &Expr) -> Option<&'static str> {
    match expr {
        Expr::Column(column) if column.name == EVENT_SOURCE => Some(EVENT_SOURCE),
        Expr::Column(column) if column.name == EVENT_NAME => Some(EVENT_NAME),
        _ => None,
    }
}

/// The text of a text literal.
fn text(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(text))
            | ScalarValue::LargeUtf8(Some(text))
            | ScalarValue::Utf8View(Some(text)),
            _,
        ) => Some(text.clone()),
        _ => None,
    }
}

/// The prefix a LIKE pattern matches when it is plain text followed by `%` (and nothing
/// else special: `_`, another `%` or a backslash, the default escape).
fn like_prefix(pattern: &str) -> Option<&str> {
    let prefix = pattern.strip_suffix('%')?;
    (!prefix.contains(['%', '_', '\\'])).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use datafusion::common::DFSchema;
    use datafusion::prelude::SessionContext;
    use lake::schema::cloudtrail_schema;

    use super::*;

    fn filter(condition: &str) -> KeyFilter {
        let ctx = SessionContext::new();
        let schema = DFSchema::try_from(cloudtrail_schema().as_ref().clone()).unwrap();
        KeyFilter::of(&ctx.parse_sql_expr(condition, &schema).unwrap())
    }

    #[test]
    fn plain_conditions_on_source_and_name_narrow_the_rows() {
        let names = |names: &[&str]| names.iter().map(|name| name.to_string()).collect();
        assert_eq!(
            filter("eventname = 'A' AND useridentity.type = 'Root'"),
            KeyFilter::NameIn(names(&["A"]))
        );
        assert_eq!(filter("useridentity.type = 'Root'"), KeyFilter::Any);
        assert_eq!(filter("eventname = 'A' OR useridentity.type = 'Root'"), KeyFilter::Any);
        assert_eq!(filter("eventname NOT IN ('A')"), KeyFilter::Any);
        assert_eq!(filter("eventname LIKE 'Describe%'"), KeyFilter::NamePrefix("Describe".into()));
        assert_eq!(filter("starts_with(eventname, 'List')"), KeyFilter::NamePrefix("List".into()));
        for unsure in
            ["eventname LIKE 'Get_Object%'", "eventname LIKE '%Policy'", "eventname ILIKE 'get%'"]
        {
            assert_eq!(filter(unsure), KeyFilter::Any, "{unsure}");
        }

        let iam_reads = filter(
            "eventsource = 'iam.amazonaws.com' AND (starts_with(eventname, 'List') \
             OR eventname IN ('GetUser', 'GetRole')) AND errorcode = 'AccessDenied'",
        );
        assert!(iam_reads.accepts(Some("iam.amazonaws.com"), Some("ListUsers")));
        assert!(iam_reads.accepts(Some("iam.amazonaws.com"), Some("GetRole")));
        assert!(!iam_reads.accepts(Some("iam.amazonaws.com"), Some("GetPolicy")));
        assert!(!iam_reads.accepts(Some("s3.amazonaws.com"), Some("ListBuckets")));
        assert!(!iam_reads.accepts(None, Some("ListUsers")), "a NULL source fails");

        let either = filter(
            "(eventsource = 'sts.amazonaws.com' AND eventname = 'AssumeRole') \
             OR (eventsource = 'ec2.amazonaws.com' AND eventname LIKE 'Run%')",
        );
        assert!(either.accepts(Some("sts.amazonaws.com"), Some("AssumeRole")));
        assert!(either.accepts(Some("ec2.amazonaws.com"), Some("RunInstances")));
        assert!(!either.accepts(Some("ec2.amazonaws.com"), Some("AssumeRole")));
        assert!(filter("errorcode IS NULL").accepts(None, None));
    }
}
