//! Detection: SQL rules, loaded from a folder or from the pack built into the binary,
//! compiled once and evaluated on every batch.

mod conditions;
pub mod coverage;
pub mod engine;
mod prefilter;
mod regex_match;
pub mod rule;
pub mod testing;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::correlate::CorrelationRule;
use crate::error::{PipelineError, Result};
pub use engine::{DetectionEngine, RuleMatches};
pub use rule::{Rule, Severity};

include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

/// Detection and correlation rules loaded together.
#[derive(Debug, Clone)]
pub struct RulePack {
    /// `*.sql` detection rules.
    pub detections: Vec<Rule>,
    /// `*.toml` correlation rules.
    pub correlations: Vec<CorrelationRule>,
}

/// Loads every rule below `dir` (recursively): `*.sql` detections, `*.toml` correlations and
/// Sigma files (`*.yml`, `*.yaml`: rules, correlations and filters, compiled together, with
/// the field mappings and placeholders of any Sigma pipeline file among them). Sigma rules
/// for other log sources are skipped, each with a logged reason.
pub fn load_pack(dir: &Path) -> Result<RulePack> {
    let mut detections = parse_files(dir, "sql", Rule::parse)?;
    let mut correlations = parse_files(dir, "toml", CorrelationRule::parse)?;
    let mut sigma_files = files_with_extension(dir, "yml")?;
    sigma_files.extend(files_with_extension(dir, "yaml")?);
    sigma_files.sort();
    let mut pipeline = crate::sigma::Pipeline::default();
    let mut rule_files = Vec::new();
    for file in sigma_files {
        let text = std::fs::read_to_string(&file).map_err(|error| PipelineError::Rule {
            file: file.clone(),
            line: 0,
            reason: error.to_string(),
        })?;
        if crate::sigma::Pipeline::is_pipeline(&text) {
            pipeline.extend_from_file(&file)?;
        } else {
            rule_files.push(file);
        }
    }
    for compiled in crate::sigma::compile_files(&rule_files, &pipeline)? {
        match compiled {
            crate::sigma::Compiled::Rule(rule) => detections.push(*rule),
            crate::sigma::Compiled::Correlation(rule) => correlations.push(*rule),
            crate::sigma::Compiled::Skipped { title, reason } => {
                tracing::info!(rule = %title, reason, "Sigma rule skipped")
            }
        }
    }
    check_unique_ids(&detections)?;
    check_pack_ids(&detections, &correlations)?;
    Ok(RulePack { detections, correlations })
}

/// The rule pack built into the binary.
pub fn embedded_pack() -> Result<RulePack> {
    let detections = embedded_rules()?;
    let correlations = EMBEDDED_RULES
        .iter()
        .filter(|(path, _)| path.ends_with(".toml"))
        .map(|(path, text)| CorrelationRule::parse(&Path::new("sql-rules").join(path), text))
        .collect::<Result<Vec<_>>>()?;
    check_pack_ids(&detections, &correlations)?;
    Ok(RulePack { detections, correlations })
}

fn check_pack_ids(detections: &[Rule], correlations: &[CorrelationRule]) -> Result<()> {
    let mut seen: HashMap<&str, &Path> =
        detections.iter().map(|rule| (rule.meta.id.as_str(), rule.file.as_path())).collect();
    for rule in correlations {
        if let Some(first) = seen.insert(&rule.meta.id, &rule.file) {
            return Err(PipelineError::DuplicateRule {
                id: rule.meta.id.clone(),
                first: first.to_path_buf(),
                second: rule.file.clone(),
            });
        }
    }
    Ok(())
}

/// Parses every file with `extension` below `dir` with `parse`.
fn parse_files<T>(
    dir: &Path,
    extension: &str,
    parse: impl Fn(&Path, &str) -> Result<T>,
) -> Result<Vec<T>> {
    files_with_extension(dir, extension)?
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).map_err(|error| PipelineError::Rule {
                file: file.clone(),
                line: 0,
                reason: error.to_string(),
            })?;
            parse(file, &text)
        })
        .collect()
}

fn files_with_extension(dir: &Path, extension: &str) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = entry.map_err(|error| PipelineError::Rule {
            file: error.path().unwrap_or(dir).to_path_buf(),
            line: 0,
            reason: error.to_string(),
        })?;
        if entry.file_type().is_file()
            && entry.path().extension().is_some_and(|ext| ext == extension)
        {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

/// The rule pack built into the binary.
pub fn embedded_rules() -> Result<Vec<Rule>> {
    let rules = EMBEDDED_RULES
        .iter()
        .filter(|(path, _)| path.ends_with(".sql"))
        .map(|(path, text)| Rule::parse(&Path::new("sql-rules").join(path), text))
        .collect::<Result<Vec<_>>>()?;
    check_unique_ids(&rules)?;
    Ok(rules)
}

fn check_unique_ids(rules: &[Rule]) -> Result<()> {
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    for rule in rules {
        if let Some(first) = seen.insert(&rule.meta.id, &rule.file) {
            return Err(PipelineError::DuplicateRule {
                id: rule.meta.id.clone(),
                first: first.to_path_buf(),
                second: rule.file.clone(),
            });
        }
    }
    Ok(())
}
