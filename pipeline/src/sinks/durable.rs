//! Durable delivery: an alert handed to a sink is first written to the sink's outbox
//! (`_outbox/<sink>/<alert id>.json`, through `object_store`, next to the lake), and only
//! leaves it once the receiver confirmed it (or refused it for good: then it goes to the
//! dead-letter folder with the response). A receiver outage or a crash therefore loses
//! nothing: undelivered alerts are delivered at the next flush, by this process or by the
//! next one. Every attempt carries the alert id as idempotency key, so a receiver that
//! honours it (PagerDuty's `dedup_key`, a webhook reading `Idempotency-Key`) sees each alert
//! once even when a crash came between its confirmation and the outbox delete.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lake::LakeLocation;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AlertSink;
use super::http::Delivery;
use super::routing::Route;
use crate::alert::Alert;
use crate::error::Result;
use crate::internal_events::{Counters, InternalEvent};

/// Folder of the per-sink outboxes.
pub const OUTBOX_DIR: &str = "_outbox";
/// Folder of alerts a receiver refused for good.
pub const DEAD_LETTER_DIR: &str = "_dead_letter";
/// Folder of per-sink markers of the alerts already delivered (or dead-lettered): an alert
/// raised again (a run re-emitting what it held, a replayed source) is not sent again.
pub const DELIVERED_DIR: &str = "_delivered";

/// Sends one alert to a receiver, retrying transient failures as it sees fit.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync {
    /// Delivers `alert`; the result and the retries it took.
    async fn deliver(&self, alert: &Alert) -> (Delivery, u32);
}

/// An outbox entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// The process that wrote it and delivers it.
    owner: String,
    /// When it was written, ms since the epoch: an entry older than the takeover delay is
    /// delivered by whichever process sees it (its owner is presumed dead).
    written_at_ms: i64,
    alert: Alert,
}

/// Limits deliveries to `per_minute`; alerts over the limit wait in the outbox.
struct RateLimit {
    per_minute: u32,
    window_start: Instant,
    sent: u32,
}

impl RateLimit {
    fn allow(&mut self) -> bool {
        if self.window_start.elapsed() >= Duration::from_secs(60) {
            self.window_start = Instant::now();
            self.sent = 0;
        }
        if self.sent < self.per_minute {
            self.sent += 1;
            true
        } else {
            false
        }
    }
}

/// A sink delivering through an outbox: see the module documentation.
pub struct DurableSink {
    name: String,
    deliverer: Box<dyn Deliver>,
    route: Route,
    location: LakeLocation,
    counters: Arc<Counters>,
    owner: String,
    takeover: Duration,
    rate_limit: Option<RateLimit>,
    accepted: Vec<Alert>,
}

impl DurableSink {
    /// A sink named `name`, delivering with `deliverer` the alerts `route` accepts, with its
    /// outbox and dead letters below `location`.
    pub fn new(
        name: &str,
        deliverer: Box<dyn Deliver>,
        route: Route,
        location: LakeLocation,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            name: name.to_string(),
            deliverer,
            route,
            location,
            counters,
            owner: format!("{}-{}", std::process::id(), chrono::Utc::now().timestamp_millis()),
            takeover: Duration::from_secs(600),
            rate_limit: None,
            accepted: Vec::new(),
        }
    }

    /// At most `per_minute` deliveries a minute.
    pub fn with_rate_limit(mut self, per_minute: u32) -> Self {
        self.rate_limit = Some(RateLimit { per_minute, window_start: Instant::now(), sent: 0 });
        self
    }

    /// How long another process's undelivered entries wait before this one delivers them.
    pub fn with_takeover(mut self, takeover: Duration) -> Self {
        self.takeover = takeover;
        self
    }

    fn marker_path(&self, alert_id: &str) -> object_store::path::Path {
        self.location.path(&format!("{DELIVERED_DIR}/{}/{alert_id}", self.name))
    }

    async fn delivered_before(&self, alert_id: &str) -> Result<bool> {
        let path = self.marker_path(alert_id);
        match self.location.store().head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => {
                Err(lake::LakeError::ObjectStore { path: path.to_string(), source }.into())
            }
        }
    }

    fn entry_path(&self, alert_id: &str) -> object_store::path::Path {
        self.location.path(&format!("{OUTBOX_DIR}/{}/{alert_id}.json", self.name))
    }

    async fn put(&self, path: &object_store::path::Path, body: Vec<u8>) -> Result<()> {
        self.location
            .store()
            .put(path, PutPayload::from(body))
            .await
            .map_err(|source| lake::LakeError::ObjectStore { path: path.to_string(), source })?;
        Ok(())
    }

    async fn delete(&self, path: &object_store::path::Path) -> Result<()> {
        match self.location.store().delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => {
                Err(lake::LakeError::ObjectStore { path: path.to_string(), source }.into())
            }
        }
    }

    /// The outbox entries this process may deliver now, oldest first.
    async fn deliverable(&self) -> Result<Vec<Entry>> {
        let objects = self.location.list(&format!("{OUTBOX_DIR}/{}", self.name)).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let mut entries = BTreeMap::new();
        for object in objects {
            let bytes = self
                .location
                .store()
                .get(&object.location)
                .await
                .map_err(|source| lake::LakeError::ObjectStore {
                    path: object.location.to_string(),
                    source,
                })?
                .bytes()
                .await
                .map_err(|source| lake::LakeError::ObjectStore {
                    path: object.location.to_string(),
                    source,
                })?;
            let entry: Entry = serde_json::from_slice(&bytes).map_err(|source| {
                lake::LakeError::Json { path: object.location.to_string(), source }
            })?;
            let orphan = now - entry.written_at_ms > self.takeover.as_millis() as i64;
            if entry.owner == self.owner || orphan {
                entries.insert((entry.written_at_ms, entry.alert.alert_id.clone()), entry);
            }
        }
        Ok(entries.into_values().collect())
    }

    /// Delivers what the outbox holds for this process; returns how many entries remain.
    async fn drain(&mut self) -> Result<usize> {
        let entries = self.deliverable().await?;
        let mut remaining = entries.len();
        for entry in entries {
            if self.delivered_before(&entry.alert.alert_id).await? {
                self.delete(&self.entry_path(&entry.alert.alert_id)).await?;
                remaining -= 1;
                continue;
            }
            if let Some(limit) = &mut self.rate_limit
                && !limit.allow()
            {
                break;
            }
            let alert = &entry.alert;
            let (delivery, retries) = self.deliverer.deliver(alert).await;
            match delivery {
                Delivery::Delivered => {
                    self.counters.emit(InternalEvent::SinkDelivered { sink: &self.name, retries });
                }
                Delivery::Rejected { status, reason } => {
                    let path = self
                        .location
                        .path(&format!("{DEAD_LETTER_DIR}/{}/{}.json", self.name, alert.alert_id));
                    let letter = json!({
                        "sink": self.name,
                        "status": status,
                        "reason": reason,
                        "at": chrono::Utc::now().to_rfc3339(),
                        "alert": alert,
                    });
                    self.put(&path, serde_json::to_vec_pretty(&letter).expect("JSON")).await?;
                    self.counters.emit(InternalEvent::SinkDeadLettered {
                        sink: &self.name,
                        alert_id: &alert.alert_id,
                        reason: &reason,
                    });
                }
                Delivery::Retry { reason, .. } => {
                    // The receiver is down: this and the remaining alerts stay in the
                    // outbox, and the next flush (or process) tries again, rather than
                    // spending every alert's retries on a receiver known to be down.
                    self.counters
                        .emit(InternalEvent::SinkFailed { sink: &self.name, reason: &reason });
                    break;
                }
            }
            // The marker first: a crash before the delete leaves an entry the next drain
            // finds already delivered.
            self.put(&self.marker_path(&alert.alert_id), Vec::new()).await?;
            self.delete(&self.entry_path(&alert.alert_id)).await?;
            remaining -= 1;
        }
        self.counters
            .emit(InternalEvent::SinkQueueDepth { sink: &self.name, depth: remaining as u64 });
        Ok(remaining)
    }
}

#[async_trait::async_trait]
impl AlertSink for DurableSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&mut self, alert: &Alert) -> Result<()> {
        if self.route.accepts(alert) {
            self.accepted.push(alert.clone());
        }
        Ok(())
    }

    /// Makes the accepted alerts durable in the outbox (after which the hand-off is done),
    /// then delivers what the outbox holds. A receiver that stays down does not fail the
    /// flush: its alerts wait in the outbox.
    async fn flush(&mut self) -> Result<()> {
        let now = chrono::Utc::now().timestamp_millis();
        for alert in std::mem::take(&mut self.accepted) {
            if self.delivered_before(&alert.alert_id).await? {
                continue;
            }
            let entry = Entry { owner: self.owner.clone(), written_at_ms: now, alert };
            let body = serde_json::to_vec(&entry).expect("outbox entries serialise");
            self.put(&self.entry_path(&entry.alert.alert_id), body).await?;
        }
        self.drain().await?;
        Ok(())
    }
}
