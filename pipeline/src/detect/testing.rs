//! Rule tests: every rule `x.sql` has `x.tests.json` beside it (TrailAlerts' shape:
//! `{"should_match": [records], "should_not_match": [records]}`) and a golden file
//! `x.alerts.jsonl` with the alerts its matching records must produce. `--bless` rewrites
//! the golden files from the current output instead of comparing.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::RulePack;
use super::engine::DetectionEngine;
use super::rule::Rule;
use crate::correlate::CorrelationRule;
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

/// Reads a rule's test file.
fn read_tests<T: serde::de::DeserializeOwned>(rule_file: &Path) -> Result<T, String> {
    let path = tests_path(rule_file);
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("missing {}: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("invalid {}: {error}", path.display()))
}

/// A correlation rule's test scenarios: each is a list of events, in any order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationTests {
    /// Scenarios that must raise the correlation's alert.
    pub should_match: Vec<Vec<Value>>,
    /// Scenarios that must not.
    pub should_not_match: Vec<Vec<Value>>,
}

/// Runs every rule's tests: one check per test event (or correlation scenario) and one for
/// its golden alerts. Correlations run with every detection of the pack feeding them.
pub async fn run_rule_tests(pack: RulePack, bless: bool) -> TestReport {
    let mut report = TestReport::default();
    for rule in &pack.detections {
        let outcome = detection_checks(rule).await;
        report.record(&rule.file, outcome, bless);
    }
    for correlation in &pack.correlations {
        let outcome = correlation_checks(&pack, correlation).await;
        report.record(&correlation.file, outcome, bless);
    }
    report
}

/// What one rule's checks produced: per-check verdicts and the alerts for the golden file.
struct Outcome {
    results: Vec<Result<(), String>>,
    alerts: Vec<Alert>,
}

impl TestReport {
    fn record(&mut self, file: &Path, outcome: Result<Outcome, String>, bless: bool) {
        let fail = |reason: String| Failure { file: file.to_path_buf(), reason };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(reason) => {
                self.failures.push(fail(reason));
                return;
            }
        };
        for result in outcome.results {
            match result {
                Ok(()) => self.passed += 1,
                Err(reason) => self.failures.push(fail(reason)),
            }
        }
        match check_golden(file, &outcome.alerts, bless) {
            Ok(()) => self.passed += 1,
            Err(reason) => self.failures.push(fail(reason)),
        }
    }
}

fn need_both(matching: usize, not_matching: usize) -> Result<(), String> {
    if matching == 0 || not_matching == 0 {
        return Err("a rule needs at least one should_match and one should_not_match test".into());
    }
    Ok(())
}

async fn detection_checks(rule: &Rule) -> Result<Outcome, String> {
    let tests: RuleTests = read_tests(&rule.file)?;
    let mut results = vec![need_both(tests.should_match.len(), tests.should_not_match.len())];
    // A signal-only rule is tested on what it matches, so it alerts here.
    let mut tested = rule.clone();
    tested.meta.signal_only = false;
    let engine =
        Arc::new(DetectionEngine::compile(vec![tested]).await.map_err(|error| error.to_string())?);
    let mut alerts = Vec::new();
    for (expect_match, events) in [(true, &tests.should_match), (false, &tests.should_not_match)] {
        for event in events {
            results.push(match alerts_for(&engine, event) {
                Ok(found) if found.is_empty() == expect_match => {
                    let verdict = if expect_match { "did not match" } else { "matched" };
                    Err(format!("{verdict} event {}", compact(event)))
                }
                Ok(found) => {
                    alerts.extend(found);
                    Ok(())
                }
                Err(reason) => Err(format!("{reason}: event {}", compact(event))),
            });
        }
    }
    Ok(Outcome { results, alerts })
}

async fn correlation_checks(
    pack: &RulePack,
    correlation: &CorrelationRule,
) -> Result<Outcome, String> {
    let tests: CorrelationTests = read_tests(&correlation.file)?;
    let mut results = vec![need_both(tests.should_match.len(), tests.should_not_match.len())];
    // A signal-only correlation is tested on what it raises, so it alerts here.
    let mut tested_pack = pack.clone();
    for rule in &mut tested_pack.correlations {
        if rule.meta.id == correlation.meta.id {
            rule.meta.signal_only = false;
        }
    }
    let mut alerts = Vec::new();
    for (expect_match, scenarios) in [(true, &tests.should_match), (false, &tests.should_not_match)]
    {
        for (index, events) in scenarios.iter().enumerate() {
            let found = scenario_alerts(&tested_pack, events)
                .await?
                .into_iter()
                .filter(|alert| alert.rule_id == correlation.meta.id)
                .collect::<Vec<_>>();
            let group = if expect_match { "should_match" } else { "should_not_match" };
            results.push(if found.is_empty() == expect_match {
                let verdict = if expect_match { "raised no alert" } else { "raised an alert" };
                Err(format!("{group} scenario {} {verdict}", index + 1))
            } else {
                alerts.extend(found);
                Ok(())
            });
        }
    }
    Ok(Outcome { results, alerts })
}

/// Every alert the whole pack raises on `events`, the correlation ones included.
pub async fn scenario_alerts(pack: &RulePack, events: &[Value]) -> Result<Vec<Alert>, String> {
    let processor = Processor::for_pack(pack.clone(), ExceptionSet::empty(), DEFAULT_LATENESS)
        .await
        .map_err(|error| error.to_string())?;
    process_json(processor, &Value::Array(events.to_vec()))
}

/// The alerts one test event produces, through the same decoder and processor as a run.
pub fn alerts_for(engine: &Arc<DetectionEngine>, event: &Value) -> Result<Vec<Alert>, String> {
    let processor = Processor::new(
        engine.clone(),
        CorrelationEngine::empty(),
        ExceptionSet::empty(),
        DEFAULT_LATENESS,
    );
    process_json(processor, event)
}

/// Decodes `json` (a record or an array of records) and runs it through `processor` to the end.
fn process_json(mut processor: Processor, json: &Value) -> Result<Vec<Alert>, String> {
    let text = serde_json::to_string(json).expect("JSON values serialise");
    let mut batches = Vec::new();
    let report = decode(text.as_bytes(), "test-event", &DecodeConfig::default(), |batch| {
        batches.push(batch);
        true
    });
    if let Some(quarantined) = report.quarantined.first() {
        return Err(format!("event does not decode ({})", quarantined.reason));
    }
    let mut alerts = Vec::new();
    for batch in &batches {
        alerts.extend(processor.process(batch).map_err(|error| error.to_string())?);
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
        format!("missing golden alerts {} ({error}); run `trailhound test --bless`", path.display())
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
            .map_or("nothing".into(), |alert| serde_json::to_string(alert).unwrap_or_default())
    ))
}

fn compact(event: &Value) -> String {
    let text = event.to_string();
    let id = event.get("eventID").and_then(Value::as_str).unwrap_or("?");
    if text.len() > 300 {
        format!("eventID={id} {}...", text.chars().take(300).collect::<String>())
    } else {
        text
    }
}
