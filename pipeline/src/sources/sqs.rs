//! The production mode: SQS notifications announce CloudTrail objects; each is read from S3,
//! processed, and its message deleted only once its rows are durable in the lake, the shared
//! state is committed and its alerts are handed to the sink.
//!
//! A batch of up to 10 messages is one unit of work:
//! 1. its objects are read (several at once), detected on and written to the lake, which then
//!    flushes: rows durable, ledger entries committed;
//! 2. the processing state (watermark, correlation windows, dedup periods) is committed to the
//!    lake by compare-and-swap ([`crate::state`]) together with the batch's alerts as an
//!    outbox. If another worker committed first, the state is reloaded and step 1 redone on
//!    top of it (the lake part is then a ledger lookup), so every signal enters the shared
//!    correlations exactly once however many workers share the queue;
//! 3. the alerts are handed to the sink and flushed; the next commit clears them from the
//!    outbox. If the worker dies between 2 and 3, another worker (or its restart) hands the
//!    outbox alerts off once they are older than the takeover delay: no alert is lost, and
//!    one may reach the sink twice only around a crash, with the same deterministic id;
//! 4. the messages are deleted.
//!
//! A crash before step 4 makes SQS redeliver: the ledger and the per-source file names keep
//! the lake's rows exactly once, and the correlations ignore signals they have already
//! counted. A message that cannot be understood is not deleted: it returns after its
//! visibility timeout and the queue's redrive policy moves it to the dead-letter queue.

use std::collections::{HashMap, HashSet};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, QueueAttributeName,
};
use futures::FutureExt;
use lake::writer::LedgerLookup;
use lake::{LakeLocation, LakeWriter, LakeWriterConfig};
use object_store::ObjectMeta;
use object_store::path::Path as ObjectPath;

use super::Source;
use super::notifications::{Notification, ObjectRef, parse_notification};
use super::objects::ObjectSource;
use crate::alert::{Alert, PendingAlert};
use crate::error::{PipelineError, Result};
use crate::internal_events::{Counters, InternalEvent};
use crate::process::Processor;
use crate::run::{Ingestion, RunConfig, restore_or_seed, send_all, start_sources};
use crate::sinks::AlertSink;
use crate::state::{Commit, SharedState};

/// Settings of the queue consumer.
#[derive(Debug, Clone)]
pub struct SqsConfig {
    /// The queue's URL.
    pub queue_url: String,
    /// Long-poll wait per receive, in seconds (0 to 20).
    pub wait_seconds: i32,
    /// Drain mode: stop once this many consecutive receives came back empty and the queue
    /// holds no message, in flight or not; everything still held is then emitted
    /// (`None`: run until stopped, keeping open windows in the state).
    pub max_empty_receives: Option<u32>,
    /// Seconds a received batch stays invisible to other consumers; renewed every half of it
    /// while the batch is processed (heartbeat).
    pub visibility_timeout: i32,
    /// Seconds after which alerts another worker committed but did not confirm handed off
    /// are handed off by this one.
    pub takeover_seconds: u64,
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
    /// Messages a receive under way at a stop brought in: made visible again, not handled.
    pub released: u64,
    /// State commits lost to another worker (the batch was redone).
    pub state_conflicts: u64,
}

/// The SQS client for `queue_url`, with credentials and region from the standard chain and
/// `AWS_ENDPOINT_URL` honoured for emulators.
pub async fn client() -> Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Client::new(&config)
}

/// One worker's view of the shared state and its outbox.
pub struct Worker<'a> {
    run: &'a RunConfig,
    location: &'a LakeLocation,
    processor: &'a mut Processor,
    counters: &'a Counters,
    state: SharedState,
    writer: LakeWriter,
    /// This process, as the owner of outbox entries.
    owner: String,
    /// The outbox of the state last loaded or committed.
    outbox: Vec<PendingAlert>,
    /// Ids of this worker's outbox alerts it handed off, to clear at the next commit.
    handed_off: HashSet<String>,
    takeover_ms: i64,
    stats: SqsStats,
    /// Object stores by bucket.
    stores: HashMap<String, LakeLocation>,
}

/// A lake writer for a worker that may share the lake with others: two workers handed the
/// same object at once (a notification sent twice) write its rows to the same files.
fn shared_lake_writer(location: &LakeLocation, run: &RunConfig) -> LakeWriter {
    LakeWriter::new(
        location.clone(),
        LakeWriterConfig { group_sources: false, ..run.writer.clone() },
    )
}

/// A queue message: its id (for logs and Lambda's failure report) and body.
pub struct QueueMessage<'a> {
    /// The message id.
    pub id: &'a str,
    /// The notification text.
    pub body: &'a str,
}

impl<'a> Worker<'a> {
    /// A worker on the lake's shared state (restored, or seeded on a first run).
    pub async fn start(
        run: &'a RunConfig,
        location: &'a LakeLocation,
        processor: &'a mut Processor,
        counters: &'a Counters,
        takeover_seconds: u64,
    ) -> Result<Self> {
        // Group writes older than the takeover delay were interrupted (a live worker's are
        // younger): finish or undo them before reading anything again.
        lake::writer::recover(location, std::time::Duration::from_secs(takeover_seconds)).await?;
        let mut state = SharedState::new(location);
        let outbox = restore_or_seed(&mut state, location, processor)
            .await?
            .map(|checkpoint| checkpoint.outbox)
            .unwrap_or_default();
        Ok(Self {
            run,
            location,
            processor,
            counters,
            state,
            writer: shared_lake_writer(location, run),
            owner: format!("{}-{}", hostname(), uuid_like()),
            outbox,
            handed_off: HashSet::new(),
            takeover_ms: takeover_seconds as i64 * 1000,
            stats: SqsStats::default(),
            stores: HashMap::new(),
        })
    }

    /// Processes the objects `messages` announce, commits and hands the alerts off. Returns
    /// the positions of the messages that could not be understood: they must not be
    /// deleted, so the queue's redrive policy sets them aside.
    pub async fn handle(
        &mut self,
        messages: &[QueueMessage<'_>],
        sink: &mut dyn AlertSink,
    ) -> Result<Vec<usize>> {
        self.counters.emit(InternalEvent::MessagesReceived { count: messages.len() as u64 });
        self.stats.received += messages.len() as u64;
        let mut sources = Vec::new();
        let mut failed = Vec::new();
        for (position, message) in messages.iter().enumerate() {
            match parse_notification(message.body) {
                Ok(Notification::Objects(objects)) => {
                    for object in objects {
                        sources.push(object_source(&mut self.stores, &object)?);
                    }
                }
                Ok(Notification::TestEvent) | Ok(Notification::Ignored { .. }) => {}
                Err(error) => {
                    self.stats.failed += 1;
                    failed.push(position);
                    self.counters.emit(InternalEvent::MessageRejected {
                        id: message.id,
                        reason: &error.to_string(),
                    });
                }
            }
        }
        let alerts = self.commit_batch(&sources, false).await?;
        self.hand_off(alerts, sink).await?;
        Ok(failed)
    }

    /// Clears what was handed off from the shared outbox (and hands off what other workers
    /// left there too long).
    pub async fn confirm(&mut self, sink: &mut dyn AlertSink) -> Result<()> {
        let alerts = self.commit_batch(&[], false).await?;
        self.hand_off(alerts, sink).await
    }

    /// Drops in-memory work that was not committed (after a failure): back to the shared
    /// state.
    pub async fn reload(&mut self) -> Result<()> {
        let latest = self.state.load().await?.unwrap_or_default();
        self.outbox = latest.outbox.clone();
        self.handed_off.clear();
        self.processor.restore(latest);
        self.writer = shared_lake_writer(self.location, self.run);
        Ok(())
    }

    /// Writes what the lake writer still holds.
    pub async fn finish(self) -> Result<SqsStats> {
        self.writer.finish().await?;
        Ok(self.stats)
    }

    /// Processes `sources` on top of the shared state and commits; redone on top of the
    /// newer state when another worker committed first. With `finish`, everything still
    /// held is emitted too. Returns the alerts this worker must hand off.
    async fn commit_batch(&mut self, sources: &[Source], finish: bool) -> Result<Vec<Alert>> {
        let mut counters = self.counters;
        let quiet = Counters::default();
        loop {
            let mut alerts = Vec::new();
            let ledger = LedgerLookup::per_source(self.location);
            let mut started = start_sources(sources.to_vec(), ledger, self.run);
            let mut ingestion =
                Ingestion::new(self.location, self.processor, &mut self.writer, counters);
            while let Some(source) = futures::StreamExt::next(&mut started).await {
                alerts.extend(ingestion.push(source?).await?);
            }
            alerts.extend(ingestion.finish().await?);
            if finish {
                alerts.extend(self.processor.finish());
            }
            self.writer.flush().await?;

            let now = chrono::Utc::now().timestamp_millis();
            let mut outbox: Vec<PendingAlert> = std::mem::take(&mut self.outbox);
            outbox.retain(|pending| {
                pending.owner != self.owner || !self.handed_off.contains(&pending.alert.alert_id)
            });
            let (taken, mut kept): (Vec<PendingAlert>, Vec<PendingAlert>) =
                outbox.into_iter().partition(|pending| self.is_orphan(pending, now));
            kept.extend(alerts.iter().map(|alert| PendingAlert {
                owner: self.owner.clone(),
                committed_at_ms: now,
                alert: alert.clone(),
            }));
            match self.state.commit(&self.processor.checkpoint(&kept)).await? {
                Commit::Committed => {
                    self.outbox = kept;
                    self.handed_off.clear();
                    for pending in &taken {
                        tracing::warn!(
                            alert = %pending.alert.alert_id,
                            owner = %pending.owner,
                            "handing off an alert whose worker did not confirm it"
                        );
                    }
                    alerts.extend(taken.into_iter().map(|pending| pending.alert));
                    return Ok(alerts);
                }
                Commit::Conflict => {
                    self.stats.state_conflicts += 1;
                    self.counters.emit(InternalEvent::StateConflict);
                    let latest = self.state.load().await?.unwrap_or_default();
                    self.outbox = latest.outbox.clone();
                    self.processor.restore(latest);
                    // The redo reads the same sources again: count them once.
                    counters = &quiet;
                }
            }
        }
    }

    /// Hands `alerts` to the sink; they leave the outbox at the next commit.
    async fn hand_off(&mut self, alerts: Vec<Alert>, sink: &mut dyn AlertSink) -> Result<()> {
        let ids: Vec<String> = alerts.iter().map(|alert| alert.alert_id.clone()).collect();
        send_all(alerts, sink, self.counters).await?;
        sink.flush().await?;
        self.handed_off.extend(ids);
        Ok(())
    }

    /// Whether the outbox holds alerts of a presumably dead worker.
    fn has_orphans(&self) -> bool {
        let now = chrono::Utc::now().timestamp_millis();
        self.outbox.iter().any(|pending| self.is_orphan(pending, now))
    }

    /// An outbox entry of another worker that has waited past the takeover delay.
    fn is_orphan(&self, pending: &PendingAlert, now: i64) -> bool {
        pending.owner != self.owner && now - pending.committed_at_ms > self.takeover_ms
    }
}

/// Consumes the queue until `stop` resolves (or, in drain mode, the queue is empty). A receive
/// under way when it resolves is waited for, and its messages released unhandled.
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
    let mut worker =
        Worker::start(run, location, processor, counters, sqs.takeover_seconds).await?;
    let mut empty = 0;
    let mut drained = false;
    tokio::pin!(stop);
    loop {
        if (&mut stop).now_or_never().is_some() {
            break;
        }
        let receive = client
            .receive_message()
            .queue_url(&sqs.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(sqs.wait_seconds)
            .send();
        tokio::pin!(receive);
        // A receive under way is not dropped on a stop: the queue may already have handed out
        // its messages, which would then stay invisible for a whole visibility timeout.
        let (received, stopping) = tokio::select! {
            received = &mut receive => (received, false),
            () = &mut stop => (receive.await, true),
        };
        let messages = received
            .map_err(|error| queue_error("receive", &sqs.queue_url, error))?
            .messages
            .unwrap_or_default();
        if stopping {
            let receipts: Vec<String> =
                messages.iter().filter_map(|m| m.receipt_handle().map(str::to_string)).collect();
            worker.stats.released += release_all(client, &sqs.queue_url, &receipts, counters).await;
            break;
        }
        if messages.is_empty() {
            if worker.has_orphans() {
                let alerts = worker.commit_batch(&[], false).await?;
                worker.hand_off(alerts, sink).await?;
            }
            empty += 1;
            if sqs.max_empty_receives.is_some_and(|limit| empty >= limit)
                && queue_is_empty(client, &sqs.queue_url).await?
            {
                drained = true;
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
        let batch: Vec<QueueMessage<'_>> = messages
            .iter()
            .map(|message| QueueMessage {
                id: message.message_id().unwrap_or("?"),
                body: message.body().unwrap_or_default(),
            })
            .collect();
        let outcome = worker.handle(&batch, sink).await;
        heartbeat.abort();
        let failed = outcome?;
        let done: Vec<String> = messages
            .iter()
            .enumerate()
            .filter(|(position, _)| !failed.contains(position))
            .filter_map(|(_, message)| message.receipt_handle().map(str::to_string))
            .collect();
        worker.stats.deleted += delete_all(client, &sqs.queue_url, &done, counters).await?;
    }
    // A last commit clears what was handed off; drained, it also emits everything held.
    let alerts = worker.commit_batch(&[], drained).await?;
    worker.hand_off(alerts, sink).await?;
    worker.confirm(sink).await?;
    worker.finish().await
}

/// Deletes handled messages, ten per request. A message whose delete fails comes back after
/// its visibility timeout and is then recognised as already applied. Returns how many went.
async fn delete_all(
    client: &Client,
    queue_url: &str,
    receipts: &[String],
    counters: &Counters,
) -> Result<u64> {
    let mut deleted_total = 0;
    for chunk in receipts.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(index, receipt)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .expect("id and receipt handle are set")
            })
            .collect();
        let deleted = client
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|error| queue_error("delete", queue_url, error))?;
        for failure in deleted.failed() {
            tracing::warn!(
                code = failure.code(),
                reason = failure.message().unwrap_or_default(),
                "a handled message could not be deleted: it will be redelivered and skipped"
            );
        }
        for _ in deleted.successful() {
            counters.emit(InternalEvent::MessageDeleted);
            deleted_total += 1;
        }
    }
    Ok(deleted_total)
}

/// Makes messages received but not handled visible again at once, ten per request, so that
/// another worker takes them now rather than after their visibility timeout. A failure is
/// only logged: those messages come back when their timeout ends. Returns how many went.
async fn release_all(
    client: &Client,
    queue_url: &str,
    receipts: &[String],
    counters: &Counters,
) -> u64 {
    let mut released_total = 0;
    for chunk in receipts.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(index, receipt)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(receipt)
                    .visibility_timeout(0)
                    .build()
                    .expect("id and receipt handle are set")
            })
            .collect();
        let released = client
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        match released {
            Ok(released) => {
                let count = released.successful().len() as u64;
                counters.emit(InternalEvent::MessagesReleased { count });
                released_total += count;
                if !released.failed().is_empty() {
                    tracing::warn!(
                        count = released.failed().len(),
                        "messages could not be released: they come back after their visibility timeout"
                    );
                }
            }
            Err(error) => tracing::warn!(
                error = %queue_error("release", queue_url, error),
                "messages could not be released: they come back after their visibility timeout"
            ),
        }
    }
    released_total
}

/// Whether the queue holds no message at all, visible, in flight or delayed (as far as SQS's
/// approximate counts tell).
async fn queue_is_empty(client: &Client, queue_url: &str) -> Result<bool> {
    let attributes = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(|error| queue_error("get-queue-attributes", queue_url, error))?;
    Ok(attributes
        .attributes()
        .map(|values| values.values().all(|count| count == "0"))
        .unwrap_or(true))
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_string())
}

/// A process-unique token: pid and start time in nanoseconds.
fn uuid_like() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{}-{now:x}", std::process::id())
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

fn queue_error(
    operation: &'static str,
    queue: &str,
    error: impl std::error::Error,
) -> PipelineError {
    // The SDK's Display is terse ("service error"): keep the whole chain.
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        reason.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    PipelineError::Queue { operation, queue: queue.to_string(), reason }
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
