//! Local files and folders (walked recursively). gzip is detected by its magic bytes, not by
//! the file name.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

/// Files up to this size are read into memory once, for both their content id and their
/// decoding; larger ones are read twice, streaming. CloudTrail's files are mostly a few KiB,
/// and two 256 KiB read buffers for each cost more than the file.
const READ_WHOLE_BYTES: u64 = 4 * 1024 * 1024;

/// A log file to process.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileSource {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes when it was found (what reading ahead budgets by).
    pub size: u64,
}

impl FileSource {
    /// The URI rows from this file carry in `source_uri`.
    pub fn uri(&self) -> String {
        self.path.display().to_string()
    }

    /// Content id: xxh3-128 of the file's bytes, so the same file under another name or path
    /// is recognised as already ingested.
    pub fn content_id(&self) -> io::Result<String> {
        let mut file = File::open(&self.path)?;
        let mut hasher = Xxh3::new();
        let mut buffer = vec![0; 256 * 1024];
        loop {
            let read = file.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        Ok(format!("{:032x}", hasher.digest128()))
    }

    /// A reader of the decompressed content.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        open_decompressed(File::open(&self.path)?)
    }

    /// The content id and a reader of the decompressed content.
    pub fn open_identified(&self) -> io::Result<(String, Box<dyn Read + Send>)> {
        let mut bytes = Vec::with_capacity(self.size.min(READ_WHOLE_BYTES) as usize);
        File::open(&self.path)?.take(READ_WHOLE_BYTES + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > READ_WHOLE_BYTES {
            return Ok((self.content_id()?, self.open()?));
        }
        let id = format!("{:032x}", xxh3_128(&bytes));
        let reader: Box<dyn Read + Send> = if bytes.starts_with(&GZIP_MAGIC) {
            Box::new(flate2::bufread::MultiGzDecoder::new(Cursor::new(bytes)))
        } else {
            Box::new(Cursor::new(bytes))
        };
        Ok((id, reader))
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Wraps a byte stream in a gzip decoder when it starts with the gzip magic bytes.
pub fn open_decompressed(reader: impl Read + Send + 'static) -> io::Result<Box<dyn Read + Send>> {
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let start = io::BufRead::fill_buf(&mut reader)?;
    if start.starts_with(&GZIP_MAGIC) {
        // Multi-member: concatenated gzip files are valid gzip.
        Ok(Box::new(MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Files found under the inputs, sorted, and the inputs that could not be read.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Regular files, in path order (so runs are deterministic).
    pub files: Vec<FileSource>,
    /// Inputs or folder entries that could not be read, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Walks the inputs: files are taken as they are, folders recursively.
pub fn discover(inputs: &[PathBuf]) -> Discovered {
    let mut found = Discovered::default();
    for input in inputs {
        for entry in walkdir::WalkDir::new(input).follow_links(true) {
            match entry {
                Ok(entry) if entry.file_type().is_file() => {
                    let size = entry.metadata().map_or(0, |metadata| metadata.len());
                    found.files.push(FileSource { path: entry.into_path(), size });
                }
                Ok(_) => {}
                Err(error) => {
                    let path = error.path().unwrap_or(input).to_path_buf();
                    found.unreadable.push((path, error.to_string()));
                }
            }
        }
    }
    found.files.sort();
    found.files.dedup();
    found
}

/// Skips files by their S3 layout folder when the name alone says they hold no events.
pub fn skip_by_path(path: &Path) -> Option<crate::decode::SkipReason> {
    let text = path.to_string_lossy();
    if text.contains("/CloudTrail-Digest/") {
        Some(crate::decode::SkipReason::Digest)
    } else if text.contains("/CloudTrail-Insight/") {
        Some(crate::decode::SkipReason::Insights)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_detected_by_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let gz_named_json = dir.path().join("a.json");
        let mut encoder = flate2::write::GzEncoder::new(
            File::create(&gz_named_json).unwrap(),
            flate2::Compression::fast(),
        );
        encoder.write_all(b"{\"Records\":[]}").unwrap();
        encoder.finish().unwrap();
        let plain_named_gz = dir.path().join("nested/b.json.gz");
        std::fs::create_dir_all(plain_named_gz.parent().unwrap()).unwrap();
        std::fs::write(&plain_named_gz, b"[]").unwrap();

        let found = discover(&[dir.path().to_path_buf()]);
        assert_eq!(found.files.len(), 2);
        let mut text = String::new();
        FileSource { path: gz_named_json, size: 0 }
            .open()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"Records\":[]}");
        text.clear();
        FileSource { path: plain_named_gz, size: 0 }
            .open()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "[]");
    }

    #[test]
    fn missing_inputs_are_reported() {
        let found = discover(&[PathBuf::from("/definitely/not/here")]);
        assert!(found.files.is_empty());
        assert_eq!(found.unreadable.len(), 1);
    }

    #[test]
    fn a_file_read_whole_reads_as_when_streamed() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"Records\":[]}".repeat(1000);
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gzip, text.as_bytes()).unwrap();
        let path = dir.path().join("f.json.gz");
        std::fs::write(&path, gzip.finish().unwrap()).unwrap();
        let source = FileSource { size: std::fs::metadata(&path).unwrap().len(), path };
        let (id, mut reader) = source.open_identified().unwrap();
        let mut whole = String::new();
        reader.read_to_string(&mut whole).unwrap();
        let mut streamed = String::new();
        source.open().unwrap().read_to_string(&mut streamed).unwrap();
        assert_eq!(streamed, text);
        assert_eq!((id, whole), (source.content_id().unwrap(), streamed));
    }

    #[test]
    fn content_ids_follow_content() {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in [("a", "x"), ("b", "x"), ("c", "y")] {
            std::fs::write(dir.path().join(name), body).unwrap();
        }
        let id =
            |name: &str| FileSource { path: dir.path().join(name), size: 0 }.content_id().unwrap();
        assert_eq!(id("a"), id("b"));
        assert_ne!(id("a"), id("c"));
    }
}
