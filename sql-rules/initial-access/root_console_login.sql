/*
id = "aws.initial_access.root_console_login"
title = "Successful console sign-in as the AWS root user"
severity = "high"
description = """
Detects a successful AWS Management Console sign-in by the account root user (signin.amazonaws.com ConsoleLogin with responseElements.ConsoleLogin = Success). Root credentials are not limited by IAM policies (nor by SCPs in a management or standalone account), so an unexpected root session is a full account compromise until proven otherwise.
Confirm with the root credential custodian that a sign-in was planned; if it was not, reset the root password, check that the MFA device is still the registered one (additionalEventData.MFAUsed tells whether MFA was used) and review all Root events from the same source IP.
"""
tactics = ["TA0001", "TA0004"]
techniques = ["T1078.004"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-best-practices.html",
]
false_positives = [
  "Planned break-glass or account-administration tasks that can only be done as root (billing, support plan, account closure)",
]
runbook = "Ask the root credential custodian whether they signed in from sourceipaddress at eventtime; if not, treat the account as compromised and lock the root user down."
tags = ["signin", "root", "console", "valid-accounts"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'signin.amazonaws.com'
  AND eventname = 'ConsoleLogin'
  AND useridentity.type = 'Root'
  AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
