//! Trino's date and time functions: `from_iso8601_timestamp`, `date_parse`, `to_unixtime`,
//! `from_unixtime`, `date_add` and `date_diff`.
//!
//! Trino reads a timestamp without zone as wall-clock time in the session zone, which Athena
//! fixes to UTC; so do these. Timestamps with a zone keep it, and calendar arithmetic (days and
//! longer) happens on the wall clock of that zone, as Trino's does.

use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, TimestampMillisecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type, TimeUnit};
use chrono::{
    DateTime, Datelike, LocalResult, Months, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone,
    Timelike,
};
use datafusion::common::{Result, ScalarValue, exec_datafusion_err, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::time_format::{MysqlFormat, parse_iso8601};
use super::{arg_arrays, as_utf8, columnar_result, is_string};

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Trino's `timestamp(3) with time zone` in the session zone Athena uses.
fn utc_millis() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn string_arg(function: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        data_type if is_string(data_type) || data_type.is_null() => Ok(DataType::Utf8),
        other => plan_err!("{function} expects a string, got {other}"),
    }
}

/// The precision and zone of a timestamp argument: Trino takes timestamps with or without
/// zone, and dates where a timestamp is expected.
fn timestamp_arg(function: &str, data_type: &DataType) -> Result<(TimeUnit, Option<Arc<str>>)> {
    match data_type {
        DataType::Timestamp(unit, zone) => Ok((*unit, zone.clone())),
        DataType::Date32 | DataType::Date64 | DataType::Null => Ok((TimeUnit::Millisecond, None)),
        other => plan_err!("{function} expects a timestamp, got {other}"),
    }
}

fn per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// A column of timestamps or dates as raw instants: values in `unit`s since the epoch, and the
/// zone whose wall clock calendar arithmetic uses (None for UTC, and for timestamps without
/// zone and dates, which are UTC wall-clock values).
struct Instants {
    values: Int64Array,
    unit: TimeUnit,
    zone: Option<Tz>,
}

impl Instants {
    fn new(array: &ArrayRef) -> Result<Self> {
        let (array, unit, zone) = match array.data_type() {
            DataType::Timestamp(unit, zone) => (Arc::clone(array), *unit, zone.as_deref()),
            _ => {
                let millis = DataType::Timestamp(TimeUnit::Millisecond, None);
                (cast(array, &millis)?, TimeUnit::Millisecond, None)
            }
        };
        let zone = match zone {
            None => None,
            Some(zone) if ["UTC", "+00:00", "Z"].contains(&zone) => None,
            Some(zone) => Some(zone.parse::<Tz>()?),
        };
        let values = cast(&array, &DataType::Int64)?.as_primitive::<Int64Type>().clone();
        Ok(Self { values, unit, zone })
    }

    /// Rebuilds a column of `data_type` (this column's own type) from raw `values`.
    fn rebuild(values: Int64Array, data_type: &DataType) -> Result<ArrayRef> {
        match data_type {
            DataType::Timestamp(..) => Ok(cast(&values, data_type)?),
            _ => {
                let millis = cast(&values, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
                Ok(cast(&millis, data_type)?)
            }
        }
    }

    /// The length of `unit` in milliseconds when it is the same everywhere in this column: for
    /// the time units, and for days and weeks in UTC (elsewhere DST changes their length).
    fn fixed_millis(&self, unit: Unit) -> Option<i64> {
        unit.millis().filter(|_| unit.is_time() || self.zone.is_none())
    }

    /// Epoch milliseconds of `instant`, rounded down as Trino does for finer precisions.
    fn millis(&self, instant: i64) -> Option<i64> {
        match self.unit {
            TimeUnit::Second => instant.checked_mul(1_000),
            unit => Some(instant.div_euclid(per_second(unit) / 1_000)),
        }
    }

    /// The wall-clock time `instant` shows in this column's zone.
    fn wall_clock(&self, instant: i64) -> Option<NaiveDateTime> {
        let utc = utc_wall_clock(instant, self.unit)?;
        Some(match &self.zone {
            None => utc,
            Some(zone) => zone.from_utc_datetime(&utc).naive_local(),
        })
    }

    /// The instant showing `wall` in this column's zone. Like Joda, Trino's time library, it
    /// keeps the offset of `original` where that is valid (so a day added on a DST overlap
    /// stays on the same side), else takes the earlier instant, and in a DST gap keeps the
    /// original offset.
    fn instant(&self, wall: NaiveDateTime, original: i64) -> Option<i64> {
        let utc = match &self.zone {
            None => wall.and_utc(),
            Some(zone) => {
                let offset = self.wall_clock(original)? - utc_wall_clock(original, self.unit)?;
                let kept = wall - offset;
                let kept_offset = zone.offset_from_utc_datetime(&kept).fix().local_minus_utc();
                if i64::from(kept_offset) == offset.num_seconds() {
                    kept.and_utc()
                } else {
                    match zone.from_local_datetime(&wall) {
                        LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => {
                            instant.to_utc()
                        }
                        LocalResult::None => kept.and_utc(),
                    }
                }
            }
        };
        match self.unit {
            TimeUnit::Second => Some(utc.timestamp()),
            TimeUnit::Millisecond => Some(utc.timestamp_millis()),
            TimeUnit::Microsecond => Some(utc.timestamp_micros()),
            TimeUnit::Nanosecond => utc.timestamp_nanos_opt(),
        }
    }
}

/// The UTC date and time of `instant`, counted in `unit`s since the epoch.
fn utc_wall_clock(instant: i64, unit: TimeUnit) -> Option<NaiveDateTime> {
    let per_second = per_second(unit);
    let nanos = instant.rem_euclid(per_second) * (1_000_000_000 / per_second);
    Some(DateTime::from_timestamp(instant.div_euclid(per_second), nanos as u32)?.naive_utc())
}

/// Trino's `from_iso8601_timestamp(string)`: an ISO 8601 date, optionally with time and offset,
/// as a `timestamp(3) with time zone`. Unparsable text is an error, as in Trino.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FromIso8601Timestamp {
    signature: Signature,
}

impl FromIso8601Timestamp {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for FromIso8601Timestamp {
    fn name(&self) -> &str {
        "from_iso8601_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [text] => Ok(vec![string_arg(self.name(), text)?]),
            _ => plan_err!("from_iso8601_timestamp takes one argument"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(utc_millis())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [text] = arg_arrays(&args.args)?;
        let millis = as_utf8(&text)?
            .iter()
            .map(|text| {
                let Some(text) = text else { return Ok(None) };
                parse_iso8601(text).map(Some).ok_or_else(|| {
                    exec_datafusion_err!("from_iso8601_timestamp: invalid ISO 8601 text '{text}'")
                })
            })
            .collect::<Result<TimestampMillisecondArray>>()?;
        columnar_result(&args.args, Arc::new(millis.with_timezone("UTC")))
    }
}

/// Trino's `date_parse(string, format)`: a `timestamp(3)` (without zone) read with a
/// MySQL-style format. Text not matching the format is an error, as in Trino.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateParse {
    signature: Signature,
}

impl DateParse {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for DateParse {
    fn name(&self) -> &str {
        "date_parse"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [text, format] => {
                Ok(vec![string_arg(self.name(), text)?, string_arg(self.name(), format)?])
            }
            _ => plan_err!("date_parse takes two arguments: (string, format)"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Millisecond, None))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [texts, formats] = arg_arrays(&args.args)?;
        let (texts, formats) = (as_utf8(&texts)?, as_utf8(&formats)?);
        let compile = |format: &str| {
            MysqlFormat::compile(format).map_err(|why| exec_datafusion_err!("date_parse: {why}"))
        };
        // The format is nearly always a constant: compile it once.
        let constant = match &args.args[1] {
            ColumnarValue::Scalar(format) => {
                format.try_as_str().flatten().map(compile).transpose()?
            }
            ColumnarValue::Array(_) => None,
        };
        let millis = texts
            .iter()
            .zip(formats.iter())
            .map(|(text, format)| {
                let (Some(text), Some(format_text)) = (text, format) else { return Ok(None) };
                let compiled;
                let format = match &constant {
                    Some(format) => format,
                    None => {
                        compiled = compile(format_text)?;
                        &compiled
                    }
                };
                format.parse(text).map(Some).map_err(|why| {
                    exec_datafusion_err!(
                        "date_parse: cannot parse '{text}' with format '{format_text}': {why}"
                    )
                })
            })
            .collect::<Result<TimestampMillisecondArray>>()?;
        columnar_result(&args.args, Arc::new(millis))
    }
}

/// Trino's `to_unixtime(timestamp)`: seconds since the epoch as a DOUBLE, fraction included
/// (DataFusion's own returns whole seconds as an integer).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToUnixtime {
    signature: Signature,
}

impl ToUnixtime {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for ToUnixtime {
    fn name(&self) -> &str {
        "to_unixtime"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [timestamp] => {
                let (unit, zone) = timestamp_arg(self.name(), timestamp)?;
                Ok(vec![DataType::Timestamp(unit, zone)])
            }
            _ => plan_err!("to_unixtime takes one argument"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [timestamps] = arg_arrays(&args.args)?;
        let Instants { values, unit, .. } = Instants::new(&timestamps)?;
        let seconds = match unit {
            TimeUnit::Second => values.unary::<_, Float64Type>(|seconds| seconds as f64),
            unit => {
                // Whole milliseconds divided by 1000.0, as Trino does, then any finer part.
                let (per_second, per_milli) = (per_second(unit), per_second(unit) / 1_000);
                values.unary::<_, Float64Type>(|instant| {
                    instant.div_euclid(per_milli) as f64 / 1_000.0
                        + instant.rem_euclid(per_milli) as f64 / per_second as f64
                })
            }
        };
        columnar_result(&args.args, Arc::new(seconds))
    }
}

/// Trino's `from_unixtime(unixtime)`, `from_unixtime(unixtime, zone)` and
/// `from_unixtime(unixtime, hours, minutes)`: a `timestamp(3) with time zone` from seconds since
/// the epoch, rounded to milliseconds. DataFusion's own takes whole seconds only.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FromUnixtime {
    signature: Signature,
}

impl FromUnixtime {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }

    /// The zone of the result, which the zone arguments fix; they must be constants since
    /// Arrow keeps the zone in the column type.
    fn zone(&self, args: &ReturnFieldArgs) -> Result<Option<String>> {
        let constant = |index: usize, target: &DataType| match args
            .scalar_arguments
            .get(index)
            .copied()
            .flatten()
        {
            Some(value) => Ok(value.cast_to(target)?),
            None => plan_err!("from_unixtime: the time zone arguments must be constants"),
        };
        match args.arg_fields.len() {
            1 => Ok(Some("UTC".to_string())),
            2 => {
                let zone = constant(1, &DataType::Utf8)?;
                let Some(zone) = zone.try_as_str().flatten() else { return Ok(None) };
                if zone.parse::<Tz>().is_err() {
                    return plan_err!("from_unixtime: unknown time zone '{zone}'");
                }
                Ok(Some(zone.to_string()))
            }
            _ => {
                let (ScalarValue::Int64(Some(hours)), ScalarValue::Int64(Some(minutes))) =
                    (constant(1, &DataType::Int64)?, constant(2, &DataType::Int64)?)
                else {
                    return Ok(None);
                };
                // Trino's zone offsets span -14:00 to +14:00.
                let offset = hours * 60 + minutes;
                if offset.abs() > 14 * 60 {
                    return plan_err!("from_unixtime: offset {hours}:{minutes} is out of range");
                }
                let sign = if offset < 0 { '-' } else { '+' };
                Ok(Some(format!("{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60)))
            }
        }
    }
}

impl ScalarUDFImpl for FromUnixtime {
    fn name(&self) -> &str {
        "from_unixtime"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // A NULL zone argument stays a NULL literal: a cast would hide it from `zone`.
        let zone_arg =
            |data_type: &DataType, fits: fn(&DataType) -> bool, target: DataType| match data_type {
                DataType::Null => Some(DataType::Null),
                data_type => fits(data_type).then_some(target),
            };
        let zone = match arg_types {
            [unixtime, zone @ ..] if unixtime.is_numeric() || unixtime.is_null() => match zone {
                [] => Some(vec![]),
                [zone] => zone_arg(zone, is_string, DataType::Utf8).map(|zone| vec![zone]),
                [hours, minutes] => zone_arg(hours, DataType::is_integer, DataType::Int64)
                    .zip(zone_arg(minutes, DataType::is_integer, DataType::Int64))
                    .map(|(hours, minutes)| vec![hours, minutes]),
                _ => None,
            },
            _ => None,
        };
        match zone {
            Some(zone) => Ok([vec![DataType::Float64], zone].concat()),
            None => plan_err!(
                "from_unixtime takes (unixtime), (unixtime, zone) or (unixtime, hours, minutes), \
                 got {arg_types:?}"
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(utc_millis())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let zone = self.zone(&args)?.unwrap_or_else(|| "UTC".to_string());
        let data_type = DataType::Timestamp(TimeUnit::Millisecond, Some(zone.into()));
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let seconds = arrays[0].as_primitive::<Float64Type>();
        // A NULL zone or offset makes every row NULL.
        let no_zone = arrays[1..].iter().any(|zone| zone.logical_null_count() == zone.len());
        let millis = seconds
            .iter()
            .map(|seconds| {
                let Some(seconds) = seconds.filter(|_| !no_zone) else { return Ok(None) };
                // Java's Math.round, as Trino uses: halves round up.
                let millis = (seconds * 1_000.0 + 0.5).floor();
                let valid =
                    millis.is_finite() && DateTime::from_timestamp_millis(millis as i64).is_some();
                valid.then_some(Some(millis as i64)).ok_or_else(|| {
                    exec_datafusion_err!("from_unixtime: {seconds:?} is out of range")
                })
            })
            .collect::<Result<TimestampMillisecondArray>>()?;
        let DataType::Timestamp(_, zone) = args.return_type() else {
            return exec_err!("from_unixtime returns a timestamp");
        };
        columnar_result(&args.args[..1], Arc::new(millis.with_timezone_opt(zone.clone())))
    }
}

/// A unit of `date_add` and `date_diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Unit {
    /// Reads a unit name, in any case as Trino does; `date` refuses the units finer than a day.
    fn parse(function: &str, name: &str, date: bool) -> Result<Self> {
        let unit = match name.to_ascii_lowercase().as_str() {
            "millisecond" => Unit::Millisecond,
            "second" => Unit::Second,
            "minute" => Unit::Minute,
            "hour" => Unit::Hour,
            "day" => Unit::Day,
            "week" => Unit::Week,
            "month" => Unit::Month,
            "quarter" => Unit::Quarter,
            "year" => Unit::Year,
            _ => return exec_err!("{function}: '{name}' is not a valid TIMESTAMP field"),
        };
        if date && unit.is_time() {
            return exec_err!("{function}: '{name}' is not a valid DATE field");
        }
        Ok(unit)
    }

    /// The number of months in the units counted in months.
    fn months(self) -> i64 {
        match self {
            Unit::Quarter => 3,
            Unit::Year => 12,
            _ => 1,
        }
    }

    /// The length of the units not counted in months, in milliseconds (days and weeks without
    /// DST changes).
    fn millis(self) -> Option<i64> {
        match self {
            Unit::Millisecond => Some(1),
            Unit::Second => Some(1_000),
            Unit::Minute => Some(60_000),
            Unit::Hour => Some(3_600_000),
            Unit::Day => Some(MILLIS_PER_DAY),
            Unit::Week => Some(7 * MILLIS_PER_DAY),
            Unit::Month | Unit::Quarter | Unit::Year => None,
        }
    }

    /// Whether the unit is a time of day unit, counted on the instant rather than the calendar.
    fn is_time(self) -> bool {
        matches!(self, Unit::Millisecond | Unit::Second | Unit::Minute | Unit::Hour)
    }

    /// The unit argument of every row; it is nearly always a constant, parsed once.
    fn column(
        function: &str,
        units: &ColumnarValue,
        rows: usize,
        date: bool,
    ) -> Result<Vec<Option<Self>>> {
        match units {
            ColumnarValue::Scalar(unit) => {
                let unit = unit.try_as_str().flatten().map(|u| Self::parse(function, u, date));
                Ok(vec![unit.transpose()?; rows])
            }
            ColumnarValue::Array(units) => as_utf8(units)?
                .iter()
                .map(|unit| unit.map(|unit| Self::parse(function, unit, date)).transpose())
                .collect(),
        }
    }
}

/// Trino's `date_add(unit, value, timestamp)`: `timestamp` moved by `value` units, of the same
/// type. Months, quarters and years land on the same day of month, or the month's last day when
/// it is shorter (2020-01-31 plus one month is 2020-02-29).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateAdd {
    signature: Signature,
}

impl DateAdd {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

/// `instant` (in `instants.unit`) moved by `amount` `unit`s.
fn add(instants: &Instants, unit: Unit, amount: i64, instant: i64) -> Option<i64> {
    if let Some(unit_millis) = instants.fixed_millis(unit) {
        let millis = amount.checked_mul(unit_millis)?;
        return match instants.unit {
            // Trino rounds to the precision of the value, halves up.
            TimeUnit::Second => {
                let moved = instant.checked_mul(1_000)?.checked_add(millis)?;
                Some(moved.checked_add(500)?.div_euclid(1_000))
            }
            unit => instant.checked_add(millis.checked_mul(per_second(unit) / 1_000)?),
        };
    }
    let wall = instants.wall_clock(instant)?;
    let months = || {
        Some(Months::new(u32::try_from(amount.checked_abs()?.checked_mul(unit.months())?).ok()?))
    };
    let moved = match unit {
        Unit::Month | Unit::Quarter | Unit::Year if amount < 0 => {
            wall.checked_sub_months(months()?)?
        }
        Unit::Month | Unit::Quarter | Unit::Year => wall.checked_add_months(months()?)?,
        _ => wall.checked_add_signed(TimeDelta::try_milliseconds(
            amount.checked_mul(unit.millis()?)?,
        )?)?,
    };
    instants.instant(moved, instant)
}

impl ScalarUDFImpl for DateAdd {
    fn name(&self) -> &str {
        "date_add"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [unit, value, timestamp] = arg_types else {
            return plan_err!("date_add takes three arguments: (unit, value, timestamp)");
        };
        if !(value.is_integer() || value.is_null()) {
            return plan_err!("date_add expects an integer value, got {value}");
        }
        let timestamp = match timestamp {
            DataType::Date32 | DataType::Date64 => DataType::Date32,
            other => {
                let (unit, zone) = timestamp_arg(self.name(), other)?;
                DataType::Timestamp(unit, zone)
            }
        };
        Ok(vec![string_arg(self.name(), unit)?, DataType::Int64, timestamp])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[2].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [_, amounts, timestamps] = arg_arrays(&args.args)?;
        let date = timestamps.data_type() == &DataType::Date32;
        let units = Unit::column(self.name(), &args.args[0], args.number_rows, date)?;
        let instants = Instants::new(&timestamps)?;
        let amounts = amounts.as_primitive::<Int64Type>();
        let moved = (0..instants.values.len())
            .map(|row| {
                let (Some(unit), true, true) =
                    (units[row], amounts.is_valid(row), instants.values.is_valid(row))
                else {
                    return Ok(None);
                };
                let (amount, instant) = (amounts.value(row), instants.values.value(row));
                add(&instants, unit, amount, instant).map(Some).ok_or_else(|| {
                    exec_datafusion_err!(
                        "date_add: {amount} {unit:?} from {instant} is out of range"
                    )
                })
            })
            .collect::<Result<Int64Array>>()?;
        columnar_result(&args.args, Instants::rebuild(moved, timestamps.data_type())?)
    }
}

/// Joda's month difference, which Trino's is: whole months from `from` to `to`, truncated
/// toward zero, where a `to` on the last day of its month is a whole month after any later day
/// of month (2020-01-31 to 2020-02-29 is one month).
fn month_difference(from: NaiveDateTime, to: NaiveDateTime) -> i64 {
    if to < from {
        return -month_difference(to, from);
    }
    let months =
        i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month());
    let month_end = to.day() == u32::from(to.date().num_days_in_month());
    let from_day = if month_end { from.day().min(to.day()) } else { from.day() };
    months - i64::from((to.day(), to.time()) < (from_day, from.time()))
}

/// Joda's year difference, which Trino's is: whole years from `from` to `to`, truncated toward
/// zero, a February 29 counting as February 28 against a year without one.
fn year_difference(from: NaiveDateTime, to: NaiveDateTime) -> i64 {
    if to < from {
        return -year_difference(to, from);
    }
    let into_year = |at: NaiveDateTime| {
        let start =
            NaiveDate::from_yo_opt(at.year(), 1).expect("valid").and_time(Default::default());
        (at - start).num_milliseconds()
    };
    let (mut to_into, mut from_into) = (into_year(to), into_year(from));
    let february_29 = (31 + 28) * MILLIS_PER_DAY;
    if from_into >= february_29 {
        if from.date().leap_year() {
            if !to.date().leap_year() {
                from_into -= MILLIS_PER_DAY;
            }
        } else if to_into >= february_29 && to.date().leap_year() {
            to_into -= MILLIS_PER_DAY;
        }
    }
    i64::from(to.year() - from.year()) - i64::from(to_into < from_into)
}

/// `to - from` in whole `unit`s, truncated toward zero; Trino first rounds both down to
/// milliseconds.
fn difference(instants: &Instants, unit: Unit, from: i64, to: i64) -> Option<i64> {
    if let Some(unit_millis) = instants.fixed_millis(unit) {
        return Some(instants.millis(to)?.checked_sub(instants.millis(from)?)? / unit_millis);
    }
    let wall = |instant| {
        let wall = instants.wall_clock(instant)?;
        wall.with_nanosecond(wall.nanosecond() / 1_000_000 * 1_000_000)
    };
    let (from, to) = (wall(from)?, wall(to)?);
    Some(match unit {
        Unit::Month => month_difference(from, to),
        Unit::Quarter => month_difference(from, to) / 3,
        Unit::Year => year_difference(from, to),
        _ => (to - from).num_milliseconds() / unit.millis()?,
    })
}

/// Trino's `date_diff(unit, timestamp1, timestamp2)`: `timestamp2 - timestamp1` in whole units,
/// truncated toward zero.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateDiff {
    signature: Signature,
}

impl DateDiff {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for DateDiff {
    fn name(&self) -> &str {
        "date_diff"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [unit, first, second] = arg_types else {
            return plan_err!("date_diff takes three arguments: (unit, timestamp1, timestamp2)");
        };
        let dates = [first, second]
            .iter()
            .all(|t| matches!(t, DataType::Date32 | DataType::Date64 | DataType::Null));
        let common = if dates {
            DataType::Date32
        } else {
            // Both as one timestamp type: the finer precision, and the first zone given.
            let (first_unit, first_zone) = timestamp_arg(self.name(), first)?;
            let (second_unit, second_zone) = timestamp_arg(self.name(), second)?;
            let unit = [first_unit, second_unit].into_iter().max_by_key(|u| per_second(*u));
            DataType::Timestamp(unit.expect("two units"), first_zone.or(second_zone))
        };
        Ok(vec![string_arg(self.name(), unit)?, common.clone(), common])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [_, first, second] = arg_arrays(&args.args)?;
        let date = first.data_type() == &DataType::Date32;
        let units = Unit::column(self.name(), &args.args[0], args.number_rows, date)?;
        let (first, second) = (Instants::new(&first)?, Instants::new(&second)?);
        let differences = (0..first.values.len())
            .map(|row| {
                let (Some(unit), true, true) =
                    (units[row], first.values.is_valid(row), second.values.is_valid(row))
                else {
                    return Ok(None);
                };
                let (from, to) = (first.values.value(row), second.values.value(row));
                difference(&first, unit, from, to).map(Some).ok_or_else(|| {
                    exec_datafusion_err!("date_diff: {unit:?} from {from} to {to} is out of range")
                })
            })
            .collect::<Result<Int64Array>>()?;
        columnar_result(&args.args, Arc::new(differences))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{RecordBatch, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{Field, Schema};
    use datafusion::common::ScalarValue;
    use datafusion::datasource::MemTable;

    use super::super::tests::{failure, rows, session, text, value};
    use crate::schema::{EVENT_TS, event_ts_type};

    #[tokio::test]
    async fn from_iso8601_timestamp_follows_trino() {
        // Trino documentation examples, in Athena's session zone, UTC.
        let cases = [
            ("2020-05-11", "2020-05-11T00:00:00Z"),
            ("2020-05-11T11:15:05", "2020-05-11T11:15:05Z"),
            ("2020-05-11T11:15:05.055+01:00", "2020-05-11T10:15:05.055Z"),
        ];
        for (iso, expected) in cases {
            let got = text(&format!("SELECT from_iso8601_timestamp('{iso}')")).await;
            assert_eq!(got.as_deref(), Some(expected), "{iso}");
        }
        // Trino semantics: CloudTrail's eventTime, the other offset and partial forms Joda
        // reads, and milliseconds truncated.
        let cases = [
            ("2025-03-09T16:39:48Z", "2025-03-09T16:39:48Z"),
            ("2025-03-09T16:39:48.123456Z", "2025-03-09T16:39:48.123Z"),
            ("2025-03-09T16:39-0130", "2025-03-09T18:09:00Z"),
            ("2025-03-09T16+02", "2025-03-09T14:00:00Z"),
            ("2025-03", "2025-03-01T00:00:00Z"),
            ("2025-068T12:00", "2025-03-09T12:00:00Z"),
            ("2025-W10-7", "2025-03-09T00:00:00Z"),
            ("T16:39:48Z", "1970-01-01T16:39:48Z"),
            ("2025-03-09T16.5", "2025-03-09T16:30:00Z"),
        ];
        for (iso, expected) in cases {
            let got = text(&format!("SELECT from_iso8601_timestamp('{iso}')")).await;
            assert_eq!(got.as_deref(), Some(expected), "{iso}");
        }
        assert_eq!(
            text("SELECT arrow_typeof(from_iso8601_timestamp('2020-05-11'))").await.as_deref(),
            Some(r#"Timestamp(ms, "UTC")"#)
        );
        assert_eq!(text("SELECT from_iso8601_timestamp(NULL)").await, None);
        // Trino raises an error for text it cannot parse.
        for invalid in ["2025-03-09 16:39:48", "2025-02-30", "yesterday", "2025-03-09T25:00", ""] {
            let error = failure(&format!("SELECT from_iso8601_timestamp('{invalid}')")).await;
            assert!(
                error.contains(&format!(
                    "from_iso8601_timestamp: invalid ISO 8601 text '{invalid}'"
                )),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn date_parse_follows_trino() {
        // Trino documentation example.
        assert_eq!(
            text("SELECT date_parse('2022/10/20/05', '%Y/%m/%d/%H')").await.as_deref(),
            Some("2022-10-20T05:00:00")
        );
        assert_eq!(
            text("SELECT arrow_typeof(date_parse('2022/10/20/05', '%Y/%m/%d/%H'))")
                .await
                .as_deref(),
            Some("Timestamp(ms)")
        );
        // Trino semantics of the MySQL specifiers.
        let cases = [
            ("2022-10-20 05:06:07.891", "%Y-%m-%d %H:%i:%s.%f", "2022-10-20T05:06:07.891"),
            ("20 Oct 2022 17:06:07", "%d %b %Y %T", "2022-10-20T17:06:07"),
            ("Thursday, October 20, 22", "%W, %M %e, %y", "2022-10-20T00:00:00"),
            ("thu oct 20 2022 5:06:07 pm", "%a %b %e %Y %r", "2022-10-20T17:06:07"),
            ("10/20/2022 12:30 AM", "%c/%e/%Y %l:%i %p", "2022-10-20T00:30:00"),
            ("2022 293 7", "%Y %j %k", "2022-10-20T07:00:00"),
            ("2022-W42", "%x-W%v", "2022-10-20T00:00:00"),
            ("69-01-01", "%y-%m-%d", "2069-01-01T00:00:00"),
            ("70-01-01", "%y-%m-%d", "1970-01-01T00:00:00"),
            ("100%", "%j%%", "2000-04-09T00:00:00"),
            ("02-29", "%m-%d", "2000-02-29T00:00:00"),
            ("10:15", "%H:%i", "1970-01-01T10:15:00"),
        ];
        for (input, format, expected) in cases {
            let got = text(&format!("SELECT date_parse('{input}', '{format}')")).await;
            assert_eq!(got.as_deref(), Some(expected), "date_parse('{input}', '{format}')");
        }
        assert_eq!(text("SELECT date_parse(NULL, '%Y')").await, None);
        // Trino raises errors for text that does not match, values out of range and the
        // specifiers it does not support.
        let errors = [
            ("2022/10/20", "%Y/%m/%d/%H", "it is too short"),
            ("2022/10/20/05x", "%Y/%m/%d/%H", "it is malformed at 'x'"),
            ("2022/13/20", "%Y/%m/%d", "value 13 for monthOfYear must be in the range [1,12]"),
            ("2022/02/29", "%Y/%m/%d", "value 29 for dayOfMonth must be in the range [1,28]"),
            ("20th", "%D", "%D not supported in date format string"),
        ];
        for (input, format, expected) in errors {
            let error = failure(&format!("SELECT date_parse('{input}', '{format}')")).await;
            assert!(error.contains("date_parse: ") && error.contains(expected), "{error}");
        }
    }

    #[tokio::test]
    async fn to_unixtime_returns_fractional_seconds() {
        let cases = [
            ("from_iso8601_timestamp('2001-08-22T03:04:05.321Z')", 998449445.321),
            ("TIMESTAMP '2001-08-22 03:04:05.321'", 998449445.321),
            ("TIMESTAMP '1969-12-31 23:59:59.5'", -0.5),
            ("DATE '1970-01-02'", 86400.0),
            ("from_unixtime(1.25, 'Europe/Paris')", 1.25),
        ];
        for (timestamp, expected) in cases {
            let got = value(&format!("SELECT to_unixtime({timestamp})")).await;
            assert_eq!(got, ScalarValue::Float64(Some(expected)), "{timestamp}");
        }
        // Finer than milliseconds, to the precision a DOUBLE has.
        let sql = "SELECT to_unixtime(TIMESTAMP '2020-06-02 12:30:45.123456789')";
        let ScalarValue::Float64(Some(seconds)) = value(sql).await else { panic!("{sql}") };
        assert!((seconds - 1_591_101_045.123_456_8).abs() < 1e-6, "{seconds}");
        assert_eq!(value("SELECT to_unixtime(NULL)").await, ScalarValue::Float64(None));
    }

    #[tokio::test]
    async fn from_unixtime_follows_trino() {
        let cases = [
            ("from_unixtime(0)", "1970-01-01T00:00:00Z"),
            ("from_unixtime(998449445.321)", "2001-08-22T03:04:05.321Z"),
            ("from_unixtime(1.0005)", "1970-01-01T00:00:01.001Z"),
            ("from_unixtime(-1.5)", "1969-12-31T23:59:58.500Z"),
            ("from_unixtime(0, 'America/New_York')", "1969-12-31T19:00:00-05:00"),
            ("from_unixtime(0, 5, 30)", "1970-01-01T05:30:00+05:30"),
            ("from_unixtime(0, -2, -30)", "1969-12-31T21:30:00-02:30"),
        ];
        for (call, expected) in cases {
            assert_eq!(text(&format!("SELECT {call}")).await.as_deref(), Some(expected), "{call}");
        }
        assert_eq!(
            text("SELECT arrow_typeof(from_unixtime(0))").await.as_deref(),
            Some(r#"Timestamp(ms, "UTC")"#)
        );
        assert_eq!(text("SELECT from_unixtime(NULL)").await, None);
        assert_eq!(text("SELECT from_unixtime(0, NULL)").await, None);
        let error = failure("SELECT from_unixtime(0, 'Mars/Olympus')").await;
        assert!(error.contains("unknown time zone 'Mars/Olympus'"), "{error}");
        let error = failure("SELECT from_unixtime(1e300)").await;
        assert!(error.contains("from_unixtime: 1e300 is out of range"), "{error}");
    }

    #[tokio::test]
    async fn date_add_follows_trino() {
        // Trino documentation examples; DataFusion reads `TIMESTAMP '... UTC'` as a timestamp
        // without zone, so from_iso8601_timestamp stands in for it.
        let cases = [
            ("'second', 86, TIMESTAMP '2020-03-01 00:00:00'", "2020-03-01T00:01:26"),
            ("'hour', 9, TIMESTAMP '2020-03-01 00:00:00'", "2020-03-01T09:00:00"),
            ("'day', -1, from_iso8601_timestamp('2020-03-01T00:00:00Z')", "2020-02-29T00:00:00Z"),
        ];
        for (args, expected) in cases {
            let got = text(&format!("SELECT date_add({args})")).await;
            assert_eq!(got.as_deref(), Some(expected), "date_add({args})");
        }
        // Trino semantics: months clamp to the month's last day, units in any case, the
        // type of the value kept.
        let cases = [
            ("'month', 1, DATE '2020-01-31'", "2020-02-29"),
            ("'month', -1, DATE '2020-03-31'", "2020-02-29"),
            ("'quarter', 1, DATE '2019-11-30'", "2020-02-29"),
            ("'year', 1, DATE '2020-02-29'", "2021-02-28"),
            ("'WEEK', 2, DATE '2020-02-20'", "2020-03-05"),
            (
                "'millisecond', 1500, TIMESTAMP '2020-03-01 00:00:00.000000001'",
                "2020-03-01T00:00:01.500000001",
            ),
            (
                "'minute', -90, from_iso8601_timestamp('2020-03-01T00:00:00Z')",
                "2020-02-29T22:30:00Z",
            ),
            (
                "'month', 1, from_iso8601_timestamp('2020-01-31T10:00:00.250Z')",
                "2020-02-29T10:00:00.250Z",
            ),
        ];
        for (args, expected) in cases {
            let got = text(&format!("SELECT date_add({args})")).await;
            assert_eq!(got.as_deref(), Some(expected), "date_add({args})");
        }
        // Days follow the wall clock of the value's zone across a DST change; hours do not.
        let saturday_noon = "from_unixtime(1583600400, 'America/New_York')";
        let got = text(&format!("SELECT date_add('day', 1, {saturday_noon})")).await;
        assert_eq!(got.as_deref(), Some("2020-03-08T12:00:00-04:00"));
        let got = text(&format!("SELECT date_add('hour', 24, {saturday_noon})")).await;
        assert_eq!(got.as_deref(), Some("2020-03-08T13:00:00-04:00"));
        assert_eq!(text("SELECT date_add('day', NULL, DATE '2020-01-01')").await, None);
        let error = failure("SELECT date_add('fortnight', 1, DATE '2020-01-01')").await;
        assert!(error.contains("date_add: 'fortnight' is not a valid TIMESTAMP field"), "{error}");
        let error = failure("SELECT date_add('hour', 1, DATE '2020-01-01')").await;
        assert!(error.contains("date_add: 'hour' is not a valid DATE field"), "{error}");
        let error = failure("SELECT date_add('day', 1, '2020-01-01')").await;
        assert!(error.contains("date_add expects a timestamp, got Utf8"), "{error}");
    }

    #[tokio::test]
    async fn date_diff_follows_trino() {
        // Trino documentation examples; DataFusion reads `TIMESTAMP '... UTC'` as a timestamp
        // without zone, so from_iso8601_timestamp stands in for it.
        let cases = [
            ("'second', TIMESTAMP '2020-03-01 00:00:00', TIMESTAMP '2020-03-02 00:00:00'", 86400),
            (
                "'hour', from_iso8601_timestamp('2020-03-01T00:00:00Z'), \
                 from_iso8601_timestamp('2020-03-02T00:00:00Z')",
                24,
            ),
            ("'day', DATE '2020-03-01', DATE '2020-03-02'", 1),
            (
                "'second', TIMESTAMP '2020-06-01 12:30:45.000000000', \
                 TIMESTAMP '2020-06-02 12:30:45.123456789'",
                86400,
            ),
            (
                "'millisecond', TIMESTAMP '2020-06-01 12:30:45.000000000', \
                 TIMESTAMP '2020-06-02 12:30:45.123456789'",
                86400123,
            ),
        ];
        for (args, expected) in cases {
            let got = value(&format!("SELECT date_diff({args})")).await;
            assert_eq!(got, ScalarValue::Int64(Some(expected)), "date_diff({args})");
        }
        // Trino semantics: truncation toward zero, and Joda's month and year differences.
        let cases = [
            ("'day', TIMESTAMP '2020-03-02 00:00:00', TIMESTAMP '2020-03-01 01:00:00'", 0),
            ("'hour', TIMESTAMP '2020-03-01 01:30:00', TIMESTAMP '2020-03-01 00:00:00'", -1),
            ("'week', DATE '2020-03-01', DATE '2020-03-14'", 1),
            ("'month', DATE '2020-01-31', DATE '2020-02-29'", 1),
            ("'month', DATE '2020-01-31', DATE '2020-02-28'", 0),
            ("'month', DATE '2020-02-29', DATE '2020-01-31'", -1),
            ("'month', TIMESTAMP '2020-01-15 12:00:00', TIMESTAMP '2020-02-15 11:59:59'", 0),
            ("'quarter', DATE '2020-01-15', DATE '2020-07-14'", 1),
            ("'year', DATE '2020-02-29', DATE '2021-02-28'", 1),
            ("'year', DATE '2019-03-01', DATE '2020-02-29'", 0),
            ("'year', DATE '2021-03-01', DATE '2020-03-01'", -1),
            // Mixed types meet at the finer precision.
            (
                "'millisecond', from_iso8601_timestamp('2020-03-01T00:00:00Z'), \
                 TIMESTAMP '2020-03-01 00:00:01.5'",
                1500,
            ),
            ("'day', DATE '2020-03-01', TIMESTAMP '2020-03-02 23:59:59'", 1),
        ];
        for (args, expected) in cases {
            let got = value(&format!("SELECT date_diff({args})")).await;
            assert_eq!(got, ScalarValue::Int64(Some(expected)), "date_diff({args})");
        }
        assert_eq!(
            value("SELECT date_diff('day', NULL, DATE '2020-01-01')").await,
            ScalarValue::Int64(None)
        );
        let error =
            failure("SELECT date_diff('minute', DATE '2020-01-01', DATE '2020-01-02')").await;
        assert!(error.contains("date_diff: 'minute' is not a valid DATE field"), "{error}");
    }

    /// Rules and hunts compare the lake's `event_ts` (Timestamp(ms, "UTC")) with Athena-style
    /// bounds and parse CloudTrail's `eventtime` text.
    #[tokio::test]
    async fn event_ts_compares_with_trino_timestamps() {
        let schema = Arc::new(Schema::new(vec![
            Field::new(EVENT_TS, event_ts_type(), false),
            Field::new("eventtime", arrow::datatypes::DataType::Utf8, true),
        ]));
        let times = ["2025-03-09T16:39:48Z", "2025-03-09T17:00:00Z", "2025-03-10T00:00:01Z"];
        let millis: Vec<i64> = times
            .iter()
            .map(|time| chrono::DateTime::parse_from_rfc3339(time).unwrap().timestamp_millis())
            .collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(TimestampMillisecondArray::from(millis).with_timezone("UTC")),
                Arc::new(StringArray::from(times.to_vec())),
            ],
        )
        .unwrap();
        let ctx = session();
        let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        ctx.register_table("cloudtrail", Arc::new(table)).unwrap();
        let sql = "SELECT eventtime, event_ts = from_iso8601_timestamp(eventtime), \
                   date_diff('minute', from_iso8601_timestamp('2025-03-09T16:00:00Z'), event_ts) \
                   FROM cloudtrail \
                   WHERE event_ts >= from_iso8601_timestamp('2025-03-09T16:39:48Z') \
                   AND event_ts < date_parse('2025/03/10', '%Y/%m/%d') \
                   ORDER BY event_ts";
        assert_eq!(
            rows(&ctx, sql).await,
            ["2025-03-09T16:39:48Z, true, 39", "2025-03-09T17:00:00Z, true, 60"]
        );
        // Both bounds fold to constants of event_ts's own type, so the column is compared as
        // stored (no cast), which keeps the lake's pruning on event_ts working.
        let plan = rows(&ctx, &format!("EXPLAIN {sql}")).await.join("\n");
        let filter = "Filter: cloudtrail.event_ts >= TimestampMillisecond(1741538388000, \
                      Some(\"UTC\")) AND cloudtrail.event_ts < \
                      TimestampMillisecond(1741564800000, Some(\"UTC\"))";
        assert!(plan.contains(filter), "{plan}");
    }
}
