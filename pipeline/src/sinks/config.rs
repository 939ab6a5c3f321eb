//! The sinks file (`--sinks FILE`, TOML): one `[[sink]]` table per destination. Secrets
//! (HMAC keys, routing keys, webhook URLs holding tokens) are read from environment
//! variables or files named here, never from rule files, and never logged.
//!
//! ```toml
//! [[sink]]
//! name = "soc-webhook"              # metrics label and outbox folder
//! type = "webhook"                  # webhook | slack | pagerduty | sns (topic_arn = "arn:...")
//! url_env = "SOC_WEBHOOK_URL"       # or url = "https://..." or url_file = "/run/secrets/url"
//! secret_env = "SOC_WEBHOOK_SECRET" # HMAC-SHA256 key (webhook), or secret_file
//! headers = { "X-Team" = "security" }
//! timeout = "10s"
//! max_attempts = 6
//! min_severity = "medium"
//! rules = ["aws.*"]
//! exclude_rules = ["aws.discovery.*"]
//! tactics = ["TA0005"]
//! rate_limit_per_minute = 30
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lake::LakeLocation;
use serde::Deserialize;

use super::AlertSink;
use super::durable::{Deliver, DurableSink};
use super::http::{AddressGuard, HttpTarget, RetryPolicy};
use super::http_sink::{HttpDeliverer, HttpKind, Secret};
use super::routing::Route;
use super::sns::SnsDeliverer;
use crate::detect::Severity;
use crate::error::{PipelineError, Result};
use crate::internal_events::Counters;

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// The sinks file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinksFile {
    /// The sinks, in order.
    #[serde(rename = "sink", default)]
    pub sinks: Vec<SinkSettings>,
}

/// One sink.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSettings {
    /// Unique name: the metrics label and the outbox folder.
    pub name: String,
    /// `webhook`, `slack`, `pagerduty` or `sns`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Receiver URL, written here (for URLs that hold no token).
    pub url: Option<String>,
    /// Environment variable holding the receiver URL.
    pub url_env: Option<String>,
    /// File holding the receiver URL.
    pub url_file: Option<PathBuf>,
    /// Environment variable holding the webhook's HMAC key.
    pub secret_env: Option<String>,
    /// File holding the webhook's HMAC key.
    pub secret_file: Option<PathBuf>,
    /// Environment variable holding PagerDuty's routing (integration) key.
    pub routing_key_env: Option<String>,
    /// File holding PagerDuty's routing key.
    pub routing_key_file: Option<PathBuf>,
    /// SNS topic ARN.
    pub topic_arn: Option<String>,
    /// Extra request headers (webhook).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Whole-request timeout (default 10s).
    pub timeout: Option<String>,
    /// Attempts per delivery, the first included (default 6); then the alert waits in the
    /// outbox for the next flush.
    pub max_attempts: Option<u32>,
    /// Addresses or CIDRs the sink may reach although private, loopback or link-local.
    #[serde(default)]
    pub allow_addresses: Vec<String>,
    /// Lowest severity sent.
    pub min_severity: Option<Severity>,
    /// Rule ids sent (`*` wildcards); empty: all.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Rule ids never sent.
    #[serde(default)]
    pub exclude_rules: Vec<String>,
    /// Rule tags sent; empty: all.
    #[serde(default)]
    pub tags: Vec<String>,
    /// ATT&CK tactic ids sent; empty: all.
    #[serde(default)]
    pub tactics: Vec<String>,
    /// Rule tags never sent.
    #[serde(default)]
    pub exclude_tags: Vec<String>,
    /// ATT&CK tactic ids never sent.
    #[serde(default)]
    pub exclude_tactics: Vec<String>,
    /// Deliveries per minute at most; the rest wait in the outbox.
    pub rate_limit_per_minute: Option<u32>,
}

/// Reads a sinks file; unknown keys and bad values are errors naming the file.
pub fn load(path: &Path) -> Result<SinksFile> {
    let invalid = |reason: String| PipelineError::Config { file: path.to_path_buf(), reason };
    let text = std::fs::read_to_string(path).map_err(|error| invalid(error.to_string()))?;
    let file: SinksFile = toml::from_str(&text).map_err(|error| invalid(error.to_string()))?;
    let mut names = std::collections::HashSet::new();
    for sink in &file.sinks {
        if !names.insert(sink.name.as_str()) {
            return Err(invalid(format!("two sinks are named '{}'", sink.name)));
        }
        if sink.name.is_empty()
            || !sink.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(format!(
                "sink name '{}': use letters, digits, - and _",
                sink.name
            )));
        }
    }
    Ok(file)
}

/// Where a sink's outbox lives, and what it needs to build.
pub struct SinkContext<'a> {
    /// The lake: outboxes and dead letters live below it.
    pub location: &'a LakeLocation,
    /// The metrics.
    pub counters: Arc<Counters>,
    /// Each rule's tags, for routing by tag.
    pub rule_tags: Arc<HashMap<String, Vec<String>>>,
    /// How long another process's undelivered alerts wait before this one delivers them.
    pub takeover: Duration,
}

/// Builds the sinks of a sinks file.
pub async fn build(
    file: &Path,
    settings: SinksFile,
    context: &SinkContext<'_>,
) -> Result<Vec<Box<dyn AlertSink>>> {
    let mut sinks: Vec<Box<dyn AlertSink>> = Vec::new();
    for sink in settings.sinks {
        let deliverer = deliverer(file, &sink).await?;
        let route = Route {
            min_severity: sink.min_severity,
            rules: sink.rules,
            exclude_rules: sink.exclude_rules,
            tags: sink.tags,
            tactics: sink.tactics,
            exclude_tags: sink.exclude_tags,
            exclude_tactics: sink.exclude_tactics,
            rule_tags: context.rule_tags.clone(),
        };
        let mut durable = DurableSink::new(
            &sink.name,
            deliverer,
            route,
            context.location.clone(),
            context.counters.clone(),
        )
        .with_takeover(context.takeover);
        if let Some(per_minute) = sink.rate_limit_per_minute {
            durable = durable.with_rate_limit(per_minute);
        }
        sinks.push(Box::new(durable));
    }
    Ok(sinks)
}

/// What delivers a sink's alerts.
async fn deliverer(file: &Path, sink: &SinkSettings) -> Result<Box<dyn Deliver>> {
    let invalid = |reason: String| PipelineError::Config {
        file: file.to_path_buf(),
        reason: format!("sink '{}': {reason}", sink.name),
    };
    let secret = |value: &Option<String>,
                  env: &Option<String>,
                  path: &Option<PathBuf>,
                  what: &str|
     -> Result<Option<Secret>> {
        match (value, env, path) {
            (Some(value), None, None) => Ok(Some(Secret::new(value.clone()))),
            (None, Some(name), None) => crate::secrets::var(name)
                .map(|value| Some(Secret::new(value.trim().to_string())))
                .ok_or_else(|| invalid(format!("{what}: environment variable {name} is not set"))),
            (None, None, Some(path)) => std::fs::read_to_string(path)
                .map(|value| Some(Secret::new(value.trim().to_string())))
                .map_err(|error| {
                    invalid(format!("{what}: cannot read {}: {error}", path.display()))
                }),
            (None, None, None) => Ok(None),
            _ => Err(invalid(format!("{what}: give one of the value, _env or _file"))),
        }
    };
    let kind = match sink.kind.as_str() {
        "sns" => {
            let topic = sink
                .topic_arn
                .as_deref()
                .filter(|arn| arn.starts_with("arn:"))
                .ok_or_else(|| invalid("topic_arn (an SNS topic ARN) is required".into()))?;
            return Ok(Box::new(SnsDeliverer::new(topic).await));
        }
        "webhook" => HttpKind::Webhook {
            headers: sink.headers.clone().into_iter().collect(),
            secret: secret(&None, &sink.secret_env, &sink.secret_file, "secret")?,
        },
        "slack" => HttpKind::Slack,
        "pagerduty" => HttpKind::PagerDuty {
            routing_key: secret(
                &None,
                &sink.routing_key_env,
                &sink.routing_key_file,
                "routing key",
            )?
            .ok_or_else(|| invalid("routing_key_env or routing_key_file is required".into()))?,
        },
        other => {
            return Err(invalid(format!(
                "unknown type '{other}' (webhook, slack, pagerduty, sns)"
            )));
        }
    };
    let url = match (secret(&sink.url, &sink.url_env, &sink.url_file, "url")?, &kind) {
        (Some(url), _) => url,
        (None, HttpKind::PagerDuty { .. }) => Secret::new(PAGERDUTY_EVENTS_URL.to_string()),
        (None, _) => return Err(invalid("url, url_env or url_file is required".into())),
    };
    let timeout = match &sink.timeout {
        Some(text) => crate::detect::rule::parse_duration(text)
            .map_err(|reason| invalid(format!("timeout: {reason}")))?,
        None => Duration::from_secs(10),
    };
    let guard = AddressGuard::new(&sink.allow_addresses)
        .map_err(|reason| invalid(format!("allow_addresses: {reason}")))?;
    // The URL may hold a token: errors name the sink, never the URL.
    let target = HttpTarget::new(url.expose(), timeout, guard).map_err(|reason| {
        invalid(format!("url: {}", reason.split(':').next().unwrap_or("invalid")))
    })?;
    let retry = RetryPolicy {
        max_attempts: sink.max_attempts.unwrap_or(6).max(1),
        ..RetryPolicy::default()
    };
    Ok(Box::new(HttpDeliverer::new(kind, target, retry)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sinks.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    async fn build_file(text: &str) -> Result<Vec<Box<dyn AlertSink>>> {
        let (dir, path) = write(text);
        let location = LakeLocation::open(dir.path().join("lake").to_str().unwrap()).unwrap();
        let context = SinkContext {
            location: &location,
            counters: Arc::default(),
            rule_tags: Arc::default(),
            takeover: Duration::ZERO,
        };
        build(&path, load(&path)?, &context).await
    }

    #[tokio::test]
    async fn sinks_build_and_bad_settings_are_named() {
        let key = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(key.path(), "k\n").unwrap();
        let sinks = build_file(&format!(
            "[[sink]]\nname = \"pd\"\ntype = \"pagerduty\"\nrouting_key_file = \"{}\"\n\
             [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"https://example.com/x\"\nmin_severity = \"high\"\n",
            key.path().display()
        ))
        .await
        .unwrap();
        let names: Vec<&str> = sinks.iter().map(|sink| sink.name()).collect();
        assert_eq!(names, ["pd", "hook"]);
        for (text, message) in [
            (
                "[[sink]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"https://x\"\nurll = \"y\"\n",
                "unknown field `urll`",
            ),
            (
                "[[sink]]\nname = \"a\"\ntype = \"fax\"\nurl = \"https://x\"\n",
                "sink 'a': unknown type 'fax'",
            ),
            (
                "[[sink]]\nname = \"a\"\ntype = \"slack\"\n",
                "sink 'a': url, url_env or url_file is required",
            ),
            (
                "[[sink]]\nname = \"a\"\ntype = \"slack\"\nurl_env = \"TRAILHOUND_TEST_UNSET\"\n",
                "sink 'a': url: environment variable TRAILHOUND_TEST_UNSET is not set",
            ),
            (
                "[[sink]]\nname = \"a\"\ntype = \"pagerduty\"\n",
                "routing_key_env or routing_key_file is required",
            ),
            (
                "[[sink]]\nname = \"a\"\ntype = \"slack\"\nurl = \"ftp://hooks.example.com/T0K3N\"\n",
                "sink 'a': url: unsupported scheme 'ftp' (use https)",
            ),
            (
                "[[sink]]\nname = \"a b\"\ntype = \"slack\"\nurl = \"https://x\"\n",
                "use letters, digits",
            ),
            (
                "[[sink]]\nname = \"a\"\ntype = \"slack\"\nurl = \"https://x\"\n[[sink]]\nname = \"a\"\ntype = \"slack\"\nurl = \"https://y\"\n",
                "two sinks are named 'a'",
            ),
            (
                "[[sink]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"https://x\"\nmin_severity = \"huge\"\n",
                "unknown variant `huge`",
            ),
        ] {
            let error =
                build_file(text).await.err().unwrap_or_else(|| panic!("{text}")).to_string();
            assert!(error.contains("sinks.toml") && error.contains(message), "{text}: {error}");
            assert!(!error.contains("T0K3N"), "{error}");
        }
    }
}
