//! Amazon SNS as a sink: each alert is published to a topic through the AWS SDK, the alert
//! JSON as the message, with `severity` and `rule_id` message attributes (for subscription
//! filter policies) and the alert id as the deduplication id on FIFO topics.

use aws_sdk_sns::Client;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;

use super::durable::Deliver;
use super::http::Delivery;
use crate::alert::Alert;

/// Publishes alerts to one topic.
pub struct SnsDeliverer {
    client: Client,
    topic_arn: String,
}

impl SnsDeliverer {
    /// Publishes to `topic_arn` with the SDK's default credential and region chain
    /// (`AWS_ENDPOINT_URL` points it at an emulator).
    pub async fn new(topic_arn: &str) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self { client: Client::new(&config), topic_arn: topic_arn.to_string() }
    }
}

fn attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("data type is set")
}

/// SNS subjects are at most 100 printable ASCII characters.
fn subject(alert: &Alert) -> String {
    let text = format!("[{}] {}", alert.severity.to_string().to_uppercase(), alert.title);
    text.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).take(100).collect()
}

#[async_trait::async_trait]
impl Deliver for SnsDeliverer {
    async fn deliver(&self, alert: &Alert) -> (Delivery, u32) {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject(alert))
            .message(serde_json::to_string(alert).expect("alerts serialise"))
            .message_attributes("severity", attribute(&alert.severity.to_string()))
            .message_attributes("rule_id", attribute(&alert.rule_id));
        if self.topic_arn.ends_with(".fifo") {
            request =
                request.message_deduplication_id(&alert.alert_id).message_group_id(&alert.rule_id);
        }
        let delivery = match request.send().await {
            Ok(_) => Delivery::Delivered,
            Err(SdkError::ServiceError(error)) => {
                let code = error.err().code().unwrap_or("Unknown").to_string();
                let reason = format!("{code}: {}", error.err().message().unwrap_or(""));
                // Throttling and server faults pass; a missing topic or a denied call does not.
                if code.contains("Throttl")
                    || code.contains("InternalError")
                    || error.raw().status().is_server_error()
                {
                    Delivery::Retry { after: None, reason }
                } else {
                    Delivery::Rejected { status: Some(error.raw().status().as_u16()), reason }
                }
            }
            Err(other) => Delivery::Retry { after: None, reason: format!("{other:?}") },
        };
        // The SDK retries transient failures itself (standard mode, 3 attempts).
        (delivery, 0)
    }
}
