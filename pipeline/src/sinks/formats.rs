//! The bodies the HTTP sinks send: the alert itself (webhook), a Slack Block Kit message and
//! a PagerDuty Events API v2 event.

use serde_json::{Value, json};

use crate::alert::Alert;
use crate::detect::Severity;

/// The webhook body: the alert as JSON, exactly as the JSON Lines sink writes it.
pub fn webhook_body(alert: &Alert) -> Vec<u8> {
    serde_json::to_vec(alert).expect("alerts serialise")
}

/// HMAC-SHA256 of `body` with `secret`, as `sha256=<hex>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

/// The CloudTrail console page of the alert's first event.
pub fn console_link(alert: &Alert) -> Option<String> {
    let event_id = alert.event_ids.first()?;
    let region = alert.region.as_deref().unwrap_or("us-east-1");
    Some(format!(
        "https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/events/{event_id}"
    ))
}

/// Slack mrkdwn text with `&`, `<` and `>` escaped, as Slack requires.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn severity_marker(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => ":rotating_light:",
        Severity::High => ":red_circle:",
        Severity::Medium => ":large_orange_circle:",
        Severity::Low => ":large_yellow_circle:",
        Severity::Info => ":white_circle:",
    }
}

/// A Slack incoming-webhook message: title, severity, actor, source IP, account, region,
/// MITRE, a console link to the event and the rule's runbook line.
pub fn slack_body(alert: &Alert) -> Vec<u8> {
    let or_dash = |value: &Option<String>| escape(value.as_deref().unwrap_or("-"));
    let mitre = alert
        .mitre
        .tactics
        .iter()
        .chain(&alert.mitre.techniques)
        .map(|id| escape(id))
        .collect::<Vec<_>>()
        .join(", ");
    let field = |name: &str, value: String| json!({ "type": "mrkdwn", "text": format!("*{name}*\n{value}") });
    let mut blocks = vec![
        json!({
            "type": "header",
            "text": { "type": "plain_text", "text": format!("{} {}", alert.severity.to_string().to_uppercase(), alert.title) }
        }),
        json!({
            "type": "section",
            "fields": [
                field("Severity", format!("{} {}", severity_marker(alert.severity), alert.severity)),
                field("Rule", format!("`{}`", escape(&alert.rule_id))),
                field("Actor", or_dash(&alert.actor)),
                field("Source IP", or_dash(&alert.source_ip)),
                field("Account", or_dash(&alert.account)),
                field("Region", or_dash(&alert.region)),
                field("MITRE ATT&CK", if mitre.is_empty() { "-".into() } else { mitre }),
                field("Events", format!("{} ({} to {})", alert.count, alert.first_event_time, alert.last_event_time)),
            ]
        }),
    ];
    if let Some(runbook) = &alert.runbook {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": format!("*Runbook:* {}", escape(runbook)) }
        }));
    }
    if let Some(link) = console_link(alert) {
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": format!("<{link}|Open the event in the CloudTrail console> · alert `{}`", alert.alert_id) }]
        }));
    }
    let text = format!("[{}] {}", alert.severity.to_string().to_uppercase(), alert.title);
    serde_json::to_vec(&json!({ "text": text, "blocks": blocks })).expect("JSON")
}

/// PagerDuty's severity for ours.
pub fn pagerduty_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "info",
    }
}

/// A PagerDuty Events API v2 `trigger`, deduplicated on the alert id.
pub fn pagerduty_body(alert: &Alert, routing_key: &str) -> Vec<u8> {
    let mut details: Value = serde_json::to_value(alert).expect("alerts serialise");
    if let Some(details) = details.as_object_mut() {
        // The records can be large; the alert id and event ids lead back to them.
        details.remove("events");
    }
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.alert_id,
        "payload": {
            "summary": format!("{}: {}", alert.title, alert.actor.as_deref().unwrap_or("unknown actor")),
            "source": alert.account.as_deref().unwrap_or("aws"),
            "severity": pagerduty_severity(alert.severity),
            "timestamp": alert.first_event_time,
            "group": alert.rule_id,
            "class": alert.mitre.tactics.first().cloned().unwrap_or_default(),
            "custom_details": details,
        },
        "client": "trailhound",
    });
    if let Some(link) = console_link(alert) {
        event["links"] = json!([{ "href": link, "text": "CloudTrail event" }]);
    }
    serde_json::to_vec(&event).expect("JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn slack_text_is_escaped() {
        assert_eq!(escape("a <b> & c"), "a &lt;b&gt; &amp; c");
    }
}
