//! Helpers shared by the tests that talk to the AWS emulator named by `AWS_ENDPOINT_URL`
//! (moto's server, started by `scripts/test-all.sh`). Bucket and SNS set-up goes through
//! plain HTTP: the emulator does not check signatures, and the pipeline needs no S3 or SNS
//! SDK for it.
#![allow(dead_code)]

pub mod crashing;
pub mod readback;
pub mod rules;

use std::io::{Read, Write};
use std::net::TcpStream;

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL names the emulator (scripts/test-all.sh starts it)")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// One HTTP/1.1 request to the emulator; returns the status code and body.
pub fn http(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let address = endpoint();
    let mut stream = TcpStream::connect(&address).unwrap();
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body =
        response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    (status, body)
}

/// Creates a bucket with a bare path-style PUT.
pub fn create_bucket(bucket: &str) {
    let (status, body) = http("PUT", &format!("/{bucket}"), &[], "");
    assert_eq!(status, 200, "create bucket {bucket}: {body}");
}

/// Sets the bucket's event notifications (S3's `NotificationConfiguration` XML body).
pub fn put_bucket_notification(bucket: &str, configurations: &str) {
    let xml = format!(
        "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{configurations}</NotificationConfiguration>"
    );
    let (status, body) = http("PUT", &format!("/{bucket}?notification"), &[], &xml);
    assert_eq!(status, 200, "put notification on {bucket}: {body}");
}

/// An S3 notification configuration sending created objects under `prefix` to `arn`
/// (`kind` is `Queue` or `Topic`).
pub fn notification(kind: &str, arn: &str, prefix: &str) -> String {
    format!(
        "<{kind}Configuration><{kind}>{arn}</{kind}><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>{prefix}</Value></FilterRule></S3Key></Filter></{kind}Configuration>"
    )
}

/// Calls an SNS action (query protocol); returns the response body.
pub fn sns(params: &[(&str, &str)]) -> String {
    let form: Vec<String> =
        params.iter().map(|(name, value)| format!("{}={}", encode(name), encode(value))).collect();
    let (status, body) = http(
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            // The emulator routes by the credential scope's service; it checks no signature.
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0",
            ),
        ],
        &form.join("&"),
    );
    assert_eq!(status, 200, "sns {params:?}: {body}");
    body
}

/// The text of the first `<tag>` element of an XML response.
pub fn xml_value(body: &str, tag: &str) -> String {
    let start = body.find(&format!("<{tag}>")).unwrap_or_else(|| panic!("no <{tag}> in {body}"));
    let rest = &body[start + tag.len() + 2..];
    rest[..rest.find(&format!("</{tag}>")).unwrap()].to_string()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Creates a queue and its dead-letter queue (after `max_receives` receives); returns
/// (queue URL, queue ARN, DLQ URL).
pub async fn queue_with_dlq(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility_timeout: u32,
    max_receives: u32,
) -> (String, String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let dlq = client.create_queue().queue_name(format!("{name}-dlq")).send().await.unwrap();
    let dlq_url = dlq.queue_url().unwrap().to_string();
    let dlq_arn = queue_arn(client, &dlq_url).await;
    let queue = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, visibility_timeout.to_string())
        .attributes(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string()})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let url = queue.queue_url().unwrap().to_string();
    let arn = queue_arn(client, &url).await;
    (url, arn, dlq_url)
}

/// A queue's ARN.
pub async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> String {
    use aws_sdk_sqs::types::QueueAttributeName;
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone()
}

/// Every message body waiting in the queue (received and deleted).
pub async fn drain_bodies(client: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let received = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if received.messages().is_empty() {
            return bodies;
        }
        for message in received.messages() {
            bodies.push(message.body().unwrap_or_default().to_string());
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// `SELECT count(*), count(DISTINCT eventid)` over the lake's events table.
pub async fn lake_counts(location: &lake::LakeLocation) -> (i64, i64) {
    let ctx = datafusion::prelude::SessionContext::new();
    lake::table::LakeTables::new(location.clone()).register(&ctx).await.unwrap();
    let batches = ctx
        .sql("SELECT count(*), count(DISTINCT eventid) FROM cloudtrail")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let value = |column: usize| {
        batches[0]
            .column(column)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .value(0)
    };
    (value(0), value(1))
}
