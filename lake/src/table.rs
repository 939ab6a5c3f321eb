//! The lake as DataFusion tables (`cloudtrail` and `alerts`), for hunting, backtests and
//! tests, optionally bounded in event time and counting the bytes a query reads.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{Expr, SessionContext, col, lit};
use datafusion::scalar::ScalarValue;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

use crate::alerts::{ALERT_PARTITION_COLUMNS, FIRST_EVENT_TS, alerts_schema};
use crate::error::{LakeError, Result};
use crate::location::{ALERTS_TABLE_DIR, EVENTS_TABLE_DIR, LakeLocation};
use crate::scan::CountingStore;
use crate::schema::{EVENT_TS, PARTITION_COLUMNS, cloudtrail_schema};
use crate::writer::Partition;

/// Name of the events table in SQL.
pub const EVENTS_TABLE: &str = "cloudtrail";
/// Name of the alerts table in SQL.
pub const ALERTS_TABLE: &str = "alerts";

/// Bytes read from the end of a lake file to get its footer in one request. DataFusion's
/// default of 512 KiB is most of a lake file (a footer and page index take 15–40 KB), so a
/// query answered from the footers alone read two thirds of the lake: 12.3 of 18.7 MB for
/// `count(*)` over the benchmark corpus, copied into fresh pages on every hunt.
const FOOTER_READ_BYTES: usize = 64 * 1024;

/// How every query over the lake (hunts, backtests, compaction) reads its Parquet files.
pub(crate) fn lake_parquet_format() -> ParquetFormat {
    ParquetFormat::default().with_metadata_size_hint(Some(FOOTER_READ_BYTES))
}

/// Event-time bounds, in ms since the epoch: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// First instant included.
    pub from: Option<i64>,
    /// First instant excluded.
    pub to: Option<i64>,
}

impl TimeRange {
    /// Whether the hour partition starting at `partition` can hold events in the range.
    pub fn overlaps(&self, partition: Partition) -> bool {
        self.from.is_none_or(|from| partition >= Partition::of_millis(from))
            && self.to.is_none_or(|to| partition <= Partition::of_millis(to - 1))
    }

    /// The filter selecting the range: on the partition columns (so whole folders are
    /// pruned) and on the timestamp column (so row groups and pages are pruned).
    fn filter(&self, ts_column: &str, hourly: bool) -> Option<Expr> {
        let timestamp =
            |millis: i64| lit(ScalarValue::TimestampMillisecond(Some(millis), Some("UTC".into())));
        let partition_bound = |millis: i64, lower: bool| {
            let partition = Partition::of_millis(millis);
            let (date, hour) = (lit(partition.date()), lit(format!("{:02}", partition.hour())));
            let beyond = |column: &str, value: Expr| {
                if lower { col(column).gt(value) } else { col(column).lt(value) }
            };
            let within = |column: &str, value: Expr| {
                if lower { col(column).gt_eq(value) } else { col(column).lt_eq(value) }
            };
            if hourly {
                beyond("dt", date.clone()).or(col("dt").eq(date).and(within("hour", hour)))
            } else {
                within("dt", date)
            }
        };
        let mut filters = Vec::new();
        if let Some(from) = self.from {
            filters.push(partition_bound(from, true));
            filters.push(col(ts_column).gt_eq(timestamp(from)));
        }
        if let Some(to) = self.to {
            filters.push(partition_bound(to - 1, false));
            filters.push(col(ts_column).lt(timestamp(to)));
        }
        filters.into_iter().reduce(Expr::and)
    }
}

/// Lets `ctx` read the lake's files by their URLs, counting the bytes read into `counter`.
pub(crate) fn register_store(
    ctx: &SessionContext,
    location: &LakeLocation,
    counter: Option<Arc<AtomicU64>>,
) {
    let local = location.url().scheme() == "file";
    let store: Arc<dyn ObjectStore> = if local {
        // DataFusion addresses local files by absolute path, from the file system root.
        Arc::new(LocalFileSystem::new())
    } else {
        location.store().clone()
    };
    let store = match counter {
        Some(counter) => Arc::new(CountingStore::new(store, counter)),
        None => store,
    };
    let store_url = if local {
        url::Url::parse("file:///").expect("a valid URL")
    } else {
        location.url().clone()
    };
    ctx.register_object_store(&store_url, store);
}

/// Registers the lake's tables on a session: build with [`LakeTables::new`], bound with
/// [`LakeTables::range`], then [`LakeTables::register`].
pub struct LakeTables {
    location: LakeLocation,
    range: TimeRange,
    scanned_bytes: Option<Arc<AtomicU64>>,
}

impl LakeTables {
    /// The tables of the lake at `location`, unbounded.
    pub fn new(location: LakeLocation) -> Self {
        Self { location, range: TimeRange::default(), scanned_bytes: None }
    }

    /// Limits both tables to events (alerts: first events) in `range`.
    pub fn range(mut self, range: TimeRange) -> Self {
        self.range = range;
        self
    }

    /// Adds every byte the tables read from the store to `counter`.
    pub fn count_scanned_bytes(mut self, counter: Arc<AtomicU64>) -> Self {
        self.scanned_bytes = Some(counter);
        self
    }

    /// Registers `cloudtrail` (partitions `dt`, `hour`) and `alerts` (partition `dt`).
    pub async fn register(&self, ctx: &SessionContext) -> Result<()> {
        register_store(ctx, &self.location, self.scanned_bytes.clone());
        self.register_table(ctx, EVENTS_TABLE, EVENTS_TABLE_DIR, cloudtrail_schema(), true).await?;
        self.register_table(ctx, ALERTS_TABLE, ALERTS_TABLE_DIR, alerts_schema(), false).await
    }

    async fn register_table(
        &self,
        ctx: &SessionContext,
        name: &str,
        folder: &str,
        schema: SchemaRef,
        hourly: bool,
    ) -> Result<()> {
        let folder = self.location.folder_url(folder);
        if folder.scheme() == "file"
            && let Ok(path) = folder.to_file_path()
        {
            std::fs::create_dir_all(&path)
                .map_err(|source| LakeError::Io { path: path.display().to_string(), source })?;
        }
        let partitions: &[&str] = if hourly { PARTITION_COLUMNS } else { ALERT_PARTITION_COLUMNS };
        let options = ListingOptions::new(Arc::new(lake_parquet_format()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(
                partitions.iter().map(|name| (name.to_string(), DataType::Utf8)).collect(),
            );
        let config = ListingTableConfig::new(ListingTableUrl::parse(folder.as_str())?)
            .with_listing_options(options)
            .with_schema(schema);
        let table = Arc::new(ListingTable::try_new(config)?);
        let ts_column = if hourly { EVENT_TS } else { FIRST_EVENT_TS };
        match self.range.filter(ts_column, hourly) {
            None => ctx.register_table(name, table)?,
            Some(filter) => {
                ctx.register_table(name, ctx.read_table(table)?.filter(filter)?.into_view())?
            }
        };
        Ok(())
    }

    /// The events files the range covers and their total size in bytes: what a full scan
    /// reads at most.
    pub async fn events_files_in_range(&self) -> Result<(u64, u64)> {
        let objects = self.location.list(EVENTS_TABLE_DIR).await?;
        let (mut files, mut bytes) = (0, 0);
        for object in objects {
            let path = object.location.as_ref();
            if !path.ends_with(".parquet") {
                continue;
            }
            if Partition::from_path(path).is_none_or(|partition| self.range.overlaps(partition)) {
                files += 1;
                bytes += object.size;
            }
        }
        Ok((files, bytes))
    }
}
