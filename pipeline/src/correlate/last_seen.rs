//! Texts a correlation has seen, with when it last saw each: the value tuples of a
//! `new_terms` correlation, and the signals already counted (duplicates are dropped).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use xxhash_rust::xxh3::xxh3_128;

/// Texts to the time (ms) they were last seen. A text is kept as its 128-bit xxh3 hash: these
/// maps grow with distinct texts (an access key per source address over weeks, every signal
/// within the lateness), and as text each entry took three times the memory, in an allocation
/// of its own.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LastSeen {
    last_seen: BTreeMap<u128, i64>,
}

impl LastSeen {
    /// When `text` was last seen.
    pub fn get(&self, text: &str) -> Option<i64> {
        self.last_seen.get(&xxh3_128(text.as_bytes())).copied()
    }

    /// Records that `text` was seen at `time` (a later time than known moves it on); returns
    /// whether it had been seen before.
    pub fn record(&mut self, text: &str, time: i64) -> bool {
        match self.last_seen.entry(xxh3_128(text.as_bytes())) {
            Entry::Occupied(mut known) => {
                let last = known.get_mut();
                *last = (*last).max(time);
                true
            }
            Entry::Vacant(new) => {
                new.insert(time);
                false
            }
        }
    }

    /// Forgets the texts last seen before `horizon`.
    pub fn forget_before(&mut self, horizon: i64) {
        self.last_seen.retain(|_, last| *last >= horizon);
    }
}

/// Checkpointed as a list of `[hash as 32 hex digits, time]` pairs; checkpoints written before
/// texts were hashed hold an object of texts, read by hashing them.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Stored {
    Hashed(Vec<(String, i64)>),
    Texts(BTreeMap<String, i64>),
}

impl Serialize for LastSeen {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(String, i64)> =
            self.last_seen.iter().map(|(hash, time)| (format!("{hash:032x}"), *time)).collect();
        Stored::Hashed(pairs).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for LastSeen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut seen = LastSeen::default();
        match Stored::deserialize(deserializer)? {
            Stored::Hashed(pairs) => {
                for (hash, time) in pairs {
                    let hash = u128::from_str_radix(&hash, 16).map_err(|error| {
                        serde::de::Error::custom(format!("text hash '{hash}': {error}"))
                    })?;
                    seen.last_seen.insert(hash, time);
                }
            }
            Stored::Texts(texts) => {
                for (text, time) in texts {
                    seen.record(&text, time);
                }
            }
        }
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_the_latest_time_per_tuple_and_forgets_old_ones() {
        let mut history = LastSeen::default();
        assert!(!history.record("AKIA1\u{1f}192.0.2.1", 10));
        assert!(history.record("AKIA1\u{1f}192.0.2.1", 5));
        assert!(!history.record("AKIA1\u{1f}192.0.2.2", 20));
        assert_eq!(history.get("AKIA1\u{1f}192.0.2.1"), Some(10));
        assert_eq!(history.get("AKIA1\u{1f}192.0.2.3"), None);
        history.forget_before(15);
        assert_eq!(history.get("AKIA1\u{1f}192.0.2.1"), None);
        assert_eq!(history.get("AKIA1\u{1f}192.0.2.2"), Some(20));
        assert_eq!(history.last_seen.len(), 1);
    }

    #[test]
    fn a_checkpoint_round_trips_and_one_of_tuple_texts_is_read() {
        let mut history = LastSeen::default();
        assert!(!history.record("012345678901\u{1f}us-east-1", 7));
        assert!(!history.record("012345678901\u{1f}eu-west-1", 9));
        let json = serde_json::to_value(&history).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
        assert_eq!(serde_json::from_value::<LastSeen>(json).unwrap(), history);

        let legacy =
            serde_json::json!({"012345678901\u{1f}us-east-1": 7, "012345678901\u{1f}eu-west-1": 9});
        assert_eq!(serde_json::from_value::<LastSeen>(legacy).unwrap(), history);
        let damaged = serde_json::json!([["not hex", 1]]);
        let error = serde_json::from_value::<LastSeen>(damaged).unwrap_err().to_string();
        assert!(error.contains("text hash 'not hex'"), "{error}");
    }
}
