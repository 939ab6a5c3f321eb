//! The webhook, Slack and PagerDuty sinks: alerts handed to the sink are POSTed on flush,
//! with retries; an alert the receiver refuses for good goes to the dead-letter folder
//! `_dead_letter/<sink>/<alert id>.json` in the lake, with the response.

use std::sync::Arc;

use lake::LakeLocation;
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::json;

use super::AlertSink;
use super::formats::{pagerduty_body, signature, slack_body, webhook_body};
use super::http::{Delivery, HttpTarget, RetryPolicy, post_with_retries};
use crate::alert::Alert;
use crate::error::{PipelineError, Result};
use crate::internal_events::{Counters, InternalEvent};

/// Folder of alerts a receiver refused for good.
pub const DEAD_LETTER_DIR: &str = "_dead_letter";

/// A secret (HMAC key, routing key, webhook URL) that never appears in logs or errors.
#[derive(Clone, PartialEq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value, for use (never for display).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// What an HTTP sink sends.
#[derive(Debug, Clone)]
pub enum HttpKind {
    /// The alert JSON, with custom headers and, with a secret, an HMAC-SHA256 signature in
    /// `X-Trailhound-Signature`.
    Webhook { headers: Vec<(String, String)>, secret: Option<Secret> },
    /// A Slack Block Kit message to an incoming webhook.
    Slack,
    /// A PagerDuty Events API v2 trigger.
    PagerDuty { routing_key: Secret },
}

/// Delivers alerts over HTTP.
pub struct HttpSink {
    name: String,
    kind: HttpKind,
    target: HttpTarget,
    retry: RetryPolicy,
    dead_letters: LakeLocation,
    counters: Arc<Counters>,
    pending: Vec<Alert>,
}

impl HttpSink {
    /// A sink named `name` posting to `target`; refused alerts go below `dead_letters`.
    pub fn new(
        name: &str,
        kind: HttpKind,
        target: HttpTarget,
        retry: RetryPolicy,
        dead_letters: LakeLocation,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            name: name.to_string(),
            kind,
            target,
            retry,
            dead_letters,
            counters,
            pending: Vec::new(),
        }
    }

    fn request(&self, alert: &Alert) -> (Vec<u8>, Vec<(String, String)>) {
        let mut headers = vec![
            ("Idempotency-Key".to_string(), alert.alert_id.clone()),
            ("X-Trailhound-Alert-Id".to_string(), alert.alert_id.clone()),
        ];
        let body = match &self.kind {
            HttpKind::Webhook { headers: custom, secret } => {
                let body = webhook_body(alert);
                headers.extend(custom.iter().cloned());
                if let Some(secret) = secret {
                    headers.push((
                        "X-Trailhound-Signature".to_string(),
                        signature(secret.expose().as_bytes(), &body),
                    ));
                }
                body
            }
            HttpKind::Slack => slack_body(alert),
            HttpKind::PagerDuty { routing_key } => pagerduty_body(alert, routing_key.expose()),
        };
        (body, headers)
    }

    async fn dead_letter(&self, alert: &Alert, status: Option<u16>, reason: &str) -> Result<()> {
        let path = self
            .dead_letters
            .path(&format!("{DEAD_LETTER_DIR}/{}/{}.json", self.name, alert.alert_id));
        let body = json!({
            "sink": self.name,
            "status": status,
            "reason": reason,
            "at": chrono::Utc::now().to_rfc3339(),
            "alert": alert,
        });
        self.dead_letters
            .store()
            .put(&path, PutPayload::from(serde_json::to_vec_pretty(&body).expect("JSON")))
            .await
            .map_err(|source| lake::LakeError::ObjectStore { path: path.to_string(), source })?;
        self.counters.emit(InternalEvent::SinkDeadLettered {
            sink: &self.name,
            alert_id: &alert.alert_id,
            reason,
        });
        Ok(())
    }
}

#[async_trait::async_trait]
impl AlertSink for HttpSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&mut self, alert: &Alert) -> Result<()> {
        self.pending.push(alert.clone());
        Ok(())
    }

    /// Delivers every pending alert. An alert still failing after all retries stays
    /// pending and fails the flush, so the caller keeps it (nothing is lost).
    async fn flush(&mut self) -> Result<()> {
        while let Some(alert) = self.pending.first().cloned() {
            let (body, headers) = self.request(&alert);
            let outcome = post_with_retries(&self.target, &self.retry, &body, &headers).await;
            match outcome.delivery {
                Delivery::Delivered => {
                    self.counters.emit(InternalEvent::SinkDelivered {
                        sink: &self.name,
                        retries: outcome.retries,
                    });
                }
                Delivery::Rejected { status, reason } => {
                    self.dead_letter(&alert, status, &reason).await?;
                }
                Delivery::Retry { reason, .. } => {
                    return Err(PipelineError::Sink {
                        sink: self.name.clone(),
                        source: std::io::Error::other(format!(
                            "{} unreachable after {} attempts: {reason}",
                            self.target.host(),
                            outcome.retries + 1
                        )),
                    });
                }
            }
            self.pending.remove(0);
        }
        Ok(())
    }
}
