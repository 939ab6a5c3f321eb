//! `lake compact`: merges the small files of closed partitions into files near a target size,
//! sorted by event time, so queries open a few large files instead of one per source.
//!
//! Crash safety rests on a journal per merge, `_compaction/<table>/<output>.json`, written
//! before anything else changes:
//! 1. the journal names the input files, the output file and the sources they hold;
//! 2. the output is written (an object appears whole or not at all); its name is a hash of
//!    the inputs' names, which are themselves content hashes, so rewriting it gives the same
//!    object;
//! 3. the ledger entries of those sources are pointed at the output;
//! 4. the inputs are deleted, then the journal.
//!
//! A run first finishes every journal it finds: if the output is missing, the inputs are
//! all still there (they are deleted only after the output is durable) and it is written
//! again. A crash at any point followed by another run therefore leaves every row exactly
//! once. Only files whose sources are in the ledger are merged: a file without a ledger
//! entry may belong to a source being written (or to be replayed), which would write it
//! again under the same name.
//!
//! What readers see: a query listing a partition between steps 2 and 4 can see the rows of
//! the merged files twice (the output and the inputs), never zero times. A query that listed
//! the files before step 4 and opens an input after it fails with "not found" and can be
//! re-run.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use parquet::arrow::AsyncArrowWriter;
use serde::{Deserialize, Serialize};

use crate::alerts::alerts_schema;
use crate::error::{LakeError, Result};
use crate::location::{
    ALERTS_TABLE_DIR, COMPACTION_DIR, EVENTS_TABLE_DIR, LEDGER_DIR, LakeLocation,
};
use crate::schema::cloudtrail_schema;
use crate::table::{lake_parquet_format, register_store};
use crate::writer::{LedgerEntry, Partition, ledger_entry_path, parquet_properties};

/// Settings of a compaction.
#[derive(Debug, Clone)]
pub struct CompactConfig {
    /// How long after its end a partition counts as closed (late events have stopped).
    pub older_than: Duration,
    /// Size merged files aim at; files of half this size or more are left alone.
    pub target_bytes: u64,
    /// Memory the sort may use before it spills to disk.
    pub memory_limit: usize,
}

impl Default for CompactConfig {
    fn default() -> Self {
        Self {
            older_than: Duration::from_secs(2 * 3600),
            target_bytes: 128 * 1024 * 1024,
            memory_limit: 512 * 1024 * 1024,
        }
    }
}

/// What a compaction did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CompactStats {
    /// Merges left unfinished by an earlier run, finished by this one.
    pub resumed: u64,
    /// Merges done.
    pub merges: u64,
    /// Small files merged (and deleted).
    pub files_merged: u64,
    /// Rows written to merged files.
    pub rows: u64,
    /// Ledger entries pointed at merged files.
    pub ledger_entries_updated: u64,
}

/// One merge, as journaled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Journal {
    /// Folder of the table below the lake root.
    table: String,
    /// Files merged, relative to the lake root.
    inputs: Vec<String>,
    /// The merged file, relative to the lake root.
    output: String,
    /// Sources whose ledger entries name the inputs.
    sources: Vec<String>,
}

/// A lake file found by listing.
struct LakeFile {
    relative: String,
    size: u64,
}

/// Compacts a lake: build with [`Compaction::new`], then [`Compaction::execute`].
pub struct Compaction {
    location: LakeLocation,
    config: CompactConfig,
}

impl Compaction {
    /// A compaction of the lake at `location`.
    pub fn new(location: LakeLocation, config: CompactConfig) -> Self {
        Self { location, config }
    }

    /// Finishes interrupted merges, then merges the small files of partitions closed at
    /// `now_ms`.
    pub async fn execute(&self, now_ms: i64) -> Result<CompactStats> {
        let mut stats = CompactStats::default();
        for (path, journal) in self.journals().await? {
            tracing::info!(output = %journal.output, "finishing an interrupted merge");
            self.finish(&path, &journal, &mut stats).await?;
            stats.resumed += 1;
        }
        let closed_before = now_ms - self.config.older_than.as_millis() as i64;
        let mut journals = self.plan_events(closed_before).await?;
        journals.extend(self.plan_alerts(closed_before).await?);
        for journal in journals {
            let name =
                journal.output.rsplit('/').next().unwrap_or_default().replace(".parquet", "");
            let path =
                self.location.path(&format!("{COMPACTION_DIR}/{}/{name}.json", journal.table));
            self.location.put_json(&path, &journal).await?;
            self.finish(&path, &journal, &mut stats).await?;
            stats.merges += 1;
        }
        Ok(stats)
    }

    async fn journals(&self) -> Result<Vec<(Path, Journal)>> {
        let mut journals = Vec::new();
        for object in self.list(COMPACTION_DIR).await? {
            let path = self.location.path(&object.relative);
            journals.push((path.clone(), self.read_json(&path).await?));
        }
        Ok(journals)
    }

    /// Steps 2 to 4 of a journaled merge; each is skipped or repeated harmlessly.
    async fn finish(&self, path: &Path, journal: &Journal, stats: &mut CompactStats) -> Result<()> {
        let output = self.location.path(&journal.output);
        match self.location.store().head(&output).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => stats.rows += self.merge(journal).await?,
            Err(source) => {
                return Err(LakeError::ObjectStore { path: output.to_string(), source });
            }
        }
        for source_id in &journal.sources {
            if self.repoint_ledger(source_id, journal).await? {
                stats.ledger_entries_updated += 1;
            }
        }
        for input in &journal.inputs {
            let input = self.location.path(input);
            match self.location.store().delete(&input).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => {
                    return Err(LakeError::ObjectStore { path: input.to_string(), source });
                }
            }
        }
        stats.files_merged += journal.inputs.len() as u64;
        match self.location.store().delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(LakeError::ObjectStore { path: path.to_string(), source }),
        }
    }

    /// Writes the merged file: events sorted by event time (then source and position);
    /// alerts sorted by first event time with one row per `alert_id`.
    async fn merge(&self, journal: &Journal) -> Result<u64> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(self.config.memory_limit, 1.0)
            .build_arc()?;
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime);
        register_store(&ctx, &self.location, None);
        let (schema, sql) = if journal.table == EVENTS_TABLE_DIR {
            (
                cloudtrail_schema(),
                "SELECT * FROM merged ORDER BY event_ts, source_uri, source_record",
            )
        } else {
            (
                alerts_schema(),
                "SELECT * EXCLUDE (copy) FROM (SELECT *, row_number() OVER \
                 (PARTITION BY alert_id ORDER BY last_event_ts DESC) AS copy FROM merged) \
                 WHERE copy = 1 ORDER BY first_event_ts, alert_id",
            )
        };
        let urls = journal
            .inputs
            .iter()
            .map(|input| ListingTableUrl::parse(self.location.object_url(input).as_str()))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let options =
            ListingOptions::new(Arc::new(lake_parquet_format())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(schema.clone());
        ctx.register_table("merged", Arc::new(ListingTable::try_new(config)?))?;
        let mut batches = ctx.sql(sql).await?.execute_stream().await?;

        let path = self.location.path(&journal.output);
        let parquet_error = |source| LakeError::Parquet { path: path.to_string(), source };
        let properties = parquet_properties(3, 128 * 1024, &path)?;
        let object = BufWriter::new(self.location.store().clone(), path.clone());
        let mut writer = AsyncArrowWriter::try_new(object, schema.clone(), Some(properties))
            .map_err(parquet_error)?;
        let mut rows = 0;
        while let Some(batch) = batches.next().await {
            // The table's own schema, so merged files declare exactly what the writer's do.
            let batch = RecordBatch::try_new(schema.clone(), batch?.columns().to_vec())
                .map_err(|source| LakeError::Arrow { context: "merging files", source })?;
            rows += batch.num_rows() as u64;
            writer.write(&batch).await.map_err(parquet_error)?;
        }
        writer.finish().await.map_err(parquet_error)?;
        Ok(rows)
    }

    /// Points a source's ledger entry at the merged file instead of the inputs.
    async fn repoint_ledger(&self, source_id: &str, journal: &Journal) -> Result<bool> {
        let path = ledger_entry_path(&self.location, source_id);
        let mut entry: LedgerEntry = self.read_json(&path).await?;
        let before = entry.files.clone();
        entry.files.retain(|file| !journal.inputs.contains(file));
        if entry.files.len() == before.len() {
            return Ok(false);
        }
        entry.files.push(journal.output.clone());
        entry.files.sort();
        entry.files.dedup();
        self.location.put_json(&path, &entry).await?;
        Ok(true)
    }

    /// Merges of events partitions closed before `closed_before`, over files the ledger
    /// knows.
    async fn plan_events(&self, closed_before: i64) -> Result<Vec<Journal>> {
        let ledger = self.ledger_by_file().await?;
        let mut partitions: BTreeMap<Partition, Vec<LakeFile>> = BTreeMap::new();
        for file in self.list(EVENTS_TABLE_DIR).await? {
            if let Some(partition) = Partition::from_path(&file.relative)
                && partition.start_millis() + 3_600_000 <= closed_before
                && ledger.contains_key(&file.relative)
            {
                partitions.entry(partition).or_default().push(file);
            }
        }
        let mut journals = Vec::new();
        for (partition, files) in partitions {
            let folder = format!("{EVENTS_TABLE_DIR}/{}", partition.folder());
            for group in self.groups(files) {
                let mut sources: Vec<String> =
                    group.iter().flat_map(|input| ledger[input].iter().cloned()).collect();
                sources.sort();
                sources.dedup();
                journals.push(journal(EVENTS_TABLE_DIR, &folder, group, sources));
            }
        }
        Ok(journals)
    }

    /// Merges of alerts dates closed before `closed_before`.
    async fn plan_alerts(&self, closed_before: i64) -> Result<Vec<Journal>> {
        let mut dates: BTreeMap<String, Vec<LakeFile>> = BTreeMap::new();
        for file in self.list(ALERTS_TABLE_DIR).await? {
            let Some(date) = file.relative.split('/').find_map(|part| part.strip_prefix("dt="))
            else {
                continue;
            };
            let Some(start) = Partition::from_path(&format!("dt={date}/hour=00")) else {
                continue;
            };
            if start.start_millis() + 86_400_000 <= closed_before {
                dates.entry(date.to_string()).or_default().push(file);
            }
        }
        let mut journals = Vec::new();
        for (date, files) in dates {
            let folder = format!("{ALERTS_TABLE_DIR}/dt={date}");
            for group in self.groups(files) {
                journals.push(journal(ALERTS_TABLE_DIR, &folder, group, Vec::new()));
            }
        }
        Ok(journals)
    }

    /// Groups the small files of one partition, in name order, into groups of two or more
    /// files whose sizes add up to at most the target.
    fn groups(&self, mut files: Vec<LakeFile>) -> Vec<Vec<String>> {
        files.retain(|file| file.size < self.config.target_bytes / 2);
        files.sort_by(|a, b| a.relative.cmp(&b.relative));
        let mut groups = Vec::new();
        let (mut group, mut size) = (Vec::new(), 0);
        for file in files {
            if !group.is_empty() && size + file.size > self.config.target_bytes {
                groups.push(std::mem::take(&mut group));
                size = 0;
            }
            size += file.size;
            group.push(file.relative);
        }
        groups.push(group);
        groups.retain(|group| group.len() > 1);
        groups
    }

    /// Every ledger entry, as file -> sources naming it.
    async fn ledger_by_file(&self) -> Result<HashMap<String, Vec<String>>> {
        let entries: Vec<LedgerEntry> = futures::stream::iter(self.list(LEDGER_DIR).await?)
            .map(
                |object| async move { self.read_json(&self.location.path(&object.relative)).await },
            )
            .buffer_unordered(16)
            .try_collect()
            .await?;
        let mut by_file: HashMap<String, Vec<String>> = HashMap::new();
        for entry in entries {
            for file in entry.files {
                by_file.entry(file).or_default().push(entry.source_id.clone());
            }
        }
        Ok(by_file)
    }

    async fn list(&self, folder: &str) -> Result<Vec<LakeFile>> {
        let objects = self.location.list(folder).await?;
        Ok(objects
            .into_iter()
            .map(|object| LakeFile {
                relative: self.location.relative(&object.location),
                size: object.size,
            })
            .collect())
    }

    async fn read_json<T: serde::de::DeserializeOwned>(&self, path: &Path) -> Result<T> {
        let bytes = self
            .location
            .store()
            .get(path)
            .await
            .map_err(|source| LakeError::ObjectStore { path: path.to_string(), source })?
            .bytes()
            .await
            .map_err(|source| LakeError::ObjectStore { path: path.to_string(), source })?;
        serde_json::from_slice(&bytes)
            .map_err(|source| LakeError::Json { path: path.to_string(), source })
    }
}

/// The journal of merging `inputs` into a file of `folder` named after them.
fn journal(table: &str, folder: &str, inputs: Vec<String>, sources: Vec<String>) -> Journal {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for input in &inputs {
        hasher.update(input.as_bytes());
        hasher.update(&[0]);
    }
    let output = format!("{folder}/part-c{:032x}.parquet", hasher.digest128());
    Journal { table: table.to_string(), inputs, output, sources }
}
