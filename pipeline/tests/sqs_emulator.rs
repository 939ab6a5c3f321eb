//! The queue consumer against a real AWS-protocol emulator (moto's server, started by
//! `scripts/test-all.sh`): notifications of every shape lead to their objects in the lake
//! exactly once, duplicates add nothing, and a poison message ends in the dead-letter queue.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use lake::LakeLocation;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use pipeline::detect::load_pack;
use pipeline::exceptions::ExceptionSet;
use pipeline::internal_events::Counters;
use pipeline::process::{DEFAULT_LATENESS, Processor};
use pipeline::run::{RunConfig, run_files};
use pipeline::sinks::jsonl::JsonLinesSink;
use pipeline::sources::sqs::{self, SqsConfig};
use serde_json::json;

fn sample_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/cloudtrail/AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/09");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(root).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    files.truncate(4);
    files
}

async fn pack_processor() -> Processor {
    let pack = load_pack(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql-rules")).unwrap();
    Processor::for_pack(pack, ExceptionSet::empty(), DEFAULT_LATENESS).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the AWS emulator: run by scripts/test-all.sh"]
async fn notifications_of_every_shape_land_in_the_lake_once() {
    let id = std::process::id();
    let bucket = format!("trail-sqs-{id}");
    common::create_bucket(&bucket);
    let client = sqs::client().await;
    let (queue_url, queue_arn, dlq_url) =
        common::queue_with_dlq(&client, &format!("trail-{id}"), 2, 1).await;

    // The emulator itself notifies: account 111… straight to the queue; account 222…
    // through an SNS topic delivering the JSON envelope, account 444… through one delivering
    // raw messages.
    let topic = |name: &str, raw: bool| {
        let arn = common::xml_value(
            &common::sns(&[("Action", "CreateTopic"), ("Name", &format!("{name}-{id}"))]),
            "TopicArn",
        );
        let raw = if raw { "true" } else { "false" };
        common::sns(&[
            ("Action", "Subscribe"),
            ("TopicArn", &arn),
            ("Protocol", "sqs"),
            ("Endpoint", &queue_arn),
            ("Attributes.entry.1.key", "RawMessageDelivery"),
            ("Attributes.entry.1.value", raw),
        ]);
        arn
    };
    let enveloped = topic("enveloped", false);
    let raw = topic("raw", true);
    common::put_bucket_notification(
        &bucket,
        &[
            common::notification("Queue", &queue_arn, "AWSLogs/111111111111/"),
            common::notification("Topic", &enveloped, "AWSLogs/222222222222/"),
            common::notification("Topic", &raw, "AWSLogs/444444444444/"),
        ]
        .concat(),
    );

    let store = LakeLocation::open(&format!("s3://{bucket}")).unwrap();
    let files = sample_files();
    let mut keys = Vec::new();
    let accounts = ["111111111111", "222222222222", "444444444444", "333333333333"];
    for (file, account) in files.iter().zip(accounts) {
        // A "+" in the name checks key decoding ("%2B" in notifications, "+" meaning space).
        let key = format!(
            "AWSLogs/{account}/CloudTrail/us-east-1/2025/03/09/a+b {}",
            file.file_name().unwrap().to_string_lossy()
        );
        store
            .store()
            .put(&ObjectPath::from(key.as_str()), PutPayload::from(std::fs::read(file).unwrap()))
            .await
            .unwrap();
        keys.push(key);
    }

    // Account 333… has no bucket notification: EventBridge "Object Created" and CloudTrail's
    // own SNS file notification announce it, the latter twice. Then a poison message.
    let eventbridge = json!({"version": "0", "id": "e", "detail-type": "Object Created", "source": "aws.s3",
        "account": "1", "time": "2025-03-09T17:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": keys[3], "size": 1, "etag": "x"}}}).to_string();
    let cloudtrail_sns =
        json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:ct",
        "Message": json!({"s3Bucket": bucket, "s3ObjectKey": [keys[3]]}).to_string(),
        "Timestamp": "2025-03-09T17:00:00.000Z"})
        .to_string();
    for body in
        [eventbridge, cloudtrail_sns.clone(), cloudtrail_sns, "this is not a notification".into()]
    {
        client.send_message().queue_url(&queue_url).message_body(body).send().await.unwrap();
    }

    let lake_url = format!("s3://{bucket}/lake");
    let location = LakeLocation::open(&lake_url).unwrap();
    let run = RunConfig::for_inputs(Vec::new());
    let config = SqsConfig {
        queue_url: queue_url.clone(),
        wait_seconds: 1,
        max_empty_receives: Some(3),
        visibility_timeout: 2,
        takeover_seconds: 4,
    };
    let mut processor = pack_processor().await;
    let mut sink = JsonLinesSink::writer("test", Box::new(std::io::sink()));
    let counters = Counters::default();
    let stats = sqs::consume(
        &client,
        &config,
        &run,
        &location,
        &mut processor,
        &mut sink,
        &counters,
        std::future::pending(),
    )
    .await
    .unwrap();
    // Direct, SNS enveloped, SNS raw, EventBridge, CloudTrail SNS twice, and the test events
    // the emulator sent when the notifications were configured.
    assert!(stats.deleted >= 6, "{stats:?}");
    assert_eq!(stats.failed, 1, "only the poison message fails: {stats:?}");
    // Each object is read once; the two repeats are recognised and skipped.
    assert_eq!(counters.sources_decoded.load(std::sync::atomic::Ordering::Relaxed), 4);
    assert_eq!(counters.sources_already_applied.load(std::sync::atomic::Ordering::Relaxed), 2);

    // The same four files read locally give the expected row count.
    let local_dir = tempfile::tempdir().unwrap();
    let local_inputs = tempfile::tempdir().unwrap();
    for file in &files {
        std::fs::copy(file, local_inputs.path().join(file.file_name().unwrap())).unwrap();
    }
    let local_run = RunConfig { inputs: vec![local_inputs.path().display().to_string()], ..run };
    let mut local_processor = pack_processor().await;
    let local = run_files(
        &local_run,
        &LakeLocation::open(local_dir.path().to_str().unwrap()).unwrap(),
        &mut local_processor,
        &mut JsonLinesSink::writer("test", Box::new(std::io::sink())),
        &Counters::default(),
    )
    .await
    .unwrap();
    let (rows, distinct) = common::lake_counts(&location).await;
    assert_eq!(rows as u64, local.events, "every event once, duplicates added nothing");
    assert_eq!(rows, distinct);

    // The poison message was never deleted: after its receive count it is in the DLQ.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ =
        client.receive_message().queue_url(&queue_url).wait_time_seconds(1).send().await.unwrap();
    assert_eq!(common::drain_bodies(&client, &dlq_url).await, ["this is not a notification"]);
}

/// A new queue named after `name` and this process, with a visibility timeout of `seconds`.
async fn queue(client: &aws_sdk_sqs::Client, name: &str, seconds: u32) -> String {
    let queue = client
        .create_queue()
        .queue_name(format!("{name}-{}", std::process::id()))
        .attributes(QueueAttributeName::VisibilityTimeout, seconds.to_string())
        .send()
        .await
        .unwrap();
    queue.queue_url().unwrap().to_string()
}

/// While its work runs, a received message stays invisible past its visibility timeout; once
/// the heartbeat stops, it comes back.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the AWS emulator: run by scripts/test-all.sh"]
async fn the_heartbeat_keeps_messages_invisible() {
    let client = sqs::client().await;
    let url = queue(&client, "heartbeat", 2).await;
    client.send_message().queue_url(&url).message_body("work").send().await.unwrap();
    let received = client.receive_message().queue_url(&url).send().await.unwrap();
    let receipt = received.messages()[0].receipt_handle().unwrap().to_string();
    let heartbeat = sqs::spawn_heartbeat(client.clone(), url.clone(), vec![receipt], 2);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let during = client.receive_message().queue_url(&url).send().await.unwrap();
    assert!(during.messages().is_empty(), "still invisible 5 s into a 2 s timeout");
    heartbeat.abort();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = client.receive_message().queue_url(&url).wait_time_seconds(2).send().await.unwrap();
    assert_eq!(after.messages().len(), 1, "visible again once the heartbeat stopped");
}

/// A stop while a long poll is under way does not drop the receive: the message it brings in
/// is made visible again at once, unhandled, instead of staying invisible for the queue's
/// visibility timeout.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the AWS emulator: run by scripts/test-all.sh"]
async fn a_stop_during_a_receive_returns_its_messages_to_the_queue() {
    let client = sqs::client().await;
    let url = queue(&client, "stop", 60).await;
    let lake = tempfile::tempdir().unwrap();
    let location = LakeLocation::open(lake.path().to_str().unwrap()).unwrap();
    let mut processor = pack_processor().await;
    let config = SqsConfig {
        queue_url: url.clone(),
        wait_seconds: 10,
        max_empty_receives: None,
        visibility_timeout: 60,
        takeover_seconds: 60,
    };
    // The stop comes 1.5 s into a 10 s long poll and the message a second later, so the
    // receive under way at the stop is what brings it in.
    let stop = tokio::time::sleep(Duration::from_millis(1500));
    let sender = client.clone();
    let sender_url = url.clone();
    let send = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        sender.send_message().queue_url(&sender_url).message_body("work").send().await.unwrap();
    });
    let counters = Counters::default();
    let stats = sqs::consume(
        &client,
        &config,
        &RunConfig::for_inputs(Vec::new()),
        &location,
        &mut processor,
        &mut JsonLinesSink::writer("test", Box::new(std::io::sink())),
        &counters,
        stop,
    )
    .await
    .unwrap();
    send.await.unwrap();
    assert_eq!((stats.received, stats.released), (0, 1), "{stats:?}");
    assert_eq!(counters.messages_released.load(std::sync::atomic::Ordering::Relaxed), 1);
    let again = client.receive_message().queue_url(&url).send().await.unwrap();
    let bodies: Vec<&str> = again.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, ["work"], "visible again at once, not after 60 s");
}
