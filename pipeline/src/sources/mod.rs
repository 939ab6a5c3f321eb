//! Sources of CloudTrail log files: local files and folders, and objects in S3 (or an
//! S3-compatible store). Each source has a stable id (the lake's idempotency key) and a
//! reader of its decompressed bytes.

pub mod files;
pub mod lambda;
pub mod notifications;
pub mod objects;
pub mod sqs;

use std::io::{self, Read};
use std::path::PathBuf;

use lake::delivery::cmp_delivery_order;

use self::files::{FileSource, open_decompressed};
use self::objects::ObjectSource;

/// A log file or object to process.
#[derive(Debug, Clone)]
pub enum Source {
    /// A local file.
    File(FileSource),
    /// An object in an object store.
    Object(ObjectSource),
}

impl Source {
    /// The URI rows from this source carry in `source_uri`.
    pub fn uri(&self) -> String {
        match self {
            Self::File(file) => file.uri(),
            Self::Object(object) => object.uri.clone(),
        }
    }

    /// Its stored (usually compressed) size in bytes, as found.
    pub fn size(&self) -> u64 {
        match self {
            Self::File(file) => file.size,
            Self::Object(object) => object.meta.size,
        }
    }

    /// The path (or key) whose S3 layout folders tell digest and Insights files apart.
    pub fn layout_path(&self) -> PathBuf {
        match self {
            Self::File(file) => file.path.clone(),
            Self::Object(object) => PathBuf::from(object.meta.location.as_ref()),
        }
    }

    /// Opens the source: its id (a hash of a file's bytes, or of an object's URI, ETag and
    /// size) and a blocking reader of the decompressed content (gzip detected by its magic
    /// bytes), to be read on a blocking thread.
    pub async fn open(&self) -> io::Result<(String, Box<dyn Read + Send>)> {
        let prepared = self.prepare().await;
        tokio::task::spawn_blocking(move || prepared.open()).await.map_err(io::Error::other)?
    }

    /// Does what opening the source needs the async runtime for: an object's download is
    /// started (so several can be under way while one is decoded); a file is left to
    /// [`Prepared::open`].
    pub async fn prepare(&self) -> Prepared {
        match self {
            Self::File(file) => Prepared::File(file.clone()),
            Self::Object(object) => Prepared::Object(object.open().await),
        }
    }
}

/// A source ready to be opened on a blocking thread (see [`Source::prepare`]).
pub enum Prepared {
    /// A local file, not read yet.
    File(FileSource),
    /// An object's id and body, or why its download could not start.
    Object(io::Result<(String, Box<dyn Read + Send>)>),
}

impl Prepared {
    /// The source's id and a reader of its decompressed content. Blocks: call it on a
    /// blocking thread.
    pub fn open(self) -> io::Result<(String, Box<dyn Read + Send>)> {
        match self {
            Self::File(file) => file.open_identified(),
            Self::Object(opened) => {
                let (id, body) = opened?;
                Ok((id, open_decompressed(body)?))
            }
        }
    }
}

/// Sources found under the inputs, in processing order, and what could not be read.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Sources in CloudTrail delivery order (the time in their names), then by name.
    pub sources: Vec<Source>,
    /// Inputs or entries that could not be read, with the reason.
    pub unreadable: Vec<(String, String)>,
}

/// Walks the inputs: local files and folders (recursively), and `s3://bucket/prefix` URLs
/// (every object below the prefix).
pub async fn discover(inputs: &[String]) -> Discovered {
    let mut found = Discovered::default();
    let mut local = Vec::new();
    for input in inputs {
        if !input.starts_with("s3://") {
            local.push(PathBuf::from(input));
            continue;
        }
        let listed = match lake::LakeLocation::open(input) {
            Ok(location) => {
                let bucket = location.url().host_str().unwrap_or_default().to_string();
                let prefix = location.path("").to_string();
                objects::list(location.store().clone(), &bucket, &prefix).await
            }
            Err(error) => Err(io::Error::other(error)),
        };
        match listed {
            Ok(objects) => found.sources.extend(objects.into_iter().map(Source::Object)),
            Err(error) => found.unreadable.push((input.clone(), error.to_string())),
        }
    }
    let files = files::discover(&local);
    found.sources.extend(files.files.into_iter().map(Source::File));
    found.unreadable.extend(
        files.unreadable.into_iter().map(|(path, reason)| (path.display().to_string(), reason)),
    );
    // In delivery order (see `lake::delivery`). The URIs are built once per source (one per
    // comparison built each a dozen times over).
    let mut by_uri: Vec<(String, Source)> =
        found.sources.into_iter().map(|source| (source.uri(), source)).collect();
    by_uri.sort_by(|(left, _), (right, _)| cmp_delivery_order(left, right));
    found.sources = by_uri.into_iter().map(|(_, source)| source).collect();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cloudtrail_files_are_read_in_delivery_order() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "a/111_CloudTrail_us-east-1_20250309T1700Z_x.json.gz",
            "b/222_CloudTrail_eu-west-1_20250309T1645Z_y.json.gz",
            "c/notes.json",
        ];
        for name in names {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "[]").unwrap();
        }
        let order: Vec<String> = discover(&[dir.path().display().to_string()])
            .await
            .sources
            .iter()
            .map(|source| source.layout_path().file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            order,
            [
                "222_CloudTrail_eu-west-1_20250309T1645Z_y.json.gz",
                "111_CloudTrail_us-east-1_20250309T1700Z_x.json.gz",
                "notes.json"
            ]
        );
    }
}
