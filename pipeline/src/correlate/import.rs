//! Import of TrailAlerts' post-processing rules (`postprocessing_rules/*.json`) as correlation
//! rules:
//! - `threshold` (`sigmaRuleTitle`, `thresholdCount`, `windowMinutes`) becomes an
//!   `event_count` of that rule's matches per actor with `gte = thresholdCount`;
//! - `correlation` (`sigmaRuleTitle`, `lookFor`, `windowMinutes`) becomes a
//!   `temporal_ordered` of `lookFor` then `sigmaRuleTitle` by the same actor.
//!
//! `severity_adjustment` becomes the correlation's severity. Titles are resolved to rule ids
//! through the map the caller gives (the titles of the loaded rules).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::spec::CorrelationRule;
use crate::error::{PipelineError, Result};

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum PostProcessingRule {
    Threshold {
        #[serde(rename = "sigmaRuleTitle")]
        rule_title: String,
        #[serde(rename = "thresholdCount")]
        count: u64,
        #[serde(rename = "windowMinutes")]
        window_minutes: u64,
        severity_adjustment: String,
        description: String,
    },
    Correlation {
        #[serde(rename = "sigmaRuleTitle")]
        rule_title: String,
        #[serde(rename = "lookFor")]
        look_for: String,
        #[serde(rename = "windowMinutes")]
        window_minutes: u64,
        severity_adjustment: String,
        description: String,
    },
}

/// The group key TrailAlerts correlates on: the acting principal.
const ACTOR: &str = "useridentity.arn";

/// Converts a TrailAlerts post-processing file into correlation rules (TOML text and parsed).
pub fn from_trailalerts(
    path: &Path,
    rule_ids_by_title: &HashMap<String, String>,
) -> Result<Vec<(String, CorrelationRule)>> {
    let error = |reason: String| PipelineError::Rule { file: path.to_path_buf(), line: 0, reason };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let rules: Vec<PostProcessingRule> = serde_json::from_str(&text)
        .map_err(|e| error(format!("not a TrailAlerts post-processing file: {e}")))?;
    let resolve = |title: &str| {
        rule_ids_by_title
            .get(title)
            .cloned()
            .ok_or_else(|| error(format!("no loaded rule is titled '{title}'")))
    };
    let mut converted = Vec::new();
    for (index, rule) in rules.into_iter().enumerate() {
        let (id, title, description, severity, correlation) = match rule {
            PostProcessingRule::Threshold {
                rule_title,
                count,
                window_minutes,
                severity_adjustment,
                description,
            } => {
                let source = resolve(&rule_title)?;
                (
                    format!("trailalerts.threshold.{}", slug(&rule_title)),
                    format!("{rule_title}: {count} or more within {window_minutes} minutes"),
                    description,
                    severity_adjustment,
                    format!(
                        "type = \"event_count\"\nrules = [{}]\ngroup_by = [\"{ACTOR}\"]\ntimespan = \"{window_minutes}m\"\ncondition = {{ gte = {count} }}\n",
                        toml_string(&source)
                    ),
                )
            }
            PostProcessingRule::Correlation {
                rule_title,
                look_for,
                window_minutes,
                severity_adjustment,
                description,
            } => {
                let first = resolve(&look_for)?;
                let then = resolve(&rule_title)?;
                (
                    format!("trailalerts.correlation.{}", slug(&rule_title)),
                    format!("{look_for}, then {rule_title}, within {window_minutes} minutes"),
                    description,
                    severity_adjustment,
                    format!(
                        "type = \"temporal_ordered\"\nrules = [{}, {}]\ngroup_by = [\"{ACTOR}\"]\ntimespan = \"{window_minutes}m\"\n",
                        toml_string(&first),
                        toml_string(&then)
                    ),
                )
            }
        };
        let toml = format!(
            "# Imported from TrailAlerts post-processing rule {index} of {}.\nid = {}\ntitle = {}\nseverity = {}\ndescription = {}\ntactics = [\"TA0005\"]\ntechniques = [\"T1078\"]\nreferences = [\"https://github.com/adanalvarez/TrailAlerts\"]\nfalse_positives = [\"Inherited from the source rules\"]\n\n[correlation]\n{correlation}",
            path.display(),
            toml_string(&id),
            toml_string(&title),
            toml_string(&severity.to_lowercase()),
            toml_string(&description),
        );
        let parsed = CorrelationRule::parse(&path.with_extension(format!("{index}.toml")), &toml)?;
        converted.push((toml, parsed));
    }
    Ok(converted)
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn slug(title: &str) -> String {
    let lowered: String = title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    lowered.split('_').filter(|part| !part.is_empty()).collect::<Vec<_>>().join("_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::CorrelationKind;

    #[test]
    fn imports_the_trailalerts_samples() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/external/trailalerts/rules/postprocessing_rules/sample_rules.json");
        let titles: HashMap<String, String> = [
            ("AWS CloudTrail Attach Policy", "aws.privilege_escalation.admin_policy_attached"),
            ("AWS CloudTrail IAM User Creation", "aws.persistence.iam_user_created"),
            (
                "AWS SecretsManager GetSecretValue",
                "aws.credential_access.secrets_manager_secret_retrieved",
            ),
        ]
        .into_iter()
        .map(|(title, id)| (title.to_string(), id.to_string()))
        .collect();
        let imported = from_trailalerts(&path, &titles).unwrap();
        assert_eq!(imported.len(), 2);
        let (_, sequence) = &imported[0];
        assert_eq!(sequence.spec.kind, CorrelationKind::TemporalOrdered);
        assert_eq!(
            sequence.spec.rules,
            ["aws.persistence.iam_user_created", "aws.privilege_escalation.admin_policy_attached"]
        );
        assert_eq!(sequence.timespan.as_secs(), 15 * 60);
        assert_eq!(sequence.meta.severity, crate::detect::Severity::High);
        let (text, threshold) = &imported[1];
        assert_eq!(threshold.spec.kind, CorrelationKind::EventCount);
        assert_eq!(threshold.spec.condition.as_ref().unwrap().gte, Some(10));
        assert!(text.contains("group_by = [\"useridentity.arn\"]"));

        let missing = from_trailalerts(&path, &HashMap::new()).unwrap_err().to_string();
        assert!(missing.contains("no loaded rule is titled"), "{missing}");
    }
}
