//! Declarative exceptions: known, accepted activity that suppresses rule matches.
//!
//! An exception never drops a match silently: [`ExceptionSet::suppressions`] tells the caller
//! which matches an exception covers and which exception it was, and the caller counts and
//! keeps them. Exceptions live in a TOML file, one `[[exception]]` table each:
//!
//! ```toml
//! [[exception]]
//! rules = ["aws.credential_access.secrets_manager_secret_retrieved"]   # rule ids; "*" = every rule; globs allowed ("aws.discovery.*")
//! actor = ["arn:aws:iam::123456789012:role/ci-*"]      # userIdentity.arn: exact or glob (* and ?)
//! actor_regex = [".*AWSReservedSSO_AdministratorAccess.*"]
//! source_ip = ["10.0.0.0/8", "192.0.2.7"]             # sourceIPAddress: IPs or CIDRs
//! account = ["123456789012"]                          # recipientAccountId
//! user_agent = ["*terraform*"]                        # glob
//! sql = "json_extract_scalar(requestparameters, '$.secretId') LIKE 'dev/%'"   # any SQL predicate over the cloudtrail columns
//! expires = "2026-12-31"                              # optional: date (UTC, inclusive) after which it no longer applies
//! reason = "CI reads its own secrets"                 # required
//! owner = "platform-team@example.com"                 # required
//! ```
//!
//! Semantics:
//! - `rules` (required) names the rules the exception applies to: exact ids, globs, or `"*"`.
//! - Every criterion given must hold (AND); within a criterion's list, any value may match
//!   (OR). At least one criterion besides `rules` is required, and a list may not be empty.
//! - Globs (`rules`, `actor`, `user_agent`) match the whole value; `*` matches any run of
//!   characters (including `/` and `:`), `?` exactly one; everything else is literal and
//!   case-sensitive. `actor_regex` patterns (Rust `regex` syntax) must match the whole ARN too.
//! - `source_ip` values are addresses (`192.0.2.7`, `2001:db8::1`) or CIDR blocks
//!   (`10.0.0.0/8`, `2001:db8::/32`) without host bits; IPv4-mapped IPv6 addresses match
//!   their IPv4 form. A `sourceIPAddress` that is not an address (`s3.amazonaws.com`) matches
//!   no block.
//! - `account` values are 12-digit account ids compared with `recipientAccountId`.
//! - `sql` is a boolean SQL predicate over the `cloudtrail` columns, compiled exactly like a
//!   rule's WHERE clause; NULL counts as false.
//! - A criterion whose field is absent from the event (no `userIdentity.arn` for an AWS
//!   service, say) does not hold: exceptions err on the side of alerting.
//! - `expires` (a `"YYYY-MM-DD"` string or a bare TOML date) is the last day, in UTC, the
//!   exception applies; after it the exception suppresses nothing but stays listed.
//! - When several exceptions cover a match, the first one in the file is reported.
//!
//! Everything is validated at load: unknown keys, bad globs, regexes, addresses, dates and
//! SQL predicates fail with the file, the line and the exception's index (its 0-based
//! position in the file, the same index [`ExceptionSet::suppressions`] reports).
//!
//! [`ExceptionSet::from_trailalerts`] imports TrailAlerts' `exceptions.json`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use chrono::NaiveDate;
use datafusion::common::DFSchema;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use lake::record_json::string_at;
use lake::schema::cloudtrail_schema;
use regex::Regex;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::detect::engine::to_physical;
use crate::detect::rule::RULE_TABLE;
use crate::error::{PipelineError, Result};

/// Reason given to exceptions imported from TrailAlerts.
pub const TRAILALERTS_REASON: &str = "imported from TrailAlerts exceptions.json";

/// What the caller records about the exception that suppressed a match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionInfo {
    /// Position of the exception in its file (0-based), as returned by
    /// [`ExceptionSet::suppressions`].
    pub index: usize,
    /// The rule ids or globs it applies to, as written.
    pub rules: Vec<String>,
    /// Why the activity is accepted.
    pub reason: String,
    /// Who owns the exception.
    pub owner: String,
    /// Last day (UTC, `YYYY-MM-DD`) it applies, if it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// A set of loaded, validated exceptions.
#[derive(Debug, Default)]
pub struct ExceptionSet {
    exceptions: Vec<Exception>,
}

/// One compiled exception.
#[derive(Debug)]
struct Exception {
    info: ExceptionInfo,
    rules: Regex,
    expires: Option<NaiveDate>,
    actor: Option<Regex>,
    actor_regex: Option<Vec<Regex>>,
    source_ip: Option<Vec<Cidr>>,
    account: Option<Vec<String>>,
    user_agent: Option<Regex>,
    sql: Option<Arc<dyn PhysicalExpr>>,
}

impl ExceptionSet {
    /// No exceptions: nothing is suppressed.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Loads and validates a TOML exceptions file.
    pub async fn load(path: &Path) -> Result<Self> {
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|error| load_error(path, 0, format!("cannot read exceptions: {error}")))?;
        Self::from_toml(path, &text).await
    }

    /// Parses and validates exceptions written as TOML; `file` is used in error messages.
    pub async fn from_toml(file: &Path, text: &str) -> Result<Self> {
        let raw: RawFile = toml::from_str(text).map_err(|error| {
            let start = error.span().map(|span| span.start);
            let line = start.map_or(0, |start| line_at(text, start));
            let place = start
                .and_then(|start| exception_index_at(text, start))
                .map_or_else(String::new, |index| format!("exception index {index}: "));
            load_error(file, line, format!("{place}{}", error.message().trim_end()))
        })?;
        let mut compiler = Compiler::new(file);
        let mut exceptions = Vec::with_capacity(raw.exception.len());
        for (index, spanned) in raw.exception.into_iter().enumerate() {
            let line = header_line(text, spanned.span().start);
            let spec = spanned.into_inner().into_spec(text, line);
            exceptions.push(compiler.compile(index, spec).await?);
        }
        Ok(Self { exceptions })
    }

    /// Imports TrailAlerts' `exceptions.json`: `{"<Sigma rule title>": {"excludedActors":
    /// [...], "excludedSourceIPs": [...], "excludedActorsRegex": [...]}}`. Each title is mapped
    /// to a rule id through `rule_ids_by_title` (an unknown title is an error). Each non-empty
    /// list becomes its own exception, since in TrailAlerts any one of them excludes an event;
    /// exceptions come in title order, then actors, source IPs, actor regexes.
    pub async fn from_trailalerts(
        path: &Path,
        rule_ids_by_title: &HashMap<String, String>,
    ) -> Result<Self> {
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|error| load_error(path, 0, format!("cannot read exceptions: {error}")))?;
        let entries: BTreeMap<String, TrailAlertsEntry> = serde_json::from_str(&text)
            .map_err(|error| load_error(path, error.line(), error.to_string()))?;
        let mut compiler = Compiler::new(path);
        let mut exceptions = Vec::new();
        for (title, entry) in entries {
            let line = text
                .find(&serde_json::to_string(&title).unwrap_or_default())
                .map_or(0, |offset| line_at(&text, offset));
            let rule_id = rule_ids_by_title.get(&title).ok_or_else(|| {
                load_error(
                    path,
                    line,
                    format!("TrailAlerts rule title '{title}' does not name any known rule"),
                )
            })?;
            type Slot = fn(&mut Spec) -> &mut Option<Vec<String>>;
            let lists: [(Vec<String>, Slot); 3] = [
                (entry.excluded_actors, |spec| &mut spec.actor),
                (entry.excluded_source_ips, |spec| &mut spec.source_ip),
                (entry.excluded_actors_regex, |spec| &mut spec.actor_regex),
            ];
            for (values, slot) in lists {
                if values.is_empty() {
                    continue;
                }
                let mut spec = Spec {
                    line,
                    rules: Some(vec![rule_id.clone()]),
                    reason: Some(TRAILALERTS_REASON.into()),
                    owner: Some("unknown".into()),
                    ..Spec::default()
                };
                *slot(&mut spec) = Some(values);
                exceptions.push(compiler.compile(exceptions.len(), spec).await?);
            }
        }
        Ok(Self { exceptions })
    }

    /// Number of exceptions, expired ones included.
    pub fn len(&self) -> usize {
        self.exceptions.len()
    }

    /// Whether there are no exceptions at all.
    pub fn is_empty(&self) -> bool {
        self.exceptions.is_empty()
    }

    /// Indexes of the exceptions that have expired by `today` (worth a warning).
    pub fn expired(&self, today: NaiveDate) -> Vec<usize> {
        self.exceptions
            .iter()
            .enumerate()
            .filter(|(_, exception)| exception.is_expired(today))
            .map(|(index, _)| index)
            .collect()
    }

    /// What to record about exception `index`.
    ///
    /// # Panics
    ///
    /// When `index` is not the index of an exception of this set.
    pub fn describe(&self, index: usize) -> ExceptionInfo {
        self.exceptions[index].info.clone()
    }

    /// For each row of `rows` (a lake-schema batch of rule `rule_id`'s matches), the index of
    /// the first exception that applies to the rule, has not expired by `today` and covers the
    /// row; `None` when no exception does.
    pub fn suppressions(
        &self,
        rule_id: &str,
        rows: &RecordBatch,
        today: NaiveDate,
    ) -> Result<Vec<Option<usize>>> {
        let mut found = vec![None; rows.num_rows()];
        let fields = RowFields::of(rows);
        for (index, exception) in self.exceptions.iter().enumerate() {
            if !exception.rules.is_match(rule_id) || exception.is_expired(today) {
                continue;
            }
            let candidates: Vec<usize> = (0..rows.num_rows())
                .filter(|&row| found[row].is_none() && exception.matches_fields(&fields, row))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let mask = match &exception.sql {
                Some(predicate) => Some(evaluate(predicate, rows).map_err(|source| {
                    PipelineError::RuleEvaluation {
                        rule_id: format!("{rule_id} (exception index {index})"),
                        source,
                    }
                })?),
                None => None,
            };
            for row in candidates {
                let sql_holds = mask.as_ref().is_none_or(|mask| {
                    let mask = mask.as_boolean();
                    mask.is_valid(row) && mask.value(row)
                });
                if sql_holds {
                    found[row] = Some(index);
                }
            }
        }
        Ok(found)
    }
}

impl Exception {
    fn is_expired(&self, today: NaiveDate) -> bool {
        self.expires.is_some_and(|last_day| today > last_day)
    }

    /// Whether every criterion but the SQL predicate holds for `row`.
    fn matches_fields(&self, fields: &RowFields<'_>, row: usize) -> bool {
        let actor = RowFields::text(fields.actor, row);
        if let Some(glob) = &self.actor
            && !actor.is_some_and(|actor| glob.is_match(actor))
        {
            return false;
        }
        if let Some(patterns) = &self.actor_regex
            && !actor.is_some_and(|actor| patterns.iter().any(|regex| regex.is_match(actor)))
        {
            return false;
        }
        if let Some(blocks) = &self.source_ip {
            let address = RowFields::text(fields.source_ip, row)
                .and_then(|text| text.trim().parse::<IpAddr>().ok());
            let Some(address) = address else {
                return false;
            };
            if !blocks.iter().any(|block| block.contains(address)) {
                return false;
            }
        }
        if let Some(accounts) = &self.account {
            let account = RowFields::text(fields.account, row);
            if !account.is_some_and(|account| accounts.iter().any(|known| known == account)) {
                return false;
            }
        }
        if let Some(glob) = &self.user_agent
            && !RowFields::text(fields.user_agent, row).is_some_and(|agent| glob.is_match(agent))
        {
            return false;
        }
        true
    }
}

/// The columns the list criteria read.
struct RowFields<'a> {
    actor: Option<&'a dyn Array>,
    source_ip: Option<&'a dyn Array>,
    account: Option<&'a dyn Array>,
    user_agent: Option<&'a dyn Array>,
}

impl<'a> RowFields<'a> {
    fn of(rows: &'a RecordBatch) -> Self {
        let column = |name: &str| rows.column_by_name(name).map(|column| column.as_ref());
        let actor = rows
            .column_by_name("useridentity")
            .and_then(|column| column.as_struct_opt())
            .and_then(|identity| identity.column_by_name("arn"))
            .map(|column| column.as_ref());
        Self {
            actor,
            source_ip: column("sourceipaddress"),
            account: column("recipientaccountid"),
            user_agent: column("useragent"),
        }
    }

    fn text(array: Option<&'a dyn Array>, row: usize) -> Option<&'a str> {
        array.and_then(|array| string_at(array, row))
    }
}

fn evaluate(
    predicate: &Arc<dyn PhysicalExpr>,
    rows: &RecordBatch,
) -> datafusion::error::Result<arrow::array::ArrayRef> {
    let mask = predicate.evaluate(rows)?.into_array(rows.num_rows())?;
    if mask.as_boolean_opt().is_none() {
        return Err(DataFusionError::Internal(format!(
            "an exception's SQL predicate returned {} instead of booleans",
            mask.data_type()
        )));
    }
    Ok(mask)
}

/// The TOML file: `[[exception]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    exception: Vec<Spanned<RawException>>,
}

/// One `[[exception]]` table as written, with the position of each value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    rules: Option<Spanned<Vec<String>>>,
    actor: Option<Spanned<Vec<String>>>,
    actor_regex: Option<Spanned<Vec<String>>>,
    source_ip: Option<Spanned<Vec<String>>>,
    account: Option<Spanned<Vec<String>>>,
    user_agent: Option<Spanned<Vec<String>>>,
    sql: Option<Spanned<String>>,
    expires: Option<Spanned<toml::Value>>,
    reason: Option<Spanned<String>>,
    owner: Option<Spanned<String>>,
}

impl RawException {
    fn into_spec(self, text: &str, line: usize) -> Spec {
        let mut lines = HashMap::new();
        let mut take = |name: Criterion, value: Option<Spanned<Vec<String>>>| {
            value.map(|value| {
                lines.insert(name, line_at(text, value.span().start));
                value.into_inner()
            })
        };
        let actor = take(Criterion::Actor, self.actor);
        let actor_regex = take(Criterion::ActorRegex, self.actor_regex);
        let source_ip = take(Criterion::SourceIp, self.source_ip);
        let account = take(Criterion::Account, self.account);
        let user_agent = take(Criterion::UserAgent, self.user_agent);
        let rules = take(Criterion::Rules, self.rules);
        let sql = self.sql.map(|sql| {
            lines.insert(Criterion::Sql, line_at(text, sql.span().start));
            sql.into_inner()
        });
        let expires = self.expires.map(|expires| {
            lines.insert(Criterion::Expires, line_at(text, expires.span().start));
            expires.into_inner()
        });
        Spec {
            line,
            lines,
            rules,
            actor,
            actor_regex,
            source_ip,
            account,
            user_agent,
            sql,
            expires,
            reason: self.reason.map(Spanned::into_inner),
            owner: self.owner.map(Spanned::into_inner),
        }
    }
}

/// One entry of TrailAlerts' `exceptions.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrailAlertsEntry {
    #[serde(default, rename = "excludedActors")]
    excluded_actors: Vec<String>,
    #[serde(default, rename = "excludedSourceIPs")]
    excluded_source_ips: Vec<String>,
    #[serde(default, rename = "excludedActorsRegex")]
    excluded_actors_regex: Vec<String>,
}

/// The keys of an exception, for error messages and line lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Criterion {
    Rules,
    Actor,
    ActorRegex,
    SourceIp,
    Account,
    UserAgent,
    Sql,
    Expires,
}

/// An exception before validation, whatever format it came from.
#[derive(Debug, Default)]
struct Spec {
    /// Line of the exception itself.
    line: usize,
    /// Line of each key, when known.
    lines: HashMap<Criterion, usize>,
    rules: Option<Vec<String>>,
    actor: Option<Vec<String>>,
    actor_regex: Option<Vec<String>>,
    source_ip: Option<Vec<String>>,
    account: Option<Vec<String>>,
    user_agent: Option<Vec<String>>,
    sql: Option<String>,
    expires: Option<toml::Value>,
    reason: Option<String>,
    owner: Option<String>,
}

/// Validates specs into exceptions; plans SQL predicates with one lazily built context.
struct Compiler {
    file: PathBuf,
    planner: Option<SqlPlanner>,
}

impl Compiler {
    fn new(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            planner: None,
        }
    }

    async fn compile(&mut self, index: usize, spec: Spec) -> Result<Exception> {
        let file = self.file.clone();
        let fail = |key: Option<Criterion>, reason: String| {
            let line = key
                .and_then(|key| spec.lines.get(&key).copied())
                .unwrap_or(spec.line);
            load_error(&file, line, format!("exception index {index}: {reason}"))
        };
        let reason = required_text(spec.reason.as_deref(), "reason").map_err(|e| fail(None, e))?;
        let owner = required_text(spec.owner.as_deref(), "owner").map_err(|e| fail(None, e))?;
        let Some(rule_ids) = spec.rules.clone() else {
            return Err(fail(
                None,
                "rules is required (rule ids, globs, or \"*\")".into(),
            ));
        };
        if rule_ids.is_empty() {
            return Err(fail(
                Some(Criterion::Rules),
                "rules is empty: name at least one rule id, glob, or \"*\"".into(),
            ));
        }
        let rules = values(&rule_ids, "rules")
            .and_then(|ids| {
                if let Some(bad) = ids.iter().find(|id| id.chars().any(char::is_whitespace)) {
                    return Err(format!("rules: '{bad}' is not a rule id (it has spaces)"));
                }
                glob_set(ids)
            })
            .map_err(|e| fail(Some(Criterion::Rules), e))?;

        let actor = spec
            .actor
            .as_deref()
            .map(|list| values(list, "actor").and_then(glob_set))
            .transpose()
            .map_err(|e| fail(Some(Criterion::Actor), e))?;
        let actor_regex = spec
            .actor_regex
            .as_deref()
            .map(|list| {
                values(list, "actor_regex")
                    .and_then(|list| list.iter().map(|p| anchored_regex(p)).collect())
            })
            .transpose()
            .map_err(|e| fail(Some(Criterion::ActorRegex), e))?;
        let source_ip = spec
            .source_ip
            .as_deref()
            .map(|list| {
                values(list, "source_ip").and_then(|list| {
                    list.iter()
                        .map(|text| {
                            Cidr::parse(text)
                                .map_err(|error| format!("source_ip '{text}': {error}"))
                        })
                        .collect()
                })
            })
            .transpose()
            .map_err(|e| fail(Some(Criterion::SourceIp), e))?;
        let account = spec
            .account
            .as_deref()
            .map(|list| {
                values(list, "account").and_then(|list| {
                    match list
                        .iter()
                        .find(|id| id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()))
                    {
                        Some(bad) => {
                            Err(format!("account '{bad}' is not a 12-digit AWS account id"))
                        }
                        None => Ok(list.to_vec()),
                    }
                })
            })
            .transpose()
            .map_err(|e| fail(Some(Criterion::Account), e))?;
        let user_agent = spec
            .user_agent
            .as_deref()
            .map(|list| values(list, "user_agent").and_then(glob_set))
            .transpose()
            .map_err(|e| fail(Some(Criterion::UserAgent), e))?;
        let expires = spec
            .expires
            .as_ref()
            .map(parse_date)
            .transpose()
            .map_err(|e| fail(Some(Criterion::Expires), e))?;
        let sql = match spec.sql.as_deref() {
            Some(sql) if sql.trim().is_empty() => {
                return Err(fail(Some(Criterion::Sql), "sql is empty".into()));
            }
            Some(sql) => {
                let planner = match &mut self.planner {
                    Some(planner) => planner,
                    None => self
                        .planner
                        .insert(SqlPlanner::new().map_err(|e| fail(Some(Criterion::Sql), e))?),
                };
                Some(
                    planner
                        .compile(sql)
                        .await
                        .map_err(|e| fail(Some(Criterion::Sql), format!("sql: {e}")))?,
                )
            }
            None => None,
        };
        if actor.is_none()
            && actor_regex.is_none()
            && source_ip.is_none()
            && account.is_none()
            && user_agent.is_none()
            && sql.is_none()
        {
            return Err(fail(
                None,
                "an exception needs at least one criterion besides rules \
                 (actor, actor_regex, source_ip, account, user_agent or sql)"
                    .into(),
            ));
        }
        Ok(Exception {
            info: ExceptionInfo {
                index,
                rules: rule_ids,
                reason,
                owner,
                expires: expires.map(|date| date.format("%Y-%m-%d").to_string()),
            },
            rules,
            expires,
            actor,
            actor_regex,
            source_ip,
            account,
            user_agent,
            sql,
        })
    }
}

fn required_text(value: Option<&str>, key: &str) -> Result<String, String> {
    match value.map(str::trim) {
        Some(text) if !text.is_empty() => Ok(text.to_string()),
        Some(_) => Err(format!("{key} must not be empty")),
        None => Err(format!("{key} is required")),
    }
}

/// A criterion's list: not empty, no blank values.
fn values<'a>(list: &'a [String], key: &str) -> Result<&'a [String], String> {
    if list.is_empty() {
        return Err(format!(
            "{key} is an empty list: remove it or give at least one value"
        ));
    }
    if list.iter().any(|value| value.trim().is_empty()) {
        return Err(format!("{key} has an empty value"));
    }
    Ok(list)
}

/// A regex matching exactly the values any of `globs` matches.
fn glob_set(globs: &[String]) -> Result<Regex, String> {
    let alternatives: Vec<String> = globs.iter().map(|glob| glob_to_regex(glob)).collect();
    Regex::new(&format!("^(?:{})$", alternatives.join("|")))
        .map_err(|error| format!("cannot compile globs {globs:?}: {error}"))
}

/// A glob as a regex body: `*` is any run of characters, `?` one character, the rest literal.
fn glob_to_regex(glob: &str) -> String {
    let mut regex = String::from("(?s:");
    let mut buffer = [0; 4];
    for ch in glob.chars() {
        match ch {
            '*' => regex.push_str(".*"),
            '?' => regex.push('.'),
            _ => regex.push_str(&regex::escape(ch.encode_utf8(&mut buffer))),
        }
    }
    regex.push(')');
    regex
}

/// A user regex that must match the whole value.
fn anchored_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern)
        .and_then(|_| Regex::new(&format!("^(?:{pattern})$")))
        .map_err(|error| format!("actor_regex '{pattern}' is not a valid regex: {error}"))
}

fn parse_date(value: &toml::Value) -> Result<NaiveDate, String> {
    const HINT: &str = "expires must be a date such as \"2026-12-31\"";
    match value {
        toml::Value::String(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|error| format!("{HINT}; '{text}' is not one: {error}")),
        toml::Value::Datetime(datetime) if datetime.time.is_none() => datetime
            .date
            .and_then(|date| {
                NaiveDate::from_ymd_opt(
                    i32::from(date.year),
                    u32::from(date.month),
                    u32::from(date.day),
                )
            })
            .ok_or_else(|| format!("{HINT}; '{datetime}' is not one")),
        other => Err(format!("{HINT}, not {other}")),
    }
}

/// An address block: an IP address and a prefix length (a single address has the full one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("'{address}' is not an IPv4 or IPv6 address"))?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|&prefix| prefix <= width)
                .ok_or_else(|| format!("prefix length '/{prefix}' is not between 0 and {width}"))?,
        };
        let block = Self::normalised(address, prefix);
        let network = block.masked();
        if network != block.network {
            return Err(format!(
                "host bits are set; did you mean {network}/{}?",
                block.prefix
            ));
        }
        Ok(block)
    }

    /// IPv4-mapped IPv6 blocks (`::ffff:10.0.0.0/104`) as IPv4 blocks.
    fn normalised(address: IpAddr, prefix: u8) -> Self {
        match (address, address.to_canonical()) {
            (IpAddr::V6(_), IpAddr::V4(v4)) if prefix >= 96 => Self {
                network: IpAddr::V4(v4),
                prefix: prefix - 96,
            },
            _ => Self {
                network: address,
                prefix,
            },
        }
    }

    fn masked(&self) -> IpAddr {
        match self.network {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask_v4(self.prefix)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask_v6(self.prefix)).into()),
        }
    }

    fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                (u32::from(network) ^ u32::from(address)) & mask_v4(self.prefix) == 0
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                (u128::from(network) ^ u128::from(address)) & mask_v6(self.prefix) == 0
            }
            _ => false,
        }
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// Plans SQL predicates the way rules' WHERE clauses are planned.
struct SqlPlanner {
    ctx: SessionContext,
    schema: DFSchema,
}

impl SqlPlanner {
    fn new() -> Result<Self, String> {
        let ctx = SessionContext::new();
        lake::functions::register_all(&ctx);
        let schema = cloudtrail_schema();
        let table = MemTable::try_new(schema.clone(), vec![vec![]])
            .map_err(|error| format!("cannot set up SQL planning: {error}"))?;
        ctx.register_table(RULE_TABLE, Arc::new(table))
            .map_err(|error| format!("cannot set up SQL planning: {error}"))?;
        let schema = DFSchema::try_from_qualified_schema(RULE_TABLE, &schema)
            .map_err(|error| format!("cannot set up SQL planning: {error}"))?;
        Ok(Self { ctx, schema })
    }

    async fn compile(&self, sql: &str) -> Result<Arc<dyn PhysicalExpr>, String> {
        let plan = self
            .ctx
            .state()
            .create_logical_plan(&format!("SELECT * FROM {RULE_TABLE} WHERE {sql}"))
            .await
            .map_err(|error| short_message(&error))?;
        let predicate = match &plan {
            LogicalPlan::Projection(projection) => match projection.input.as_ref() {
                LogicalPlan::Filter(filter)
                    if matches!(filter.input.as_ref(), LogicalPlan::TableScan(_)) =>
                {
                    Some(filter.predicate.clone())
                }
                _ => None,
            },
            _ => None,
        }
        .ok_or_else(|| format!("'{sql}' is not a single predicate over {RULE_TABLE}"))?;
        to_physical(&self.ctx, predicate, &self.schema).map_err(|error| short_message(&error))
    }
}

/// The first line of a DataFusion error, without the list of every valid field.
fn short_message(error: &DataFusionError) -> String {
    let message = error.to_string();
    let line = message.lines().next().unwrap_or_default();
    line.split(". Valid fields are")
        .next()
        .unwrap_or(line)
        .to_string()
}

fn load_error(file: &Path, line: usize, reason: String) -> PipelineError {
    PipelineError::Rule {
        file: file.to_path_buf(),
        line,
        reason,
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Whether `line` is an `[[exception]]` table header.
fn is_header(line: &str) -> bool {
    let line = line.trim_start();
    line.strip_prefix("[[")
        .and_then(|rest| rest.trim_start().strip_prefix("exception"))
        .is_some_and(|rest| rest.trim_start().starts_with("]]"))
}

/// The line of the `[[exception]]` header at or before `offset`.
fn header_line(text: &str, offset: usize) -> usize {
    let start = line_at(text, offset);
    text.lines()
        .take(start)
        .enumerate()
        .filter(|(_, line)| is_header(line))
        .map(|(index, _)| index + 1)
        .last()
        .unwrap_or(start)
}

/// The index of the exception whose table holds byte `offset`, if any.
fn exception_index_at(text: &str, offset: usize) -> Option<usize> {
    let line = line_at(text, offset);
    text.lines()
        .take(line)
        .filter(|line| is_header(line))
        .count()
        .checked_sub(1)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::decode::{DecodeConfig, decode};

    const RULE: &str = "aws.credential_access.secrets_manager_secret_retrieved";

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn batch(records: &[Value]) -> RecordBatch {
        let text = serde_json::to_string(records).unwrap();
        let mut batches = Vec::new();
        decode(text.as_bytes(), "t", &DecodeConfig::default(), |batch| {
            batches.push(batch);
            true
        });
        assert_eq!(batches.len(), 1);
        batches.remove(0)
    }

    /// A GetSecretValue record; `overrides` replaces top-level members.
    fn event(overrides: Value) -> Value {
        let mut record = json!({
            "eventVersion": "1.08", "eventTime": "2025-06-01T12:00:00Z",
            "eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",
            "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15.0",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/app/i-1",
                             "accountId": "123456789012"},
            "requestParameters": {"secretId": "prod/db"},
            "recipientAccountId": "123456789012", "eventID": "e"
        });
        for (key, value) in overrides.as_object().unwrap() {
            record[key] = value.clone();
        }
        record
    }

    fn by(arn: &str) -> Value {
        event(json!({"userIdentity": {"type": "AssumedRole", "arn": arn}}))
    }

    fn from_ip(ip: &str) -> Value {
        event(json!({ "sourceIPAddress": ip }))
    }

    async fn set(toml_text: &str) -> ExceptionSet {
        ExceptionSet::from_toml(Path::new("exceptions.toml"), toml_text)
            .await
            .unwrap()
    }

    async fn load_error(toml_text: &str) -> String {
        ExceptionSet::from_toml(Path::new("exceptions.toml"), toml_text)
            .await
            .unwrap_err()
            .to_string()
    }

    /// One exception for `RULE` with the given criteria lines.
    fn one(criteria: &str) -> String {
        format!("[[exception]]\nrules = [\"{RULE}\"]\n{criteria}\nreason = \"r\"\nowner = \"o\"\n")
    }

    fn suppressed(set: &ExceptionSet, rule: &str, records: &[Value]) -> Vec<Option<usize>> {
        set.suppressions(rule, &batch(records), day("2026-01-01"))
            .unwrap()
    }

    #[tokio::test]
    async fn actor_matches_exactly_or_by_glob() {
        let exceptions = set(&one(
            "actor = [\"arn:aws:iam::123456789012:role/ci-*\", \"arn:aws:iam::123456789012:user/bot?\"]",
        ))
        .await;
        let found = suppressed(
            &exceptions,
            RULE,
            &[
                by("arn:aws:iam::123456789012:role/ci-deploy"),
                by("arn:aws:iam::123456789012:role/ci-"),
                by("arn:aws:iam::123456789012:user/bot1"),
                by("arn:aws:iam::123456789012:user/bot12"),
                by("arn:aws:iam::123456789012:role/app"),
                by("xarn:aws:iam::123456789012:role/ci-deploy"),
                // No ARN at all: the criterion does not hold.
                event(
                    json!({"userIdentity": {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}}),
                ),
            ],
        );
        assert_eq!(found, [Some(0), Some(0), Some(0), None, None, None, None]);

        // Exact values are exact: regex metacharacters in them are literal.
        let exceptions = set(&one("actor = [\"arn:aws:iam::1:user/a.b\"]")).await;
        let found = suppressed(
            &exceptions,
            RULE,
            &[by("arn:aws:iam::1:user/a.b"), by("arn:aws:iam::1:user/axb")],
        );
        assert_eq!(found, [Some(0), None]);
    }

    #[tokio::test]
    async fn actor_regex_must_match_the_whole_arn() {
        let exceptions = set(&one(
            "actor_regex = [\".*AWSReservedSSO_AdministratorAccess.*\", \"arn:aws:iam::\\\\d+:user/svc\"]",
        ))
        .await;
        let found = suppressed(
            &exceptions,
            RULE,
            &[
                by(
                    "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_abc/jane",
                ),
                by("arn:aws:iam::123456789012:user/svc"),
                by("arn:aws:iam::123456789012:user/svc-other"),
                by("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_ReadOnly_abc/jane"),
            ],
        );
        assert_eq!(found, [Some(0), Some(0), None, None]);
    }

    #[tokio::test]
    async fn source_ip_matches_addresses_and_cidrs_v4_and_v6() {
        let exceptions = set(&one(
            "source_ip = [\"10.0.0.0/8\", \"192.0.2.7\", \"2001:db8::/32\", \"0.0.0.0/0\"]",
        ))
        .await;
        assert_eq!(
            exceptions.exceptions[0].source_ip.as_ref().unwrap().len(),
            4
        );
        let exceptions = set(&one(
            "source_ip = [\"10.0.0.0/8\", \"192.0.2.7\", \"2001:db8::/32\"]",
        ))
        .await;
        let found = suppressed(
            &exceptions,
            RULE,
            &[
                from_ip("10.1.2.3"),
                from_ip("11.0.0.1"),
                from_ip("192.0.2.7"),
                from_ip("192.0.2.8"),
                from_ip("2001:db8:1::5"),
                from_ip("2001:db9::1"),
                from_ip("::ffff:10.9.9.9"),
                from_ip("secretsmanager.amazonaws.com"),
            ],
        );
        assert_eq!(
            found,
            [Some(0), None, Some(0), None, Some(0), None, Some(0), None]
        );
    }

    #[test]
    fn cidr_blocks() {
        let block = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(block.contains("10.255.255.255".parse().unwrap()));
        assert!(!block.contains("11.0.0.0".parse().unwrap()));
        assert!(!block.contains("::a00:1".parse().unwrap()));
        let everything = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(everything.contains("8.8.8.8".parse().unwrap()));
        let single = Cidr::parse("2001:db8::1").unwrap();
        assert_eq!(single.prefix, 128);
        assert!(single.contains("2001:db8:0::1".parse().unwrap()));
        assert!(!single.contains("2001:db8::2".parse().unwrap()));
        let mapped = Cidr::parse("::ffff:192.0.2.0/120").unwrap();
        assert_eq!(mapped, Cidr::parse("192.0.2.0/24").unwrap());
        assert!(mapped.contains("192.0.2.200".parse().unwrap()));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains("fdff:ffff::1".parse().unwrap()));
        assert!(!v6.contains("fe00::1".parse().unwrap()));
        for bad in [
            "10.0.0.0/33",
            "10.0.0.1/8",
            "10.0.0/8",
            "fd00::/129",
            "host",
            "10.0.0.0/x",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Cidr::parse("10.0.0.1/8")
                .unwrap_err()
                .contains("did you mean 10.0.0.0/8")
        );
    }

    #[tokio::test]
    async fn account_and_user_agent() {
        let exceptions = set(&format!(
            "{}{}",
            one("account = [\"111111111111\", \"222222222222\"]"),
            one("user_agent = [\"*terraform*\"]"),
        ))
        .await;
        let found = suppressed(
            &exceptions,
            RULE,
            &[
                event(json!({"recipientAccountId": "222222222222"})),
                event(json!({"recipientAccountId": "333333333333"})),
                event(
                    json!({"userAgent": "APN/1.0 HashiCorp/1.0 Terraform/1.5.7 terraform-provider-aws/5.0"}),
                ),
                event(json!({"userAgent": "Terraform/1.5.7"})),
            ],
        );
        assert_eq!(found, [Some(0), None, Some(1), None]);
    }

    #[tokio::test]
    async fn criteria_are_anded_and_list_values_ored() {
        let exceptions = set(&one(
            "actor = [\"arn:aws:iam::123456789012:role/ci-*\", \"arn:aws:iam::123456789012:user/ops\"]\n\
             source_ip = [\"10.0.0.0/8\"]\naccount = [\"123456789012\"]",
        ))
        .await;
        let record = |arn: &str, ip: &str| {
            event(json!({"userIdentity": {"type": "IAMUser", "arn": arn}, "sourceIPAddress": ip}))
        };
        let found = suppressed(
            &exceptions,
            RULE,
            &[
                record("arn:aws:iam::123456789012:role/ci-a", "10.0.0.1"),
                record("arn:aws:iam::123456789012:user/ops", "10.0.0.2"),
                record("arn:aws:iam::123456789012:role/ci-a", "8.8.8.8"),
                record("arn:aws:iam::123456789012:user/dev", "10.0.0.1"),
            ],
        );
        assert_eq!(found, [Some(0), Some(0), None, None]);
    }

    #[tokio::test]
    async fn rules_take_ids_globs_and_star_and_the_first_exception_wins() {
        let text = "\
[[exception]]
rules = [\"aws.discovery.*\"]
actor = [\"arn:aws:iam::123456789012:user/scanner\"]
reason = \"scanner\"
owner = \"sec\"

[[exception]]
rules = [\"*\"]
source_ip = [\"10.0.0.0/8\"]
reason = \"internal\"
owner = \"net\"

[[exception]]
rules = [\"aws.iam.one\", \"aws.iam.tw?\"]
actor = [\"arn:aws:iam::123456789012:user/scanner\"]
reason = \"iam\"
owner = \"iam\"
";
        let exceptions = set(text).await;
        assert_eq!(exceptions.len(), 3);
        let records = [
            event(
                json!({"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/scanner"},
                         "sourceIPAddress": "10.0.0.1"}),
            ),
            by("arn:aws:iam::123456789012:user/scanner"),
            from_ip("10.1.1.1"),
            by("arn:aws:iam::123456789012:user/other"),
        ];
        assert_eq!(
            suppressed(&exceptions, "aws.discovery.list_buckets", &records),
            [Some(0), Some(0), Some(1), None]
        );
        assert_eq!(
            suppressed(&exceptions, "aws.iam.two", &records),
            [Some(1), Some(2), Some(1), None]
        );
        assert_eq!(
            suppressed(&exceptions, "aws.iam.three", &records),
            [Some(1), None, Some(1), None]
        );
        // A glob is not a prefix: "aws.discovery.*" does not cover "aws.discoveryx".
        assert_eq!(
            suppressed(&exceptions, "aws.discoveryx", &records),
            [Some(1), None, Some(1), None]
        );
        let info = exceptions.describe(2);
        assert_eq!(info.index, 2);
        assert_eq!(info.rules, ["aws.iam.one", "aws.iam.tw?"]);
        assert_eq!((info.reason.as_str(), info.owner.as_str()), ("iam", "iam"));
        assert_eq!(info.expires, None);
    }

    #[tokio::test]
    async fn expired_exceptions_stay_listed_but_suppress_nothing() {
        let text = format!(
            "{}{}",
            one("actor = [\"arn:aws:iam::1:user/a\"]\nexpires = \"2026-12-31\""),
            one("actor = [\"arn:aws:iam::1:user/b\"]\nexpires = 2025-06-30"),
        );
        let exceptions = set(&text).await;
        let rows = batch(&[by("arn:aws:iam::1:user/a"), by("arn:aws:iam::1:user/b")]);
        let on = |date: &str| exceptions.suppressions(RULE, &rows, day(date)).unwrap();
        assert_eq!(on("2025-06-30"), [Some(0), Some(1)]);
        assert_eq!(on("2026-12-31"), [Some(0), None]);
        assert_eq!(on("2027-01-01"), [None, None]);
        assert_eq!(exceptions.len(), 2);
        assert_eq!(exceptions.expired(day("2026-01-01")), [1]);
        assert_eq!(
            exceptions.describe(0).expires.as_deref(),
            Some("2026-12-31")
        );
        assert_eq!(
            exceptions.describe(1).expires.as_deref(),
            Some("2025-06-30")
        );
        let described = serde_json::to_value(exceptions.describe(0)).unwrap();
        assert_eq!(described["expires"], "2026-12-31");
        assert_eq!(described["index"], 0);
    }

    #[tokio::test]
    async fn sql_predicates_run_on_the_matches() {
        let exceptions = set(&one(
            "sql = \"json_extract_scalar(requestparameters, '$.secretId') LIKE 'dev/%'\"\n\
             actor = [\"arn:aws:iam::1:role/*\"]",
        ))
        .await;
        let record = |arn: &str, secret: &str| {
            event(json!({"userIdentity": {"type": "AssumedRole", "arn": arn},
                         "requestParameters": {"secretId": secret}}))
        };
        let found = suppressed(
            &exceptions,
            RULE,
            &[
                record("arn:aws:iam::1:role/app", "dev/db"),
                record("arn:aws:iam::1:role/app", "prod/db"),
                record("arn:aws:iam::1:user/jane", "dev/db"),
                event(
                    json!({"userIdentity": {"type": "AssumedRole", "arn": "arn:aws:iam::1:role/app"},
                             "requestParameters": null}),
                ),
            ],
        );
        assert_eq!(found, [Some(0), None, None, None]);

        // A predicate alone is a criterion, over any column.
        let exceptions = set(&one(
            "sql = \"awsregion = 'eu-west-1' AND errorcode IS NULL\"",
        ))
        .await;
        let found = suppressed(
            &exceptions,
            RULE,
            &[event(json!({"awsRegion": "eu-west-1"})), event(json!({}))],
        );
        assert_eq!(found, [Some(0), None]);
    }

    #[tokio::test]
    async fn no_exceptions_suppress_nothing() {
        let empty = ExceptionSet::empty();
        assert!(empty.is_empty());
        assert_eq!(empty.len(), 0);
        assert_eq!(suppressed(&empty, RULE, &[event(json!({}))]), [None]);
        let from_empty_file = set("# nothing yet\n").await;
        assert!(from_empty_file.is_empty());
    }

    #[tokio::test]
    async fn bad_exceptions_fail_at_load_with_file_index_and_line() {
        let second =
            |criteria: &str| format!("{}{}", one("account = [\"123456789012\"]"), one(criteria));

        let error = load_error(&second("source_ip = [\"10.0.0.0/33\"]")).await;
        assert!(
            error.starts_with("rule exceptions.toml:8: exception index 1:"),
            "{error}"
        );
        assert!(error.contains("10.0.0.0/33"), "{error}");

        let error = load_error(&second("source_ip = [\"not-an-ip\"]")).await;
        assert!(error.contains("not an IPv4 or IPv6 address"), "{error}");

        let error = load_error(&second("actor_regex = [\"arn:(unclosed\"]")).await;
        assert!(
            error.starts_with("rule exceptions.toml:8: exception index 1:"),
            "{error}"
        );
        assert!(error.contains("actor_regex 'arn:(unclosed'"), "{error}");

        let error = load_error(&second("actr = [\"x\"]")).await;
        assert!(
            error.starts_with("rule exceptions.toml:8: exception index 1:"),
            "{error}"
        );
        assert!(error.contains("unknown field `actr`"), "{error}");

        let error = load_error(&second("sql = \"no_such_column = 'x'\"")).await;
        assert!(
            error.starts_with("rule exceptions.toml:8: exception index 1: sql:"),
            "{error}"
        );
        assert!(error.contains("no_such_column"), "{error}");
        assert!(!error.contains("Valid fields"), "{error}");

        let error = load_error(&second("sql = \"useridentity.nosuchmember = 'x'\"")).await;
        assert!(error.contains("exception index 1: sql:"), "{error}");

        let error = load_error(&second("sql = \"eventname\"")).await;
        assert!(error.contains("exception index 1: sql:"), "{error}");

        let error = load_error(&second("sql = \"true ORDER BY eventname\"")).await;
        assert!(error.contains("exception index 1: sql:"), "{error}");

        let error = load_error(&second("")).await;
        assert!(
            error.starts_with("rule exceptions.toml:6: exception index 1:"),
            "{error}"
        );
        assert!(
            error.contains("at least one criterion besides rules"),
            "{error}"
        );

        let error = load_error(
            "[[exception]]\nrules = []\nactor = [\"a\"]\nreason = \"r\"\nowner = \"o\"\n",
        )
        .await;
        assert!(
            error.starts_with("rule exceptions.toml:2: exception index 0: rules is empty"),
            "{error}"
        );

        let error = load_error(&second("actor = []")).await;
        assert!(error.contains("actor is an empty list"), "{error}");

        let error = load_error(&second("account = [\"12345\"]")).await;
        assert!(error.contains("not a 12-digit AWS account id"), "{error}");

        let error = load_error(&second("expires = \"31/12/2026\"\nactor = [\"a\"]")).await;
        assert!(
            error.starts_with("rule exceptions.toml:8: exception index 1:"),
            "{error}"
        );
        assert!(error.contains("expires must be a date"), "{error}");

        let error = load_error(&second("expires = 2026-12-31T00:00:00Z\nactor = [\"a\"]")).await;
        assert!(error.contains("expires must be a date"), "{error}");

        let error =
            load_error("[[exception]]\nrules = [\"*\"]\nactor = [\"a\"]\nowner = \"o\"\n").await;
        assert!(
            error.contains("exception index 0: reason is required"),
            "{error}"
        );

        let error =
            load_error("[[exception]]\nactor = [\"a\"]\nreason = \"r\"\nowner = \" \"\n").await;
        assert!(error.contains("owner must not be empty"), "{error}");

        let error =
            load_error("[[exception]]\nactor = [\"a\"]\nreason = \"r\"\nowner = \"o\"\n").await;
        assert!(error.contains("rules is required"), "{error}");

        let error = load_error("exceptions = 1\n").await;
        assert!(error.starts_with("rule exceptions.toml:1:"), "{error}");
        assert!(error.contains("unknown field"), "{error}");
    }

    #[tokio::test]
    async fn loads_files_and_names_them_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exceptions.toml");
        std::fs::write(&path, one("user_agent = [\"Boto3/*\"]")).unwrap();
        let exceptions = ExceptionSet::load(&path).await.unwrap();
        assert_eq!(exceptions.len(), 1);

        std::fs::write(&path, one("source_ip = [\"10.0.0.0/40\"]")).unwrap();
        let error = ExceptionSet::load(&path).await.unwrap_err().to_string();
        assert!(error.contains(&format!("{}:3:", path.display())), "{error}");

        let missing = dir.path().join("missing.toml");
        let error = ExceptionSet::load(&missing).await.unwrap_err().to_string();
        assert!(
            error.contains("missing.toml:0: cannot read exceptions"),
            "{error}"
        );
    }

    fn trailalerts_file() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/external/trailalerts/rules/exceptions.json")
    }

    #[tokio::test]
    async fn imports_trailalerts_exceptions() {
        let titles: HashMap<String, String> = [
            ("AWS SecretsManager GetSecretValue", RULE),
            ("AWS Console Login", "aws.initial_access.console_login"),
        ]
        .into_iter()
        .map(|(title, id)| (title.to_string(), id.to_string()))
        .collect();
        let exceptions = ExceptionSet::from_trailalerts(&trailalerts_file(), &titles)
            .await
            .unwrap();
        // Console Login: actors; GetSecretValue: actors, source IPs, actor regexes.
        assert_eq!(exceptions.len(), 4);
        for index in 0..exceptions.len() {
            let info = exceptions.describe(index);
            assert_eq!(info.reason, TRAILALERTS_REASON);
            assert_eq!(info.owner, "unknown");
            assert_eq!(info.expires, None);
        }
        assert_eq!(
            exceptions.describe(0).rules,
            ["aws.initial_access.console_login"]
        );
        assert_eq!(exceptions.describe(1).rules, [RULE]);

        // Each list excludes on its own.
        let records = [
            by("arn:aws:iam::123456789012:user/ci-bot"),
            by("arn:aws:iam::123456789012:role/app-sync"),
            from_ip("10.0.1.100"),
            by("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_1/j"),
            by("arn:aws:iam::123456789012:user/monitoring"),
            from_ip("10.0.1.101"),
        ];
        assert_eq!(
            suppressed(&exceptions, RULE, &records),
            [Some(1), Some(1), Some(2), Some(3), None, None]
        );
        assert_eq!(
            suppressed(&exceptions, "aws.initial_access.console_login", &records),
            [None, None, None, None, Some(0), None]
        );

        let partial: HashMap<String, String> =
            [("AWS Console Login".to_string(), "x".to_string())].into();
        let error = ExceptionSet::from_trailalerts(&trailalerts_file(), &partial)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("'AWS SecretsManager GetSecretValue'"),
            "{error}"
        );
        assert!(error.contains("exceptions.json:2:"), "{error}");
    }

    #[tokio::test]
    async fn trailalerts_import_validates_its_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exceptions.json");
        let titles: HashMap<String, String> = [("T".to_string(), RULE.to_string())].into();

        std::fs::write(&path, r#"{"T": {"excludedSourceIPs": ["10.0.0.0/99"]}}"#).unwrap();
        let error = ExceptionSet::from_trailalerts(&path, &titles)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("10.0.0.0/99"), "{error}");

        std::fs::write(&path, r#"{"T": {"excludedUsers": ["x"]}}"#).unwrap();
        let error = ExceptionSet::from_trailalerts(&path, &titles)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `excludedUsers`"), "{error}");

        std::fs::write(&path, r#"{"T": {"excludedActors": []}}"#).unwrap();
        let exceptions = ExceptionSet::from_trailalerts(&path, &titles)
            .await
            .unwrap();
        assert!(exceptions.is_empty());
    }
}
