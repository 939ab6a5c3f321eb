//! Small sources are processed together in one batch, yet what belongs to a source stays its
//! own: each source's suppressed matches are kept under that source, and its rows and alerts
//! are all there.

use std::collections::BTreeSet;
use std::path::Path;

mod common;

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
