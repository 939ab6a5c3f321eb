//! The queue consumer against a real AWS-protocol emulator (moto's server, started by
//! `scripts/test-all.sh`): notifications of every shape lead to their objects in the lake
//! exactly once, duplicates add nothing, and a poison message ends in the dead-letter queue.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use lake::{LakeLocation, LakeWriterConfig};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use pipeline::decode::DecodeConfig;
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
    files.truncate(3);
    files
}

fn s3_event(bucket: &str, encoded_key: &str) -> String {
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2025-03-09T17:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encoded_key, "size": 1, "eTag": "x", "sequencer": "0"}}}]})
    .to_string()
}

async fn pack_processor() -> Processor {
    let pack = load_pack(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql-rules")).unwrap();
    Processor::for_pack(pack, ExceptionSet::empty(), DEFAULT_LATENESS).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the AWS emulator: run by scripts/test-all.sh"]
async fn notifications_of_every_shape_land_in_the_lake_once() {
    let bucket = format!("trail-sqs-{}", std::process::id());
    common::create_bucket(&bucket);
    let store = LakeLocation::open(&format!("s3://{bucket}")).unwrap();
    let files = sample_files();
    let mut keys = Vec::new();
    for file in &files {
        let key = format!(
            "AWSLogs/123456789012/CloudTrail/us-east-1/2025/03/09/{}",
            file.file_name().unwrap().to_string_lossy()
        );
        store
            .store()
            .put(&ObjectPath::from(key.as_str()), PutPayload::from(std::fs::read(file).unwrap()))
            .await
            .unwrap();
        keys.push(key);
    }

    let client = sqs::client().await;
    let name = format!("trail-{}", std::process::id());
    let dlq = client.create_queue().queue_name(format!("{name}-dlq")).send().await.unwrap();
    let dlq_url = dlq.queue_url().unwrap().to_string();
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let queue = client
        .create_queue()
        .queue_name(&name)
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let queue_url = queue.queue_url().unwrap().to_string();

    // Direct S3 notification (keys URL-encoded, "/" as %2F like the emulator), its duplicate,
    // S3 through an SNS envelope, EventBridge "Object Created", a test event, and poison.
    let direct = s3_event(&bucket, &keys[0].replace('/', "%2F"));
    let sns =
        json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
        "Message": s3_event(&bucket, &keys[1]), "Timestamp": "2025-03-09T17:00:00.000Z"})
        .to_string();
    let eventbridge = json!({"version": "0", "id": "e", "detail-type": "Object Created", "source": "aws.s3",
        "account": "1", "time": "2025-03-09T17:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": keys[2], "size": 1, "etag": "x"}}}).to_string();
    let test_event =
        json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2025-03-09T17:00:00Z",
        "Bucket": bucket, "RequestId": "r", "HostId": "h"})
        .to_string();
    for body in [
        direct.clone(),
        direct,
        sns,
        eventbridge,
        test_event,
        "this is not a notification".to_string(),
    ] {
        client.send_message().queue_url(&queue_url).message_body(body).send().await.unwrap();
    }

    let lake_url = format!("s3://{bucket}/lake");
    let location = LakeLocation::open(&lake_url).unwrap();
    let run = RunConfig {
        inputs: Vec::new(),
        decode: DecodeConfig::default(),
        writer: LakeWriterConfig::default(),
    };
    let config = SqsConfig {
        queue_url: queue_url.clone(),
        wait_seconds: 1,
        max_empty_receives: Some(3),
        visibility_timeout: 1,
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
    assert_eq!(stats.deleted, 5, "{stats:?}");
    assert!(stats.failed >= 1, "{stats:?}");

    // The same three files read locally give the expected row count.
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
    let ctx = datafusion::prelude::SessionContext::new();
    lake::table::register_events_table(&ctx, &location).await.unwrap();
    let batches = ctx
        .sql("SELECT count(*), count(DISTINCT eventid) FROM cloudtrail")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let counts = |column: usize| {
        batches[0]
            .column(column)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .value(0)
    };
    assert_eq!(
        counts(0) as u64,
        local.events,
        "every event once, the duplicate notification added nothing"
    );
    assert_eq!(counts(0), counts(1));

    // The poison message was never deleted: after its receive count it is in the DLQ.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ =
        client.receive_message().queue_url(&queue_url).wait_time_seconds(1).send().await.unwrap();
    let dead =
        client.receive_message().queue_url(&dlq_url).wait_time_seconds(2).send().await.unwrap();
    let bodies: Vec<&str> = dead.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, ["this is not a notification"]);
}

/// While its work runs, a received message stays invisible past its visibility timeout; once
/// the heartbeat stops, it comes back.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the AWS emulator: run by scripts/test-all.sh"]
async fn the_heartbeat_keeps_messages_invisible() {
    let client = sqs::client().await;
    let queue = client
        .create_queue()
        .queue_name(format!("heartbeat-{}", std::process::id()))
        .attributes(QueueAttributeName::VisibilityTimeout, "2")
        .send()
        .await
        .unwrap();
    let url = queue.queue_url().unwrap().to_string();
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
