//! CloudTrail's delivery order. A trail names each log file by the five minutes it was
//! delivered for (`<account>_CloudTrail_<region>_20250309T1645Z_<id>.json.gz`): sources are
//! read in that order, which keeps the event-time watermark honest (few late events) across
//! accounts and regions, and lake files hold their rows in the same order, so the rows of the
//! sources read together are written as they lie, without reordering.

use std::cmp::Ordering;

/// The `YYYYMMDDTHHMMZ` delivery period in the name of a CloudTrail log file, from its path,
/// key or URI; `None` for other names.
pub fn delivery_period(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next()?;
    name.split('_').find(|part| {
        part.len() == 14
            && part.ends_with('Z')
            && part.as_bytes()[8] == b'T'
            && part[..8].bytes().chain(part[9..13].bytes()).all(|b| b.is_ascii_digit())
    })
}

/// Delivery order of two sources by URI: by delivery period, the sources without one last,
/// then by URI.
pub fn cmp_delivery_order(left: &str, right: &str) -> Ordering {
    let key = |uri| {
        let period = delivery_period(uri);
        (period.is_none(), period)
    };
    key(left).cmp(&key(right)).then_with(|| left.cmp(right))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_go_by_delivery_period_then_uri() {
        let later = "s3://b/AWSLogs/111/CloudTrail/us-east-1/111_CloudTrail_us-east-1_20250309T1700Z_x.json.gz";
        let earlier = "file:///l/222_CloudTrail_eu-west-1_20250309T1645Z_y.json.gz";
        let earlier_too = "file:///l/333_CloudTrail_eu-west-1_20250309T1645Z_a.json.gz";
        let unnamed = "file:///l/a/notes.json";
        assert_eq!(delivery_period(later), Some("20250309T1700Z"));
        assert_eq!(delivery_period(unnamed), None);
        // An underscore-separated part of a folder name is not a period.
        assert_eq!(delivery_period("/x_20250309T1700Z_y/notes.json"), None);
        let mut uris = [unnamed, later, earlier_too, earlier];
        uris.sort_by(|a, b| cmp_delivery_order(a, b));
        assert_eq!(uris, [earlier, earlier_too, later, unnamed]);
    }
}
