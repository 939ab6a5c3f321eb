//! Decoder tests: every accepted input shape, every kind of bad input, and losslessness over
//! the third-party CloudTrail samples in `../shared`.

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::TimestampMillisecondType;
use lake::record_json::{RecordRenderer, row_to_json, string_at};
use serde_json::{Map, Value, json};

use super::*;
use crate::alert::{EventContext, event_id_of, identity_of};

fn shared(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/external").join(relative)
}

fn decode_bytes(bytes: &[u8]) -> (Vec<RecordBatch>, DecodeReport) {
    decode_with(bytes, &DecodeConfig::default())
}

fn decode_with(bytes: &[u8], config: &DecodeConfig) -> (Vec<RecordBatch>, DecodeReport) {
    let mut batches = Vec::new();
    let reader =
        crate::sources::files::open_decompressed(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let report = decode(reader, "test://source", config, |batch| {
        batches.push(batch);
        true
    });
    (batches, report)
}

fn records(batches: &[RecordBatch]) -> Vec<Map<String, Value>> {
    batches
        .iter()
        .flat_map(|batch| (0..batch.num_rows()).map(move |row| row_to_json(batch, row)))
        .collect()
}

/// The text values of a column, or of a struct member named by its path (`a.b.c`).
fn column_values(batches: &[RecordBatch], path: &str) -> Vec<Option<String>> {
    let mut names = path.split('.');
    let top = names.next().unwrap();
    batches
        .iter()
        .flat_map(|batch| {
            let mut array = batch.column_by_name(top).unwrap().clone();
            for name in names.clone() {
                array = array.as_struct().column_by_name(name).unwrap().clone();
            }
            (0..array.len())
                .map(move |row| string_at(array.as_ref(), row).map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn record(event_id: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "accountId": "012345678901", "arn": "arn:aws:iam::012345678901:user/alice"},
        "eventTime": "2025-03-09T16:39:48Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "ListUsers",
        "awsRegion": "us-east-1",
        "eventID": event_id,
        "readOnly": true,
        "recipientAccountId": "012345678901"
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn records_wrapper_gzip_and_plain() {
    let file = json!({"Records": [record("a"), record("b"), record("c")]}).to_string();
    for bytes in [file.clone().into_bytes(), gzip(file.as_bytes())] {
        let (batches, report) = decode_bytes(&bytes);
        assert_eq!(report.records, 3);
        assert!(report.quarantined.is_empty());
        assert_eq!(
            column_values(&batches, "eventid"),
            [Some("a".into()), Some("b".into()), Some("c".into())]
        );
        let positions = batches[0].column_by_name("source_record").unwrap();
        assert_eq!(
            positions.as_primitive::<arrow::datatypes::Int64Type>().values().to_vec(),
            [0, 1, 2]
        );
    }
}

#[test]
fn bare_arrays_and_json_lines() {
    let array = json!([record("a"), record("b")]).to_string();
    assert_eq!(decode_bytes(array.as_bytes()).1.records, 2);
    let lines = format!("{}\n{}\n", record("a"), record("b"));
    let (batches, report) = decode_bytes(lines.as_bytes());
    assert_eq!(report.records, 2);
    assert_eq!(column_values(&batches, "eventid"), [Some("a".into()), Some("b".into())]);
}

#[test]
fn batches_are_cut_at_the_configured_row_count() {
    let file =
        json!({"Records": (0..10).map(|i| record(&i.to_string())).collect::<Vec<_>>()}).to_string();
    let config = DecodeConfig { batch_rows: 4, ..DecodeConfig::default() };
    let (batches, report) = decode_with(file.as_bytes(), &config);
    assert_eq!(report.records, 10);
    assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [4, 4, 2]);
}

#[test]
fn iota_eventbridge_envelope_and_wrappers() {
    let envelope = std::fs::read(shared(
        "iota-testdata/internal/events/testdata/eventbridge/envelope_cloudtrail_api_call.json",
    ))
    .unwrap();
    let (batches, report) = decode_bytes(&envelope);
    assert_eq!(report.records, 1, "{:?}", report.quarantined);
    assert_eq!(column_values(&batches, "eventname"), [Some("CreateUser".into())]);

    let wrapper = std::fs::read(shared(
        "iota-testdata/internal/logprocessor/testdata/eventbridge/cloudtrail_records_wrapper.json",
    ))
    .unwrap();
    let (batches, report) = decode_bytes(&wrapper);
    assert_eq!(report.records, 1);
    assert_eq!(column_values(&batches, "eventname"), [Some("DeleteUser".into())]);

    let detail = std::fs::read(shared("iota-testdata/internal/logprocessor/testdata/eventbridge/cloudtrail_detail_create_user.json")).unwrap();
    assert_eq!(decode_bytes(&detail).1.records, 1);

    let jsonl = std::fs::read(shared("iota-testdata/testdata/sample.jsonl")).unwrap();
    let (batches, report) = decode_bytes(&jsonl);
    assert_eq!(report.records, 1);
    assert_eq!(column_values(&batches, "eventname"), [Some("ConsoleLogin".into())]);
}

#[test]
fn other_log_families_are_quarantined_not_ingested() {
    let gcp = std::fs::read(shared("iota-testdata/testdata/rulesets/gcp_auditlog/samples.jsonl"))
        .unwrap();
    let (_, report) = decode_bytes(&gcp);
    assert_eq!(report.records, 0);
    assert!(!report.quarantined.is_empty());
    assert!(
        report.quarantined[0].reason.starts_with("not a CloudTrail record: missing"),
        "{}",
        report.quarantined[0].reason
    );
    let envelope =
        json!({"detail-type": "EC2 Instance State-change Notification", "detail": {}}).to_string();
    let (_, report) = decode_bytes(envelope.as_bytes());
    assert!(report.quarantined[0].reason.contains("does not carry a CloudTrail record"));
}

#[test]
fn digest_and_insights_are_skipped_with_a_reason() {
    let digest = json!({"awsAccountId": "123456789012", "digestStartTime": "2025-03-09T16:00:00Z", "logFiles": []});
    let (batches, report) = decode_bytes(digest.to_string().as_bytes());
    assert_eq!(report.skipped, Some(SkipReason::Digest));
    assert!(batches.is_empty());
    let mut insight = record("i");
    insight["eventType"] = json!("AwsCloudTrailInsight");
    let (batches, report) = decode_bytes(json!({"Records": [insight]}).to_string().as_bytes());
    assert_eq!(report.skipped, Some(SkipReason::Insights));
    assert_eq!(report.insight_records, 1);
    assert!(batches.is_empty());
}

#[test]
fn odd_but_valid_values_are_kept_as_data() {
    let mut odd = record("odd");
    odd["eventTime"] = json!("2025-03-09 16:39:48.123456789");
    odd["awsRegion"] = json!("xx-nowhere-9");
    let (batches, report) = decode_bytes(odd.to_string().as_bytes());
    assert_eq!(report.records, 1);
    let times =
        batches[0].column_by_name("event_ts").unwrap().as_primitive::<TimestampMillisecondType>();
    assert_eq!(times.value(0), 1_741_538_388_123);
    assert_eq!(column_values(&batches, "awsregion"), [Some("xx-nowhere-9".into())]);
    assert_eq!(
        column_values(&batches, "eventtime"),
        [Some("2025-03-09 16:39:48.123456789".into())]
    );
    assert_eq!(column_values(&batches, "recipientaccountid"), [Some("012345678901".into())]);
    assert_eq!(column_values(&batches, "readonly"), [Some("true".into())]);
}

#[test]
fn unknown_members_go_to_unmapped() {
    let mut future = record("f");
    future["someFutureField"] = json!({"a": 1});
    future["userIdentity"]["identityStoreUserId"] = json!("u-1");
    future["resources"] = json!([{"ARN": "arn:x", "type": "AWS::S3::Bucket", "extra": true}]);
    let (batches, _) = decode_bytes(future.to_string().as_bytes());
    let unmapped: Value =
        serde_json::from_str(column_values(&batches, "unmapped")[0].as_deref().unwrap()).unwrap();
    assert_eq!(unmapped["someFutureField"], json!({"a": 1}));
    assert_eq!(unmapped["userIdentity"], json!({"identityStoreUserId": "u-1"}));
    assert_eq!(unmapped["resources"][0]["extra"], json!(true));
    assert_eq!(Value::Object(records(&batches).remove(0)), future);
}

/// `value` as JSON text with every object's members in reverse order.
fn reversed(value: &Value) -> String {
    match value {
        Value::Object(members) => {
            let members: Vec<String> = members
                .iter()
                .rev()
                .map(|(key, value)| format!("{}:{}", Value::String(key.clone()), reversed(value)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        other => other.to_string(),
    }
}

#[test]
fn members_land_in_their_columns_whatever_their_order() {
    // Member names are guessed from the order of the record before: a record in another
    // order, one with a member repeated, and one after it must all decode as written.
    let first = record("a");
    let mut second = record("b");
    second["eventName"] = json!("GetUser");
    let repeated = record("c").to_string();
    let repeated = format!("{},\"eventName\":\"DeleteUser\"}}", &repeated[..repeated.len() - 1]);
    let last = record("d");
    let lines = [first.to_string(), reversed(&second), repeated, last.to_string()];
    let (batches, report) = decode_bytes(lines.join("\n").as_bytes());
    assert_eq!(report.records, 4);
    assert_eq!(
        column_values(&batches, "eventname"),
        ["ListUsers", "GetUser", "ListUsers", "ListUsers"].map(|name| Some(name.to_string()))
    );
    let unmapped = column_values(&batches, "unmapped");
    assert_eq!(unmapped[2].as_deref(), Some("{\"eventName\":\"DeleteUser\"}"));
    assert_eq!([&unmapped[0], &unmapped[1], &unmapped[3]], [&None, &None, &None]);
    let decoded = records(&batches);
    assert_eq!(Value::Object(decoded[0].clone()), first);
    assert_eq!(Value::Object(decoded[1].clone()), second);
    assert_eq!(Value::Object(decoded[3].clone()), last);
}

#[test]
fn members_absent_from_some_records_are_null_there_only() {
    // Absent members are owed NULLs, paid at their next value or the batch's end: a nested
    // member seen only in the middle record, a struct NULL in one record and an object in
    // the next, and a member first NULL then repeated must land on their own rows.
    let plain = record("a");
    let mut nested = record("b");
    nested["userIdentity"]["sessionContext"] =
        json!({"sessionIssuer": {"type": "Role", "userName": "admin"}});
    nested["errorCode"] = json!("AccessDenied");
    let mut null_identity = record("c");
    null_identity["userIdentity"] = Value::Null;
    let repeated = record("d").to_string();
    let repeated = repeated.replacen("\"eventName\":\"ListUsers\"", "\"eventName\":null", 1);
    let repeated = format!("{},\"eventName\":\"GetUser\"}}", &repeated[..repeated.len() - 1]);
    let lines = [plain.to_string(), nested.to_string(), null_identity.to_string(), repeated];
    let (batches, report) = decode_bytes(lines.join("\n").as_bytes());
    assert_eq!(report.records, 4);
    let issuer = column_values(&batches, "useridentity.sessioncontext.sessionissuer.username");
    assert_eq!(issuer, [None, Some("admin".to_string()), None, None]);
    let errors = column_values(&batches, "errorcode");
    assert_eq!(errors, [None, Some("AccessDenied".to_string()), None, None]);
    assert_eq!(column_values(&batches, "eventname")[3], None);
    let unmapped = column_values(&batches, "unmapped");
    assert_eq!(unmapped[3].as_deref(), Some("{\"eventName\":\"GetUser\"}"));
    let decoded = records(&batches);
    assert_eq!(Value::Object(decoded[0].clone()), plain);
    assert_eq!(Value::Object(decoded[1].clone()), nested);
    // A NULL member reads back as absent, as in every column.
    assert_eq!(decoded[2].get("userIdentity"), None);
    assert_eq!(decoded[2].get("eventID"), Some(&json!("c")));
}

#[test]
fn misshapen_members_are_kept_not_dropped() {
    let mut odd = record("m");
    odd["userIdentity"] = json!("not an object");
    odd["tlsDetails"] = json!([1, 2]);
    let (batches, report) = decode_bytes(odd.to_string().as_bytes());
    assert_eq!(report.records, 1);
    assert_eq!(Value::Object(records(&batches).remove(0)), odd);
}

#[test]
fn bad_records_are_quarantined_and_the_rest_decoded() {
    let mut no_time = record("t");
    no_time["eventTime"] = json!("yesterday");
    let input = format!(
        "{}\n{}\nnot json at all\n{{\"eventVersion\": \"1.08\", \"eventTime\": \n{}\n",
        record("a"),
        no_time,
        record("b")
    );
    let (batches, report) = decode_bytes(input.as_bytes());
    assert_eq!(column_values(&batches, "eventid"), [Some("a".into()), Some("b".into())]);
    let reasons: Vec<&str> = report.quarantined.iter().map(|q| q.reason.as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("'yesterday'"));
    assert!(reasons[1].contains("unexpected byte 'n'"));
    assert!(
        reasons[2].contains("truncated") || reasons[2].contains("invalid JSON"),
        "{}",
        reasons[2]
    );
    assert_eq!(report.quarantined[0].record_index, Some(1));
    assert!(report.quarantined[1].raw.starts_with("not json"));
    let third_line_offset = (record("a").to_string().len() + no_time.to_string().len() + 2) as u64;
    assert_eq!(report.quarantined[1].byte_offset, third_line_offset);
}

#[test]
fn truncated_files_keep_what_came_before() {
    let file = json!({"Records": [record("a"), record("b")]}).to_string();
    let cut = &file[..file.len() - 40];
    let (batches, report) = decode_bytes(cut.as_bytes());
    assert_eq!(column_values(&batches, "eventid"), [Some("a".into())]);
    assert_eq!(report.quarantined.len(), 1);
    assert!(report.quarantined[0].reason.starts_with("truncated"));
    assert!(
        report.quarantined[0].raw.contains("\"eventID\"")
            || report.quarantined[0].raw.starts_with('{')
    );
}

#[test]
fn broken_gzip_is_a_read_error_not_a_crash() {
    let good = gzip(json!({"Records": [record("a")]}).to_string().as_bytes());
    let mut broken = good[..good.len() / 2].to_vec();
    broken.extend_from_slice(b"garbage");
    let (_, report) = decode_bytes(&broken);
    assert!(report.read_error.is_some(), "{report:?}");
    let (_, report) = decode_bytes(&[0x1f, 0x8b, 0x00, 0x01]);
    assert!(report.read_error.is_some());
}

#[test]
fn oversized_records_are_quarantined() {
    let mut big = record("big");
    big["requestParameters"] = json!({"blob": "x".repeat(5000)});
    let input = json!({"Records": [big, record("small")]}).to_string();
    let config = DecodeConfig { max_record_bytes: 2000, ..DecodeConfig::default() };
    let (batches, report) = decode_with(input.as_bytes(), &config);
    assert_eq!(column_values(&batches, "eventid"), [Some("small".into())]);
    assert!(report.quarantined[0].reason.contains("exceeds the 2000 byte limit"));
    assert_eq!(report.quarantined[0].record_index, Some(0));
}

/// Every CloudTrail record in TrailAlerts' test files survives decoding: the lake row turns
/// back into the same JSON (members that were JSON null come back absent).
#[test]
fn trailalerts_records_round_trip_losslessly() {
    fn without_nulls(value: Value) -> Value {
        match value {
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, without_nulls(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
            other => other,
        }
    }
    let dir = shared("trailalerts/rules/sigma_rules");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with("_tests.json") {
            continue;
        }
        let tests: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for group in ["should_match", "should_not_match"] {
            for original in tests[group].as_array().unwrap() {
                let (batches, report) = decode_bytes(original.to_string().as_bytes());
                assert_eq!(report.records, 1, "{}: {:?}", path.display(), report.quarantined);
                let back = Value::Object(records(&batches).remove(0));
                assert_eq!(back, without_nulls(original.clone()), "{}", path.display());
                assert_renderings_agree(&batches[0], &path.display().to_string());
                checked += 1;
            }
        }
    }
    assert!(checked >= 100, "only {checked} records checked");
}

/// The text rendering, the context and the event id read from the columns agree with the
/// record rendered as a JSON tree, row for row.
fn assert_renderings_agree(batch: &RecordBatch, what: &str) {
    let renderer = RecordRenderer::new(batch);
    for row in 0..batch.num_rows() {
        let record = renderer.record(row);
        let text: Value = serde_json::from_str(&renderer.json_text(row)).unwrap();
        assert_eq!(text, Value::Object(record.clone()), "{what}, row {row}");
        let (event_id, context) = identity_of(&renderer, row);
        assert_eq!(context, EventContext::of(&record), "{what}");
        assert_eq!(event_id, event_id_of(&renderer, row), "{what}");
        match record.get("eventID").and_then(Value::as_str) {
            Some(id) => assert_eq!(event_id, id, "{what}"),
            None => assert!(event_id.starts_with("content-"), "{what}"),
        }
    }
}

#[test]
fn text_rendering_escapes_and_keeps_nested_values() {
    let mut tricky = record("e-1");
    tricky["userAgent"] = json!("quote \" backslash \\ newline \n tab \t bell \u{7} é ✓");
    tricky["requestParameters"] =
        json!({"policy": "{\"a\": [1, 2.5, null]}", "n": 3, "list": [true, {"x": "y"}]});
    tricky["resources"] = json!([{"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket"}]);
    tricky["readOnly"] = json!(false);
    let mut unmapped = record("e-2");
    unmapped["brandNewMember"] = json!({"deep": [1, 2]});
    unmapped["userIdentity"]["brandNewIdentityMember"] = json!("x");
    let mut extra_only = record("e-4");
    extra_only["managementEvent"] = json!(true);
    extra_only["sessionCredentialFromConsole"] = json!(null);
    extra_only["annotation"] = json!("userIdentity \\ eventID");
    let mut anonymous = record("e-3");
    anonymous.as_object_mut().unwrap().remove("eventID");
    let body = json!({"Records": [tricky, unmapped, anonymous, extra_only]}).to_string();
    let (batches, report) = decode_bytes(body.as_bytes());
    assert_eq!(report.records, 4, "{:?}", report.quarantined);
    let renderer = RecordRenderer::new(&batches[0]);
    assert!(!renderer.unmapped_has_any(0, &["userIdentity", "brandNewMember"]));
    assert!(renderer.unmapped_has_any(1, &["userIdentity"]));
    assert!(renderer.unmapped_has_any(1, &["brandNewMember"]));
    // Names that are only in a value are not members.
    assert!(!renderer.unmapped_has_any(3, &["userIdentity", "eventID"]));
    assert!(renderer.unmapped_has_any(3, &["annotation"]));
    assert!(!renderer.unmapped_has_any(2, &["annotation"]), "no unmapped members at all");
    assert!(event_id_of(&renderer, 2).starts_with("content-"));
    assert_renderings_agree(&batches[0], "tricky records");
}
