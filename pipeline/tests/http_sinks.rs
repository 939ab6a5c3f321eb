//! The webhook, Slack and PagerDuty sinks against a real HTTP receiver on 127.0.0.1 started
//! by the test: signatures, idempotency keys, retries on 500, 429 with Retry-After,
//! timeouts, a receiver that is down and comes back, permanent refusals dead-lettered, and
//! the address guard.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lake::LakeLocation;
use pipeline::alert::{Alert, Mitre};
use pipeline::detect::Severity;
use pipeline::internal_events::Counters;
use pipeline::sinks::AlertSink;
use pipeline::sinks::durable::DurableSink;
use pipeline::sinks::formats::signature;
use pipeline::sinks::http::{AddressGuard, HttpTarget, RetryPolicy};
use pipeline::sinks::http_sink::{HttpDeliverer, HttpKind, Secret};
use pipeline::sinks::routing::Route;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One scripted answer: status, extra headers, and a delay before answering.
#[derive(Clone)]
struct Answer(u16, Vec<(&'static str, &'static str)>, Duration);

/// An HTTP/1.1 receiver answering from a script (then 200), recording every request.
#[derive(Clone, Default)]
struct Receiver {
    script: Arc<Mutex<VecDeque<Answer>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(&self, listener: TcpListener) {
        let receiver = self.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let receiver = receiver.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else { return };
                    let answer = receiver.script.lock().unwrap().pop_front();
                    let Answer(status, headers, delay) =
                        answer.unwrap_or(Answer(200, vec![], Duration::ZERO));
                    receiver.received.lock().unwrap().push(request);
                    tokio::time::sleep(delay).await;
                    let body = format!("{{\"status\":{status}}}");
                    let mut response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                        body.len()
                    );
                    for (name, value) in headers {
                        response.push_str(&format!("{name}: {value}\r\n"));
                    }
                    response.push_str("\r\n");
                    response.push_str(&body);
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 8192];
    let header_end = loop {
        let read = socket.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..read]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..header_end]).to_string();
    let mut lines = head.lines();
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while data.len() < header_end + length {
        let read = socket.read(&mut buffer).await.ok()?;
        if read == 0 {
            break;
        }
        data.extend_from_slice(&buffer[..read]);
    }
    Some(Received { path, headers, body: data[header_end..].to_vec() })
}

fn alert(id: &str) -> Alert {
    Alert {
        alert_id: id.to_string(),
        rule_id: "aws.cloudtrail.stop_logging".into(),
        title: "CloudTrail logging stopped".into(),
        severity: Severity::High,
        mitre: Mitre { tactics: vec!["TA0005".into()], techniques: vec!["T1562.008".into()] },
        dedup_key: None,
        event_ids: vec!["8c2bd1d4-0f37-4c9c-9a4f-6c3c2d7d1e11".into()],
        first_event_time: "2025-03-09T16:39:48.000Z".into(),
        last_event_time: "2025-03-09T16:39:48.000Z".into(),
        count: 1,
        actor: Some("arn:aws:iam::012345678901:user/mallory".into()),
        account: Some("012345678901".into()),
        region: Some("eu-west-1".into()),
        source_ip: Some("203.0.113.9".into()),
        runbook: Some("Restart logging on the trail <name> & review the caller.".into()),
        fields: None,
        events: vec![],
        enrichment: None,
    }
}

struct Setup {
    receiver: Receiver,
    url: String,
    dead_letters: tempfile::TempDir,
    counters: Arc<Counters>,
}

async fn setup() -> Setup {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook/T0K3N", listener.local_addr().unwrap());
    let receiver = Receiver::default();
    receiver.start(listener).await;
    Setup { receiver, url, dead_letters: tempfile::tempdir().unwrap(), counters: Arc::default() }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(2),
    }
}

fn sink(
    setup: &Setup,
    kind: HttpKind,
    url: &str,
    guard: AddressGuard,
    timeout: Duration,
) -> DurableSink {
    let target = HttpTarget::new(url, timeout, guard).unwrap();
    DurableSink::new(
        "test-sink",
        Box::new(HttpDeliverer::new(kind, target, fast_retries())),
        Route::default(),
        LakeLocation::open(setup.dead_letters.path().to_str().unwrap()).unwrap(),
        setup.counters.clone(),
    )
    .with_takeover(Duration::ZERO)
}

fn loopback() -> AddressGuard {
    AddressGuard::new(&["127.0.0.1".to_string()]).unwrap()
}

fn webhook() -> HttpKind {
    HttpKind::Webhook {
        headers: vec![("X-Team".into(), "security".into())],
        secret: Some(Secret::new("s3cret".into())),
    }
}

fn dead_letters(setup: &Setup) -> Vec<Value> {
    let dir = setup.dead_letters.path().join("_dead_letter/test-sink");
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    entries
        .map(|entry| {
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn webhook_posts_the_signed_alert_with_its_idempotency_key() {
    let setup = setup().await;
    let mut sink = sink(&setup, webhook(), &setup.url, loopback(), Duration::from_secs(5));
    sink.send(&alert("a1")).await.unwrap();
    sink.send(&alert("a2")).await.unwrap();
    sink.flush().await.unwrap();
    let received = setup.receiver.received();
    assert_eq!(received.len(), 2);
    for (request, id) in received.iter().zip(["a1", "a2"]) {
        assert_eq!(request.path, "/hook/T0K3N");
        let body: Alert = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body, alert(id));
        assert_eq!(request.header("Idempotency-Key"), Some(id));
        assert_eq!(request.header("X-Team"), Some("security"));
        assert_eq!(request.header("Content-Type"), Some("application/json"));
        let expected = signature(b"s3cret", &request.body);
        assert_eq!(request.header("X-Trailhound-Signature"), Some(expected.as_str()));
        assert!(expected.starts_with("sha256=") && expected.len() == 7 + 64);
    }
    assert_eq!(setup.counters.sink_sent.lock().unwrap()["test-sink"], 2);
}

#[tokio::test]
async fn retries_500s_and_honours_retry_after() {
    // The same failures against a webhook, a Slack and a PagerDuty receiver.
    let kinds = [
        webhook(),
        HttpKind::Slack,
        HttpKind::PagerDuty { routing_key: Secret::new("R0UT1NG".into()) },
    ];
    for kind in kinds {
        let setup = setup().await;
        setup.receiver.script.lock().unwrap().extend([
            Answer(500, vec![], Duration::ZERO),
            Answer(429, vec![("Retry-After", "1")], Duration::ZERO),
            Answer(503, vec![], Duration::ZERO),
        ]);
        let mut sink = sink(&setup, kind.clone(), &setup.url, loopback(), Duration::from_secs(5));
        sink.send(&alert("a1")).await.unwrap();
        let started = Instant::now();
        sink.flush().await.unwrap();
        assert!(started.elapsed() >= Duration::from_secs(1), "{kind:?}: Retry-After ignored");
        let received = setup.receiver.received();
        assert_eq!(received.len(), 4, "{kind:?}");
        assert!(received.iter().all(|request| request.body == received[0].body), "same body");
        assert_eq!(setup.counters.sink_retries.lock().unwrap()["test-sink"], 3);
        assert!(dead_letters(&setup).is_empty());
    }
}

#[tokio::test]
async fn timeouts_are_retried() {
    let setup = setup().await;
    setup.receiver.script.lock().unwrap().push_back(Answer(200, vec![], Duration::from_secs(3)));
    let mut sink = sink(&setup, webhook(), &setup.url, loopback(), Duration::from_millis(300));
    sink.send(&alert("a1")).await.unwrap();
    sink.flush().await.unwrap();
    assert_eq!(setup.receiver.received().len(), 2, "the slow answer, then a retry");
    assert_eq!(setup.counters.sink_retries.lock().unwrap()["test-sink"], 1);
}

#[tokio::test]
async fn a_receiver_that_is_down_then_back_gets_the_alert() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut setup = setup().await;
    setup.url = format!("http://{address}/hook");
    let receiver = setup.receiver.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        receiver.start(TcpListener::bind(address).await.unwrap()).await;
    });
    let mut sink = sink(&setup, webhook(), &setup.url, loopback(), Duration::from_secs(5));
    sink.send(&alert("a1")).await.unwrap();
    sink.flush().await.unwrap();
    assert_eq!(setup.receiver.received().len(), 1);
    assert!(setup.counters.sink_retries.lock().unwrap()["test-sink"] >= 1);
}

#[tokio::test]
async fn an_outage_longer_than_the_retries_keeps_alerts_in_the_outbox_until_a_restart() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut setup = setup().await;
    setup.url = format!("http://{address}/hook/T0K3N");
    let mut down = sink(&setup, webhook(), &setup.url, loopback(), Duration::from_secs(1));
    down.send(&alert("a1")).await.unwrap();
    down.send(&alert("a2")).await.unwrap();
    // The receiver stays down: the flush succeeds (the alerts are durable), nothing is lost.
    down.flush().await.unwrap();
    drop(down);
    let outbox = setup.dead_letters.path().join("_outbox/test-sink");
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 2);
    assert_eq!(setup.counters.sink_queue_depth.lock().unwrap()["test-sink"], 2);
    // One failed delivery: the second alert is not tried against a receiver known down.
    assert_eq!(setup.counters.sink_failures.lock().unwrap()["test-sink"], 1);

    // A restarted process, the receiver back: each alert arrives once, the outbox empties.
    setup.receiver.start(TcpListener::bind(address).await.unwrap()).await;
    let mut restarted = sink(&setup, webhook(), &setup.url, loopback(), Duration::from_secs(1));
    restarted.flush().await.unwrap();
    let ids: Vec<String> = setup
        .receiver
        .received()
        .iter()
        .map(|request| request.header("Idempotency-Key").unwrap().to_string())
        .collect();
    assert_eq!(ids, ["a1", "a2"]);
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 0);
    assert_eq!(setup.counters.sink_queue_depth.lock().unwrap()["test-sink"], 0);
    // Flushing again sends nothing more.
    restarted.flush().await.unwrap();
    assert_eq!(setup.receiver.received().len(), 2);
}

#[tokio::test]
async fn permanent_refusals_are_dead_lettered_with_the_response() {
    let setup = setup().await;
    setup.receiver.script.lock().unwrap().push_back(Answer(400, vec![], Duration::ZERO));
    let mut sink = sink(&setup, webhook(), &setup.url, loopback(), Duration::from_secs(5));
    sink.send(&alert("a1")).await.unwrap();
    sink.send(&alert("a2")).await.unwrap();
    sink.flush().await.unwrap();
    assert_eq!(setup.receiver.received().len(), 2, "a 400 is not retried");
    let letters = dead_letters(&setup);
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["status"], 400);
    assert_eq!(letters[0]["reason"], "HTTP 400: {\"status\":400}");
    assert_eq!(letters[0]["alert"]["alert_id"], "a1");
}

#[tokio::test]
async fn inner_addresses_are_refused_unless_allowed() {
    let setup = setup().await;
    let port = setup.url.split(':').nth(2).unwrap().split('/').next().unwrap().to_string();
    for (url, reason, id) in [
        (setup.url.clone(), "refused: 127.0.0.1 (loopback address)"),
        (
            format!("http://localhost:{port}/hook"),
            "resolves only to addresses a sink may not reach",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "refused: 169.254.169.254 (instance metadata address)",
        ),
        ("http://[::1]:9/".to_string(), "refused: ::1 (loopback address)"),
        ("http://10.0.0.1/".to_string(), "refused: 10.0.0.1 (private address)"),
    ]
    .into_iter()
    .enumerate()
    .map(|(index, (url, reason))| (url, reason, format!("guarded-{index}")))
    {
        let mut sink =
            sink(&setup, webhook(), &url, AddressGuard::default(), Duration::from_secs(2));
        sink.send(&alert(&id)).await.unwrap();
        sink.flush().await.unwrap();
        let letters = dead_letters(&setup);
        assert_eq!(letters.len(), 1, "{url}");
        let recorded = letters[0]["reason"].as_str().unwrap();
        assert!(recorded.contains(reason), "{url}: {recorded}");
        std::fs::remove_dir_all(setup.dead_letters.path().join("_dead_letter")).unwrap();
    }
    assert!(setup.receiver.received().is_empty(), "nothing reached the receiver");
}

#[tokio::test]
async fn slack_and_pagerduty_bodies() {
    let setup = setup().await;
    let mut slack = sink(&setup, HttpKind::Slack, &setup.url, loopback(), Duration::from_secs(5));
    slack.send(&alert("a1")).await.unwrap();
    slack.flush().await.unwrap();
    let mut pagerduty = sink(
        &setup,
        HttpKind::PagerDuty { routing_key: Secret::new("R0UT1NG".into()) },
        &setup.url,
        loopback(),
        Duration::from_secs(5),
    );
    // Another alert: "a1" is marked delivered for this sink name already.
    pagerduty.send(&alert("a2")).await.unwrap();
    pagerduty.flush().await.unwrap();
    let received = setup.receiver.received();

    let message: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(message["text"], "[HIGH] CloudTrail logging stopped");
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["text"]["text"], "HIGH CloudTrail logging stopped");
    let fields: Vec<&str> = blocks[1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    for expected in [
        "*Severity*\n:red_circle: high",
        "*Actor*\narn:aws:iam::012345678901:user/mallory",
        "*Source IP*\n203.0.113.9",
        "*Account*\n012345678901",
        "*Region*\neu-west-1",
        "*MITRE ATT&CK*\nTA0005, T1562.008",
    ] {
        assert!(fields.contains(&expected), "{expected} not in {fields:?}");
    }
    assert_eq!(
        blocks[2]["text"]["text"],
        "*Runbook:* Restart logging on the trail &lt;name&gt; &amp; review the caller."
    );
    let context = blocks[3]["elements"][0]["text"].as_str().unwrap();
    assert!(context.starts_with("<https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-west-1#/events/8c2bd1d4-0f37-4c9c-9a4f-6c3c2d7d1e11|"), "{context}");

    let event: Value = serde_json::from_slice(&received[1].body).unwrap();
    assert_eq!(event["routing_key"], "R0UT1NG");
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(event["dedup_key"], "a2");
    assert_eq!(event["payload"]["severity"], "error");
    assert_eq!(event["payload"]["source"], "012345678901");
    assert_eq!(event["payload"]["custom_details"]["rule_id"], "aws.cloudtrail.stop_logging");
    assert_eq!(received[1].header("Idempotency-Key"), Some("a2"));
}

/// Runs `trailhound run` over the samples with a sinks file, off the test's runtime.
async fn run_binary(lake: &std::path::Path, alerts: &std::path::Path, sinks: &std::path::Path) {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/cloudtrail");
    let args: Vec<String> = vec![
        "run".into(),
        "--input".into(),
        samples.display().to_string(),
        "--lake".into(),
        lake.display().to_string(),
        "--alerts".into(),
        alerts.display().to_string(),
        "--sinks".into(),
        sinks.display().to_string(),
    ];
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_trailhound")).args(&args).output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("R0UT1NG") && !stderr.contains("s3cret"), "secrets leaked: {stderr}");
}

#[tokio::test]
async fn a_run_routes_alerts_to_each_sink_and_a_restart_after_an_outage_sends_each_once() {
    let work = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    std::fs::write(work.path().join("key"), "R0UT1NG\n").unwrap();
    std::fs::write(work.path().join("secret"), "s3cret").unwrap();
    let sinks = work.path().join("sinks.toml");
    std::fs::write(
        &sinks,
        format!(
            "[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://{address}/hook\"\n\
             secret_file = \"{secret}\"\nallow_addresses = [\"127.0.0.1\"]\nmax_attempts = 2\n\
             [[sink]]\nname = \"pager\"\ntype = \"pagerduty\"\nurl = \"http://{address}/pd\"\n\
             routing_key_file = \"{key}\"\nallow_addresses = [\"127.0.0.1\"]\nmax_attempts = 2\n\
             min_severity = \"high\"\n",
            secret = work.path().join("secret").display(),
            key = work.path().join("key").display(),
        ),
    )
    .unwrap();
    let lake = work.path().join("lake");
    let alerts_file = work.path().join("alerts.jsonl");

    // The receiver is down for the whole first run: the run succeeds, the alerts wait.
    run_binary(&lake, &alerts_file, &sinks).await;
    let alerts: Vec<Alert> = std::fs::read_to_string(&alerts_file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(!alerts.is_empty());
    let outbox = |sink: &str| {
        std::fs::read_dir(lake.join("_outbox").join(sink)).map(|d| d.count()).unwrap_or(0)
    };
    let severe: Vec<&Alert> =
        alerts.iter().filter(|alert| alert.severity >= Severity::High).collect();
    assert_eq!(outbox("hook"), alerts.len());
    assert_eq!(outbox("pager"), severe.len());

    // The receiver is back; the same command again (its sources are already processed)
    // delivers what waited, each alert once.
    let receiver = Receiver::default();
    receiver.start(TcpListener::bind(address).await.unwrap()).await;
    run_binary(&lake, &alerts_file, &sinks).await;
    let received = receiver.received();
    let ids = |path: &str| {
        let mut ids: Vec<String> = received
            .iter()
            .filter(|request| request.path == path)
            .map(|request| request.header("Idempotency-Key").unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let mut expected: Vec<String> = alerts.iter().map(|alert| alert.alert_id.clone()).collect();
    expected.sort();
    assert_eq!(ids("/hook"), expected);
    let mut expected: Vec<String> = severe.iter().map(|alert| alert.alert_id.clone()).collect();
    expected.sort();
    assert_eq!(ids("/pd"), expected);
    assert_eq!(outbox("hook") + outbox("pager"), 0);
    for request in received.iter().filter(|request| request.path == "/hook") {
        assert_eq!(
            request.header("X-Trailhound-Signature").unwrap(),
            signature(b"s3cret", &request.body)
        );
    }
}

#[tokio::test]
async fn a_process_killed_mid_delivery_loses_nothing_and_repeats_at_most_the_alert_in_flight() {
    let work = tempfile::tempdir().unwrap();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/cloudtrail");
    // The alerts a clean run raises.
    let clean_alerts = work.path().join("clean.jsonl");
    let clean = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["run", "--input", samples.to_str().unwrap()])
        .args(["--lake", work.path().join("clean-lake").to_str().unwrap()])
        .args(["--alerts", clean_alerts.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(clean.status.success());
    let mut expected: Vec<String> = std::fs::read_to_string(&clean_alerts)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Alert>(line).unwrap().alert_id)
        .collect();
    expected.sort();

    // A receiver answering slowly, so the kill lands in the middle of the deliveries.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let receiver = Receiver::default();
    receiver
        .script
        .lock()
        .unwrap()
        .extend((0..expected.len()).map(|_| Answer(200, vec![], Duration::from_millis(200))));
    receiver.start(listener).await;
    let sinks = work.path().join("sinks.toml");
    std::fs::write(
        &sinks,
        format!(
            "[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://{address}/hook\"\n\
             allow_addresses = [\"127.0.0.1\"]\n"
        ),
    )
    .unwrap();
    let args: Vec<String> = vec![
        "run".into(),
        "--input".into(),
        samples.display().to_string(),
        "--lake".into(),
        work.path().join("lake").display().to_string(),
        "--alerts".into(),
        "/dev/null".into(),
        "--sinks".into(),
        sinks.display().to_string(),
    ];
    let command = move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"));
        command.args(&args).stderr(std::process::Stdio::null());
        command
    };
    let mut first = command().spawn().unwrap();
    while receiver.received().len() < 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let before_restart = receiver.received().len();
    assert!(before_restart < expected.len(), "killed before delivering everything");

    let restart = tokio::task::spawn_blocking(move || command().status().unwrap()).await.unwrap();
    assert!(restart.success());
    let mut received: Vec<String> = receiver
        .received()
        .iter()
        .map(|request| request.header("Idempotency-Key").unwrap().to_string())
        .collect();
    received.sort();
    let mut distinct = received.clone();
    distinct.dedup();
    assert_eq!(distinct, expected, "every alert arrived");
    // Deliveries are sequential: only the one in flight at the kill can arrive twice, and
    // it carries the same idempotency key both times.
    assert!(received.len() - distinct.len() <= 1, "{} duplicates", received.len() - distinct.len());
}
