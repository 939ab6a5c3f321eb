/*
id = "aws.cloudtrail.delete_trail"
title = "CloudTrail trail deleted"
severity = "high"
description = """
Detects a successful CloudTrail DeleteTrail call. Deleting a trail permanently stops event delivery to its S3 bucket and CloudWatch Logs group, blinding any detection that depends on it.
Identify the trail from requestParameters.name, recreate it (or confirm another multi-region trail still covers the account) and investigate the caller's activity around the deletion.
"""
tactics = ["TA0005"]
techniques = ["T1562.008"]
stratus = ["aws.defense-evasion.cloudtrail-delete"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DeleteTrail.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-delete/",
]
false_positives = [
  "Consolidation of per-account trails into an organization trail",
  "Infrastructure-as-code teardown of a sandbox environment",
]
runbook = "Run cloudtrail describe-trails in the affected region to confirm the account is still covered by another trail, then review the caller's events."
tags = ["cloudtrail", "logging", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'cloudtrail.amazonaws.com'
  AND eventname = 'DeleteTrail'
  AND errorcode IS NULL
