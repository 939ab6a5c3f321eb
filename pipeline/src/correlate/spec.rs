//! The correlation rule format: a `.toml` file with the same metadata as a detection rule plus
//! a `[correlation]` table.
//!
//! ```toml
//! id = "aws.correlation.console_brute_force_then_success"
//! title = "Console sign-in failures followed by a success from the same address"
//! severity = "high"
//! description = "..."
//! tactics = ["TA0006"]
//! techniques = ["T1110.001"]
//!
//! [correlation]
//! type = "temporal_ordered"        # event_count | value_count | temporal | temporal_ordered | new_terms
//! rules = ["aws.initial_access.console_login_failure_signal", "aws.initial_access.console_login_success_signal"]
//! group_by = ["sourceipaddress"]   # SQL expressions over the matching events
//! timespan = "30m"
//! ```
//!
//! `event_count` and `value_count` take a `condition` (`{ gte = 5 }`, `{ gt = 1, lte = 10 }`,
//! any of gt, gte, lt, lte, eq, neq) and `value_count` the `field` expressions whose distinct
//! values are counted. `new_terms` takes `fields` (the value tuple), `history` (default 7d)
//! and `learning` (default: the history): no alert until the engine has seen that long.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::detect::rule::{RuleMeta, parse_duration, validate_meta};
use crate::error::{PipelineError, Result};

/// The `[correlation]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationSpec {
    /// Kind of correlation.
    #[serde(rename = "type")]
    pub kind: CorrelationKind,
    /// Ids of the detection or correlation rules whose matches are the signals.
    pub rules: Vec<String>,
    /// SQL expressions over the matching events: signals correlate per value of these.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Window length (`15m`); required for all kinds but `new_terms`.
    #[serde(default)]
    pub timespan: Option<String>,
    /// Count condition for `event_count` and `value_count`.
    #[serde(default)]
    pub condition: Option<Condition>,
    /// `value_count`: expressions whose distinct value tuples are counted.
    #[serde(default)]
    pub field: Vec<String>,
    /// `new_terms`: the value tuple whose first appearance alerts.
    #[serde(default)]
    pub fields: Vec<String>,
    /// `new_terms`: how long a tuple stays known after it was last seen (default 7d).
    #[serde(default)]
    pub history: Option<String>,
    /// `new_terms`: how long after the earliest known event alerts start (default: history).
    #[serde(default)]
    pub learning: Option<String>,
    /// Group names that read a different expression per rule (Sigma's `aliases`): alias →
    /// rule id → expression. A `group_by` entry naming an alias evaluates, on each rule's
    /// matches, that rule's expression.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
}

impl CorrelationSpec {
    /// The `group_by` expressions evaluated on the matches of `rule_id` (aliases resolved).
    pub fn group_for(&self, rule_id: &str) -> Vec<String> {
        self.group_by
            .iter()
            .map(|name| match self.aliases.get(name).and_then(|per_rule| per_rule.get(rule_id)) {
                Some(expression) => expression.clone(),
                None => name.clone(),
            })
            .collect()
    }
}

/// Kinds of correlation (Sigma correlation v2 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationKind {
    /// Matches per group within the window, compared with the condition.
    EventCount,
    /// Distinct values of `field` per group within the window, compared with the condition.
    ValueCount,
    /// Every listed rule matches for the group within the window, in any order.
    Temporal,
    /// The listed rules match for the group in the listed order within the window.
    TemporalOrdered,
    /// First appearance of a value tuple compared with the history.
    NewTerms,
}

/// A count condition; several bounds combine into a range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Count > gt.
    pub gt: Option<u64>,
    /// Count >= gte.
    pub gte: Option<u64>,
    /// Count < lt.
    pub lt: Option<u64>,
    /// Count <= lte.
    pub lte: Option<u64>,
    /// Count == eq.
    pub eq: Option<u64>,
    /// Count != neq.
    pub neq: Option<u64>,
}

impl Condition {
    /// Whether `count` satisfies every bound.
    pub fn holds(&self, count: u64) -> bool {
        self.gt.is_none_or(|bound| count > bound)
            && self.gte.is_none_or(|bound| count >= bound)
            && self.lt.is_none_or(|bound| count < bound)
            && self.lte.is_none_or(|bound| count <= bound)
            && self.eq.is_none_or(|bound| count == bound)
            && self.neq.is_none_or(|bound| count != bound)
    }

    /// Whether the condition can only become true as the count grows (gt/gte alone), so it
    /// may fire as soon as it holds instead of when the window closes.
    pub fn fires_early(&self) -> bool {
        self.lt.is_none() && self.lte.is_none() && self.eq.is_none() && self.neq.is_none()
    }

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A parsed and validated correlation rule.
#[derive(Debug, Clone)]
pub struct CorrelationRule {
    /// Metadata (`meta.correlation` is the spec).
    pub meta: RuleMeta,
    /// The `[correlation]` table.
    pub spec: CorrelationSpec,
    /// Window length (zero for `new_terms`).
    pub timespan: Duration,
    /// `new_terms` history.
    pub history: Duration,
    /// `new_terms` learning period.
    pub learning: Duration,
    /// Where it was loaded from.
    pub file: std::path::PathBuf,
}

/// Default `new_terms` history.
pub const DEFAULT_HISTORY: Duration = Duration::from_secs(7 * 86_400);

impl CorrelationRule {
    /// Parses a `.toml` correlation rule.
    pub fn parse(file: &Path, text: &str) -> Result<Self> {
        let error = |line: usize, reason: String| PipelineError::Rule {
            file: file.to_path_buf(),
            line,
            reason,
        };
        let meta: RuleMeta = toml::from_str(text).map_err(|toml_error| {
            let line =
                toml_error.span().map_or(1, |span| text[..span.start].matches('\n').count() + 1);
            error(line, format!("invalid correlation rule: {}", toml_error.message()))
        })?;
        let section_line = text
            .lines()
            .position(|line| line.trim() == "[correlation]")
            .map_or(1, |index| index + 1);
        validate_meta(&meta).map_err(|reason| error(1, reason))?;
        Self::from_meta(meta, file, section_line)
    }

    /// Checks the `[correlation]` table of already validated metadata; errors name `file` at
    /// `section_line`.
    pub fn from_meta(meta: RuleMeta, file: &Path, section_line: usize) -> Result<Self> {
        let fail = |reason: String| PipelineError::Rule {
            file: file.to_path_buf(),
            line: section_line,
            reason,
        };
        let spec = meta
            .correlation
            .clone()
            .ok_or_else(|| fail("a correlation rule needs a [correlation] table".into()))?;
        let duration =
            |text: &Option<String>, default: Option<Duration>, what: &str| -> Result<Duration> {
                match (text, default) {
                    (Some(text), _) => {
                        parse_duration(text).map_err(|reason| fail(format!("{what}: {reason}")))
                    }
                    (None, Some(default)) => Ok(default),
                    (None, None) => Err(fail(format!("{what} is required for {:?}", spec.kind))),
                }
            };
        if spec.rules.is_empty() {
            return Err(fail("rules must name at least one rule".into()));
        }
        let timespan = match spec.kind {
            CorrelationKind::NewTerms => Duration::ZERO,
            _ => duration(&spec.timespan, None, "timespan")?,
        };
        match spec.kind {
            CorrelationKind::EventCount | CorrelationKind::ValueCount => {
                let condition = spec.condition.as_ref().filter(|condition| !condition.is_empty());
                if condition.is_none() {
                    return Err(fail(
                        "event_count and value_count need a condition such as { gte = 5 }".into(),
                    ));
                }
                if (spec.kind == CorrelationKind::ValueCount) == spec.field.is_empty() {
                    return Err(fail("field is required for value_count and only there".into()));
                }
            }
            CorrelationKind::Temporal | CorrelationKind::TemporalOrdered => {
                if spec.condition.is_some() || !spec.field.is_empty() {
                    return Err(fail("temporal correlations take no condition or field".into()));
                }
                if spec.kind == CorrelationKind::TemporalOrdered
                    && !(2..=5).contains(&spec.rules.len())
                {
                    return Err(fail("temporal_ordered takes 2 to 5 rules".into()));
                }
                if spec.kind == CorrelationKind::Temporal && spec.rules.len() < 2 {
                    return Err(fail("temporal takes at least 2 rules".into()));
                }
            }
            CorrelationKind::NewTerms => {
                if spec.fields.is_empty() {
                    return Err(fail("new_terms needs fields, the value tuple".into()));
                }
                if !spec.group_by.is_empty() {
                    let reason =
                        "new_terms takes fields, not group_by: its alerts group by the fields";
                    return Err(fail(reason.into()));
                }
            }
        }
        for (alias, per_rule) in &spec.aliases {
            if let Some(missing) = spec.rules.iter().find(|rule| !per_rule.contains_key(*rule)) {
                return Err(fail(format!("alias '{alias}' gives no expression for '{missing}'")));
            }
        }
        if spec.kind != CorrelationKind::NewTerms && spec.group_by.is_empty() {
            return Err(fail("group_by must name at least one expression".into()));
        }
        let history = duration(&spec.history, Some(DEFAULT_HISTORY), "history")?;
        let learning = duration(&spec.learning, Some(history), "learning")?;
        Ok(Self { meta, spec, timespan, history, learning, file: file.to_path_buf() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "id = \"c\"\ntitle = \"t\"\nseverity = \"high\"\ndescription = \"d\"\ntactics = [\"TA0006\"]\ntechniques = [\"T1110\"]\n";

    fn parse(section: &str) -> Result<CorrelationRule> {
        CorrelationRule::parse(Path::new("c.toml"), &format!("{HEAD}\n[correlation]\n{section}"))
    }

    #[test]
    fn parses_each_kind() {
        let rule = parse("type = \"event_count\"\nrules = [\"a\"]\ngroup_by = [\"sourceipaddress\"]\ntimespan = \"10m\"\ncondition = { gte = 5 }").unwrap();
        assert_eq!(rule.timespan, Duration::from_secs(600));
        assert!(rule.spec.condition.as_ref().unwrap().holds(5));
        let rule = parse(
            "type = \"new_terms\"\nrules = [\"a\"]\nfields = [\"useridentity.arn\", \"awsregion\"]",
        )
        .unwrap();
        assert_eq!(rule.history, DEFAULT_HISTORY);
        assert_eq!(rule.learning, DEFAULT_HISTORY);
        parse("type = \"temporal_ordered\"\nrules = [\"a\", \"b\"]\ngroup_by = [\"x\"]\ntimespan = \"1h\"").unwrap();
    }

    #[test]
    fn rejects_incomplete_correlations_with_the_line() {
        let cases = [
            (
                "type = \"event_count\"\nrules = [\"a\"]\ngroup_by = [\"x\"]\ntimespan = \"1h\"",
                "need a condition",
            ),
            (
                "type = \"value_count\"\nrules = [\"a\"]\ngroup_by = [\"x\"]\ntimespan = \"1h\"\ncondition = { gt = 3 }",
                "field is required",
            ),
            (
                "type = \"temporal_ordered\"\nrules = [\"a\"]\ngroup_by = [\"x\"]\ntimespan = \"1h\"",
                "2 to 5 rules",
            ),
            (
                "type = \"temporal\"\nrules = [\"a\", \"b\"]\ngroup_by = [\"x\"]",
                "timespan is required",
            ),
            (
                "type = \"event_count\"\nrules = [\"a\"]\ntimespan = \"1h\"\ncondition = { gt = 3 }",
                "group_by",
            ),
            ("type = \"sometimes\"\nrules = [\"a\"]", "invalid correlation rule"),
        ];
        for (section, expected) in cases {
            let error = parse(section).unwrap_err().to_string();
            assert!(
                error.contains(expected) && error.starts_with("rule c.toml:"),
                "{section}: {error}"
            );
        }
    }

    #[test]
    fn conditions_combine_into_ranges() {
        let range = Condition { gte: Some(2), lte: Some(4), ..Condition::default() };
        assert!(!range.holds(1) && range.holds(2) && range.holds(4) && !range.holds(5));
        assert!(!range.fires_early());
        assert!(Condition { gt: Some(3), ..Condition::default() }.fires_early());
    }
}
