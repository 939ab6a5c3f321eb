/*
id = "aws.initial_access.get_signin_token_outside_sso"
title = "Console sign-in token requested from API credentials"
severity = "low"
description = """
Detects a successful GetSigninToken call on the AWS federation endpoint (signin.amazonaws.com), which turns temporary API credentials (a federated user from GetFederationToken or an assumed-role session) into a console sign-in URL. Sessions of IAM Identity Center permission-set roles (AWSReservedSSO_*), whose portal uses this flow for every console access, are excluded. Alerts are grouped per identity and source IP for one hour.
Attackers holding stolen keys or role credentials (for example from an EC2 instance) use tools such as aws-vault, Pacu or custom scripts to get a browser session, which lets them use the console without further API calls being tied to their tooling. Check useridentity.sessioncontext.sessionissuer: a workload role (EC2, Lambda, CI) or a service IAM user getting a console session is almost never legitimate; then review the ConsoleLogin and console actions that followed.
"""
tactics = ["TA0001", "TA0005"]
techniques = ["T1078.004", "T1550.001"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_enable-console-custom-url.html",
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
]
false_positives = [
  "Custom identity brokers and tools like aws-vault login or granted that build console URLs for engineers",
  "Third-party SSO or privileged-access tools that federate into the console",
]
runbook = "Identify the session issuer and its usual callers; if it is a workload role or service user, treat the credentials as stolen and revoke the role sessions or the user's keys."
tags = ["signin", "federation", "console", "valid-accounts"]
dedup_key = ["useridentity.arn", "sourceipaddress"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'signin.amazonaws.com'
  AND eventname = 'GetSigninToken'
  AND errorcode IS NULL
  AND coalesce(json_extract_scalar(responseelements, '$.GetSigninToken'), '') <> 'Failure'
  AND NOT starts_with(coalesce(useridentity.sessioncontext.sessionissuer.username, ''), 'AWSReservedSSO_')
