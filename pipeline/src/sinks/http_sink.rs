//! Delivery over HTTP for the webhook, Slack and PagerDuty sinks: the request each sends,
//! posted with retries.

use super::durable::Deliver;
use super::formats::{pagerduty_body, signature, slack_body, webhook_body};
use super::http::{Delivery, HttpTarget, RetryPolicy, post_with_retries};
use crate::alert::Alert;

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
    /// The alert JSON, with custom headers and, with a secret, an HMAC-SHA256 signature of
    /// the body in `X-Trailhound-Signature`.
    Webhook { headers: Vec<(String, String)>, secret: Option<Secret> },
    /// A Slack Block Kit message to an incoming webhook.
    Slack,
    /// A PagerDuty Events API v2 trigger.
    PagerDuty { routing_key: Secret },
}

/// Posts alerts to one receiver.
pub struct HttpDeliverer {
    kind: HttpKind,
    target: HttpTarget,
    retry: RetryPolicy,
}

impl HttpDeliverer {
    /// Posts `kind` requests to `target`, retrying by `retry`.
    pub fn new(kind: HttpKind, target: HttpTarget, retry: RetryPolicy) -> Self {
        Self { kind, target, retry }
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
}

#[async_trait::async_trait]
impl Deliver for HttpDeliverer {
    async fn deliver(&self, alert: &Alert) -> (Delivery, u32) {
        let (body, headers) = self.request(alert);
        let outcome = post_with_retries(&self.target, &self.retry, &body, &headers).await;
        let delivery = match outcome.delivery {
            Delivery::Retry { after, reason } => Delivery::Retry {
                after,
                reason: format!(
                    "{} unreachable after {} attempts: {reason}",
                    self.target.host(),
                    outcome.retries + 1
                ),
            },
            other => other,
        };
        (delivery, outcome.retries)
    }
}
