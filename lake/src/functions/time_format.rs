//! Parsers for the text Trino's time functions read: ISO 8601 for `from_iso8601_timestamp` and
//! MySQL-style formats for `date_parse`. Trino parses both with Joda-Time, so these follow
//! Joda's rules, leniencies included: numbers may have fewer digits than their width, literals
//! and names match in either case, and missing fields default as Joda defaults them.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};

const MILLIS_PER_SECOND: i64 = 1_000;
const MILLIS_PER_MINUTE: i64 = 60 * MILLIS_PER_SECOND;
const MILLIS_PER_HOUR: i64 = 60 * MILLIS_PER_MINUTE;

/// A position in the text being parsed.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, at: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn done(&self) -> bool {
        self.at == self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.rest().bytes().next()
    }

    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    /// Consumes `wanted` if it comes next, in either case, as Joda's literals match.
    fn eat_ignoring_case(&mut self, wanted: char) -> bool {
        let Some(found) = self.rest().chars().next() else { return false };
        let same = found == wanted
            || found.to_lowercase().eq(wanted.to_lowercase())
            || found.to_uppercase().eq(wanted.to_uppercase());
        if same {
            self.at += found.len_utf8();
        }
        same
    }

    /// Consumes 1 to `max` digits, after a sign when `signed`, as Joda's number fields do.
    fn number(&mut self, max: usize, signed: bool) -> Option<i64> {
        let bytes = self.rest().as_bytes();
        let (negative, sign) = match bytes.first() {
            Some(b'-') if signed => (true, 1),
            Some(b'+') if signed => (false, 1),
            _ => (false, 0),
        };
        let count = bytes[sign..].iter().take(max).take_while(|byte| byte.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        let value = bytes[sign..sign + count]
            .iter()
            .fold(0i64, |value, digit| value * 10 + i64::from(digit - b'0'));
        self.at += sign + count;
        Some(if negative { -value } else { value })
    }

    /// Consumes exactly `count` digits.
    fn digits(&mut self, count: usize) -> Option<i64> {
        let mut attempt = *self;
        let value = attempt.number(count, false)?;
        (attempt.at - self.at == count).then(|| *self = attempt).map(|()| value)
    }

    /// Consumes up to 9 fraction digits and returns that fraction of `unit_millis`, truncated
    /// to whole milliseconds like Joda.
    fn fraction(&mut self, unit_millis: i64) -> Option<i64> {
        let start = self.at;
        let digits = self.number(9, false)?;
        let scale = 10i64.pow((self.at - start) as u32);
        Some(digits * unit_millis / scale)
    }

    /// Consumes the longest of `names`, whole or cut to three letters, each as written, in
    /// lower case or in upper case (the forms Joda's text fields accept), and returns its index.
    fn name(&mut self, names: &[&str]) -> Option<usize> {
        let rest = self.rest().as_bytes();
        let matches = |form: &str| {
            rest.get(..form.len()).is_some_and(|prefix| {
                let form = form.bytes();
                prefix.iter().copied().eq(form.clone())
                    || prefix.iter().copied().eq(form.clone().map(|b| b.to_ascii_lowercase()))
                    || prefix.iter().copied().eq(form.map(|b| b.to_ascii_uppercase()))
            })
        };
        let (index, length) = names
            .iter()
            .enumerate()
            .flat_map(|(index, name)| [(index, *name), (index, name.get(..3).unwrap_or(name))])
            .filter(|(_, form)| matches(form))
            .map(|(index, form)| (index, form.len()))
            .max_by_key(|&(_, length)| length)?;
        self.at += length;
        Some(index)
    }
}

fn epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
}

fn millis_of(date: NaiveDate) -> i64 {
    date.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

/// The date element of an ISO 8601 text, before its values are checked.
enum IsoDate {
    /// `yyyy[-MM[-dd]]`.
    Calendar(i64, Option<i64>, Option<i64>),
    /// `yyyy-Www[-e]`.
    Week(i64, i64, Option<i64>),
    /// `yyyy-DDD`.
    Ordinal(i64, i64),
}

impl IsoDate {
    /// Reads the longest date element at `cursor`; Joda tries every form and keeps the longest
    /// match, the calendar form winning ties.
    fn parse(cursor: &mut Cursor) -> Option<Self> {
        let forms: [fn(&mut Cursor) -> Option<IsoDate>; 3] =
            [Self::calendar, Self::week, Self::ordinal];
        let (end, date) = forms
            .iter()
            .filter_map(|form| {
                let mut attempt = *cursor;
                form(&mut attempt).map(|date| (attempt, date))
            })
            .reduce(|best, next| if next.0.at > best.0.at { next } else { best })?;
        *cursor = end;
        Some(date)
    }

    fn calendar(cursor: &mut Cursor) -> Option<Self> {
        let year = cursor.number(9, true)?;
        let mut part = || {
            let mut attempt = *cursor;
            let value = attempt.eat(b'-').then(|| attempt.number(2, false))??;
            *cursor = attempt;
            Some(value)
        };
        let month = part();
        let day = month.and_then(|_| part());
        Some(Self::Calendar(year, month, day))
    }

    fn week(cursor: &mut Cursor) -> Option<Self> {
        let year = cursor.number(9, true)?;
        if !(cursor.eat(b'-') && cursor.eat_ignoring_case('W')) {
            return None;
        }
        let week = cursor.number(2, false)?;
        let mut attempt = *cursor;
        let day = attempt.eat(b'-').then(|| attempt.number(1, false)).flatten();
        if day.is_some() {
            *cursor = attempt;
        }
        Some(Self::Week(year, week, day))
    }

    fn ordinal(cursor: &mut Cursor) -> Option<Self> {
        let year = cursor.number(9, true)?;
        cursor.eat(b'-').then(|| cursor.number(3, false))?.map(|day| Self::Ordinal(year, day))
    }

    fn date(self) -> Option<NaiveDate> {
        let int = |value: i64| u32::try_from(value).ok();
        match self {
            Self::Calendar(year, month, day) => NaiveDate::from_ymd_opt(
                i32::try_from(year).ok()?,
                int(month.unwrap_or(1))?,
                int(day.unwrap_or(1))?,
            ),
            // Like Joda, whose week fields keep the weekday of 1970-01-01 when none is given.
            Self::Week(year, week, day) => NaiveDate::from_isoywd_opt(
                i32::try_from(year).ok()?,
                int(week)?,
                Weekday::try_from(u8::try_from(day.unwrap_or(4) - 1).ok()?).ok()?,
            ),
            Self::Ordinal(year, day) => {
                NaiveDate::from_yo_opt(i32::try_from(year).ok()?, int(day)?)
            }
        }
    }
}

/// Reads `HH[:mm[:ss]]` with a fraction on the last of them, as milliseconds of the day.
fn iso_time(cursor: &mut Cursor) -> Option<i64> {
    let mut millis = 0;
    let parts = [(MILLIS_PER_HOUR, 23), (MILLIS_PER_MINUTE, 59), (MILLIS_PER_SECOND, 59)];
    for (index, (unit_millis, max)) in parts.into_iter().enumerate() {
        if index > 0 && !cursor.eat(b':') {
            break;
        }
        millis += cursor.number(2, false).filter(|value| *value <= max)? * unit_millis;
        if cursor.eat(b'.') || cursor.eat(b',') {
            return Some(millis + cursor.fraction(unit_millis)?);
        }
    }
    Some(millis)
}

/// Reads `Z`, `±HH`, `±HH:mm` or `±HHmm` as milliseconds east of UTC.
fn iso_offset(cursor: &mut Cursor) -> Option<i64> {
    if cursor.eat_ignoring_case('Z') {
        return Some(0);
    }
    let sign = if cursor.eat(b'+') {
        1
    } else if cursor.eat(b'-') {
        -1
    } else {
        return None;
    };
    let hours = cursor.digits(2).filter(|hours| *hours <= 23)?;
    let minutes = if cursor.eat(b':') || cursor.peek().is_some_and(|byte| byte.is_ascii_digit()) {
        cursor.digits(2)?
    } else {
        0
    };
    (minutes <= 59).then_some(sign * (hours * MILLIS_PER_HOUR + minutes * MILLIS_PER_MINUTE))
}

/// Parses `text` as Joda's ISO 8601 `dateTimeParser` (Trino's `from_iso8601_timestamp`) does:
/// a calendar, week or ordinal date, optionally `T` and a time, and after `T` optionally an
/// offset; or `T` and a time alone, on 1970-01-01. Returns epoch milliseconds; text without an
/// offset is read in UTC, Athena's session zone. Digits past milliseconds are truncated, and
/// letters match in either case.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let mut cursor = Cursor::new(text);
    let time_only = matches!(cursor.peek(), Some(b'T' | b't'));
    let date = if time_only { epoch_date() } else { IsoDate::parse(&mut cursor)?.date()? };
    let (mut millis_of_day, mut offset) = (0, 0);
    if cursor.eat_ignoring_case('T') {
        if cursor.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            millis_of_day = iso_time(&mut cursor)?;
        } else if time_only {
            return None;
        }
        if !cursor.done() {
            offset = iso_offset(&mut cursor)?;
        }
    }
    cursor.done().then(|| millis_of(date) + millis_of_day - offset)
}

/// A field `date_parse` can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Weekyear,
    Month,
    Week,
    DayOfYear,
    DayOfMonth,
    Weekday,
    Pm,
    Hour,
    ClockHour,
    Minute,
    Second,
    Millis,
}

impl Field {
    /// Joda's name, used in its range errors that Trino passes on.
    fn joda_name(self) -> &'static str {
        match self {
            Field::Year => "year",
            Field::Weekyear => "weekyear",
            Field::Month => "monthOfYear",
            Field::Week => "weekOfWeekyear",
            Field::DayOfYear => "dayOfYear",
            Field::DayOfMonth => "dayOfMonth",
            Field::Weekday => "dayOfWeek",
            Field::Pm => "halfdayOfDay",
            Field::Hour => "hourOfDay",
            Field::ClockHour => "clockhourOfHalfday",
            Field::Minute => "minuteOfHour",
            Field::Second => "secondOfMinute",
            Field::Millis => "millisOfSecond",
        }
    }
}

/// One element of a compiled `date_parse` format.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Element {
    Literal(char),
    /// A number of 1 to `max` digits.
    Number {
        field: Field,
        max: usize,
    },
    /// `%y`: two digits, read as 1970 to 2069.
    TwoDigitYear,
    /// `%f`: a fraction of a second.
    Fraction,
    /// `%b`, `%M`.
    MonthName,
    /// `%a`, `%W`.
    WeekdayName,
    /// `%p`.
    Halfday,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] =
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// A `date_parse` format (MySQL's specifiers, as Trino implements them), compiled once.
#[derive(Debug, Clone, PartialEq)]
pub struct MysqlFormat(Vec<Element>);

impl MysqlFormat {
    /// Compiles `format`. As in Trino, `%D %U %u %V %w %X` are errors and any other unknown
    /// specifier stands for its own character (`%%` is `%`).
    pub fn compile(format: &str) -> Result<Self, String> {
        use Element::*;
        let number = |field, max| Number { field, max };
        let mut elements = Vec::new();
        let mut chars = format.chars();
        while let Some(next) = chars.next() {
            if next != '%' {
                elements.push(Literal(next));
                continue;
            }
            // A lone `%` at the end adds nothing, as in Trino.
            let Some(specifier) = chars.next() else { break };
            match specifier {
                'a' | 'W' => elements.push(WeekdayName),
                'b' | 'M' => elements.push(MonthName),
                'c' | 'm' => elements.push(number(Field::Month, 2)),
                'd' | 'e' => elements.push(number(Field::DayOfMonth, 2)),
                'f' => elements.push(Fraction),
                'H' | 'k' => elements.push(number(Field::Hour, 2)),
                'h' | 'I' | 'l' => elements.push(number(Field::ClockHour, 2)),
                'i' => elements.push(number(Field::Minute, 2)),
                'j' => elements.push(number(Field::DayOfYear, 3)),
                'p' => elements.push(Halfday),
                'r' => elements.extend([
                    number(Field::ClockHour, 2),
                    Literal(':'),
                    number(Field::Minute, 2),
                    Literal(':'),
                    number(Field::Second, 2),
                    Literal(' '),
                    Halfday,
                ]),
                'S' | 's' => elements.push(number(Field::Second, 2)),
                'T' => elements.extend([
                    number(Field::Hour, 2),
                    Literal(':'),
                    number(Field::Minute, 2),
                    Literal(':'),
                    number(Field::Second, 2),
                ]),
                'v' => elements.push(number(Field::Week, 2)),
                'x' => elements.push(number(Field::Weekyear, 4)),
                'Y' => elements.push(number(Field::Year, 4)),
                'y' => elements.push(TwoDigitYear),
                'D' | 'U' | 'u' | 'V' | 'w' | 'X' => {
                    return Err(format!("%{specifier} not supported in date format string"));
                }
                other => elements.push(Literal(other)),
            }
        }
        Ok(Self(elements))
    }

    /// Parses `text`, which must match the whole format, into epoch milliseconds of a
    /// timestamp without zone.
    pub fn parse(&self, text: &str) -> Result<i64, String> {
        let mut cursor = Cursor::new(text);
        let mut fields = Fields::default();
        let mut complete = true;
        for element in &self.0 {
            let parsed = match *element {
                Element::Literal(wanted) => cursor.eat_ignoring_case(wanted).then_some(()),
                Element::Number { field, max } => cursor
                    .number(max, matches!(field, Field::Year | Field::Weekyear))
                    .map(|value| fields.set(field, value)),
                Element::TwoDigitYear => cursor.digits(2).map(|year| {
                    fields.set(Field::Year, if year < 70 { 2000 + year } else { 1900 + year })
                }),
                Element::Fraction => cursor
                    .fraction(MILLIS_PER_SECOND)
                    .map(|millis| fields.set(Field::Millis, millis)),
                Element::MonthName => {
                    cursor.name(&MONTHS).map(|index| fields.set(Field::Month, index as i64 + 1))
                }
                Element::WeekdayName => {
                    cursor.name(&WEEKDAYS).map(|index| fields.set(Field::Weekday, index as i64 + 1))
                }
                Element::Halfday => {
                    cursor.name(&["AM", "PM"]).map(|index| fields.set(Field::Pm, index as i64))
                }
            };
            if parsed.is_none() {
                complete = false;
                break;
            }
        }
        if complete && cursor.done() {
            return fields.resolve();
        }
        Err(match cursor.done() {
            true => "it is too short".to_string(),
            false => format!("it is malformed at '{}'", cursor.rest()),
        })
    }
}

/// The values `date_parse` read, by field; a field read twice keeps the later value.
#[derive(Default)]
struct Fields([Option<i64>; 13]);

impl Fields {
    fn set(&mut self, field: Field, value: i64) {
        self.0[field as usize] = Some(value);
    }

    fn get(&self, field: Field) -> Option<i64> {
        self.0[field as usize]
    }

    /// `value` as a `u32` when `field` allows it, else Joda's range error.
    fn check(field: Field, value: i64, min: u32, max: u32) -> Result<u32, String> {
        u32::try_from(value).ok().filter(|value| (min..=max).contains(value)).ok_or_else(|| {
            format!("value {value} for {} must be in the range [{min},{max}]", field.joda_name())
        })
    }

    /// Builds the timestamp as Joda does: from 1970-01-01T00:00 it sets the fields read, the
    /// larger ones first, each within the range the date reached so far allows. So a weekday
    /// moves the date within its Monday-to-Sunday week, and an hour of the half day keeps the
    /// half day `%p` chose.
    fn resolve(&self) -> Result<i64, String> {
        use Field::*;
        let dated =
            [Month, Week, DayOfYear, DayOfMonth, Weekday].iter().any(|f| self.get(*f).is_some());
        // Joda's default year: 2000, a leap year so that February 29 parses, when a month or a
        // day comes without a year.
        let year = self.get(Year).or((dated && self.get(Weekyear).is_none()).then_some(2000));
        let out_of_range = |field: Field| format!("the {} is out of range", field.joda_name());
        let mut date = epoch_date();
        if let Some(year) = year {
            date = i32::try_from(year)
                .ok()
                .and_then(|year| NaiveDate::from_ymd_opt(year, 1, 1))
                .ok_or_else(|| out_of_range(Year))?;
        }
        if let Some(weekyear) = self.get(Weekyear) {
            let weekyear = i32::try_from(weekyear).map_err(|_| out_of_range(Weekyear))?;
            let week = date.iso_week().week().min(weeks_in(weekyear));
            date = NaiveDate::from_isoywd_opt(weekyear, week, date.weekday())
                .ok_or_else(|| out_of_range(Weekyear))?;
        }
        if let Some(month) = self.get(Month) {
            let month = Self::check(Month, month, 1, 12)?;
            let first = date.with_day(1).and_then(|first| first.with_month(month)).expect("valid");
            date = first.with_day(date.day().min(first.num_days_in_month().into())).expect("valid");
        }
        if let Some(week) = self.get(Week) {
            let weekyear = date.iso_week().year();
            let week = Self::check(Week, week, 1, weeks_in(weekyear))?;
            date = NaiveDate::from_isoywd_opt(weekyear, week, date.weekday()).expect("valid");
        }
        if let Some(day) = self.get(DayOfYear) {
            let days = if date.leap_year() { 366 } else { 365 };
            let day = Self::check(DayOfYear, day, 1, days)?;
            date = date.with_ordinal(day).expect("valid");
        }
        if let Some(day) = self.get(DayOfMonth) {
            let day = Self::check(DayOfMonth, day, 1, date.num_days_in_month().into())?;
            date = date.with_day(day).expect("valid");
        }
        if let Some(weekday) = self.get(Weekday) {
            date += Duration::days(weekday - i64::from(date.weekday().number_from_monday()));
        }
        let mut hour = if self.get(Pm) == Some(1) { 12 } else { 0 };
        if let Some(hour_of_day) = self.get(Hour) {
            hour = Self::check(Hour, hour_of_day, 0, 23)?;
        }
        if let Some(clock_hour) = self.get(ClockHour) {
            hour = hour / 12 * 12 + Self::check(ClockHour, clock_hour, 1, 12)? % 12;
        }
        let minute = Self::check(Minute, self.get(Minute).unwrap_or(0), 0, 59)?;
        let second = Self::check(Second, self.get(Second).unwrap_or(0), 0, 59)?;
        let millis = Self::check(Millis, self.get(Millis).unwrap_or(0), 0, 999)?;
        let time = NaiveTime::from_hms_milli_opt(hour, minute, second, millis).expect("valid");
        Ok(NaiveDateTime::new(date, time).and_utc().timestamp_millis())
    }
}

/// The number of ISO weeks in `weekyear`.
fn weeks_in(weekyear: i32) -> u32 {
    if NaiveDate::from_isoywd_opt(weekyear, 53, Weekday::Mon).is_some() { 53 } else { 52 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    #[test]
    fn iso8601_reads_the_forms_joda_reads() {
        let cases = [
            ("2020-05-11", "2020-05-11T00:00:00Z"),
            ("2020-5-1", "2020-05-01T00:00:00Z"),
            ("2020", "2020-01-01T00:00:00Z"),
            ("2020-05-11T", "2020-05-11T00:00:00Z"),
            ("2020-05-11TZ", "2020-05-11T00:00:00Z"),
            ("2020-05-11T11", "2020-05-11T11:00:00Z"),
            ("2020-05-11T11:15", "2020-05-11T11:15:00Z"),
            ("2020-05-11T11:15:05,5", "2020-05-11T11:15:05.500Z"),
            ("2020-05-11T11:15.5", "2020-05-11T11:15:30Z"),
            ("2020-05-11T11:15:05.999999999-08", "2020-05-11T19:15:05.999Z"),
            ("2020-05-11T11:15:05+0530", "2020-05-11T05:45:05Z"),
            ("2020-05-11T23:59:59-23:59", "2020-05-12T23:58:59Z"),
            ("2020-123", "2020-05-02T00:00:00Z"),
            ("2020-W01", "2020-01-02T00:00:00Z"),
            ("2020-w01-1T10", "2019-12-30T10:00:00Z"),
            ("T10:15Z", "1970-01-01T10:15:00Z"),
            ("2020-05-11t11:15:05z", "2020-05-11T11:15:05Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_iso8601(text), Some(millis(expected)), "{text}");
        }
        let invalid = [
            "",
            "T",
            "2020-05-11Z",
            "2020-05-11 11:15",
            "2020-05-11T24:00",
            "2020-05-11T11:60",
            "2020-05-11T11:15:05.",
            "2020-05-11T11:15:05.1234567890",
            "2020-05-11T11+1",
            "2020-05-11T11+24",
            "2020-13",
            "2020-02-30",
            "2021-366",
            "2020-W54",
            "2020-05-11T11:15:05Zjunk",
        ];
        for text in invalid {
            assert_eq!(parse_iso8601(text), None, "{text}");
        }
    }

    #[test]
    fn mysql_formats_compile_to_joda_elements() {
        use Element::*;
        assert_eq!(
            MysqlFormat::compile("%T%%%Q").unwrap(),
            MysqlFormat(vec![
                Number { field: Field::Hour, max: 2 },
                Literal(':'),
                Number { field: Field::Minute, max: 2 },
                Literal(':'),
                Number { field: Field::Second, max: 2 },
                Literal('%'),
                Literal('Q'),
            ])
        );
        for unsupported in ["%D", "%U", "%u", "%V", "%w", "%X"] {
            let error = MysqlFormat::compile(unsupported).unwrap_err();
            assert!(error.ends_with("not supported in date format string"), "{error}");
        }
    }

    #[test]
    fn mysql_formats_parse_as_joda_does() {
        let parse = |text: &str, format: &str| MysqlFormat::compile(format).unwrap().parse(text);
        let cases = [
            // Literals and names in either case; numbers narrower than their width.
            ("2022T1/2", "%Yt%c/%e", "2022-01-02T00:00:00Z"),
            ("SEPTEMBER 3 2022", "%M %e %Y", "2022-09-03T00:00:00Z"),
            ("sep 3 2022", "%b %e %Y", "2022-09-03T00:00:00Z"),
            ("12:05:01 AM", "%r", "1970-01-01T00:05:01Z"),
            ("12:05:01 pm", "%r", "1970-01-01T12:05:01Z"),
            ("7 PM", "%l %p", "1970-01-01T19:00:00Z"),
            ("2022-10-20 .1", "%Y-%m-%d .%f", "2022-10-20T00:00:00.100Z"),
            // A weekday moves the date within its Monday-to-Sunday week.
            ("Mon 2022-10-20", "%a %Y-%m-%d", "2022-10-17T00:00:00Z"),
            // Without a year, days and months fall in 2000, times on 1970-01-01.
            ("Oct 20", "%b %d", "2000-10-20T00:00:00Z"),
            ("366", "%j", "2000-12-31T00:00:00Z"),
            ("05:06", "%i:%s", "1970-01-01T00:05:06Z"),
        ];
        for (text, format, expected) in cases {
            assert_eq!(parse(text, format), Ok(millis(expected)), "'{text}', '{format}'");
        }
        // %Y is signed, like Joda's year.
        let ides = NaiveDate::from_ymd_opt(-44, 3, 15).map(millis_of);
        assert_eq!(parse("-0044-03-15", "%Y-%m-%d").ok(), ides);
        let errors = [
            ("2022-10", "%Y-%m-%d", "it is too short"),
            ("2022-10-20 ", "%Y-%m-%d", "it is malformed at ' '"),
            ("22-10-20", "%y%m%d", "it is malformed at '-10-20'"),
            ("2022-00-01", "%Y-%m-%d", "value 0 for monthOfYear must be in the range [1,12]"),
            ("2021-366", "%Y-%j", "value 366 for dayOfYear must be in the range [1,365]"),
            ("24:00", "%H:%i", "value 24 for hourOfDay must be in the range [0,23]"),
            ("0 AM", "%h %p", "value 0 for clockhourOfHalfday must be in the range [1,12]"),
            ("2022 W53", "%x W%v", "value 53 for weekOfWeekyear must be in the range [1,52]"),
        ];
        for (text, format, expected) in errors {
            assert_eq!(parse(text, format), Err(expected.to_string()), "'{text}', '{format}'");
        }
    }
}
