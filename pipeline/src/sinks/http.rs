//! HTTP delivery shared by the webhook, Slack and PagerDuty sinks: a client whose every
//! connection goes through the [`AddressGuard`] (server-side request forgery), responses
//! classified into delivered, retry later and failed for good, and the retry schedule
//! (exponential backoff with jitter, `Retry-After` respected).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use lake::net::Cidr;

/// Refuses addresses a webhook must not reach (private, loopback, link-local, instance
/// metadata, ...) unless a configured CIDR allows them. Checked on every connection, after
/// DNS resolution, so a public name resolving to an inner address is refused too.
#[derive(Debug, Clone, Default)]
pub struct AddressGuard {
    allowed: Vec<Cidr>,
}

impl AddressGuard {
    /// A guard allowing `allowed` (addresses or CIDRs: `127.0.0.1`, `10.0.0.0/8`, `::1`).
    pub fn new(allowed: &[String]) -> Result<Self, String> {
        let allowed = allowed.iter().map(|text| Cidr::parse(text)).collect::<Result<_, _>>()?;
        Ok(Self { allowed })
    }

    /// Why `address` may not be reached, or `None` when it may.
    pub fn refusal(&self, address: IpAddr) -> Option<&'static str> {
        let reason = inner_address(address)?;
        if self.allowed.iter().any(|network| network.contains(address)) {
            return None;
        }
        Some(reason)
    }
}

/// What kind of non-public address `address` is, if it is one.
fn inner_address(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.octets() == [169, 254, 169, 254] {
                Some("instance metadata")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_private() {
                Some("private")
            } else if a == 100 && (64..128).contains(&b) {
                Some("shared (carrier-grade NAT)")
            } else if v4.is_unspecified() || a == 0 {
                Some("unspecified")
            } else if v4.is_broadcast() || a >= 224 {
                Some("multicast or reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return inner_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254] {
                Some("instance metadata")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if first & 0xff00 == 0xff00 {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

/// Resolves names with the system resolver, then drops the addresses the guard refuses.
struct GuardedResolver(Arc<AddressGuard>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = Vec::new();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|address| match guard.refusal(address.ip()) {
                    Some(reason) => {
                        refused.push(format!("{} ({reason})", address.ip()));
                        false
                    }
                    None => true,
                })
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "refused: {host} resolves only to addresses a sink may not reach: {}",
                    refused.join(", ")
                )
                .into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// How one POST ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// The receiver accepted it (2xx).
    Delivered,
    /// Worth trying again (5xx, 408, 429, network error, timeout), after `after` if the
    /// receiver said so.
    Retry { after: Option<Duration>, reason: String },
    /// Refused for good (other 4xx, or an address the guard refuses).
    Rejected { status: Option<u16>, reason: String },
}

/// One receiver URL and the client that reaches it.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    client: reqwest::Client,
    url: reqwest::Url,
    guard: Arc<AddressGuard>,
}

impl HttpTarget {
    /// A target at `url` (http or https), with a whole-request `timeout`.
    pub fn new(url: &str, timeout: Duration, guard: AddressGuard) -> Result<Self, String> {
        let url = reqwest::Url::parse(url).map_err(|error| format!("invalid URL: {error}"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!("unsupported scheme '{}' (use https)", url.scheme()));
        }
        let guard = Arc::new(guard);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // A redirect could lead anywhere; receivers get the URL they are configured with.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver(guard.clone())))
            .user_agent(concat!("trailhound/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| format!("HTTP client: {error}"))?;
        Ok(Self { client, url, guard })
    }

    /// The host the target posts to (for logs: never the path, which may hold a token).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or("")
    }

    /// POSTs `body` (JSON) with `headers`.
    pub async fn post(&self, body: Vec<u8>, headers: &[(String, String)]) -> Delivery {
        // Literal IP addresses skip DNS, so the guard checks them here.
        if let Some(host) = self.url.host_str()
            && let Ok(address) = host.trim_matches(['[', ']']).parse::<IpAddr>()
            && let Some(reason) = self.guard.refusal(address)
        {
            return Delivery::Rejected {
                status: None,
                reason: format!("refused: {address} ({reason} address)"),
            };
        }
        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => classify(response).await,
            Err(error) => {
                let chain = error_chain(&error);
                if chain.contains("refused: ") {
                    Delivery::Rejected { status: None, reason: chain }
                } else {
                    Delivery::Retry { after: None, reason: chain }
                }
            }
        }
    }
}

async fn classify(response: reqwest::Response) -> Delivery {
    let status = response.status();
    if status.is_success() {
        return Delivery::Delivered;
    }
    let after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_retry_after);
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(2000).collect();
    let reason = format!("HTTP {}: {body}", status.as_u16());
    if status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error() {
        Delivery::Retry { after, reason }
    } else {
        Delivery::Rejected { status: Some(status.as_u16()), reason }
    }
}

/// `Retry-After`: a number of seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let wait = date.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(wait.max(0) as u64))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// When to try a delivery again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub initial_delay: Duration,
    /// Longest wait between attempts, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): the receiver's `Retry-After` if it
    /// gave one, otherwise exponential backoff with full jitter in its upper half.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_delay);
        }
        let exponential = self.initial_delay.saturating_mul(1 << (retry - 1).min(20));
        let capped = exponential.min(self.max_delay);
        capped.mul_f64(0.5 + 0.5 * jitter())
    }
}

/// A number in [0, 1) that differs from call to call (randomly seeded hasher state).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// What delivering with retries came to, and how many retries it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The last attempt's result.
    pub delivery: Delivery,
    /// Retries made (attempts after the first).
    pub retries: u32,
}

/// POSTs until delivered, rejected, or out of attempts.
pub async fn post_with_retries(
    target: &HttpTarget,
    policy: &RetryPolicy,
    body: &[u8],
    headers: &[(String, String)],
) -> Outcome {
    let mut retries = 0;
    loop {
        let delivery = target.post(body.to_vec(), headers).await;
        match &delivery {
            Delivery::Retry { after, reason } if retries + 1 < policy.max_attempts => {
                retries += 1;
                let wait = policy.delay(retries, *after);
                tracing::warn!(
                    host = target.host(),
                    retry = retries,
                    wait_ms = wait.as_millis() as u64,
                    reason,
                    "alert delivery will be retried"
                );
                tokio::time::sleep(wait).await;
            }
            _ => return Outcome { delivery, retries },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_addresses_are_refused_unless_allowed() {
        let guard = AddressGuard::default();
        for (address, reason) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "instance metadata"),
            ("169.254.10.1", "link-local"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("0.0.0.0", "unspecified"),
            ("::1", "loopback"),
            ("fd00:ec2::254", "instance metadata"),
            ("fc00::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("::ffff:10.0.0.1", "private"),
        ] {
            assert_eq!(guard.refusal(address.parse().unwrap()), Some(reason), "{address}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"] {
            assert_eq!(guard.refusal(public.parse().unwrap()), None, "{public}");
        }
        let guard = AddressGuard::new(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        assert_eq!(guard.refusal("127.0.0.1".parse().unwrap()), None);
        assert_eq!(guard.refusal("10.200.0.1".parse().unwrap()), None);
        assert_eq!(guard.refusal("127.0.0.2".parse().unwrap()), Some("loopback"));
        assert_eq!(guard.refusal("169.254.169.254".parse().unwrap()), Some("instance metadata"));
        assert!(AddressGuard::new(&["10.0.0.0/33".into()]).is_err());
        assert!(AddressGuard::new(&["example.com".into()]).is_err());
    }

    #[test]
    fn retry_after_and_backoff() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(policy.delay(1, Some(Duration::from_secs(3600))), policy.max_delay);
        for retry in 1..10 {
            let delay = policy.delay(retry, None);
            let full = policy.initial_delay.saturating_mul(1 << (retry - 1)).min(policy.max_delay);
            assert!(delay >= full / 2 && delay <= full, "retry {retry}: {delay:?}");
        }
    }
}
