//! Lake rows back to CloudTrail JSON records (camelCase members), for alerts and exports.
//! Typed columns give the members the schema knows; `unmapped` gives back everything else.

use arrow::array::{Array, AsArray, RecordBatch, StructArray};
use arrow::datatypes::DataType;
use serde_json::{Map, Value};

use crate::schema::{CLOUDTRAIL_FIELDS, SchemaField, Shape, UNMAPPED};

/// The CloudTrail record of `row`. Members that are NULL in the lake are left out.
pub fn row_to_json(batch: &RecordBatch, row: usize) -> Map<String, Value> {
    let mut record = Map::new();
    for field in CLOUDTRAIL_FIELDS {
        if let Some(column) = batch.column_by_name(field.column)
            && let Some(value) = value_of(field, column.as_ref(), row)
        {
            record.insert(field.json_name.to_string(), value);
        }
    }
    if let Some(column) = batch.column_by_name(UNMAPPED)
        && let Some(text) = string_at(column.as_ref(), row)
        && let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(text)
    {
        merge(&mut record, extra);
    }
    record
}

/// A string cell of a Utf8, LargeUtf8 or Utf8View column.
pub fn string_at(array: &dyn Array, row: usize) -> Option<&str> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(array.as_string_view().value(row)),
        _ => None,
    }
}

fn value_of(field: &SchemaField, array: &dyn Array, row: usize) -> Option<Value> {
    if array.is_null(row) {
        return None;
    }
    match &field.shape {
        Shape::Text => string_at(array, row).map(|text| Value::String(text.to_string())),
        Shape::BoolText => string_at(array, row).map(|text| match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::String(other.to_string()),
        }),
        Shape::Json => string_at(array, row).map(|text| {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }),
        Shape::Struct(members) => {
            Some(Value::Object(struct_to_json(members, array.as_struct(), row)))
        }
        Shape::StructList(members) => {
            let list = array.as_list::<i32>();
            let elements = list.value(row);
            let elements = elements.as_struct();
            Some(Value::Array(
                (0..elements.len())
                    .map(|index| Value::Object(struct_to_json(members, elements, index)))
                    .collect(),
            ))
        }
        Shape::StringMap => {
            let entries = array.as_map().value(row);
            let keys = entries.column(0);
            let values = entries.column(1);
            Some(Value::Object(
                (0..entries.len())
                    .filter_map(|index| {
                        let key = string_at(keys.as_ref(), index)?;
                        let value = string_at(values.as_ref(), index)
                            .map_or(Value::Null, |v| Value::String(v.into()));
                        Some((key.to_string(), value))
                    })
                    .collect(),
            ))
        }
    }
}

fn struct_to_json(members: &[SchemaField], array: &StructArray, row: usize) -> Map<String, Value> {
    members
        .iter()
        .filter_map(|member| {
            let column = array.column_by_name(member.column)?;
            value_of(member, column.as_ref(), row)
                .map(|value| (member.json_name.to_string(), value))
        })
        .collect()
}

/// Merges `extra` into `record`: objects merge member by member, anything else is inserted.
fn merge(record: &mut Map<String, Value>, extra: Map<String, Value>) {
    for (key, value) in extra {
        match (record.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(inner)) => merge(existing, inner),
            (_, value) => {
                record.insert(key, value);
            }
        }
    }
}
