//! TrailAlerts' 52 Sigma rules for CloudTrail (third-party test data, see
//! `../shared/external/trailalerts/PROVENANCE.md`): every rule compiles, and every
//! `should_match` / `should_not_match` event in its `_tests.json` gives the expected result
//! through the same detection engine the pipeline runs.

use std::path::{Path, PathBuf};

use pipeline::decode::{DecodeConfig, decode};
use pipeline::detect::DetectionEngine;
use pipeline::sigma::Pipeline;
use pipeline::sigma::{Compiled, compile_file};
use serde_json::{Value, json};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/external/trailalerts/rules/sigma_rules")
}

/// Whether `event` matches the single rule of `engine`.
async fn matches(engine: &DetectionEngine, event: &Value) -> bool {
    let body = serde_json::to_vec(&json!({ "Records": [event] })).unwrap();
    let mut batches = Vec::new();
    let report = decode(body.as_slice(), "test.json", &DecodeConfig::default(), |batch| {
        batches.push(batch);
        true
    });
    assert!(report.quarantined.is_empty(), "test event not decodable: {:?}", report.quarantined);
    let mut matched = false;
    for batch in &batches {
        matched |= engine.evaluate(batch).unwrap().iter().any(|found| !found.is_empty());
    }
    matched
}

/// Test events whose expected result contradicts the Sigma specification; trailhound follows
/// the specification, so the opposite result is expected. Each says why.
const SPEC_CONTRADICTIONS: &[(&str, &str, usize, &str)] = &[
    (
        "aws_iam_backdoor_users_keys",
        "should_not_match",
        0,
        // `userIdentity.arn|contains: responseElements.accessKey.userName` compares with the
        // literal text "responseElements.accessKey.userName"; comparing with another field
        // takes `|fieldref` (Sigma specification, modifiers). The ARN does not contain that
        // text, so the filter does not apply and the rule matches.
        "contains compares with a literal, not with another field",
    ),
    (
        "aws_update_login_profile",
        "should_not_match",
        0,
        // `userIdentity.arn|fieldref: requestParameters.userName` is equality between the two
        // fields (Sigma specification, fieldref). The event's ARN
        // `arn:aws:iam::123456789012:user/user1` is not equal to `user1`, so the filter does
        // not apply and the rule matches; the test expected a suffix match.
        "fieldref is equality, not a suffix match",
    ),
];

#[tokio::test]
async fn every_trailalerts_rule_compiles_and_passes_its_tests() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(rules_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 52);
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut contradictions_seen = 0;
    for file in &files {
        let compiled = match compile_file(file, &Pipeline::default()) {
            Ok(compiled) => compiled,
            Err(error) => {
                failures.push(format!("{}: {error}", file.display()));
                continue;
            }
        };
        let [Compiled::Rule(rule)] = compiled.as_slice() else {
            failures.push(format!("{}: expected one rule, got {compiled:?}", file.display()));
            continue;
        };
        let engine = DetectionEngine::compile(vec![(**rule).clone()]).await.unwrap();
        let tests_file = file
            .with_file_name(format!("{}_tests.json", file.file_stem().unwrap().to_str().unwrap()));
        let tests: Value = serde_json::from_slice(&std::fs::read(&tests_file).unwrap()).unwrap();
        for (key, expected) in [("should_match", true), ("should_not_match", false)] {
            for (index, event) in tests[key].as_array().into_iter().flatten().enumerate() {
                checked += 1;
                let stem = file.file_stem().unwrap().to_str().unwrap();
                let contradiction = SPEC_CONTRADICTIONS
                    .iter()
                    .any(|(rule, k, i, _)| *rule == stem && *k == key && *i == index);
                contradictions_seen += usize::from(contradiction);
                let expected = expected != contradiction;
                if matches(&engine, event).await != expected {
                    failures.push(format!(
                        "{}: {key}[{index}] gave the opposite result; SQL:\n{}",
                        file.display(),
                        rule.sql
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
    assert!(checked >= 104, "{checked} test events");
    assert_eq!(contradictions_seen, SPEC_CONTRADICTIONS.len(), "every listed contradiction exists");
}
