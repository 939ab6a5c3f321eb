//! Starting sources: opened, looked up in the lake's ledger and decoded on blocking threads,
//! in order, a bounded amount ahead of processing; runs of small sources as groups decoded
//! into one batch.

use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use futures::StreamExt;
use lake::LedgerEntry;
use lake::writer::LedgerLookup;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::decode::{BatchBuilder, DecodeConfig, DecodeReport, decode, decode_whole};
use crate::error::{PipelineError, Result};
use crate::sources::files::skip_by_path;
use crate::sources::{Prepared, Source};

use super::RunConfig;

/// Started sources queued for processing at most (their memory is bounded by
/// [`RunConfig::read_ahead_bytes`]; this only bounds the queue itself).
const MAX_SOURCES_AHEAD: usize = 4096;

/// Sources up to this stored size are decoded in groups, one after another on one thread into
/// one batch: most CloudTrail files hold a few dozen events, and a thread hand-off, a set of
/// column builders and a batch for each cost more than decoding them.
const SMALL_SOURCE_BYTES: u64 = 256 * 1024;

/// A group's batch is cut (between sources) once it holds this many times
/// [`DecodeConfig::batch_rows`]: a group is at most half the read-ahead of stored bytes, which
/// is only about one batch at CloudTrail's usual compression, but could be many at a better one.
const GROUP_BATCH_ROWS_FACTOR: usize = 4;

/// Downloads of a group's objects under way at once, ahead of the one being decoded.
const OPENS_AHEAD: usize = 8;

/// Ledger lookups under way at once, across groups.
const LEDGER_LOOKUPS_AT_ONCE: usize = 16;

/// A source whose download and decoding have started (or that needs neither), or a group of
/// small sources decoded.
pub enum StartedSource {
    /// Skipped on purpose (digest, Insights), by its path.
    Skipped { uri: String, reason: &'static str },
    /// Could not be identified or opened.
    Failed { uri: String, reason: String },
    /// Decoding on a blocking thread, batches arriving on `batches`.
    Decoding {
        uri: String,
        source_id: String,
        batches: mpsc::Receiver<RecordBatch>,
        decoding: JoinHandle<DecodeReport>,
        /// Its share of the read-ahead budget, given back once its batches are all received.
        reserved: OwnedSemaphorePermit,
        /// Its ledger entry, looked up while it started: the lookup's round trip would
        /// otherwise hold up processing once per source.
        ledger_entry: lake::Result<Option<LedgerEntry>>,
    },
    /// Consecutive small sources, decoded.
    Group {
        /// Their rows and outcomes, in source order.
        chunks: Vec<DecodedChunk>,
        /// The group's share of the read-ahead budget.
        reserved: OwnedSemaphorePermit,
    },
}

/// Rows of consecutive sources of a group, decoded into one batch, and what each gave.
pub struct DecodedChunk {
    /// The members' rows, in member order; `None` when they had none.
    pub(super) batch: Option<RecordBatch>,
    pub(super) members: Vec<GroupMember>,
}

/// A source of a group.
pub(super) struct GroupMember {
    pub(super) uri: String,
    pub(super) outcome: MemberOutcome,
}

/// What became of a source of a group.
pub(super) enum MemberOutcome {
    /// Skipped by its path.
    Skipped(&'static str),
    /// Could not be opened.
    Failed(String),
    /// Decoded: its rows (`report.records` of them) follow the earlier members' in the batch.
    Decoded {
        source_id: String,
        report: DecodeReport,
        /// Its ledger lookup, under way while the rest of the group is decoded; `None` when
        /// the ledger's listing already shows the source is new.
        ledger_entry: Option<JoinHandle<lake::Result<Option<LedgerEntry>>>>,
    },
}

/// Starts reading `sources` in order on a task of its own, yielding them in order: up to
/// `config.concurrency` are opened and decoded at once, and sources keep starting while
/// earlier ones are processed, as long as those started and not yet processed stay within
/// `config.read_ahead_bytes`. Runs of small sources (see [`SMALL_SOURCE_BYTES`]) start as
/// groups of up to half that budget.
///
/// Decoding slots and read-ahead bytes are both taken in source order, so the source
/// processed next never waits for a later one: whatever holds them comes before it.
pub fn start_sources(
    sources: Vec<Source>,
    ledger: LedgerLookup,
    config: &RunConfig,
) -> impl futures::Stream<Item = Result<StartedSource>> + Unpin + Send + use<> {
    let decode_config = config.decode.clone();
    let budget = config.read_ahead_bytes.clamp(1, u64::from(u32::MAX));
    let read_ahead = Arc::new(Semaphore::new(budget as usize));
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let lookups = Arc::new(Semaphore::new(LEDGER_LOOKUPS_AT_ONCE));
    let builders = Arc::new(Mutex::new(Vec::new()));
    let (started_tx, started) = mpsc::channel(MAX_SOURCES_AHEAD);
    tokio::spawn(async move {
        let mut sources = sources.into_iter().peekable();
        while let Some(source) = sources.next() {
            let mut bytes = source.size();
            let group = if bytes <= SMALL_SOURCE_BYTES {
                let mut group = vec![source];
                while let Some(next) = sources.next_if(|next| {
                    next.size() <= SMALL_SOURCE_BYTES && bytes + next.size() <= budget / 2
                }) {
                    bytes += next.size();
                    group.push(next);
                }
                Starting::Group(group)
            } else {
                Starting::Alone(source)
            };
            let cost = bytes.clamp(1, budget) as u32;
            let reserved = read_ahead.clone().acquire_many_owned(cost).await.expect("never closed");
            let slot = slots.clone().acquire_owned().await.expect("never closed");
            let (ledger, decode_config) = (ledger.clone(), decode_config.clone());
            let starting = match group {
                Starting::Group(group) => {
                    let shared =
                        GroupShared { lookups: lookups.clone(), builders: builders.clone() };
                    tokio::spawn(start_group(group, ledger, decode_config, slot, reserved, shared))
                }
                Starting::Alone(source) => tokio::spawn(async move {
                    Ok(start_source(source, ledger, decode_config, slot, reserved).await)
                }),
            };
            if started_tx.send(starting).await.is_err() {
                break; // Processing stopped.
            }
        }
    });
    futures::stream::unfold(started, |mut started| async move {
        let starting = started.recv().await?;
        Some((starting, started))
    })
    .then(|starting| async move {
        starting.await.map_err(|join_error| PipelineError::Input {
            path: "source reader".into(),
            source: join_error.into(),
        })?
    })
    .boxed()
}

/// How sources start: a larger one alone, streaming; a run of small ones as a group.
enum Starting {
    Alone(Source),
    Group(Vec<Source>),
}

/// What the groups of a run share.
struct GroupShared {
    /// Bounds the ledger lookups under way.
    lookups: Arc<Semaphore>,
    /// Builders left by groups decoded, with room for about as many rows again: grown by
    /// doubling instead, a group's batch would hold up to twice the memory its rows need.
    builders: Arc<Mutex<Vec<BatchBuilder>>>,
}

/// Decodes the sources of `group` in order on one blocking thread, which holds `slot`, into
/// one batch (cut between sources past [`GROUP_BATCH_ROWS_FACTOR`] batches' rows),
/// while their objects download a few ahead and their ledger entries are looked up in the
/// lake through `ledger`.
async fn start_group(
    group: Vec<Source>,
    ledger: LedgerLookup,
    decode_config: DecodeConfig,
    slot: OwnedSemaphorePermit,
    reserved: OwnedSemaphorePermit,
    shared: GroupShared,
) -> Result<StartedSource> {
    let runtime = tokio::runtime::Handle::current();
    let decoding = tokio::task::spawn_blocking(move || {
        let mut opening = futures::stream::iter(group)
            .map(|source| async move {
                let uri = source.uri();
                match skip_by_path(&source.layout_path()) {
                    Some(reason) => (uri, Err(reason.name())),
                    None => (uri, Ok(source.prepare().await)),
                }
            })
            .buffered(OPENS_AHEAD);
        let mut rows = shared.builders.lock().expect("not poisoned").pop().unwrap_or_default();
        let mut chunks = Vec::new();
        let mut members = Vec::new();
        while let Some((uri, prepared)) = runtime.block_on(opening.next()) {
            let outcome = match prepared.map(Prepared::open) {
                Err(reason) => MemberOutcome::Skipped(reason),
                Ok(Err(error)) => MemberOutcome::Failed(format!("cannot open: {error}")),
                Ok(Ok((source_id, reader))) => {
                    let report = decode_whole(reader, &uri, &decode_config, &mut rows);
                    // A task per lookup only when it takes a request.
                    let ledger_entry = (!ledger.is_new_by_listing(&source_id)).then(|| {
                        let (ledger, lookups, id) =
                            (ledger.clone(), shared.lookups.clone(), source_id.clone());
                        runtime.spawn(async move {
                            let _permit = lookups.acquire_owned().await.expect("never closed");
                            ledger.find(&id).await
                        })
                    });
                    MemberOutcome::Decoded { source_id, report, ledger_entry }
                }
            };
            members.push(GroupMember { uri, outcome });
            if rows.rows() >= GROUP_BATCH_ROWS_FACTOR * decode_config.batch_rows {
                let batch = Some(rows.finish(true));
                chunks.push(DecodedChunk { batch, members: std::mem::take(&mut members) });
            }
        }
        if !members.is_empty() {
            let batch = (rows.rows() > 0).then(|| rows.finish(true));
            chunks.push(DecodedChunk { batch, members });
        }
        shared.builders.lock().expect("not poisoned").push(rows);
        drop(slot);
        chunks
    });
    let chunks = decoding.await.map_err(|join_error| PipelineError::Input {
        path: "group of small sources".into(),
        source: join_error.into(),
    })?;
    Ok(StartedSource::Group { chunks, reserved })
}

/// Identifies `source`, opens it and starts decoding it on a blocking thread, which holds
/// `slot` until decoding ends; meanwhile looks it up in the lake's ledger through `ledger`.
async fn start_source(
    source: Source,
    ledger: LedgerLookup,
    decode_config: DecodeConfig,
    slot: OwnedSemaphorePermit,
    reserved: OwnedSemaphorePermit,
) -> StartedSource {
    let uri = source.uri();
    if let Some(reason) = skip_by_path(&source.layout_path()) {
        return StartedSource::Skipped { uri, reason: reason.name() };
    }
    let (source_id, reader) = match source.open().await {
        Ok(opened) => opened,
        Err(error) => {
            return StartedSource::Failed { uri, reason: format!("cannot open: {error}") };
        }
    };
    // One batch queued per source (and one being decoded) bounds the memory of a large source
    // read ahead: a second queued batch was about 12 MB more peak memory on a 1 GiB file
    // (benches/large-file.sh) for no gain in speed.
    let (batches_tx, batches) = mpsc::channel(1);
    let decode_uri = uri.clone();
    let decoding = tokio::task::spawn_blocking(move || {
        let report = decode(reader, &decode_uri, &decode_config, |batch| {
            batches_tx.blocking_send(batch).is_ok()
        });
        drop(slot);
        report
    });
    let ledger_entry = ledger.find(&source_id).await;
    StartedSource::Decoding { uri, source_id, batches, decoding, reserved, ledger_entry }
}
