//! MITRE ATT&CK coverage of a rule pack: a table per tactic and an ATT&CK Navigator layer.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::rule::Rule;

/// ATT&CK Enterprise tactics: id, Navigator short name, display name, in matrix order.
pub const TACTICS: &[(&str, &str, &str)] = &[
    ("TA0043", "reconnaissance", "Reconnaissance"),
    ("TA0042", "resource-development", "Resource Development"),
    ("TA0001", "initial-access", "Initial Access"),
    ("TA0002", "execution", "Execution"),
    ("TA0003", "persistence", "Persistence"),
    ("TA0004", "privilege-escalation", "Privilege Escalation"),
    ("TA0005", "defense-evasion", "Defense Evasion"),
    ("TA0006", "credential-access", "Credential Access"),
    ("TA0007", "discovery", "Discovery"),
    ("TA0008", "lateral-movement", "Lateral Movement"),
    ("TA0009", "collection", "Collection"),
    ("TA0011", "command-and-control", "Command and Control"),
    ("TA0010", "exfiltration", "Exfiltration"),
    ("TA0040", "impact", "Impact"),
];

/// The tactics whose techniques leave a CloudTrail footprint (management or data events).
pub const CLOUDTRAIL_TACTICS: &[&str] = &[
    "TA0001", "TA0002", "TA0003", "TA0004", "TA0005", "TA0006", "TA0007", "TA0008", "TA0009",
    "TA0010", "TA0040",
];

/// Rule ids by tactic id and technique id.
pub fn coverage(rules: &[Rule]) -> BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> {
    let mut by_tactic: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for rule in rules {
        for tactic in &rule.meta.tactics {
            for technique in &rule.meta.techniques {
                by_tactic
                    .entry(tactic.as_str())
                    .or_default()
                    .entry(technique.as_str())
                    .or_default()
                    .insert(rule.meta.id.as_str());
            }
        }
    }
    by_tactic
}

/// A Markdown table: one row per tactic with its rule and technique counts and techniques.
pub fn coverage_table(rules: &[Rule]) -> String {
    let by_tactic = coverage(rules);
    let mut out =
        String::from("| tactic | rules | techniques | technique ids |\n|---|---|---|---|\n");
    for (id, _, name) in TACTICS {
        let techniques = by_tactic.get(id);
        let rule_count = techniques
            .map_or(0, |techniques| techniques.values().flatten().collect::<BTreeSet<_>>().len());
        let ids = techniques.map_or(String::new(), |techniques| {
            techniques.keys().copied().collect::<Vec<_>>().join(", ")
        });
        out.push_str(&format!(
            "| {name} ({id}) | {rule_count} | {} | {ids} |\n",
            techniques.map_or(0, BTreeMap::len)
        ));
    }
    out
}

/// An ATT&CK Navigator layer (format 4.5) scoring each covered technique by its rule count.
pub fn navigator_layer(rules: &[Rule]) -> Value {
    let by_tactic = coverage(rules);
    let mut techniques = Vec::new();
    for (id, short_name, _) in TACTICS {
        for (technique, rule_ids) in by_tactic.get(id).into_iter().flatten() {
            techniques.push(json!({
                "techniqueID": technique,
                "tactic": short_name,
                "score": rule_ids.len(),
                "comment": rule_ids.iter().copied().collect::<Vec<_>>().join(", "),
                "enabled": true,
            }));
        }
    }
    json!({
        "name": "trailhound rule pack",
        "description": "Techniques detected by trailhound's CloudTrail rules (score = number of rules).",
        "domain": "enterprise-attack",
        "versions": {"layer": "4.5", "navigator": "5.1.0", "attack": "16"},
        "filters": {"platforms": ["IaaS"]},
        "sorting": 3,
        "gradient": {"colors": ["#ffe766", "#8ec843"], "minValue": 0, "maxValue": 5},
        "techniques": techniques,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn rule(id: &str, tactics: &str, techniques: &str) -> Rule {
        let text = format!(
            "/*\nid = \"{id}\"\ntitle = \"t\"\nseverity = \"low\"\ndescription = \"d\"\ntactics = {tactics}\ntechniques = {techniques}\n*/\nSELECT * FROM cloudtrail WHERE true"
        );
        Rule::parse(Path::new("r.sql"), &text).unwrap()
    }

    #[test]
    fn counts_rules_and_techniques_per_tactic() {
        let rules = [
            rule("a", "[\"TA0005\"]", "[\"T1562.008\"]"),
            rule("b", "[\"TA0005\", \"TA0003\"]", "[\"T1562.008\", \"T1098\"]"),
        ];
        let table = coverage_table(&rules);
        assert!(
            table.contains("| Defense Evasion (TA0005) | 2 | 2 | T1098, T1562.008 |"),
            "{table}"
        );
        assert!(table.contains("| Persistence (TA0003) | 1 | 2 |"), "{table}");
        assert!(table.contains("| Impact (TA0040) | 0 | 0 |  |"), "{table}");
        let layer = navigator_layer(&rules);
        let evasion: Vec<&Value> = layer["techniques"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["tactic"] == "defense-evasion" && t["techniqueID"] == "T1562.008")
            .collect();
        assert_eq!(evasion[0]["score"], 2);
        assert_eq!(evasion[0]["comment"], "a, b");
    }
}
