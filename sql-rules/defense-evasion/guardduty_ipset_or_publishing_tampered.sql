/*
id = "aws.defense_evasion.guardduty_ipset_or_publishing_tampered"
title = "GuardDuty trusted IP list added, threat list removed or findings export deleted"
severity = "medium"
description = """
Detects successful GuardDuty calls that weaken detection without disabling the detector: CreateIPSet with activate true, or UpdateIPSet that activates a list or points it at a new file (GuardDuty raises no findings for traffic from trusted IP lists, so adding the attacker's addresses makes them invisible); DeleteThreatIntelSet, or UpdateThreatIntelSet with activate false (known-bad addresses stop being flagged); and DeletePublishingDestination (findings stop being exported to the S3 bucket the SOC collects them from).
For IP sets, download the list in requestParameters.location and check every address in it; for the other calls, restore the list or destination and review the caller's activity.
"""
tactics = ["TA0005"]
techniques = ["T1562.001"]
references = [
  "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateIPSet.html",
  "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_UpdateIPSet.html",
  "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DeleteThreatIntelSet.html",
  "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DeletePublishingDestination.html",
  "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_upload-lists.html",
]
false_positives = [
  "Security team maintaining the trusted IP list for scanners or office egress ranges",
  "Retiring an outdated threat list or moving the findings export to a new bucket",
]
runbook = "Compare requestParameters.location (IP sets) with the addresses the security team approved, and confirm with them that useridentity.arn manages GuardDuty lists and destinations."
tags = ["guardduty", "detection", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'guardduty.amazonaws.com'
  AND errorcode IS NULL
  AND (
    (eventname = 'CreateIPSet' AND json_extract_scalar(requestparameters, '$.activate') = 'true')
    OR (
      eventname = 'UpdateIPSet'
      AND (
        json_extract_scalar(requestparameters, '$.activate') = 'true'
        OR json_extract_scalar(requestparameters, '$.location') IS NOT NULL
      )
    )
    OR (eventname = 'UpdateThreatIntelSet' AND json_extract_scalar(requestparameters, '$.activate') = 'false')
    OR eventname IN ('DeleteThreatIntelSet', 'DeletePublishingDestination')
  )
