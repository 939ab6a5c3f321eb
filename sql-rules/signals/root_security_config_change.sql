/*
id = "aws.signals.root_security_config_change"
title = "IAM, logging or security-service change made by root (signal)"
severity = "info"
description = """
Signal for correlations: a successful mutating call (readOnly = false) made by the root user on IAM, CloudTrail, AWS Config, GuardDuty, Security Hub, IAM Access Analyzer, AWS Organizations or the Account Management API (alternate contacts, regions). These are the changes an intruder holding the root password makes to keep access (access keys, users, MFA devices) and to blind the account (trails, recorders, detectors).
Calls made through another service (invokedBy) are excluded.
"""
tactics = ["TA0003", "TA0005"]
techniques = ["T1098", "T1562"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-tasks.html",
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html",
]
false_positives = [
  "Root-only account administration such as enabling MFA on a new account or changing alternate contacts (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own; when a correlation cites it, review every write the root user made after its sign-in."
tags = ["root", "iam", "logging", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE useridentity.type = 'Root'
  AND errorcode IS NULL
  AND readonly = 'false'
  AND useridentity.invokedby IS NULL
  AND eventsource IN (
    'iam.amazonaws.com',
    'cloudtrail.amazonaws.com',
    'config.amazonaws.com',
    'guardduty.amazonaws.com',
    'securityhub.amazonaws.com',
    'access-analyzer.amazonaws.com',
    'organizations.amazonaws.com',
    'account.amazonaws.com'
  )
