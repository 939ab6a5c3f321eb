//! JSON Lines alerts on stdout or in a file (appended).

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::AlertSink;
use crate::alert::Alert;
use crate::error::{PipelineError, Result};

/// Writes one alert per line.
pub struct JsonLinesSink {
    name: String,
    out: BufWriter<Box<dyn Write + Send>>,
}

impl JsonLinesSink {
    /// Alerts on standard output.
    pub fn stdout() -> Self {
        Self { name: "stdout".into(), out: BufWriter::new(Box::new(io::stdout())) }
    }

    /// Alerts appended to a file (created if missing).
    pub fn file(path: &Path) -> Result<Self> {
        let file =
            OpenOptions::new().create(true).append(true).open(path).map_err(|source| {
                PipelineError::Sink { sink: path.display().to_string(), source }
            })?;
        Ok(Self { name: path.display().to_string(), out: BufWriter::new(Box::new(file)) })
    }

    /// Alerts into any writer (tests, pipes).
    pub fn writer(name: &str, out: Box<dyn Write + Send>) -> Self {
        Self { name: name.to_string(), out: BufWriter::new(out) }
    }
}

impl AlertSink for JsonLinesSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, alert: &Alert) -> Result<()> {
        let failed = |source| PipelineError::Sink { sink: self.name.clone(), source };
        serde_json::to_writer(&mut self.out, alert)
            .map_err(|error| failed(io::Error::other(error)))?;
        self.out.write_all(b"\n").map_err(failed)
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|source| PipelineError::Sink { sink: self.name.clone(), source })
    }
}
