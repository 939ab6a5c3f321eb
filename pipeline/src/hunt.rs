//! `trailhound hunt`: read-only SQL over the lake's `cloudtrail` and `alerts` tables, bounded
//! in event time, with results streamed out as they are produced (a table, CSV or JSON Lines).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures::StreamExt;
use lake::LakeLocation;
use lake::table::{LakeTables, TimeRange};

use crate::error::{PipelineError, Result};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned text tables, printed in blocks of [`TABLE_BLOCK_ROWS`] rows.
    Table,
    /// CSV with a header line; nested values in their display form.
    Csv,
    /// One JSON object per row; nested values as JSON.
    Json,
}

/// Rows per printed table block: results stream out without waiting for the whole answer.
pub const TABLE_BLOCK_ROWS: usize = 1000;

/// What a hunt read and returned.
#[derive(Debug, Clone, PartialEq)]
pub struct HuntSummary {
    /// Rows returned.
    pub rows: u64,
    /// Bytes read from the lake.
    pub bytes_read: u64,
    /// Event files in the time range, and their bytes: what a full scan reads at most.
    pub files_in_range: u64,
    /// See `files_in_range`.
    pub bytes_in_range: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl HuntSummary {
    /// One line for stderr.
    pub fn line(&self) -> String {
        format!(
            "{} rows in {:.2} s; read {} of the {} in {} event files in range",
            self.rows,
            self.elapsed.as_secs_f64(),
            human_bytes(self.bytes_read),
            human_bytes(self.bytes_in_range),
            self.files_in_range
        )
    }
}

/// A session over the lake's tables limited to `range`, with trailhound's SQL functions;
/// every byte read is added to `read_bytes`.
pub async fn lake_session(
    location: &LakeLocation,
    range: TimeRange,
    read_bytes: Arc<AtomicU64>,
) -> Result<SessionContext> {
    // Smaller batches of wide CloudTrail rows stream out sooner. DuckDB's dialect is
    // DataFusion's generic one plus lambdas, so Athena's `any_match(array, x -> ...)` parses.
    let config = SessionConfig::new()
        .with_batch_size(4096)
        .set_str("datafusion.sql_parser.dialect", "DuckDB");
    let ctx = SessionContext::new_with_state(
        SessionStateBuilder::new().with_config(config).with_default_features().build(),
    );
    lake::functions::register_all(&ctx);
    LakeTables::new(location.clone())
        .range(range)
        .count_scanned_bytes(read_bytes)
        .register(&ctx)
        .await?;
    Ok(ctx)
}

/// Runs one read-only `sql` statement over the lake and writes its rows to `out` as they
/// arrive. With `progress`, a progress line on stderr shows the bytes read so far.
pub async fn hunt(
    location: &LakeLocation,
    range: TimeRange,
    sql: &str,
    format: OutputFormat,
    out: &mut dyn Write,
    progress: bool,
) -> Result<HuntSummary> {
    let started = Instant::now();
    let read_bytes = Arc::new(AtomicU64::new(0));
    let (files_in_range, bytes_in_range) =
        LakeTables::new(location.clone()).range(range).events_files_in_range().await?;
    let ctx = lake_session(location, range, read_bytes.clone()).await?;
    let query_error = |error| query_error("query", &error);
    // Read-only: no CREATE, INSERT, COPY, SET or other statements.
    let options =
        SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let frame = ctx.sql_with_options(sql, options).await.map_err(query_error)?;
    let mut stream = frame.execute_stream().await.map_err(query_error)?;
    let rows = Arc::new(AtomicU64::new(0));
    let reporter = progress.then(|| {
        tokio::spawn(report_progress(read_bytes.clone(), bytes_in_range, rows.clone(), started))
    });
    let mut writer = ResultWriter::new(format, out);
    let outcome = async {
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(query_error)?;
            rows.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            writer.write(batch)?;
        }
        writer.finish()
    }
    .await;
    if let Some(reporter) = reporter {
        reporter.abort();
        eprint!("\r\x1b[2K");
    }
    outcome?;
    Ok(HuntSummary {
        rows: rows.load(Ordering::Relaxed),
        bytes_read: read_bytes.load(Ordering::Relaxed),
        files_in_range,
        bytes_in_range,
        elapsed: started.elapsed(),
    })
}

async fn report_progress(
    read_bytes: Arc<AtomicU64>,
    bytes_in_range: u64,
    rows: Arc<AtomicU64>,
    started: Instant,
) {
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    loop {
        ticks.tick().await;
        let read = read_bytes.load(Ordering::Relaxed);
        let share = if bytes_in_range == 0 { 0.0 } else { read as f64 / bytes_in_range as f64 };
        let filled = ((share.min(1.0)) * 30.0) as usize;
        eprint!(
            "\r\x1b[2K[{}{}] {} / {} read, {} rows, {:.1} s",
            "#".repeat(filled),
            " ".repeat(30 - filled),
            human_bytes(read),
            human_bytes(bytes_in_range),
            rows.load(Ordering::Relaxed),
            started.elapsed().as_secs_f64()
        );
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// Writes result batches in one of the [`OutputFormat`]s.
struct ResultWriter<'a> {
    format: OutputFormat,
    out: &'a mut dyn Write,
    /// Table rows waiting for their block to fill.
    block: Vec<RecordBatch>,
    header_written: bool,
}

impl<'a> ResultWriter<'a> {
    fn new(format: OutputFormat, out: &'a mut dyn Write) -> Self {
        Self { format, out, block: Vec::new(), header_written: false }
    }

    fn write(&mut self, batch: RecordBatch) -> Result<()> {
        match self.format {
            OutputFormat::Table => {
                self.block.push(batch);
                if self.block.iter().map(RecordBatch::num_rows).sum::<usize>() >= TABLE_BLOCK_ROWS {
                    self.print_block()?;
                }
                Ok(())
            }
            OutputFormat::Csv => self.write_csv(&batch),
            OutputFormat::Json => {
                let mut writer = arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow::json::writer::LineDelimited>(&mut *self.out);
                writer.write(&batch).map_err(arrow_error)?;
                writer.finish().map_err(arrow_error)
            }
        }
    }

    fn finish(&mut self) -> Result<()> {
        if self.format == OutputFormat::Table {
            self.print_block()?;
        }
        self.out.flush().map_err(output_error)
    }

    fn print_block(&mut self) -> Result<()> {
        if self.block.is_empty() && self.header_written {
            return Ok(());
        }
        let table = arrow::util::pretty::pretty_format_batches(&self.block).map_err(arrow_error)?;
        writeln!(self.out, "{table}").map_err(output_error)?;
        self.block.clear();
        self.header_written = true;
        Ok(())
    }

    fn write_csv(&mut self, batch: &RecordBatch) -> Result<()> {
        if !self.header_written {
            let names: Vec<String> =
                batch.schema().fields().iter().map(|field| csv_cell(field.name())).collect();
            writeln!(self.out, "{}", names.join(",")).map_err(output_error)?;
            self.header_written = true;
        }
        let options = FormatOptions::default().with_null("");
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<std::result::Result<_, _>>()
            .map_err(arrow_error)?;
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|formatter| csv_cell(&formatter.value(row).to_string()))
                .collect();
            writeln!(self.out, "{}", cells.join(",")).map_err(output_error)?;
        }
        Ok(())
    }
}

/// A CSV field, quoted when it holds a delimiter, a quote or a line break (RFC 4180).
fn csv_cell(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// A query error with DataFusion's innermost message (its chain repeats each level), saying
/// why a statement was refused when it is not read-only.
pub fn query_error(query: &str, error: &datafusion::error::DataFusionError) -> PipelineError {
    use datafusion::error::DataFusionError;
    use datafusion::sql::sqlparser::parser::ParserError;
    let root = error.find_root();
    let message = match root {
        DataFusionError::SQL(error, _) => match error.as_ref() {
            ParserError::ParserError(text) | ParserError::TokenizerError(text) => {
                format!("syntax error: {text}")
            }
            ParserError::RecursionLimitExceeded => "syntax error: nested too deeply".to_string(),
        },
        other => other.message().to_string(),
    };
    let reason = if ["DDL not supported", "DML not supported", "Statement not supported"]
        .iter()
        .any(|refusal| message.starts_with(refusal))
    {
        format!("only queries run here (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE): {message}")
    } else {
        message
    };
    PipelineError::Query { query: query.to_string(), reason }
}

fn arrow_error(source: arrow::error::ArrowError) -> PipelineError {
    PipelineError::Arrow { context: "formatting results", source }
}

fn output_error(source: std::io::Error) -> PipelineError {
    PipelineError::Output { target: "results", source }
}

/// Parses a `--from`/`--to` time into ms since the epoch: RFC 3339
/// (`2025-03-09T16:00:00Z`), a date and time without zone (UTC), a date (midnight UTC), or a
/// duration back from `now_ms` (`36h`, `7d`).
pub fn parse_time(name: &'static str, text: &str, now_ms: i64) -> Result<i64> {
    use chrono::{NaiveDate, NaiveDateTime};
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(time.and_utc().timestamp_millis());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis());
    }
    if let Ok(back) = crate::detect::rule::parse_duration(text) {
        return Ok(now_ms - back.as_millis() as i64);
    }
    Err(PipelineError::InvalidArgument {
        name,
        reason: format!(
            "'{text}' is not a time: use 2025-03-09T16:00:00Z, 2025-03-09 16:00, 2025-03-09 or a duration back from now such as 36h or 7d"
        ),
    })
}

/// The range of `--from` and `--to`, checked to be non-empty.
pub fn time_range(from: Option<&str>, to: Option<&str>) -> Result<TimeRange> {
    let now = chrono::Utc::now().timestamp_millis();
    let range = TimeRange {
        from: from.map(|text| parse_time("--from", text, now)).transpose()?,
        to: to.map(|text| parse_time("--to", text, now)).transpose()?,
    };
    if let (Some(from), Some(to)) = (range.from, range.to)
        && from >= to
    {
        return Err(PipelineError::InvalidArgument {
            name: "--to",
            reason: "must be later than --from".into(),
        });
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_accepted_form() {
        let now = 1_741_538_388_000; // 2025-03-09T16:39:48Z
        let at = |text| parse_time("--from", text, now).unwrap();
        assert_eq!(at("2025-03-09T16:39:48Z"), now);
        assert_eq!(at("2025-03-09T17:39:48+01:00"), now);
        assert_eq!(at("2025-03-09 16:39:48"), now);
        assert_eq!(at("2025-03-09"), now - (16 * 3600 + 39 * 60 + 48) * 1000);
        assert_eq!(at("2h"), now - 2 * 3_600_000);
        let error = parse_time("--from", "yesterday", now).unwrap_err().to_string();
        assert!(error.starts_with("--from: 'yesterday' is not a time"), "{error}");
        let error = time_range(Some("2025-03-10"), Some("2025-03-09")).unwrap_err().to_string();
        assert_eq!(error, "--to: must be later than --from");
    }

    #[test]
    fn csv_cells_are_quoted_when_needed() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
