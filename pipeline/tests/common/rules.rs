//! A one-rule pack for tests that follow matches through a run: every IAM ListUsers call.

use std::path::Path;

use pipeline::detect::{Rule, RulePack};
use pipeline::exceptions::ExceptionSet;
use pipeline::process::{DEFAULT_LATENESS, Processor};

/// The rule, `test.list_users`.
const LIST_USERS_RULE: &str = r#"/*
id = "test.list_users"
title = "ListUsers"
severity = "info"
description = "Every ListUsers call."
tactics = ["TA0007"]
techniques = ["T1087.004"]
*/
SELECT * FROM cloudtrail WHERE eventsource = 'iam.amazonaws.com' AND eventname = 'ListUsers'
"#;

/// A processor running only `test.list_users`, with `exceptions`.
pub async fn list_users_processor(exceptions: ExceptionSet) -> Processor {
    let rule = Rule::parse(Path::new("test.sql"), LIST_USERS_RULE).unwrap();
    let pack = RulePack { detections: vec![rule], correlations: Vec::new() };
    Processor::for_pack(pack, exceptions, DEFAULT_LATENESS).await.unwrap()
}
