//! S3 end to end against a real AWS-protocol emulator (moto's server, started by
//! `scripts/test-all.sh`, which sets `AWS_ENDPOINT_URL`): CloudTrail objects in S3 layout are
//! read from the bucket, and the lake is written to S3 through the same code as a folder.

mod common;

use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;
use lake::LakeLocation;
use lake::table::LakeTables;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use pipeline::detect::load_pack;
use pipeline::exceptions::ExceptionSet;
use pipeline::internal_events::Counters;
use pipeline::process::{DEFAULT_LATENESS, Processor};
use pipeline::run::{RunConfig, RunSummary, run_files};
use pipeline::sinks::jsonl::JsonLinesSink;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/cloudtrail")
}

async fn run(inputs: Vec<String>, lake: &str) -> RunSummary {
    let pack = load_pack(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql-rules")).unwrap();
    let mut processor =
        Processor::for_pack(pack, ExceptionSet::empty(), DEFAULT_LATENESS).await.unwrap();
    let location = LakeLocation::open(lake).unwrap();
    let config = RunConfig::for_inputs(inputs);
    let mut sink = JsonLinesSink::writer("test", Box::new(std::io::sink()));
    run_files(&config, &location, &mut processor, &mut sink, &Counters::default()).await.unwrap()
}

#[tokio::test]
#[ignore = "needs the S3 emulator: run by scripts/test-all.sh"]
async fn cloudtrail_objects_in_s3_go_to_an_s3_lake() {
    let bucket = format!("trailhound-{}", std::process::id());
    common::create_bucket(&bucket);
    let store = LakeLocation::open(&format!("s3://{bucket}")).unwrap();
    let root = samples();
    let mut uploaded = 0;
    for entry in walkdir::WalkDir::new(root.join("AWSLogs")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let key = entry.path().strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            let body = std::fs::read(entry.path()).unwrap();
            store.store().put(&ObjectPath::from(key), PutPayload::from(body)).await.unwrap();
            uploaded += 1;
        }
    }
    assert!(uploaded > 10);

    let local_lake = tempfile::tempdir().unwrap();
    let local =
        run(vec![root.join("AWSLogs").display().to_string()], local_lake.path().to_str().unwrap())
            .await;
    let lake_url = format!("s3://{bucket}/lake");
    let from_s3 = run(vec![format!("s3://{bucket}/AWSLogs/")], &lake_url).await;
    assert_eq!(from_s3.files, local.files);
    assert_eq!(from_s3.events, local.events);
    assert_eq!(from_s3.skipped, 1, "the digest object");
    assert_eq!(from_s3.lake.rows, from_s3.events);
    assert_eq!(from_s3.alerts, local.alerts);

    let ctx = SessionContext::new();
    LakeTables::new(LakeLocation::open(&lake_url).unwrap()).register(&ctx).await.unwrap();
    let batches =
        ctx.sql("SELECT count(*) FROM cloudtrail").await.unwrap().collect().await.unwrap();
    let rows =
        batches[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().value(0);
    assert_eq!(rows as u64, from_s3.events);

    // Replaying the bucket adds no rows: the ledger lives in the S3 lake too.
    let again = run(vec![format!("s3://{bucket}/AWSLogs/")], &lake_url).await;
    assert_eq!(again.lake.rows, 0);
    assert_eq!(again.already_ingested, from_s3.files - from_s3.skipped);
}
