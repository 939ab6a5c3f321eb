//! AWS Lambda mode: the function receives SQS event batches through the Lambda runtime API
//! (`AWS_LAMBDA_RUNTIME_API`) and handles each exactly as the queue consumer handles a
//! receive ([`super::sqs::Worker`]): objects read, lake written and flushed, shared state
//! (watermark, correlation windows, dedup) committed next to the lake, alerts handed off.
//! Messages it could not understand are returned as `batchItemFailures` (partial batch
//! response), so Lambda deletes the others and the queue's redrive policy sets those aside;
//! when the batch as a whole fails, every message is reported and comes back.

use serde::Deserialize;
use serde_json::json;

use super::sqs::{QueueMessage, Worker};
use crate::error::{PipelineError, Result};
use crate::sinks::AlertSink;

/// The runtime API of the Lambda environment.
pub struct RuntimeApi {
    base: String,
    http: reqwest::Client,
}

/// One invocation: its request id and event.
struct Invocation {
    request_id: String,
    event: Vec<u8>,
}

/// The SQS event Lambda's event source mapping sends.
#[derive(Deserialize)]
struct SqsEvent {
    #[serde(rename = "Records")]
    records: Vec<SqsRecord>,
}

#[derive(Deserialize)]
struct SqsRecord {
    #[serde(rename = "messageId")]
    message_id: String,
    body: String,
}

impl RuntimeApi {
    /// The runtime API at `address` (`host:port`, as `AWS_LAMBDA_RUNTIME_API` gives it).
    pub fn new(address: &str) -> Self {
        Self {
            base: format!("http://{address}/2018-06-01/runtime"),
            // No timeout: the next invocation may be long in coming.
            http: reqwest::Client::builder().no_proxy().build().expect("HTTP client"),
        }
    }

    /// Tells Lambda the function could not start (a broken rule, an unusable lake).
    pub async fn init_error(&self, message: &str) -> Result<()> {
        self.post(&format!("{}/init/error", self.base), error_body("InitError", message), true)
            .await
    }

    async fn next(&self) -> Result<Invocation> {
        let url = format!("{}/invocation/next", self.base);
        let response =
            self.http.get(&url).send().await.map_err(|error| runtime_error(&url, error))?;
        let request_id = response
            .headers()
            .get("Lambda-Runtime-Aws-Request-Id")
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| runtime_error(&url, "no Lambda-Runtime-Aws-Request-Id header"))?
            .to_string();
        let event = response.bytes().await.map_err(|error| runtime_error(&url, error))?.to_vec();
        Ok(Invocation { request_id, event })
    }

    async fn post(&self, url: &str, body: serde_json::Value, failure: bool) -> Result<()> {
        let mut request =
            self.http.post(url).header("Content-Type", "application/json").body(body.to_string());
        if failure {
            request = request.header("Lambda-Runtime-Function-Error-Type", "Unhandled");
        }
        let response = request.send().await.map_err(|error| runtime_error(url, error))?;
        if !response.status().is_success() {
            return Err(runtime_error(url, format!("answered {}", response.status())));
        }
        Ok(())
    }
}

fn error_body(kind: &str, message: &str) -> serde_json::Value {
    json!({ "errorType": kind, "errorMessage": message })
}

fn runtime_error(url: &str, error: impl std::fmt::Display) -> PipelineError {
    PipelineError::LambdaRuntime { url: url.to_string(), reason: error.to_string() }
}

/// Handles invocations until the runtime API goes away.
pub async fn serve(
    api: &RuntimeApi,
    worker: &mut Worker<'_>,
    sink: &mut dyn AlertSink,
) -> Result<()> {
    loop {
        let invocation = api.next().await?;
        let event: SqsEvent = match serde_json::from_slice(&invocation.event) {
            Ok(event) => event,
            Err(error) => {
                // Not an SQS batch: nothing to retry message by message.
                let message = format!("the event is not an SQS batch: {error}");
                tracing::error!(request = %invocation.request_id, %message);
                let url = format!("{}/invocation/{}/error", api.base, invocation.request_id);
                api.post(&url, error_body("InvalidEvent", &message), true).await?;
                continue;
            }
        };
        let messages: Vec<QueueMessage<'_>> = event
            .records
            .iter()
            .map(|record| QueueMessage { id: &record.message_id, body: &record.body })
            .collect();
        let failed: Vec<&str> = match worker.handle(&messages, sink).await {
            Ok(positions) => {
                if let Err(error) = worker.confirm(sink).await {
                    // The batch is durable and handed off; its outbox entries stay until a
                    // later commit or another worker's takeover.
                    tracing::warn!(%error, "could not clear the handed-off alerts from the outbox");
                    worker.reload().await?;
                }
                positions.into_iter().map(|position| messages[position].id).collect()
            }
            Err(error) => {
                tracing::error!(%error, "the batch failed: every message is reported for a retry");
                worker.reload().await?;
                messages.iter().map(|message| message.id).collect()
            }
        };
        let failures: Vec<serde_json::Value> =
            failed.iter().map(|id| json!({ "itemIdentifier": id })).collect();
        let url = format!("{}/invocation/{}/response", api.base, invocation.request_id);
        api.post(&url, json!({ "batchItemFailures": failures }), false).await?;
    }
}
