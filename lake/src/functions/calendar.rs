//! Trino's calendar arithmetic: `date_add` and `date_diff`, on the wall clock of a
//! timestamp's zone for days and longer units, as Trino's.

use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use chrono::{
    DateTime, Datelike, LocalResult, Months, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone,
    Timelike,
};
use datafusion::common::{Result, exec_datafusion_err, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::time::{MILLIS_PER_DAY, per_second, string_arg, timestamp_arg};
use super::{arg_arrays, as_utf8, columnar_result};

/// A column of timestamps or dates as raw instants: values in `unit`s since the epoch, and the
/// zone whose wall clock calendar arithmetic uses (None for UTC, and for timestamps without
/// zone and dates, which are UTC wall-clock values).
pub(super) struct Instants {
    pub(super) values: Int64Array,
    pub(super) unit: TimeUnit,
    pub(super) zone: Option<Tz>,
}

impl Instants {
    pub(super) fn new(array: &ArrayRef) -> Result<Self> {
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
    use datafusion::common::ScalarValue;

    use super::super::tests::{failure, text, value};

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
}
