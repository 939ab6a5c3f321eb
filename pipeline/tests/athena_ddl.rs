//! The Athena DDL parses as Hive DDL, and every declared type, nested shapes included, is the
//! type of the Parquet files the lake writer produced.

use std::path::Path;

use arrow::datatypes::DataType as ArrowType;
use lake::LakeLocation;
use lake::athena::{LakeTable, glue_tables, table_ddl};
use pipeline::detect::load_pack;
use pipeline::exceptions::ExceptionSet;
use pipeline::internal_events::Counters;
use pipeline::process::{DEFAULT_LATENESS, Processor};
use pipeline::run::{RunConfig, run_files};
use pipeline::sinks::Fanout;
use pipeline::sinks::lake_alerts::LakeAlertsSink;
use sqlparser::ast::{DataType as SqlType, Statement, StructField};
use sqlparser::dialect::SparkSqlDialect;
use sqlparser::parser::Parser;

/// A type as text, from the Parquet side.
fn arrow_text(data_type: &ArrowType) -> String {
    match data_type {
        ArrowType::Utf8 => "string".into(),
        ArrowType::Int64 => "bigint".into(),
        ArrowType::Boolean => "boolean".into(),
        ArrowType::Timestamp(_, _) => "timestamp".into(),
        ArrowType::Struct(fields) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}:{}", f.name(), arrow_text(f.data_type())))
                .collect::<Vec<_>>()
                .join(",")
        ),
        ArrowType::List(item) => format!("array<{}>", arrow_text(item.data_type())),
        ArrowType::Map(entries, _) => {
            let ArrowType::Struct(kv) = entries.data_type() else { panic!("map entries") };
            format!("map<{},{}>", arrow_text(kv[0].data_type()), arrow_text(kv[1].data_type()))
        }
        other => panic!("unexpected Parquet column type {other}"),
    }
}

/// The same text, from the parsed DDL.
fn sql_text(data_type: &SqlType) -> String {
    match data_type {
        SqlType::String(_) => "string".into(),
        SqlType::BigInt(_) => "bigint".into(),
        SqlType::Boolean => "boolean".into(),
        SqlType::Timestamp(_, _) => "timestamp".into(),
        SqlType::Struct(fields, _) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|StructField { field_name, field_type, .. }| {
                    format!("{}:{}", field_name.as_ref().unwrap().value, sql_text(field_type))
                })
                .collect::<Vec<_>>()
                .join(",")
        ),
        SqlType::Array(sqlparser::ast::ArrayElemTypeDef::AngleBracket(item)) => {
            format!("array<{}>", sql_text(item))
        }
        SqlType::Map(key, value) => format!("map<{},{}>", sql_text(key), sql_text(value)),
        other => panic!("unexpected DDL type {other}"),
    }
}

#[tokio::test]
async fn ddl_types_are_the_parquet_types() {
    let dir = tempfile::tempdir().unwrap();
    let location = LakeLocation::open(dir.path().to_str().unwrap()).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let pack = load_pack(&root.join("sql-rules")).unwrap();
    let mut processor =
        Processor::for_pack(pack, ExceptionSet::empty(), DEFAULT_LATENESS).await.unwrap();
    run_files(
        &RunConfig::for_inputs(vec![root.join("samples/cloudtrail").display().to_string()]),
        &location,
        &mut processor,
        &mut Fanout::new(vec![Box::new(LakeAlertsSink::new(location.clone()))]),
        &Counters::default(),
    )
    .await
    .unwrap();
    let ddl = table_ddl(LakeTable::Events, "s3://bucket/prefix", Some("security"), "cloudtrail");
    assert_eq!(
        declared_types(&ddl, "`security`.`cloudtrail`"),
        written_types(&dir.path().join("cloudtrail"))
    );
    let alerts_ddl = table_ddl(LakeTable::Alerts, "s3://bucket/prefix", None, "cloudtrail_alerts");
    assert_eq!(
        declared_types(&alerts_ddl, "`cloudtrail_alerts`"),
        written_types(&dir.path().join("alerts"))
    );
    assert!(alerts_ddl.contains("PARTITIONED BY (`dt` string)"));
    assert!(
        alerts_ddl.contains("'storage.location.template'='s3://bucket/prefix/alerts/dt=${dt}/'")
    );
    for property in [
        "'projection.enabled'='true'",
        "'projection.dt.type'='date'",
        "'projection.hour.type'='integer'",
        "'storage.location.template'='s3://bucket/prefix/cloudtrail/dt=${dt}/hour=${hour}/'",
    ] {
        assert!(ddl.contains(property), "{property}");
    }
    assert!(ddl.contains("PARTITIONED BY (`dt` string, `hour` string)"));
}

/// Column names and types of the first Parquet file below `folder`.
fn written_types(folder: &Path) -> Vec<(String, String)> {
    let file = walkdir::WalkDir::new(folder)
        .into_iter()
        .map(|entry| entry.unwrap().into_path())
        .find(|path| path.extension().is_some_and(|ext| ext == "parquet"))
        .unwrap_or_else(|| panic!("no Parquet file in {}", folder.display()));
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&file).unwrap(),
    )
    .unwrap();
    reader
        .schema()
        .fields()
        .iter()
        .map(|field| (field.name().clone(), arrow_text(field.data_type())))
        .collect()
}

/// Column names and types a `CREATE EXTERNAL TABLE` declares, parsed as Hive (Spark) SQL.
fn declared_types(ddl: &str, name: &str) -> Vec<(String, String)> {
    let statements = Parser::parse_sql(&SparkSqlDialect {}, ddl).unwrap();
    let Statement::CreateTable(create) = &statements[0] else { panic!("{:?}", statements[0]) };
    assert!(create.external);
    assert_eq!(create.name.to_string(), name);
    create
        .columns
        .iter()
        .map(|column| (column.name.value.clone(), sql_text(&column.data_type)))
        .collect()
}

#[test]
fn the_terraform_glue_schema_is_generated_from_the_lake_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform/schema/lake_tables.json");
    let generated = serde_json::to_string_pretty(&glue_tables()).unwrap() + "\n";
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `trailhound lake glue-schema > terraform/schema/lake_tables.json`",
        path.display()
    );
    let tables = glue_tables();
    let events = tables["events"]["columns"].as_array().unwrap();
    assert_eq!(events.len(), lake::schema::cloudtrail_schema().fields().len());
    assert_eq!(
        tables["alerts"]["columns"].as_array().unwrap().len(),
        lake::alerts::alerts_schema().fields().len()
    );
}
