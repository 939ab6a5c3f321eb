/*
id = "aws.initial_access.console_login_without_mfa"
title = "Console sign-in without MFA by an IAM user or root"
severity = "medium"
description = """
Detects a successful console sign-in by an IAM user or the root user where CloudTrail records additionalEventData.MFAUsed = No. SAML and IAM Identity Center sign-ins are excluded: MFA for those is enforced by the identity provider, which CloudTrail cannot see, so they typically report No.
A password-only console session is the easiest path for a phished or leaked password; confirm the user recognises the sign-in (source IP, user agent), then enforce an MFA device on the identity or deny actions without aws:MultiFactorAuthPresent.
"""
tactics = ["TA0001"]
techniques = ["T1078.004"]
stratus = ["aws.initial-access.console-login-without-mfa"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable.html",
]
false_positives = [
  "IAM users who have not yet enrolled an MFA device during onboarding",
  "Shared or legacy console users explicitly exempted from MFA",
]
runbook = "Check whether useridentity.arn has an MFA device registered (iam list-mfa-devices) and whether sourceipaddress is a known location for that user."
tags = ["signin", "console", "mfa", "valid-accounts"]
dedup_key = ["useridentity.arn", "sourceipaddress"]
dedup_period = "12h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'signin.amazonaws.com'
  AND eventname = 'ConsoleLogin'
  AND useridentity.type IN ('IAMUser', 'Root')
  AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
  AND json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'No'
  AND json_extract_scalar(additionaleventdata, '$.SamlProviderArn') IS NULL
