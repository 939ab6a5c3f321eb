//! Detection: SQL rules, loaded from a folder or from the pack built into the binary,
//! compiled once and evaluated on every batch.

pub mod coverage;
pub mod engine;
pub mod rule;
pub mod testing;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{PipelineError, Result};
pub use engine::{DetectionEngine, RuleMatches};
pub use rule::{Rule, Severity};

include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

/// Loads every `*.sql` rule below `dir` (recursively), sorted by path.
pub fn load_rules_dir(dir: &Path) -> Result<Vec<Rule>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = entry.map_err(|error| PipelineError::Rule {
            file: error.path().unwrap_or(dir).to_path_buf(),
            line: 0,
            reason: error.to_string(),
        })?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|ext| ext == "sql") {
            files.push(entry.into_path());
        }
    }
    files.sort();
    let rules = files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).map_err(|error| PipelineError::Rule {
                file: file.clone(),
                line: 0,
                reason: error.to_string(),
            })?;
            Rule::parse(file, &text)
        })
        .collect::<Result<Vec<_>>>()?;
    check_unique_ids(&rules)?;
    Ok(rules)
}

/// The rule pack built into the binary.
pub fn embedded_rules() -> Result<Vec<Rule>> {
    let rules = EMBEDDED_RULES
        .iter()
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
