/*
id = "aws.cloudtrail.stop_logging"
title = "CloudTrail logging stopped"
severity = "high"
description = """
Detects a successful CloudTrail StopLogging call, which suspends delivery of events for the trail while leaving its configuration in place. Attackers use it to blind the audit log before acting and may call StartLogging afterwards to hide the gap.
Restart logging on the trail named in requestParameters.name immediately, then review what the same principal and source IP did between this event and the next StartLogging.
"""
tactics = ["TA0005"]
techniques = ["T1562.008"]
stratus = ["aws.defense-evasion.cloudtrail-stop"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-stop/",
]
false_positives = [
  "Planned trail maintenance or migration by the platform team",
  "Decommissioning of a test account trail",
]
runbook = "Check whether the trail in requestParameters.name is logging again (cloudtrail get-trail-status) and whether a change ticket covers the caller."
tags = ["cloudtrail", "logging", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'cloudtrail.amazonaws.com'
  AND eventname = 'StopLogging'
  AND errorcode IS NULL
