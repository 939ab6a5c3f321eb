//! Parsing and matching of criterion values: globs, anchored regexes, dates and CIDR blocks.

use super::*;

/// A regex matching exactly the values any of `globs` matches.
pub(super) fn glob_set(globs: &[String]) -> Result<Regex, String> {
    let alternatives: Vec<String> = globs.iter().map(|glob| glob_to_regex(glob)).collect();
    Regex::new(&format!("^(?:{})$", alternatives.join("|")))
        .map_err(|error| format!("cannot compile globs {globs:?}: {error}"))
}

/// A glob as a regex body: `*` is any run of characters, `?` one character, the rest literal.
fn glob_to_regex(glob: &str) -> String {
    let mut regex = String::from("(?s:");
    let mut buffer = [0; 4];
    for ch in glob.chars() {
        match ch {
            '*' => regex.push_str(".*"),
            '?' => regex.push('.'),
            _ => regex.push_str(&regex::escape(ch.encode_utf8(&mut buffer))),
        }
    }
    regex.push(')');
    regex
}

/// A user regex that must match the whole value.
pub(super) fn anchored_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern)
        .and_then(|_| Regex::new(&format!("^(?:{pattern})$")))
        .map_err(|error| format!("actor_regex '{pattern}' is not a valid regex: {error}"))
}

pub(super) fn parse_date(value: &toml::Value) -> Result<NaiveDate, String> {
    const HINT: &str = "expires must be a date such as \"2026-12-31\"";
    match value {
        toml::Value::String(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|error| format!("{HINT}; '{text}' is not one: {error}")),
        toml::Value::Datetime(datetime) if datetime.time.is_none() => datetime
            .date
            .and_then(|date| {
                NaiveDate::from_ymd_opt(
                    i32::from(date.year),
                    u32::from(date.month),
                    u32::from(date.day),
                )
            })
            .ok_or_else(|| format!("{HINT}; '{datetime}' is not one")),
        other => Err(format!("{HINT}, not {other}")),
    }
}

/// An address block: an IP address and a prefix length (a single address has the full one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cidr {
    network: IpAddr,
    pub(super) prefix: u8,
}

impl Cidr {
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr =
            address.parse().map_err(|_| format!("'{address}' is not an IPv4 or IPv6 address"))?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(prefix) => {
                prefix.parse::<u8>().ok().filter(|&prefix| prefix <= width).ok_or_else(|| {
                    format!("prefix length '/{prefix}' is not between 0 and {width}")
                })?
            }
        };
        let block = Self::normalised(address, prefix);
        let network = block.masked();
        if network != block.network {
            return Err(format!("host bits are set; did you mean {network}/{}?", block.prefix));
        }
        Ok(block)
    }

    /// IPv4-mapped IPv6 blocks (`::ffff:10.0.0.0/104`) as IPv4 blocks.
    fn normalised(address: IpAddr, prefix: u8) -> Self {
        match (address, address.to_canonical()) {
            (IpAddr::V6(_), IpAddr::V4(v4)) if prefix >= 96 => {
                Self { network: IpAddr::V4(v4), prefix: prefix - 96 }
            }
            _ => Self { network: address, prefix },
        }
    }

    fn masked(&self) -> IpAddr {
        match self.network {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask_v4(self.prefix)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask_v6(self.prefix)).into()),
        }
    }

    pub(super) fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                (u32::from(network) ^ u32::from(address)) & mask_v4(self.prefix) == 0
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                (u128::from(network) ^ u128::from(address)) & mask_v6(self.prefix) == 0
            }
            _ => false,
        }
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}
