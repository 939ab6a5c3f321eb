//! Looking sources up in the ledger before they are processed: one request per source, or,
//! for a run over many sources, one listing of the ledger for all of them.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;

use super::{LedgerEntry, find_ledger_entry};
use crate::error::{LakeError, Result};
use crate::location::{LEDGER_DIR, LakeLocation};

/// Ledger entries listed per source to look up, at most, before a listing is given up for a
/// request per source: a listing request returns a thousand entries where a lookup asks for
/// one, and a long-lived lake's ledger can be far larger than a run.
const LISTED_ENTRIES_PER_SOURCE: usize = 16;

/// Ledger entries listed at most, whatever the run: bounds the memory of the listed ids
/// (about a hundred bytes each).
const MAX_LISTED_ENTRIES: usize = 100_000;

/// How sources are looked up in the ledger of a lake.
#[derive(Debug, Clone)]
pub struct LedgerLookup {
    location: LakeLocation,
    /// The source ids in the ledger when it was listed, if it was.
    listed: Option<Arc<HashSet<String>>>,
}

impl LedgerLookup {
    /// Each source looked up with a request of its own (a worker handed a few sources at a
    /// time, possibly beside other writers).
    pub fn per_source(location: &LakeLocation) -> Self {
        Self { location: location.clone(), listed: None }
    }

    /// The ledger listed once for a run over `sources` sources: a source not listed is new
    /// without a request of its own (the benchmark corpus's 3,358 lookups took 3% of a
    /// run's CPU on a local lake). A ledger of more than `LISTED_ENTRIES_PER_SOURCE` (16)
    /// entries per source, or `MAX_LISTED_ENTRIES` (100,000), is not listed to its end: the
    /// sources are looked up one by one.
    ///
    /// Only for the lake's only writer: an entry that another writer commits after the listing
    /// goes unseen. Entries this writer commits later are of sources it has seen, which its
    /// caller knows of, as with any lookup made ahead of processing.
    pub async fn listed(location: &LakeLocation, sources: usize) -> Result<Self> {
        let limit = sources.saturating_mul(LISTED_ENTRIES_PER_SOURCE).min(MAX_LISTED_ENTRIES);
        let prefix = location.path(LEDGER_DIR);
        let mut entries = location.store().list(Some(&prefix));
        let mut ids = HashSet::new();
        while let Some(entry) = entries.next().await {
            let entry = entry
                .map_err(|source| LakeError::ObjectStore { path: prefix.to_string(), source })?;
            if ids.len() == limit {
                tracing::debug!(limit, "ledger larger than the run: sources looked up one by one");
                return Ok(Self::per_source(location));
            }
            if let Some(id) = entry.location.filename().and_then(|name| name.strip_suffix(".json"))
            {
                ids.insert(id.to_string());
            }
        }
        tracing::debug!(entries = ids.len(), "ledger listed");
        Ok(Self { location: location.clone(), listed: Some(Arc::new(ids)) })
    }

    /// Whether the listing shows, without a request, that a source is not in the ledger
    /// (never, when the ledger was not listed).
    pub fn is_new_by_listing(&self, source_id: &str) -> bool {
        self.listed.as_ref().is_some_and(|ids| !ids.contains(source_id))
    }

    /// The ledger entry of a source, if its rows are in the lake.
    pub async fn find(&self, source_id: &str) -> Result<Option<LedgerEntry>> {
        if self.is_new_by_listing(source_id) {
            return Ok(None);
        }
        find_ledger_entry(&self.location, source_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::put_ledger_entries;
    use super::*;

    fn entry(source_id: &str) -> LedgerEntry {
        LedgerEntry {
            source_id: source_id.to_string(),
            source_uri: format!("file:///logs/{source_id}.json.gz"),
            rows: 3,
            files: vec![format!("cloudtrail/dt=2025-03-09/hour=16/part-{source_id}.parquet")],
        }
    }

    #[tokio::test]
    async fn a_listed_ledger_answers_without_a_request_for_sources_it_lacks() {
        let folder = tempfile::tempdir().unwrap();
        let location = LakeLocation::open(folder.path().to_str().unwrap()).unwrap();
        // A lake without a ledger yet lists as empty.
        let empty = LedgerLookup::listed(&location, 10).await.unwrap();
        assert!(empty.is_new_by_listing("a"));
        assert_eq!(empty.find("a").await.unwrap(), None);

        put_ledger_entries(&location, &[entry("a"), entry("b")]).await.unwrap();
        let listed = LedgerLookup::listed(&location, 10).await.unwrap();
        assert_eq!(listed.find("a").await.unwrap(), Some(entry("a")));
        assert!(!listed.is_new_by_listing("a"));
        assert_eq!(listed.find("c").await.unwrap(), None);
        assert!(listed.is_new_by_listing("c"));

        // Committed after the listing (by a writer the listing cannot know of): unseen by the
        // listing, found by a lookup of its own.
        put_ledger_entries(&location, &[entry("c")]).await.unwrap();
        assert_eq!(listed.find("c").await.unwrap(), None);
        let per_source = LedgerLookup::per_source(&location);
        assert!(!per_source.is_new_by_listing("d"));
        assert_eq!(per_source.find("c").await.unwrap(), Some(entry("c")));

        // Three entries for one source's lookup fit; for none they do not, and every source
        // is looked up on its own.
        let fallback = LedgerLookup::listed(&location, 0).await.unwrap();
        assert!(!fallback.is_new_by_listing("z"));
        assert_eq!(fallback.find("c").await.unwrap(), Some(entry("c")));
        assert!(LedgerLookup::listed(&location, 1).await.unwrap().is_new_by_listing("z"));
    }
}
