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

    /// Whether an exception in force on `today` applies to `rule_id`.
    pub fn covers(&self, rule_id: &str, today: NaiveDate) -> bool {
        self.in_force_for(rule_id, today).next().is_some()
    }

    /// The exceptions (with their indexes) that apply to `rule_id` and have not expired by
    /// `today`.
    fn in_force_for<'a>(
        &'a self,
        rule_id: &'a str,
        today: NaiveDate,
    ) -> impl Iterator<Item = (usize, &'a Exception)> + 'a {
        self.exceptions.iter().enumerate().filter(move |(_, exception)| {
            exception.rules.is_match(rule_id) && !exception.is_expired(today)
        })
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
        for (index, exception) in self.in_force_for(rule_id, today) {
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
        Self { file: file.to_path_buf(), planner: None }
    }

    async fn compile(&mut self, index: usize, spec: Spec) -> Result<Exception> {
        let file = self.file.clone();
        let fail = |key: Option<Criterion>, reason: String| {
            let line = key.and_then(|key| spec.lines.get(&key).copied()).unwrap_or(spec.line);
            load_error(&file, line, format!("exception index {index}: {reason}"))
        };
        let reason = required_text(spec.reason.as_deref(), "reason").map_err(|e| fail(None, e))?;
        let owner = required_text(spec.owner.as_deref(), "owner").map_err(|e| fail(None, e))?;
        let Some(rule_ids) = spec.rules.clone() else {
            return Err(fail(None, "rules is required (rule ids, globs, or \"*\")".into()));
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

        let actor = criterion_list(spec.actor.as_deref(), "actor", glob_set)
            .map_err(|e| fail(Some(Criterion::Actor), e))?;
        let actor_regex = criterion_list(spec.actor_regex.as_deref(), "actor_regex", |list| {
            list.iter().map(|p| anchored_regex(p)).collect()
        })
        .map_err(|e| fail(Some(Criterion::ActorRegex), e))?;
        let source_ip = criterion_list(spec.source_ip.as_deref(), "source_ip", |list| {
            list.iter()
                .map(|text| {
                    Cidr::parse(text).map_err(|error| format!("source_ip '{text}': {error}"))
                })
                .collect()
        })
        .map_err(|e| fail(Some(Criterion::SourceIp), e))?;
        let account = criterion_list(spec.account.as_deref(), "account", |list| {
            match list.iter().find(|id| id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit())) {
                Some(bad) => Err(format!("account '{bad}' is not a 12-digit AWS account id")),
                None => Ok(list.to_vec()),
            }
        })
        .map_err(|e| fail(Some(Criterion::Account), e))?;
        let user_agent = criterion_list(spec.user_agent.as_deref(), "user_agent", glob_set)
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

/// An optional criterion list, checked by [`values`] and then parsed.
fn criterion_list<T>(
    list: Option<&[String]>,
    key: &str,
    parse: impl Fn(&[String]) -> Result<T, String>,
) -> Result<Option<T>, String> {
    list.map(|list| values(list, key).and_then(parse)).transpose()
}

/// A criterion's list: not empty, no blank values.
fn values<'a>(list: &'a [String], key: &str) -> Result<&'a [String], String> {
    if list.is_empty() {
        return Err(format!("{key} is an empty list: remove it or give at least one value"));
    }
    if list.iter().any(|value| value.trim().is_empty()) {
        return Err(format!("{key} has an empty value"));
    }
    Ok(list)
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
    line.split(". Valid fields are").next().unwrap_or(line).to_string()
}

fn load_error(file: &Path, line: usize, reason: String) -> PipelineError {
    PipelineError::Rule { file: file.to_path_buf(), line, reason }
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
    text.lines().take(line).filter(|line| is_header(line)).count().checked_sub(1)
}

#[cfg(test)]
mod tests;
mod values;

use values::{Cidr, anchored_regex, glob_set, parse_date};
