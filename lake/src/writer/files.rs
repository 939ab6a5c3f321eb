//! Lake files: one partition's rows in source order, named by the rows they hold and written
//! as zstd Parquet, alone or (the rows of several sources) under a group journal.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::{concat_batches, interleave_record_batch};
use arrow::datatypes::{Int64Type, SchemaRef};
use object_store::ObjectStoreExt;
use object_store::buffered::BufWriter;
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use xxhash_rust::xxh3::Xxh3;

use super::recovery::{GroupJournal, JOURNAL_DIR};
use super::{
    BufferedRows, LakeWriterConfig, LedgerEntry, Partition, SourceProgress, WriteStats,
    ledger_entry, put_ledger_entries,
};
use crate::delivery::cmp_delivery_order;
use crate::error::{LakeError, Result};
use crate::location::{EVENTS_TABLE_DIR, LakeLocation};
use crate::schema::{CLOUDTRAIL_FIELDS, SOURCE_RECORD, SOURCE_URI, Shape, UNMAPPED};

/// The rows of several ended sources, written as one file per partition under a journal,
/// then the sources' ledger entries.
pub(super) struct GroupWrite {
    pub(super) location: LakeLocation,
    pub(super) schema: SchemaRef,
    pub(super) config: LakeWriterConfig,
    pub(super) by_partition: BTreeMap<Partition, Vec<BufferedRows>>,
    /// The sources, with the files already written for them.
    pub(super) sources: Vec<(String, SourceProgress)>,
}

impl GroupWrite {
    pub(super) async fn run(self) -> Result<WriteStats> {
        // Name every file first: the journal lists them before any is written.
        let mut files = Vec::new();
        for (partition, rows) in self.by_partition {
            files.push(SortedFile::new(partition, rows));
        }
        let names: Vec<String> = files.iter().map(|file| file.relative.clone()).collect();
        let group_size = self.sources.len();
        let entries: Vec<LedgerEntry> = self
            .sources
            .into_iter()
            .map(|(source_id, mut progress)| {
                progress.files.extend(names.iter().cloned());
                ledger_entry(source_id, progress)
            })
            .collect();
        let journal = GroupJournal { files: names, entries };
        let mut hasher = Xxh3::new();
        for file in &journal.files {
            hasher.update(file.as_bytes());
        }
        let journal_path =
            self.location.path(&format!("{JOURNAL_DIR}/{:032x}.json", hasher.digest128()));
        self.location.put_json(&journal_path, &journal).await?;
        let mut stats = WriteStats::default();
        for file in files {
            stats.add(&file.write(&self.location, &self.schema, &self.config).await?);
        }
        tracing::debug!(
            files = stats.files,
            rows = stats.rows,
            sources = group_size,
            "lake group written"
        );
        put_ledger_entries(&self.location, &journal.entries).await?;
        stats.sources_committed += journal.entries.len() as u64;
        match self.location.store().delete(&journal_path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(stats),
            Err(source) => Err(LakeError::ObjectStore { path: journal_path.to_string(), source }),
        }
    }
}

/// Rows to be written as one lake file, in `order`.
pub(super) struct SortedFile {
    /// The file's path relative to the lake root.
    pub(super) relative: String,
    batches: Vec<RecordBatch>,
    order: Vec<(usize, usize)>,
}

impl SortedFile {
    /// The buffered `rows` (all in `partition`) in lake order, named by the rows they hold.
    pub(super) fn new(partition: Partition, rows: Vec<BufferedRows>) -> Self {
        // Each batch once, so that consecutive rows of one batch are one run, whichever
        // sources they belong to.
        let mut batches = Vec::new();
        let mut batch_index: HashMap<u64, usize> = HashMap::new();
        let mut pieces = Vec::with_capacity(rows.len());
        for BufferedRows { batch, batch_id, rows } in rows {
            let index = *batch_index.entry(batch_id).or_insert_with(|| {
                batches.push(batch);
                batches.len() - 1
            });
            pieces.push((index, rows));
        }
        let order = source_order(&batches, &pieces);
        let relative = format!(
            "{EVENTS_TABLE_DIR}/{}/part-{}.parquet",
            partition.folder(),
            content_name(&batches, &order)
        );
        Self { relative, batches, order }
    }

    /// Writes the rows in order: long runs of consecutive rows of one batch as slices of it,
    /// without a copy, and the rest gathered a chunk at a time, so a file never holds a second
    /// sorted copy of all its rows. Each buffered batch is let go once its last row is written,
    /// so batches free their memory as the file is written rather than at its end.
    pub(super) async fn write(
        self,
        location: &LakeLocation,
        schema: &SchemaRef,
        config: &LakeWriterConfig,
    ) -> Result<WriteStats> {
        let path = location.path(&self.relative);
        let parquet_error = |source| LakeError::Parquet { path: path.to_string(), source };
        let properties = parquet_properties(config.zstd_level, config.row_group_rows, &path)?;
        let object = BufWriter::new(location.store().clone(), path.clone());
        let mut writer = AsyncArrowWriter::try_new(object, schema.clone(), Some(properties))
            .map_err(parquet_error)?;
        let mut last_position = vec![0; self.batches.len()];
        for (position, &(batch, _)) in self.order.iter().enumerate() {
            last_position[batch] = position;
        }
        let mut by_last_use: Vec<usize> = (0..self.batches.len()).collect();
        by_last_use.sort_by_key(|&batch| last_position[batch]);
        let mut by_last_use = by_last_use.into_iter().peekable();
        let mut batches = self.batches;
        let written = RecordBatch::new_empty(schema.clone());
        let runs = runs(&self.order);
        for piece in pieces(&self.order, &runs) {
            let rows = match &piece {
                Piece::Slice { batch, row, rows, .. } => batches[*batch].slice(*row, *rows),
                Piece::Gather(range) => {
                    // A gather starts and ends at runs' ends: its runs, found among all.
                    let first = runs.partition_point(|run| run.start < range.start);
                    let last = runs.partition_point(|run| run.start < range.end);
                    gather(schema, &batches, &self.order, &runs[first..last])?
                }
            };
            let end = piece.end();
            while let Some(batch) = by_last_use.next_if(|&batch| last_position[batch] < end) {
                batches[batch] = written.clone();
            }
            writer.write(&rows).await.map_err(parquet_error)?;
        }
        let metadata = writer.finish().await.map_err(parquet_error)?;
        let bytes = metadata.row_groups().iter().map(|group| group.compressed_size() as u64).sum();
        tracing::debug!(file = %self.relative, rows = self.order.len(), bytes, "lake file written");
        Ok(WriteStats { files: 1, rows: self.order.len() as u64, bytes, sources_committed: 0 })
    }
}

/// The rows of `runs` (consecutive rows of one batch, as ranges of `order`) as one batch.
/// Runs are copied whole, a fraction of the cost of gathering each row; rows taken from all
/// over (runs shorter than [`COPY_RUN_ROWS`] on average) are gathered one by one.
fn gather(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    order: &[(usize, usize)],
    runs: &[Range<usize>],
) -> Result<RecordBatch> {
    let arrow_error = |source| LakeError::Arrow { context: "gathering rows in order", source };
    let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
        return Ok(RecordBatch::new_empty(schema.clone()));
    };
    let positions = &order[first.start..last.end];
    if positions.len() < COPY_RUN_ROWS * runs.len() {
        let sources: Vec<&RecordBatch> = batches.iter().collect();
        return interleave_record_batch(&sources, positions).map_err(arrow_error);
    }
    let slices: Vec<RecordBatch> = runs
        .iter()
        .map(|run| {
            let (batch, row) = order[run.start];
            batches[batch].slice(row, run.len())
        })
        .collect();
    concat_batches(schema, &slices).map_err(arrow_error)
}

/// `order` cut into runs of consecutive rows of one batch, as ranges of `order`.
fn runs(order: &[(usize, usize)]) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for position in 1..=order.len() {
        let (batch, row) = order[position - 1];
        if order.get(position) != Some(&(batch, row + 1)) {
            runs.push(start..position);
            start = position;
        }
    }
    runs
}

/// The Parquet settings of every lake file: zstd, page statistics (so queries prune by
/// event time within a file) and bounded row groups.
pub fn parquet_properties(
    zstd_level: i32,
    row_group_rows: usize,
    path: &object_store::path::Path,
) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(zstd_level)
        .map_err(|source| LakeError::Parquet { path: path.to_string(), source })?;
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(row_group_rows))
        // Every column (over a hundred leaves) buffers a data and a dictionary page before
        // compressing: at the 1 MiB defaults that alone is hundreds of MB.
        .set_data_page_size_limit(PAGE_BYTES)
        .set_dictionary_page_size_limit(PAGE_BYTES);
    for column in unprunable_columns() {
        builder = builder
            .set_column_statistics_enabled(column.clone(), EnabledStatistics::None)
            .set_column_dictionary_enabled(column, false);
    }
    Ok(builder.build())
}

/// Columns whose minimum and maximum never prune a page: JSON documents (their text starts
/// alike) and random identifiers (every page spans nearly all of them). Their statistics, two
/// comparisons of every value, are not kept, nor dictionaries: their values rarely repeat, so
/// hashing each into a dictionary until it fills was wasted (and the files came out larger).
fn unprunable_columns() -> impl Iterator<Item = ColumnPath> {
    let json = CLOUDTRAIL_FIELDS
        .iter()
        .filter(|field| matches!(field.shape, Shape::Json))
        .map(|field| field.column);
    json.chain([UNMAPPED, "eventid", "requestid", "sharedeventid"]).map(ColumnPath::from)
}

/// Data and dictionary page size limit of the lake's Parquet files.
const PAGE_BYTES: usize = 128 * 1024;

/// Rows gathered at once when writing a sorted file.
const WRITE_CHUNK_ROWS: usize = 4 * 1024;

/// Runs of consecutive rows of one batch at least this long are written as slices of it:
/// gathering copied every value, 6% of a run's CPU on the benchmark corpus, and one write
/// per run costs a pass over the file's columns.
const SLICE_RUN_ROWS: usize = 512;

/// Runs of consecutive rows at least this long on average are copied a run at a time rather
/// than gathered row by row.
const COPY_RUN_ROWS: usize = 8;

/// A part of a file's rows, written at once.
#[derive(Debug, PartialEq)]
enum Piece {
    /// `rows` consecutive rows of batch `batch` from `row`, at `end - rows..end` in the order.
    Slice { batch: usize, row: usize, rows: usize, end: usize },
    /// The rows at these positions of the order, gathered.
    Gather(Range<usize>),
}

impl Piece {
    /// The position in the order after this piece's last row.
    fn end(&self) -> usize {
        match self {
            Piece::Slice { end, .. } => *end,
            Piece::Gather(range) => range.end,
        }
    }
}

/// `order`, cut into `runs` (see [`runs`]), cut into pieces: runs of at least
/// [`SLICE_RUN_ROWS`] rows as slices, what lies between them in gathers of about
/// [`WRITE_CHUNK_ROWS`] rows.
fn pieces(order: &[(usize, usize)], runs: &[Range<usize>]) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut gather_start = 0;
    for run in runs {
        if run.len() >= SLICE_RUN_ROWS {
            if gather_start < run.start {
                pieces.push(Piece::Gather(gather_start..run.start));
            }
            let (batch, row) = order[run.start];
            pieces.push(Piece::Slice { batch, row, rows: run.len(), end: run.end });
            gather_start = run.end;
        } else if run.end - gather_start >= WRITE_CHUNK_ROWS {
            pieces.push(Piece::Gather(gather_start..run.end));
            gather_start = run.end;
        }
    }
    if gather_start < order.len() {
        pieces.push(Piece::Gather(gather_start..order.len()));
    }
    pieces
}

/// The rows of `pieces` (rows of `batches`) as (batch, row) pairs in source order: sources in
/// delivery order (see `crate::delivery`), each's rows by record position, so the file content
/// does not depend on arrival order. Sources are read in that order too, so the rows of those
/// read together mostly lie in it already. A batch holds its sources' rows in record order,
/// so runs of rows are sorted rather than rows, and the file is written from whole runs rather
/// than a row-by-row gather.
fn source_order(batches: &[RecordBatch], pieces: &[(usize, Range<usize>)]) -> Vec<(usize, usize)> {
    let columns: Vec<_> = batches.iter().map(source_identities).collect();
    let identity = |(batch, row): (usize, usize)| {
        let (uris, records) = &columns[batch];
        (SourceUri(uris.value(row)), records.value(row))
    };
    // Runs of one source's rows in increasing record order.
    let mut runs: Vec<(usize, Range<usize>)> = Vec::new();
    for (batch, rows) in pieces {
        let (uris, records) = &columns[*batch];
        let mut start = rows.start;
        for row in rows.start + 1..=rows.end {
            let continues = row < rows.end
                && uris.value(row) == uris.value(row - 1)
                && records.value(row) > records.value(row - 1);
            if !continues {
                runs.push((*batch, start..row));
                start = row;
            }
        }
    }
    runs.sort_by(|(left, left_rows), (right, right_rows)| {
        identity((*left, left_rows.start)).cmp(&identity((*right, right_rows.start)))
    });
    let disjoint = runs.windows(2).all(|pair| {
        let ((left, left_rows), (right, right_rows)) = (&pair[0], &pair[1]);
        identity((*left, left_rows.end - 1)) < identity((*right, right_rows.start))
    });
    let mut order: Vec<(usize, usize)> =
        runs.into_iter().flat_map(|(batch, rows)| rows.map(move |row| (batch, row))).collect();
    if !disjoint {
        // Runs of one source that overlap (never seen from the writer): sort the rows.
        order.sort_by_key(|&position| identity(position));
    }
    order
}

/// A source URI, ordered by delivery.
#[derive(PartialEq, Eq)]
struct SourceUri<'a>(&'a str);

impl PartialOrd for SourceUri<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SourceUri<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        cmp_delivery_order(self.0, other.0)
    }
}

/// A batch's source URI and source record columns.
fn source_identities(batch: &RecordBatch) -> (&StringArray, &Int64Array) {
    (
        batch.column_by_name(SOURCE_URI).expect("lake schema").as_string::<i32>(),
        batch.column_by_name(SOURCE_RECORD).expect("lake schema").as_primitive::<Int64Type>(),
    )
}

/// A file name derived from the identities (source and position) of the rows in `order`,
/// hex xxh3-128.
fn content_name(batches: &[RecordBatch], order: &[(usize, usize)]) -> String {
    let columns: Vec<_> = batches.iter().map(source_identities).collect();
    let mut hasher = Xxh3::new();
    for &(batch, row) in order {
        let (uris, records) = &columns[batch];
        hasher.update(uris.value(row).as_bytes());
        hasher.update(&[0]);
        hasher.update(&records.value(row).to_le_bytes());
    }
    format!("{:032x}", hasher.digest128())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::schema::EVENT_TS;

    #[test]
    fn content_names_identify_the_rows() {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new(SOURCE_URI, arrow::datatypes::DataType::Utf8, false),
            arrow::datatypes::Field::new(SOURCE_RECORD, arrow::datatypes::DataType::Int64, false),
        ]));
        let batch = |uris: Vec<&str>, records: Vec<i64>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(StringArray::from(uris)), Arc::new(Int64Array::from(records))],
            )
            .unwrap()
        };
        let in_order = [(0, 0), (0, 1)];
        let one_batch = [batch(vec!["a", "b"], vec![1, 2])];
        let split = [batch(vec!["b"], vec![2]), batch(vec!["a"], vec![1])];
        let other = [batch(vec!["a", "b"], vec![1, 3])];
        // The same rows in the same order name the same file, however they were batched.
        assert_eq!(content_name(&one_batch, &in_order), content_name(&split, &[(1, 0), (0, 0)]));
        assert_ne!(content_name(&one_batch, &in_order), content_name(&other, &in_order));
    }

    #[test]
    fn statistics_and_dictionaries_are_kept_where_they_pay() {
        let path = object_store::path::Path::from("t.parquet");
        let properties = parquet_properties(1, 1024, &path).unwrap();
        let statistics = |column: &str| properties.statistics_enabled(&ColumnPath::from(column));
        for pruning in ["event_ts", "eventname", "useridentity.arn", "source_uri"] {
            assert_eq!(statistics(pruning), EnabledStatistics::Page, "{pruning}");
        }
        for unprunable in ["requestparameters", "responseelements", "unmapped", "eventid"] {
            assert_eq!(statistics(unprunable), EnabledStatistics::None, "{unprunable}");
            assert!(!properties.dictionary_enabled(&ColumnPath::from(unprunable)), "{unprunable}");
        }
        assert!(properties.dictionary_enabled(&ColumnPath::from("eventname")));
    }

    #[test]
    fn long_runs_of_a_batch_are_sliced_and_the_rest_gathered() {
        let run = |batch: usize, rows: std::ops::Range<usize>| rows.map(move |row| (batch, row));
        let alternating = |rows: usize| (0..rows).map(|row| (row % 2, row));
        let order: Vec<(usize, usize)> = alternating(10)
            .chain(run(2, 0..SLICE_RUN_ROWS))
            .chain(run(3, 5..5 + SLICE_RUN_ROWS - 1))
            .chain(alternating(WRITE_CHUNK_ROWS))
            .collect();
        let slice_end = 10 + SLICE_RUN_ROWS;
        assert_eq!(
            pieces(&order, &runs(&order)),
            [
                Piece::Gather(0..10),
                Piece::Slice { batch: 2, row: 0, rows: SLICE_RUN_ROWS, end: slice_end },
                // A run one row short is gathered, with what follows, up to a chunk's rows.
                Piece::Gather(slice_end..slice_end + WRITE_CHUNK_ROWS),
                Piece::Gather(slice_end + WRITE_CHUNK_ROWS..order.len()),
            ]
        );
        assert_eq!(pieces(&[], &[]), []);
        assert_eq!(
            {
                let order: Vec<_> = run(0, 0..3 * SLICE_RUN_ROWS).collect();
                pieces(&order, &runs(&order))
            },
            [Piece::Slice { batch: 0, row: 0, rows: 3 * SLICE_RUN_ROWS, end: 3 * SLICE_RUN_ROWS }]
        );
    }

    #[tokio::test]
    async fn a_file_holds_every_row_in_source_order_however_its_batches_interleave() {
        use arrow::array::TimestampMillisecondArray;
        use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

        let schema = Arc::new(Schema::new(vec![
            Field::new(EVENT_TS, DataType::Timestamp(TimeUnit::Millisecond, None), false),
            Field::new(SOURCE_URI, DataType::Utf8, false),
            Field::new(SOURCE_RECORD, DataType::Int64, false),
        ]));
        let batch = |rows: Vec<(String, i64)>| {
            let times: Vec<i64> = (0..rows.len() as i64).collect();
            let (uris, records): (Vec<String>, Vec<i64>) = rows.into_iter().unzip();
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(TimestampMillisecondArray::from(times)),
                    Arc::new(StringArray::from(uris)),
                    Arc::new(Int64Array::from(records)),
                ],
            )
            .unwrap()
        };
        let source = |uri: &str, records: &mut dyn Iterator<Item = i64>| {
            records.map(|record| (uri.to_string(), record)).collect::<Vec<_>>()
        };
        // A source long enough to be written as a slice; small sources alternating between two
        // batches (copied a run at a time); a source whose rows alternate between two batches
        // (gathered row by row); a batch of two sources out of order.
        let small = |parity: usize| {
            (0..200)
                .filter(move |index| index % 2 == parity)
                .flat_map(move |index| (0..20).map(move |record| (format!("m-{index:03}"), record)))
        };
        let batches = [
            batch(source("long", &mut (0..3000))),
            batch(small(1).collect()),
            batch(small(0).collect()),
            batch(source("split", &mut (0..500).map(|record| record * 2 + 1))),
            batch(source("split", &mut (0..500).map(|record| record * 2))),
            batch([source("z", &mut (0..5)), source("a", &mut (3..9))].concat()),
        ];
        // Sources read together share a batch, in delivery order (here the reverse of their
        // URIs' order), each buffered as its rows of it (out of order, a source of another
        // batch in between).
        let delivered = |folder: &str, minute: usize| {
            format!("{folder}/1_CloudTrail_r_20250309T16{minute:02}Z_a.json.gz")
        };
        let shared = batch(
            [("z", 0), ("y", 5), ("x", 10)]
                .iter()
                .flat_map(|(folder, minute)| source(&delivered(folder, *minute), &mut (0..300)))
                .collect(),
        );
        let mut buffered: Vec<BufferedRows> = batches
            .iter()
            .enumerate()
            .map(|(index, batch)| BufferedRows {
                batch: batch.clone(),
                batch_id: index as u64,
                rows: 0..batch.num_rows(),
            })
            .collect();
        for rows in [600..900, 0..300] {
            buffered.push(BufferedRows { batch: shared.clone(), batch_id: 99, rows });
        }
        buffered.swap(0, 6);
        buffered.push(BufferedRows { batch: shared.clone(), batch_id: 99, rows: 300..600 });
        let mut expected: Vec<(String, i64)> = Vec::new();
        for batch in batches.iter().chain([&shared]) {
            let (uris, records) = source_identities(batch);
            expected.extend(
                (0..batch.num_rows()).map(|row| (uris.value(row).to_string(), records.value(row))),
            );
        }
        expected.sort_by(|(left_uri, left), (right_uri, right)| {
            cmp_delivery_order(left_uri, right_uri).then(left.cmp(right))
        });
        assert_eq!(expected[0].0, delivered("z", 0));

        let folder = tempfile::tempdir().unwrap();
        let location = LakeLocation::open(folder.path().to_str().unwrap()).unwrap();
        let file = SortedFile::new(Partition::of_millis(0), buffered);
        // The shared batch's sources follow each other in delivery order: one run of its rows.
        // (Batches are listed as first buffered: the shared one first.)
        let shared_runs =
            runs(&file.order).into_iter().filter(|run| file.order[run.start].0 == 0).count();
        assert_eq!((file.batches.len(), shared_runs), (batches.len() + 1, 1));
        let relative = file.relative.clone();
        let config = LakeWriterConfig::default();
        let stats = file.write(&location, &schema, &config).await.unwrap();
        assert_eq!(stats.rows, expected.len() as u64);

        let bytes = std::fs::read(folder.path().join(&relative)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .unwrap()
            .build()
            .unwrap();
        let mut written = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let (uris, records) = source_identities(&batch);
            written.extend(
                (0..batch.num_rows()).map(|row| (uris.value(row).to_string(), records.value(row))),
            );
        }
        assert_eq!(written, expected);
    }
}
