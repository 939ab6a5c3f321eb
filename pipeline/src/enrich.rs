//! Local enrichment of alerts, with no call out of the machine: whether the source IP lies in
//! AWS's published ranges (from the `ip-ranges.json` file AWS publishes), and its country and
//! autonomous system from MaxMind-format databases (GeoLite2/GeoIP2 Country, ASN, City), when
//! configured. The alert says which enrichments ran.

use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::error::{PipelineError, Result};
use crate::maxmind::MaxMindDb;
use crate::sinks::AlertSink;
use lake::net::Cidr;

/// What enrichment added to an alert.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    /// The enrichments that ran, by name (`aws_ip_ranges`).
    pub ran: Vec<String>,
    /// Whether `source_ip` lies in AWS's ranges; absent when it is not an IP address (an
    /// AWS service name, for example).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip_aws: Option<AwsRange>,
    /// ISO country code of `source_ip` (MaxMind `country.iso_code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip_country: Option<String>,
    /// Autonomous system number of `source_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip_asn: Option<u64>,
    /// Autonomous system organisation of `source_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip_as_org: Option<String>,
}

/// Where an address lies in AWS's published ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwsRange {
    /// Whether any AWS range holds the address.
    pub in_aws: bool,
    /// Services of the ranges holding it (`AMAZON`, `EC2`, ...), sorted.
    pub services: Vec<String>,
    /// Region of the most specific range holding it.
    pub region: Option<String>,
}

#[derive(Deserialize)]
struct RangesFile {
    #[serde(default)]
    prefixes: Vec<Prefix>,
    #[serde(default)]
    ipv6_prefixes: Vec<Prefix>,
}

#[derive(Deserialize)]
struct Prefix {
    #[serde(alias = "ipv6_prefix")]
    ip_prefix: String,
    region: String,
    service: String,
}

/// AWS's published IP ranges.
pub struct AwsRanges {
    ranges: Vec<(Cidr, String, String)>,
}

impl AwsRanges {
    /// Reads AWS's `ip-ranges.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let invalid = |reason: String| PipelineError::Config { file: path.to_path_buf(), reason };
        let text = std::fs::read_to_string(path).map_err(|error| invalid(error.to_string()))?;
        let file: RangesFile = serde_json::from_str(&text)
            .map_err(|error| invalid(format!("not AWS's ip-ranges.json: {error}")))?;
        let ranges = file
            .prefixes
            .into_iter()
            .chain(file.ipv6_prefixes)
            .map(|prefix| {
                let cidr = Cidr::parse(&prefix.ip_prefix).map_err(&invalid)?;
                Ok((cidr, prefix.service, prefix.region))
            })
            .collect::<Result<_>>()?;
        Ok(Self { ranges })
    }

    /// Where `address` lies.
    pub fn lookup(&self, address: IpAddr) -> AwsRange {
        let holding: Vec<&(Cidr, String, String)> =
            self.ranges.iter().filter(|(cidr, _, _)| cidr.contains(address)).collect();
        let mut services: Vec<String> =
            holding.iter().map(|(_, service, _)| service.clone()).collect();
        services.sort();
        services.dedup();
        let region = holding
            .iter()
            .max_by_key(|(cidr, _, _)| cidr.bits())
            .map(|(_, _, region)| region.clone());
        AwsRange { in_aws: !holding.is_empty(), services, region }
    }
}

/// The configured enrichments.
#[derive(Default)]
pub struct Enricher {
    aws: Option<AwsRanges>,
    maxmind: Vec<MaxMindDb>,
}

impl Enricher {
    /// Enrichment with AWS's ranges and MaxMind databases, those given.
    pub fn new(aws: Option<AwsRanges>, maxmind: Vec<MaxMindDb>) -> Self {
        Self { aws, maxmind }
    }

    /// Whether any enrichment is configured.
    pub fn is_empty(&self) -> bool {
        self.aws.is_none() && self.maxmind.is_empty()
    }

    /// Adds what the configured enrichments know to `alert`.
    pub fn enrich(&self, alert: &mut Alert) {
        let mut enrichment = Enrichment::default();
        if let Some(aws) = &self.aws {
            enrichment.ran.push("aws_ip_ranges".into());
            enrichment.source_ip_aws = alert
                .source_ip
                .as_deref()
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .map(|ip| aws.lookup(ip));
        }
        if !self.maxmind.is_empty() {
            enrichment.ran.push("maxmind".into());
            let address = alert.source_ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok());
            for db in &self.maxmind {
                let Some(address) = address else { break };
                let record = match db.lookup(address) {
                    Ok(Some(record)) => record,
                    Ok(None) => continue,
                    Err(reason) => {
                        tracing::warn!(reason, "MaxMind database record unreadable");
                        continue;
                    }
                };
                let country = record
                    .pointer("/country/iso_code")
                    .or(record.pointer("/registered_country/iso_code"));
                if let Some(country) = country.and_then(|value| value.as_str()) {
                    enrichment.source_ip_country.get_or_insert_with(|| country.to_string());
                }
                if let Some(asn) =
                    record.get("autonomous_system_number").and_then(|value| value.as_u64())
                {
                    enrichment.source_ip_asn.get_or_insert(asn);
                }
                if let Some(org) =
                    record.get("autonomous_system_organization").and_then(|value| value.as_str())
                {
                    enrichment.source_ip_as_org.get_or_insert_with(|| org.to_string());
                }
            }
        }
        if !enrichment.ran.is_empty() {
            alert.enrichment = Some(enrichment);
        }
    }
}

/// Enriches alerts, then hands them to `inner`.
pub struct EnrichingSink {
    enricher: Enricher,
    inner: Box<dyn AlertSink>,
}

impl EnrichingSink {
    /// Enriches with `enricher` before `inner`.
    pub fn new(enricher: Enricher, inner: Box<dyn AlertSink>) -> Self {
        Self { enricher, inner }
    }
}

#[async_trait::async_trait]
impl AlertSink for EnrichingSink {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn send(&mut self, alert: &Alert) -> Result<()> {
        let mut alert = alert.clone();
        self.enricher.enrich(&mut alert);
        self.inner.send(&alert).await
    }

    async fn flush(&mut self) -> Result<()> {
        self.inner.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_placed_in_aws_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ip-ranges.json");
        // The shape of https://ip-ranges.amazonaws.com/ip-ranges.json, a few real entries.
        std::fs::write(
            &path,
            r#"{"syncToken":"1","createDate":"2025-03-09-00-00-00",
               "prefixes":[
                 {"ip_prefix":"3.5.140.0/22","region":"ap-northeast-2","service":"AMAZON","network_border_group":"ap-northeast-2"},
                 {"ip_prefix":"3.5.140.0/24","region":"ap-northeast-2","service":"S3","network_border_group":"ap-northeast-2"},
                 {"ip_prefix":"52.94.0.0/16","region":"us-east-1","service":"AMAZON","network_border_group":"us-east-1"}],
               "ipv6_prefixes":[
                 {"ipv6_prefix":"2600:1f00::/24","region":"GLOBAL","service":"AMAZON","network_border_group":"GLOBAL"}]}"#,
        )
        .unwrap();
        let ranges = AwsRanges::load(&path).unwrap();
        let at = |ip: &str| ranges.lookup(ip.parse().unwrap());
        assert_eq!(
            at("3.5.140.9"),
            AwsRange {
                in_aws: true,
                services: vec!["AMAZON".into(), "S3".into()],
                region: Some("ap-northeast-2".into())
            }
        );
        assert_eq!(at("2600:1f00:5::1").region.as_deref(), Some("GLOBAL"));
        assert_eq!(at("203.0.113.9"), AwsRange { in_aws: false, services: vec![], region: None });

        // The alert says what ran, and what it found.
        let mmdb = dir.path().join("asn-country.mmdb");
        crate::maxmind::tests::write_database(
            &mmdb,
            &[(
                "52.94.0.0/16",
                serde_json::json!({"country": {"iso_code": "US"}, "autonomous_system_number": 16509, "autonomous_system_organization": "AMAZON-02"}),
            )],
        );
        let enricher = Enricher::new(Some(ranges), vec![MaxMindDb::open(&mmdb).unwrap()]);
        let mut alert: Alert = serde_json::from_value(serde_json::json!({
            "alert_id": "a", "rule_id": "r", "title": "t", "severity": "high",
            "mitre": {"tactics": [], "techniques": []}, "event_ids": [],
            "first_event_time": "2025-03-09T00:00:00.000Z", "last_event_time": "2025-03-09T00:00:00.000Z",
            "count": 1, "actor": null, "account": null, "region": null,
            "source_ip": "52.94.3.4", "events": []
        }))
        .unwrap();
        enricher.enrich(&mut alert);
        let enrichment = alert.enrichment.clone().unwrap();
        assert_eq!(enrichment.ran, ["aws_ip_ranges", "maxmind"]);
        assert_eq!(enrichment.source_ip_aws.unwrap().region.as_deref(), Some("us-east-1"));
        assert_eq!(enrichment.source_ip_country.as_deref(), Some("US"));
        assert_eq!(enrichment.source_ip_asn, Some(16509));
        assert_eq!(enrichment.source_ip_as_org.as_deref(), Some("AMAZON-02"));
        alert.source_ip = Some("cloudformation.amazonaws.com".into());
        enricher.enrich(&mut alert);
        let enrichment = alert.enrichment.unwrap();
        assert_eq!(enrichment.source_ip_aws, None, "not an address");
        assert_eq!(enrichment.source_ip_country, None);

        std::fs::write(&path, "{\"prefixes\": [{\"ip_prefix\": \"nonsense\", \"region\": \"x\", \"service\": \"y\"}]}").unwrap();
        let error = AwsRanges::load(&path).err().unwrap().to_string();
        assert!(error.contains("ip-ranges.json") && error.contains("'nonsense'"), "{error}");
    }
}
