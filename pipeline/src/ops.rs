//! Operations endpoints: `/health` (the process is up), `/ready` (rules loaded, queue and lake
//! reachable) and `/metrics` (Prometheus text format, from the internal event counters).
//! A deliberately small HTTP/1.1 responder: GET only, one request per connection.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::internal_events::{BATCH_SECONDS_BUCKETS, Counters};

/// What the endpoints report.
#[derive(Debug, Default)]
pub struct OpsState {
    /// The pipeline's counters.
    pub counters: Arc<Counters>,
    /// Set once rules are loaded and the queue and lake answered.
    pub ready: AtomicBool,
}

/// Serves the endpoints on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: Arc<OpsState>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(error) = respond(stream, &state).await {
                tracing::debug!(error = %error, "ops request failed");
            }
        });
    }
}

async fn respond(mut stream: TcpStream, state: &OpsState) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") && request.len() < 8192 {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        request.extend_from_slice(&buffer[..read]);
    }
    let line = String::from_utf8_lossy(&request);
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/health" => ("200 OK", "ok\n".to_string()),
        "/ready" if state.ready.load(Ordering::Relaxed) => ("200 OK", "ready\n".to_string()),
        "/ready" => ("503 Service Unavailable", "not ready\n".to_string()),
        "/metrics" => ("200 OK", metrics(&state.counters)),
        _ => ("404 Not Found", "not found\n".to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The counters in Prometheus' text format.
pub fn metrics(counters: &Counters) -> String {
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");
    };
    counter(
        "trailhound_sources_decoded_total",
        "Sources (files, objects) decoded.",
        counters.sources_decoded.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_sources_failed_total",
        "Sources that could not be read fully.",
        counters.sources_failed.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_sources_already_ingested_total",
        "Sources already in the lake, not written again.",
        counters.sources_already_ingested.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_sources_already_applied_total",
        "Sources skipped whole: their events were already processed (redelivery, duplicate).",
        counters.sources_already_applied.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_events_total",
        "CloudTrail records decoded.",
        counters.events.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_bytes_total",
        "Decompressed bytes read.",
        counters.bytes.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_records_quarantined_total",
        "Records quarantined.",
        counters.records_quarantined.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_insight_records_total",
        "Insights records skipped.",
        counters.insight_records.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_sqs_messages_received_total",
        "SQS messages received.",
        counters.messages_received.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_sqs_messages_deleted_total",
        "SQS messages deleted once their work was durable.",
        counters.messages_deleted.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_sqs_messages_released_total",
        "SQS messages received as the worker stopped, made visible again unhandled.",
        counters.messages_released.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_sqs_messages_failed_total",
        "SQS messages not understood, left to the dead-letter queue.",
        counters.messages_rejected.load(Ordering::Relaxed),
    );
    counter(
        "trailhound_state_conflicts_total",
        "Shared state commits lost to another worker (batch redone).",
        counters.state_conflicts.load(Ordering::Relaxed),
    );
    let newest = counters.newest_event_ms.load(Ordering::Relaxed);
    if newest > 0 {
        let lag = (chrono::Utc::now().timestamp_millis() - newest) as f64 / 1000.0;
        let _ = write!(
            out,
            "# HELP trailhound_lag_seconds Now minus the newest event time processed.\n# TYPE trailhound_lag_seconds gauge\ntrailhound_lag_seconds {lag:.3}\n"
        );
    }
    let _ = write!(
        out,
        "# HELP trailhound_batch_seconds Time to detect on and buffer one record batch.\n# TYPE trailhound_batch_seconds histogram\n"
    );
    let mut cumulative = 0;
    for (index, count) in counters.batch_seconds_buckets.iter().enumerate() {
        cumulative += count.load(Ordering::Relaxed);
        let bound = BATCH_SECONDS_BUCKETS
            .get(index)
            .map_or_else(|| "+Inf".to_string(), |bound| bound.to_string());
        let _ = writeln!(out, "trailhound_batch_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let sum = counters.batch_micros_sum.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = write!(
        out,
        "trailhound_batch_seconds_sum {sum:.6}\ntrailhound_batch_seconds_count {}\n",
        counters.batches.load(Ordering::Relaxed)
    );
    labelled(
        &mut out,
        "trailhound_sources_skipped_total",
        "Sources skipped on purpose, by reason.",
        "reason",
        &counters
            .sources_skipped
            .lock()
            .expect("counter lock")
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<Vec<_>>(),
    );
    labelled(
        &mut out,
        "trailhound_alerts_total",
        "Alerts raised, by rule.",
        "rule",
        &counters
            .alerts_by_rule
            .lock()
            .expect("counter lock")
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect::<Vec<_>>(),
    );
    let by_sink = |map: &std::sync::Mutex<std::collections::BTreeMap<String, u64>>| {
        map.lock().expect("counter lock").iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>()
    };
    for (name, help, map) in [
        (
            "trailhound_sink_failures_total",
            "Alert hand-offs a sink failed, by sink.",
            &counters.sink_failures,
        ),
        (
            "trailhound_sink_sent_total",
            "Alerts a sink's receiver confirmed, by sink.",
            &counters.sink_sent,
        ),
        ("trailhound_sink_retries_total", "Delivery retries, by sink.", &counters.sink_retries),
        (
            "trailhound_sink_dead_lettered_total",
            "Alerts refused for good and dead-lettered, by sink.",
            &counters.sink_dead_lettered,
        ),
    ] {
        labelled(&mut out, name, help, "sink", &by_sink(map));
    }
    let _ = write!(
        out,
        "# HELP trailhound_sink_queue_depth Alerts waiting in a sink's outbox.\n# TYPE trailhound_sink_queue_depth gauge\n"
    );
    for (sink, depth) in by_sink(&counters.sink_queue_depth) {
        let _ = writeln!(out, "trailhound_sink_queue_depth{{sink=\"{sink}\"}} {depth}");
    }
    out
}

/// A counter family with one label.
fn labelled(out: &mut String, name: &str, help: &str, label: &str, values: &[(String, u64)]) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n");
    for (value, count) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::internal_events::InternalEvent;

    async fn get(address: std::net::SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    async fn endpoints_report_health_readiness_and_counters() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(OpsState::default());
        state.counters.emit(InternalEvent::SourceDecoded { uri: "a", records: 7, bytes: 100 });
        state.counters.emit(InternalEvent::AlertRaised { rule_id: "aws.x" });
        state.counters.emit(InternalEvent::MessagesReceived { count: 3 });
        state.counters.emit(InternalEvent::BatchProcessed {
            rows: 7,
            newest_event_ms: Some(chrono::Utc::now().timestamp_millis() - 60_000),
            elapsed: std::time::Duration::from_millis(30),
        });
        tokio::spawn(serve(listener, state.clone()));

        assert!(get(address, "/health").await.starts_with("HTTP/1.1 200 OK"));
        assert!(get(address, "/ready").await.starts_with("HTTP/1.1 503"));
        state.ready.store(true, Ordering::Relaxed);
        assert!(get(address, "/ready").await.starts_with("HTTP/1.1 200 OK"));
        let metrics = get(address, "/metrics").await;
        assert!(metrics.contains("\ntrailhound_events_total 7\n"), "{metrics}");
        assert!(metrics.contains("trailhound_alerts_total{rule=\"aws.x\"} 1"), "{metrics}");
        assert!(metrics.contains("\ntrailhound_sqs_messages_received_total 3\n"), "{metrics}");
        assert!(metrics.contains("trailhound_batch_seconds_bucket{le=\"0.025\"} 0\n"), "{metrics}");
        assert!(metrics.contains("trailhound_batch_seconds_bucket{le=\"0.05\"} 1\n"), "{metrics}");
        assert!(metrics.contains("trailhound_batch_seconds_count 1\n"), "{metrics}");
        let lag: f64 = metrics
            .lines()
            .find_map(|line| line.strip_prefix("trailhound_lag_seconds "))
            .unwrap()
            .parse()
            .unwrap();
        assert!((59.0..120.0).contains(&lag), "{metrics}");
        assert!(get(address, "/nope").await.starts_with("HTTP/1.1 404"));
    }
}
