//! Exception tests: every criterion, expiry, load errors and the TrailAlerts import.

use serde_json::{Value, json};

use super::*;
use crate::decode::{DecodeConfig, decode};

const RULE: &str = "aws.credential_access.secrets_manager_secret_retrieved";

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn batch(records: &[Value]) -> RecordBatch {
    let text = serde_json::to_string(records).unwrap();
    let mut batches = Vec::new();
    decode(text.as_bytes(), "t", &DecodeConfig::default(), |batch| {
        batches.push(batch);
        true
    });
    assert_eq!(batches.len(), 1);
    batches.remove(0)
}

/// A GetSecretValue record; `overrides` replaces top-level members.
fn event(overrides: Value) -> Value {
    let mut record = json!({
        "eventVersion": "1.08", "eventTime": "2025-06-01T12:00:00Z",
        "eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15.0",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/app/i-1",
                         "accountId": "123456789012"},
        "requestParameters": {"secretId": "prod/db"},
        "recipientAccountId": "123456789012", "eventID": "e"
    });
    for (key, value) in overrides.as_object().unwrap() {
        record[key] = value.clone();
    }
    record
}

fn by(arn: &str) -> Value {
    event(json!({"userIdentity": {"type": "AssumedRole", "arn": arn}}))
}

fn from_ip(ip: &str) -> Value {
    event(json!({ "sourceIPAddress": ip }))
}

async fn set(toml_text: &str) -> ExceptionSet {
    ExceptionSet::from_toml(Path::new("exceptions.toml"), toml_text).await.unwrap()
}

async fn load_error(toml_text: &str) -> String {
    ExceptionSet::from_toml(Path::new("exceptions.toml"), toml_text).await.unwrap_err().to_string()
}

/// One exception for `RULE` with the given criteria lines.
fn one(criteria: &str) -> String {
    format!("[[exception]]\nrules = [\"{RULE}\"]\n{criteria}\nreason = \"r\"\nowner = \"o\"\n")
}

fn suppressed(set: &ExceptionSet, rule: &str, records: &[Value]) -> Vec<Option<usize>> {
    set.suppressions(rule, &batch(records), day("2026-01-01")).unwrap()
}

#[tokio::test]
async fn actor_matches_exactly_or_by_glob() {
    let exceptions = set(&one(
        "actor = [\"arn:aws:iam::123456789012:role/ci-*\", \"arn:aws:iam::123456789012:user/bot?\"]",
    ))
    .await;
    let found = suppressed(
        &exceptions,
        RULE,
        &[
            by("arn:aws:iam::123456789012:role/ci-deploy"),
            by("arn:aws:iam::123456789012:role/ci-"),
            by("arn:aws:iam::123456789012:user/bot1"),
            by("arn:aws:iam::123456789012:user/bot12"),
            by("arn:aws:iam::123456789012:role/app"),
            by("xarn:aws:iam::123456789012:role/ci-deploy"),
            // No ARN at all: the criterion does not hold.
            event(json!({"userIdentity": {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}})),
        ],
    );
    assert_eq!(found, [Some(0), Some(0), Some(0), None, None, None, None]);

    // Exact values are exact: regex metacharacters in them are literal.
    let exceptions = set(&one("actor = [\"arn:aws:iam::1:user/a.b\"]")).await;
    let found = suppressed(
        &exceptions,
        RULE,
        &[by("arn:aws:iam::1:user/a.b"), by("arn:aws:iam::1:user/axb")],
    );
    assert_eq!(found, [Some(0), None]);
}

#[tokio::test]
async fn actor_regex_must_match_the_whole_arn() {
    let exceptions = set(&one(
        "actor_regex = [\".*AWSReservedSSO_AdministratorAccess.*\", \"arn:aws:iam::\\\\d+:user/svc\"]",
    ))
    .await;
    let found = suppressed(
        &exceptions,
        RULE,
        &[
            by(
                "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_abc/jane",
            ),
            by("arn:aws:iam::123456789012:user/svc"),
            by("arn:aws:iam::123456789012:user/svc-other"),
            by("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_ReadOnly_abc/jane"),
        ],
    );
    assert_eq!(found, [Some(0), Some(0), None, None]);
}

#[tokio::test]
async fn source_ip_matches_addresses_and_cidrs_v4_and_v6() {
    let exceptions =
        set(&one("source_ip = [\"10.0.0.0/8\", \"192.0.2.7\", \"2001:db8::/32\", \"0.0.0.0/0\"]"))
            .await;
    assert_eq!(exceptions.exceptions[0].source_ip.as_ref().unwrap().len(), 4);
    let exceptions =
        set(&one("source_ip = [\"10.0.0.0/8\", \"192.0.2.7\", \"2001:db8::/32\"]")).await;
    let found = suppressed(
        &exceptions,
        RULE,
        &[
            from_ip("10.1.2.3"),
            from_ip("11.0.0.1"),
            from_ip("192.0.2.7"),
            from_ip("192.0.2.8"),
            from_ip("2001:db8:1::5"),
            from_ip("2001:db9::1"),
            from_ip("::ffff:10.9.9.9"),
            from_ip("secretsmanager.amazonaws.com"),
        ],
    );
    assert_eq!(found, [Some(0), None, Some(0), None, Some(0), None, Some(0), None]);
}

#[test]
fn cidr_blocks() {
    let block = Cidr::parse("10.0.0.0/8").unwrap();
    assert!(block.contains("10.255.255.255".parse().unwrap()));
    assert!(!block.contains("11.0.0.0".parse().unwrap()));
    assert!(!block.contains("::a00:1".parse().unwrap()));
    let everything = Cidr::parse("0.0.0.0/0").unwrap();
    assert!(everything.contains("8.8.8.8".parse().unwrap()));
    let single = Cidr::parse("2001:db8::1").unwrap();
    assert_eq!(single.prefix, 128);
    assert!(single.contains("2001:db8:0::1".parse().unwrap()));
    assert!(!single.contains("2001:db8::2".parse().unwrap()));
    let mapped = Cidr::parse("::ffff:192.0.2.0/120").unwrap();
    assert_eq!(mapped, Cidr::parse("192.0.2.0/24").unwrap());
    assert!(mapped.contains("192.0.2.200".parse().unwrap()));
    let v6 = Cidr::parse("fd00::/8").unwrap();
    assert!(v6.contains("fdff:ffff::1".parse().unwrap()));
    assert!(!v6.contains("fe00::1".parse().unwrap()));
    for bad in ["10.0.0.0/33", "10.0.0.1/8", "10.0.0/8", "fd00::/129", "host", "10.0.0.0/x"] {
        assert!(Cidr::parse(bad).is_err(), "{bad}");
    }
    assert!(Cidr::parse("10.0.0.1/8").unwrap_err().contains("did you mean 10.0.0.0/8"));
}

#[tokio::test]
async fn account_and_user_agent() {
    let exceptions = set(&format!(
        "{}{}",
        one("account = [\"111111111111\", \"222222222222\"]"),
        one("user_agent = [\"*terraform*\"]"),
    ))
    .await;
    let found = suppressed(
        &exceptions,
        RULE,
        &[
            event(json!({"recipientAccountId": "222222222222"})),
            event(json!({"recipientAccountId": "333333333333"})),
            event(
                json!({"userAgent": "APN/1.0 HashiCorp/1.0 Terraform/1.5.7 terraform-provider-aws/5.0"}),
            ),
            event(json!({"userAgent": "Terraform/1.5.7"})),
        ],
    );
    assert_eq!(found, [Some(0), None, Some(1), None]);
}

#[tokio::test]
async fn criteria_are_anded_and_list_values_ored() {
    let exceptions = set(&one(
        "actor = [\"arn:aws:iam::123456789012:role/ci-*\", \"arn:aws:iam::123456789012:user/ops\"]\n\
         source_ip = [\"10.0.0.0/8\"]\naccount = [\"123456789012\"]",
    ))
    .await;
    let record = |arn: &str, ip: &str| {
        event(json!({"userIdentity": {"type": "IAMUser", "arn": arn}, "sourceIPAddress": ip}))
    };
    let found = suppressed(
        &exceptions,
        RULE,
        &[
            record("arn:aws:iam::123456789012:role/ci-a", "10.0.0.1"),
            record("arn:aws:iam::123456789012:user/ops", "10.0.0.2"),
            record("arn:aws:iam::123456789012:role/ci-a", "8.8.8.8"),
            record("arn:aws:iam::123456789012:user/dev", "10.0.0.1"),
        ],
    );
    assert_eq!(found, [Some(0), Some(0), None, None]);
}

#[tokio::test]
async fn rules_take_ids_globs_and_star_and_the_first_exception_wins() {
    let text = "\
[[exception]]
rules = [\"aws.discovery.*\"]
actor = [\"arn:aws:iam::123456789012:user/scanner\"]
reason = \"scanner\"
owner = \"sec\"

[[exception]]
rules = [\"*\"]
source_ip = [\"10.0.0.0/8\"]
reason = \"internal\"
owner = \"net\"

[[exception]]
rules = [\"aws.iam.one\", \"aws.iam.tw?\"]
actor = [\"arn:aws:iam::123456789012:user/scanner\"]
reason = \"iam\"
owner = \"iam\"
";
    let exceptions = set(text).await;
    assert_eq!(exceptions.len(), 3);
    let records = [
        event(
            json!({"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/scanner"},
                     "sourceIPAddress": "10.0.0.1"}),
        ),
        by("arn:aws:iam::123456789012:user/scanner"),
        from_ip("10.1.1.1"),
        by("arn:aws:iam::123456789012:user/other"),
    ];
    assert_eq!(
        suppressed(&exceptions, "aws.discovery.list_buckets", &records),
        [Some(0), Some(0), Some(1), None]
    );
    assert_eq!(suppressed(&exceptions, "aws.iam.two", &records), [Some(1), Some(2), Some(1), None]);
    assert_eq!(suppressed(&exceptions, "aws.iam.three", &records), [Some(1), None, Some(1), None]);
    // A glob is not a prefix: "aws.discovery.*" does not cover "aws.discoveryx".
    assert_eq!(suppressed(&exceptions, "aws.discoveryx", &records), [Some(1), None, Some(1), None]);
    let info = exceptions.describe(2);
    assert_eq!(info.index, 2);
    assert_eq!(info.rules, ["aws.iam.one", "aws.iam.tw?"]);
    assert_eq!((info.reason.as_str(), info.owner.as_str()), ("iam", "iam"));
    assert_eq!(info.expires, None);
}

#[tokio::test]
async fn expired_exceptions_stay_listed_but_suppress_nothing() {
    let text = format!(
        "{}{}",
        one("actor = [\"arn:aws:iam::1:user/a\"]\nexpires = \"2026-12-31\""),
        one("actor = [\"arn:aws:iam::1:user/b\"]\nexpires = 2025-06-30"),
    );
    let exceptions = set(&text).await;
    let rows = batch(&[by("arn:aws:iam::1:user/a"), by("arn:aws:iam::1:user/b")]);
    let on = |date: &str| exceptions.suppressions(RULE, &rows, day(date)).unwrap();
    assert_eq!(on("2025-06-30"), [Some(0), Some(1)]);
    assert_eq!(on("2026-12-31"), [Some(0), None]);
    assert_eq!(on("2027-01-01"), [None, None]);
    assert_eq!(exceptions.len(), 2);
    assert_eq!(exceptions.expired(day("2026-01-01")), [1]);
    assert_eq!(exceptions.describe(0).expires.as_deref(), Some("2026-12-31"));
    assert_eq!(exceptions.describe(1).expires.as_deref(), Some("2025-06-30"));
    let described = serde_json::to_value(exceptions.describe(0)).unwrap();
    assert_eq!(described["expires"], "2026-12-31");
    assert_eq!(described["index"], 0);
}

#[tokio::test]
async fn sql_predicates_run_on_the_matches() {
    let exceptions =
        set(&one("sql = \"json_extract_scalar(requestparameters, '$.secretId') LIKE 'dev/%'\"\n\
         actor = [\"arn:aws:iam::1:role/*\"]"))
        .await;
    let record = |arn: &str, secret: &str| {
        event(json!({"userIdentity": {"type": "AssumedRole", "arn": arn},
                     "requestParameters": {"secretId": secret}}))
    };
    let found = suppressed(
        &exceptions,
        RULE,
        &[
            record("arn:aws:iam::1:role/app", "dev/db"),
            record("arn:aws:iam::1:role/app", "prod/db"),
            record("arn:aws:iam::1:user/jane", "dev/db"),
            event(
                json!({"userIdentity": {"type": "AssumedRole", "arn": "arn:aws:iam::1:role/app"},
                         "requestParameters": null}),
            ),
        ],
    );
    assert_eq!(found, [Some(0), None, None, None]);

    // A predicate alone is a criterion, over any column.
    let exceptions = set(&one("sql = \"awsregion = 'eu-west-1' AND errorcode IS NULL\"")).await;
    let found = suppressed(
        &exceptions,
        RULE,
        &[event(json!({"awsRegion": "eu-west-1"})), event(json!({}))],
    );
    assert_eq!(found, [Some(0), None]);
}

#[tokio::test]
async fn no_exceptions_suppress_nothing() {
    let empty = ExceptionSet::empty();
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);
    assert_eq!(suppressed(&empty, RULE, &[event(json!({}))]), [None]);
    let from_empty_file = set("# nothing yet\n").await;
    assert!(from_empty_file.is_empty());
}

#[tokio::test]
async fn bad_exceptions_fail_at_load_with_file_index_and_line() {
    let second =
        |criteria: &str| format!("{}{}", one("account = [\"123456789012\"]"), one(criteria));

    let error = load_error(&second("source_ip = [\"10.0.0.0/33\"]")).await;
    assert!(error.starts_with("rule exceptions.toml:8: exception index 1:"), "{error}");
    assert!(error.contains("10.0.0.0/33"), "{error}");

    let error = load_error(&second("source_ip = [\"not-an-ip\"]")).await;
    assert!(error.contains("not an IPv4 or IPv6 address"), "{error}");

    let error = load_error(&second("actor_regex = [\"arn:(unclosed\"]")).await;
    assert!(error.starts_with("rule exceptions.toml:8: exception index 1:"), "{error}");
    assert!(error.contains("actor_regex 'arn:(unclosed'"), "{error}");

    let error = load_error(&second("actr = [\"x\"]")).await;
    assert!(error.starts_with("rule exceptions.toml:8: exception index 1:"), "{error}");
    assert!(error.contains("unknown field `actr`"), "{error}");

    let error = load_error(&second("sql = \"no_such_column = 'x'\"")).await;
    assert!(error.starts_with("rule exceptions.toml:8: exception index 1: sql:"), "{error}");
    assert!(error.contains("no_such_column"), "{error}");
    assert!(!error.contains("Valid fields"), "{error}");

    let error = load_error(&second("sql = \"useridentity.nosuchmember = 'x'\"")).await;
    assert!(error.contains("exception index 1: sql:"), "{error}");

    let error = load_error(&second("sql = \"eventname\"")).await;
    assert!(error.contains("exception index 1: sql:"), "{error}");

    let error = load_error(&second("sql = \"true ORDER BY eventname\"")).await;
    assert!(error.contains("exception index 1: sql:"), "{error}");

    let error = load_error(&second("")).await;
    assert!(error.starts_with("rule exceptions.toml:6: exception index 1:"), "{error}");
    assert!(error.contains("at least one criterion besides rules"), "{error}");

    let error =
        load_error("[[exception]]\nrules = []\nactor = [\"a\"]\nreason = \"r\"\nowner = \"o\"\n")
            .await;
    assert!(
        error.starts_with("rule exceptions.toml:2: exception index 0: rules is empty"),
        "{error}"
    );

    let error = load_error(&second("actor = []")).await;
    assert!(error.contains("actor is an empty list"), "{error}");

    let error = load_error(&second("account = [\"12345\"]")).await;
    assert!(error.contains("not a 12-digit AWS account id"), "{error}");

    let error = load_error(&second("expires = \"31/12/2026\"\nactor = [\"a\"]")).await;
    assert!(error.starts_with("rule exceptions.toml:8: exception index 1:"), "{error}");
    assert!(error.contains("expires must be a date"), "{error}");

    let error = load_error(&second("expires = 2026-12-31T00:00:00Z\nactor = [\"a\"]")).await;
    assert!(error.contains("expires must be a date"), "{error}");

    let error =
        load_error("[[exception]]\nrules = [\"*\"]\nactor = [\"a\"]\nowner = \"o\"\n").await;
    assert!(error.contains("exception index 0: reason is required"), "{error}");

    let error = load_error("[[exception]]\nactor = [\"a\"]\nreason = \"r\"\nowner = \" \"\n").await;
    assert!(error.contains("owner must not be empty"), "{error}");

    let error = load_error("[[exception]]\nactor = [\"a\"]\nreason = \"r\"\nowner = \"o\"\n").await;
    assert!(error.contains("rules is required"), "{error}");

    let error = load_error("exceptions = 1\n").await;
    assert!(error.starts_with("rule exceptions.toml:1:"), "{error}");
    assert!(error.contains("unknown field"), "{error}");
}

#[tokio::test]
async fn loads_files_and_names_them_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exceptions.toml");
    std::fs::write(&path, one("user_agent = [\"Boto3/*\"]")).unwrap();
    let exceptions = ExceptionSet::load(&path).await.unwrap();
    assert_eq!(exceptions.len(), 1);

    std::fs::write(&path, one("source_ip = [\"10.0.0.0/40\"]")).unwrap();
    let error = ExceptionSet::load(&path).await.unwrap_err().to_string();
    assert!(error.contains(&format!("{}:3:", path.display())), "{error}");

    let missing = dir.path().join("missing.toml");
    let error = ExceptionSet::load(&missing).await.unwrap_err().to_string();
    assert!(error.contains("missing.toml:0: cannot read exceptions"), "{error}");
}

fn trailalerts_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/external/trailalerts/rules/exceptions.json")
}

#[tokio::test]
async fn imports_trailalerts_exceptions() {
    let titles: HashMap<String, String> = [
        ("AWS SecretsManager GetSecretValue", RULE),
        ("AWS Console Login", "aws.initial_access.console_login"),
    ]
    .into_iter()
    .map(|(title, id)| (title.to_string(), id.to_string()))
    .collect();
    let exceptions = ExceptionSet::from_trailalerts(&trailalerts_file(), &titles).await.unwrap();
    // Console Login: actors; GetSecretValue: actors, source IPs, actor regexes.
    assert_eq!(exceptions.len(), 4);
    for index in 0..exceptions.len() {
        let info = exceptions.describe(index);
        assert_eq!(info.reason, TRAILALERTS_REASON);
        assert_eq!(info.owner, "unknown");
        assert_eq!(info.expires, None);
    }
    assert_eq!(exceptions.describe(0).rules, ["aws.initial_access.console_login"]);
    assert_eq!(exceptions.describe(1).rules, [RULE]);

    // Each list excludes on its own.
    let records = [
        by("arn:aws:iam::123456789012:user/ci-bot"),
        by("arn:aws:iam::123456789012:role/app-sync"),
        from_ip("10.0.1.100"),
        by("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_1/j"),
        by("arn:aws:iam::123456789012:user/monitoring"),
        from_ip("10.0.1.101"),
    ];
    assert_eq!(
        suppressed(&exceptions, RULE, &records),
        [Some(1), Some(1), Some(2), Some(3), None, None]
    );
    assert_eq!(
        suppressed(&exceptions, "aws.initial_access.console_login", &records),
        [None, None, None, None, Some(0), None]
    );

    let partial: HashMap<String, String> =
        [("AWS Console Login".to_string(), "x".to_string())].into();
    let error = ExceptionSet::from_trailalerts(&trailalerts_file(), &partial)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("'AWS SecretsManager GetSecretValue'"), "{error}");
    assert!(error.contains("exceptions.json:2:"), "{error}");
}

#[tokio::test]
async fn trailalerts_import_validates_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exceptions.json");
    let titles: HashMap<String, String> = [("T".to_string(), RULE.to_string())].into();

    std::fs::write(&path, r#"{"T": {"excludedSourceIPs": ["10.0.0.0/99"]}}"#).unwrap();
    let error = ExceptionSet::from_trailalerts(&path, &titles).await.unwrap_err().to_string();
    assert!(error.contains("10.0.0.0/99"), "{error}");

    std::fs::write(&path, r#"{"T": {"excludedUsers": ["x"]}}"#).unwrap();
    let error = ExceptionSet::from_trailalerts(&path, &titles).await.unwrap_err().to_string();
    assert!(error.contains("unknown field `excludedUsers`"), "{error}");

    std::fs::write(&path, r#"{"T": {"excludedActors": []}}"#).unwrap();
    let exceptions = ExceptionSet::from_trailalerts(&path, &titles).await.unwrap();
    assert!(exceptions.is_empty());
}
