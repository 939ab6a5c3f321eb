//! The lake as DataFusion tables, for hunting, backtests and tests.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;

use crate::error::{LakeError, Result};
use crate::location::{EVENTS_TABLE_DIR, LakeLocation};
use crate::schema::{PARTITION_COLUMNS, cloudtrail_schema};

/// Name of the events table in SQL.
pub const EVENTS_TABLE: &str = "cloudtrail";

/// Registers the lake's events as the table `cloudtrail` (with the `dt` and `hour` partition
/// columns, pruned by DataFusion when a query filters on them).
pub async fn register_events_table(ctx: &SessionContext, location: &LakeLocation) -> Result<()> {
    let folder = location.folder_url(EVENTS_TABLE_DIR);
    if folder.scheme() == "file"
        && let Ok(path) = folder.to_file_path()
    {
        std::fs::create_dir_all(&path)
            .map_err(|source| LakeError::Io { path: path.display().to_string(), source })?;
    } else {
        ctx.register_object_store(location.url(), location.store().clone());
    }
    let table_url = ListingTableUrl::parse(folder.as_str())?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(
            PARTITION_COLUMNS.iter().map(|name| (name.to_string(), DataType::Utf8)).collect(),
        );
    let config = ListingTableConfig::new(table_url)
        .with_listing_options(options)
        .with_schema(cloudtrail_schema());
    ctx.register_table(EVENTS_TABLE, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}
