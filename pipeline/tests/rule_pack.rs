//! The shipped rule pack as a whole: size, Stratus Red Team coverage, ATT&CK tactics, and
//! the pack embedded in the binary being the one in `sql-rules/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pipeline::correlate::CorrelationEngine;
use pipeline::detect::coverage::{CLOUDTRAIL_TACTICS, coverage};
use pipeline::detect::rule::RuleMeta;
use pipeline::detect::{DetectionEngine, RulePack, embedded_pack, load_pack};

fn pack() -> RulePack {
    load_pack(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql-rules")).unwrap()
}

/// Metadata and file of every rule, detections and correlations.
fn all_meta() -> Vec<(RuleMeta, PathBuf)> {
    let pack = pack();
    let detections = pack.detections.into_iter().map(|rule| (rule.meta, rule.file));
    detections.chain(pack.correlations.into_iter().map(|rule| (rule.meta, rule.file))).collect()
}

#[tokio::test]
async fn the_pack_has_at_least_80_detections_and_12_correlations_that_all_compile() {
    let pack = pack();
    assert!(pack.detections.len() >= 80, "{} detections", pack.detections.len());
    assert!(pack.correlations.len() >= 12, "{} correlations", pack.correlations.len());
    DetectionEngine::compile(pack.detections.clone()).await.unwrap();
    CorrelationEngine::compile(pack.correlations, &pack.detections, 0).await.unwrap();
}

#[test]
fn the_embedded_pack_is_the_folder() {
    let ids = |pack: RulePack| -> BTreeSet<String> {
        let detections = pack.detections.into_iter().map(|rule| rule.meta.id);
        detections.chain(pack.correlations.into_iter().map(|rule| rule.meta.id)).collect()
    };
    assert_eq!(ids(embedded_pack().unwrap()), ids(pack()));
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
    let rules = all_meta();
    let named: BTreeSet<&str> =
        rules.iter().flat_map(|(meta, _)| meta.stratus.iter().map(String::as_str)).collect();
    let undetected: Vec<&&str> = catalog.difference(&named).collect();
    assert!(undetected.is_empty(), "Stratus techniques no rule names: {undetected:?}");
    let unknown: Vec<&&str> = named.difference(&catalog).collect();
    assert!(unknown.is_empty(), "rules name techniques missing from the catalog: {unknown:?}");
}

#[test]
fn every_cloudtrail_tactic_is_covered() {
    let detections = pack().detections;
    let by_tactic = coverage(&detections);
    let missing: Vec<&&str> =
        CLOUDTRAIL_TACTICS.iter().filter(|tactic| !by_tactic.contains_key(**tactic)).collect();
    assert!(missing.is_empty(), "tactics without a rule: {missing:?}");
}

#[test]
fn every_rule_is_documented_for_an_analyst() {
    for (meta, file) in all_meta() {
        assert!(meta.description.len() >= 80, "{}: description too thin", meta.id);
        assert!(!meta.false_positives.is_empty(), "{}: no known false positives", meta.id);
        assert!(!meta.references.is_empty(), "{}: no references", meta.id);
        assert!(meta.runbook.is_some(), "{}: no runbook line", meta.id);
        let expected_file = meta.id.rsplit('.').next().unwrap();
        assert_eq!(
            file.file_stem().unwrap(),
            expected_file,
            "{}: file name differs from id",
            meta.id
        );
    }
}
