//! Correlation semantics end to end through the processor: each kind, chaining, duplicates,
//! NULL groups, determinism under shuffling and re-batching, late events, and a restart from a
//! checkpoint.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use pipeline::alert::Alert;
use pipeline::correlate::{CorrelationRule, EngineState};
use pipeline::decode::{DecodeConfig, decode};
use pipeline::detect::{Rule, RulePack};
use pipeline::exceptions::ExceptionSet;
use pipeline::process::Processor;
use serde_json::{Value, json};

const T0: i64 = 1_741_500_000_000; // 2025-03-09T06:00:00Z

fn detection(id: &str, signal_only: bool, condition: &str) -> Rule {
    let text = format!(
        "/*\nid = \"{id}\"\ntitle = \"{id}\"\nseverity = \"low\"\ndescription = \"d\"\ntactics = [\"TA0006\"]\ntechniques = [\"T1110\"]\nsignal_only = {signal_only}\n*/\nSELECT * FROM cloudtrail WHERE {condition}"
    );
    Rule::parse(Path::new(&format!("{id}.sql")), &text).unwrap()
}

fn correlation(id: &str, section: &str) -> CorrelationRule {
    let text = format!(
        "id = \"{id}\"\ntitle = \"{id}\"\nseverity = \"high\"\ndescription = \"d\"\ntactics = [\"TA0006\"]\ntechniques = [\"T1110\"]\n\n[correlation]\n{section}"
    );
    CorrelationRule::parse(Path::new(&format!("{id}.toml")), &text).unwrap()
}

fn detections() -> Vec<Rule> {
    vec![
        detection(
            "fail",
            true,
            "eventname = 'ConsoleLogin' AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Failure'",
        ),
        detection(
            "ok",
            true,
            "eventname = 'ConsoleLogin' AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'",
        ),
        detection("api", true, "eventname <> 'ConsoleLogin'"),
        detection("stop", false, "eventname = 'StopLogging'"),
    ]
}

/// A CloudTrail record `minutes` after T0.
fn event(id: &str, minutes: f64, name: &str, user: Option<&str>, ip: &str, region: &str) -> Value {
    let mut record = json!({
        "eventVersion": "1.09",
        "eventTime": pipeline::alert::format_millis(T0 + (minutes * 60_000.0) as i64),
        "eventSource": if name == "ConsoleLogin" { "signin.amazonaws.com" } else { "cloudtrail.amazonaws.com" },
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "eventID": id,
        "recipientAccountId": "012345678901",
        "userIdentity": {"type": "IAMUser", "accountId": "012345678901"},
    });
    if let Some(user) = user {
        record["userIdentity"]["userName"] = json!(user);
        record["userIdentity"]["arn"] = json!(format!("arn:aws:iam::012345678901:user/{user}"));
    }
    if name == "ConsoleLogin" {
        record["responseElements"] =
            json!({"ConsoleLogin": if id.starts_with("ok") { "Success" } else { "Failure" }});
    }
    record
}

async fn processor(correlations: Vec<CorrelationRule>, lateness: Duration) -> Processor {
    let pack = RulePack { detections: detections(), correlations };
    Processor::for_pack(pack, ExceptionSet::empty(), lateness).await.unwrap()
}

fn batches(events: &[Value], batch_rows: usize) -> Vec<arrow::array::RecordBatch> {
    let text = serde_json::to_string(events).unwrap();
    let mut batches = Vec::new();
    let config = DecodeConfig { batch_rows, ..DecodeConfig::default() };
    let report = decode(text.as_bytes(), "test", &config, |batch| {
        batches.push(batch);
        true
    });
    assert!(report.quarantined.is_empty(), "{:?}", report.quarantined);
    batches
}

async fn run(
    correlations: Vec<CorrelationRule>,
    events: &[Value],
    batch_rows: usize,
    lateness: Duration,
) -> Vec<Alert> {
    let mut processor = processor(correlations, lateness).await;
    let mut alerts = Vec::new();
    for batch in batches(events, batch_rows) {
        alerts.extend(processor.process(&batch).unwrap());
    }
    alerts.extend(processor.finish());
    alerts
}

fn of_rule<'a>(alerts: &'a [Alert], rule_id: &str) -> Vec<&'a Alert> {
    alerts.iter().filter(|alert| alert.rule_id == rule_id).collect()
}

const LATENESS: Duration = Duration::from_secs(15 * 60);

fn brute_force() -> CorrelationRule {
    correlation(
        "brute",
        "type = \"event_count\"\nrules = [\"fail\"]\ngroup_by = [\"sourceipaddress\"]\ntimespan = \"10m\"\ncondition = { gte = 3 }",
    )
}

#[tokio::test]
async fn event_count_fires_once_per_window_and_resets() {
    let events: Vec<Value> = (0..7)
        .map(|i| {
            event(
                &format!("f{i}"),
                i as f64,
                "ConsoleLogin",
                Some("bob"),
                "198.51.100.1",
                "us-east-1",
            )
        })
        .collect();
    let alerts = run(vec![brute_force()], &events, 100, LATENESS).await;
    let fired = of_rule(&alerts, "brute");
    // 7 failures: the 3rd fires (f0..f2), the window resets, the 6th fires (f3..f5); f6 alone stays below.
    assert_eq!(fired.len(), 2);
    assert_eq!(fired[0].event_ids, ["f0", "f1", "f2"]);
    assert_eq!(fired[1].event_ids, ["f3", "f4", "f5"]);
    assert_eq!(fired[0].fields.as_ref().unwrap()["group"]["sourceipaddress"], "198.51.100.1");
    // Signal-only detections raise nothing themselves.
    assert!(of_rule(&alerts, "fail").is_empty());
}

/// A group-by that reads no column (one group for every signal) still counts its signals.
#[tokio::test]
async fn a_constant_group_by_counts_every_signal() {
    let everyone = correlation(
        "everyone",
        "type = \"event_count\"\nrules = [\"fail\"]\ngroup_by = [\"'all'\"]\ntimespan = \"10m\"\ncondition = { gte = 3 }",
    );
    let events: Vec<Value> = ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            event(&format!("f{i}"), i as f64, "ConsoleLogin", Some("bob"), ip, "us-east-1")
        })
        .collect();
    let alerts = run(vec![everyone], &events, 100, LATENESS).await;
    let fired = of_rule(&alerts, "everyone");
    assert_eq!(fired.len(), 1, "{alerts:?}");
    assert_eq!(fired[0].event_ids, ["f0", "f1", "f2"]);
    assert_eq!(fired[0].fields.as_ref().unwrap()["group_values"][0], "all");
}

#[tokio::test]
async fn event_count_respects_the_timespan_and_groups() {
    let events = vec![
        event("f1", 0.0, "ConsoleLogin", Some("bob"), "198.51.100.1", "us-east-1"),
        event("f2", 5.0, "ConsoleLogin", Some("bob"), "198.51.100.1", "us-east-1"),
        event("f3", 16.0, "ConsoleLogin", Some("bob"), "198.51.100.1", "us-east-1"),
        event("f4", 1.0, "ConsoleLogin", Some("bob"), "198.51.100.2", "us-east-1"),
    ];
    assert!(of_rule(&run(vec![brute_force()], &events, 100, LATENESS).await, "brute").is_empty());
}

#[tokio::test]
async fn closing_conditions_are_judged_when_the_window_closes() {
    let few = correlation(
        "few",
        "type = \"event_count\"\nrules = [\"fail\"]\ngroup_by = [\"sourceipaddress\"]\ntimespan = \"10m\"\ncondition = { gte = 2, lte = 3 }",
    );
    let events = vec![
        // 198.51.100.1: 2 failures in its window (fires). 198.51.100.2: 4 in the window anchored
        // at b1 (does not), then the window slides to b2, which holds 3 (fires).
        event("a1", 0.0, "ConsoleLogin", Some("bob"), "198.51.100.1", "us-east-1"),
        event("a2", 1.0, "ConsoleLogin", Some("bob"), "198.51.100.1", "us-east-1"),
        event("b1", 0.0, "ConsoleLogin", Some("bob"), "198.51.100.2", "us-east-1"),
        event("b2", 1.0, "ConsoleLogin", Some("bob"), "198.51.100.2", "us-east-1"),
        event("b3", 2.0, "ConsoleLogin", Some("bob"), "198.51.100.2", "us-east-1"),
        event("b4", 3.0, "ConsoleLogin", Some("bob"), "198.51.100.2", "us-east-1"),
    ];
    let alerts = run(vec![few], &events, 100, LATENESS).await;
    let fired = of_rule(&alerts, "few");
    assert_eq!(fired.len(), 2, "{fired:?}");
    assert_eq!(fired[0].event_ids, ["a1", "a2"]);
    assert_eq!(fired[1].event_ids, ["b2", "b3", "b4"]);
}

#[tokio::test]
async fn value_count_counts_distinct_values() {
    let spray = correlation(
        "spray",
        "type = \"value_count\"\nrules = [\"fail\"]\ngroup_by = [\"sourceipaddress\"]\ntimespan = \"15m\"\ncondition = { gte = 3 }\nfield = [\"useridentity.username\"]",
    );
    let same_user: Vec<Value> = (0..5)
        .map(|i| {
            event(
                &format!("s{i}"),
                i as f64,
                "ConsoleLogin",
                Some("bob"),
                "198.51.100.9",
                "us-east-1",
            )
        })
        .collect();
    assert!(
        of_rule(&run(vec![spray.clone()], &same_user, 100, LATENESS).await, "spray").is_empty()
    );
    let users: Vec<Value> = ["ann", "bob", "ann", "cid"]
        .iter()
        .enumerate()
        .map(|(i, user)| {
            event(
                &format!("u{i}"),
                i as f64,
                "ConsoleLogin",
                Some(user),
                "198.51.100.9",
                "us-east-1",
            )
        })
        .collect();
    let alerts = run(vec![spray], &users, 100, LATENESS).await;
    let fired = of_rule(&alerts, "spray");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].fields.as_ref().unwrap()["distinct_count"], 3);
    assert_eq!(fired[0].count, 4);
}

#[tokio::test]
async fn temporal_and_temporal_ordered() {
    let any_order = correlation(
        "both",
        "type = \"temporal\"\nrules = [\"fail\", \"ok\"]\ngroup_by = [\"sourceipaddress\"]\ntimespan = \"30m\"",
    );
    let in_order = correlation(
        "then",
        "type = \"temporal_ordered\"\nrules = [\"fail\", \"ok\"]\ngroup_by = [\"sourceipaddress\"]\ntimespan = \"30m\"",
    );
    let success_first = vec![
        event("ok1", 0.0, "ConsoleLogin", Some("bob"), "198.51.100.3", "us-east-1"),
        event("f1", 2.0, "ConsoleLogin", Some("bob"), "198.51.100.3", "us-east-1"),
    ];
    let alerts =
        run(vec![any_order.clone(), in_order.clone()], &success_first, 100, LATENESS).await;
    assert_eq!(of_rule(&alerts, "both").len(), 1);
    assert!(of_rule(&alerts, "then").is_empty());
    let failure_first = vec![
        event("f1", 0.0, "ConsoleLogin", Some("bob"), "198.51.100.3", "us-east-1"),
        event("f2", 1.0, "ConsoleLogin", Some("bob"), "198.51.100.3", "us-east-1"),
        event("ok1", 2.0, "ConsoleLogin", Some("bob"), "198.51.100.3", "us-east-1"),
    ];
    let alerts = run(vec![in_order.clone()], &failure_first, 100, LATENESS).await;
    let fired = of_rule(&alerts, "then");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].event_ids, ["f2", "ok1"], "the tightest chain");
    let too_slow = vec![
        event("f1", 0.0, "ConsoleLogin", Some("bob"), "198.51.100.3", "us-east-1"),
        event("ok1", 45.0, "ConsoleLogin", Some("bob"), "198.51.100.3", "us-east-1"),
    ];
    assert!(of_rule(&run(vec![in_order], &too_slow, 100, LATENESS).await, "then").is_empty());
}

fn new_region() -> CorrelationRule {
    correlation(
        "region",
        "type = \"new_terms\"\nrules = [\"api\"]\nfields = [\"recipientaccountid\", \"awsregion\"]\nhistory = \"7d\"\nlearning = \"1d\"",
    )
}

#[tokio::test]
async fn new_terms_alerts_on_first_appearance_after_learning() {
    let day = 24.0 * 60.0;
    let events = vec![
        event("h1", 0.0, "DescribeTrails", Some("bob"), "198.51.100.4", "us-east-1"),
        event("h2", 10.0, "DescribeTrails", Some("bob"), "198.51.100.4", "eu-west-1"),
        // Learning over: a known region is quiet, a new one alerts once.
        event("n1", 2.0 * day, "DescribeTrails", Some("bob"), "198.51.100.4", "us-east-1"),
        event("n2", 2.0 * day + 1.0, "DescribeTrails", Some("bob"), "198.51.100.4", "ap-south-2"),
        event("n3", 2.0 * day + 2.0, "DescribeTrails", Some("bob"), "198.51.100.4", "ap-south-2"),
        // eu-west-1 last seen 10 days earlier: out of the 7-day history, new again.
        event("n4", 10.0 * day + 20.0, "DescribeTrails", Some("bob"), "198.51.100.4", "eu-west-1"),
    ];
    let alerts = run(vec![new_region()], &events, 100, LATENESS).await;
    let fired: Vec<&Vec<String>> =
        of_rule(&alerts, "region").iter().map(|a| &a.event_ids).collect();
    assert_eq!(fired, [&vec!["n2".to_string()], &vec!["n4".to_string()]]);
}

#[tokio::test]
async fn correlations_chain() {
    let first_seen = correlation(
        "first_ip",
        "type = \"new_terms\"\nrules = [\"api\"]\nfields = [\"useridentity.arn\", \"sourceipaddress\"]\nlearning = \"1d\"",
    );
    let mut first_seen = first_seen;
    first_seen.meta.signal_only = true;
    let then_stop = correlation(
        "new_ip_then_stop",
        "type = \"temporal_ordered\"\nrules = [\"first_ip\", \"stop\"]\ngroup_by = [\"useridentity.arn\"]\ntimespan = \"1h\"",
    );
    let day = 24.0 * 60.0;
    let events = vec![
        event("old", 0.0, "DescribeTrails", Some("eve"), "198.51.100.5", "us-east-1"),
        // mallory has used this address before: her StopLogging follows no first-seen address.
        event("known", 1.0, "DescribeTrails", Some("mallory"), "203.0.113.9", "us-east-1"),
        event("new", 2.0 * day, "DescribeTrails", Some("eve"), "203.0.113.9", "us-east-1"),
        event("stop1", 2.0 * day + 5.0, "StopLogging", Some("eve"), "203.0.113.9", "us-east-1"),
        event("stop2", 2.0 * day + 5.0, "StopLogging", Some("mallory"), "203.0.113.9", "us-east-1"),
    ];
    let alerts = run(vec![first_seen, then_stop], &events, 100, LATENESS).await;
    assert!(of_rule(&alerts, "first_ip").is_empty(), "signal-only correlation");
    let fired = of_rule(&alerts, "new_ip_then_stop");
    assert_eq!(fired.len(), 1, "{alerts:?}");
    assert_eq!(fired[0].event_ids[1], "stop1");
    assert_eq!(of_rule(&alerts, "stop").len(), 2, "the detection alerts on its own too");
}

#[tokio::test]
async fn duplicates_and_null_groups_do_not_count() {
    let by_user = correlation(
        "by_user",
        "type = \"event_count\"\nrules = [\"fail\"]\ngroup_by = [\"useridentity.username\"]\ntimespan = \"10m\"\ncondition = { gte = 3 }",
    );
    let events = vec![
        event("d1", 0.0, "ConsoleLogin", Some("bob"), "198.51.100.1", "us-east-1"),
        event("d1", 0.0, "ConsoleLogin", Some("bob"), "198.51.100.1", "us-east-1"),
        event("d2", 1.0, "ConsoleLogin", Some("bob"), "198.51.100.1", "us-east-1"),
        event("n1", 1.0, "ConsoleLogin", None, "198.51.100.1", "us-east-1"),
        event("n2", 2.0, "ConsoleLogin", None, "198.51.100.1", "us-east-1"),
        event("n3", 3.0, "ConsoleLogin", None, "198.51.100.1", "us-east-1"),
    ];
    let mut processor = processor(vec![by_user], LATENESS).await;
    let mut alerts = Vec::new();
    for batch in batches(&events, 100) {
        alerts.extend(processor.process(&batch).unwrap());
    }
    alerts.extend(processor.finish());
    assert!(of_rule(&alerts, "by_user").is_empty(), "{alerts:?}");
    let stats = processor.stats().correlation;
    assert_eq!(stats.duplicate_signals, 1);
    assert_eq!(stats.ungrouped_signals, 3);
}

/// A deterministic scenario: several users and addresses, failures, successes, API calls in
/// several regions over about three hours.
fn scenario() -> Vec<Value> {
    let mut state = 42u64;
    let mut next = |n: u64| {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let users = ["ann", "bob", "cid"];
    let ips = ["198.51.100.1", "198.51.100.2", "203.0.113.7"];
    let regions = ["us-east-1", "eu-west-1", "ap-south-2"];
    (0..400)
        .map(|i| {
            let minutes = next(180) as f64 + next(60) as f64 / 60.0;
            let user = users[next(3) as usize];
            let ip = ips[next(3) as usize];
            let region = regions[next(3) as usize];
            match next(10) {
                0..=4 => event(&format!("f{i}"), minutes, "ConsoleLogin", Some(user), ip, region),
                5 => event(&format!("ok{i}"), minutes, "ConsoleLogin", Some(user), ip, region),
                6 => event(&format!("s{i}"), minutes, "StopLogging", Some(user), ip, region),
                _ => event(&format!("a{i}"), minutes, "DescribeTrails", Some(user), ip, region),
            }
        })
        .collect()
}

fn scenario_correlations() -> Vec<CorrelationRule> {
    vec![
        brute_force(),
        correlation(
            "spray",
            "type = \"value_count\"\nrules = [\"fail\"]\ngroup_by = [\"sourceipaddress\"]\ntimespan = \"15m\"\ncondition = { gte = 3 }\nfield = [\"useridentity.username\"]",
        ),
        correlation(
            "then",
            "type = \"temporal_ordered\"\nrules = [\"fail\", \"ok\", \"stop\"]\ngroup_by = [\"useridentity.arn\"]\ntimespan = \"30m\"",
        ),
        correlation(
            "few",
            "type = \"event_count\"\nrules = [\"ok\"]\ngroup_by = [\"sourceipaddress\"]\ntimespan = \"20m\"\ncondition = { lt = 3 }",
        ),
        correlation(
            "region",
            "type = \"new_terms\"\nrules = [\"api\"]\nfields = [\"useridentity.arn\", \"awsregion\"]\nlearning = \"30m\"",
        ),
    ]
}

fn alert_set(alerts: &[Alert]) -> BTreeSet<String> {
    alerts.iter().map(|alert| serde_json::to_string(alert).unwrap()).collect()
}

/// Any order of the same events, cut into any batches, gives exactly the same alerts, when
/// disorder stays within the allowed lateness (here the whole span).
#[tokio::test]
async fn alerts_do_not_depend_on_order_or_batching() {
    let events = scenario();
    let lateness = Duration::from_secs(4 * 3600);
    let reference = run(scenario_correlations(), &events, 8192, lateness).await;
    assert!(
        reference.iter().filter(|a| a.rule_id == "brute").count() > 3,
        "the scenario exercises the rules"
    );
    assert!(reference.iter().any(|a| a.rule_id == "then"));
    assert!(reference.iter().any(|a| a.rule_id == "few"));
    assert!(reference.iter().any(|a| a.rule_id == "region"));
    let expected = alert_set(&reference);
    let mut seed = 7u64;
    for round in 0..12 {
        let mut shuffled = events.clone();
        for index in (1..shuffled.len()).rev() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(round + 1);
            shuffled.swap(index, (seed >> 33) as usize % (index + 1));
        }
        let batch_rows = 1 + (seed >> 40) as usize % 60;
        let got = run(scenario_correlations(), &shuffled, batch_rows, lateness).await;
        assert_eq!(alert_set(&got), expected, "round {round}, batches of {batch_rows}");
    }
}

/// An event behind the watermark is counted as late and still evaluated against the state
/// retained for it.
#[tokio::test]
async fn late_events_are_counted_and_still_correlate() {
    let lateness = Duration::from_secs(60);
    let mut processor = processor(vec![brute_force()], lateness).await;
    let on_time = vec![
        event("f1", 0.0, "ConsoleLogin", Some("bob"), "198.51.100.1", "us-east-1"),
        event("f2", 1.0, "ConsoleLogin", Some("bob"), "198.51.100.1", "us-east-1"),
        event("x", 5.0, "DescribeTrails", Some("bob"), "198.51.100.8", "us-east-1"),
    ];
    let mut alerts = Vec::new();
    for batch in batches(&on_time, 100) {
        alerts.extend(processor.process(&batch).unwrap());
    }
    assert!(of_rule(&alerts, "brute").is_empty());
    // Three minutes behind the newest event: behind the watermark (one minute of lateness).
    let late = vec![event("f3", 2.0, "ConsoleLogin", Some("bob"), "198.51.100.1", "us-east-1")];
    for batch in batches(&late, 100) {
        alerts.extend(processor.process(&batch).unwrap());
    }
    alerts.extend(processor.finish());
    let fired = of_rule(&alerts, "brute");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].event_ids, ["f1", "f2", "f3"]);
    let stats = processor.stats();
    assert_eq!(stats.late_events, 1);
    assert_eq!(stats.correlation.late_signals, 1);
}

/// Stopping after half the events, checkpointing, and resuming from the checkpoint in a new
/// processor gives the same alerts as one uninterrupted run.
#[tokio::test]
async fn a_restart_from_a_checkpoint_loses_nothing() {
    let mut events = scenario();
    events.sort_by_key(|event| event["eventTime"].as_str().unwrap().to_string());
    let correlations =
        || scenario_correlations().into_iter().filter(|c| c.meta.id != "few").collect::<Vec<_>>();
    let uninterrupted = run(correlations(), &events, 50, LATENESS).await;

    let (first, second) = events.split_at(events.len() / 2);
    let mut before = processor(correlations(), LATENESS).await;
    let mut alerts = Vec::new();
    for batch in batches(first, 50) {
        alerts.extend(before.process(&batch).unwrap());
    }
    let checkpoint = serde_json::to_vec(before.correlations().state()).unwrap();
    drop(before);
    let mut after = processor(correlations(), LATENESS).await;
    after.correlations().restore(serde_json::from_slice::<EngineState>(&checkpoint).unwrap());
    for batch in batches(second, 50) {
        alerts.extend(after.process(&batch).unwrap());
    }
    alerts.extend(after.finish());
    // Dedup periods are not checkpointed; detections here have none. Compare correlation alerts.
    let correlation_ids: BTreeSet<&str> = ["brute", "spray", "then", "region"].into();
    let keep = |alerts: &[Alert]| {
        alert_set(
            &alerts
                .iter()
                .filter(|a| correlation_ids.contains(a.rule_id.as_str()))
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(keep(&alerts), keep(&uninterrupted));
    assert!(!keep(&alerts).is_empty());
}

/// With no checkpoint, `new_terms` history is seeded from the lake: value tuples already in
/// the lake are not new, only the truly new one alerts.
#[tokio::test]
async fn new_terms_history_is_bootstrapped_from_the_lake() {
    use lake::LakeLocation;
    use pipeline::internal_events::Counters;
    use pipeline::run::{RunConfig, run_files};
    use pipeline::sinks::jsonl::JsonLinesSink;
    use pipeline::state::STATE_PATH;

    let region = || {
        correlation(
            "region",
            "type = \"new_terms\"\nrules = [\"api\"]\nfields = [\"recipientaccountid\", \"awsregion\"]\nlearning = \"0s\"",
        )
    };
    let lake_dir = tempfile::tempdir().unwrap();
    let location = LakeLocation::open(lake_dir.path().to_str().unwrap()).unwrap();
    let inputs = tempfile::tempdir().unwrap();
    let day = 24.0 * 60.0;
    let history = vec![
        event("h1", 0.0, "DescribeTrails", Some("bob"), "198.51.100.4", "us-east-1"),
        event("h2", 1.0, "DescribeTrails", Some("bob"), "198.51.100.4", "eu-west-1"),
    ];
    std::fs::write(inputs.path().join("day1.json"), serde_json::to_string(&history).unwrap())
        .unwrap();
    let config = |dir: &Path| RunConfig::for_inputs(vec![dir.display().to_string()]);
    // Day 1 goes into the lake by a pack without the correlation; then the state is lost.
    let mut sink = JsonLinesSink::writer("test", Box::new(std::io::sink()));
    let mut plain = processor(Vec::new(), LATENESS).await;
    run_files(&config(inputs.path()), &location, &mut plain, &mut sink, &Counters::default())
        .await
        .unwrap();
    std::fs::remove_file(lake_dir.path().join(STATE_PATH)).unwrap();

    let day2 = tempfile::tempdir().unwrap();
    let events = vec![
        event("n1", day, "DescribeTrails", Some("bob"), "198.51.100.4", "us-east-1"),
        event("n2", day + 1.0, "DescribeTrails", Some("bob"), "198.51.100.4", "eu-west-1"),
        event("n3", day + 2.0, "DescribeTrails", Some("bob"), "198.51.100.4", "sa-east-1"),
    ];
    std::fs::write(day2.path().join("day2.json"), serde_json::to_string(&events).unwrap()).unwrap();
    let captured = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut sink = JsonLinesSink::writer("test", Box::new(Shared(captured.clone())));
    let mut with_rule = processor(vec![region()], LATENESS).await;
    run_files(&config(day2.path()), &location, &mut with_rule, &mut sink, &Counters::default())
        .await
        .unwrap();
    let text = String::from_utf8(captured.lock().unwrap().clone()).unwrap();
    let alerts: Vec<Alert> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let fired: Vec<&Vec<String>> =
        of_rule(&alerts, "region").iter().map(|a| &a.event_ids).collect();
    assert_eq!(fired, [&vec!["n3".to_string()]]);
}

/// CloudTrail times are to the second: steps of a sequence in the same second count as in
/// order, whatever their event ids.
#[tokio::test]
async fn temporal_ordered_accepts_steps_in_the_same_second() {
    let in_order = correlation(
        "then",
        "type = \"temporal_ordered\"\nrules = [\"fail\", \"ok\"]\ngroup_by = [\"sourceipaddress\"]\ntimespan = \"30m\"",
    );
    // "ok0" sorts before "zz-fail", so the success is processed first.
    let mut failure =
        event("zz-fail", 0.0, "ConsoleLogin", Some("bob"), "198.51.100.3", "us-east-1");
    failure["responseElements"]["ConsoleLogin"] = json!("Failure");
    let events =
        vec![failure, event("ok0", 0.0, "ConsoleLogin", Some("bob"), "198.51.100.3", "us-east-1")];
    let alerts = run(vec![in_order], &events, 100, LATENESS).await;
    let fired = of_rule(&alerts, "then");
    assert_eq!(fired.len(), 1, "{alerts:?}");
    assert_eq!(fired[0].event_ids, ["zz-fail", "ok0"]);
}

/// Feeds `events` to `processor` as one batch; returns the alerts it raised.
fn feed(processor: &mut Processor, events: &[Value]) -> Vec<Alert> {
    batches(events, 100).iter().flat_map(|batch| processor.process(batch).unwrap()).collect()
}

/// The checkpointed state of one correlation, as JSON.
fn correlation_state(processor: &mut Processor, id: &str) -> Value {
    serde_json::to_value(processor.correlations().state()).unwrap()["correlations"][id].clone()
}

/// The event ids of the signals a correlation holds in `part` ("pending" or the windows of
/// "groups"), with whether each keeps a record for its alert.
fn held_signals(state: &Value, part: &str) -> Vec<(String, bool)> {
    let signals: Vec<&Value> = match &state[part] {
        Value::Array(signals) => signals.iter().collect(),
        Value::Object(groups) => groups.values().flat_map(|w| w.as_array().unwrap()).collect(),
        _ => Vec::new(),
    };
    signals
        .into_iter()
        .map(|signal| {
            let has_record = !signal["records"].as_array().unwrap().is_empty();
            (signal["event_id"].as_str().unwrap().to_string(), has_record)
        })
        .collect()
}

/// The event times of the quiet signals a correlation holds (`new_terms` signals sure not to
/// alert), checking that they keep nothing else but their hashes.
fn quiet_signal_times(state: &Value) -> Vec<i64> {
    let Some(signals) = state["pending_quiet"].as_array() else { return Vec::new() };
    signals
        .iter()
        .map(|signal| {
            let members: Vec<&String> = signal.as_object().unwrap().keys().collect();
            assert_eq!(members, ["seen", "time", "tuple"]);
            signal["time"].as_i64().unwrap()
        })
        .collect()
}

/// The last step of an ordered chain is held while an earlier step up to the lateness behind
/// the watermark could still arrive: such a late first step still ends the chain. Once the
/// watermark is further on, no allowed signal can come before it, and it leaves the state.
#[tokio::test]
async fn temporal_ordered_holds_a_last_step_for_the_lateness() {
    let in_order = correlation(
        "then",
        "type = \"temporal_ordered\"\nrules = [\"fail\", \"ok\"]\ngroup_by = [\"sourceipaddress\"]\ntimespan = \"30m\"",
    );
    let mut processor = processor(vec![in_order], Duration::from_secs(60)).await;
    let login = |id: &str, minutes: f64, ip: &str| {
        event(id, minutes, "ConsoleLogin", Some("bob"), ip, "us-east-1")
    };
    let traffic = |id: &str, minutes: f64| {
        event(id, minutes, "DescribeTrails", Some("eve"), "192.0.2.9", "us-east-1")
    };
    let mut alerts =
        feed(&mut processor, &[login("ok1", 10.0, "198.51.100.1"), traffic("x1", 11.5)]);
    // The watermark is at 10.5 minutes: a failure at 9.8 is late, but within the lateness.
    alerts.extend(feed(&mut processor, &[login("f1", 9.8, "198.51.100.1")]));
    let fired = of_rule(&alerts, "then");
    assert_eq!(fired.len(), 1, "{alerts:?}");
    assert_eq!(fired[0].event_ids, ["f1", "ok1"]);

    alerts = feed(&mut processor, &[login("ok2", 20.0, "198.51.100.2"), traffic("x2", 21.2)]);
    let held = held_signals(&correlation_state(&mut processor, "then"), "groups");
    assert_eq!(held, [("ok2".to_string(), true)], "within the lateness, ok2 may still end a chain");
    alerts.extend(feed(&mut processor, &[traffic("x3", 25.0)]));
    let held = held_signals(&correlation_state(&mut processor, "then"), "groups");
    assert!(held.is_empty(), "ok2 is more than the lateness behind the watermark: {held:?}");
    assert!(of_rule(&alerts, "then").is_empty());
}

/// A `new_terms` signal that cannot alert, because its tuple is known or the learning period
/// still runs at its time, keeps no record while it waits for the watermark; the one that
/// alerts keeps its record, and the alert shows it.
#[tokio::test]
async fn new_terms_keeps_records_only_for_signals_that_can_alert() {
    let day = 24.0 * 60.0;
    let mut processor = processor(vec![new_region()], LATENESS).await;
    let call = |id: &str, minutes: f64, region: &str| {
        event(id, minutes, "DescribeTrails", Some("bob"), "198.51.100.4", region)
    };
    // h1 is processed once the watermark passes it; from then on the earliest event time is
    // known. h2 came before that, so it keeps its record; h3 is within the learning day, a
    // quiet signal.
    feed(&mut processor, &[call("h1", 0.0, "us-east-1"), call("h2", 20.0, "us-east-1")]);
    feed(&mut processor, &[call("h3", 21.0, "eu-west-1")]);
    let state = correlation_state(&mut processor, "region");
    assert_eq!(held_signals(&state, "pending"), [("h2".to_string(), true)]);
    assert_eq!(quiet_signal_times(&state), [T0 + 21 * 60_000]);

    feed(
        &mut processor,
        &[call("n1", 2.0 * day, "us-east-1"), call("n2", 2.0 * day + 1.0, "ap-south-2")],
    );
    let state = correlation_state(&mut processor, "region");
    assert_eq!(held_signals(&state, "pending"), [("n2".to_string(), true)]);
    assert_eq!(quiet_signal_times(&state), [T0 + 2 * 24 * 60 * 60_000], "n1's tuple is known");

    let alerts = processor.finish();
    let fired = of_rule(&alerts, "region");
    assert_eq!(fired.len(), 1, "{alerts:?}");
    assert_eq!(fired[0].event_ids, ["n2"]);
    assert_eq!(fired[0].events.len(), 1);
    assert_eq!(fired[0].events[0]["eventID"], "n2");
    assert_eq!(fired[0].events[0]["awsRegion"], "ap-south-2");
}

/// A record delivered twice counts once for `new_terms` too, also as a quiet signal (within
/// the learning period, or of a known tuple).
#[tokio::test]
async fn new_terms_counts_a_repeated_record_once() {
    let call = |id: &str, minutes: f64| {
        event(id, minutes, "DescribeTrails", Some("bob"), "198.51.100.4", "us-east-1")
    };
    let mut processor = processor(vec![new_region()], LATENESS).await;
    // The watermark passes the first: the earliest event time is known, so the next calls
    // are quiet (learning).
    feed(&mut processor, &[call("first", 0.0), call("second", 20.0)]);
    let learning = [call("l1", 30.0), call("l1", 30.0), call("l2", 40.0)];
    feed(&mut processor, &learning);
    feed(&mut processor, &[call("l1", 30.0)]);
    assert_eq!(quiet_signal_times(&correlation_state(&mut processor, "region")).len(), 4);
    processor.finish();
    let stats = processor.stats().correlation;
    assert_eq!((stats.signals, stats.duplicate_signals), (6, 2));
}

/// A CloudTrail record delivered twice raises one alert.
#[tokio::test]
async fn a_duplicated_record_alerts_once() {
    let stop = event("s1", 0.0, "StopLogging", Some("eve"), "203.0.113.9", "us-east-1");
    let alerts = run(Vec::new(), &[stop.clone(), stop.clone()], 1, LATENESS).await;
    assert_eq!(of_rule(&alerts, "stop").len(), 1);
}

/// Hits held for deduplication survive a restart: the alert after the restart counts the
/// matches from before it.
#[tokio::test]
async fn open_dedup_periods_survive_a_restart() {
    let text = "/*\nid = \"dedup\"\ntitle = \"t\"\nseverity = \"low\"\ndescription = \"d\"\ntactics = [\"TA0006\"]\ntechniques = [\"T1110\"]\ndedup_key = [\"sourceipaddress\"]\ndedup_period = \"30m\"\n*/\nSELECT * FROM cloudtrail WHERE eventname = 'ConsoleLogin'";
    let pack = || RulePack {
        detections: vec![Rule::parse(Path::new("dedup.sql"), text).unwrap()],
        correlations: Vec::new(),
    };
    let events: Vec<Value> = [0.0, 5.0, 10.0, 40.0]
        .iter()
        .enumerate()
        .map(|(i, minutes)| {
            event(
                &format!("f{i}"),
                *minutes,
                "ConsoleLogin",
                Some("bob"),
                "198.51.100.1",
                "us-east-1",
            )
        })
        .collect();
    let new_processor =
        || async { Processor::for_pack(pack(), ExceptionSet::empty(), LATENESS).await.unwrap() };

    let mut uninterrupted = new_processor().await;
    let mut expected = Vec::new();
    for batch in batches(&events, 100) {
        expected.extend(uninterrupted.process(&batch).unwrap());
    }
    expected.extend(uninterrupted.finish());
    assert_eq!(expected.iter().map(|a| a.count).collect::<Vec<_>>(), [3, 1]);

    let mut before = new_processor().await;
    let mut alerts = Vec::new();
    for batch in batches(&events[..2], 100) {
        alerts.extend(before.process(&batch).unwrap());
    }
    let checkpoint = serde_json::to_string(&before.checkpoint(&[])).unwrap();
    drop(before);
    let mut after = new_processor().await;
    after.restore(serde_json::from_str(&checkpoint).unwrap());
    for batch in batches(&events[2..], 100) {
        alerts.extend(after.process(&batch).unwrap());
    }
    alerts.extend(after.finish());
    assert_eq!(alerts, expected);
}
