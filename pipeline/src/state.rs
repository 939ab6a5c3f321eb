//! The processing state shared by every worker of a lake: watermark, correlation windows,
//! dedup periods, recent immediate alerts and the alert outbox, kept as one zstd-compressed
//! JSON object at `_state/correlations.json.zst` below the lake root (correlation windows
//! hold event records, and the state is written again after every batch).
//!
//! Workers update it by compare-and-swap: a commit is a conditional PUT (`If-Match` on the
//! ETag last read or written, `If-None-Match: *` for the first one). A worker whose commit
//! loses the race reloads the state and redoes its batch on top of it, so every signal enters
//! the correlations exactly once, whichever worker read it. On stores without conditional
//! updates (a local folder) the state is simply overwritten: one process owns such a lake.

use std::io::{BufWriter, IntoInnerError};

use lake::{LakeError, LakeLocation};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutMode, PutPayload, UpdateVersion};

use crate::error::Result;
use serde::Serialize;

use crate::process::Checkpoint;

/// Where the shared state lives, below the lake root.
pub const STATE_PATH: &str = "_state/correlations.json.zst";

/// Where an uncompressed state was kept before; read when there is no state at
/// [`STATE_PATH`] yet, so a lake keeps its state across the upgrade.
pub const LEGACY_STATE_PATH: &str = "_state/correlations.json";

/// zstd level of the state: the state is written after every batch, so a fast level.
const STATE_ZSTD_LEVEL: i32 = 1;

/// Bytes of serialised JSON handed to zstd at once when encoding a checkpoint.
const CHECKPOINT_BUFFER_BYTES: usize = 128 * 1024;

/// The outcome of [`SharedState::commit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// The state is now the committed one.
    Committed,
    /// Another worker committed since the last load: reload and redo.
    Conflict,
}

/// Handle on the shared state object, remembering the version last seen.
#[derive(Debug)]
pub struct SharedState {
    location: LakeLocation,
    path: ObjectPath,
    /// Version last loaded or committed; `None` when the object did not exist then.
    version: Option<UpdateVersion>,
    /// False once the store has said it cannot update conditionally.
    conditional: bool,
}

/// A checkpoint as stored: JSON, zstd-compressed.
pub struct EncodedCheckpoint(Vec<u8>);

impl EncodedCheckpoint {
    /// Encodes `checkpoint` (a [`Checkpoint`], or a view serialised as one).
    pub fn of(checkpoint: &impl Serialize) -> Self {
        // Compressed as it is serialised: the JSON text itself was the largest allocation of
        // a run over a 1 GiB file (benches/large-file.sh). Buffered: serde_json writes a token
        // at a time, and each write to the encoder was a zstd call; encoding the checkpoint
        // took 2.8% of a 200,000-event run's instructions, 1.3% buffered (benches/profile.sh).
        let mut encoder =
            zstd::Encoder::new(Vec::new(), STATE_ZSTD_LEVEL).expect("zstd starts in memory");
        let mut buffered = BufWriter::with_capacity(CHECKPOINT_BUFFER_BYTES, &mut encoder);
        serde_json::to_writer(&mut buffered, checkpoint).expect("state serialises");
        buffered.into_inner().map_err(IntoInnerError::into_error).expect("zstd writes to memory");
        Self(encoder.finish().expect("zstd finishes in memory"))
    }
}

impl SharedState {
    /// The state of the lake at `location` (nothing is read yet).
    pub fn new(location: &LakeLocation) -> Self {
        Self {
            path: location.path(STATE_PATH),
            location: location.clone(),
            version: None,
            conditional: true,
        }
    }

    /// Reads the current state; `None` when there is none yet.
    pub async fn load(&mut self) -> Result<Option<Checkpoint>> {
        match self.location.store().get(&self.path).await {
            Ok(found) => {
                let version = UpdateVersion {
                    e_tag: found.meta.e_tag.clone(),
                    version: found.meta.version.clone(),
                };
                let bytes = found.bytes().await.map_err(|source| self.error(source))?;
                let json = zstd::decode_all(bytes.as_ref())
                    .map_err(|source| LakeError::Io { path: self.path.to_string(), source })?;
                let checkpoint = serde_json::from_slice(&json)
                    .map_err(|source| LakeError::Json { path: self.path.to_string(), source })?;
                self.version = Some(version);
                Ok(Some(checkpoint))
            }
            Err(object_store::Error::NotFound { .. }) => {
                self.version = None;
                self.load_legacy().await
            }
            Err(source) => Err(self.error(source).into()),
        }
    }

    /// Reads an uncompressed state of an earlier version; the next commit creates the
    /// compressed one.
    async fn load_legacy(&self) -> Result<Option<Checkpoint>> {
        Ok(self.location.get_json(&self.location.path(LEGACY_STATE_PATH)).await?)
    }

    /// Writes `checkpoint` (a [`Checkpoint`], or a view serialised as one) if nobody else
    /// committed since this handle's last load or commit.
    pub async fn commit(&mut self, checkpoint: &impl Serialize) -> Result<Commit> {
        self.commit_encoded(EncodedCheckpoint::of(checkpoint)).await
    }

    /// As [`SharedState::commit`], for a checkpoint encoded beforehand (while something else
    /// had to finish before the commit).
    pub async fn commit_encoded(&mut self, checkpoint: EncodedCheckpoint) -> Result<Commit> {
        let body = PutPayload::from(checkpoint.0);
        let mode = match (&self.version, self.conditional) {
            (_, false) => PutMode::Overwrite,
            (Some(version), true) => PutMode::Update(version.clone()),
            (None, true) => PutMode::Create,
        };
        let written =
            match self.location.store().put_opts(&self.path, body.clone(), mode.into()).await {
                Err(object_store::Error::NotImplemented { .. }) => {
                    self.conditional = false;
                    self.location.store().put(&self.path, body).await
                }
                other => other,
            };
        match written {
            Ok(result) => {
                self.version = Some(UpdateVersion { e_tag: result.e_tag, version: result.version });
                Ok(Commit::Committed)
            }
            Err(object_store::Error::Precondition { .. })
            | Err(object_store::Error::AlreadyExists { .. }) => Ok(Commit::Conflict),
            // S3 answers a conditional PUT on a deleted object with 404.
            Err(object_store::Error::NotFound { .. }) => Ok(Commit::Conflict),
            Err(source) => Err(self.error(source).into()),
        }
    }

    fn error(&self, source: object_store::Error) -> LakeError {
        LakeError::ObjectStore { path: self.path.to_string(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_lake_overwrites_its_state() {
        let dir = tempfile::tempdir().unwrap();
        let location = LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
        let mut first = SharedState::new(&location);
        assert!(first.load().await.unwrap().is_none());
        let checkpoint = Checkpoint { max_event_ms: Some(7), ..Checkpoint::default() };
        assert_eq!(first.commit(&checkpoint).await.unwrap(), Commit::Committed);
        // The first commit was create-only: a second handle that never loaded conflicts.
        let mut second = SharedState::new(&location);
        assert_eq!(second.commit(&Checkpoint::default()).await.unwrap(), Commit::Conflict);
        assert_eq!(second.load().await.unwrap().unwrap().max_event_ms, Some(7));
        // Local folders cannot update conditionally: later commits overwrite.
        let newer = Checkpoint { max_event_ms: Some(9), ..Checkpoint::default() };
        assert_eq!(first.commit(&newer).await.unwrap(), Commit::Committed);
        assert_eq!(second.load().await.unwrap().unwrap().max_event_ms, Some(9));
    }

    #[tokio::test]
    async fn the_state_is_compressed_and_an_uncompressed_one_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let location = LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
        let legacy = Checkpoint { max_event_ms: Some(5), ..Checkpoint::default() };
        std::fs::create_dir_all(dir.path().join("_state")).unwrap();
        std::fs::write(dir.path().join(LEGACY_STATE_PATH), serde_json::to_vec(&legacy).unwrap())
            .unwrap();
        let mut state = SharedState::new(&location);
        assert_eq!(state.load().await.unwrap().unwrap().max_event_ms, Some(5));
        let newer = Checkpoint { max_event_ms: Some(6), ..Checkpoint::default() };
        assert_eq!(state.commit(&newer).await.unwrap(), Commit::Committed);
        let stored = std::fs::read(dir.path().join(STATE_PATH)).unwrap();
        let json = zstd::decode_all(stored.as_slice()).unwrap();
        assert_eq!(serde_json::from_slice::<Checkpoint>(&json).unwrap().max_event_ms, Some(6));
        // The compressed state wins over the old file from then on.
        assert_eq!(
            SharedState::new(&location).load().await.unwrap().unwrap().max_event_ms,
            Some(6)
        );
    }
}
