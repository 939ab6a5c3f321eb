//! Athena (Trino/Hive) DDL and Glue table definitions for the lake, generated from the one
//! schema definition so the declared types always match the Parquet files the writers produce.

use arrow::datatypes::{DataType, SchemaRef};
use serde_json::{Value, json};

use crate::alerts::{ALERT_PARTITION_COLUMNS, alerts_schema};
use crate::location::{ALERTS_TABLE_DIR, EVENTS_TABLE_DIR};
use crate::schema::{PARTITION_COLUMNS, cloudtrail_schema};

/// First day partition projection offers: CloudTrail started in November 2013.
const FIRST_DAY: &str = "2013-11-01";

/// Placeholder for the lake URL in [`glue_tables`]: the deployment substitutes it.
pub const LOCATION_PLACEHOLDER: &str = "${lake_url}";

/// One of the lake's tables, as Athena sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LakeTable {
    /// CloudTrail events, partitioned by `dt` and `hour`.
    Events,
    /// Alerts, partitioned by `dt`.
    Alerts,
}

impl LakeTable {
    fn schema(self) -> SchemaRef {
        match self {
            Self::Events => cloudtrail_schema(),
            Self::Alerts => alerts_schema(),
        }
    }

    fn folder(self) -> &'static str {
        match self {
            Self::Events => EVENTS_TABLE_DIR,
            Self::Alerts => ALERTS_TABLE_DIR,
        }
    }

    fn partitions(self) -> &'static [&'static str] {
        match self {
            Self::Events => PARTITION_COLUMNS,
            Self::Alerts => ALERT_PARTITION_COLUMNS,
        }
    }

    /// Table properties: Parquet compression and partition projection (no crawler, no
    /// `MSCK REPAIR`), in a stable order.
    fn properties(self, lake_url: &str) -> Vec<(String, String)> {
        let location = format!("{}/{}", lake_url.trim_end_matches('/'), self.folder());
        let mut properties = vec![
            ("parquet.compression", "ZSTD".to_string()),
            ("projection.enabled", "true".into()),
            ("projection.dt.type", "date".into()),
            ("projection.dt.format", "yyyy-MM-dd".into()),
            ("projection.dt.range", format!("{FIRST_DAY},NOW")),
            ("projection.dt.interval", "1".into()),
            ("projection.dt.interval.unit", "DAYS".into()),
        ];
        let template = match self {
            Self::Events => {
                properties.extend([
                    ("projection.hour.type", "integer".to_string()),
                    ("projection.hour.range", "0,23".into()),
                    ("projection.hour.digits", "2".into()),
                ]);
                format!("{location}/dt=${{dt}}/hour=${{hour}}/")
            }
            Self::Alerts => format!("{location}/dt=${{dt}}/"),
        };
        properties.push(("storage.location.template", template));
        properties.into_iter().map(|(key, value)| (key.to_string(), value)).collect()
    }
}

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
                .map(|field| format!("{}:{}", field.name(), hive_type(field.data_type())))
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

/// `CREATE EXTERNAL TABLE` for one of the lake's tables below `lake_url`
/// (`s3://bucket/prefix`), with Hive partitions found by partition projection.
pub fn table_ddl(kind: LakeTable, lake_url: &str, database: Option<&str>, table: &str) -> String {
    let location = format!("{}/{}", lake_url.trim_end_matches('/'), kind.folder());
    let name = match database {
        Some(database) => format!("`{database}`.`{table}`"),
        None => format!("`{table}`"),
    };
    let columns: Vec<String> = kind
        .schema()
        .fields()
        .iter()
        .map(|field| format!("  `{}` {}", field.name(), ddl_type(field.data_type())))
        .collect();
    let partitions: Vec<String> =
        kind.partitions().iter().map(|name| format!("`{name}` string")).collect();
    let properties: Vec<String> = kind
        .properties(lake_url)
        .iter()
        .map(|(key, value)| format!("  '{key}'='{value}'"))
        .collect();
    format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {name} (\n{}\n)\n\
         PARTITIONED BY ({})\n\
         STORED AS PARQUET\n\
         LOCATION '{location}/'\n\
         TBLPROPERTIES (\n{}\n);\n",
        columns.join(",\n"),
        partitions.join(", "),
        properties.join(",\n")
    )
}

/// DDL struct members are quoted (CloudTrail member names such as `type` are keywords).
fn ddl_type(data_type: &DataType) -> String {
    match data_type {
        DataType::Struct(fields) => {
            let members: Vec<String> = fields
                .iter()
                .map(|field| format!("`{}`:{}", field.name(), ddl_type(field.data_type())))
                .collect();
            format!("struct<{}>", members.join(","))
        }
        DataType::List(item) | DataType::LargeList(item) => {
            format!("array<{}>", ddl_type(item.data_type()))
        }
        other => hive_type(other),
    }
}

/// Both tables as Glue definitions (JSON): columns, partition keys, folder and parameters,
/// with [`LOCATION_PLACEHOLDER`] standing for the lake URL. The Terraform module reads this.
pub fn glue_tables() -> Value {
    let table = |kind: LakeTable| {
        let columns: Vec<Value> = kind
            .schema()
            .fields()
            .iter()
            .map(|field| json!({ "name": field.name(), "type": hive_type(field.data_type()) }))
            .collect();
        let partitions: Vec<Value> = kind
            .partitions()
            .iter()
            .map(|name| json!({ "name": name, "type": "string" }))
            .collect();
        let parameters: serde_json::Map<String, Value> = kind
            .properties(LOCATION_PLACEHOLDER)
            .into_iter()
            .map(|(key, value)| (key, Value::String(value)))
            .collect();
        json!({
            "folder": kind.folder(),
            "columns": columns,
            "partition_keys": partitions,
            "parameters": parameters,
        })
    };
    json!({ "events": table(LakeTable::Events), "alerts": table(LakeTable::Alerts) })
}
