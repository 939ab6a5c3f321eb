//! Lake rows back to CloudTrail JSON records (camelCase members), for alerts and exports.
//! Typed columns give the members the schema knows; `unmapped` gives back everything else.

use std::cell::RefCell;
use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch, StructArray};
use arrow::datatypes::DataType;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::schema::{CLOUDTRAIL_FIELDS, SchemaField, Shape, UNMAPPED};

/// The CloudTrail record of `row`. Members that are NULL in the lake are left out.
pub fn row_to_json(batch: &RecordBatch, row: usize) -> Map<String, Value> {
    RecordRenderer::new(batch).record(row)
}

/// Renders the rows of one batch as CloudTrail records, its columns looked up once.
pub struct RecordRenderer<'a> {
    /// Per [`CLOUDTRAIL_FIELDS`] entry, its column in the batch.
    columns: Vec<Option<&'a dyn Array>>,
    unmapped: Option<&'a dyn Array>,
    /// Where records are written before they are copied out at their exact size.
    scratch: RefCell<String>,
}

impl<'a> RecordRenderer<'a> {
    /// A renderer of `batch`'s rows.
    pub fn new(batch: &'a RecordBatch) -> Self {
        Self {
            columns: CLOUDTRAIL_FIELDS
                .iter()
                .map(|field| batch.column_by_name(field.column).map(|column| column.as_ref()))
                .collect(),
            unmapped: batch.column_by_name(UNMAPPED).map(|column| column.as_ref()),
            scratch: RefCell::new(String::new()),
        }
    }

    /// The record of `row` as compact JSON text: what [`row_to_json`] gives, written straight
    /// from the columns (no JSON tree) unless the row has unmapped members to merge. The text
    /// is allocated at its size: correlations hold many records for a while, and a string grown
    /// by doubling carried half again its length unused (50 MB of records took 70).
    pub fn json_text(&self, row: usize) -> String {
        let extra = self.unmapped_members(row);
        let collides = extra.iter().any(|(key, _)| {
            CLOUDTRAIL_FIELDS.iter().zip(&self.columns).any(|(field, column)| {
                field.json_name == key && column.is_some_and(|column| column.is_valid(row))
            })
        });
        if collides {
            // Members to merge into typed ones: the JSON tree does it.
            return serde_json::to_string(&self.record(row)).expect("records serialise");
        }
        let mut out = self.scratch.borrow_mut();
        out.clear();
        write_object(&mut out, CLOUDTRAIL_FIELDS.iter().zip(self.columns.iter().copied()), row);
        if !extra.is_empty() {
            out.pop();
            for (key, value) in extra {
                if out.len() > 1 {
                    out.push(',');
                }
                write_string(&mut out, &key);
                out.push(':');
                out.push_str(value.get());
            }
            out.push('}');
        }
        out.as_str().to_owned()
    }

    /// The members of `row` outside the typed columns (what [`Self::record`] merges in).
    fn unmapped_members(&self, row: usize) -> Vec<(String, &'a RawValue)> {
        self.unmapped
            .and_then(|column| string_at(column, row))
            .and_then(|text| serde_json::from_str::<BTreeMap<String, &RawValue>>(text).ok())
            .map(|members| members.into_iter().collect())
            .unwrap_or_default()
    }

    /// The record of `row` as a JSON object.
    pub fn record(&self, row: usize) -> Map<String, Value> {
        let mut record = Map::new();
        for (field, column) in CLOUDTRAIL_FIELDS.iter().zip(&self.columns) {
            if let Some(value) = column.and_then(|column| value_of(field, column, row)) {
                record.insert(field.json_name.to_string(), value);
            }
        }
        if let Some(text) = self.unmapped.and_then(|column| string_at(column, row))
            && let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(text)
        {
            merge(&mut record, extra);
        }
        record
    }

    /// Whether `row`'s members outside the typed columns include one of `names` (which
    /// [`Self::text_at`] does not see).
    pub fn unmapped_has_any(&self, row: usize, names: &[&str]) -> bool {
        let Some(text) = self.unmapped.and_then(|column| string_at(column, row)) else {
            return false;
        };
        // Without escapes a member's name is in the text as it is: most rows need no parse.
        if !text.contains('\\') && !names.iter().any(|name| text.contains(name)) {
            return false;
        }
        self.unmapped_members(row).iter().any(|(key, _)| names.contains(&key.as_str()))
    }

    /// The text at a path of JSON member names (`["userIdentity", "arn"]`) in the typed
    /// columns of `row`.
    pub fn text_at(&self, row: usize, path: &[&str]) -> Option<&'a str> {
        let position = CLOUDTRAIL_FIELDS.iter().position(|field| field.json_name == path[0])?;
        let mut field = &CLOUDTRAIL_FIELDS[position];
        let mut array = self.columns[position]?;
        for step in &path[1..] {
            let Shape::Struct(members) = &field.shape else { return None };
            if array.is_null(row) {
                return None;
            }
            field = members.iter().find(|member| member.json_name == *step)?;
            array = array.as_struct().column_by_name(field.column)?.as_ref();
        }
        match field.shape {
            Shape::Text | Shape::BoolText => string_at(array, row),
            _ => None,
        }
    }
}

/// Writes the non-null `fields` of `row` as a JSON object.
fn write_object<'f>(
    out: &mut String,
    fields: impl Iterator<Item = (&'f SchemaField, Option<&'f dyn Array>)>,
    row: usize,
) {
    out.push('{');
    let mut first = true;
    for (field, column) in fields {
        let Some(column) = column.filter(|column| column.is_valid(row)) else { continue };
        if !first {
            out.push(',');
        }
        first = false;
        write_string(out, field.json_name);
        out.push(':');
        write_value(out, field, column, row);
    }
    out.push('}');
}

/// Writes the (non-null) value of `row` as `value_of` would render it.
fn write_value(out: &mut String, field: &SchemaField, array: &dyn Array, row: usize) {
    match &field.shape {
        Shape::Text => write_string(out, string_at(array, row).unwrap_or_default()),
        Shape::BoolText => match string_at(array, row).unwrap_or_default() {
            text @ ("true" | "false") => out.push_str(text),
            other => write_string(out, other),
        },
        Shape::Json => {
            let text = string_at(array, row).unwrap_or_default();
            match serde_json::from_str::<&RawValue>(text) {
                Ok(raw) => out.push_str(raw.get()),
                Err(_) => write_string(out, text),
            }
        }
        Shape::Struct(members) => write_struct(out, members, array.as_struct(), row),
        Shape::StructList(members) => {
            let elements = array.as_list::<i32>().value(row);
            let elements = elements.as_struct();
            out.push('[');
            for index in 0..elements.len() {
                if index > 0 {
                    out.push(',');
                }
                write_struct(out, members, elements, index);
            }
            out.push(']');
        }
        Shape::StringMap => {
            let entries = array.as_map().value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            out.push('{');
            let mut first = true;
            for index in 0..entries.len() {
                let Some(key) = string_at(keys.as_ref(), index) else { continue };
                if !first {
                    out.push(',');
                }
                first = false;
                write_string(out, key);
                out.push(':');
                match string_at(values.as_ref(), index) {
                    Some(value) => write_string(out, value),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
}

fn write_struct(out: &mut String, members: &[SchemaField], array: &StructArray, row: usize) {
    let columns = members
        .iter()
        .map(|member| (member, array.column_by_name(member.column).map(|column| column.as_ref())));
    write_object(out, columns, row);
}

/// Writes `text` as a JSON string.
fn write_string(out: &mut String, text: &str) {
    use std::fmt::Write;
    out.push('"');
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(offset) =
        bytes[start..].iter().position(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\')
    {
        let index = start + offset;
        out.push_str(&text[start..index]);
        match bytes[index] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            control => write!(out, "\\u{control:04x}").expect("writing to a String"),
        }
        start = index + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
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
