/*
id = "aws.initial_access.root_account_activity"
title = "AWS root user activity"
severity = "medium"
description = """
Detects any API call or console action made directly with the account root user, including failed attempts. AWS service actions that merely run in the root context (invokedBy set, or eventType AwsServiceEvent such as the sign-in CredentialVerification records) are excluded.
Root use should be close to zero: confirm with the account owner that the activity was planned break-glass work, and if not, reset the root password, rotate or delete root access keys, verify the root MFA device and review everything done from the same source IP.
"""
tactics = ["TA0001", "TA0004"]
techniques = ["T1078.004"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-best-practices.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html",
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html",
]
false_positives = [
  "Tasks that require root credentials (closing the account, changing the support plan, restoring an S3 bucket policy that locks everyone out) performed by the account owner",
  "Centralised root access sessions (sts:AssumeRoot) opened from the Organizations management account for privileged member-account tasks",
]
runbook = "Check sourceipaddress and useragent against the known break-glass procedure, then list every event for this account with useridentity.type = 'Root' in the surrounding 24h."
tags = ["iam", "root", "valid-accounts"]
dedup_key = ["recipientaccountid", "sourceipaddress"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE useridentity.type = 'Root'
  AND useridentity.invokedby IS NULL
  AND coalesce(eventtype, '') <> 'AwsServiceEvent'
