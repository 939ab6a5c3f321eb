//! Trino's array and map functions `element_at`, `cardinality` and `contains`. They replace
//! DataFusion's functions of those names: its `element_at` reads maps only and returns a
//! one-element list, its `cardinality` counts the elements of nested arrays too and returns
//! UInt64, and its `contains` is a substring test, which `contains` here keeps for strings.

use std::iter::repeat_n;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, UInt32Array, UInt64Array, new_null_array,
};
use arrow::buffer::NullBuffer;
use arrow::compute::kernels::comparison::contains;
use arrow::compute::take;
use arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::logical_expr_common::type_coercion::binary::comparison_coercion;
use datafusion::physical_expr_common::datum::compare_with_eq;

use super::{arg_arrays, as_utf8, columnar_result, is_string};

fn is_array(data_type: &DataType) -> bool {
    matches!(data_type, DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..))
}

/// The rows of an array or map column: the elements (map entries) they cover, and the range
/// of each row in them.
struct Rows {
    elements: ArrayRef,
    ranges: Vec<Range<usize>>,
    nulls: Option<NullBuffer>,
}

impl Rows {
    fn new(array: &ArrayRef) -> Result<Self> {
        let (elements, offsets): (ArrayRef, Vec<usize>) = match array.data_type() {
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                (Arc::clone(list.values()), list.offsets().iter().map(|o| *o as usize).collect())
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                (Arc::clone(list.values()), list.offsets().iter().map(|o| *o as usize).collect())
            }
            DataType::FixedSizeList(_, size) => {
                let list = array.as_fixed_size_list();
                let size = *size as usize;
                (Arc::clone(list.values()), (0..=list.len()).map(|row| row * size).collect())
            }
            DataType::Map(..) => {
                let map = array.as_map();
                let offsets = map.value_offsets().iter().map(|o| *o as usize).collect();
                (Arc::new(map.entries().clone()) as ArrayRef, offsets)
            }
            other => return exec_err!("expected an array or a map, got {other}"),
        };
        let (first, last) = (offsets[0], offsets[offsets.len() - 1]);
        Ok(Self {
            elements: elements.slice(first, last - first),
            ranges: offsets.windows(2).map(|pair| pair[0] - first..pair[1] - first).collect(),
            nulls: array.logical_nulls(),
        })
    }

    fn is_valid(&self, row: usize) -> bool {
        self.nulls.as_ref().is_none_or(|nulls| nulls.is_valid(row))
    }

    /// Whether each of `elements` (these rows' elements or a column of their entries) equals
    /// its row's `needle`; NULL where either is NULL.
    fn equal_to(&self, elements: &ArrayRef, needle: &ColumnarValue) -> Result<BooleanArray> {
        let nested = elements.data_type().is_nested();
        match needle {
            ColumnarValue::Scalar(needle) => {
                compare_with_eq(elements, &needle.to_scalar()?, nested)
            }
            ColumnarValue::Array(needles) => {
                let row_of_element: UInt32Array = self
                    .ranges
                    .iter()
                    .enumerate()
                    .flat_map(|(row, range)| repeat_n(row as u32, range.len()))
                    .collect();
                compare_with_eq(elements, &take(needles, &row_of_element, None)?, nested)
            }
        }
    }
}

/// Trino's `element_at(array, index)`, 1-based with negative indexes counting from the end and
/// NULL past either end, and `element_at(map, key)`, NULL for a missing key.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ElementAt {
    signature: Signature,
}

impl ElementAt {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for ElementAt {
    fn name(&self) -> &str {
        "element_at"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [array, index] if is_array(array) && (index.is_integer() || index.is_null()) => {
                Ok(vec![array.clone(), DataType::Int64])
            }
            [map @ DataType::Map(entries, _), _] => match entries.data_type() {
                DataType::Struct(fields) => Ok(vec![map.clone(), fields[0].data_type().clone()]),
                other => plan_err!("element_at: unexpected map entries {other}"),
            },
            [DataType::Null, key] => Ok(vec![DataType::Null, key.clone()]),
            _ => plan_err!("element_at takes (array, index) or (map, key), got {arg_types:?}"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
                Ok(item.data_type().clone())
            }
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(fields) => Ok(fields[1].data_type().clone()),
                other => plan_err!("element_at: unexpected map entries {other}"),
            },
            _ => Ok(DataType::Null),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [container, keys] = arg_arrays(&args.args)?;
        if container.data_type().is_null() {
            return columnar_result(&args.args, new_null_array(&DataType::Null, container.len()));
        }
        let rows = Rows::new(&container)?;
        let (positions, values) = if let DataType::Map(..) = container.data_type() {
            let entries = rows.elements.as_struct();
            let equal = rows.equal_to(entries.column(0), &args.args[1])?;
            let positions: UInt64Array = (rows.ranges.iter().enumerate())
                .map(|(row, range)| {
                    let mut range = range.clone().filter(|_| rows.is_valid(row));
                    range.find(|&at| equal.is_valid(at) && equal.value(at)).map(|at| at as u64)
                })
                .collect();
            (positions, Arc::clone(entries.column(1)))
        } else {
            let indexes = keys.as_primitive::<Int64Type>();
            let positions = (rows.ranges.iter().enumerate())
                .map(|(row, range)| {
                    if !rows.is_valid(row) || indexes.is_null(row) {
                        return Ok(None);
                    }
                    let (index, length) = (indexes.value(row), range.len() as i64);
                    let from_start = match index {
                        0 => return exec_err!("element_at: SQL array indices start at 1"),
                        1.. => index - 1,
                        _ => length + index,
                    };
                    Ok((0..length)
                        .contains(&from_start)
                        .then(|| (range.start as i64 + from_start) as u64))
                })
                .collect::<Result<UInt64Array>>()?;
            (positions, Arc::clone(&rows.elements))
        };
        columnar_result(&args.args, take(&values, &positions, None)?)
    }
}

/// Trino's `cardinality(array | map)`: the number of elements or entries as a BIGINT, nested
/// arrays counting once each.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Cardinality {
    signature: Signature,
}

impl Cardinality {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for Cardinality {
    fn name(&self) -> &str {
        "cardinality"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [container] if is_array(container) || matches!(container, DataType::Map(..)) => {
                Ok(vec![container.clone()])
            }
            [DataType::Null] => Ok(vec![DataType::Null]),
            _ => plan_err!("cardinality takes an array or a map, got {arg_types:?}"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [container] = arg_arrays(&args.args)?;
        if container.data_type().is_null() {
            return columnar_result(&args.args, new_null_array(&DataType::Int64, container.len()));
        }
        let rows = Rows::new(&container)?;
        let sizes: Int64Array = (rows.ranges.iter().enumerate())
            .map(|(row, range)| rows.is_valid(row).then_some(range.len() as i64))
            .collect();
        columnar_result(&args.args, Arc::new(sizes))
    }
}

/// Trino's `contains(array, element)`: true when the array holds the element, else NULL when it
/// holds a NULL, else false. With two strings it is DataFusion's substring test, which it
/// replaces.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Contains {
    signature: Signature,
}

impl Contains {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for Contains {
    fn name(&self) -> &str {
        "contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let text = |data_type: &DataType| is_string(data_type) || data_type.is_null();
        // Elements and element as one type, the one `=` would compare them as.
        let common = |item: &FieldRef, element: &DataType| -> Result<(FieldRef, DataType)> {
            let Some(common) = comparison_coercion(item.data_type(), element) else {
                return plan_err!("contains: cannot look for a {element} in an array of {item}");
            };
            Ok((Arc::new(item.as_ref().clone().with_data_type(common.clone())), common))
        };
        match arg_types {
            [DataType::List(item), element] => {
                let (item, common) = common(item, element)?;
                Ok(vec![DataType::List(item), common])
            }
            [DataType::LargeList(item), element] => {
                let (item, common) = common(item, element)?;
                Ok(vec![DataType::LargeList(item), common])
            }
            [DataType::FixedSizeList(item, size), element] => {
                let (item, common) = common(item, element)?;
                Ok(vec![DataType::FixedSizeList(item, *size), common])
            }
            [haystack, needle] if text(haystack) && text(needle) => {
                Ok(vec![DataType::Utf8, DataType::Utf8])
            }
            [DataType::Null, element] => Ok(vec![DataType::Null, element.clone()]),
            _ => plan_err!(
                "contains takes (array, element) or (string, substring), got {arg_types:?}"
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [haystack, needles] = arg_arrays(&args.args)?;
        let result = match haystack.data_type() {
            DataType::Null => {
                new_null_array(&DataType::Boolean, haystack.len()).as_boolean().clone()
            }
            DataType::Utf8 => contains(&as_utf8(&haystack)?, &as_utf8(&needles)?)?,
            _ => {
                let rows = Rows::new(&haystack)?;
                let equal = rows.equal_to(&rows.elements, &args.args[1])?;
                (rows.ranges.iter().enumerate())
                    .map(|(row, range)| {
                        if !rows.is_valid(row) || needles.is_null(row) {
                            return None;
                        }
                        let mut unknown = false;
                        for at in range.clone() {
                            match equal.is_valid(at) {
                                true if equal.value(at) => return Some(true),
                                true => {}
                                false => unknown = true,
                            }
                        }
                        (!unknown).then_some(false)
                    })
                    .collect()
            }
        };
        columnar_result(&args.args, Arc::new(result))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, ListArray, RecordBatch, StringArray, StructArray};
    use arrow::datatypes::{Field, Fields, Int64Type, Schema};
    use datafusion::common::ScalarValue;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::super::register_all;
    use super::super::tests::{failure, rows, session, value};
    use super::*;

    #[tokio::test]
    async fn element_at_follows_trino() {
        // Trino semantics: 1-based, negative indexes from the end, NULL past either end.
        let cases = [
            ("ARRAY[1, 2, 3], 1", Some(1)),
            ("ARRAY[1, 2, 3], -1", Some(3)),
            ("ARRAY[1, 2, 3], -3", Some(1)),
            ("ARRAY[1, 2, 3], 4", None),
            ("ARRAY[1, 2, 3], -4", None),
            ("ARRAY[1, NULL, 3], 2", None),
            ("ARRAY[1, 2, 3], NULL", None),
        ];
        for (args, expected) in cases {
            let got = value(&format!("SELECT element_at({args})")).await;
            assert_eq!(got, ScalarValue::Int64(expected), "element_at({args})");
        }
        let error = failure("SELECT element_at(ARRAY[1, 2, 3], 0)").await;
        assert!(error.contains("element_at: SQL array indices start at 1"), "{error}");
        // Maps: the value, not DataFusion's one-element list; NULL for a missing key.
        let map = "MAP(ARRAY['a', 'b'], ARRAY[10, 20])";
        assert_eq!(
            value(&format!("SELECT element_at({map}, 'b')")).await,
            ScalarValue::Int64(Some(20))
        );
        assert_eq!(
            value(&format!("SELECT element_at({map}, 'c')")).await,
            ScalarValue::Int64(None)
        );
    }

    #[tokio::test]
    async fn cardinality_follows_trino() {
        let cases = [
            ("ARRAY[1, 2, 3]", Some(3)),
            ("ARRAY[ARRAY[1, 2], ARRAY[3, 4]]", Some(2)),
            ("ARRAY[]", Some(0)),
            ("MAP(ARRAY['a', 'b'], ARRAY[1, 2])", Some(2)),
            ("NULL", None),
        ];
        for (container, expected) in cases {
            let got = value(&format!("SELECT cardinality({container})")).await;
            assert_eq!(got, ScalarValue::Int64(expected), "cardinality({container})");
        }
    }

    #[tokio::test]
    async fn contains_follows_trino_and_keeps_substrings() {
        // Trino semantics: true when found; else NULL when the array holds a NULL; else false.
        let cases = [
            ("ARRAY[1, 2, 3], 2", Some(true)),
            ("ARRAY[1, 2, 3], 5", Some(false)),
            ("ARRAY[1, NULL, 3], 3", Some(true)),
            ("ARRAY[1, NULL, 3], 5", None),
            ("ARRAY[1, 2, 3], NULL", None),
            ("ARRAY[1, 2, 3], 2.5", Some(false)),
            ("ARRAY[1.5, 2.5], 2.5", Some(true)),
            ("ARRAY['AssumeRole', 'GetObject'], 'GetObject'", Some(true)),
            ("ARRAY[ARRAY[1], ARRAY[2, 3]], ARRAY[2, 3]", Some(true)),
            ("ARRAY[], 1", Some(false)),
            // DataFusion's substring test, for strings.
            ("'arn:aws:iam::123456789012:root', ':root'", Some(true)),
            ("'arn:aws:iam::123456789012:user/x', ':root'", Some(false)),
        ];
        for (args, expected) in cases {
            let got = value(&format!("SELECT contains({args})")).await;
            assert_eq!(got, ScalarValue::Boolean(expected), "contains({args})");
        }
    }

    /// The lake's `resources` column is a list of structs; rows differ in length and the
    /// index or element can be a column too.
    #[tokio::test]
    async fn array_functions_work_on_columns() {
        let resource = Fields::from(vec![Field::new("arn", DataType::Utf8, true)]);
        let arns = StringArray::from(vec!["arn:a", "arn:b", "arn:c"]);
        let structs = StructArray::new(resource.clone(), vec![Arc::new(arns)], None);
        let item = Arc::new(Field::new("element", DataType::Struct(resource), true));
        let resources = ListArray::new(
            item,
            arrow::buffer::OffsetBuffer::from_lengths([2, 0, 1]),
            Arc::new(structs),
            Some(NullBuffer::from(vec![true, true, true])),
        );
        let numbers = ListArray::from_iter_primitive::<Int64Type, _, _>([
            Some(vec![Some(1), Some(2)]),
            None,
            Some(vec![Some(5), None]),
        ]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("resources", resources.data_type().clone(), true),
            Field::new("numbers", numbers.data_type().clone(), true),
            Field::new("wanted", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(resources),
                Arc::new(numbers),
                Arc::new(Int64Array::from(vec![Some(2), Some(1), Some(7)])),
            ],
        )
        .unwrap();
        let ctx = session();
        let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        ctx.register_table("cloudtrail", Arc::new(table)).unwrap();
        let sql = "SELECT element_at(resources, 1)['arn'], element_at(resources, -1)['arn'], \
                   cardinality(resources), element_at(numbers, wanted), \
                   contains(numbers, wanted) FROM cloudtrail";
        assert_eq!(
            rows(&ctx, sql).await,
            [
                "arn:a, arn:b, 2, 2, true",
                "NULL, NULL, 0, NULL, NULL",
                "arn:c, arn:c, 1, NULL, NULL"
            ]
        );
    }

    /// `any_match` is DataFusion's, with Trino's semantics, but lambdas only parse under a
    /// dialect that has them; trailhound's sessions use the generic one.
    #[tokio::test]
    async fn any_match_needs_a_lambda_dialect() {
        let error = failure("SELECT any_match(ARRAY[1, 2, 3], x -> x > 2)").await;
        assert!(error.contains("No field named x"), "{error}");

        let mut config = SessionConfig::new();
        config.options_mut().sql_parser.dialect = "duckdb".parse().unwrap();
        let ctx = SessionContext::new_with_config(config);
        register_all(&ctx);
        // Trino semantics: true if any element matches; false if none does, as for an empty
        // array; NULL if the predicate is NULL for some elements and false for the others.
        let sql = "SELECT any_match(ARRAY[1, 2, 3], x -> x > 2), \
                   any_match(ARRAY[1, 2, 3], x -> x > 5), \
                   any_match(ARRAY[], x -> x > 5), \
                   any_match(ARRAY[1, NULL], x -> x > 5), \
                   any_match(ARRAY[1, NULL, 7], x -> x > 5)";
        assert_eq!(rows(&ctx, sql).await, ["true, false, false, NULL, true"]);
    }
}
