//! Sigma rules for CloudTrail, compiled to trailhound detections. `rsigma-parser` parses the
//! YAML (the whole Sigma 2 specification: rules, multi-document files, correlations, filters)
//! into a typed AST; this module maps the fields to lake columns and compiles the detection to
//! the SQL of an ordinary rule, which then loads and runs like any `.sql` rule.
//!
//! Rules whose `logsource.product` is not `aws` are skipped with a reason (every AWS service
//! logs to CloudTrail, so `service` may name any of them). A construct that cannot be compiled
//! yet is an error naming the rule file: it never silently matches nothing.

pub mod encode;
pub mod fields;
pub mod pipeline;
pub mod sql;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rsigma_parser::{
    ConditionExpr, ConditionOperator, CorrelationCondition, CorrelationType, FilterRule,
    FilterRuleTarget, Level, SigmaCollection, WindowMode,
};

use crate::correlate::CorrelationRule;
use crate::correlate::spec::{Condition, CorrelationKind, CorrelationSpec};
use crate::detect::Rule;
use crate::detect::rule::{RuleMeta, Severity, validate_core_meta};
use crate::error::{PipelineError, Result};
pub use pipeline::Pipeline;

/// What became of one Sigma document.
#[derive(Debug)]
pub enum Compiled {
    /// A detection rule.
    Rule(Box<Rule>),
    /// A correlation rule, compiled onto the correlation engine.
    Correlation(Box<CorrelationRule>),
    /// Not for CloudTrail.
    Skipped { title: String, reason: String },
}

/// Compiles every document of a Sigma YAML file.
pub fn compile_file(path: &Path, pipeline: &Pipeline) -> Result<Vec<Compiled>> {
    compile_files(&[path.to_path_buf()], pipeline)
}

/// One parsed Sigma file.
struct Parsed {
    path: PathBuf,
    collection: SigmaCollection,
    structured: StructuredValues,
    /// The trailhound ids of its rules, then of its correlations.
    rule_ids: Vec<String>,
    correlation_ids: Vec<String>,
}

/// Structured detection values (field name to JSON) per (document kind, title).
type StructuredValues = HashMap<(Kind, String), HashMap<String, serde_json::Value>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Detection,
    Filter,
}

/// Compiles Sigma files together: a correlation or filter may refer to rules of any of them
/// (by Sigma `id` or `name`). Rules a correlation refers to with `generate: false` (the
/// default) feed it without alerting themselves. Pipeline files are not taken here; see
/// [`Pipeline`].
pub fn compile_files(files: &[PathBuf], pipeline: &Pipeline) -> Result<Vec<Compiled>> {
    let parsed = files.iter().map(|path| parse(path)).collect::<Result<Vec<_>>>()?;
    let filters: Vec<(&Path, &FilterRule)> = parsed
        .iter()
        .flat_map(|file| {
            file.collection.filters.iter().map(move |filter| (file.path.as_path(), filter))
        })
        .filter(|(_, filter)| {
            filter
                .logsource
                .as_ref()
                .and_then(|source| source.product.as_deref())
                .is_none_or(|product| product.eq_ignore_ascii_case("aws"))
        })
        .collect();
    // Sigma id or name -> trailhound id; None when two documents claim the same reference.
    let mut references: HashMap<String, Option<String>> = HashMap::new();
    let mut claim = |key: &Option<String>, id: &str| {
        if let Some(key) = key {
            references
                .entry(key.clone())
                .and_modify(|known| {
                    if known.as_deref() != Some(id) {
                        *known = None;
                    }
                })
                .or_insert_with(|| Some(id.to_string()));
        }
    };
    for file in &parsed {
        for (rule, id) in file.collection.rules.iter().zip(&file.rule_ids) {
            claim(&rule.id, id);
            claim(&rule.name, id);
        }
        for (correlation, id) in file.collection.correlations.iter().zip(&file.correlation_ids) {
            claim(&correlation.id, id);
            claim(&correlation.name, id);
        }
    }
    let resolve = |path: &Path, reference: &str| -> Result<String> {
        match references.get(reference) {
            Some(Some(id)) => Ok(id.clone()),
            Some(None) => Err(rule_error(
                path,
                format!("'{reference}' is the id or name of several Sigma documents"),
            )),
            None => Err(rule_error(
                path,
                format!("refers to '{reference}', which no loaded Sigma rule has as id or name"),
            )),
        }
    };
    let mut out = Vec::new();
    let mut silenced = BTreeSet::new();
    let mut generated = BTreeSet::new();
    for file in &parsed {
        let empty = HashMap::new();
        for (rule, id) in file.collection.rules.iter().zip(&file.rule_ids) {
            let context = sql::Context {
                fields: &pipeline.fields,
                structured: file
                    .structured
                    .get(&(Kind::Detection, rule.title.clone()))
                    .unwrap_or(&empty),
                placeholders: &pipeline.placeholders,
            };
            let applying: Vec<(&Path, &FilterRule)> = filters
                .iter()
                .filter(|(_, filter)| match &filter.rules {
                    FilterRuleTarget::Any => true,
                    FilterRuleTarget::Specific(targets) => targets.iter().any(|target| {
                        Some(target) == rule.id.as_ref() || Some(target) == rule.name.as_ref()
                    }),
                })
                .copied()
                .collect();
            let mut filter_sql = Vec::new();
            for (filter_path, filter) in applying {
                let context = sql::Context {
                    structured: parsed
                        .iter()
                        .find(|file| file.path == filter_path)
                        .and_then(|file| file.structured.get(&(Kind::Filter, filter.title.clone())))
                        .unwrap_or(&empty),
                    ..context
                };
                filter_sql.push(
                    where_clause(&filter.detection.conditions, &filter.detection.named, &context)
                        .map_err(|reason| {
                        rule_error(
                            filter_path,
                            format!("Sigma filter '{}': {reason}", filter.title),
                        )
                    })?,
                );
            }
            out.push(compile_rule(&file.path, rule, id, &context, &filter_sql)?);
        }
        for (correlation, id) in file.collection.correlations.iter().zip(&file.correlation_ids) {
            let rules = correlation
                .rules
                .iter()
                .map(|reference| resolve(&file.path, reference))
                .collect::<Result<Vec<_>>>()?;
            let set = if correlation.generate { &mut generated } else { &mut silenced };
            set.extend(rules.iter().cloned());
            out.push(Compiled::Correlation(Box::new(compile_correlation(
                &file.path,
                correlation,
                id,
                rules,
                &|reference| resolve(&file.path, reference),
                pipeline,
            )?)));
        }
    }
    for compiled in &mut out {
        let meta = match compiled {
            Compiled::Rule(rule) => &mut rule.meta,
            Compiled::Correlation(rule) => &mut rule.meta,
            Compiled::Skipped { .. } => continue,
        };
        meta.signal_only = silenced.contains(&meta.id) && !generated.contains(&meta.id);
    }
    Ok(out)
}

fn rule_error(path: &Path, reason: String) -> PipelineError {
    PipelineError::Rule { file: path.to_path_buf(), line: 0, reason }
}

fn parse(path: &Path) -> Result<Parsed> {
    let error = |reason: String| rule_error(path, reason);
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let collection =
        rsigma_parser::parse_sigma_yaml(&text).map_err(|e| error(format!("invalid Sigma: {e}")))?;
    if let Some(first) = collection.errors.first() {
        return Err(error(format!("invalid Sigma: {first}")));
    }
    let structured = structured_values(&text).map_err(&error)?;
    let stem = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or("rule");
    // Named after the file: Sigma ids are not always unique in the wild (TrailAlerts reuses
    // some), and a rule id must be.
    let documents = collection.rules.len() + collection.correlations.len();
    let ids: Vec<String> =
        (1..=documents)
            .map(|index| {
                if documents > 1 {
                    format!("sigma.{stem}.{index}")
                } else {
                    format!("sigma.{stem}")
                }
            })
            .collect();
    let (rule_ids, correlation_ids) = ids.split_at(collection.rules.len());
    Ok(Parsed {
        path: path.to_path_buf(),
        structured,
        rule_ids: rule_ids.to_vec(),
        correlation_ids: correlation_ids.to_vec(),
        collection,
    })
}

/// Per (document kind, title), the detection fields whose value is structured (a map, or a
/// list holding a map), as JSON: `rsigma-parser` keeps scalar values only.
fn structured_values(text: &str) -> std::result::Result<StructuredValues, String> {
    use yaml_serde::Value as Yaml;
    let mut found = HashMap::new();
    for document in yaml_serde::Deserializer::from_str(text) {
        let document: Yaml = serde::Deserialize::deserialize(document)
            .map_err(|error| format!("invalid YAML: {error}"))?;
        let Some(title) = document.get("title").and_then(Yaml::as_str) else { continue };
        let (kind, detection) = match (document.get("detection"), document.get("filter")) {
            (Some(Yaml::Mapping(detection)), _) => (Kind::Detection, detection),
            (None, Some(Yaml::Mapping(filter))) => (Kind::Filter, filter),
            _ => continue,
        };
        let mut fields = HashMap::new();
        for selection in detection.values() {
            let maps: Vec<&yaml_serde::Mapping> = match selection {
                Yaml::Mapping(map) => vec![map],
                Yaml::Sequence(items) => items.iter().filter_map(Yaml::as_mapping).collect(),
                _ => Vec::new(),
            };
            for map in maps {
                for (key, value) in map {
                    let structured = match value {
                        Yaml::Mapping(_) => true,
                        Yaml::Sequence(items) => items.iter().any(Yaml::is_mapping),
                        _ => false,
                    };
                    if let (true, Some(key)) = (structured, key.as_str()) {
                        let name = key.split('|').next().unwrap_or(key).to_string();
                        let json = serde_json::to_value(value)
                            .map_err(|error| format!("field '{name}': {error}"))?;
                        fields.insert(name, json);
                    }
                }
            }
        }
        found.insert((kind, title.to_string()), fields);
    }
    Ok(found)
}

/// A detection's conditions as one SQL expression (several conditions: any of them).
fn where_clause(
    conditions: &[ConditionExpr],
    named: &HashMap<String, rsigma_parser::Detection>,
    context: &sql::Context<'_>,
) -> std::result::Result<String, String> {
    let conditions: Vec<String> = conditions
        .iter()
        .map(|condition| sql::condition_sql(condition, named, context))
        .collect::<std::result::Result<_, String>>()?;
    match conditions.as_slice() {
        [] => Err("no condition".into()),
        [one] => Ok(one.clone()),
        many => Ok(many
            .iter()
            .map(|condition| format!("({condition})"))
            .collect::<Vec<_>>()
            .join(" OR ")),
    }
}

/// Compiles one parsed Sigma rule; `filters` are the SQL of the Sigma filters applying to
/// it, each of which must hold too.
pub fn compile_rule(
    path: &Path,
    rule: &rsigma_parser::SigmaRule,
    id: &str,
    context: &sql::Context<'_>,
    filters: &[String],
) -> Result<Compiled> {
    let error = |reason: String| rule_error(path, format!("Sigma rule '{}': {reason}", rule.title));
    let product = rule.logsource.product.as_deref().unwrap_or_default();
    if !product.eq_ignore_ascii_case("aws") {
        return Ok(Compiled::Skipped {
            title: rule.title.clone(),
            reason: format!("logsource product '{product}' is not aws"),
        });
    }
    if rule.detection.timeframe.is_some() {
        return Err(error("the deprecated `timeframe` needs a correlation rule".into()));
    }
    let mut where_clause =
        where_clause(&rule.detection.conditions, &rule.detection.named, context).map_err(&error)?;
    if !filters.is_empty() {
        where_clause = std::iter::once(&where_clause)
            .chain(filters)
            .map(|part| format!("({part})"))
            .collect::<Vec<_>>()
            .join("\n  AND ");
    }
    let meta = meta(id, &Document::of_rule(rule));
    validate_core_meta(&meta).map_err(&error)?;
    let sql = format!("SELECT *\nFROM cloudtrail\nWHERE {where_clause}");
    Ok(Compiled::Rule(Box::new(Rule::build(meta, sql, path, 1, 1)?)))
}

/// Compiles a Sigma correlation onto the correlation engine; `rules` are the trailhound ids
/// of the rules it refers to, in order.
fn compile_correlation(
    path: &Path,
    correlation: &rsigma_parser::CorrelationRule,
    id: &str,
    rules: Vec<String>,
    resolve: &dyn Fn(&str) -> Result<String>,
    pipeline: &Pipeline,
) -> Result<CorrelationRule> {
    let error = |reason: String| {
        rule_error(path, format!("Sigma correlation '{}': {reason}", correlation.title))
    };
    if correlation.window != WindowMode::Sliding {
        return Err(error(format!(
            "window '{}' is not supported: trailhound's correlation windows slide",
            correlation.window.as_str()
        )));
    }
    let kind = match correlation.correlation_type {
        CorrelationType::EventCount => CorrelationKind::EventCount,
        CorrelationType::ValueCount => CorrelationKind::ValueCount,
        CorrelationType::Temporal => CorrelationKind::Temporal,
        CorrelationType::TemporalOrdered => CorrelationKind::TemporalOrdered,
        other => {
            return Err(error(format!("correlation type '{}' is not supported", other.as_str())));
        }
    };
    let field_sql = |field: &str| pipeline.fields.sql(field).map_err(&error);
    let mut aliases: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for alias in &correlation.aliases {
        let mut per_rule = BTreeMap::new();
        for (reference, field) in &alias.mapping {
            per_rule.insert(resolve(reference)?, field_sql(field)?);
        }
        aliases.insert(alias.alias.clone(), per_rule);
    }
    let group_by = correlation
        .group_by
        .iter()
        .map(|field| if aliases.contains_key(field) { Ok(field.clone()) } else { field_sql(field) })
        .collect::<Result<Vec<_>>>()?;
    let mut condition = None;
    let mut field = Vec::new();
    match (&correlation.condition, kind) {
        (
            CorrelationCondition::Threshold { predicates, field: counted, percentile: None },
            CorrelationKind::EventCount | CorrelationKind::ValueCount,
        ) => {
            let mut bounds = Condition::default();
            for (operator, value) in predicates {
                let slot = match operator {
                    ConditionOperator::Gt => &mut bounds.gt,
                    ConditionOperator::Gte => &mut bounds.gte,
                    ConditionOperator::Lt => &mut bounds.lt,
                    ConditionOperator::Lte => &mut bounds.lte,
                    ConditionOperator::Eq => &mut bounds.eq,
                    ConditionOperator::Neq => &mut bounds.neq,
                };
                *slot = Some(*value);
            }
            condition = Some(bounds);
            if kind == CorrelationKind::ValueCount {
                for name in counted.iter().flatten() {
                    field.push(field_sql(name)?);
                }
            }
        }
        // rsigma-parser's default for a temporal rule without a condition is `gte: 1`.
        (
            CorrelationCondition::Threshold { predicates, field: None, percentile: None },
            CorrelationKind::Temporal | CorrelationKind::TemporalOrdered,
        ) if matches!(predicates.as_slice(), [(ConditionOperator::Gte, count)] if *count == 1 || *count as usize == rules.len()) =>
            {}
        (
            CorrelationCondition::Extended(expression),
            CorrelationKind::Temporal | CorrelationKind::TemporalOrdered,
        ) if all_of(expression, &correlation.rules) => {}
        (other, _) => {
            return Err(error(format!(
                "condition {other:?} is not supported for {}: temporal rules need all their rules, counts a threshold",
                correlation.correlation_type.as_str()
            )));
        }
    }
    let spec = CorrelationSpec {
        kind,
        rules,
        group_by,
        timespan: Some(format!("{}s", correlation.timespan.seconds)),
        condition,
        field,
        fields: Vec::new(),
        history: None,
        learning: None,
        aliases,
    };
    let mut meta = meta(id, &Document::of_correlation(correlation));
    meta.correlation = Some(spec);
    validate_core_meta(&meta).map_err(&error)?;
    CorrelationRule::from_meta(meta, path, 0)
}

/// Whether a temporal condition is the AND of every referenced rule (trailhound's temporal
/// correlations need them all).
fn all_of(expression: &ConditionExpr, rules: &[String]) -> bool {
    fn names<'a>(expression: &'a ConditionExpr, out: &mut BTreeSet<&'a str>) -> bool {
        match expression {
            ConditionExpr::Identifier(name) => out.insert(name),
            ConditionExpr::And(parts) => parts.iter().all(|part| names(part, out)),
            _ => false,
        }
    }
    let mut found = BTreeSet::new();
    names(expression, &mut found)
        && found == rules.iter().map(String::as_str).collect::<BTreeSet<_>>()
}

/// The rule text `sigma convert` prints: the metadata header and the SELECT, as a `.sql` rule.
pub fn rule_text(rule: &Rule) -> String {
    let header = toml::to_string(&rule.meta).expect("metadata serialises");
    format!("/*\n{header}*/\n{};\n", rule.sql)
}

/// The correlation rule text `sigma convert` prints, as a `.toml` correlation rule.
pub fn correlation_text(rule: &CorrelationRule) -> String {
    toml::to_string(&rule.meta).expect("metadata serialises")
}

/// The metadata Sigma rules and correlations share.
struct Document<'a> {
    title: &'a str,
    sigma_id: Option<&'a String>,
    description: Option<&'a String>,
    level: Option<Level>,
    tags: &'a [String],
    references: &'a [String],
    falsepositives: &'a [String],
}

impl<'a> Document<'a> {
    fn of_rule(rule: &'a rsigma_parser::SigmaRule) -> Self {
        Self {
            title: &rule.title,
            sigma_id: rule.id.as_ref(),
            description: rule.description.as_ref(),
            level: rule.level,
            tags: &rule.tags,
            references: &rule.references,
            falsepositives: &rule.falsepositives,
        }
    }

    fn of_correlation(rule: &'a rsigma_parser::CorrelationRule) -> Self {
        Self {
            title: &rule.title,
            sigma_id: rule.id.as_ref(),
            description: rule.description.as_ref(),
            level: rule.level,
            tags: &rule.tags,
            references: &rule.references,
            falsepositives: &rule.falsepositives,
        }
    }
}

fn meta(id: &str, rule: &Document<'_>) -> RuleMeta {
    let mut tactics = Vec::new();
    let mut techniques = Vec::new();
    for tag in rule.tags {
        let Some(attack) = tag.strip_prefix("attack.") else { continue };
        if attack.len() > 1
            && attack.starts_with('t')
            && attack[1..2].chars().all(|c| c.is_ascii_digit())
        {
            techniques.push(attack.to_uppercase());
        } else if let Some(id) = tactic_id(attack) {
            tactics.push(id.to_string());
        }
    }
    tactics.dedup();
    RuleMeta {
        id: id.to_string(),
        title: rule.title.to_string(),
        severity: match rule.level {
            Some(Level::Critical) => Severity::Critical,
            Some(Level::High) => Severity::High,
            Some(Level::Medium) | None => Severity::Medium,
            Some(Level::Low) => Severity::Low,
            Some(Level::Informational) => Severity::Info,
        },
        description: rule.description.cloned().unwrap_or_else(|| rule.title.to_string()),
        tactics,
        techniques,
        stratus: Vec::new(),
        references: rule.references.to_vec(),
        false_positives: rule.falsepositives.to_vec(),
        runbook: None,
        tags: std::iter::once("sigma".to_string())
            .chain(rule.sigma_id.map(|sigma_id| format!("sigma-id:{sigma_id}")))
            .chain(rule.tags.iter().cloned())
            .collect(),
        dedup_key: Vec::new(),
        dedup_period: None,
        threshold: None,
        signal_only: false,
        correlation: None,
    }
}

/// The ATT&CK tactic id of a Sigma tactic tag (`persistence`, `defense-evasion`,
/// `defense_evasion`).
fn tactic_id(name: &str) -> Option<&'static str> {
    Some(match name.replace('_', "-").as_str() {
        "reconnaissance" => "TA0043",
        "resource-development" => "TA0042",
        "initial-access" => "TA0001",
        "execution" => "TA0002",
        "persistence" => "TA0003",
        "privilege-escalation" => "TA0004",
        "defense-evasion" => "TA0005",
        "credential-access" => "TA0006",
        "discovery" => "TA0007",
        "lateral-movement" => "TA0008",
        "collection" => "TA0009",
        "command-and-control" => "TA0011",
        "exfiltration" => "TA0010",
        "impact" => "TA0040",
        _ => return None,
    })
}
