//! SQS message bodies that announce CloudTrail log objects in S3: what to fetch, what to
//! acknowledge without fetching, and what to leave on the queue (for its dead-letter queue).
//!
//! Accepted shapes: S3 event notifications (sent directly, through SNS, or through SNS with
//! raw message delivery), the `s3:TestEvent` S3 sends when a notification is configured,
//! EventBridge `Object Created` events, CloudTrail's own SNS file notifications and SNS
//! subscription confirmations. Anything else is an error naming the shape it had.

use std::path::Path;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::sources::files::skip_by_path;

/// An S3 object a notification announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Object key, decoded (S3 event notifications URL-encode it).
    pub key: String,
    /// Size in bytes, when the notification gives it.
    pub size: Option<u64>,
    /// ETag, as the notification gives it.
    pub etag: Option<String>,
    /// Version id, for versioned buckets.
    pub version_id: Option<String>,
}

/// What an SQS message announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Log objects to fetch, in the order the message lists them.
    Objects(Vec<ObjectRef>),
    /// An `s3:TestEvent`, sent when a bucket notification is configured: acknowledge it.
    TestEvent,
    /// A valid notification that announces nothing to read (an object removal, digest files
    /// only, an SNS subscription confirmation): acknowledge it.
    Ignored {
        /// Why nothing is read.
        reason: String,
    },
}

/// Why a message body is not a notification this reader understands. The message must stay
/// on the queue (and end in its dead-letter queue) rather than be deleted.
#[derive(Debug, Error)]
pub enum NotificationError {
    /// The body, or a JSON document embedded in it, is not JSON.
    #[error("{context} is not valid JSON: {source}")]
    Json {
        /// Which document: the message body or an SNS `Message`.
        context: &'static str,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },

    /// The JSON is not an object.
    #[error("{context} is a JSON {found}, not an object")]
    NotAnObject {
        /// Which document: the message body or an SNS `Message`.
        context: &'static str,
        /// The JSON type found.
        found: &'static str,
    },

    /// A JSON object of no known notification shape.
    #[error("{context} has an unknown shape, with top-level keys [{}]", keys.join(", "))]
    UnknownShape {
        /// Which document: the message body or an SNS `Message`.
        context: &'static str,
        /// Its top-level keys, sorted.
        keys: Vec<String>,
    },

    /// An SNS envelope of a type that carries no notification.
    #[error("SNS envelope of unexpected Type '{sns_type}'")]
    SnsType {
        /// The envelope's `Type`.
        sns_type: String,
    },

    /// An EventBridge event that is not an S3 object event, such as an
    /// `AWS API Call via CloudTrail` event routed to a queue meant for log files.
    #[error(
        "EventBridge event with detail-type '{detail_type}' from source '{source_name}' is not an S3 object notification"
    )]
    EventBridge {
        /// The event's `detail-type`.
        detail_type: String,
        /// The event's `source`.
        source_name: String,
    },

    /// A `Records` entry that is not an S3 event (a CloudTrail log file itself has a
    /// `Records` array too).
    #[error("Records[{index}] has eventSource '{event_source}', not an S3 event notification")]
    NotS3Record {
        /// Position in `Records`.
        index: usize,
        /// Its `eventSource`, or `(none)`.
        event_source: String,
    },

    /// A notification that lists no objects at all.
    #[error("{shape} lists no objects")]
    Empty {
        /// The notification's shape.
        shape: &'static str,
    },

    /// A field is missing or has the wrong type.
    #[error("{shape}: field '{field}' is missing or not {expected}")]
    Field {
        /// Where the field is, e.g. `Records[0]`.
        shape: String,
        /// The field's path.
        field: &'static str,
        /// What was expected, e.g. `a string`.
        expected: &'static str,
    },

    /// An S3 event notification's object key is not valid URL encoding.
    #[error("object key '{key}' is not valid URL encoding: {reason}")]
    KeyEncoding {
        /// The key as received.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

const BODY: &str = "message body";
const SNS_MESSAGE: &str = "SNS Message";

/// Reads an SQS message body. `Ok` means the message may be deleted once its objects, if
/// any, are read; `Err` means it must not be deleted.
pub fn parse_notification(body: &str) -> Result<Notification, NotificationError> {
    parse_document(body, BODY)
}

fn parse_document(text: &str, context: &'static str) -> Result<Notification, NotificationError> {
    let value: Value =
        serde_json::from_str(text).map_err(|source| NotificationError::Json { context, source })?;
    let Value::Object(object) = value else {
        return Err(NotificationError::NotAnObject { context, found: json_type(&value) });
    };
    if object.contains_key("Type") && object.contains_key("TopicArn") {
        sns_envelope(&object)
    } else if let Some(records) = object.get("Records") {
        s3_records(records)
    } else if object.get("Service").and_then(Value::as_str) == Some("Amazon S3")
        && object.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
    {
        Ok(Notification::TestEvent)
    } else if object.contains_key("detail-type") && object.contains_key("source") {
        eventbridge(&object)
    } else if object.contains_key("s3Bucket") && object.contains_key("s3ObjectKey") {
        cloudtrail_file_notification(&object)
    } else {
        Err(NotificationError::UnknownShape { context, keys: object.keys().cloned().collect() })
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn sns_envelope(object: &Map<String, Value>) -> Result<Notification, NotificationError> {
    let sns_type = required_str(object, "Type", "SNS envelope")?;
    match sns_type {
        "Notification" => {
            let message = required_str(object, "Message", "SNS envelope")?;
            parse_document(message, SNS_MESSAGE)
        }
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
            Ok(Notification::Ignored { reason: format!("SNS {sns_type}") })
        }
        _ => Err(NotificationError::SnsType { sns_type: sns_type.to_string() }),
    }
}

/// S3 event notification records. Only `ObjectCreated:*` events announce objects; their keys
/// are URL-encoded.
fn s3_records(records: &Value) -> Result<Notification, NotificationError> {
    let Some(records) = records.as_array() else {
        return Err(field_error("S3 event notification", "Records", "an array"));
    };
    if records.is_empty() {
        return Err(NotificationError::Empty { shape: "S3 event notification" });
    }
    let mut objects = Vec::new();
    let mut other_events = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let shape = format!("Records[{index}]");
        let event_source = record.get("eventSource").and_then(Value::as_str);
        if event_source != Some("aws:s3") {
            return Err(NotificationError::NotS3Record {
                index,
                event_source: event_source.unwrap_or("(none)").to_string(),
            });
        }
        let event_name = pointer_str(record, "/eventName", "eventName", &shape)?;
        if !event_name.starts_with("ObjectCreated:") {
            other_events.push(event_name.to_string());
            continue;
        }
        let encoded_key = pointer_str(record, "/s3/object/key", "s3.object.key", &shape)?;
        objects.push(ObjectRef {
            bucket: pointer_str(record, "/s3/bucket/name", "s3.bucket.name", &shape)?.to_string(),
            key: decode_key(encoded_key)?,
            size: optional_u64(record, "/s3/object/size", "s3.object.size", &shape)?,
            etag: optional_str(record, "/s3/object/eTag", "s3.object.eTag", &shape)?,
            version_id: optional_str(
                record,
                "/s3/object/versionId",
                "s3.object.versionId",
                &shape,
            )?,
        });
    }
    if objects.is_empty() {
        other_events.dedup();
        return Ok(Notification::Ignored {
            reason: format!("no ObjectCreated events, only {}", other_events.join(", ")),
        });
    }
    Ok(without_digests(objects))
}

/// EventBridge events from S3. `Object Created` announces an object (its key is not
/// encoded); other S3 events announce nothing to read; events from other sources are errors.
fn eventbridge(object: &Map<String, Value>) -> Result<Notification, NotificationError> {
    const SHAPE: &str = "EventBridge event";
    let detail_type = required_str(object, "detail-type", SHAPE)?;
    let source = required_str(object, "source", SHAPE)?;
    if source != "aws.s3" {
        return Err(NotificationError::EventBridge {
            detail_type: detail_type.to_string(),
            source_name: source.to_string(),
        });
    }
    if detail_type != "Object Created" {
        return Ok(Notification::Ignored {
            reason: format!("EventBridge S3 '{detail_type}' event"),
        });
    }
    let Some(detail) = object.get("detail") else {
        return Err(field_error(SHAPE, "detail", "an object"));
    };
    Ok(without_digests(vec![ObjectRef {
        bucket: pointer_str(detail, "/bucket/name", "detail.bucket.name", SHAPE)?.to_string(),
        key: pointer_str(detail, "/object/key", "detail.object.key", SHAPE)?.to_string(),
        size: optional_u64(detail, "/object/size", "detail.object.size", SHAPE)?,
        etag: optional_str(detail, "/object/etag", "detail.object.etag", SHAPE)?,
        version_id: optional_str(detail, "/object/version-id", "detail.object.version-id", SHAPE)?,
    }]))
}

/// CloudTrail's SNS notification of delivered log files: a bucket and its (unencoded) keys.
fn cloudtrail_file_notification(
    object: &Map<String, Value>,
) -> Result<Notification, NotificationError> {
    const SHAPE: &str = "CloudTrail file notification";
    let bucket = required_str(object, "s3Bucket", SHAPE)?;
    let keys = object
        .get("s3ObjectKey")
        .and_then(Value::as_array)
        .and_then(|keys| keys.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
        .ok_or_else(|| field_error(SHAPE, "s3ObjectKey", "an array of strings"))?;
    if keys.is_empty() {
        return Err(NotificationError::Empty { shape: SHAPE });
    }
    Ok(without_digests(
        keys.into_iter()
            .map(|key| ObjectRef {
                bucket: bucket.to_string(),
                key: key.to_string(),
                size: None,
                etag: None,
                version_id: None,
            })
            .collect(),
    ))
}

/// Drops digest and Insights files, which hold no events; `Ignored` when nothing remains.
fn without_digests(mut objects: Vec<ObjectRef>) -> Notification {
    objects.retain(|object| skip_by_path(Path::new(&object.key)).is_none());
    if objects.is_empty() {
        Notification::Ignored { reason: "digest/insights only".to_string() }
    } else {
        Notification::Objects(objects)
    }
}

/// Decodes an S3 event notification key: `+` is a space, `%XX` a byte, and the bytes are
/// UTF-8.
fn decode_key(encoded: &str) -> Result<String, NotificationError> {
    let invalid =
        |reason: String| NotificationError::KeyEncoding { key: encoded.to_string(), reason };
    let input = encoded.as_bytes();
    let mut bytes = Vec::with_capacity(input.len());
    let mut position = 0;
    while position < input.len() {
        match input[position] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let byte = input
                    .get(position + 1..position + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| {
                        invalid(format!("'%' at byte {position} is not followed by two hex digits"))
                    })?;
                bytes.push(byte);
                position += 2;
            }
            other => bytes.push(other),
        }
        position += 1;
    }
    String::from_utf8(bytes).map_err(|error| invalid(format!("decoded bytes: {error}")))
}

fn field_error(shape: &str, field: &'static str, expected: &'static str) -> NotificationError {
    NotificationError::Field { shape: shape.to_string(), field, expected }
}

fn required_str<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
    shape: &str,
) -> Result<&'a str, NotificationError> {
    object.get(field).and_then(Value::as_str).ok_or_else(|| field_error(shape, field, "a string"))
}

fn pointer_str<'a>(
    value: &'a Value,
    pointer: &str,
    field: &'static str,
    shape: &str,
) -> Result<&'a str, NotificationError> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| field_error(shape, field, "a string"))
}

/// An optional string field: absent or null is `None`, another type is an error.
fn optional_str(
    value: &Value,
    pointer: &str,
    field: &'static str,
    shape: &str,
) -> Result<Option<String>, NotificationError> {
    match value.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(field_error(shape, field, "a string")),
    }
}

/// An optional size field: absent or null is `None`, anything but a non-negative integer is
/// an error.
fn optional_u64(
    value: &Value,
    pointer: &str,
    field: &'static str,
    shape: &str,
) -> Result<Option<u64>, NotificationError> {
    match value.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(found) => found
            .as_u64()
            .map(Some)
            .ok_or_else(|| field_error(shape, field, "a non-negative integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/external/iota-testdata/internal/events/testdata")
            .join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
    }

    fn objects(body: &str) -> Vec<ObjectRef> {
        match parse_notification(body) {
            Ok(Notification::Objects(objects)) => objects,
            other => panic!("expected objects, got {other:?}"),
        }
    }

    fn ignored_reason(body: &str) -> String {
        match parse_notification(body) {
            Ok(Notification::Ignored { reason }) => reason,
            other => panic!("expected Ignored, got {other:?}"),
        }
    }

    fn error_text(body: &str) -> String {
        match parse_notification(body) {
            Err(error) => error.to_string(),
            Ok(notification) => panic!("expected an error, got {notification:?}"),
        }
    }

    /// An S3 event record as S3 sends it, with the key as given (already encoded).
    fn s3_record(event_name: &str, key: &str) -> String {
        format!(
            r#"{{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
            "eventTime":"2026-04-02T19:34:18.137Z","eventName":"{event_name}",
            "s3":{{"s3SchemaVersion":"1.0","configurationId":"cfg",
            "bucket":{{"name":"trail-bucket","arn":"arn:aws:s3:::trail-bucket"}},
            "object":{{"key":"{key}","size":11103,"eTag":"8457280e4d04ea249b04c991dc93f3d2",
            "versionId":"3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY","sequencer":"0069CEC4BA19FE4410"}}}}}}"#
        )
    }

    fn s3_event(records: &[String]) -> String {
        format!(r#"{{"Records":[{}]}}"#, records.join(","))
    }

    /// An SNS envelope carrying `message` as its (string) `Message`.
    fn sns(message: &str) -> String {
        serde_json::json!({
            "Type": "Notification",
            "MessageId": "08a2bee8-276c-58fd-9755-dca0e197bbd7",
            "TopicArn": "arn:aws:sns:us-east-1:111122223333:trail-topic",
            "Subject": "Amazon S3 Notification",
            "Message": message,
            "Timestamp": "2026-04-02T19:34:19.002Z",
            "SignatureVersion": "1",
            "Signature": "sig",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
        })
        .to_string()
    }

    const LOG_KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/04/02/111122223333_CloudTrail_us-east-1_20260402T1935Z_a.json.gz";
    const DIGEST_KEY: &str = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/04/02/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20260402T193500Z.json.gz";
    const INSIGHT_KEY: &str = "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/04/02/111122223333_CloudTrail-Insight_us-east-1_20260402T1935Z_b.json.gz";

    #[test]
    fn direct_s3_event_sample() {
        let found = objects(&testdata("sqs/direct_s3_object_created_put.json"));
        assert_eq!(
            found,
            vec![ObjectRef {
                bucket: "direct-cloudtrail-bucket".to_string(),
                key: "AWSLogs/111122223333/CloudTrail/us-east-1/2026/04/02/direct_key.json.gz"
                    .to_string(),
                size: None,
                etag: None,
                version_id: None,
            }]
        );
    }

    #[test]
    fn sns_envelope_sample() {
        let found = objects(&testdata("sqs/sns_envelope_object_created_put.json"));
        assert_eq!(
            found,
            vec![ObjectRef {
                bucket: "iota-cloudtrail-test-us-east-1".to_string(),
                key: "AWSLogs/111122223333/CloudTrail/us-east-1/2026/04/02/111122223333_CloudTrail_us-east-1_20260402T1935Z_smoke.json.gz".to_string(),
                size: Some(11103),
                etag: Some("8457280e4d04ea249b04c991dc93f3d2".to_string()),
                version_id: None,
            }]
        );
    }

    #[test]
    fn test_event_through_sns_sample_and_direct() {
        assert_eq!(
            parse_notification(&testdata("sqs/sns_envelope_s3_test_event.json")).unwrap(),
            Notification::TestEvent
        );
        let direct = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-04-02T19:30:48.360Z",
            "Bucket":"trail-bucket","RequestId":"REQ","HostId":"HID"}"#;
        assert_eq!(parse_notification(direct).unwrap(), Notification::TestEvent);
    }

    #[test]
    fn eventbridge_cloudtrail_api_call_sample_is_an_error_naming_it() {
        let text = error_text(&testdata("eventbridge/envelope_cloudtrail_api_call.json"));
        assert!(text.contains("AWS API Call via CloudTrail"), "{text}");
        assert!(text.contains("aws.cloudtrail"), "{text}");
    }

    #[test]
    fn direct_record_with_all_fields() {
        let found = objects(&s3_event(&[s3_record("ObjectCreated:Put", LOG_KEY)]));
        assert_eq!(
            found,
            vec![ObjectRef {
                bucket: "trail-bucket".to_string(),
                key: LOG_KEY.to_string(),
                size: Some(11103),
                etag: Some("8457280e4d04ea249b04c991dc93f3d2".to_string()),
                version_id: Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY".to_string()),
            }]
        );
    }

    #[test]
    fn several_records_give_several_objects() {
        let body = s3_event(&[
            s3_record("ObjectCreated:Put", "AWSLogs/1/CloudTrail/a.json.gz"),
            s3_record("ObjectCreated:CompleteMultipartUpload", "AWSLogs/1/CloudTrail/b.json.gz"),
            s3_record("ObjectRemoved:Delete", "AWSLogs/1/CloudTrail/c.json.gz"),
            s3_record("ObjectCreated:Copy", "AWSLogs/1/CloudTrail/d.json.gz"),
        ]);
        let keys: Vec<String> = objects(&body).into_iter().map(|o| o.key).collect();
        assert_eq!(
            keys,
            [
                "AWSLogs/1/CloudTrail/a.json.gz",
                "AWSLogs/1/CloudTrail/b.json.gz",
                "AWSLogs/1/CloudTrail/d.json.gz"
            ]
        );
    }

    #[test]
    fn keys_are_url_decoded() {
        let cases = [
            ("AWSLogs/a%3Ab+c.json.gz", "AWSLogs/a:b c.json.gz"),
            // The moto emulator encodes `/` too.
            (
                "AWSLogs%2F111122223333%2FCloudTrail%2Fx.json.gz",
                "AWSLogs/111122223333/CloudTrail/x.json.gz",
            ),
            ("AWSLogs/caf%C3%A9/%e2%82%ac.json.gz", "AWSLogs/café/€.json.gz"),
            ("AWSLogs/100%25+sure%2B.json.gz", "AWSLogs/100% sure+.json.gz"),
        ];
        for (encoded, decoded) in cases {
            let found = objects(&s3_event(&[s3_record("ObjectCreated:Put", encoded)]));
            assert_eq!(found[0].key, decoded, "{encoded}");
        }
    }

    #[test]
    fn invalid_percent_encoding_is_an_error() {
        for key in ["AWSLogs/a%3", "AWSLogs/a%zz.json", "AWSLogs/%", "AWSLogs/%C3%28.json"] {
            let text = error_text(&s3_event(&[s3_record("ObjectCreated:Put", key)]));
            assert!(text.contains("not valid URL encoding"), "{key}: {text}");
            assert!(text.contains(key), "{key}: {text}");
        }
    }

    #[test]
    fn sns_wrapped_s3_event_is_decoded_like_a_direct_one() {
        let body = sns(&s3_event(&[s3_record("ObjectCreated:Put", "AWSLogs/x%3Ay+z.json.gz")]));
        assert_eq!(objects(&body)[0].key, "AWSLogs/x:y z.json.gz");
    }

    #[test]
    fn object_removed_is_ignored() {
        let reason = ignored_reason(&s3_event(&[s3_record("ObjectRemoved:Delete", LOG_KEY)]));
        assert!(reason.contains("ObjectRemoved:Delete"), "{reason}");
        let through_sns =
            sns(&s3_event(&[s3_record("ObjectRemoved:DeleteMarkerCreated", LOG_KEY)]));
        assert!(ignored_reason(&through_sns).contains("ObjectRemoved:DeleteMarkerCreated"));
    }

    #[test]
    fn digest_and_insight_keys_are_dropped() {
        let body = s3_event(&[
            s3_record("ObjectCreated:Put", DIGEST_KEY),
            s3_record("ObjectCreated:Put", LOG_KEY),
            s3_record("ObjectCreated:Put", INSIGHT_KEY),
        ]);
        let keys: Vec<String> = objects(&body).into_iter().map(|o| o.key).collect();
        assert_eq!(keys, [LOG_KEY]);

        let only_digests = s3_event(&[
            s3_record("ObjectCreated:Put", DIGEST_KEY),
            s3_record("ObjectCreated:Put", INSIGHT_KEY),
        ]);
        assert_eq!(ignored_reason(&only_digests), "digest/insights only");
    }

    #[test]
    fn eventbridge_object_created() {
        let body = r#"{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type":"Object Created","source":"aws.s3","account":"111122223333",
            "time":"2026-04-02T19:35:00Z","region":"us-east-1",
            "resources":["arn:aws:s3:::trail-bucket"],
            "detail":{"version":"0","bucket":{"name":"trail-bucket"},
            "object":{"key":"AWSLogs/1/CloudTrail/a%3Ab+c.json.gz","size":5,"etag":"b1946ac92492d2347c6235b4d2611184",
            "version-id":"IYV3p45BT0ac8hjHg1houSdS1a.Mro8e","sequencer":"00617F08299329D189"},
            "request-id":"N4N7GDK58NMKJ12R","requester":"cloudtrail.amazonaws.com",
            "source-ip-address":"203.0.113.15","reason":"PutObject"}}"#;
        assert_eq!(
            objects(body),
            vec![ObjectRef {
                bucket: "trail-bucket".to_string(),
                // Not URL-encoded: taken as it is.
                key: "AWSLogs/1/CloudTrail/a%3Ab+c.json.gz".to_string(),
                size: Some(5),
                etag: Some("b1946ac92492d2347c6235b4d2611184".to_string()),
                version_id: Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e".to_string()),
            }]
        );
    }

    #[test]
    fn eventbridge_object_deleted_is_ignored() {
        let body = r#"{"version":"0","id":"2ee9cc15","detail-type":"Object Deleted","source":"aws.s3",
            "account":"111122223333","time":"2026-04-02T19:35:00Z","region":"us-east-1",
            "resources":["arn:aws:s3:::trail-bucket"],
            "detail":{"version":"0","bucket":{"name":"trail-bucket"},
            "object":{"key":"AWSLogs/1/CloudTrail/a.json.gz","sequencer":"00617F08299329D189"},
            "deletion-type":"Permanently Deleted","reason":"DeleteObject"}}"#;
        assert!(ignored_reason(body).contains("Object Deleted"));
    }

    #[test]
    fn cloudtrail_sns_file_notification() {
        let message = serde_json::json!({
            "s3Bucket": "trail-bucket",
            "s3ObjectKey": [LOG_KEY, "AWSLogs/1/CloudTrail/us-east-1/a%3Ab+c.json.gz", DIGEST_KEY]
        })
        .to_string();
        let found = objects(&sns(&message));
        assert_eq!(
            found,
            vec![
                ObjectRef {
                    bucket: "trail-bucket".to_string(),
                    key: LOG_KEY.to_string(),
                    size: None,
                    etag: None,
                    version_id: None,
                },
                ObjectRef {
                    bucket: "trail-bucket".to_string(),
                    // Not URL-encoded: taken as it is.
                    key: "AWSLogs/1/CloudTrail/us-east-1/a%3Ab+c.json.gz".to_string(),
                    size: None,
                    etag: None,
                    version_id: None,
                },
            ]
        );
        let digests_only =
            serde_json::json!({"s3Bucket": "trail-bucket", "s3ObjectKey": [DIGEST_KEY]})
                .to_string();
        assert_eq!(ignored_reason(&sns(&digests_only)), "digest/insights only");
    }

    #[test]
    fn sns_subscription_confirmation_is_ignored() {
        let body = r#"{"Type":"SubscriptionConfirmation","MessageId":"165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token":"2336412f37","TopicArn":"arn:aws:sns:us-east-1:111122223333:trail-topic",
            "Message":"You have chosen to subscribe to the topic arn:aws:sns:us-east-1:111122223333:trail-topic.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
            "SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            "Timestamp":"2026-04-02T19:30:00.000Z","SignatureVersion":"1","Signature":"sig",
            "SigningCertURL":"https://sns.us-east-1.amazonaws.com/SimpleNotificationService.pem"}"#;
        assert!(ignored_reason(body).contains("SubscriptionConfirmation"));
    }

    #[test]
    fn malformed_json_is_an_error() {
        let text = error_text(r#"{"Records":[{"eventSource":"aws:s3""#);
        assert!(text.starts_with("message body is not valid JSON"), "{text}");
        let text = error_text(&sns("{not json"));
        assert!(text.starts_with("SNS Message is not valid JSON"), "{text}");
        let text = error_text("[1, 2]");
        assert_eq!(text, "message body is a JSON array, not an object");
    }

    #[test]
    fn unknown_shape_names_its_top_level_keys() {
        let text = error_text(r#"{"hello":"world","answer":42}"#);
        assert_eq!(text, "message body has an unknown shape, with top-level keys [answer, hello]");
        let text = error_text(&sns(r#"{"alarm":"x"}"#));
        assert_eq!(text, "SNS Message has an unknown shape, with top-level keys [alarm]");
    }

    #[test]
    fn a_cloudtrail_log_file_is_not_a_notification() {
        let body = r#"{"Records":[{"eventVersion":"1.11","eventSource":"iam.amazonaws.com",
            "eventName":"CreateUser","awsRegion":"us-east-1"}]}"#;
        let text = error_text(body);
        assert!(text.contains("iam.amazonaws.com"), "{text}");
    }

    #[test]
    fn missing_fields_and_empty_lists_are_errors() {
        let no_bucket = r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
            "s3":{"object":{"key":"k"}}}]}"#;
        assert_eq!(
            error_text(no_bucket),
            "Records[0]: field 's3.bucket.name' is missing or not a string"
        );
        let bad_size = s3_event(&[s3_record("ObjectCreated:Put", "k")]).replace("11103", "\"big\"");
        assert!(error_text(&bad_size).contains("s3.object.size"));
        assert!(error_text(r#"{"Records":[]}"#).contains("lists no objects"));
        let empty_keys = sns(r#"{"s3Bucket":"b","s3ObjectKey":[]}"#);
        assert!(error_text(&empty_keys).contains("lists no objects"));
        let other_sns_type = r#"{"Type":"Weird","TopicArn":"arn:aws:sns:us-east-1:1:t"}"#;
        assert!(error_text(other_sns_type).contains("'Weird'"));
    }
}
