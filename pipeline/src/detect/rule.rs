//! The rule file format: a leading block comment holding TOML metadata, then one read-only
//! `SELECT ... FROM cloudtrail WHERE ...`. Every returned row is a match.
//!
//! ```sql
//! /*
//! id = "aws.cloudtrail.stop_logging"
//! title = "CloudTrail logging stopped"
//! severity = "high"
//! description = "..."
//! tactics = ["TA0005"]
//! techniques = ["T1562.008"]
//! */
//! SELECT * FROM cloudtrail
//! WHERE eventsource = 'cloudtrail.amazonaws.com' AND eventname = 'StopLogging'
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlparser::ast::{
    Expr, GroupByExpr, Query, SelectItem, SetExpr, Statement, TableFactor, Visit, Visitor,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::error::{PipelineError, Result};

/// Alert severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth recording.
    Info,
    /// Worth a look.
    Low,
    /// Worth a look today.
    Medium,
    /// Worth a look now.
    High,
    /// Wake someone up.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        };
        f.write_str(name)
    }
}

/// A rule's metadata, as written in its header.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleMeta {
    /// Unique, stable id (`aws.<area>.<name>`).
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Severity of its alerts.
    pub severity: Severity,
    /// What it detects and what to do about it.
    pub description: String,
    /// MITRE ATT&CK tactic ids (`TA0005`).
    pub tactics: Vec<String>,
    /// MITRE ATT&CK technique ids (`T1562.008`).
    pub techniques: Vec<String>,
    /// Stratus Red Team technique ids it detects.
    #[serde(default)]
    pub stratus: Vec<String>,
    /// Documentation links.
    #[serde(default)]
    pub references: Vec<String>,
    /// Known benign causes.
    #[serde(default)]
    pub false_positives: Vec<String>,
    /// First thing an analyst should check.
    #[serde(default)]
    pub runbook: Option<String>,
    /// Free-form tags for routing.
    #[serde(default)]
    pub tags: Vec<String>,
    /// SQL expressions whose values identify "the same activity" for deduplication.
    #[serde(default)]
    pub dedup_key: Vec<String>,
    /// How long, from the first match, later matches with the same key join its alert (`1h`).
    #[serde(default)]
    pub dedup_period: Option<String>,
    /// With a dedup key: no alert until this many matches share a key within the period.
    #[serde(default)]
    pub threshold: Option<u64>,
    /// Feeds correlations only: its matches raise no alert of their own.
    #[serde(default)]
    pub signal_only: bool,
    /// Present in correlation rules (`.toml` files) only.
    #[serde(default)]
    pub correlation: Option<crate::correlate::CorrelationSpec>,
}

/// A parsed and validated rule file.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Header metadata.
    pub meta: RuleMeta,
    /// The SELECT statement.
    pub sql: String,
    /// Whether the statement selects `*` (no extra alert fields).
    pub selects_all: bool,
    /// Dedup period, parsed.
    pub dedup_period: Option<Duration>,
    /// Where it was loaded from.
    pub file: PathBuf,
    /// 1-based line of the SELECT in the file.
    pub sql_line: usize,
}

/// The dedup key of a rule with a `dedup_period` and no `dedup_key`: the actor.
pub const DEFAULT_DEDUP_KEY: &[&str] =
    &["coalesce(useridentity.arn, useridentity.principalid, useridentity.invokedby)"];

/// The table rules read from.
pub const RULE_TABLE: &str = "cloudtrail";

impl Rule {
    /// Parses a rule file's text; errors name the file and line.
    pub fn parse(file: &Path, text: &str) -> Result<Self> {
        let error = |line: usize, reason: String| PipelineError::Rule {
            file: file.to_path_buf(),
            line,
            reason,
        };
        let trimmed = text.trim_start();
        let leading_lines = text[..text.len() - trimmed.len()].matches('\n').count();
        let header_start = trimmed.strip_prefix("/*").ok_or_else(|| {
            error(leading_lines + 1, "a rule starts with a /* ... */ TOML metadata block".into())
        })?;
        let header_end = header_start.find("*/").ok_or_else(|| {
            error(leading_lines + 1, "the metadata block is not closed with */".into())
        })?;
        let header = &header_start[..header_end];
        let meta: RuleMeta = toml::from_str(header).map_err(|toml_error| {
            let line =
                toml_error.span().map_or(1, |span| header[..span.start].matches('\n').count() + 1);
            error(leading_lines + line, format!("invalid metadata: {}", toml_error.message()))
        })?;
        let after_header = &header_start[header_end + 2..];
        let sql_text = after_header.trim_start();
        let header_lines = text.len() - sql_text.len();
        let sql_line = text[..header_lines].matches('\n').count() + 1;
        let sql = sql_text.trim_end().trim_end_matches(';').to_string();

        validate_meta(&meta).map_err(|reason| error(leading_lines + 1, reason))?;
        Self::build(meta, sql, file, leading_lines + 1, sql_line)
    }

    /// A rule from validated metadata and its SELECT: checks the SQL and the dedup settings.
    /// Errors name `file` at `meta_line` or at the SELECT's line.
    pub fn build(
        meta: RuleMeta,
        sql: String,
        file: &Path,
        meta_line: usize,
        sql_line: usize,
    ) -> Result<Self> {
        let error = |line: usize, reason: String| PipelineError::Rule {
            file: file.to_path_buf(),
            line,
            reason,
        };
        let leading_lines = meta_line - 1;
        let dedup_period = match &meta.dedup_period {
            Some(period) => {
                Some(parse_duration(period).map_err(|reason| error(leading_lines + 1, reason))?)
            }
            None => None,
        };
        if meta.correlation.is_some() {
            let reason =
                "a [correlation] belongs in a .toml correlation rule, not in a .sql detection";
            return Err(error(leading_lines + 1, reason.into()));
        }
        let selects_all =
            validate_sql(&sql).map_err(|(line, reason)| error(sql_line + line - 1, reason))?;
        let mut meta = meta;
        if dedup_period.is_some() && meta.dedup_key.is_empty() {
            meta.dedup_key = DEFAULT_DEDUP_KEY.iter().map(|expr| expr.to_string()).collect();
        }
        Ok(Self { meta, sql, selects_all, dedup_period, file: file.to_path_buf(), sql_line })
    }

    /// Builds a load-time error for this rule at its SELECT (or at the line `needle` is on).
    pub fn error_at(&self, needle: Option<&str>, reason: String) -> PipelineError {
        let line = needle
            .and_then(|needle| {
                self.sql
                    .lines()
                    .position(|line| line.to_lowercase().contains(&needle.to_lowercase()))
            })
            .map_or(self.sql_line, |index| self.sql_line + index);
        PipelineError::Rule { file: self.file.clone(), line, reason }
    }
}

/// Checks the metadata shared by detections and correlations.
pub fn validate_meta(meta: &RuleMeta) -> Result<(), String> {
    validate_core_meta(meta)?;
    if meta.tactics.is_empty() || meta.techniques.is_empty() {
        return Err("tactics and techniques must each name at least one MITRE ATT&CK id".into());
    }
    Ok(())
}

/// Checks every metadata field except that ATT&CK ids be present (Sigma rules carry the
/// tags their authors gave; the ids present must still be well formed).
pub fn validate_core_meta(meta: &RuleMeta) -> Result<(), String> {
    if meta.dedup_period.is_none() && !meta.dedup_key.is_empty() {
        return Err("dedup_key needs a dedup_period".into());
    }
    if meta.threshold.is_some() && meta.dedup_period.is_none() {
        return Err("threshold needs a dedup_key and dedup_period".into());
    }
    if meta.threshold == Some(0) {
        return Err("threshold must be at least 1".into());
    }
    if meta.id.trim().is_empty() || meta.id.chars().any(char::is_whitespace) {
        return Err(format!("id '{}' must be non-empty without spaces", meta.id));
    }
    if meta.title.trim().is_empty() || meta.description.trim().is_empty() {
        return Err("title and description must not be empty".into());
    }
    if let Some(bad) = meta.tactics.iter().find(|id| !is_attack_id(id, "TA")) {
        return Err(format!("'{bad}' is not an ATT&CK tactic id (TA0001)"));
    }
    if let Some(bad) = meta.techniques.iter().find(|id| !is_attack_id(id, "T")) {
        return Err(format!("'{bad}' is not an ATT&CK technique id (T1078 or T1078.004)"));
    }
    Ok(())
}

fn is_attack_id(id: &str, prefix: &str) -> bool {
    let Some(rest) = id.strip_prefix(prefix) else {
        return false;
    };
    let (main, sub) = rest.split_once('.').map_or((rest, None), |(main, sub)| (main, Some(sub)));
    main.len() == 4
        && main.bytes().all(|b| b.is_ascii_digit())
        && sub.is_none_or(|sub| sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit()))
}

/// Parses `30s`, `15m`, `1h`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 30s, 15m, 1h or 7d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!("'{text}' is not a duration like 30s, 15m, 1h or 7d"));
        }
    };
    Ok(Duration::from_secs(number * seconds))
}

/// Checks the statement is one read-only `SELECT ... FROM cloudtrail WHERE ...` over the
/// current batch. Returns whether it selects `*`; errors carry a 1-based line in `sql`.
fn validate_sql(sql: &str) -> Result<bool, (usize, String)> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql).map_err(|parse_error| {
        let text = parse_error.to_string();
        let line = text
            .split("Line: ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|number| number.trim().parse().ok())
            .unwrap_or(1);
        (line, format!("SQL syntax error: {text}"))
    })?;
    let [statement] = statements.as_slice() else {
        return Err((
            1,
            format!("a rule holds exactly one SELECT statement, found {}", statements.len()),
        ));
    };
    let Statement::Query(query) = statement else {
        return Err((1, "a rule must be a read-only SELECT".into()));
    };
    let Query { with, body, order_by, limit_clause, .. } = query.as_ref();
    if with.is_some() || order_by.is_some() || limit_clause.is_some() {
        return Err((1, "WITH, ORDER BY and LIMIT are not allowed in a rule".into()));
    }
    let SetExpr::Select(select) = body.as_ref() else {
        return Err((1, "a rule is a single SELECT (no UNION, VALUES or nested query)".into()));
    };
    let [from] = select.from.as_slice() else {
        return Err((1, format!("a rule reads FROM {RULE_TABLE} only")));
    };
    let reads_events = matches!(&from.relation, TableFactor::Table { name, .. }
        if name.to_string().eq_ignore_ascii_case(RULE_TABLE));
    if !reads_events || !from.joins.is_empty() {
        return Err((1, format!("a rule reads FROM {RULE_TABLE} only, without joins")));
    }
    if select.selection.is_none() {
        return Err((1, "a rule needs a WHERE clause: without one it matches every event".into()));
    }
    let groups = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    if groups || select.having.is_some() || select.distinct.is_some() {
        return Err((
            1,
            "GROUP BY, HAVING and DISTINCT belong in correlation rules, not detections".into(),
        ));
    }
    struct SubqueryFinder(bool);
    impl Visitor for SubqueryFinder {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> std::ops::ControlFlow<()> {
            if matches!(expr, Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. }) {
                self.0 = true;
                return std::ops::ControlFlow::Break(());
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut finder = SubqueryFinder(false);
    let _ = statement.visit(&mut finder);
    if finder.0 {
        return Err((1, "subqueries are not allowed: a rule sees one batch of events".into()));
    }
    Ok(select.projection.iter().any(|item| matches!(item, SelectItem::Wildcard(_))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"/*
id = "test.rule"
title = "A rule"
severity = "high"
description = "Detects something."
tactics = ["TA0005"]
techniques = ["T1562.008"]
*/
"#;

    fn parse(sql: &str) -> Result<Rule> {
        Rule::parse(Path::new("rules/x.sql"), &format!("{HEADER}{sql}"))
    }

    #[test]
    fn parses_a_rule() {
        let rule = parse("SELECT *\nFROM cloudtrail\nWHERE eventname = 'StopLogging';\n").unwrap();
        assert_eq!(rule.meta.id, "test.rule");
        assert_eq!(rule.meta.severity, Severity::High);
        assert!(rule.selects_all);
        assert_eq!(rule.sql_line, 9);
        assert_eq!(rule.sql, "SELECT *\nFROM cloudtrail\nWHERE eventname = 'StopLogging'");
    }

    #[test]
    fn rejects_what_is_not_a_read_only_select_with_file_and_line() {
        let cases = [
            ("DELETE FROM cloudtrail", "read-only SELECT"),
            ("SELECT * FROM other WHERE 1=1", "FROM cloudtrail only"),
            ("SELECT * FROM cloudtrail", "needs a WHERE"),
            ("SELECT * FROM cloudtrail a JOIN cloudtrail b ON a.x=b.x WHERE 1=1", "without joins"),
            ("SELECT eventname FROM cloudtrail WHERE 1=1 GROUP BY eventname", "GROUP BY"),
            ("SELECT * FROM cloudtrail WHERE x IN (SELECT 1)", "subqueries"),
            ("SELECT * FROM cloudtrail WHERE 1=1; SELECT 1", "exactly one"),
            ("SELECT * FROM cloudtrail WHERE 1=1 LIMIT 1", "LIMIT"),
        ];
        for (sql, expected) in cases {
            let error = parse(sql).unwrap_err().to_string();
            assert!(
                error.contains(expected) && error.starts_with("rule rules/x.sql:9:"),
                "{sql}: {error}"
            );
        }
        let error =
            parse("SELECT *\nFROM cloudtrail\nWHERE eventname = = 'x'").unwrap_err().to_string();
        assert!(error.starts_with("rule rules/x.sql:11: SQL syntax error"), "{error}");
    }

    #[test]
    fn rejects_bad_metadata() {
        let error = Rule::parse(Path::new("r.sql"), "SELECT 1").unwrap_err().to_string();
        assert!(error.contains("metadata block"), "{error}");
        let bad = HEADER.replace("severity = \"high\"", "severity = \"urgent\"");
        let error =
            Rule::parse(Path::new("r.sql"), &format!("{bad}SELECT * FROM cloudtrail WHERE 1=1"))
                .unwrap_err();
        assert!(error.to_string().starts_with("rule r.sql:4: invalid metadata"), "{error}");
        let bad = HEADER.replace("T1562.008", "T15");
        let error =
            Rule::parse(Path::new("r.sql"), &format!("{bad}SELECT * FROM cloudtrail WHERE 1=1"))
                .unwrap_err();
        assert!(error.to_string().contains("not an ATT&CK technique id"), "{error}");
        let bad = HEADER.replace("*/", "unknown_key = 1\n*/");
        let error =
            Rule::parse(Path::new("r.sql"), &format!("{bad}SELECT * FROM cloudtrail WHERE 1=1"))
                .unwrap_err();
        assert!(error.to_string().contains("unknown field"), "{error}");
    }

    #[test]
    fn a_dedup_period_alone_dedups_by_actor() {
        let header = HEADER.replace("*/", "dedup_period = \"1h\"\n*/");
        let rule = Rule::parse(
            Path::new("r.sql"),
            &format!("{header}SELECT * FROM cloudtrail WHERE true"),
        )
        .unwrap();
        assert_eq!(rule.meta.dedup_key, DEFAULT_DEDUP_KEY);
        let header = HEADER.replace("*/", "dedup_key = [\"eventname\"]\n*/");
        let error = Rule::parse(
            Path::new("r.sql"),
            &format!("{header}SELECT * FROM cloudtrail WHERE true"),
        )
        .unwrap_err();
        assert!(error.to_string().contains("dedup_key needs a dedup_period"), "{error}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }
}
