//! The work under trailhound's stages, each run alone on one thread over a corpus folder, so
//! `benches/floors.sh` can time them as separate processes and tell what a run must spend
//! before any rule runs.
//!
//! `floor STAGE --input DIR [--lake DIR]`, where STAGE is one of (each includes the ones
//! before it):
//! - `inflate`: gunzip every file with the gzip library trailhound uses;
//! - `tokenize`: and read its JSON with `serde_json`, keeping nothing (the least any JSON
//!   decoder does);
//! - `decode`: and decode it to Arrow record batches as `trailhound run` does;
//! - `lake`: and write those batches as the zstd Parquet lake to `--lake`;
//! - `encode`: or, once every file is decoded, encode all the rows in memory with the
//!   Parquet writer and the lake's file settings alone (no sorting, partitions or I/O),
//!   timed apart: what the `parquet` crate costs for the lake's rows.
//!
//! It prints what it read, so a run that read nothing cannot pass for a fast one.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use arrow::array::RecordBatch;
use clap::{Parser, ValueEnum};
use lake::delivery::cmp_delivery_order;
use parquet::arrow::ArrowWriter;
use pipeline::decode::{DecodeConfig, decode};

/// The allocator `trailhound` runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Cli {
    /// How far to go with each file.
    #[arg(value_enum)]
    stage: Stage,
    /// Folder of `*.json.gz` CloudTrail files (walked recursively).
    #[arg(long)]
    input: PathBuf,
    /// Lake folder, for the `lake` stage.
    #[arg(long)]
    lake: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Stage {
    Inflate,
    Tokenize,
    Decode,
    Lake,
    Encode,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut files = Vec::new();
    collect_files(&cli.input, &mut files)?;
    // In delivery order, as `trailhound run` reads them: the lake's partitions then fill
    // one after another, as in a run.
    files.sort_by(|left, right| {
        cmp_delivery_order(&left.to_string_lossy(), &right.to_string_lossy())
    });
    ensure!(!files.is_empty(), "no .json.gz file under {}", cli.input.display());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut writer = match (cli.stage, &cli.lake) {
        (Stage::Lake, Some(folder)) => {
            let location = lake::LakeLocation::open(&folder.to_string_lossy())?;
            Some(lake::LakeWriter::new(location, lake::LakeWriterConfig::default()))
        }
        (Stage::Lake, None) => bail!("the lake stage needs --lake"),
        _ => None,
    };
    let (mut json_bytes, mut events) = (0usize, 0usize);
    let mut decoded = Vec::new();
    let mut json = Vec::new();
    for path in &files {
        json.clear();
        let file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
        flate2::read::MultiGzDecoder::new(file)
            .read_to_end(&mut json)
            .with_context(|| format!("{}: gzip", path.display()))?;
        json_bytes += json.len();
        match cli.stage {
            Stage::Inflate => {}
            Stage::Tokenize => {
                let records: Records = serde_json::from_slice(&json)
                    .with_context(|| format!("{}: JSON", path.display()))?;
                events += records.records.len();
            }
            Stage::Decode | Stage::Lake | Stage::Encode => {
                let name = path.to_string_lossy();
                let mut batches = Vec::new();
                let report = decode(json.as_slice(), &name, &DecodeConfig::default(), |batch| {
                    events += batch.num_rows();
                    if cli.stage != Stage::Decode {
                        batches.push(batch);
                    }
                    true
                });
                ensure!(report.quarantined.is_empty(), "{name}: records quarantined");
                if cli.stage == Stage::Encode {
                    decoded.append(&mut batches);
                }
                if let Some(writer) = writer.as_mut() {
                    runtime.block_on(async {
                        writer.begin_source(&name, &name).await?;
                        for batch in &batches {
                            writer.write(&name, batch).await?;
                        }
                        writer.end_source(&name).await
                    })?;
                }
            }
        }
    }
    let written = match writer {
        Some(writer) => Some(runtime.block_on(writer.finish())?),
        None => None,
    };
    eprintln!(
        "floor: files={} json_bytes={json_bytes} events={events}{}",
        files.len(),
        written.map_or(String::new(), |stats| format!(" lake_files={}", stats.files))
    );
    if cli.stage == Stage::Encode {
        encode(decoded)?;
    }
    Ok(())
}

/// Encodes `batches` as Parquet files in memory with the lake's settings, cut at the lake's
/// file size, and prints the time it took (one thread, no I/O: CPU time).
fn encode(batches: Vec<RecordBatch>) -> Result<()> {
    let config = lake::LakeWriterConfig::default();
    let properties = lake::writer::parquet_properties(
        config.zstd_level,
        config.row_group_rows,
        &object_store::path::Path::from("floor"),
    )?;
    let schema = lake::schema::cloudtrail_schema();
    let started = Instant::now();
    let (mut files, mut parquet_bytes, mut buffered) = (0, 0, 0);
    let mut writer: Option<ArrowWriter<Vec<u8>>> = None;
    for batch in &batches {
        let file = match writer.as_mut() {
            Some(file) => file,
            None => writer.insert(ArrowWriter::try_new(
                Vec::new(),
                schema.clone(),
                Some(properties.clone()),
            )?),
        };
        file.write(batch)?;
        buffered += lake::writer::value_bytes(batch);
        if buffered >= config.target_file_bytes {
            parquet_bytes += writer.take().expect("open").into_inner()?.len();
            files += 1;
            buffered = 0;
        }
    }
    if let Some(file) = writer {
        parquet_bytes += file.into_inner()?.len();
        files += 1;
    }
    eprintln!(
        "floor: encode_seconds={:.3} parquet_files={files} parquet_bytes={parquet_bytes}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A CloudTrail file's records, read and dropped: `IgnoredAny` still checks every token.
#[derive(serde::Deserialize)]
struct Records {
    #[serde(rename = "Records")]
    records: Vec<serde::de::IgnoredAny>,
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| dir.display().to_string())? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, files)?;
        } else if path.to_string_lossy().ends_with(".json.gz") {
            files.push(path);
        }
    }
    Ok(())
}
