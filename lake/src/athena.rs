//! Athena (Trino/Hive) DDL for the lake, generated from the one schema definition so the
//! declared types always match the Parquet files the writer produces.

use arrow::datatypes::DataType;

use crate::location::EVENTS_TABLE_DIR;
use crate::schema::cloudtrail_schema;

/// First day partition projection offers: CloudTrail started in November 2013.
const FIRST_DAY: &str = "2013-11-01";

/// The Hive type of an Arrow type as the lake writes it.
pub fn hive_type(data_type: &DataType) -> String {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 => "string".to_string(),
        DataType::Boolean => "boolean".to_string(),
        DataType::Int32 => "int".to_string(),
        DataType::Int64 => "bigint".to_string(),
        DataType::Float64 => "double".to_string(),
        DataType::Timestamp(_, _) => "timestamp".to_string(),
        DataType::Struct(fields) => {
            let members: Vec<String> = fields
                .iter()
                .map(|field| format!("`{}`:{}", field.name(), hive_type(field.data_type())))
                .collect();
            format!("struct<{}>", members.join(","))
        }
        DataType::List(item) | DataType::LargeList(item) => {
            format!("array<{}>", hive_type(item.data_type()))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                format!("map<{},{}>", hive_type(kv[0].data_type()), hive_type(kv[1].data_type()))
            }
            other => panic!("map entries must be a key/value struct, not {other}"),
        },
        other => panic!("the lake schema has no {other} column"),
    }
}

/// `CREATE EXTERNAL TABLE` for the events below `lake_url` (`s3://bucket/prefix`), with Hive
/// partitions `dt` and `hour` found by partition projection (no crawler, no `MSCK REPAIR`).
pub fn events_ddl(lake_url: &str, database: Option<&str>, table: &str) -> String {
    let location = format!("{}/{EVENTS_TABLE_DIR}", lake_url.trim_end_matches('/'));
    let name = match database {
        Some(database) => format!("`{database}`.`{table}`"),
        None => format!("`{table}`"),
    };
    let columns: Vec<String> = cloudtrail_schema()
        .fields()
        .iter()
        .map(|field| format!("  `{}` {}", field.name(), hive_type(field.data_type())))
        .collect();
    format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {name} (\n{}\n)\n\
         PARTITIONED BY (`dt` string, `hour` string)\n\
         STORED AS PARQUET\n\
         LOCATION '{location}/'\n\
         TBLPROPERTIES (\n\
         \x20 'parquet.compression'='ZSTD',\n\
         \x20 'projection.enabled'='true',\n\
         \x20 'projection.dt.type'='date',\n\
         \x20 'projection.dt.format'='yyyy-MM-dd',\n\
         \x20 'projection.dt.range'='{FIRST_DAY},NOW',\n\
         \x20 'projection.dt.interval'='1',\n\
         \x20 'projection.dt.interval.unit'='DAYS',\n\
         \x20 'projection.hour.type'='integer',\n\
         \x20 'projection.hour.range'='0,23',\n\
         \x20 'projection.hour.digits'='2',\n\
         \x20 'storage.location.template'='{location}/dt=${{dt}}/hour=${{hour}}/'\n\
         );\n",
        columns.join(",\n")
    )
}
