/*
id = "aws.defense_evasion.eventbridge_security_rule_disabled"
title = "EventBridge rule for security tooling disabled or deleted"
severity = "low"
description = """
Detects successful EventBridge DisableRule and DeleteRule calls, made directly by a user or role, on a rule whose name points at security tooling (GuardDuty, Security Hub, CloudTrail, Config, Macie, Inspector, Access Analyzer, Detective, SIEM or SOAR forwarding, alerting, incident response, remediation, audit, threat, findings or compliance). Such rules deliver findings and alarms to the SOC or trigger automatic remediation; disabling them silences alerts without touching the detectors themselves. The match is on the rule name only, so review the rule's event pattern to confirm it served security. Calls made through a service on the caller's behalf (useridentity.invokedby, such as CloudFormation) are excluded.
Re-enable or recreate the rule in requestParameters.name and check which alerts were lost in between.
"""
tactics = ["TA0005"]
techniques = ["T1562.001"]
references = [
  "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DisableRule.html",
  "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DeleteRule.html",
  "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html",
]
false_positives = [
  "Security engineers redeploying or renaming their alert routing rules",
  "Rules whose names merely contain words like audit or alert but serve operations",
]
runbook = "Run events describe-rule for requestParameters.name to see its event pattern and targets, and ask the security team whether useridentity.arn was expected to change it."
tags = ["eventbridge", "alerting", "defense-evasion"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'events.amazonaws.com'
  AND eventname IN ('DisableRule', 'DeleteRule')
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
  AND useridentity.invokedby IS NULL
  AND regexp_like(
    lower(json_extract_scalar(requestparameters, '$.name')),
    'guardduty|securityhub|security-hub|security|cloudtrail|aws-?config|config-?rule|macie|inspector|access-?analyzer|detective|siem|soar|incident|remediat|audit|threat|finding|compliance|alert'
  )
