//! Reading a test lake back: SQL answers as CSV, and the files it holds.

use std::path::Path;

use lake::LakeLocation;
use pipeline::hunt::{OutputFormat, hunt};

/// The answer to `sql` over the lake, as CSV with a header.
pub async fn csv(location: &LakeLocation, sql: &str) -> String {
    let mut out = Vec::new();
    hunt(location, Default::default(), sql, OutputFormat::Csv, &mut out, false).await.unwrap();
    String::from_utf8(out).unwrap()
}

/// Every file below `root`, as sorted paths relative to it.
pub fn files(root: &Path) -> Vec<String> {
    let mut found: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.path().strip_prefix(root).unwrap().display().to_string())
        .collect();
    found.sort();
    found
}

/// The files below `root`'s `folder`, as paths relative to `root`.
pub fn files_in(root: &Path, folder: &str) -> Vec<String> {
    files(root).into_iter().filter(|file| file.starts_with(&format!("{folder}/"))).collect()
}
