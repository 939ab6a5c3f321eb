//! Processing pipelines: the user's extensions to the Sigma compilation, in pySigma's
//! pipeline shape (YAML), so an existing pipeline file can be reused where it fits.
//!
//! ```yaml
//! name: our CloudTrail conventions
//! vars:                         # values of |expand placeholders
//!   admin_users: [alice, bob]
//! transformations:
//!   - type: field_name_mapping  # Sigma field name -> lake SQL expression
//!     mapping:
//!       actor: useridentity.arn
//!       bucket: json_extract_scalar(requestparameters, '$.bucketName')
//!   - type: value_placeholders  # accepted: placeholders always come from vars
//! ```
//!
//! Other transformation types are refused with the file named: a pipeline that would
//! change a rule's meaning must not be half applied.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::fields::FieldMapping;
use crate::error::{PipelineError, Result};

/// Field mappings and placeholder values applied to every Sigma rule.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    /// Sigma field names to SQL, with the user's mappings first.
    pub fields: FieldMapping,
    /// `|expand` placeholder name (without `%`) to its values.
    pub placeholders: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct PipelineFile {
    #[serde(default)]
    vars: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    transformations: Vec<Transformation>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<yaml_serde::Value>),
    One(yaml_serde::Value),
}

#[derive(Deserialize)]
struct Transformation {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    mapping: BTreeMap<String, yaml_serde::Value>,
}

impl Pipeline {
    /// Whether a YAML text is a pipeline rather than Sigma rules: a top-level
    /// `transformations` or `vars` key, and no detection, correlation or filter.
    pub fn is_pipeline(text: &str) -> bool {
        let Ok(yaml_serde::Value::Mapping(document)) = yaml_serde::from_str(text) else {
            return false;
        };
        let has = |key: &str| document.contains_key(yaml_serde::Value::String(key.into()));
        (has("transformations") || has("vars"))
            && !has("detection")
            && !has("correlation")
            && !has("filter")
    }

    /// Adds a pipeline file's mappings and placeholders; a name defined twice is an error.
    pub fn extend_from_file(&mut self, path: &Path) -> Result<()> {
        let error =
            |reason: String| PipelineError::Rule { file: path.to_path_buf(), line: 0, reason };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let file: PipelineFile = yaml_serde::from_str(&text)
            .map_err(|e| error(format!("invalid Sigma pipeline: {e}")))?;
        for (name, values) in file.vars {
            let values = match values {
                OneOrMany::One(value) => vec![value],
                OneOrMany::Many(values) => values,
            };
            let texts = values
                .iter()
                .map(|value| {
                    scalar_text(value).ok_or(format!("vars.{name}: values must be scalars"))
                })
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(&error)?;
            if self.placeholders.insert(name.clone(), texts).is_some() {
                return Err(error(format!("placeholder '{name}' is defined twice")));
            }
        }
        for transformation in file.transformations {
            match transformation.kind.as_str() {
                "field_name_mapping" => {
                    for (field, target) in transformation.mapping {
                        let Some(sql) = target.as_str() else {
                            return Err(error(format!(
                                "field_name_mapping '{field}': map to one SQL expression (a string)"
                            )));
                        };
                        if self.fields.overrides.insert(field.clone(), sql.to_string()).is_some() {
                            return Err(error(format!("field '{field}' is mapped twice")));
                        }
                    }
                }
                "value_placeholders" => {}
                other => {
                    return Err(error(format!(
                        "transformation type '{other}' is not supported (field_name_mapping and value_placeholders are)"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn scalar_text(value: &yaml_serde::Value) -> Option<String> {
    match value {
        yaml_serde::Value::String(text) => Some(text.clone()),
        yaml_serde::Value::Number(number) => Some(number.to_string()),
        yaml_serde::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mappings_and_placeholders_and_refuses_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ours.yml");
        let text = "name: ours\nvars:\n  admins: [alice, bob]\n  port: 22\ntransformations:\n  - type: field_name_mapping\n    mapping:\n      actor: useridentity.arn\n  - type: value_placeholders\n";
        std::fs::write(&path, text).unwrap();
        assert!(Pipeline::is_pipeline(text));
        assert!(!Pipeline::is_pipeline("title: x\nvars: {}\ndetection: {}\n"));
        let mut pipeline = Pipeline::default();
        pipeline.extend_from_file(&path).unwrap();
        assert_eq!(pipeline.fields.sql("actor").unwrap(), "useridentity.arn");
        assert_eq!(pipeline.placeholders["admins"], ["alice", "bob"]);
        assert_eq!(pipeline.placeholders["port"], ["22"]);
        let again = pipeline.extend_from_file(&path).unwrap_err().to_string();
        assert!(again.contains("ours.yml") && again.contains("defined twice"), "{again}");
        std::fs::write(&path, "transformations:\n  - type: drop_detection_item\n").unwrap();
        let refused = Pipeline::default().extend_from_file(&path).unwrap_err().to_string();
        assert!(refused.contains("'drop_detection_item' is not supported"), "{refused}");
    }
}
