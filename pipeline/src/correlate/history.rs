//! The value tuples a `new_terms` correlation has seen, with when it last saw each.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use xxhash_rust::xxh3::xxh3_128;

/// Value tuples to the time (ms) they were last seen. A tuple is kept as its 128-bit xxh3
/// hash: this map only grows with distinct tuples (an access key per source address over
/// weeks), and as text each entry took three times the memory, in an allocation of its own.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TupleHistory {
    last_seen: BTreeMap<u128, i64>,
}

impl TupleHistory {
    /// When `tuple` was last seen.
    pub fn get(&self, tuple: &str) -> Option<i64> {
        self.last_seen.get(&xxh3_128(tuple.as_bytes())).copied()
    }

    /// Records that `tuple` was seen at `time` (a later time than known moves it on).
    pub fn record(&mut self, tuple: &str, time: i64) {
        let last = self.last_seen.entry(xxh3_128(tuple.as_bytes())).or_insert(time);
        *last = (*last).max(time);
    }

    /// Forgets the tuples last seen before `horizon`.
    pub fn forget_before(&mut self, horizon: i64) {
        self.last_seen.retain(|_, last| *last >= horizon);
    }
}

/// Checkpointed as a list of `[hash as 32 hex digits, time]` pairs; checkpoints written before
/// tuples were hashed hold an object of tuple texts, read by hashing them.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Stored {
    Hashed(Vec<(String, i64)>),
    Tuples(BTreeMap<String, i64>),
}

impl Serialize for TupleHistory {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(String, i64)> =
            self.last_seen.iter().map(|(hash, time)| (format!("{hash:032x}"), *time)).collect();
        Stored::Hashed(pairs).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TupleHistory {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut history = TupleHistory::default();
        match Stored::deserialize(deserializer)? {
            Stored::Hashed(pairs) => {
                for (hash, time) in pairs {
                    let hash = u128::from_str_radix(&hash, 16).map_err(|error| {
                        serde::de::Error::custom(format!("tuple hash '{hash}': {error}"))
                    })?;
                    history.last_seen.insert(hash, time);
                }
            }
            Stored::Tuples(tuples) => {
                for (tuple, time) in tuples {
                    history.record(&tuple, time);
                }
            }
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_the_latest_time_per_tuple_and_forgets_old_ones() {
        let mut history = TupleHistory::default();
        history.record("AKIA1\u{1f}192.0.2.1", 10);
        history.record("AKIA1\u{1f}192.0.2.1", 5);
        history.record("AKIA1\u{1f}192.0.2.2", 20);
        assert_eq!(history.get("AKIA1\u{1f}192.0.2.1"), Some(10));
        assert_eq!(history.get("AKIA1\u{1f}192.0.2.3"), None);
        history.forget_before(15);
        assert_eq!(history.get("AKIA1\u{1f}192.0.2.1"), None);
        assert_eq!(history.get("AKIA1\u{1f}192.0.2.2"), Some(20));
        assert_eq!(history.last_seen.len(), 1);
    }

    #[test]
    fn a_checkpoint_round_trips_and_one_of_tuple_texts_is_read() {
        let mut history = TupleHistory::default();
        history.record("012345678901\u{1f}us-east-1", 7);
        history.record("012345678901\u{1f}eu-west-1", 9);
        let json = serde_json::to_value(&history).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
        assert_eq!(serde_json::from_value::<TupleHistory>(json).unwrap(), history);

        let legacy =
            serde_json::json!({"012345678901\u{1f}us-east-1": 7, "012345678901\u{1f}eu-west-1": 9});
        assert_eq!(serde_json::from_value::<TupleHistory>(legacy).unwrap(), history);
        let damaged = serde_json::json!([["not hex", 1]]);
        let error = serde_json::from_value::<TupleHistory>(damaged).unwrap_err().to_string();
        assert!(error.contains("tuple hash 'not hex'"), "{error}");
    }
}
