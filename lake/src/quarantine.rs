//! Quarantine: records that could not be decoded are kept, with where they came from and why,
//! as JSON Lines at `_quarantine/<source id>.jsonl` in the lake. The name is derived from the
//! source, so replaying a source rewrites its quarantine instead of duplicating it.

use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{LakeError, Result};
use crate::location::{LakeLocation, QUARANTINE_DIR};

/// One record (or unreadable stretch of a file) that did not make it into the lake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantinedRecord {
    /// The file or object it came from.
    pub source_uri: String,
    /// Byte offset in the decompressed stream where the record starts.
    pub byte_offset: u64,
    /// Position of the record in its source, when known.
    pub record_index: Option<u64>,
    /// Why it was rejected.
    pub reason: String,
    /// The raw text (cut at [`MAX_RAW_BYTES`]; `raw_truncated` says so).
    pub raw: String,
    /// Whether `raw` was cut.
    pub raw_truncated: bool,
}

/// Raw text kept per quarantined record.
pub const MAX_RAW_BYTES: usize = 256 * 1024;

impl QuarantinedRecord {
    /// A quarantine entry; `raw` is cut to [`MAX_RAW_BYTES`] and decoded lossily.
    pub fn new(
        source_uri: &str,
        byte_offset: u64,
        record_index: Option<u64>,
        reason: String,
        raw: &[u8],
    ) -> Self {
        let raw_truncated = raw.len() > MAX_RAW_BYTES;
        let kept = &raw[..raw.len().min(MAX_RAW_BYTES)];
        Self {
            source_uri: source_uri.to_string(),
            byte_offset,
            record_index,
            reason,
            raw: String::from_utf8_lossy(kept).into_owned(),
            raw_truncated,
        }
    }
}

/// Writes a source's quarantined records; returns the path written, relative to the lake root.
pub async fn write_quarantine(
    location: &LakeLocation,
    source_id: &str,
    records: &[QuarantinedRecord],
) -> Result<String> {
    let relative = format!("{QUARANTINE_DIR}/{source_id}.jsonl");
    let path = location.path(&relative);
    let mut body = Vec::new();
    for record in records {
        serde_json::to_writer(&mut body, record)
            .map_err(|source| LakeError::Json { path: path.to_string(), source })?;
        body.push(b'\n');
    }
    location
        .store()
        .put(&path, PutPayload::from(body))
        .await
        .map_err(|source| LakeError::ObjectStore { path: path.to_string(), source })?;
    Ok(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn quarantine_is_written_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let lake = LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
        let big = vec![b'x'; MAX_RAW_BYTES + 10];
        let records = vec![
            QuarantinedRecord::new(
                "file.json",
                10,
                Some(2),
                "bad eventTime".into(),
                b"{\"eventTime\":1}",
            ),
            QuarantinedRecord::new("file.json", 99, None, "truncated".into(), &big),
        ];
        let relative = write_quarantine(&lake, "abc", &records).await.unwrap();
        let text = std::fs::read_to_string(dir.path().join(&relative)).unwrap();
        let back: Vec<QuarantinedRecord> =
            text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(back[0], records[0]);
        assert!(back[1].raw_truncated);
        assert_eq!(back[1].raw.len(), MAX_RAW_BYTES);
    }
}
