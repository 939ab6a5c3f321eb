//! Alert sinks: where alerts go.

pub mod config;
pub mod durable;
pub mod formats;
pub mod http;
pub mod http_sink;
pub mod jsonl;
pub mod lake_alerts;
pub mod routing;
pub mod sns;

use crate::alert::Alert;
use crate::error::Result;

/// A destination for alerts.
#[async_trait::async_trait]
pub trait AlertSink: Send {
    /// The sink's name, for logs and errors.
    fn name(&self) -> &str;
    /// Delivers one alert.
    async fn send(&mut self, alert: &Alert) -> Result<()>;
    /// Makes every delivered alert durable or visible.
    async fn flush(&mut self) -> Result<()>;
}

/// Hands every alert to each of several sinks, in order.
pub struct Fanout {
    name: String,
    sinks: Vec<Box<dyn AlertSink>>,
}

impl Fanout {
    /// A sink delivering to all of `sinks`.
    pub fn new(sinks: Vec<Box<dyn AlertSink>>) -> Self {
        let names: Vec<&str> = sinks.iter().map(|sink| sink.name()).collect();
        Self { name: names.join("+"), sinks }
    }
}

#[async_trait::async_trait]
impl AlertSink for Fanout {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&mut self, alert: &Alert) -> Result<()> {
        for sink in &mut self.sinks {
            sink.send(alert).await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        for sink in &mut self.sinks {
            sink.flush().await?;
        }
        Ok(())
    }
}
