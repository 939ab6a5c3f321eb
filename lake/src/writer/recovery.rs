//! The journal of a group write, and the recovery of group writes a crash interrupted.

use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use super::{LedgerEntry, put_ledger_entries};
use crate::error::{LakeError, Result};
use crate::location::LakeLocation;

/// The journal of a group write: what a crash between the files and the ledger entries
/// leaves to be finished or undone.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct GroupJournal {
    /// The group's files (relative to the lake root), written after this journal.
    pub(super) files: Vec<String>,
    /// The ledger entries to write once every file is durable.
    pub(super) entries: Vec<LedgerEntry>,
}

/// Where group journals live.
pub(super) const JOURNAL_DIR: &str = "_ledger/journal";

/// What [`recover`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Group writes finished: their missing ledger entries written.
    pub completed: u64,
    /// Group writes undone: their files deleted, their sources to be read again.
    pub undone: u64,
}

/// Finishes or undoes the group writes a crash interrupted: journals older than `grace`
/// (a live writer's journal is younger: give it time to finish). With every file of the
/// group present, the missing ledger entries are written; otherwise no entry was written
/// yet, and the files that exist are deleted so the sources are read again.
pub async fn recover(location: &LakeLocation, grace: std::time::Duration) -> Result<Recovery> {
    let store = location.store();
    let journals = location.list(JOURNAL_DIR).await?;
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
    let mut recovery = Recovery::default();
    for meta in journals.into_iter().filter(|meta| meta.last_modified <= cutoff) {
        let object_error =
            |source| LakeError::ObjectStore { path: meta.location.to_string(), source };
        let bytes = store
            .get(&meta.location)
            .await
            .map_err(object_error)?
            .bytes()
            .await
            .map_err(object_error)?;
        let journal: GroupJournal = serde_json::from_slice(&bytes)
            .map_err(|source| LakeError::Json { path: meta.location.to_string(), source })?;
        let mut present = Vec::new();
        for file in &journal.files {
            let path = location.path(file);
            match store.head(&path).await {
                Ok(_) => present.push(path),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => {
                    return Err(LakeError::ObjectStore { path: path.to_string(), source });
                }
            }
        }
        if present.len() == journal.files.len() {
            put_ledger_entries(location, &journal.entries).await?;
            recovery.completed += 1;
        } else {
            for path in present {
                match store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(source) => {
                        return Err(LakeError::ObjectStore { path: path.to_string(), source });
                    }
                }
            }
            recovery.undone += 1;
        }
        match store.delete(&meta.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(source) => return Err(object_error(source)),
        }
        tracing::warn!(journal = %meta.location, files = journal.files.len(), "interrupted lake write recovered");
    }
    Ok(recovery)
}
