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

impl ObjectSource {
    /// Id of this version of the object: a hash of its URI, ETag and size (an overwritten
    /// object is a new source; the same object listed twice is not).
    pub fn content_id(&self) -> String {
        let mut hasher = Xxh3::new();
        // Listings quote ETags, notifications do not: the same object must get the same id.
        let etag = self.meta.e_tag.as_deref().unwrap_or("").trim_matches('"');
        for part in [self.uri.as_str(), etag, &self.meta.size.to_string()] {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
        format!("{:032x}", hasher.digest128())
    }

    /// A blocking reader of the body, fed by a download task as chunks arrive.
    pub async fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        let result = self.store.get(&self.meta.location).await.map_err(io::Error::other)?;
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
        Ok(Box::new(ChunkReader { receiver, current: Bytes::new() }))
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
        let mut reader = found[0].open().await.unwrap();
        let read = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).unwrap();
            all
        })
        .await
        .unwrap();
        assert_eq!(read, body);
        let again = found[0].clone();
        assert_eq!(again.content_id(), found[0].content_id());
    }
}
