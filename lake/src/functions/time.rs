//! Trino's date and time conversions: `from_iso8601_timestamp`, `date_parse`, `to_unixtime`
//! and `from_unixtime` (calendar arithmetic is in `calendar`).
//!
//! Trino reads a timestamp without zone as wall-clock time in the session zone, which Athena
//! fixes to UTC; so do these. Timestamps with a zone keep it, and calendar arithmetic (days and
//! longer) happens on the wall clock of that zone, as Trino's does.

use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{Array, AsArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, TimeUnit};
use chrono::DateTime;
use datafusion::common::{Result, ScalarValue, exec_datafusion_err, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::calendar::Instants;
use super::time_format::{MysqlFormat, parse_iso8601};
use super::{arg_arrays, as_utf8, columnar_result, is_string};

pub(super) const MILLIS_PER_DAY: i64 = 86_400_000;

/// Trino's `timestamp(3) with time zone` in the session zone Athena uses.
pub(super) fn utc_millis() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

pub(super) fn string_arg(function: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        data_type if is_string(data_type) || data_type.is_null() => Ok(DataType::Utf8),
        other => plan_err!("{function} expects a string, got {other}"),
    }
}

/// The precision and zone of a timestamp argument: Trino takes timestamps with or without
/// zone, and dates where a timestamp is expected.
pub(super) fn timestamp_arg(
    function: &str,
    data_type: &DataType,
) -> Result<(TimeUnit, Option<Arc<str>>)> {
    match data_type {
        DataType::Timestamp(unit, zone) => Ok((*unit, zone.clone())),
        DataType::Date32 | DataType::Date64 | DataType::Null => Ok((TimeUnit::Millisecond, None)),
        other => plan_err!("{function} expects a timestamp, got {other}"),
    }
}

pub(super) fn per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
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
