//! Arrow column builders driven by the lake schema: each JSON member is appended to the
//! column the schema names for it, and whatever has no typed column is collected, as JSON
//! text, for the `unmapped` column. Nothing of a record is dropped.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, ListArray, MapBuilder, MapFieldNames, NullBufferBuilder, StringBuilder, StructArray,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{Field, Fields};
use lake::schema::{SchemaField, Shape, data_type, struct_fields};
use serde_json::value::RawValue;

use super::object::{JsonObject, json_string};

/// Builds one column of a schema shape.
pub enum ColumnBuilder {
    /// A string column (text or JSON text).
    Text(StringBuilder, TextKind),
    /// A struct column.
    Struct(StructColumn),
    /// A list-of-struct column.
    StructList {
        offsets: Vec<i32>,
        validity: NullBufferBuilder,
        element_field: Arc<Field>,
        elements: StructColumn,
    },
    /// A string-to-string map column.
    Map(MapBuilder<StringBuilder, StringBuilder>),
}

/// Whether a string column holds text or verbatim JSON.
#[derive(Clone, Copy)]
pub enum TextKind {
    /// JSON strings are unescaped; other JSON values keep their JSON text.
    Text,
    /// The JSON text as written.
    Json,
}

/// Builds a struct column from its members' builders.
pub struct StructColumn {
    members: &'static [SchemaField],
    fields: Fields,
    children: Vec<ColumnBuilder>,
    validity: NullBufferBuilder,
}

/// Members of an object that have no typed column, as `"name": value` JSON fragments.
#[derive(Default)]
pub struct Unmapped {
    fragments: Vec<String>,
}

impl Unmapped {
    /// Keeps `name: raw` for the `unmapped` column.
    pub fn keep(&mut self, name: &str, raw: &str) {
        self.fragments.push(format!("{}:{raw}", json_string(name)));
    }

    /// Nests another object's unmapped members under `name`.
    pub fn nest(&mut self, name: &str, inner: Unmapped) {
        if let Some(object) = inner.into_json() {
            self.keep(name, &object);
        }
    }

    /// The members as a JSON object, or `None` when there are none.
    pub fn into_json(self) -> Option<String> {
        (!self.fragments.is_empty()).then(|| format!("{{{}}}", self.fragments.join(",")))
    }
}

/// Rows a builder has room for at first: a CloudTrail file holds a few dozen records, and
/// builders grow by doubling (Arrow's default of 1,024 made every small file allocate for a
/// thousand rows per column).
pub(super) const INITIAL_ROWS: usize = 64;

/// A text builder with offsets for [`INITIAL_ROWS`] and no text yet: most of the schema's
/// hundred-odd columns are NULL in most records, and room reserved for their text stayed in
/// every small file's batch (about a third of the memory of the batches read ahead).
pub(super) fn text_builder() -> StringBuilder {
    StringBuilder::with_capacity(INITIAL_ROWS, 0)
}

impl ColumnBuilder {
    /// A builder for `shape`.
    pub fn new(shape: &'static Shape) -> Self {
        match shape {
            Shape::Text | Shape::BoolText => Self::Text(text_builder(), TextKind::Text),
            Shape::Json => Self::Text(text_builder(), TextKind::Json),
            Shape::Struct(members) => Self::Struct(StructColumn::new(members)),
            Shape::StructList(members) => {
                let arrow::datatypes::DataType::List(element_field) = data_type(shape) else {
                    unreachable!("struct lists are Arrow lists")
                };
                Self::StructList {
                    offsets: vec![0],
                    validity: NullBufferBuilder::new(0),
                    element_field,
                    elements: StructColumn::new(members),
                }
            }
            Shape::StringMap => Self::Map(MapBuilder::new(
                Some(MapFieldNames {
                    entry: "key_value".into(),
                    key: "key".into(),
                    value: "value".into(),
                }),
                text_builder(),
                text_builder(),
            )),
        }
    }

    /// Appends a JSON value; what does not fit the shape goes to `unmapped` under `name`.
    pub fn append(&mut self, name: &str, raw: &RawValue, unmapped: &mut Unmapped) {
        let text = raw.get();
        if text == "null" {
            self.append_null();
            return;
        }
        match self {
            Self::Text(builder, TextKind::Json) => builder.append_value(text),
            Self::Text(builder, TextKind::Text) => match text.as_bytes()[0] {
                b'"' => match serde_json::from_str::<std::borrow::Cow<str>>(text) {
                    Ok(value) => builder.append_value(value),
                    Err(_) => builder.append_value(text),
                },
                _ => builder.append_value(text),
            },
            Self::Struct(column) => match JsonObject::parse(raw) {
                Some(object) => {
                    let mut inner = Unmapped::default();
                    column.append_object(&object, &mut inner);
                    unmapped.nest(name, inner);
                }
                None => {
                    column.append_null();
                    unmapped.keep(name, text);
                }
            },
            Self::StructList { offsets, validity, elements, .. } => {
                match serde_json::from_str::<Vec<&RawValue>>(text) {
                    Ok(items) => {
                        let mut count = 0;
                        let mut all_fit = true;
                        for item in items {
                            match JsonObject::parse(item) {
                                Some(object) => {
                                    let mut inner = Unmapped::default();
                                    elements.append_object(&object, &mut inner);
                                    all_fit &= inner.into_json().is_none();
                                    count += 1;
                                }
                                None => all_fit = false,
                            }
                        }
                        let last = *offsets.last().expect("offsets start with 0");
                        offsets.push(last + count);
                        validity.append_non_null();
                        // A list with extra members or non-object elements is also kept whole.
                        if !all_fit {
                            unmapped.keep(name, text);
                        }
                    }
                    Err(_) => {
                        self.append_null();
                        unmapped.keep(name, text);
                    }
                }
            }
            Self::Map(builder) => match JsonObject::parse(raw) {
                Some(object) => {
                    for (key, value) in object.members() {
                        builder.keys().append_value(key);
                        let value_text = value.get();
                        match serde_json::from_str::<std::borrow::Cow<str>>(value_text) {
                            Ok(text) => builder.values().append_value(text),
                            Err(_) if value_text == "null" => builder.values().append_null(),
                            Err(_) => builder.values().append_value(value_text),
                        }
                    }
                    builder.append(true).expect("keys and values appended together");
                }
                None => {
                    builder.append(false).expect("an empty entry");
                    unmapped.keep(name, text);
                }
            },
        }
    }

    /// Appends a NULL.
    pub fn append_null(&mut self) {
        match self {
            Self::Text(builder, _) => builder.append_null(),
            Self::Struct(column) => column.append_null(),
            Self::StructList { offsets, validity, .. } => {
                let last = *offsets.last().expect("offsets start with 0");
                offsets.push(last);
                validity.append_null();
            }
            Self::Map(builder) => builder.append(false).expect("an empty entry"),
        }
    }

    /// The finished column.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Text(builder, _) => Arc::new(builder.finish()),
            Self::Struct(column) => Arc::new(column.finish()),
            Self::StructList { offsets, validity, element_field, elements } => {
                let offsets = OffsetBuffer::new(std::mem::replace(offsets, vec![0]).into());
                let values: ArrayRef = Arc::new(elements.finish());
                Arc::new(ListArray::new(element_field.clone(), offsets, values, validity.finish()))
            }
            Self::Map(builder) => Arc::new(builder.finish()),
        }
    }
}

impl StructColumn {
    fn new(members: &'static [SchemaField]) -> Self {
        Self {
            members,
            fields: struct_fields(members),
            children: members.iter().map(|member| ColumnBuilder::new(&member.shape)).collect(),
            validity: NullBufferBuilder::new(0),
        }
    }

    /// Appends an object: known members to their children, the rest to `unmapped`.
    pub fn append_object(&mut self, object: &JsonObject<'_>, unmapped: &mut Unmapped) {
        let mut filled = vec![false; self.members.len()];
        for (key, value) in object.members() {
            match self.members.iter().position(|member| member.json_name == key) {
                Some(index) if !filled[index] => {
                    filled[index] = true;
                    self.children[index].append(key, value, unmapped);
                }
                // Unknown members, and repeats of a known one, are kept rather than dropped.
                _ => unmapped.keep(key, value.get()),
            }
        }
        for (child, was_filled) in self.children.iter_mut().zip(filled) {
            if !was_filled {
                child.append_null();
            }
        }
        self.validity.append_non_null();
    }

    fn append_null(&mut self) {
        for child in &mut self.children {
            child.append_null();
        }
        self.validity.append_null();
    }

    fn finish(&mut self) -> StructArray {
        let columns: Vec<ArrayRef> = self.children.iter_mut().map(ColumnBuilder::finish).collect();
        StructArray::new(self.fields.clone(), columns, self.validity.finish())
    }
}
