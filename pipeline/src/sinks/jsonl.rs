//! JSON Lines alerts on stdout or in a file (appended). Each alert is written with a single
//! `write` of its whole line, so a process killed at any moment leaves whole lines only.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use super::AlertSink;
use crate::alert::Alert;
use crate::error::{PipelineError, Result};

/// Writes one alert per line.
pub struct JsonLinesSink {
    name: String,
    out: Box<dyn Write + Send>,
}

impl JsonLinesSink {
    /// Alerts on standard output.
    pub fn stdout() -> Self {
        Self { name: "stdout".into(), out: Box::new(io::stdout()) }
    }

    /// Alerts appended to a file (created if missing).
    pub fn file(path: &Path) -> Result<Self> {
        let file =
            OpenOptions::new().create(true).append(true).open(path).map_err(|source| {
                PipelineError::Sink { sink: path.display().to_string(), source }
            })?;
        Ok(Self { name: path.display().to_string(), out: Box::new(file) })
    }

    /// Alerts into any writer (tests, pipes).
    pub fn writer(name: &str, out: Box<dyn Write + Send>) -> Self {
        Self { name: name.to_string(), out }
    }
}

#[async_trait::async_trait]
impl AlertSink for JsonLinesSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&mut self, alert: &Alert) -> Result<()> {
        let failed = |source| PipelineError::Sink { sink: self.name.clone(), source };
        let mut line =
            serde_json::to_vec(alert).map_err(|error| failed(io::Error::other(error)))?;
        line.push(b'\n');
        self.out.write_all(&line).map_err(failed)
    }

    async fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|source| PipelineError::Sink { sink: self.name.clone(), source })
    }
}
