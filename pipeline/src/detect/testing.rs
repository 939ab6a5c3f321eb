//! Rule tests: every rule `x.sql` has `x.tests.json` beside it (TrailAlerts' shape:
//! `{"should_match": [records], "should_not_match": [records]}`) and a golden file
//! `x.alerts.jsonl` with the alerts its matching records must produce. `--bless` rewrites
//! the golden files from the current output instead of comparing.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::engine::DetectionEngine;
use super::rule::Rule;
use std::sync::Arc;

use crate::alert::Alert;
use crate::correlate::CorrelationEngine;
use crate::decode::{DecodeConfig, decode};
use crate::exceptions::ExceptionSet;
use crate::process::{DEFAULT_LATENESS, Processor};

/// A rule's test events.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTests {
    /// Records the rule must match.
    pub should_match: Vec<Value>,
    /// Records the rule must not match.
    pub should_not_match: Vec<Value>,
}

/// The outcome of one check.
#[derive(Debug)]
pub struct Failure {
    /// The rule file.
    pub file: PathBuf,
    /// What went wrong (with the offending event where there is one).
    pub reason: String,
}

/// Totals of a test run.
#[derive(Debug, Default)]
pub struct TestReport {
    /// Checks that passed.
    pub passed: u64,
    /// Checks that failed, with reasons.
    pub failures: Vec<Failure>,
}

/// Where a rule's tests and golden alerts live.
pub fn tests_path(rule_file: &Path) -> PathBuf {
    rule_file.with_extension("tests.json")
}

/// Where a rule's golden alerts live.
pub fn golden_path(rule_file: &Path) -> PathBuf {
    rule_file.with_extension("alerts.jsonl")
}

/// Runs every rule's tests. Each rule contributes one check per test event and one for its
/// golden alerts.
pub async fn run_rule_tests(rules: Vec<Rule>, bless: bool) -> TestReport {
    let mut report = TestReport::default();
    for rule in rules {
        let file = rule.file.clone();
        let fail = |reason: String| Failure {
            file: file.clone(),
            reason,
        };
        let tests = match std::fs::read_to_string(tests_path(&file)) {
            Ok(text) => match serde_json::from_str::<RuleTests>(&text) {
                Ok(tests) => tests,
                Err(error) => {
                    report.failures.push(fail(format!(
                        "invalid {}: {error}",
                        tests_path(&file).display()
                    )));
                    continue;
                }
            },
            Err(error) => {
                report.failures.push(fail(format!(
                    "missing {}: {error}",
                    tests_path(&file).display()
                )));
                continue;
            }
        };
        if tests.should_match.is_empty() || tests.should_not_match.is_empty() {
            report.failures.push(fail(
                "a rule needs at least one should_match and one should_not_match event".into(),
            ));
        }
        let engine = match DetectionEngine::compile(vec![rule]).await {
            Ok(engine) => Arc::new(engine),
            Err(error) => {
                report.failures.push(fail(error.to_string()));
                continue;
            }
        };
        let mut alerts = Vec::new();
        for (expect_match, events) in [
            (true, &tests.should_match),
            (false, &tests.should_not_match),
        ] {
            for event in events {
                match alerts_for(&engine, event) {
                    Ok(found) if found.is_empty() == expect_match => {
                        let verdict = if expect_match {
                            "did not match"
                        } else {
                            "matched"
                        };
                        report
                            .failures
                            .push(fail(format!("{verdict} event {}", compact(event))));
                    }
                    Ok(found) => {
                        report.passed += 1;
                        alerts.extend(found);
                    }
                    Err(reason) => report
                        .failures
                        .push(fail(format!("{reason}: event {}", compact(event)))),
                }
            }
        }
        match check_golden(&file, &alerts, bless) {
            Ok(()) => report.passed += 1,
            Err(reason) => report.failures.push(fail(reason)),
        }
    }
    report
}

/// The alerts one test event produces, through the same decoder and engine as a run.
pub fn alerts_for(engine: &Arc<DetectionEngine>, event: &Value) -> Result<Vec<Alert>, String> {
    let text = serde_json::to_string(event).expect("JSON values serialise");
    let mut batches = Vec::new();
    let report = decode(
        text.as_bytes(),
        "test-event",
        &DecodeConfig::default(),
        |batch| {
            batches.push(batch);
            true
        },
    );
    if let Some(quarantined) = report.quarantined.first() {
        return Err(format!("event does not decode ({})", quarantined.reason));
    }
    let mut processor = Processor::new(
        engine.clone(),
        CorrelationEngine::empty(),
        ExceptionSet::empty(),
        DEFAULT_LATENESS,
    );
    let mut alerts = Vec::new();
    for batch in &batches {
        alerts.extend(
            processor
                .process(batch)
                .map_err(|error| error.to_string())?,
        );
    }
    alerts.extend(processor.finish());
    Ok(alerts)
}

fn check_golden(rule_file: &Path, alerts: &[Alert], bless: bool) -> Result<(), String> {
    let path = golden_path(rule_file);
    let rendered: String = alerts
        .iter()
        .map(|alert| serde_json::to_string(alert).expect("alerts serialise") + "\n")
        .collect();
    if bless {
        return std::fs::write(&path, rendered)
            .map_err(|error| format!("cannot write {}: {error}", path.display()));
    }
    let expected = std::fs::read_to_string(&path).map_err(|error| {
        format!(
            "missing golden alerts {} ({error}); run `trailhound test --bless`",
            path.display()
        )
    })?;
    let expected: Vec<Alert> = expected
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .map_err(|error| format!("invalid golden alerts {}: {error}", path.display()))?;
    if expected.as_slice() == alerts {
        return Ok(());
    }
    let first_difference = expected
        .iter()
        .zip(alerts)
        .position(|(want, got)| want != got)
        .unwrap_or(expected.len().min(alerts.len()));
    Err(format!(
        "alerts differ from {} ({} expected, {} produced; first difference at alert {}): got {}",
        path.display(),
        expected.len(),
        alerts.len(),
        first_difference + 1,
        alerts
            .get(first_difference)
            .map_or("nothing".into(), |alert| serde_json::to_string(alert)
                .unwrap_or_default())
    ))
}

fn compact(event: &Value) -> String {
    let text = event.to_string();
    let id = event.get("eventID").and_then(Value::as_str).unwrap_or("?");
    if text.len() > 300 {
        format!(
            "eventID={id} {}...",
            text.chars().take(300).collect::<String>()
        )
    } else {
        text
    }
}
