//! Lambda mode end to end: the `trailhound` binary started as Lambda starts it (no
//! arguments, `AWS_LAMBDA_RUNTIME_API` set) against a local emulation of the Lambda runtime
//! API (an HTTP server on 127.0.0.1), with S3, Secrets Manager and SSM served by the AWS
//! emulator. SQS batches go in as invocations; partial batch failures, redelivery, a
//! non-SQS event, remote rules and sinks files, and a start-up failure are checked from what
//! the function answers and what it leaves in the lake.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use lake::LakeLocation;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the runtime emulation saw: posted responses and errors by request id.
#[derive(Default)]
struct Runtime {
    /// Events still to hand out, in order.
    pending: Vec<Value>,
    /// `(request id, "response" | "error", body)` in arrival order.
    posted: Vec<(String, String, Value)>,
    /// An init error, if the function reported one.
    init_error: Option<Value>,
    next_id: usize,
}

/// Serves the runtime API: `invocation/next` hands out the pending events (and then never
/// answers, as Lambda freezes an idle function), posts are recorded.
async fn serve_runtime(listener: TcpListener, runtime: Arc<Mutex<Runtime>>) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let runtime = runtime.clone();
        tokio::spawn(async move {
            let (method, target, _, body, mut stream) = read_request(stream).await;
            let reply = |status: &str, headers: &str, body: &str| {
                format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\n{headers}Connection: close\r\n\r\n{body}",
                    body.len()
                )
            };
            let response = if method == "GET" && target.ends_with("/runtime/invocation/next") {
                let event = {
                    let mut runtime = runtime.lock().unwrap();
                    if runtime.pending.is_empty() {
                        None
                    } else {
                        runtime.next_id += 1;
                        Some((format!("req-{}", runtime.next_id), runtime.pending.remove(0)))
                    }
                };
                match event {
                    Some((id, event)) => reply(
                        "200 OK",
                        &format!(
                            "Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: 9999999999999\r\n"
                        ),
                        &event.to_string(),
                    ),
                    None => {
                        std::future::pending::<()>().await;
                        unreachable!()
                    }
                }
            } else if method == "POST" {
                let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
                let mut runtime = runtime.lock().unwrap();
                if target.ends_with("/runtime/init/error") {
                    runtime.init_error = Some(body);
                } else {
                    let parts: Vec<&str> = target.rsplit('/').take(2).collect();
                    runtime.posted.push((parts[1].to_string(), parts[0].to_string(), body));
                }
                reply("202 Accepted", "", "{}")
            } else {
                reply("404 Not Found", "", "{}")
            };
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

/// Reads one request: method, target, headers (lower-case names), body, and the stream.
async fn read_request(
    stream: tokio::net::TcpStream,
) -> (String, String, HashMap<String, String>, String, tokio::net::TcpStream) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await.unwrap();
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length = headers.get("content-length").map_or(0, |length| length.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.unwrap();
    (method, target, headers, String::from_utf8(body).unwrap(), reader.into_inner())
}

/// A webhook receiver keeping each alert with whether its signature is the HMAC of the
/// body under `key`.
async fn serve_webhook(
    listener: TcpListener,
    key: &'static str,
    received: Arc<Mutex<Vec<(Value, bool)>>>,
) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let received = received.clone();
        tokio::spawn(async move {
            let (_, _, headers, body, mut stream) = read_request(stream).await;
            let signed = headers.get("x-trailhound-signature")
                == Some(&pipeline::sinks::formats::signature(key.as_bytes(), body.as_bytes()));
            received.lock().unwrap().push((serde_json::from_str(&body).unwrap(), signed));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        });
    }
}

fn sample_records() -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/cloudtrail/AWSLogs");
    let mut records = Vec::new();
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() && entry.path().to_string_lossy().contains("/CloudTrail/") {
            let bytes = std::fs::read(entry.path()).unwrap();
            let mut text = String::new();
            if bytes.starts_with(&[0x1f, 0x8b]) {
                std::io::Read::read_to_string(
                    &mut flate2::read::GzDecoder::new(&bytes[..]),
                    &mut text,
                )
                .unwrap();
            } else {
                text = String::from_utf8(bytes).unwrap();
            }
            let document: Value = serde_json::from_str(&text).unwrap();
            records.extend(document["Records"].as_array().unwrap().iter().cloned());
        }
    }
    records
}

fn gzip(records: &[Value]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(json!({ "Records": records }).to_string().as_bytes()).unwrap();
    encoder.finish().unwrap()
}

fn s3_notification(bucket: &str, key: &str) -> String {
    json!({ "Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2025-03-09T16:40:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": { "s3SchemaVersion": "1.0", "bucket": { "name": bucket, "arn": format!("arn:aws:s3:::{bucket}") },
                "object": { "key": key } }
    }]})
    .to_string()
}

fn sqs_event(messages: &[(&str, String)]) -> Value {
    json!({ "Records": messages.iter().map(|(id, body)| json!({
        "messageId": id, "receiptHandle": format!("handle-{id}"), "body": body,
        "attributes": { "ApproximateReceiveCount": "1" }, "messageAttributes": {},
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:trail", "awsRegion": "us-east-1"
    })).collect::<Vec<_>>() })
}

/// A JSON-protocol AWS call; the emulator routes it by the service in the credential scope.
fn aws_json(target: &str, body: Value) -> Value {
    let service = if target.starts_with("AmazonSSM") { "ssm" } else { "secretsmanager" };
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=test/20250309/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    let (status, text) = common::http(
        "POST",
        "/",
        &[
            ("X-Amz-Target", target),
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Authorization", &authorization),
        ],
        &body.to_string(),
    );
    assert_eq!(status, 200, "{target}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn start_function(runtime_address: &str, envs: &[(&str, String)], work: &Path) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trailhound"));
    command
        .env("AWS_LAMBDA_RUNTIME_API", runtime_address)
        .env("HOME", work)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("function.log")).unwrap());
    for (name, value) in envs {
        command.env(name, value);
    }
    command.spawn().unwrap()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool, child: &mut Child, work: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what}: the function exited with {status}: {}", log(work));
        }
        assert!(Instant::now() < deadline, "{what}: timed out: {}", log(work));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn log(work: &Path) -> String {
    std::fs::read_to_string(work.join("function.log")).unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs the AWS emulator: run by scripts/test-all.sh"]
async fn lambda_mode_handles_sqs_batches_with_partial_failures() {
    let work = tempfile::tempdir().unwrap();
    let suffix = std::process::id();
    let (trail, lake_bucket) = (format!("lambda-trail-{suffix}"), format!("lambda-lake-{suffix}"));
    common::create_bucket(&trail);
    common::create_bucket(&lake_bucket);

    // Three log files holding every sample record.
    let records = sample_records();
    let chunks: Vec<&[Value]> = records.chunks(records.len().div_ceil(3)).collect();
    let trail_store = LakeLocation::open(&format!("s3://{trail}")).unwrap();
    let keys: Vec<String> = (0..chunks.len())
        .map(|index| {
            format!("AWSLogs/012345678901/CloudTrail/us-east-1/2025/03/09/file{index}.json.gz")
        })
        .collect();
    for (key, chunk) in keys.iter().zip(&chunks) {
        trail_store
            .store()
            .put(&ObjectPath::from(key.as_str()), PutPayload::from(gzip(chunk)))
            .await
            .unwrap();
    }

    // The webhook's URL in Secrets Manager and its signing key in SSM; the sinks file and
    // the rules in S3, as the Terraform module deploys them.
    let webhook = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let webhook_url = format!("http://{}/alerts", webhook.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(serve_webhook(webhook, "s3cr3t", received.clone()));
    let secret = aws_json(
        "secretsmanager.CreateSecret",
        json!({ "Name": format!("webhook-{suffix}"), "SecretString": webhook_url }),
    );
    let parameter_name = format!("/trailhound/{suffix}/signing-key");
    aws_json(
        "AmazonSSM.PutParameter",
        json!({ "Name": parameter_name, "Value": "s3cr3t", "Type": "SecureString" }),
    );
    let parameter = aws_json("AmazonSSM.GetParameter", json!({ "Name": parameter_name }));
    let lake_store = LakeLocation::open(&format!("s3://{lake_bucket}")).unwrap();
    let sinks = "[[sink]]\nname = \"soc\"\ntype = \"webhook\"\nurl_env = \"HOOK_URL\"\nsecret_env = \"HOOK_KEY\"\nallow_addresses = [\"127.0.0.1/32\"]\n";
    lake_store
        .store()
        .put(&ObjectPath::from("_config/sinks.toml"), PutPayload::from(sinks.as_bytes().to_vec()))
        .await
        .unwrap();
    let rules_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql-rules");
    for entry in walkdir::WalkDir::new(&rules_root) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let relative =
                entry.path().strip_prefix(&rules_root).unwrap().to_string_lossy().to_string();
            let bytes = std::fs::read(entry.path()).unwrap();
            lake_store
                .store()
                .put(
                    &ObjectPath::from(format!("_config/rules/{relative}")),
                    PutPayload::from(bytes),
                )
                .await
                .unwrap();
        }
    }

    let batch = |messages: &[(&str, String)]| sqs_event(messages);
    let runtime = Arc::new(Mutex::new(Runtime {
        pending: vec![
            batch(&[
                ("m1", s3_notification(&trail, &keys[0])),
                ("bad", "this is not a notification".into()),
            ]),
            batch(&[
                ("m2", s3_notification(&trail, &keys[1])),
                ("m3", s3_notification(&trail, &keys[2])),
                (
                    "test",
                    json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": trail})
                        .to_string(),
                ),
            ]),
            json!({ "detail-type": "Scheduled Event" }),
            // SQS delivers at least once: the first batch again.
            batch(&[("m1", s3_notification(&trail, &keys[0]))]),
        ],
        ..Runtime::default()
    }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve_runtime(listener, runtime.clone()));
    let mut child = start_function(
        &address,
        &[
            ("TRAILHOUND_LAKE", format!("s3://{lake_bucket}/lake")),
            ("TRAILHOUND_RULES", format!("s3://{lake_bucket}/_config/rules")),
            ("TRAILHOUND_SINKS", format!("s3://{lake_bucket}/_config/sinks.toml")),
            ("TRAILHOUND_ALERTS", work.path().join("alerts.jsonl").display().to_string()),
            ("TRAILHOUND_LATENESS", "24h".into()),
            // As the Terraform module sets them: the queue is the mapping's, logs are JSON.
            (
                "TRAILHOUND_SQS_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/000000000000/trail".into(),
            ),
            ("TRAILHOUND_LOG_FORMAT", "json".into()),
            (
                "TRAILHOUND_SECRETS",
                json!({ "HOOK_URL": secret["ARN"], "HOOK_KEY": parameter["Parameter"]["ARN"] })
                    .to_string(),
            ),
        ],
        work.path(),
    );
    let posted = || runtime.lock().unwrap().posted.clone();
    wait_for("four invocations", || posted().len() == 4, &mut child, work.path()).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let by_id: HashMap<String, (String, Value)> =
        posted().into_iter().map(|(id, kind, body)| (id, (kind, body))).collect();
    assert_eq!(
        by_id["req-1"],
        ("response".to_string(), json!({ "batchItemFailures": [{ "itemIdentifier": "bad" }] })),
        "only the message that is not a notification fails"
    );
    assert_eq!(by_id["req-2"], ("response".to_string(), json!({ "batchItemFailures": [] })));
    assert_eq!(by_id["req-3"].0, "error", "a non-SQS event is an invocation error");
    assert!(by_id["req-3"].1["errorMessage"].as_str().unwrap().contains("not an SQS batch"));
    assert_eq!(by_id["req-4"], ("response".to_string(), json!({ "batchItemFailures": [] })));

    // Every record once, although the first file was delivered twice.
    let lake = LakeLocation::open(&format!("s3://{lake_bucket}/lake")).unwrap();
    let (rows, distinct) = common::lake_counts(&lake).await;
    let expected: BTreeSet<&str> = records.iter().filter_map(|r| r["eventID"].as_str()).collect();
    assert_eq!((rows, distinct), (expected.len() as i64, expected.len() as i64));

    let alerts: Vec<Value> = std::fs::read_to_string(work.path().join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(!alerts.is_empty(), "the samples' attack stories raise alerts: {}", log(work.path()));
    let ids: BTreeSet<&str> =
        alerts.iter().map(|alert| alert["alert_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), alerts.len(), "no alert twice despite the redelivery");
    // The webhook, whose address and key came from Secrets Manager and SSM, got them all,
    // signed with the key.
    assert!(received.lock().unwrap().iter().all(|(_, signed)| *signed));
    let delivered: BTreeSet<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(alert, _)| alert["alert_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(delivered, ids.iter().map(|id| id.to_string()).collect(), "{}", log(work.path()));
}

#[tokio::test]
#[ignore = "needs the AWS emulator: run by scripts/test-all.sh"]
async fn a_broken_rule_is_reported_as_an_init_error() {
    let work = tempfile::tempdir().unwrap();
    let rules: PathBuf = work.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("broken.sql"), "/*\nid = \"x\"\n*/\nSELECT * FROM nowhere").unwrap();
    let runtime = Arc::new(Mutex::new(Runtime::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve_runtime(listener, runtime.clone()));
    let mut child = start_function(
        &address,
        &[
            ("TRAILHOUND_LAKE", work.path().join("lake").display().to_string()),
            ("TRAILHOUND_RULES", rules.display().to_string()),
        ],
        work.path(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the function kept running: {}", log(work.path()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    let error = runtime.lock().unwrap().init_error.clone().expect("an init error was posted");
    assert_eq!(error["errorType"], "InitError");
    assert!(error["errorMessage"].as_str().unwrap().contains("broken.sql"), "{error}");
}
