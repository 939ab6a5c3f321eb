//! Which alerts a sink takes: a minimum severity, and rules, tags or ATT&CK tactics to
//! include or exclude.

use std::collections::HashMap;
use std::sync::Arc;

use crate::alert::Alert;
use crate::detect::Severity;

/// A sink's filter. Empty include lists include everything.
#[derive(Debug, Clone, Default)]
pub struct Route {
    /// Lowest severity taken.
    pub min_severity: Option<Severity>,
    /// Rule ids taken (`*` matches any run of characters).
    pub rules: Vec<String>,
    /// Rule ids never taken.
    pub exclude_rules: Vec<String>,
    /// Rule tags taken (an alert is taken if its rule has one of them).
    pub tags: Vec<String>,
    /// ATT&CK tactic ids taken.
    pub tactics: Vec<String>,
    /// Rule tags never taken.
    pub exclude_tags: Vec<String>,
    /// ATT&CK tactic ids never taken.
    pub exclude_tactics: Vec<String>,
    /// Each rule's tags, by rule id.
    pub rule_tags: Arc<HashMap<String, Vec<String>>>,
}

impl Route {
    /// Whether the sink takes `alert`.
    pub fn accepts(&self, alert: &Alert) -> bool {
        let id = alert.rule_id.as_str();
        let rule_tags = self.rule_tags.get(id).map(Vec::as_slice).unwrap_or_default();
        self.min_severity.is_none_or(|min| alert.severity >= min)
            && !self.exclude_rules.iter().any(|pattern| glob(pattern, id))
            && !rule_tags.iter().any(|tag| self.exclude_tags.contains(tag))
            && !alert.mitre.tactics.iter().any(|tactic| self.exclude_tactics.contains(tactic))
            && (self.rules.is_empty() || self.rules.iter().any(|pattern| glob(pattern, id)))
            && (self.tags.is_empty() || rule_tags.iter().any(|tag| self.tags.contains(tag)))
            && (self.tactics.is_empty()
                || alert.mitre.tactics.iter().any(|tactic| self.tactics.contains(tactic)))
    }
}

/// `*`-wildcard match of a whole string.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Mitre;

    fn alert(rule: &str, severity: Severity, tactic: &str) -> Alert {
        Alert {
            alert_id: "a".into(),
            rule_id: rule.into(),
            title: "t".into(),
            severity,
            mitre: Mitre { tactics: vec![tactic.into()], techniques: vec![] },
            dedup_key: None,
            event_ids: vec![],
            first_event_time: String::new(),
            last_event_time: String::new(),
            count: 1,
            actor: None,
            account: None,
            region: None,
            source_ip: None,
            runbook: None,
            fields: None,
            events: vec![],
            enrichment: None,
        }
    }

    #[test]
    fn wildcards() {
        assert!(glob("aws.*", "aws.iam.x"));
        assert!(glob("*.x", "aws.iam.x"));
        assert!(glob("aws.*.x", "aws.iam.x"));
        assert!(!glob("aws.*.y", "aws.iam.x"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
    }

    #[test]
    fn routes_filter_by_severity_rule_tag_and_tactic() {
        let tags = HashMap::from([("aws.iam.x".to_string(), vec!["identity".to_string()])]);
        let route = Route {
            min_severity: Some(Severity::Medium),
            rules: vec!["aws.*".into()],
            exclude_rules: vec!["aws.discovery.*".into()],
            tags: vec!["identity".into()],
            tactics: vec!["TA0003".into()],
            rule_tags: Arc::new(tags),
            ..Route::default()
        };
        assert!(route.accepts(&alert("aws.iam.x", Severity::High, "TA0003")));
        assert!(!route.accepts(&alert("aws.iam.x", Severity::Low, "TA0003")), "severity");
        assert!(!route.accepts(&alert("aws.iam.x", Severity::High, "TA0005")), "tactic");
        assert!(!route.accepts(&alert("aws.s3.y", Severity::High, "TA0003")), "tag");
        assert!(!route.accepts(&alert("gcp.iam.x", Severity::High, "TA0003")), "rule");
        let everything = Route::default();
        assert!(everything.accepts(&alert("aws.discovery.z", Severity::Info, "TA0007")));
        let no_discovery =
            Route { exclude_rules: vec!["aws.discovery.*".into()], ..Route::default() };
        assert!(!no_discovery.accepts(&alert("aws.discovery.z", Severity::Info, "TA0007")));
        let tags = HashMap::from([("aws.iam.x".to_string(), vec!["noisy".to_string()])]);
        let quiet = Route {
            exclude_tags: vec!["noisy".into()],
            exclude_tactics: vec!["TA0007".into()],
            rule_tags: Arc::new(tags),
            ..Route::default()
        };
        assert!(!quiet.accepts(&alert("aws.iam.x", Severity::High, "TA0003")), "tag excluded");
        assert!(!quiet.accepts(&alert("aws.s3.y", Severity::High, "TA0007")), "tactic excluded");
        assert!(quiet.accepts(&alert("aws.s3.y", Severity::High, "TA0003")));
    }
}
