//! Event time parsing. CloudTrail writes RFC 3339 UTC (`2025-03-09T16:39:48Z`), but exports,
//! other tools and older files also carry fractions, offsets, a space instead of `T`, or no
//! zone at all (read as UTC).

use chrono::{DateTime, NaiveDateTime};

/// Milliseconds since the epoch of an event time, or why it cannot be read.
pub fn parse_event_time(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(time.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Ok(time.and_utc().timestamp_millis());
        }
    }
    // RFC 3339 with a space separator and a zone: "2025-03-09 16:39:48+00:00".
    if let Ok(time) = DateTime::parse_from_rfc3339(&trimmed.replacen(' ', "T", 1)) {
        return Ok(time.timestamp_millis());
    }
    Err(format!("eventTime '{text}' is not an RFC 3339 or 'YYYY-MM-DD HH:MM:SS[.fff]' time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: i64 = 1_741_538_388_000; // 2025-03-09T16:39:48Z

    #[test]
    fn accepts_the_formats_seen_in_the_wild() {
        let cases = [
            ("2025-03-09T16:39:48Z", BASE),
            ("2025-03-09T16:39:48.123Z", BASE + 123),
            ("2025-03-09T16:39:48.123456789Z", BASE + 123),
            ("2025-03-09T18:39:48+02:00", BASE),
            ("2025-03-09 16:39:48", BASE),
            ("2025-03-09 16:39:48.5", BASE + 500),
            ("2025-03-09 16:39:48.123456789", BASE + 123),
            ("2025-03-09T16:39:48", BASE),
            ("2025-03-09 16:39:48+00:00", BASE),
            (" 2025-03-09T16:39:48Z ", BASE),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_event_time(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for text in ["", "yesterday", "1741538388", "2025-13-09T16:39:48Z", "2025-03-09"] {
            let error = parse_event_time(text).unwrap_err();
            assert!(error.contains(&format!("'{text}'")), "{error}");
        }
    }
}
