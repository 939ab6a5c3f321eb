//! Small sources are decoded and processed together in one batch, yet what belongs to a
//! source stays its own: each source's suppressed matches are kept under that source, its rows
//! carry its name, and a source skipped, failed or seen twice in the group adds nothing.

use std::collections::BTreeSet;
use std::path::Path;

mod common;

use common::readback::csv;
use common::rules::list_users_processor;
use lake::LakeLocation;
use pipeline::exceptions::ExceptionSet;
use pipeline::internal_events::Counters;
use pipeline::process::SuppressedMatch;
use pipeline::run::{RunConfig, SUPPRESSED_DIR, run_files};
use pipeline::sinks::jsonl::JsonLinesSink;

const EXCEPTIONS: &str = r#"
[[exception]]
rules = ["test.list_users"]
actor = ["arn:aws:iam::012345678901:user/bot"]
reason = "the inventory bot lists users hourly"
owner = "platform"
"#;

fn record(event_id: &str, user: &str) -> String {
    format!(
        r#"{{"eventTime":"2025-03-09T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","eventID":"{event_id}","awsRegion":"us-east-1","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::012345678901:user/{user}"}}}}"#
    )
}

#[tokio::test]
async fn suppressed_matches_stay_with_their_source() {
    let input = tempfile::tempdir().unwrap();
    let sources = [
        vec![("a1", "alice"), ("a2", "bot"), ("a3", "bot")],
        vec![("b1", "alice"), ("b2", "carol")],
        vec![("c1", "bot"), ("c2", "alice")],
    ];
    for (position, records) in sources.iter().enumerate() {
        let body: Vec<String> = records.iter().map(|(id, user)| record(id, user)).collect();
        let text = format!(r#"{{"Records":[{}]}}"#, body.join(","));
        std::fs::write(input.path().join(format!("{position}.json")), text).unwrap();
    }
    let lake_dir = tempfile::tempdir().unwrap();
    let location = LakeLocation::open(lake_dir.path().to_str().unwrap()).unwrap();
    let exceptions =
        ExceptionSet::from_toml(Path::new("exceptions.toml"), EXCEPTIONS).await.unwrap();
    let mut processor = list_users_processor(exceptions).await;
    let mut sink = JsonLinesSink::writer("test", Box::new(std::io::sink()));
    let counters = Counters::default();
    let config = RunConfig::for_inputs(vec![input.path().display().to_string()]);
    let summary =
        run_files(&config, &location, &mut processor, &mut sink, &counters).await.unwrap();

    assert_eq!((summary.events, summary.lake.rows), (7, 7), "{summary:?}");
    assert_eq!((summary.alerts, summary.suppressed), (4, 3), "{summary:?}");
    let kept: BTreeSet<Vec<String>> = std::fs::read_dir(lake_dir.path().join(SUPPRESSED_DIR))
        .unwrap()
        .map(|entry| {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let mut ids: Vec<String> = text
                .lines()
                .map(|line| serde_json::from_str::<SuppressedMatch>(line).unwrap().event_id)
                .collect();
            ids.sort();
            ids
        })
        .collect();
    let expected: BTreeSet<Vec<String>> =
        [vec!["a2".to_string(), "a3".to_string()], vec!["c1".to_string()]].into();
    assert_eq!(kept, expected);
}

fn log_file(records: &[(&str, &str)]) -> String {
    let body: Vec<String> = records.iter().map(|(id, user)| record(id, user)).collect();
    format!(r#"{{"Records":[{}]}}"#, body.join(","))
}

#[tokio::test]
async fn a_group_of_small_sources_keeps_each_source_apart() {
    let input = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = input.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    let first = log_file(&[("a1", "alice"), ("a2", "carol")]);
    write("0.json", first.as_bytes());
    // The same content under another name: one source, counted once.
    write("1.json", first.as_bytes());
    // gzip cut short: its records are lost with it, and the source is counted failed.
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gzip, log_file(&[("b1", "bob")]).as_bytes()).unwrap();
    let gzip = gzip.finish().unwrap();
    write("2.json.gz", &gzip[..gzip.len() / 2]);
    write("3.json", log_file(&[("c1", "dave")]).as_bytes());
    // Larger than a group member: decoded alone, between the groups before and after it.
    let padding = "x".repeat(1000);
    let big: Vec<(String, String)> =
        (0..400).map(|n| (format!("d{n}"), format!("user-{n}-{padding}"))).collect();
    let big: Vec<(&str, &str)> =
        big.iter().map(|(id, user)| (id.as_str(), user.as_str())).collect();
    write("4.json", log_file(&big).as_bytes());
    write("5.json", log_file(&[("e1", "erin"), ("e2", "frank")]).as_bytes());
    write("AWSLogs/012345678901/CloudTrail-Digest/us-east-1/6.json", first.as_bytes());

    let lake_dir = tempfile::tempdir().unwrap();
    let location = LakeLocation::open(lake_dir.path().to_str().unwrap()).unwrap();
    let mut processor = list_users_processor(ExceptionSet::default()).await;
    let mut sink = JsonLinesSink::writer("test", Box::new(std::io::sink()));
    let counters = Counters::default();
    let config = RunConfig::for_inputs(vec![input.path().display().to_string()]);
    let summary =
        run_files(&config, &location, &mut processor, &mut sink, &counters).await.unwrap();

    assert_eq!(summary.files, 7, "{summary:?}");
    assert_eq!((summary.events, summary.lake.rows), (405, 405), "{summary:?}");
    assert_eq!(summary.alerts, 405, "every ListUsers alerts once: {summary:?}");
    assert_eq!(
        (summary.already_ingested, summary.failed, summary.skipped),
        (1, 1, 1),
        "{summary:?}"
    );
    let root = input.path().display().to_string();
    let by_source = csv(
        &location,
        "SELECT source_uri, count(*) AS n, min(eventid) AS first FROM cloudtrail \
         GROUP BY source_uri ORDER BY source_uri",
    )
    .await;
    let expected = format!(
        "source_uri,n,first\n{root}/0.json,2,a1\n{root}/3.json,1,c1\n{root}/4.json,400,d0\n\
         {root}/5.json,2,e1\n"
    );
    assert_eq!(by_source, expected);
}
