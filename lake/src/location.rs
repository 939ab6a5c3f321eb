//! Where the lake lives: a local folder or an object store URL, reached through `object_store`.

use std::path::Path as FsPath;
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use url::Url;

use crate::error::{LakeError, Result};

/// Folder (below the lake root) of the CloudTrail events table.
pub const EVENTS_TABLE_DIR: &str = "cloudtrail";
/// Folder (below the lake root) of the alerts table.
pub const ALERTS_TABLE_DIR: &str = "alerts";
/// Folder of the per-source ingestion ledger.
pub const LEDGER_DIR: &str = "_ledger/sources";
/// Folder of compaction journals: a compaction in progress, to finish after a crash.
pub const COMPACTION_DIR: &str = "_compaction";
/// Folder of quarantined records.
pub const QUARANTINE_DIR: &str = "_quarantine";

/// An opened lake root: the store, the prefix inside it and the URL DataFusion knows it by.
#[derive(Debug, Clone)]
pub struct LakeLocation {
    store: Arc<dyn ObjectStore>,
    root: Path,
    url: Url,
    /// The store again when it is a local folder, for writes cheaper as plain file system
    /// calls (see [`LakeLocation::local_path`]).
    local: Option<LocalFileSystem>,
}

impl LakeLocation {
    /// Opens a lake from a local folder path or a `file://` URL, creating the folder if needed.
    pub fn open(location: &str) -> Result<Self> {
        let invalid =
            |reason: String| LakeError::InvalidLocation { location: location.to_string(), reason };
        if let Ok(url) = Url::parse(location)
            && url.scheme().len() > 1
        {
            return match url.scheme() {
                "s3" => Self::open_s3(location, &url),
                "file" => {
                    let path =
                        url.to_file_path().map_err(|()| invalid("not a local path".into()))?;
                    Self::open_folder(&path)
                }
                scheme => Err(invalid(format!(
                    "unsupported scheme '{scheme}' (supported: a folder, file://, s3://)"
                ))),
            };
        }
        Self::open_folder(FsPath::new(location))
    }

    /// An S3 bucket and prefix. Credentials and region come from the standard environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, web identity, container or instance metadata);
    /// `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`) points at an S3-compatible store, reached
    /// with path-style requests, over plain HTTP when the endpoint says so.
    fn open_s3(location: &str, url: &Url) -> Result<Self> {
        let invalid =
            |reason: String| LakeError::InvalidLocation { location: location.to_string(), reason };
        let bucket = url
            .host_str()
            .filter(|bucket| !bucket.is_empty())
            .ok_or_else(|| invalid("no bucket".into()))?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let endpoint =
            std::env::var("AWS_ENDPOINT_URL_S3").or_else(|_| std::env::var("AWS_ENDPOINT_URL"));
        if let Ok(endpoint) = endpoint {
            builder = builder
                .with_endpoint(&endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let store = builder
            .build()
            .map_err(|source| LakeError::ObjectStore { path: location.to_string(), source })?;
        let prefix = url.path().trim_matches('/');
        let url = Url::parse(&format!(
            "s3://{bucket}/{}",
            if prefix.is_empty() { String::new() } else { format!("{prefix}/") }
        ))
        .map_err(|error| invalid(error.to_string()))?;
        Ok(Self { store: Arc::new(store), root: Path::from(prefix), url, local: None })
    }

    fn open_folder(folder: &FsPath) -> Result<Self> {
        let io_error = |source| LakeError::Io { path: folder.display().to_string(), source };
        std::fs::create_dir_all(folder).map_err(io_error)?;
        let folder = folder.canonicalize().map_err(io_error)?;
        let store = LocalFileSystem::new_with_prefix(&folder).map_err(|source| {
            LakeError::ObjectStore { path: folder.display().to_string(), source }
        })?;
        let url = Url::from_directory_path(&folder).map_err(|()| LakeError::InvalidLocation {
            location: folder.display().to_string(),
            reason: "not an absolute path".into(),
        })?;
        Ok(Self { store: Arc::new(store.clone()), root: Path::default(), url, local: Some(store) })
    }

    /// The same lake reached through another store (a wrapper of this one): the root and URL
    /// stay.
    pub fn with_store(&self, store: Arc<dyn ObjectStore>) -> Self {
        Self { store, root: self.root.clone(), url: self.url.clone(), local: None }
    }

    /// The local file system path of `path` (a store path), when the lake is a local folder
    /// reached directly (not through a wrapping store).
    pub fn local_path(&self, path: &Path) -> Option<std::path::PathBuf> {
        self.local.as_ref()?.path_to_filesystem(path).ok()
    }

    /// The path of a store object relative to the lake root (slash-separated).
    pub fn relative(&self, path: &Path) -> String {
        match path.prefix_match(&self.root) {
            Some(parts) => {
                parts.map(|part| part.as_ref().to_string()).collect::<Vec<_>>().join("/")
            }
            None => path.to_string(),
        }
    }

    /// URL of an object below the lake root.
    pub fn object_url(&self, relative: &str) -> Url {
        let mut url = self.url.clone();
        url.set_path(&format!("{}{}", self.url.path(), relative.trim_start_matches('/')));
        url
    }

    /// The object store holding the lake.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// URL of the lake root, ending in `/`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Path of `relative` (slash-separated) below the lake root, inside the store.
    pub fn path(&self, relative: &str) -> Path {
        relative
            .split('/')
            .filter(|part| !part.is_empty())
            .fold(self.root.clone(), |path, part| path.clone().join(part))
    }

    /// Writes `value` as indented JSON at `path` (the lake's journals and ledger entries),
    /// replacing what is there.
    pub async fn put_json(&self, path: &Path, value: &impl serde::Serialize) -> Result<()> {
        let body = serde_json::to_vec_pretty(value).expect("lake documents serialise");
        self.store
            .put(path, PutPayload::from(body))
            .await
            .map_err(|source| LakeError::ObjectStore { path: path.to_string(), source })?;
        Ok(())
    }

    /// Reads the JSON document at `path`; `None` when there is none.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &Path) -> Result<Option<T>> {
        let failed = |source| LakeError::ObjectStore { path: path.to_string(), source };
        let bytes = match self.store.get(path).await {
            Ok(found) => found.bytes().await.map_err(failed)?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => return Err(failed(source)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| LakeError::Json { path: path.to_string(), source })
    }

    /// Every object below `relative` (slash-separated, below the lake root).
    pub async fn list(&self, relative: &str) -> Result<Vec<ObjectMeta>> {
        use futures::TryStreamExt;
        let prefix = self.path(relative);
        self.store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|source| LakeError::ObjectStore { path: prefix.to_string(), source })
    }

    /// URL of a folder below the lake root, ending in `/`.
    pub fn folder_url(&self, relative: &str) -> Url {
        let mut url = self.url.clone();
        url.set_path(&format!("{}{}/", self.url.path(), relative.trim_matches('/')));
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_a_folder_and_builds_paths() {
        let dir = tempfile::tempdir().unwrap();
        let lake = LakeLocation::open(dir.path().join("lake").to_str().unwrap()).unwrap();
        assert!(dir.path().join("lake").is_dir());
        assert_eq!(lake.path("cloudtrail/dt=2025-01-01").as_ref(), "cloudtrail/dt=2025-01-01");
        assert!(lake.folder_url("cloudtrail").as_str().ends_with("/lake/cloudtrail/"));
    }

    #[test]
    fn rejects_unknown_schemes() {
        let error = LakeLocation::open("gopher://host/lake").unwrap_err();
        assert!(error.to_string().contains("unsupported scheme 'gopher'"), "{error}");
    }
}
