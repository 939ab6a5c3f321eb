/*
id = "aws.defense_evasion.inspector_disabled"
title = "Amazon Inspector scanning disabled"
severity = "medium"
description = """
Detects a successful Amazon Inspector (inspector2) Disable call, which stops vulnerability scanning of EC2 instances, ECR images and Lambda functions for the accounts in requestParameters.accountIds (the caller's own account when absent) and the resource types in requestParameters.resourceTypes (all of them when absent). Attackers disable Inspector before deploying vulnerable or backdoored workloads so no findings are raised.
Re-enable scanning for the accounts and resource types listed in responseElements.accounts and review what was deployed after this event.
"""
tactics = ["TA0005"]
techniques = ["T1562.001"]
references = [
  "https://docs.aws.amazon.com/inspector/v2/APIReference/API_Disable.html",
  "https://docs.aws.amazon.com/inspector/latest/user/logging-using-cloudtrail.html",
]
false_positives = [
  "Cost-driven disabling of a scan type (for example Lambda code scanning) approved by the security team",
  "Delegated administrator disabling scanning for a member account being decommissioned",
]
runbook = "Run inspector2 batch-get-account-status for the accounts in requestParameters.accountIds and confirm with the security team that useridentity.arn was allowed to disable scanning."
tags = ["inspector", "vulnerability-scanning", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'inspector2.amazonaws.com'
  AND eventname = 'Disable'
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
