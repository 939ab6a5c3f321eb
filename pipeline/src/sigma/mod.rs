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
pub mod sql;

use std::collections::HashMap;
use std::path::Path;

use rsigma_parser::{Level, SigmaRule};

use crate::detect::Rule;
use crate::detect::rule::{RuleMeta, Severity, validate_core_meta};
use crate::error::{PipelineError, Result};
use fields::FieldMapping;

/// What became of one Sigma rule.
#[derive(Debug)]
pub enum Compiled {
    /// A detection rule.
    Rule(Box<Rule>),
    /// Not for CloudTrail.
    Skipped { title: String, reason: String },
}

/// Compiles every rule of a Sigma YAML file.
pub fn compile_file(path: &Path, fields: &FieldMapping) -> Result<Vec<Compiled>> {
    let error = |reason: String| PipelineError::Rule { file: path.to_path_buf(), line: 0, reason };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let collection =
        rsigma_parser::parse_sigma_yaml(&text).map_err(|e| error(format!("invalid Sigma: {e}")))?;
    if let Some(first) = collection.errors.first() {
        return Err(error(format!("invalid Sigma: {first}")));
    }
    if !collection.correlations.is_empty() || !collection.filters.is_empty() {
        return Err(error("Sigma correlation and filter documents are not supported yet".into()));
    }
    let structured = structured_values(&text).map_err(&error)?;
    let stem = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or("rule");
    let several = collection.rules.len() > 1;
    collection
        .rules
        .iter()
        .enumerate()
        .map(|(index, rule)| {
            let empty = HashMap::new();
            let context =
                sql::Context { fields, structured: structured.get(&rule.title).unwrap_or(&empty) };
            // Named after the file: Sigma ids are not always unique in the wild (TrailAlerts
            // reuses some), and a rule id must be.
            let id = if several {
                format!("sigma.{stem}.{}", index + 1)
            } else {
                format!("sigma.{stem}")
            };
            compile_rule(path, rule, &id, &context)
        })
        .collect()
}

/// Per rule title, the detection fields whose value is structured (a map, or a list holding
/// a map), as JSON.
fn structured_values(
    text: &str,
) -> std::result::Result<HashMap<String, HashMap<String, serde_json::Value>>, String> {
    use yaml_serde::Value as Yaml;
    let mut found = HashMap::new();
    for document in yaml_serde::Deserializer::from_str(text) {
        let document: Yaml = serde::Deserialize::deserialize(document)
            .map_err(|error| format!("invalid YAML: {error}"))?;
        let (Some(title), Some(Yaml::Mapping(detection))) =
            (document.get("title").and_then(Yaml::as_str), document.get("detection"))
        else {
            continue;
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
        found.insert(title.to_string(), fields);
    }
    Ok(found)
}

/// Compiles one parsed Sigma rule.
pub fn compile_rule(
    path: &Path,
    rule: &SigmaRule,
    id: &str,
    context: &sql::Context<'_>,
) -> Result<Compiled> {
    let error = |reason: String| PipelineError::Rule {
        file: path.to_path_buf(),
        line: 0,
        reason: format!("Sigma rule '{}': {reason}", rule.title),
    };
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
    let conditions: Vec<String> = rule
        .detection
        .conditions
        .iter()
        .map(|condition| sql::condition_sql(condition, &rule.detection.named, context))
        .collect::<Result<_, String>>()
        .map_err(&error)?;
    if conditions.is_empty() {
        return Err(error("no condition".into()));
    }
    let where_clause = if conditions.len() == 1 {
        conditions[0].clone()
    } else {
        conditions.iter().map(|condition| format!("({condition})")).collect::<Vec<_>>().join(" OR ")
    };
    let meta = meta(id, rule);
    validate_core_meta(&meta).map_err(&error)?;
    let sql = format!("SELECT *\nFROM cloudtrail\nWHERE {where_clause}");
    Ok(Compiled::Rule(Box::new(Rule::build(meta, sql, path, 1, 1)?)))
}

/// The rule text `sigma convert` prints: the metadata header and the SELECT, as a `.sql` rule.
pub fn rule_text(rule: &Rule) -> String {
    let header = toml::to_string(&rule.meta).expect("metadata serialises");
    format!("/*\n{header}*/\n{};\n", rule.sql)
}

fn meta(id: &str, rule: &SigmaRule) -> RuleMeta {
    let mut tactics = Vec::new();
    let mut techniques = Vec::new();
    for tag in &rule.tags {
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
        title: rule.title.clone(),
        severity: match rule.level {
            Some(Level::Critical) => Severity::Critical,
            Some(Level::High) => Severity::High,
            Some(Level::Medium) | None => Severity::Medium,
            Some(Level::Low) => Severity::Low,
            Some(Level::Informational) => Severity::Info,
        },
        description: rule.description.clone().unwrap_or_else(|| rule.title.clone()),
        tactics,
        techniques,
        stratus: Vec::new(),
        references: rule.references.clone(),
        false_positives: rule.falsepositives.clone(),
        runbook: None,
        tags: std::iter::once("sigma".to_string())
            .chain(rule.id.iter().map(|sigma_id| format!("sigma-id:{sigma_id}")))
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
