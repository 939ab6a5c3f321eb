//! The deterministic CloudTrail corpus generator the benchmarks share: a seeded random
//! source and a record generator with a realistic mix of calls (AssumeRole, Describe*/List*/
//! Get* reads, S3 data events with resources and additionalEventData, KMS Decrypt, console
//! sign-ins with failures, AccessDenied errors, rare writes).

/// splitmix64: small, fast and the same everywhere.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

/// Account ids (one with leading zeros).
pub const ACCOUNTS: &[&str] = &["012345678901", "123456789012", "000011112222", "555566667777"];
/// Regions.
pub const REGIONS: &[&str] = &["us-east-1", "eu-west-1", "ap-southeast-2"];
/// The corpus's first second.
pub const START: i64 = 1_741_478_400; // 2025-03-09T00:00:00Z

/// `2025-03-09T00:00:00Z` for a Unix time in seconds.
pub fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rem = seconds.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant), enough for a generator.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// How long an assumed role's session (its temporary access key) lasts.
const SESSION_SECONDS: i64 = 3600;

/// A stable 16-digit identifier for `parts` (FNV-1a): IAM's unique ids and access key ids
/// name one role, user or session across all its calls, as in real trails.
fn stable_id(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash % 10_000_000_000_000_000
}

/// One CloudTrail record as compact JSON.
pub fn record(rng: &mut Rng, account: &str, region: &str, time: i64) -> String {
    let user_index = rng.below(40);
    let user = format!("user{user_index}");
    let role = rng.pick(&["app-role", "deploy-role", "ReadOnly", "lambda-exec", "ecs-task"]);
    // Each user works from a handful of addresses.
    let ip =
        format!("{}.{}.{}.{}", 20 + user_index, 10 + user_index % 7, rng.below(4), 10 + user_index);
    let event_id = rng.uuid();
    let request_id = rng.uuid();
    let when = rfc3339(time);
    let session = time.div_euclid(SESSION_SECONDS);
    let identity = match rng.below(10) {
        0..=5 => format!(
            r#"{{"type":"AssumedRole","principalId":"AROA{role_id:016}:{user}","arn":"arn:aws:sts::{account}:assumed-role/{role}/{user}","accountId":"{account}","accessKeyId":"ASIA{session_key:016}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA{role_id:016}","arn":"arn:aws:iam::{account}:role/{role}","accountId":"{account}","userName":"{role}"}},"attributes":{{"creationDate":"{session_start}","mfaAuthenticated":"false"}}}}}}"#,
            role_id = stable_id(&[account, role]),
            session_key = stable_id(&[account, role, user.as_str(), &session.to_string()]),
            session_start = rfc3339(session * SESSION_SECONDS),
        ),
        6..=8 => format!(
            r#"{{"type":"IAMUser","principalId":"AIDA{user_id:016}","arn":"arn:aws:iam::{account}:user/{user}","accountId":"{account}","accessKeyId":"AKIA{user_id:016}","userName":"{user}"}}"#,
            user_id = stable_id(&[account, user.as_str()]),
        ),
        _ => r#"{"type":"AWSService","invokedBy":"ec2.amazonaws.com"}"#.to_string(),
    };
    let (source, name, read_only, request, response, extra) = match rng.below(1000) {
        0..=199 => ("sts.amazonaws.com", "AssumeRole", "false", format!(r#"{{"roleArn":"arn:aws:iam::{account}:role/{role}","roleSessionName":"{user}"}}"#), r#"{"credentials":{"accessKeyId":"ASIAEXAMPLE","expiration":"Mar 9, 2025, 1:00:00 PM"}}"#.to_string(), String::new()),
        200..=449 => {
            let name = rng.pick(&["DescribeInstances", "DescribeVolumes", "DescribeSecurityGroups", "DescribeSubnets"]);
            ("ec2.amazonaws.com", name, "true", r#"{"maxResults":1000}"#.to_string(), "null".to_string(), String::new())
        }
        450..=649 => {
            let name = rng.pick(&["GetObject", "PutObject", "HeadObject"]);
            let bucket = format!("data-{account}-{}", rng.below(5));
            let key = format!("logs/{}/part-{}.json", rng.below(100), rng.below(10_000));
            (
                "s3.amazonaws.com",
                name,
                if name == "PutObject" { "false" } else { "true" },
                format!(r#"{{"bucketName":"{bucket}","Host":"{bucket}.s3.{region}.amazonaws.com","key":"{key}"}}"#),
                "null".to_string(),
                format!(
                    r#","resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::{bucket}/{key}"}},{{"accountId":"{account}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::{bucket}"}}],"additionalEventData":{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"bytesTransferredOut":{},"x-amz-id-2":"abc"}}"#,
                    rng.below(100_000)
                ),
            )
        }
        650..=799 => ("kms.amazonaws.com", "Decrypt", "true", r#"{"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#.to_string(), "null".to_string(), String::new()),
        800..=959 => {
            let name = rng.pick(&["ListUsers", "ListRoles", "GetRole", "ListPolicies", "GetUser"]);
            ("iam.amazonaws.com", name, "true", "null".to_string(), "null".to_string(), String::new())
        }
        // Console sign-ins are rare next to API calls, and seldom fail.
        960..=961 => {
            let success = rng.below(10) != 0;
            (
                "signin.amazonaws.com",
                "ConsoleLogin",
                "false",
                "null".to_string(),
                format!(r#"{{"ConsoleLogin":"{}"}}"#, if success { "Success" } else { "Failure" }),
                format!(r#","additionalEventData":{{"LoginTo":"https://console.aws.amazon.com/","MobileVersion":"No","MFAUsed":"Yes"}}{}"#, if success { "" } else { r#","errorMessage":"Failed authentication""# }),
            )
        }
        962..=989 => ("s3.amazonaws.com", "ListBuckets", "true", "null".to_string(), "null".to_string(), r#","errorCode":"AccessDenied","errorMessage":"Access Denied""#.to_string()),
        _ => {
            let name = rng.pick(&["CreateRole", "PutRolePolicy", "CreateSecurityGroup", "TagResource"]);
            ("iam.amazonaws.com", name, "false", r#"{"roleName":"svc"}"#.to_string(), "null".to_string(), String::new())
        }
    };
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{identity},"eventTime":"{when}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64","requestParameters":{request},"responseElements":{response},"requestID":"{request_id}","eventID":"{event_id}","readOnly":{read_only},"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{account}","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{source}"}}{extra}}}"#
    )
}
