//! A reader for MaxMind DB files (`.mmdb`: GeoLite2/GeoIP2 Country, ASN, City, and
//! compatible databases), per the MaxMind DB format specification 2.0: a binary search tree
//! over address bits leading into a data section of typed values. The whole file is read
//! into memory; lookups decode only the record they reach.

use std::net::IpAddr;
use std::path::Path;

use serde_json::{Map, Number, Value};

use crate::error::{PipelineError, Result};

const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

/// An opened database.
pub struct MaxMindDb {
    bytes: Vec<u8>,
    node_count: usize,
    record_size: usize,
    ip_version: u16,
    /// Where the data section starts.
    data_start: usize,
    /// The node IPv4 lookups start from in an IPv6 tree (`::/96`).
    ipv4_start: usize,
}

impl MaxMindDb {
    /// Reads and checks a database file.
    pub fn open(path: &Path) -> Result<Self> {
        let invalid = |reason: String| PipelineError::Config { file: path.to_path_buf(), reason };
        let bytes = std::fs::read(path).map_err(|error| invalid(error.to_string()))?;
        let marker = bytes
            .windows(METADATA_MARKER.len())
            .rposition(|window| window == METADATA_MARKER)
            .ok_or_else(|| invalid("not a MaxMind DB file: no metadata marker".into()))?;
        let metadata_start = marker + METADATA_MARKER.len();
        let (metadata, _) = decode(&bytes, metadata_start, metadata_start, 0)
            .map_err(|reason| invalid(format!("metadata: {reason}")))?;
        let number = |key: &str| {
            metadata
                .get(key)
                .and_then(Value::as_u64)
                .ok_or_else(|| invalid(format!("metadata lacks {key}")))
        };
        let node_count = number("node_count")? as usize;
        let record_size = number("record_size")? as usize;
        let ip_version = number("ip_version")? as u16;
        if ![24, 28, 32].contains(&record_size) || ![4, 6].contains(&ip_version) {
            return Err(invalid(format!(
                "unsupported record size {record_size} or IP version {ip_version}"
            )));
        }
        let tree_size = node_count * record_size / 4;
        if tree_size + 16 > marker {
            return Err(invalid("search tree larger than the file".into()));
        }
        let mut db = Self {
            bytes,
            node_count,
            record_size,
            ip_version,
            data_start: tree_size + 16,
            ipv4_start: 0,
        };
        if ip_version == 6 {
            let mut node = 0;
            for _ in 0..96 {
                if node >= node_count {
                    break;
                }
                node = db.record(node, 0);
            }
            db.ipv4_start = node;
        }
        Ok(db)
    }

    /// The record (`side` 0 left, 1 right) of `node`.
    fn record(&self, node: usize, side: usize) -> usize {
        let size = self.record_size * 2 / 8;
        let at = &self.bytes[node * size..node * size + size];
        let be =
            |bytes: &[u8]| bytes.iter().fold(0usize, |value, byte| value << 8 | *byte as usize);
        match (self.record_size, side) {
            (24, 0) => be(&at[0..3]),
            (24, _) => be(&at[3..6]),
            (28, 0) => ((at[3] as usize & 0xF0) << 20) | be(&at[0..3]),
            (28, _) => ((at[3] as usize & 0x0F) << 24) | be(&at[4..7]),
            (_, 0) => be(&at[0..4]),
            _ => be(&at[4..8]),
        }
    }

    /// The data record for `address`, if the database has one.
    pub fn lookup(&self, address: IpAddr) -> Result<Option<Value>, String> {
        let (bits, mut node): (Vec<u8>, usize) = match (address, self.ip_version) {
            (IpAddr::V4(v4), 4) => (v4.octets().to_vec(), 0),
            (IpAddr::V4(v4), _) => (v4.octets().to_vec(), self.ipv4_start),
            (IpAddr::V6(v6), 6) => (v6.octets().to_vec(), 0),
            (IpAddr::V6(v6), _) => match v6.to_ipv4_mapped() {
                Some(v4) => (v4.octets().to_vec(), 0),
                None => return Ok(None),
            },
        };
        for index in 0..bits.len() * 8 {
            if node >= self.node_count {
                break;
            }
            let bit = (bits[index / 8] >> (7 - index % 8)) & 1;
            node = self.record(node, bit as usize);
        }
        if node == self.node_count {
            return Ok(None);
        }
        if node < self.node_count {
            return Err("address deeper than the search tree".into());
        }
        let offset = self.data_start + (node - self.node_count - 16);
        decode(&self.bytes, self.data_start, offset, 0).map(|(value, _)| Some(value))
    }
}

/// Decodes the value at `at` (pointers are relative to `base`); returns it and the offset
/// after it.
fn decode(bytes: &[u8], base: usize, at: usize, depth: usize) -> Result<(Value, usize), String> {
    if depth > 32 {
        return Err("data nested too deeply".into());
    }
    let byte = |at: usize| bytes.get(at).copied().ok_or_else(|| "data past the end".to_string());
    let control = byte(at)?;
    let mut next = at + 1;
    let mut kind = control >> 5;
    if kind == 1 {
        // A pointer: the value lives elsewhere in the data section.
        let size = (control >> 3) & 0x3;
        let low = (control & 0x7) as usize;
        let read = |count: usize| -> Result<usize, String> {
            (0..count)
                .try_fold(0usize, |value, offset| Ok(value << 8 | byte(next + offset)? as usize))
        };
        let (pointer, width) = match size {
            0 => ((low << 8) | read(1)?, 1),
            1 => (((low << 16) | read(2)?) + 2048, 2),
            2 => (((low << 24) | read(3)?) + 526_336, 3),
            _ => (read(4)?, 4),
        };
        let (value, _) = decode(bytes, base, base + pointer, depth + 1)?;
        return Ok((value, next + width));
    }
    if kind == 0 {
        kind = 7 + byte(next)?;
        next += 1;
    }
    let mut size = (control & 0x1f) as usize;
    if size >= 29 {
        let extra = size - 28;
        let value = (0..extra).try_fold(0usize, |value, offset| {
            Ok::<_, String>(value << 8 | byte(next + offset)? as usize)
        })?;
        next += extra;
        size = match extra {
            1 => 29 + value,
            2 => 285 + value,
            _ => 65_821 + value,
        };
    }
    let slice = |length: usize| {
        bytes.get(next..next + length).ok_or_else(|| "data past the end".to_string())
    };
    let unsigned = |length: usize| -> Result<u128, String> {
        Ok(slice(length)?.iter().fold(0u128, |value, byte| value << 8 | *byte as u128))
    };
    Ok(match kind {
        2 => (Value::String(String::from_utf8_lossy(slice(size)?).into_owned()), next + size),
        3 => {
            let value = f64::from_be_bytes(slice(8)?.try_into().expect("8 bytes"));
            (Number::from_f64(value).map_or(Value::Null, Value::Number), next + 8)
        }
        4 => {
            (Value::String(slice(size)?.iter().map(|b| format!("{b:02x}")).collect()), next + size)
        }
        5 | 6 | 9 => (Value::from(unsigned(size)? as u64), next + size),
        10 => (Value::String(unsigned(size)?.to_string()), next + size),
        8 => {
            let value = unsigned(size)? as u32 as i32;
            (Value::from(value), next + size)
        }
        7 => {
            let mut map = Map::new();
            let mut at = next;
            for _ in 0..size {
                let (key, after) = decode(bytes, base, at, depth + 1)?;
                let (value, after) = decode(bytes, base, after, depth + 1)?;
                let Value::String(key) = key else {
                    return Err("a map key is not a string".into());
                };
                map.insert(key, value);
                at = after;
            }
            (Value::Object(map), at)
        }
        11 => {
            let mut items = Vec::with_capacity(size.min(1024));
            let mut at = next;
            for _ in 0..size {
                let (value, after) = decode(bytes, base, at, depth + 1)?;
                items.push(value);
                at = after;
            }
            (Value::Array(items), at)
        }
        14 => (Value::Bool(size != 0), next),
        15 => {
            let value = f32::from_be_bytes(slice(4)?.try_into().expect("4 bytes"));
            (Number::from_f64(value as f64).map_or(Value::Null, Value::Number), next + 4)
        }
        other => return Err(format!("unsupported data type {other}")),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encodes values in the MaxMind DB data format (the subset the tests need).
    fn encode(value: &Value, out: &mut Vec<u8>) {
        let header = |kind: u8, size: usize, out: &mut Vec<u8>| {
            assert!(size < 285, "sizes up to 284 only");
            let field = size.min(29) as u8;
            if kind <= 7 {
                out.push(kind << 5 | field);
            } else {
                out.push(field);
                out.push(kind - 7);
            }
            if size >= 29 {
                out.push((size - 29) as u8);
            }
        };
        match value {
            Value::String(text) => {
                header(2, text.len(), out);
                out.extend_from_slice(text.as_bytes());
            }
            Value::Number(number) => {
                let bytes: Vec<u8> = number
                    .as_u64()
                    .unwrap()
                    .to_be_bytes()
                    .into_iter()
                    .skip_while(|byte| *byte == 0)
                    .collect();
                header(6, bytes.len(), out);
                out.extend(bytes);
            }
            Value::Bool(flag) => header(14, usize::from(*flag), out),
            Value::Array(items) => {
                header(11, items.len(), out);
                items.iter().for_each(|item| encode(item, out));
            }
            Value::Object(map) => {
                header(7, map.len(), out);
                for (key, value) in map {
                    encode(&Value::String(key.clone()), out);
                    encode(value, out);
                }
            }
            Value::Null => unreachable!("no nulls in MaxMind data"),
        }
    }

    /// Writes an IPv4 database (24-bit records) mapping each network to its record.
    pub(crate) fn write_database(path: &Path, networks: &[(&str, Value)]) {
        #[derive(Clone, Copy)]
        enum Record {
            Empty,
            Node(usize),
            Data(usize),
        }
        let mut nodes = vec![[Record::Empty; 2]];
        let mut data = Vec::new();
        for (network, value) in networks {
            let (address, bits) = network.split_once('/').unwrap();
            let address: std::net::Ipv4Addr = address.parse().unwrap();
            let bits: usize = bits.parse().unwrap();
            let offset = data.len();
            encode(value, &mut data);
            let mut node = 0;
            for index in 0..bits {
                let bit = (u32::from(address) >> (31 - index) & 1) as usize;
                if index == bits - 1 {
                    nodes[node][bit] = Record::Data(offset);
                } else {
                    node = match nodes[node][bit] {
                        Record::Node(next) => next,
                        _ => {
                            nodes.push([Record::Empty; 2]);
                            let next = nodes.len() - 1;
                            nodes[node][bit] = Record::Node(next);
                            next
                        }
                    };
                }
            }
        }
        let count = nodes.len();
        let mut file = Vec::new();
        for node in &nodes {
            for record in node {
                let value = match record {
                    Record::Empty => count,
                    Record::Node(next) => *next,
                    Record::Data(offset) => count + 16 + offset,
                };
                file.extend_from_slice(&(value as u32).to_be_bytes()[1..]);
            }
        }
        file.extend_from_slice(&[0; 16]);
        file.extend(data);
        file.extend_from_slice(METADATA_MARKER);
        let metadata = serde_json::json!({
            "node_count": count, "record_size": 24, "ip_version": 4,
            "binary_format_major_version": 2, "database_type": "Test-ASN-Country",
        });
        encode(&metadata, &mut file);
        std::fs::write(path, file).unwrap();
    }

    #[test]
    fn lookups_follow_the_tree_into_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.mmdb");
        write_database(
            &path,
            &[
                (
                    "203.0.113.0/24",
                    serde_json::json!({
                        "country": {"iso_code": "DE", "names": {"en": "Germany"}},
                        "autonomous_system_number": 64496,
                        "autonomous_system_organization": "Example AS",
                    }),
                ),
                (
                    "198.51.100.128/25",
                    serde_json::json!({"country": {"iso_code": "NZ"}, "is_anycast": true}),
                ),
            ],
        );
        let db = MaxMindDb::open(&path).unwrap();
        let at = |ip: &str| db.lookup(ip.parse().unwrap()).unwrap();
        let record = at("203.0.113.9").unwrap();
        assert_eq!(record["country"]["iso_code"], "DE");
        assert_eq!(record["autonomous_system_number"], 64496);
        assert_eq!(record["autonomous_system_organization"], "Example AS");
        assert_eq!(at("198.51.100.200").unwrap()["is_anycast"], true);
        assert_eq!(at("198.51.100.1"), None, "outside the /25");
        assert_eq!(at("8.8.8.8"), None);
        assert_eq!(at("::ffff:203.0.113.9").unwrap()["country"]["iso_code"], "DE");

        std::fs::write(&path, b"not a database").unwrap();
        let error = MaxMindDb::open(&path).err().unwrap().to_string();
        assert!(error.contains("test.mmdb") && error.contains("no metadata marker"), "{error}");
    }
}
