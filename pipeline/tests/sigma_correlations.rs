//! Sigma correlation and filter documents, processing pipelines and `|expand`, loaded from a
//! rules folder as `trailhound run --rules DIR` loads them and run through the processor:
//! `event_count`, `value_count`, `temporal`, `temporal_ordered`, `group-by`, `timespan`,
//! `aliases`, `generate`, chaining, filters, and the constructs refused loudly.

use std::path::Path;
use std::time::Duration;

use pipeline::alert::Alert;
use pipeline::decode::{DecodeConfig, decode};
use pipeline::detect::load_pack;
use pipeline::exceptions::ExceptionSet;
use pipeline::process::Processor;
use serde_json::{Value, json};

const T0: i64 = 1_741_500_000_000; // 2025-03-09T06:00:00Z

const FAILED_LOGIN: &str = "title: Failed console sign-in
name: failed_login
logsource:
  product: aws
  service: signin
detection:
  selection:
    eventName: ConsoleLogin
    responseElements.ConsoleLogin: Failure
  condition: selection
level: low
";

const SUCCESSFUL_LOGIN: &str = "title: Console sign-in
name: successful_login
logsource:
  product: aws
  service: signin
detection:
  selection:
    eventName: ConsoleLogin
    responseElements.ConsoleLogin: Success
  condition: selection
level: low
";

const USER_CREATED: &str = "title: IAM user created
name: user_created
logsource:
  product: aws
  service: iam
detection:
  selection:
    eventName: CreateUser
  condition: selection
level: low
";

/// A CloudTrail record `minutes` after T0 by `user` from `ip`.
fn event(id: &str, minutes: i64, name: &str, user: &str, ip: &str) -> Value {
    let mut record = json!({
        "eventVersion": "1.09",
        "eventTime": pipeline::alert::format_millis(T0 + minutes * 60_000),
        "eventSource": "signin.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "eventID": id,
        "recipientAccountId": "012345678901",
        "userIdentity": {
            "type": "IAMUser",
            "accountId": "012345678901",
            "userName": user,
            "arn": format!("arn:aws:iam::012345678901:user/{user}"),
        },
    });
    match name {
        "ConsoleLogin" => {
            let outcome = if id.starts_with("ok") { "Success" } else { "Failure" };
            record["responseElements"] = json!({ "ConsoleLogin": outcome });
        }
        "CreateUser" => {
            record["eventSource"] = json!("iam.amazonaws.com");
            record["requestParameters"] = json!({ "userName": id.trim_start_matches("create-") });
        }
        _ => {}
    }
    record
}

fn failures(count: i64, ip: &str, user: impl Fn(i64) -> String) -> Vec<Value> {
    (0..count).map(|i| event(&format!("fail{i}"), i, "ConsoleLogin", &user(i), ip)).collect()
}

fn write_rules(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

async fn run(dir: &Path, events: &[Value]) -> Vec<Alert> {
    let pack = load_pack(dir).unwrap_or_else(|error| panic!("{error}"));
    let mut processor =
        Processor::for_pack(pack, ExceptionSet::empty(), Duration::from_secs(900)).await.unwrap();
    let body = serde_json::to_vec(&json!({ "Records": events })).unwrap();
    let mut batches = Vec::new();
    let report = decode(body.as_slice(), "test.json", &DecodeConfig::default(), |batch| {
        batches.push(batch);
        true
    });
    assert!(report.quarantined.is_empty(), "{:?}", report.quarantined);
    let mut alerts = Vec::new();
    for batch in &batches {
        alerts.extend(processor.process(batch).unwrap());
    }
    alerts.extend(processor.finish());
    alerts
}

fn fired<'a>(alerts: &'a [Alert], rule_id: &str) -> Vec<&'a Alert> {
    alerts.iter().filter(|alert| alert.rule_id == rule_id).collect()
}

const BRUTE_FORCE: &str = "title: Console brute force
id: 5b4f0bc4-1a34-4b8e-a3f0-2b0c8ad2a3e1
name: brute_force
correlation:
  type: event_count
  rules:
    - failed_login
  group-by:
    - sourceIPAddress
  timespan: 10m
  condition:
    gte: 3
level: high
tags:
  - attack.credential-access
  - attack.t1110.001
";

#[tokio::test]
async fn event_count_groups_by_a_mapped_field_and_silences_its_rules() {
    let dir = write_rules(&[("failed_login.yml", FAILED_LOGIN), ("brute_force.yml", BRUTE_FORCE)]);
    let mut events = failures(4, "198.51.100.7", |_| "bob".into());
    // Two failures elsewhere stay below the threshold.
    events.extend(failures(2, "203.0.113.50", |_| "bob".into()).into_iter().map(|mut event| {
        event["eventID"] = json!(format!("other-{}", event["eventID"].as_str().unwrap()));
        event
    }));
    let alerts = run(dir.path(), &events).await;
    let brute = fired(&alerts, "sigma.brute_force");
    assert_eq!(brute.len(), 1, "{alerts:#?}");
    assert_eq!(brute[0].event_ids, ["fail0", "fail1", "fail2"]);
    assert_eq!(brute[0].severity.to_string(), "high");
    assert_eq!(
        brute[0].fields.as_ref().unwrap()["group"]["sourceipaddress"],
        "198.51.100.7",
        "group-by sourceIPAddress maps to the lake column"
    );
    assert!(fired(&alerts, "sigma.failed_login").is_empty(), "generate defaults to false");

    let generating = BRUTE_FORCE.replace("level: high", "generate: true\nlevel: high");
    let dir = write_rules(&[("failed_login.yml", FAILED_LOGIN), ("brute_force.yml", &generating)]);
    let alerts = run(dir.path(), &events).await;
    assert_eq!(fired(&alerts, "sigma.brute_force").len(), 1);
    assert_eq!(
        fired(&alerts, "sigma.failed_login").len(),
        6,
        "generate: true keeps the rule's alerts"
    );
}

#[tokio::test]
async fn value_count_counts_distinct_values() {
    let spray = "title: Password spray
correlation:
  type: value_count
  rules: failed_login
  group-by:
    - sourceIPAddress
  timespan: 15m
  condition:
    field: userIdentity.userName
    gte: 3
level: high
";
    let dir = write_rules(&[("failed_login.yml", FAILED_LOGIN), ("spray.yml", spray)]);
    // Four failures for only two users: no spray.
    let same_users = failures(4, "198.51.100.7", |i| format!("user{}", i % 2));
    assert!(fired(&run(dir.path(), &same_users).await, "sigma.spray").is_empty());
    let many_users = failures(4, "198.51.100.7", |i| format!("user{i}"));
    let alerts = run(dir.path(), &many_users).await;
    let spray = fired(&alerts, "sigma.spray");
    assert_eq!(spray.len(), 1, "{alerts:#?}");
    assert_eq!(spray[0].event_ids, ["fail0", "fail1", "fail2"]);
}

#[tokio::test]
async fn temporal_ordered_with_aliases_and_temporal_in_any_order() {
    // A user created, then signing in: the created name and the signing-in name are
    // different fields, joined by an alias.
    let ordered = "title: New user signs in
correlation:
  type: temporal_ordered
  rules:
    - user_created
    - successful_login
  group-by:
    - new_user
  timespan: 1h
  aliases:
    new_user:
      user_created: requestParameters.userName
      successful_login: userIdentity.userName
level: medium
";
    let dir = write_rules(&[
        ("user_created.yml", USER_CREATED),
        ("successful_login.yml", SUCCESSFUL_LOGIN),
        ("new_user_signs_in.yml", ordered),
    ]);
    let created = event("create-mallory", 0, "CreateUser", "admin", "198.51.100.7");
    let login = event("ok-mallory", 5, "ConsoleLogin", "mallory", "203.0.113.9");
    let other_login = event("ok-alice", 6, "ConsoleLogin", "alice", "203.0.113.9");
    let alerts = run(dir.path(), &[created.clone(), other_login.clone(), login.clone()]).await;
    let found = fired(&alerts, "sigma.new_user_signs_in");
    assert_eq!(found.len(), 1, "{alerts:#?}");
    assert_eq!(found[0].event_ids, ["create-mallory", "ok-mallory"]);
    assert_eq!(found[0].fields.as_ref().unwrap()["group"]["new_user"], "mallory");
    // The wrong order does not fire a temporal_ordered correlation...
    let early_login = event("ok-mallory", -5, "ConsoleLogin", "mallory", "203.0.113.9");
    let alerts = run(dir.path(), &[early_login.clone(), created.clone()]).await;
    assert!(fired(&alerts, "sigma.new_user_signs_in").is_empty(), "{alerts:#?}");
    // ...but does fire a temporal one, whose condition names every rule.
    let any_order = ordered
        .replace("type: temporal_ordered", "type: temporal")
        .replace("timespan: 1h", "timespan: 1h\n  condition: user_created and successful_login");
    let dir = write_rules(&[
        ("user_created.yml", USER_CREATED),
        ("successful_login.yml", SUCCESSFUL_LOGIN),
        ("new_user_signs_in.yml", &any_order),
    ]);
    let alerts = run(dir.path(), &[early_login, created]).await;
    assert_eq!(fired(&alerts, "sigma.new_user_signs_in").len(), 1, "{alerts:#?}");
}

#[tokio::test]
async fn correlations_chain_within_one_multi_document_file() {
    // Brute force from an address, then a success from it: a correlation over a correlation.
    let file = format!(
        "{FAILED_LOGIN}---\n{SUCCESSFUL_LOGIN}---\n{}---\ntitle: Brute force then success
correlation:
  type: temporal_ordered
  rules:
    - brute_force
    - successful_login
  group-by:
    - sourceIPAddress
  timespan: 30m
level: critical
",
        BRUTE_FORCE.replace("level: high", "level: high\n")
    );
    let dir = write_rules(&[("stories.yml", &file)]);
    let mut events = failures(3, "198.51.100.7", |_| "bob".into());
    events.push(event("ok-bob", 10, "ConsoleLogin", "bob", "198.51.100.7"));
    events.push(event("ok-eve", 11, "ConsoleLogin", "eve", "203.0.113.1"));
    let alerts = run(dir.path(), &events).await;
    // Documents are numbered in the file: rules first, then correlations.
    let story = fired(&alerts, "sigma.stories.4");
    assert_eq!(story.len(), 1, "{alerts:#?}");
    assert_eq!(story[0].severity.to_string(), "critical");
    assert_eq!(story[0].event_ids, ["fail0", "fail1", "fail2", "ok-bob"]);
    assert!(fired(&alerts, "sigma.stories.3").is_empty(), "the inner correlation is silenced");
    assert!(
        fired(&alerts, "sigma.stories.2").is_empty()
            && fired(&alerts, "sigma.stories.1").is_empty()
    );
}

#[tokio::test]
async fn filters_pipelines_and_expand() {
    let stop_logging = "title: Trail stopped
id: 9f8e7d6c-0000-4000-8000-000000000001
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName: StopLogging
    actor|expand: '%watched%'
  condition: selection
level: high
";
    let filter = "title: Automation may stop trails from the office
logsource:
  product: aws
filter:
  rules:
    - 9f8e7d6c-0000-4000-8000-000000000001
  selection:
    sourceIPAddress|cidr: 198.51.100.0/24
  condition: not selection
";
    let pipeline = "name: ours
vars:
  watched:
    - '*:user/automation'
    - '*:user/alice'
transformations:
  - type: field_name_mapping
    mapping:
      actor: useridentity.arn
";
    let dir = write_rules(&[
        ("stop_logging.yml", stop_logging),
        ("office_filter.yml", filter),
        ("ours.yaml", pipeline),
    ]);
    let events = [
        event("a", 0, "StopLogging", "automation", "198.51.100.20"), // filtered out
        event("b", 1, "StopLogging", "automation", "203.0.113.5"),   // alerts
        event("c", 2, "StopLogging", "alice", "203.0.113.5"),        // alerts
        event("d", 3, "StopLogging", "mallory", "203.0.113.5"),      // not a watched actor
    ];
    let alerts = run(dir.path(), &events).await;
    let ids: Vec<&str> = fired(&alerts, "sigma.stop_logging")
        .iter()
        .flat_map(|alert| alert.event_ids.iter().map(String::as_str))
        .collect();
    assert_eq!(ids, ["b", "c"], "{alerts:#?}");
}

#[test]
fn unsupported_correlations_fail_loudly_naming_the_file() {
    let cases = [
        (BRUTE_FORCE.replace("timespan: 10m", "timespan: 10m\n  window: tumbling"), "window 'tumbling' is not supported"),
        (BRUTE_FORCE.replace("event_count", "value_sum").replace("gte: 3", "gte: 3\n    field: x"), "'value_sum' is not supported"),
        (BRUTE_FORCE.replace("- failed_login", "- nosuch_rule"), "refers to 'nosuch_rule'"),
        (
            "title: Either\ncorrelation:\n  type: temporal\n  rules: [failed_login, successful_login]\n  group-by: [sourceIPAddress]\n  timespan: 1h\n  condition: failed_login or successful_login\n".to_string(),
            "temporal rules need all their rules",
        ),
    ];
    for (text, expected) in cases {
        let dir = write_rules(&[
            ("failed_login.yml", FAILED_LOGIN),
            ("successful_login.yml", SUCCESSFUL_LOGIN),
            ("correlation.yml", &text),
        ]);
        let error = load_pack(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("correlation.yml") && error.contains(expected),
            "{expected}: {error}"
        );
    }
    let dir = write_rules(&[(
        "expand.yml",
        "title: X\nlogsource:\n  product: aws\ndetection:\n  sel:\n    eventName|expand: '%nothing%'\n  condition: sel\n",
    )]);
    let error = load_pack(dir.path()).unwrap_err().to_string();
    assert!(error.contains("expand.yml") && error.contains("'%nothing%' has no values"), "{error}");
}
