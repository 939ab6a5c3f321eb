//! Objects in an object store (S3 or compatible), read as a stream: the body is decompressed
//! and decoded as its bytes arrive, never held whole.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use xxhash_rust::xxh3::Xxh3;

/// Chunks buffered between the download and the decoder.
const CHUNKS_IN_FLIGHT: usize = 8;

/// An object to process.
#[derive(Debug, Clone)]
pub struct ObjectSource {
    /// The store holding it.
    pub store: Arc<dyn ObjectStore>,
    /// Its listing entry (key, size, ETag).
    pub meta: ObjectMeta,
    /// `s3://bucket/key`, as rows record it.
    pub uri: String,
}

/// Id of a version of an object: a hash of its URI, ETag and size (an overwritten object is
/// a new source; the same object announced twice, in any shape, is not).
fn content_id(uri: &str, meta: &ObjectMeta) -> String {
    let mut hasher = Xxh3::new();
    // Listings quote ETags, other places may not: the same object must get the same id.
    let etag = meta.e_tag.as_deref().unwrap_or("").trim_matches('"');
    for part in [uri, etag, &meta.size.to_string()] {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    format!("{:032x}", hasher.digest128())
}

impl ObjectSource {
    /// Starts the download: the object's id, from the ETag and size the store answers with
    /// (notifications disagree on them: CloudTrail's own give neither), and a blocking reader
    /// of the body, fed by a download task as chunks arrive.
    pub async fn open(&self) -> io::Result<(String, Box<dyn Read + Send>)> {
        let result = self.store.get(&self.meta.location).await.map_err(io::Error::other)?;
        let id = content_id(&self.uri, &result.meta);
        let mut stream = result.into_stream();
        let (sender, receiver) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
        tokio::spawn(async move {
            while let Some(chunk) = stream.next().await {
                let failed = chunk.is_err();
                if sender.send(chunk.map_err(io::Error::other)).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok((id, Box::new(ChunkReader { receiver, current: Bytes::new() })))
    }
}

/// Lists the objects below `prefix` of `store`.
pub async fn list(
    store: Arc<dyn ObjectStore>,
    bucket: &str,
    prefix: &str,
) -> io::Result<Vec<ObjectSource>> {
    let prefix_path = Path::from(prefix);
    let mut listing = store.list(Some(&prefix_path));
    let mut found = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(io::Error::other)?;
        let uri = format!("s3://{bucket}/{}", meta.location);
        found.push(ObjectSource { store: store.clone(), meta, uri });
    }
    Ok(found)
}

struct ChunkReader {
    receiver: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            // Called on a blocking thread (the decoder's), never on the async runtime.
            match self.receiver.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let count = out.len().min(self.current.len());
        out[..count].copy_from_slice(&self.current.split_to(count));
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::PutPayload;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn objects_are_listed_and_streamed() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let body = vec![b'x'; 3 * 1024 * 1024];
        store.put(&Path::from("AWSLogs/1/a.json"), PutPayload::from(body.clone())).await.unwrap();
        store.put(&Path::from("other/b.json"), PutPayload::from(vec![1u8])).await.unwrap();
        let found = list(store, "bucket", "AWSLogs").await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].uri, "s3://bucket/AWSLogs/1/a.json");
        let (id, mut reader) = found[0].open().await.unwrap();
        let read = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).unwrap();
            all
        })
        .await
        .unwrap();
        assert_eq!(read, body);
        // The id comes from the store, not from what announced the object.
        let mut announced = found[0].clone();
        announced.meta.e_tag = None;
        announced.meta.size = 1;
        assert_eq!(announced.open().await.unwrap().0, id);
    }
}
