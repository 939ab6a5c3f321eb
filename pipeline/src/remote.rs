//! Rules and the sinks file kept in S3 (`--rules s3://bucket/prefix`,
//! `--sinks s3://bucket/key`), as a deployment keeps them: copied once at start-up into a
//! temporary folder and loaded from there with the local loaders, so a rule behaves the same
//! wherever it is stored.

use std::path::{Path, PathBuf};

use lake::LakeLocation;
use object_store::ObjectStoreExt;

use crate::error::{PipelineError, Result};

/// Whether a `--rules`/`--sinks` value names an object store location rather than a file.
pub fn is_remote(path: &Path) -> bool {
    path.to_str().is_some_and(|text| text.contains("://") && !text.starts_with("file://"))
}

/// A local copy of remote objects, removed when dropped.
pub struct LocalCopy {
    _dir: tempfile::TempDir,
    /// The copied folder (for a prefix) or file (for one object).
    pub path: PathBuf,
}

/// Copies the object at `url`, or every object below it when it is a prefix, keeping their
/// relative paths.
pub async fn copy_local(url: &str) -> Result<LocalCopy> {
    let failed = |reason: String| PipelineError::Config { file: url.into(), reason };
    let (parent, name) = url
        .trim_end_matches('/')
        .rsplit_once('/')
        .ok_or_else(|| failed("not a location".into()))?;
    let dir = tempfile::tempdir().map_err(|error| failed(error.to_string()))?;
    // Opened at the parent, so that one URL serves both an object and a prefix.
    let location = LakeLocation::open(parent).map_err(|error| failed(error.to_string()))?;
    let store = location.store();
    let prefix = location.path(name);
    // One object, or else a prefix (listing treats its argument as a folder).
    let (objects, single) = match store.head(&prefix).await {
        Ok(meta) => (vec![meta], true),
        Err(object_store::Error::NotFound { .. }) => {
            (location.list(name).await.map_err(|error| failed(error.to_string()))?, false)
        }
        Err(error) => return Err(failed(error.to_string())),
    };
    for object in &objects {
        let relative = if single {
            name.to_string()
        } else {
            let Some(parts) = object.location.prefix_match(&prefix) else { continue };
            parts.map(|part| part.as_ref().to_string()).collect::<Vec<_>>().join("/")
        };
        let target = dir.path().join(if single { relative } else { format!("{name}/{relative}") });
        let bytes = match store.get(&object.location).await {
            Ok(result) => result.bytes().await,
            Err(error) => Err(error),
        }
        .map_err(|error| failed(format!("{}: {error}", object.location)))?;
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder).map_err(|error| failed(error.to_string()))?;
        }
        std::fs::write(&target, &bytes).map_err(|error| failed(error.to_string()))?;
    }
    if objects.is_empty() {
        return Err(failed("no object there".into()));
    }
    tracing::info!(url, objects = objects.len(), "copied from the object store");
    let path = dir.path().join(name);
    Ok(LocalCopy { _dir: dir, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn copies_a_prefix_or_one_object() {
        let source = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(source.path().join("rules/sub")).unwrap();
        std::fs::write(source.path().join("rules/a.sql"), "select 1").unwrap();
        std::fs::write(source.path().join("rules/sub/b.yml"), "title: b").unwrap();
        std::fs::write(source.path().join("sinks.toml"), "[[sink]]").unwrap();
        let base = format!("file://{}", source.path().display());
        assert!(is_remote(Path::new("s3://bucket/rules")) && !is_remote(Path::new("rules")));
        let rules = copy_local(&format!("{base}/rules")).await.unwrap();
        assert_eq!(std::fs::read_to_string(rules.path.join("sub/b.yml")).unwrap(), "title: b");
        assert_eq!(std::fs::read_to_string(rules.path.join("a.sql")).unwrap(), "select 1");
        let sinks = copy_local(&format!("{base}/sinks.toml")).await.unwrap();
        assert_eq!(std::fs::read_to_string(&sinks.path).unwrap(), "[[sink]]");
        let missing = copy_local(&format!("{base}/nothing")).await.err().unwrap().to_string();
        assert!(missing.contains("no object there"), "{missing}");
    }
}
