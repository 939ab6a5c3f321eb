//! Alert sinks: where alerts go.

pub mod jsonl;

use crate::alert::Alert;
use crate::error::Result;

/// A destination for alerts.
pub trait AlertSink: Send {
    /// The sink's name, for logs and errors.
    fn name(&self) -> &str;
    /// Delivers one alert.
    fn send(&mut self, alert: &Alert) -> Result<()>;
    /// Makes every delivered alert durable or visible.
    fn flush(&mut self) -> Result<()>;
}
