//! Texts a correlation has seen, with when it last saw each: the value tuples of a
//! `new_terms` correlation, and the signals already counted (duplicates are dropped).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use xxhash_rust::xxh3::xxh3_128;

/// Texts to the time (ms) they were last seen. A text is kept as a 64-bit hash (the low half
/// of its xxh3-128, which checkpoints before this one stored whole): these maps grow with
/// distinct texts (an access key per source address over weeks, every signal within the
/// lateness), and as text each entry took three times the memory, in an allocation of its
/// own. Two of a million texts share a hash with a chance of about 3 in 100 million. A hash
/// map: looking them up in a B-tree was 2% of a run's CPU, on the processing thread.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LastSeen {
    last_seen: HashMap<u64, i64, BuildHasherDefault<Prehashed>>,
}

/// The hash a text is kept as.
pub(super) fn hash_of(text: &str) -> u64 {
    xxh3_128(text.as_bytes()) as u64
}

/// Hashes a key that is a hash already by keeping it.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, half: u64) {
        self.0 = half;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else in all the same.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
}

impl LastSeen {
    /// When `text` was last seen.
    pub fn get(&self, text: &str) -> Option<i64> {
        self.last_seen.get(&hash_of(text)).copied()
    }

    /// Records that `text` was seen at `time` (a later time than known moves it on); returns
    /// whether it had been seen before.
    pub fn record(&mut self, text: &str, time: i64) -> bool {
        self.record_hash(hash_of(text), time)
    }

    /// [`LastSeen::record`] of the text whose [`hash_of`] is `hash`.
    pub(super) fn record_hash(&mut self, hash: u64, time: i64) -> bool {
        match self.last_seen.entry(hash) {
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

/// Checkpointed as a list of `[hash as 16 hex digits, time]` pairs. Earlier checkpoints hold
/// 32 digits (the whole xxh3-128, of which the low half is kept), or, before texts were
/// hashed, an object of texts, read by hashing them.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Stored {
    Hashed(Vec<(String, i64)>),
    Texts(BTreeMap<String, i64>),
}

impl Serialize for LastSeen {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // In hash order, so the same state always makes the same checkpoint.
        let mut entries: Vec<(&u64, &i64)> = self.last_seen.iter().collect();
        entries.sort_unstable();
        let pairs: Vec<(String, i64)> =
            entries.into_iter().map(|(hash, time)| (format!("{hash:016x}"), *time)).collect();
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
                    seen.last_seen.insert(hash as u64, time);
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
    fn the_same_texts_make_the_same_checkpoint_whatever_the_map_went_through() {
        let texts: Vec<String> =
            (0..100).map(|index| format!("AKIA{index}\u{1f}192.0.2.1")).collect();
        let mut forwards = LastSeen::default();
        let mut backwards = LastSeen::default();
        for (time, text) in texts.iter().enumerate() {
            forwards.record(text, time as i64);
        }
        // A map that held more texts once has more buckets, in another order.
        for index in 0..1000 {
            backwards.record(&format!("forgotten {index}"), -1);
        }
        backwards.forget_before(0);
        for (time, text) in texts.iter().enumerate().rev() {
            backwards.record(text, time as i64);
        }
        let json = serde_json::to_string(&forwards).unwrap();
        assert_eq!(json, serde_json::to_string(&backwards).unwrap());
        assert_eq!(serde_json::from_str::<LastSeen>(&json).unwrap(), forwards);
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
        let whole_hashes: Vec<(String, i64)> =
            ["012345678901\u{1f}us-east-1", "012345678901\u{1f}eu-west-1"]
                .iter()
                .zip([7, 9])
                .map(|(text, time)| (format!("{:032x}", xxh3_128(text.as_bytes())), time))
                .collect();
        let read = serde_json::from_value::<LastSeen>(serde_json::json!(whole_hashes)).unwrap();
        assert_eq!(read, history);
        let damaged = serde_json::json!([["not hex", 1]]);
        let error = serde_json::from_value::<LastSeen>(damaged).unwrap_err().to_string();
        assert!(error.contains("text hash 'not hex'"), "{error}");
    }
}
