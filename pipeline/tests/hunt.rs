//! Hunting over a lake built from generated CloudTrail files: every query's answer is
//! computed independently from the generated events, and compared exactly.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use lake::LakeLocation;
use lake::table::TimeRange;
use pipeline::alert::Alert;
use pipeline::detect::load_pack;
use pipeline::exceptions::ExceptionSet;
use pipeline::hunt::{HuntSummary, OutputFormat, hunt};
use pipeline::internal_events::Counters;
use pipeline::process::Processor;
use pipeline::run::{RunConfig, run_files};
use pipeline::sinks::Fanout;
use pipeline::sinks::jsonl::JsonLinesSink;
use pipeline::sinks::lake_alerts::LakeAlertsSink;
use serde_json::{Value, json};

/// 2025-03-09T00:00:00Z
const START_MS: i64 = 1_741_478_400_000;
const NAMES: [(&str, &str); 5] = [
    ("GetObject", "s3.amazonaws.com"),
    ("AssumeRole", "sts.amazonaws.com"),
    ("PutObject", "s3.amazonaws.com"),
    ("Decrypt", "kms.amazonaws.com"),
    ("ListBuckets", "s3.amazonaws.com"),
];
const USERS: [&str; 3] = [
    "arn:aws:iam::012345678901:user/alice",
    "arn:aws:iam::012345678901:user/bob",
    "arn:aws:sts::012345678901:assumed-role/deploy/ci",
];

fn time_of(index: i64) -> i64 {
    START_MS + index * 7 * 60_000
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// 300 events every 7 minutes from 2025-03-09T00:00Z (35 hours, two dates), plus two
/// StopLogging calls that the rule pack alerts on.
fn events() -> Vec<Value> {
    let mut events: Vec<Value> = (0..300)
        .map(|index| {
            let (name, source) = NAMES[index as usize % NAMES.len()];
            let request = if source == "s3.amazonaws.com" {
                json!({ "bucketName": format!("bucket-{}", index % 4) })
            } else {
                json!({ "roleSessionName": "s" })
            };
            json!({
                "eventVersion": "1.09",
                "userIdentity": { "type": "IAMUser", "arn": USERS[index as usize % USERS.len()], "accountId": "012345678901" },
                "eventTime": rfc3339(time_of(index)),
                "eventSource": source,
                "eventName": name,
                "awsRegion": "eu-west-1",
                "sourceIPAddress": format!("198.51.100.{}", index % 7),
                "userAgent": "aws-cli/2",
                "requestParameters": request,
                "eventID": format!("00000000-0000-0000-0000-{index:012}"),
                "eventType": "AwsApiCall",
                "recipientAccountId": "012345678901",
            })
        })
        .collect();
    for (index, minute) in [(1_000, 30), (1_001, 31)] {
        events.push(json!({
            "eventVersion": "1.09",
            "userIdentity": { "type": "IAMUser", "arn": USERS[0], "accountId": "012345678901" },
            "eventTime": rfc3339(START_MS + minute * 60_000),
            "eventSource": "cloudtrail.amazonaws.com",
            "eventName": "StopLogging",
            "awsRegion": "eu-west-1",
            "sourceIPAddress": "203.0.113.9",
            "requestParameters": { "name": format!("trail-{index}") },
            "eventID": format!("00000000-0000-0000-0000-{index:012}"),
            "eventType": "AwsApiCall",
            "recipientAccountId": "012345678901",
        }));
    }
    events
}

/// Writes the events as six gzip CloudTrail files.
fn write_files(dir: &Path, events: &[Value]) {
    for (index, chunk) in events.chunks(events.len().div_ceil(6)).enumerate() {
        let path = dir.join(format!("012345678901_CloudTrail_eu-west-1_{index}.json.gz"));
        let mut gzip = flate2::write::GzEncoder::new(
            std::fs::File::create(path).unwrap(),
            flate2::Compression::default(),
        );
        gzip.write_all(json!({ "Records": chunk }).to_string().as_bytes()).unwrap();
        gzip.finish().unwrap();
    }
}

struct Lake {
    _dir: tempfile::TempDir,
    location: LakeLocation,
    events: Vec<Value>,
    alerts: Vec<Alert>,
}

async fn build_lake() -> Lake {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    let events = events();
    write_files(&input, &events);
    let location = LakeLocation::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let pack = load_pack(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql-rules")).unwrap();
    let mut processor =
        Processor::for_pack(pack, ExceptionSet::empty(), std::time::Duration::ZERO).await.unwrap();
    let alerts_file = dir.path().join("alerts.jsonl");
    let mut sink = Fanout::new(vec![
        Box::new(JsonLinesSink::file(&alerts_file).unwrap()),
        Box::new(LakeAlertsSink::new(location.clone())),
    ]);
    let config = RunConfig::for_inputs(vec![input.display().to_string()]);
    run_files(&config, &location, &mut processor, &mut sink, &Counters::default()).await.unwrap();
    let alerts = std::fs::read_to_string(&alerts_file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    Lake { _dir: dir, location, events, alerts }
}

async fn csv(lake: &Lake, range: TimeRange, sql: &str) -> (Vec<String>, HuntSummary) {
    let mut out = Vec::new();
    let summary = hunt(&lake.location, range, sql, OutputFormat::Csv, &mut out, false)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    let lines = String::from_utf8(out).unwrap().lines().map(str::to_string).collect();
    (lines, summary)
}

fn field<'a>(event: &'a Value, path: &str) -> &'a str {
    path.split('.').fold(event, |value, key| &value[key]).as_str().unwrap_or("")
}

#[tokio::test]
async fn hunting_queries_answer_exactly() {
    let lake = build_lake().await;

    // Counts per event name.
    let (lines, all) = csv(
        &lake,
        TimeRange::default(),
        "SELECT eventname, count(*) AS n FROM cloudtrail GROUP BY eventname ORDER BY eventname",
    )
    .await;
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for event in &lake.events {
        *expected.entry(field(event, "eventName")).or_default() += 1;
    }
    let mut wanted = vec!["eventname,n".to_string()];
    wanted.extend(expected.iter().map(|(name, count)| format!("{name},{count}")));
    assert_eq!(lines, wanted);

    // An Athena query, unchanged: JSON path into requestParameters and a struct member.
    let (lines, _) = csv(
        &lake,
        TimeRange::default(),
        "SELECT json_extract_scalar(requestparameters, '$.bucketName') AS bucket, \
         useridentity.arn AS arn, count(*) AS n FROM cloudtrail \
         WHERE eventsource = 's3.amazonaws.com' GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await;
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    for event in lake.events.iter().filter(|e| field(e, "eventSource") == "s3.amazonaws.com") {
        let key = (
            field(event, "requestParameters.bucketName").to_string(),
            field(event, "userIdentity.arn").to_string(),
        );
        *expected.entry(key).or_default() += 1;
    }
    let mut wanted = vec!["bucket,arn,n".to_string()];
    wanted.extend(expected.iter().map(|((bucket, arn), n)| format!("{bucket},{arn},{n}")));
    assert_eq!(lines, wanted);

    // A time range: 05:30 (inclusive) to 13:00 (exclusive) on the first day.
    let range = TimeRange {
        from: Some(START_MS + 5 * 3_600_000 + 30 * 60_000),
        to: Some(START_MS + 13 * 3_600_000),
    };
    let (lines, bounded) =
        csv(&lake, range, "SELECT count(*) AS n, min(eventtime) AS first FROM cloudtrail").await;
    let in_range: Vec<&Value> = lake
        .events
        .iter()
        .filter(|event| {
            let millis = chrono::DateTime::parse_from_rfc3339(field(event, "eventTime"))
                .unwrap()
                .timestamp_millis();
            range.from.unwrap() <= millis && millis < range.to.unwrap()
        })
        .collect();
    let first = in_range.iter().map(|event| field(event, "eventTime")).min().unwrap();
    assert_eq!(lines, ["n,first".to_string(), format!("{},{first}", in_range.len())]);
    // Partition pruning: only the hours 05 to 12 of the first day are listed and read.
    assert!(bounded.files_in_range < all.files_in_range, "{bounded:?} vs {all:?}");
    assert!(bounded.bytes_read < all.bytes_read / 2, "{bounded:?} vs {all:?}");

    // The alerts table holds exactly the alerts the run raised.
    assert!(!lake.alerts.is_empty(), "StopLogging must alert");
    let (lines, _) = csv(
        &lake,
        TimeRange::default(),
        "SELECT alert_id, rule_id, dt FROM alerts ORDER BY alert_id",
    )
    .await;
    let mut wanted: Vec<String> = lake
        .alerts
        .iter()
        .map(|alert| {
            format!("{},{},{}", alert.alert_id, alert.rule_id, &alert.first_event_time[..10])
        })
        .collect();
    wanted.sort();
    wanted.insert(0, "alert_id,rule_id,dt".into());
    assert_eq!(lines, wanted);

    // Alerts joined back to their events.
    let (lines, _) = csv(
        &lake,
        TimeRange::default(),
        "SELECT c.eventname, count(*) AS n FROM alerts a \
         JOIN cloudtrail c ON array_has(a.event_ids, c.eventid) GROUP BY c.eventname",
    )
    .await;
    let matched: usize = lake.alerts.iter().map(|alert| alert.event_ids.len()).sum();
    assert_eq!(lines, ["eventname,n".to_string(), format!("StopLogging,{matched}")]);
}

#[tokio::test]
async fn json_and_table_formats_and_clear_errors() {
    let lake = build_lake().await;
    let mut out = Vec::new();
    let sql = "SELECT eventid, useridentity, resources FROM cloudtrail ORDER BY event_ts LIMIT 3";
    hunt(&lake.location, TimeRange::default(), sql, OutputFormat::Json, &mut out, false)
        .await
        .unwrap();
    let rows: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    for (row, event) in rows.iter().zip(&lake.events) {
        assert_eq!(row["eventid"], event["eventID"]);
        assert_eq!(row["useridentity"]["arn"], event["userIdentity"]["arn"]);
        assert_eq!(row["resources"], Value::Null, "explicit nulls keep every key");
    }

    let mut out = Vec::new();
    hunt(
        &lake.location,
        TimeRange::default(),
        "SELECT count(*) AS n FROM cloudtrail",
        OutputFormat::Table,
        &mut out,
        false,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("| n   |") && text.contains(&format!("| {} |", lake.events.len())),
        "{text}"
    );

    // Trino's lambdas: its documentation's any_match examples, and one over a column.
    let mut out = Vec::new();
    let sql = "SELECT any_match(ARRAY[5, -1, 6], x -> x > 0) AS a, \
               any_match(ARRAY[-5, -1], x -> x > 0) AS b, \
               count(*) FILTER (WHERE any_match(ARRAY[eventname], n -> n = 'StopLogging')) AS c \
               FROM cloudtrail";
    hunt(&lake.location, TimeRange::default(), sql, OutputFormat::Csv, &mut out, false)
        .await
        .unwrap();
    let stops = lake.events.iter().filter(|e| e["eventName"] == "StopLogging").count();
    assert_eq!(String::from_utf8(out).unwrap(), format!("a,b,c\ntrue,false,{stops}\n"));

    for (sql, message) in [
        ("SELEC 1", "query: syntax error: Expected: an SQL statement, found: SELEC"),
        ("DROP TABLE cloudtrail", "query: only queries run here"),
        ("INSERT INTO cloudtrail SELECT * FROM cloudtrail", "query: only queries run here"),
        ("SELECT nosuch FROM cloudtrail", "query: No field named nosuch"),
        (
            "SELECT * FROM cloudtrail_logs",
            "query: table 'datafusion.public.cloudtrail_logs' not found",
        ),
    ] {
        let error = hunt(
            &lake.location,
            TimeRange::default(),
            sql,
            OutputFormat::Csv,
            &mut Vec::new(),
            false,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(error.starts_with(message), "{sql}: {error}");
    }
}

#[test]
fn the_command_line_reports_bad_sql_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["hunt", "--lake", dir.path().to_str().unwrap(), "--format", "csv"])
        .arg("SELECT count(*) AS n FROM cloudtrail WHERE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("trailhound: query: syntax error"), "{stderr}");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args([
            "hunt",
            "--lake",
            dir.path().to_str().unwrap(),
            "--format",
            "csv",
            "--progress",
            "always",
        ])
        .args(["--from", "2025-03-09", "--to", "2025-03-10"])
        .arg("SELECT count(*) AS n FROM cloudtrail")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "n\n0\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("trailhound: 1 rows in"), "{stderr}");
}
