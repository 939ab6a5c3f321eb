//! The shipped rule pack as a whole: size, Stratus Red Team coverage, ATT&CK tactics, and
//! the pack embedded in the binary being the one in `sql-rules/`.

use std::collections::BTreeSet;
use std::path::Path;

use pipeline::detect::coverage::{CLOUDTRAIL_TACTICS, coverage};
use pipeline::detect::{DetectionEngine, Rule, embedded_rules, load_rules_dir};

fn pack() -> Vec<Rule> {
    load_rules_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql-rules")).unwrap()
}

#[tokio::test]
async fn the_pack_has_at_least_80_rules_that_all_compile() {
    let rules = pack();
    assert!(rules.len() >= 80, "{} rules", rules.len());
    DetectionEngine::compile(rules).await.unwrap();
}

#[test]
fn the_embedded_pack_is_the_folder() {
    let embedded: BTreeSet<String> = embedded_rules()
        .unwrap()
        .into_iter()
        .map(|r| r.meta.id)
        .collect();
    let folder: BTreeSet<String> = pack().into_iter().map(|r| r.meta.id).collect();
    assert_eq!(embedded, folder);
}

#[test]
fn every_stratus_technique_with_a_cloudtrail_footprint_is_detected() {
    let catalog_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql-rules/stratus-red-team.txt"),
    )
    .unwrap();
    let catalog: BTreeSet<&str> = catalog_text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let rules = pack();
    let named: BTreeSet<&str> = rules
        .iter()
        .flat_map(|r| r.meta.stratus.iter().map(String::as_str))
        .collect();
    let undetected: Vec<&&str> = catalog.difference(&named).collect();
    assert!(
        undetected.is_empty(),
        "Stratus techniques no rule names: {undetected:?}"
    );
    let unknown: Vec<&&str> = named.difference(&catalog).collect();
    assert!(
        unknown.is_empty(),
        "rules name techniques missing from the catalog: {unknown:?}"
    );
}

#[test]
fn every_cloudtrail_tactic_is_covered() {
    let rules = pack();
    let by_tactic = coverage(&rules);
    let missing: Vec<&&str> = CLOUDTRAIL_TACTICS
        .iter()
        .filter(|tactic| !by_tactic.contains_key(**tactic))
        .collect();
    assert!(missing.is_empty(), "tactics without a rule: {missing:?}");
}

#[test]
fn every_rule_is_documented_for_an_analyst() {
    for rule in pack() {
        let meta = &rule.meta;
        assert!(
            meta.description.len() >= 80,
            "{}: description too thin",
            meta.id
        );
        assert!(
            !meta.false_positives.is_empty(),
            "{}: no known false positives",
            meta.id
        );
        assert!(!meta.references.is_empty(), "{}: no references", meta.id);
        assert!(meta.runbook.is_some(), "{}: no runbook line", meta.id);
        let expected_file = meta.id.rsplit('.').next().unwrap();
        assert_eq!(
            rule.file.file_stem().unwrap(),
            expected_file,
            "{}: file name differs from id",
            meta.id
        );
    }
}
