//! The production mode: SQS notifications announce CloudTrail objects; each is read from S3,
//! processed, and its message deleted only once its rows are durable in the lake and its
//! alerts are handed to the sink.
//!
//! Delivery: messages are received in batches (up to 10). After a batch's objects are
//! processed, the lake writer flushes (rows durable, ledger committed), the sink flushes, the
//! correlation state is checkpointed, and only then are the batch's messages deleted. A crash
//! before the delete makes SQS redeliver: the ledger and the content-derived file names keep
//! the lake's rows exactly once, and deterministic alert ids let sinks drop repeats. A message
//! that cannot be understood is not deleted: it returns after its visibility timeout and the
//! queue's redrive policy moves it to the dead-letter queue.

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use lake::{LakeLocation, LakeWriter};
use object_store::ObjectMeta;
use object_store::path::Path as ObjectPath;

use super::Source;
use super::notifications::{Notification, ObjectRef, parse_notification};
use super::objects::ObjectSource;
use crate::error::{PipelineError, Result};
use crate::internal_events::{Counters, InternalEvent};
use crate::process::Processor;
use crate::run::{RunConfig, process_source, save_checkpoint, send_all};
use crate::sinks::AlertSink;

/// Settings of the queue consumer.
#[derive(Debug, Clone)]
pub struct SqsConfig {
    /// The queue's URL.
    pub queue_url: String,
    /// Long-poll wait per receive, in seconds (0 to 20).
    pub wait_seconds: i32,
    /// Stop after this many consecutive empty receives (`None`: run until stopped).
    pub max_empty_receives: Option<u32>,
    /// Seconds a received batch stays invisible to other consumers; renewed every half of it
    /// while the batch is processed (heartbeat).
    pub visibility_timeout: i32,
}

/// What the consumer did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SqsStats {
    /// Messages received.
    pub received: u64,
    /// Messages deleted after their work was durable.
    pub deleted: u64,
    /// Messages left for redelivery (unknown shapes, failures).
    pub failed: u64,
}

/// The SQS client for `queue_url`, with credentials and region from the standard chain and
/// `AWS_ENDPOINT_URL` honoured for emulators.
pub async fn client() -> Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Client::new(&config)
}

/// Consumes the queue until `stop` resolves (or the empty-receive limit is reached).
#[allow(clippy::too_many_arguments)]
pub async fn consume(
    client: &Client,
    sqs: &SqsConfig,
    run: &RunConfig,
    location: &LakeLocation,
    processor: &mut Processor,
    sink: &mut dyn AlertSink,
    counters: &Counters,
    stop: impl std::future::Future<Output = ()>,
) -> Result<SqsStats> {
    let mut stats = SqsStats::default();
    let mut writer = LakeWriter::new(location.clone(), run.writer.clone());
    let mut stores: HashMap<String, LakeLocation> = HashMap::new();
    let mut empty = 0;
    tokio::pin!(stop);
    loop {
        let received = tokio::select! {
            () = &mut stop => break,
            received = client
                .receive_message()
                .queue_url(&sqs.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(sqs.wait_seconds)
                .send() => received,
        };
        let messages =
            received.map_err(|error| queue_error("receive", error))?.messages.unwrap_or_default();
        if messages.is_empty() {
            empty += 1;
            if sqs.max_empty_receives.is_some_and(|limit| empty >= limit) {
                break;
            }
            continue;
        }
        empty = 0;
        let receipts: Vec<String> =
            messages.iter().filter_map(|m| m.receipt_handle().map(str::to_string)).collect();
        let heartbeat = spawn_heartbeat(
            client.clone(),
            sqs.queue_url.clone(),
            receipts,
            sqs.visibility_timeout,
        );
        let mut done = Vec::new();
        for message in messages {
            stats.received += 1;
            let body = message.body().unwrap_or_default();
            match parse_notification(body) {
                Ok(Notification::Objects(objects)) => {
                    for object in objects {
                        let source = object_source(&mut stores, &object)?;
                        process_source(
                            &source,
                            run,
                            location,
                            processor,
                            &mut writer,
                            sink,
                            counters,
                        )
                        .await?;
                    }
                    done.extend(message.receipt_handle().map(str::to_string));
                }
                Ok(Notification::TestEvent) | Ok(Notification::Ignored { .. }) => {
                    done.extend(message.receipt_handle().map(str::to_string));
                }
                Err(error) => {
                    stats.failed += 1;
                    let reason =
                        format!("message {}: {error}", message.message_id().unwrap_or("?"));
                    counters
                        .emit(InternalEvent::SourceFailed { uri: &sqs.queue_url, reason: &reason });
                }
            }
        }
        // Durable first, then acknowledged.
        writer.flush().await?;
        sink.flush()?;
        save_checkpoint(location, processor).await?;
        heartbeat.abort();
        for receipt in done {
            client
                .delete_message()
                .queue_url(&sqs.queue_url)
                .receipt_handle(receipt)
                .send()
                .await
                .map_err(|error| queue_error("delete", error))?;
            stats.deleted += 1;
        }
    }
    send_all(processor.finish(), sink, counters)?;
    sink.flush()?;
    writer.finish().await?;
    Ok(stats)
}

/// Keeps `receipts` invisible while their work runs: every half visibility timeout, their
/// visibility is extended by a whole one. Abort the task when the work is done; a failed
/// extension is logged (the message may then be redelivered, which the ledger tolerates).
pub fn spawn_heartbeat(
    client: Client,
    queue_url: String,
    receipts: Vec<String>,
    visibility_timeout: i32,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = std::time::Duration::from_millis((visibility_timeout.max(2) as u64) * 500);
        loop {
            tokio::time::sleep(period).await;
            for receipt in &receipts {
                let extended = client
                    .change_message_visibility()
                    .queue_url(&queue_url)
                    .receipt_handle(receipt)
                    .visibility_timeout(visibility_timeout)
                    .send()
                    .await;
                if let Err(error) = extended {
                    tracing::warn!(error = %error, "could not extend a message's visibility");
                }
            }
        }
    })
}

fn object_source(stores: &mut HashMap<String, LakeLocation>, object: &ObjectRef) -> Result<Source> {
    if !stores.contains_key(&object.bucket) {
        stores
            .insert(object.bucket.clone(), LakeLocation::open(&format!("s3://{}", object.bucket))?);
    }
    let store = stores[&object.bucket].store().clone();
    let meta = ObjectMeta {
        location: ObjectPath::from(object.key.as_str()),
        last_modified: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        size: object.size.unwrap_or_default(),
        e_tag: object.etag.clone(),
        version: object.version_id.clone(),
    };
    let uri = format!("s3://{}/{}", object.bucket, object.key);
    Ok(Source::Object(ObjectSource { store, meta, uri }))
}

fn queue_error(operation: &str, error: impl std::fmt::Display) -> PipelineError {
    PipelineError::Input {
        path: format!("sqs {operation}").into(),
        source: std::io::Error::other(error.to_string()),
    }
}

/// A `stop` future that resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("stopping: finishing in-flight work");
}
