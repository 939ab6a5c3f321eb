//! Sigma semantics, rule by rule: every supported modifier and condition form, evaluated by
//! the detection engine on CloudTrail events (case-insensitivity, wildcard escapes, `1 of`
//! against `all of`, null handling), and the constructs that are refused loudly.

use pipeline::decode::{DecodeConfig, decode};
use pipeline::detect::DetectionEngine;
use pipeline::sigma::Pipeline;
use pipeline::sigma::{Compiled, compile_file};
use serde_json::{Value, json};

fn event(overrides: Value) -> Value {
    let mut event = json!({
        "eventVersion": "1.09",
        "userIdentity": { "type": "IAMUser", "arn": "arn:aws:iam::012345678901:user/alice", "userName": "alice" },
        "eventTime": "2025-03-09T16:39:48Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15",
        "requestParameters": { "name": "main-trail", "maxResults": 50, "userName": "alice" },
        "eventID": "00000000-0000-0000-0000-000000000001",
        "eventType": "AwsApiCall",
        "recipientAccountId": "012345678901",
    });
    for (key, value) in overrides.as_object().unwrap() {
        if value.is_null() {
            event.as_object_mut().unwrap().remove(key);
        } else {
            event[key] = value.clone();
        }
    }
    event
}

fn compile(detection: &str) -> Result<Vec<Compiled>, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rule.yml");
    let yaml = format!(
        "title: Test\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n{detection}\nlevel: high\ntags:\n  - attack.defense-evasion\n  - attack.t1562.008\n"
    );
    std::fs::write(&path, yaml).unwrap();
    compile_file(&path, &Pipeline::default()).map_err(|error| error.to_string())
}

async fn matches(detection: &str, event: &Value) -> bool {
    let compiled = compile(detection).unwrap_or_else(|error| panic!("{detection}: {error}"));
    let [Compiled::Rule(rule)] = compiled.as_slice() else { panic!("{compiled:?}") };
    let engine = DetectionEngine::compile(vec![(**rule).clone()]).await.unwrap();
    let body = serde_json::to_vec(&json!({ "Records": [event] })).unwrap();
    let mut batches = Vec::new();
    decode(body.as_slice(), "test.json", &DecodeConfig::default(), |batch| {
        batches.push(batch);
        true
    });
    let mut matched = false;
    for batch in &batches {
        matched |= engine.evaluate(batch).unwrap().iter().any(|found| !found.is_empty());
    }
    matched
}

/// Asserts each (detection, expected) pair on `event`.
async fn expect(event: &Value, cases: &[(&str, bool)]) {
    for (detection, expected) in cases {
        assert_eq!(matches(detection, event).await, *expected, "{detection}");
    }
}

#[tokio::test]
async fn strings_match_without_case_unless_cased() {
    expect(
        &event(json!({})),
        &[
            ("  sel:\n    eventName: stoplogging\n  condition: sel", true),
            ("  sel:\n    eventName|cased: stoplogging\n  condition: sel", false),
            ("  sel:\n    eventName|cased: StopLogging\n  condition: sel", true),
            ("  sel:\n    userIdentity.arn|endswith: /ALICE\n  condition: sel", true),
            ("  sel:\n    eventName|startswith: STOP\n  condition: sel", true),
            ("  sel:\n    eventName|contains: plog\n  condition: sel", true),
            ("  sel:\n    eventName|contains|all:\n      - stop\n      - logging\n  condition: sel", true),
            ("  sel:\n    eventName|contains|all:\n      - stop\n      - start\n  condition: sel", false),
        ],
    )
    .await;
}

#[tokio::test]
async fn wildcards_and_their_escapes() {
    expect(
        &event(json!({})),
        &[
            ("  sel:\n    eventName: 'Stop*'\n  condition: sel", true),
            ("  sel:\n    eventName: 'Sto?Logging'\n  condition: sel", true),
            ("  sel:\n    eventName: 'St?Logging'\n  condition: sel", false),
            // An escaped wildcard is a literal character.
            ("  sel:\n    eventName: 'Stop\\*'\n  condition: sel", false),
            // SQL's own wildcards are plain characters in Sigma.
            ("  sel:\n    eventName: 'Stop%'\n  condition: sel", false),
            ("  sel:\n    eventName: 'Stop_ogging'\n  condition: sel", false),
        ],
    )
    .await;
    expect(
        &event(json!({ "eventName": "Stop*" })),
        &[("  sel:\n    eventName: 'Stop\\*'\n  condition: sel", true)],
    )
    .await;
}

#[tokio::test]
async fn lists_maps_nulls_and_existence() {
    let with_error = event(json!({ "errorCode": "AccessDenied" }));
    let without_error = event(json!({}));
    let cases = [
        // A list of values is an OR; a map is an AND; a list of maps is an OR of ANDs.
        (
            "  sel:\n    eventName:\n      - DeleteTrail\n      - StopLogging\n  condition: sel",
            true,
            true,
        ),
        (
            "  sel:\n    eventName: StopLogging\n    awsRegion: us-east-1\n  condition: sel",
            false,
            false,
        ),
        (
            "  sel:\n    - eventName: DeleteTrail\n    - awsRegion: eu-west-1\n  condition: sel",
            true,
            true,
        ),
        ("  sel:\n    errorCode: null\n  condition: sel", false, true),
        ("  sel:\n    errorCode|exists: true\n  condition: sel", true, false),
        ("  sel:\n    errorCode|exists: false\n  condition: sel", false, true),
    ];
    for (detection, on_error, on_success) in cases {
        assert_eq!(matches(detection, &with_error).await, on_error, "{detection}");
        assert_eq!(matches(detection, &without_error).await, on_success, "{detection}");
    }
}

#[tokio::test]
async fn regular_expressions_numbers_and_field_references() {
    expect(
        &event(json!({})),
        &[
            // Regular expressions are case-sensitive unless |i.
            ("  sel:\n    eventName|re: '^stop'\n  condition: sel", false),
            ("  sel:\n    eventName|re|i: '^stop'\n  condition: sel", true),
            ("  sel:\n    userAgent|re: 'aws-cli/2\\.\\d+'\n  condition: sel", true),
            ("  sel:\n    requestParameters.maxResults|gt: 10\n  condition: sel", true),
            ("  sel:\n    requestParameters.maxResults|lte: 10\n  condition: sel", false),
            ("  sel:\n    requestParameters.maxResults: 50\n  condition: sel", true),
            ("  sel:\n    userIdentity.userName|fieldref: requestParameters.userName\n  condition: sel", true),
            ("  sel:\n    userIdentity.arn|fieldref: requestParameters.userName\n  condition: sel", false),
        ],
    )
    .await;
}

#[tokio::test]
async fn conditions_with_quantifiers_not_and_parentheses() {
    let selections = "  sel_name:\n    eventName: StopLogging\n  sel_region:\n    awsRegion: us-east-1\n  filter_cli:\n    userAgent|startswith: aws-cli\n";
    let event = event(json!({}));
    for (condition, expected) in [
        ("1 of sel_*", true),
        ("all of sel_*", false),
        ("sel_name and not filter_cli", false),
        ("sel_name and not (sel_region or filter_cli)", false),
        ("(sel_name or sel_region) and filter_cli", true),
        ("1 of them", true),
        ("all of them", false),
        ("not 1 of sel_*", false),
    ] {
        let detection = format!("{selections}  condition: {condition}");
        assert_eq!(matches(&detection, &event).await, expected, "{condition}");
    }
}

#[tokio::test]
async fn unsupported_constructs_fail_loudly_and_other_products_are_skipped() {
    for (detection, message) in [
        (
            "  sel:\n    resources.ARN|contains: 'trail/'\n  condition: sel",
            "'resources' is a list; Sigma matching on list members is not supported",
        ),
        (
            "  sel:\n    sourceIPAddress|cidr: 10.0.0.0/33\n  condition: sel",
            "|cidr '10.0.0.0/33': bad prefix length",
        ),
        (
            "  sel:\n    eventName|base64: 'Stop*'\n  condition: sel",
            "wildcards cannot be combined with encoding modifiers",
        ),
        (
            "  sel:\n    eventName: StopLogging\n  condition: nosuch",
            "names 'nosuch', which is not defined",
        ),
        ("  sel:\n    eventName|re: '(unclosed'\n  condition: sel", "invalid regular expression"),
    ] {
        let error = compile(detection).unwrap_err();
        assert!(error.contains("rule.yml") && error.contains(message), "{detection}: {error}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("windows.yml");
    std::fs::write(
        &path,
        "title: Windows\nlogsource:\n  product: windows\ndetection:\n  sel:\n    EventID: 1\n  condition: sel\n",
    )
    .unwrap();
    let compiled = compile_file(&path, &Pipeline::default()).unwrap();
    assert!(
        matches!(compiled.as_slice(), [Compiled::Skipped { reason, .. }] if reason.contains("'windows' is not aws")),
        "{compiled:?}"
    );
}

#[tokio::test]
async fn networks_encodings_keywords_and_time_parts() {
    use pipeline::sigma::encode::{TextEncoding, base64, encode_text};
    let command = base64(b"whoami");
    let script = base64(b"echo x; /bin/bash -i");
    let wide = base64(&encode_text("  Invoke-Mimikatz  ", TextEncoding::Utf16Le));
    let event = event(json!({
        "userAgent": "tool /enc payload",
        "requestParameters": { "command": command, "script": script, "wide": wide, "name": "main-trail" },
    }));
    expect(
        &event,
        &[
            ("  sel:\n    sourceIPAddress|cidr: 203.0.113.0/24\n  condition: sel", true),
            ("  sel:\n    sourceIPAddress|cidr:\n      - 10.0.0.0/8\n      - 2600:1f00::/24\n  condition: sel", false),
            ("  sel:\n    requestParameters.command|base64: whoami\n  condition: sel", true),
            ("  sel:\n    requestParameters.command|base64: WHOAMI\n  condition: sel", false),
            ("  sel:\n    requestParameters.script|base64offset|contains: /bin/bash\n  condition: sel", true),
            ("  sel:\n    requestParameters.script|base64offset|contains: /bin/zsh\n  condition: sel", false),
            ("  sel:\n    requestParameters.wide|wide|base64offset|contains: Invoke-Mimikatz\n  condition: sel", true),
            ("  sel:\n    requestParameters.wide|base64offset|contains: Invoke-Mimikatz\n  condition: sel", false),
            ("  sel:\n    userAgent|windash|contains: ' -enc '\n  condition: sel", true),
            ("  sel:\n    userAgent|contains: ' -enc '\n  condition: sel", false),
            ("  keywords:\n    - MAIN-TRAIL\n  condition: keywords", true),
            ("  keywords:\n    - 'main-*-trail'\n  condition: keywords", false),
            ("  keywords:\n    - nosuchthing\n    - stoplog\n  condition: keywords", true),
            ("  sel:\n    eventTime|hour: 16\n  condition: sel", true),
            ("  sel:\n    eventTime|hour: 3\n  condition: sel", false),
            ("  sel:\n    eventTime|year: 2025\n  condition: sel", true),
        ],
    )
    .await;
}
