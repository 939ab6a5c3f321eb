//! The SNS sink against moto's server: alerts published through the SDK reach a subscribed
//! queue with their severity and rule id as message attributes; a missing topic is a
//! permanent refusal, dead-lettered.

mod common;

use std::sync::Arc;

use lake::LakeLocation;
use pipeline::alert::{Alert, Mitre};
use pipeline::detect::Severity;
use pipeline::internal_events::Counters;
use pipeline::sinks::AlertSink;
use pipeline::sinks::durable::DurableSink;
use pipeline::sinks::routing::Route;
use pipeline::sinks::sns::SnsDeliverer;
use serde_json::Value;

fn alert(id: &str, severity: Severity) -> Alert {
    Alert {
        alert_id: id.to_string(),
        rule_id: format!("aws.test.{id}"),
        title: "Test alert".into(),
        severity,
        mitre: Mitre { tactics: vec!["TA0005".into()], techniques: vec![] },
        dedup_key: None,
        event_ids: vec![format!("event-{id}")],
        first_event_time: "2025-03-09T16:39:48.000Z".into(),
        last_event_time: "2025-03-09T16:39:48.000Z".into(),
        count: 1,
        actor: Some("arn:aws:iam::012345678901:user/mallory".into()),
        account: Some("012345678901".into()),
        region: Some("eu-west-1".into()),
        source_ip: None,
        runbook: None,
        fields: None,
        events: vec![],
        enrichment: None,
    }
}

#[tokio::test]
#[ignore = "needs the AWS emulator: run by scripts/test-all.sh"]
async fn alerts_are_published_with_severity_and_rule_attributes() {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = pipeline::sources::sqs::client().await;
    let topic = sns.create_topic().name("trailhound-alerts").send().await.unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_string();
    let queue = sqs.create_queue().queue_name("alerts-from-sns").send().await.unwrap();
    let queue_url = queue.queue_url().unwrap().to_string();
    let queue_arn = common::queue_arn(&sqs, &queue_url).await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let location = LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
    let counters = Arc::new(Counters::default());
    let mut sink = DurableSink::new(
        "sns",
        Box::new(SnsDeliverer::new(&topic_arn).await),
        Route { min_severity: Some(Severity::Medium), ..Route::default() },
        location.clone(),
        counters.clone(),
    );
    for (id, severity) in
        [("a1", Severity::High), ("a2", Severity::Low), ("a3", Severity::Critical)]
    {
        sink.send(&alert(id, severity)).await.unwrap();
    }
    sink.flush().await.unwrap();

    let mut published: Vec<(String, String, String)> = common::drain_bodies(&sqs, &queue_url)
        .await
        .iter()
        .map(|body| {
            let envelope: Value = serde_json::from_str(body).unwrap();
            let alert: Alert = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
            let attributes = &envelope["MessageAttributes"];
            assert_eq!(attributes["rule_id"]["Value"], alert.rule_id.as_str());
            assert_eq!(
                envelope["Subject"],
                format!("[{}] Test alert", alert.severity.to_string().to_uppercase())
            );
            (
                alert.alert_id.clone(),
                attributes["severity"]["Value"].as_str().unwrap().to_string(),
                alert.rule_id,
            )
        })
        .collect();
    published.sort();
    assert_eq!(
        published,
        [
            ("a1".to_string(), "high".to_string(), "aws.test.a1".to_string()),
            ("a3".to_string(), "critical".to_string(), "aws.test.a3".to_string()),
        ],
        "the low alert is routed away"
    );
    assert_eq!(counters.sink_sent.lock().unwrap()["sns"], 2);

    // A topic that does not exist refuses for good: dead-lettered, not retried forever.
    let missing = topic_arn.replace("trailhound-alerts", "no-such-topic");
    let mut sink = DurableSink::new(
        "sns-missing",
        Box::new(SnsDeliverer::new(&missing).await),
        Route::default(),
        location,
        counters.clone(),
    );
    sink.send(&alert("a4", Severity::High)).await.unwrap();
    sink.flush().await.unwrap();
    let letter: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("_dead_letter/sns-missing/a4.json")).unwrap(),
    )
    .unwrap();
    assert!(letter["reason"].as_str().unwrap().contains("NotFound"), "{letter}");
}
