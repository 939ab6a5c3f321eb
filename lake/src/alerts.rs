//! The `alerts` table: every alert trailhound raised, as Parquet partitioned by the UTC date
//! of the alert's first event, so alert history is queried next to the events it points at.
//!
//! Alerts are written when they are handed off (after the processing state that produced them
//! is committed). A file's name is a hash of the alert ids it holds, so handing the same
//! alerts off again after a crash rewrites the same file. A takeover that hands off a
//! different grouping of the same alerts can add a second copy of a row: `alert_id` is the
//! table's key, and `lake compact` keeps one row per `alert_id`.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int64Builder, ListBuilder, RecordBatch, StringBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use object_store::buffered::BufWriter;
use parquet::arrow::AsyncArrowWriter;
use xxhash_rust::xxh3::Xxh3;

use crate::error::{LakeError, Result};
use crate::location::{ALERTS_TABLE_DIR, LakeLocation};
use crate::schema::event_ts_type;
use crate::writer::{Partition, parquet_properties};

/// Partition column of the alerts table.
pub const ALERT_PARTITION_COLUMNS: &[&str] = &["dt"];

/// Column holding each alert's key.
pub const ALERT_ID: &str = "alert_id";

/// Column by which alerts are partitioned and sorted.
pub const FIRST_EVENT_TS: &str = "first_event_ts";

/// One row of the alerts table.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    /// The alert's deterministic id.
    pub alert_id: String,
    /// Rule that fired.
    pub rule_id: String,
    /// Rule title.
    pub title: String,
    /// Severity name.
    pub severity: String,
    /// ATT&CK tactic ids.
    pub tactics: Vec<String>,
    /// ATT&CK technique ids.
    pub techniques: Vec<String>,
    /// The rule's dedup key value.
    pub dedup_key: Option<String>,
    /// CloudTrail eventIDs of the matching events.
    pub event_ids: Vec<String>,
    /// Event time of the first matching event, ms since the epoch.
    pub first_event_ms: i64,
    /// Event time of the last matching event, ms since the epoch.
    pub last_event_ms: i64,
    /// Number of matching events.
    pub event_count: i64,
    /// Who acted.
    pub actor: Option<String>,
    /// Account of the event.
    pub account: Option<String>,
    /// Region of the call.
    pub region: Option<String>,
    /// Caller IP address or service.
    pub source_ip: Option<String>,
    /// The whole alert as JSON text, as the sinks receive it.
    pub alert: String,
}

/// The item field of the table's string lists, named as Parquet's LIST logical type does.
fn string_item() -> Arc<Field> {
    Arc::new(Field::new("element", DataType::Utf8, true))
}

fn string_list() -> DataType {
    DataType::List(string_item())
}

/// Schema of the alerts table's Parquet files (without the `dt` partition column).
pub fn alerts_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(ALERT_ID, DataType::Utf8, false),
        Field::new("rule_id", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("tactics", string_list(), false),
        Field::new("techniques", string_list(), false),
        Field::new("dedup_key", DataType::Utf8, true),
        Field::new("event_ids", string_list(), false),
        Field::new(FIRST_EVENT_TS, event_ts_type(), false),
        Field::new("last_event_ts", event_ts_type(), false),
        Field::new("event_count", DataType::Int64, false),
        Field::new("actor", DataType::Utf8, true),
        Field::new("account", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("source_ip", DataType::Utf8, true),
        Field::new("alert", DataType::Utf8, false),
    ]))
}

/// Buffers alerts and writes them to the alerts table on [`AlertsWriter::flush`].
pub struct AlertsWriter {
    location: LakeLocation,
    pending: Vec<AlertRow>,
}

impl AlertsWriter {
    /// A writer into the lake at `location`.
    pub fn new(location: LakeLocation) -> Self {
        Self { location, pending: Vec::new() }
    }

    /// Buffers one alert.
    pub fn push(&mut self, row: AlertRow) {
        self.pending.push(row);
    }

    /// Writes the buffered alerts, a file per date; returns the number of files written.
    pub async fn flush(&mut self) -> Result<usize> {
        let mut by_date: BTreeMap<String, Vec<AlertRow>> = BTreeMap::new();
        for row in self.pending.drain(..) {
            by_date.entry(Partition::of_millis(row.first_event_ms).date()).or_default().push(row);
        }
        let files = by_date.len();
        for (date, mut rows) in by_date {
            rows.sort_by(|a, b| {
                (a.first_event_ms, &a.alert_id).cmp(&(b.first_event_ms, &b.alert_id))
            });
            rows.dedup_by(|a, b| a.alert_id == b.alert_id);
            let mut hasher = Xxh3::new();
            for row in &rows {
                hasher.update(row.alert_id.as_bytes());
                hasher.update(&[0]);
            }
            let relative =
                format!("{ALERTS_TABLE_DIR}/dt={date}/part-{:032x}.parquet", hasher.digest128());
            write_batch(&self.location, &relative, &to_batch(&rows)?).await?;
        }
        Ok(files)
    }
}

/// Writes one batch as a lake Parquet file at `relative` (below the lake root).
pub(crate) async fn write_batch(
    location: &LakeLocation,
    relative: &str,
    batch: &RecordBatch,
) -> Result<()> {
    let path = location.path(relative);
    let parquet_error = |source| LakeError::Parquet { path: path.to_string(), source };
    let properties = parquet_properties(3, 128 * 1024, &path)?;
    let object = BufWriter::new(location.store().clone(), path.clone());
    let mut writer = AsyncArrowWriter::try_new(object, batch.schema(), Some(properties))
        .map_err(parquet_error)?;
    writer.write(batch).await.map_err(parquet_error)?;
    writer.finish().await.map_err(parquet_error)?;
    Ok(())
}

fn to_batch(rows: &[AlertRow]) -> Result<RecordBatch> {
    let strings = |value: fn(&AlertRow) -> Option<&str>| -> ArrayRef {
        let mut builder = StringBuilder::new();
        for row in rows {
            builder.append_option(value(row));
        }
        Arc::new(builder.finish())
    };
    let lists = |value: fn(&AlertRow) -> &[String]| -> ArrayRef {
        let mut builder = ListBuilder::new(StringBuilder::new()).with_field(string_item());
        for row in rows {
            builder.append_value(value(row).iter().map(Some));
        }
        Arc::new(builder.finish())
    };
    let times = |value: fn(&AlertRow) -> i64| -> ArrayRef {
        let mut builder = TimestampMillisecondBuilder::new().with_timezone("UTC");
        for row in rows {
            builder.append_value(value(row));
        }
        Arc::new(builder.finish())
    };
    let mut counts = Int64Builder::new();
    for row in rows {
        counts.append_value(row.event_count);
    }
    let columns = vec![
        strings(|row| Some(&row.alert_id)),
        strings(|row| Some(&row.rule_id)),
        strings(|row| Some(&row.title)),
        strings(|row| Some(&row.severity)),
        lists(|row| &row.tactics),
        lists(|row| &row.techniques),
        strings(|row| row.dedup_key.as_deref()),
        lists(|row| &row.event_ids),
        times(|row| row.first_event_ms),
        times(|row| row.last_event_ms),
        Arc::new(counts.finish()),
        strings(|row| row.actor.as_deref()),
        strings(|row| row.account.as_deref()),
        strings(|row| row.region.as_deref()),
        strings(|row| row.source_ip.as_deref()),
        strings(|row| Some(&row.alert)),
    ];
    RecordBatch::try_new(alerts_schema(), columns)
        .map_err(|source| LakeError::Arrow { context: "building the alerts batch", source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use datafusion::prelude::SessionContext;

    fn row(id: &str, first_event_ms: i64) -> AlertRow {
        AlertRow {
            alert_id: id.into(),
            rule_id: "aws.iam.test".into(),
            title: "Test".into(),
            severity: "high".into(),
            tactics: vec!["TA0003".into()],
            techniques: vec![],
            dedup_key: None,
            event_ids: vec![format!("event-{id}")],
            first_event_ms,
            last_event_ms: first_event_ms + 1,
            event_count: 1,
            actor: Some("arn:aws:iam::000000000001:user/alice".into()),
            account: Some("000000000001".into()),
            region: None,
            source_ip: None,
            alert: format!("{{\"alert_id\":\"{id}\"}}"),
        }
    }

    #[tokio::test]
    async fn alerts_land_by_date_once_each_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let location = LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
        let mut writer = AlertsWriter::new(location.clone());
        // 2025-03-09T16:39:48Z and the next day; "a" is handed over twice.
        for (id, millis) in
            [("a", 1_741_538_388_000), ("b", 1_741_624_788_000), ("a", 1_741_538_388_000)]
        {
            writer.push(row(id, millis));
        }
        assert_eq!(writer.flush().await.unwrap(), 2);
        // Handing the same alerts off again rewrites the same file.
        writer.push(row("b", 1_741_624_788_000));
        writer.flush().await.unwrap();
        let files: Vec<_> = walkdir(dir.path().join(ALERTS_TABLE_DIR));
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files.iter().any(|file| file.contains("dt=2025-03-09")), "{files:?}");

        let ctx = SessionContext::new();
        crate::table::LakeTables::new(location).register(&ctx).await.unwrap();
        let batches = ctx
            .sql("SELECT dt, alert_id, tactics[1] AS tactic FROM alerts ORDER BY alert_id")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let column = |index: usize| -> Vec<String> {
            let array = arrow::compute::cast(batch.column(index), &DataType::Utf8).unwrap();
            array.as_string::<i32>().iter().map(|v| v.unwrap().to_string()).collect()
        };
        assert_eq!(column(0), ["2025-03-09", "2025-03-10"]);
        assert_eq!(column(1), ["a", "b"]);
        assert_eq!(column(2), ["TA0003", "TA0003"]);
    }

    fn walkdir(dir: std::path::PathBuf) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    found.push(path.display().to_string());
                }
            }
        }
        found
    }
}
