//! Arrow column builders driven by the lake schema: each JSON member is appended to the
//! column the schema names for it, and whatever has no typed column is collected, as JSON
//! text, for the `unmapped` column. Nothing of a record is dropped.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, ListArray, MapBuilder, MapFieldNames, NullBufferBuilder, StringArray,
    StringBuilder, StructArray,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{Field, Fields};
use lake::schema::{SchemaField, Shape, data_type, struct_fields};

use super::MemberOrder;
use super::tape::{Kind, Value};

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

/// Builds a struct column from its members' builders. A member absent from an object is
/// owed a NULL, paid when the member next has a value or when the column is finished (see
/// [`ColumnBuilder::pad_to`]).
pub struct StructColumn {
    members: &'static [SchemaField],
    fields: Fields,
    children: Vec<ColumnBuilder>,
    validity: NullBufferBuilder,
    /// The order members came in last time.
    order: MemberOrder,
}

/// Members of an object that have no typed column, written as a JSON object as they come.
#[derive(Default)]
pub struct Unmapped {
    json: String,
}

impl Unmapped {
    /// Keeps the member `key: raw` for the `unmapped` column.
    pub fn keep(&mut self, key: Value<'_, '_>, raw: &str) {
        self.json.push(if self.json.is_empty() { '{' } else { ',' });
        self.json.push_str(&key.canonical_string());
        self.json.push(':');
        self.json.push_str(raw);
    }

    /// Nests another object's unmapped members under `key`.
    pub fn nest(&mut self, key: Value<'_, '_>, inner: Unmapped) {
        if let Some(object) = inner.into_json() {
            self.keep(key, &object);
        }
    }

    /// The members as a JSON object, or `None` when there are none.
    pub fn into_json(mut self) -> Option<String> {
        (!self.json.is_empty()).then(|| {
            self.json.push('}');
            self.json
        })
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

/// Finishes a text builder. With `again`, leaves room in it for as much again (and an eighth
/// more): the next batch of a large file is most likely like this one, and growing to it by
/// doubling copies the text several times and leaves up to half the buffer unused in the batch.
pub(super) fn finish_text(builder: &mut StringBuilder, again: bool) -> StringArray {
    let room = again.then(|| (builder.len(), builder.values_slice().len()));
    let array = builder.finish();
    if let Some((rows, bytes)) = room {
        *builder = StringBuilder::with_capacity(rows + rows / 8, bytes + bytes / 8);
    }
    array
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

    /// Appends a JSON value; what does not fit the shape goes to `unmapped` under `key` (the
    /// member's name, spelt as JSON only then: most values fit).
    pub fn append(&mut self, key: Value<'_, '_>, value: Value<'_, '_>, unmapped: &mut Unmapped) {
        let kind = value.kind();
        if kind == Kind::Null {
            self.append_null();
            return;
        }
        let text = value.raw();
        match self {
            Self::Text(builder, TextKind::Json) => builder.append_value(text),
            // A string whose escapes are not valid UTF-16 keeps its JSON text.
            Self::Text(builder, TextKind::Text) => match value.str() {
                Some(string) => builder.append_value(string),
                None => builder.append_value(text),
            },
            Self::Struct(column) if kind == Kind::Object => {
                let mut inner = Unmapped::default();
                column.append_object(value, &mut inner);
                unmapped.nest(key, inner);
            }
            Self::StructList { offsets, validity, elements, .. } if kind == Kind::Array => {
                let mut count = 0;
                let mut all_fit = true;
                for item in value.elements() {
                    if item.kind() == Kind::Object {
                        let mut inner = Unmapped::default();
                        elements.append_object(item, &mut inner);
                        all_fit &= inner.into_json().is_none();
                        count += 1;
                    } else {
                        all_fit = false;
                    }
                }
                let last = *offsets.last().expect("offsets start with 0");
                offsets.push(last + count);
                validity.append_non_null();
                // A list with extra members or non-object elements is also kept whole.
                if !all_fit {
                    unmapped.keep(key, text);
                }
            }
            Self::Map(builder) if kind == Kind::Object => {
                for (name, entry) in value.members() {
                    builder.keys().append_value(name.str().unwrap_or(name.raw().into()));
                    match entry.kind() {
                        Kind::Null => builder.values().append_null(),
                        _ => {
                            builder.values().append_value(entry.str().unwrap_or(entry.raw().into()))
                        }
                    }
                }
                builder.append(true).expect("keys and values appended together");
            }
            // A value of another kind than the column's: NULL here, kept whole in `unmapped`.
            Self::Struct(_) | Self::StructList { .. } | Self::Map(_) => {
                self.append_null();
                unmapped.keep(key, text);
            }
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(builder, _) => builder.len(),
            Self::Struct(column) => column.validity.len(),
            Self::StructList { validity, .. } => validity.len(),
            Self::Map(builder) => builder.len(),
        }
    }

    /// Appends the NULLs owed to the column, up to `rows` rows. Most of the schema's columns
    /// are absent from most records: appending their NULLs one record at a time, through
    /// every nested member, was a twentieth of decoding.
    pub fn pad_to(&mut self, rows: usize) {
        let missing = rows - self.len();
        if missing == 0 {
            return;
        }
        match self {
            Self::Text(builder, _) => builder.append_nulls(missing),
            // Its members are padded in turn when next appended to or finished.
            Self::Struct(column) => column.validity.append_n_nulls(missing),
            Self::StructList { offsets, validity, .. } => {
                let last = *offsets.last().expect("offsets start with 0");
                offsets.resize(offsets.len() + missing, last);
                validity.append_n_nulls(missing);
            }
            Self::Map(builder) => {
                for _ in 0..missing {
                    builder.append(false).expect("an empty entry");
                }
            }
        }
    }

    /// Appends a NULL.
    pub fn append_null(&mut self) {
        self.pad_to(self.len() + 1);
    }

    /// The finished column; with `again`, the builder keeps room for as much again.
    pub fn finish(&mut self, again: bool) -> ArrayRef {
        match self {
            Self::Text(builder, _) => Arc::new(finish_text(builder, again)),
            Self::Struct(column) => Arc::new(column.finish(again)),
            Self::StructList { offsets, validity, element_field, elements } => {
                let offsets = OffsetBuffer::new(std::mem::replace(offsets, vec![0]).into());
                let values: ArrayRef = Arc::new(elements.finish(again));
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
            order: MemberOrder::new(members),
        }
    }

    /// Appends an object: known members to their children, the rest to `unmapped`.
    pub fn append_object(&mut self, object: Value<'_, '_>, unmapped: &mut Unmapped) {
        let row = self.validity.len();
        let members = self.members;
        let mut previous = None;
        for (key, value) in object.members() {
            let position = key.str().and_then(|name| {
                self.order.position(previous, &name, |name| {
                    members.iter().position(|member| member.json_name == name)
                })
            });
            match position {
                // Not yet appended to in this row.
                Some(index) if self.children[index].len() <= row => {
                    previous = Some(index);
                    let child = &mut self.children[index];
                    child.pad_to(row);
                    child.append(key, value, unmapped);
                }
                // Unknown members, and repeats of a known one, are kept rather than dropped.
                _ => unmapped.keep(key, value.raw()),
            }
        }
        self.validity.append_non_null();
    }

    fn finish(&mut self, again: bool) -> StructArray {
        let rows = self.validity.len();
        let columns: Vec<ArrayRef> = self
            .children
            .iter_mut()
            .map(|child| {
                child.pad_to(rows);
                child.finish(again)
            })
            .collect();
        StructArray::new(self.fields.clone(), columns, self.validity.finish())
    }
}
