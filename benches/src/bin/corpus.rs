//! Deterministic CloudTrail corpus generator for benchmarks.
//!
//! `corpus layout --out DIR --events N [--seed S]` writes gzip files in CloudTrail's S3 layout
//! (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz`),
//! one file per account, region and 5 minutes, with a realistic mix of calls.
//! `corpus single --out FILE --bytes N [--seed S]` writes one gzip `{"Records":[...]}` file of
//! about N decompressed bytes, for the memory test.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use flate2::Compression;
use flate2::write::GzEncoder;
use trailhound_benches::{ACCOUNTS, REGIONS, Rng, START, record, rfc3339};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Many 5-minute files in the S3 layout.
    Layout {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// One large file.
    Single {
        #[arg(long)]
        out: PathBuf,
        /// Decompressed size to reach, in bytes.
        #[arg(long, default_value_t = 1 << 30)]
        bytes: u64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

fn gzip_writer(path: &Path) -> Result<GzEncoder<BufWriter<File>>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = File::create(path).with_context(|| format!("create {}", path.display()))?;
    Ok(GzEncoder::new(BufWriter::new(file), Compression::new(6)))
}

fn layout(out: &Path, events: u64, seed: u64) -> Result<()> {
    let mut rng = Rng(seed);
    let per_file = 60;
    let mut written = 0;
    let mut slot = 0i64;
    let mut files = 0;
    while written < events {
        for account in ACCOUNTS {
            for region in REGIONS {
                if written >= events {
                    break;
                }
                let start = START + slot * 300;
                let count = (per_file / 2 + rng.below(per_file)).min(events - written);
                let stamp = rfc3339(start).replace(['-', ':'], "");
                let day = &rfc3339(start)[..10].replace('-', "/");
                let id: String = (0..16).map(|_| char::from(b'A' + rng.below(26) as u8)).collect();
                let path = out.join(format!(
                    "AWSLogs/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{}Z_{id}.json.gz",
                    &stamp[..13]
                ));
                let mut times: Vec<i64> =
                    (0..count).map(|_| start + rng.below(300) as i64).collect();
                // About one file in three is unsorted, as CloudTrail's are at times.
                if rng.below(3) != 0 {
                    times.sort_unstable();
                }
                let mut gz = gzip_writer(&path)?;
                gz.write_all(b"{\"Records\":[")?;
                for (index, time) in times.iter().enumerate() {
                    if index > 0 {
                        gz.write_all(b",")?;
                    }
                    gz.write_all(record(&mut rng, account, region, *time).as_bytes())?;
                }
                gz.write_all(b"]}")?;
                gz.finish()?;
                written += count;
                files += 1;
            }
        }
        slot += 1;
    }
    eprintln!("corpus: {written} events in {files} files under {}", out.display());
    Ok(())
}

fn single(out: &Path, bytes: u64, seed: u64) -> Result<()> {
    let mut rng = Rng(seed);
    let mut gz = gzip_writer(out)?;
    gz.write_all(b"{\"Records\":[")?;
    let mut written = 12u64;
    let mut events = 0u64;
    while written < bytes {
        if events > 0 {
            gz.write_all(b",")?;
        }
        let account = ACCOUNTS[(events % 4) as usize];
        let region = REGIONS[(events % 3) as usize];
        let text = record(&mut rng, account, region, START + (events / 50) as i64);
        gz.write_all(text.as_bytes())?;
        written += text.len() as u64 + 1;
        events += 1;
    }
    gz.write_all(b"]}")?;
    gz.finish()?;
    eprintln!("corpus: {events} events, {written} decompressed bytes in {}", out.display());
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Layout { out, events, seed } => layout(&out, events, seed),
        Command::Single { out, bytes, seed } => single(&out, bytes, seed),
    }
}
