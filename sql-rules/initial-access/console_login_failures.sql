/*
id = "aws.initial_access.console_login_failures"
title = "Failed AWS console sign-in"
severity = "low"
description = """
Detects a failed AWS Management Console sign-in (signin.amazonaws.com ConsoleLogin with responseElements.ConsoleLogin = Failure), for IAM users, root and unknown user names (CloudTrail then reports userName HIDDEN_DUE_TO_SECURITY_REASONS). Alerts are grouped per user and source IP for one hour, so the alert count shows how many attempts were made.
Repeated failures from one IP suggest password guessing or credential stuffing; failures for many users from one IP, or for root, deserve more attention. Check errorMessage (wrong password versus unknown user), whether a successful ConsoleLogin from the same IP followed, and whether the targeted user has MFA.
"""
tactics = ["TA0006", "TA0001"]
techniques = ["T1110", "T1078.004"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html",
]
false_positives = [
  "Users mistyping their password or using the wrong account alias",
  "Password managers retrying stale credentials after a password change",
]
runbook = "Count failures from sourceipaddress across all users in the last day and look for a ConsoleLogin Success from the same IP."
tags = ["signin", "console", "brute-force", "valid-accounts"]
dedup_key = ["coalesce(useridentity.arn, useridentity.username, useridentity.principalid)", "sourceipaddress"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'signin.amazonaws.com'
  AND eventname = 'ConsoleLogin'
  AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Failure'
