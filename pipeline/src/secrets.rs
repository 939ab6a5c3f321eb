//! Secrets named by ARN, resolved once at start-up. `TRAILHOUND_SECRETS` holds a JSON object
//! from variable name to a Secrets Manager secret ARN or an SSM parameter ARN
//! (`{"SLACK_WEBHOOK_URL": "arn:aws:secretsmanager:…"}`); each value is fetched and then read
//! wherever the sinks file names that variable (`url_env`, `secret_env`, …), exactly as if
//! it were in the environment. Lambda cannot inject secrets into the environment as ECS
//! does, hence this; the values never reach a log or an error message.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::error::{PipelineError, Result};

/// The variable holding the name → ARN map.
pub const SECRETS_VARIABLE: &str = "TRAILHOUND_SECRETS";

static RESOLVED: OnceLock<HashMap<String, String>> = OnceLock::new();

/// The value of variable `name`: a resolved secret, or else the environment's.
pub fn var(name: &str) -> Option<String> {
    RESOLVED
        .get()
        .and_then(|resolved| resolved.get(name).cloned())
        .or_else(|| std::env::var(name).ok())
}

/// Fetches every secret `TRAILHOUND_SECRETS` names; returns how many. Call once, before
/// the sinks are built.
pub async fn resolve_from_env() -> Result<usize> {
    let Ok(text) = std::env::var(SECRETS_VARIABLE) else { return Ok(0) };
    let wanted: HashMap<String, String> = serde_json::from_str(&text).map_err(|error| {
        config_error(format!(
            "{SECRETS_VARIABLE} must be a JSON object of variable name to ARN: {error}"
        ))
    })?;
    if wanted.is_empty() {
        return Ok(0);
    }
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let parameters = aws_sdk_ssm::Client::new(&config);
    let mut resolved = HashMap::new();
    for (name, arn) in wanted {
        let failed = |reason: String| config_error(format!("secret for {name} ({arn}): {reason}"));
        let value = match arn.split(':').nth(2) {
            Some("secretsmanager") => secrets
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .map_err(|error| {
                    failed(aws_sdk_secretsmanager::error::DisplayErrorContext(error).to_string())
                })?
                .secret_string
                .ok_or_else(|| failed("the secret has no string value".into()))?,
            // GetParameter takes the ARN as the name.
            Some("ssm") => parameters
                .get_parameter()
                .name(&arn)
                .with_decryption(true)
                .send()
                .await
                .map_err(|error| {
                    failed(aws_sdk_ssm::error::DisplayErrorContext(error).to_string())
                })?
                .parameter
                .and_then(|parameter| parameter.value)
                .ok_or_else(|| failed("the parameter has no value".into()))?,
            _ => {
                return Err(failed(
                    "only Secrets Manager and SSM parameter ARNs are supported".into(),
                ));
            }
        };
        resolved.insert(name, value);
    }
    let count = resolved.len();
    RESOLVED.set(resolved).map_err(|_| config_error("secrets were already resolved".into()))?;
    tracing::info!(count, "secrets resolved");
    Ok(count)
}

fn config_error(reason: String) -> PipelineError {
    PipelineError::Config { file: SECRETS_VARIABLE.into(), reason }
}
