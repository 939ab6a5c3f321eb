//! The lake's `alerts` table as a sink: alerts are buffered and written as Parquet when the
//! sink is flushed (once per hand-off), so the table holds every alert the other sinks got.

use lake::LakeLocation;
use lake::alerts::{AlertRow, AlertsWriter};

use super::AlertSink;
use crate::alert::Alert;
use crate::error::Result;

/// Writes alerts into the lake's `alerts` table.
pub struct LakeAlertsSink {
    writer: AlertsWriter,
}

impl LakeAlertsSink {
    /// A sink into the lake at `location`.
    pub fn new(location: LakeLocation) -> Self {
        Self { writer: AlertsWriter::new(location) }
    }
}

#[async_trait::async_trait]
impl AlertSink for LakeAlertsSink {
    fn name(&self) -> &str {
        "lake-alerts"
    }

    async fn send(&mut self, alert: &Alert) -> Result<()> {
        self.writer.push(alert_row(alert));
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        self.writer.flush().await?;
        Ok(())
    }
}

/// The table row of an alert; its times come from the alert's RFC 3339 event times.
pub fn alert_row(alert: &Alert) -> AlertRow {
    let millis = |time: &str| {
        chrono::DateTime::parse_from_rfc3339(time)
            .map(|time| time.timestamp_millis())
            .expect("alert times are written as RFC 3339")
    };
    AlertRow {
        alert_id: alert.alert_id.clone(),
        rule_id: alert.rule_id.clone(),
        title: alert.title.clone(),
        severity: alert.severity.to_string(),
        tactics: alert.mitre.tactics.clone(),
        techniques: alert.mitre.techniques.clone(),
        dedup_key: alert.dedup_key.clone(),
        event_ids: alert.event_ids.clone(),
        first_event_ms: millis(&alert.first_event_time),
        last_event_ms: millis(&alert.last_event_time),
        event_count: alert.count as i64,
        actor: alert.actor.clone(),
        account: alert.account.clone(),
        region: alert.region.clone(),
        source_ip: alert.source_ip.clone(),
        alert: serde_json::to_string(alert).expect("alerts serialise"),
    }
}
