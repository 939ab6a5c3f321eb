/*
id = "aws.cloudtrail.management_events_excluded"
title = "CloudTrail selectors changed to stop recording management events"
severity = "high"
description = """
Detects a successful PutEventSelectors call that leaves a trail without management events: basic selectors with includeManagementEvents false and no selector setting it true, or advanced selectors none of which selects eventCategory Management. Also detects PutInsightSelectors with an empty selector list, which switches off CloudTrail Insights anomaly detection on management events.
The trail keeps running, so status checks still pass while API activity stops being recorded. Restore the selectors on the trail in requestParameters.trailName and review the caller's activity from this point on through other sources.
"""
tactics = ["TA0005"]
techniques = ["T1562.008"]
stratus = ["aws.defense-evasion.cloudtrail-event-selectors"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutEventSelectors.html",
  "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutInsightSelectors.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-event-selectors/",
]
false_positives = [
  "A dedicated data-events-only trail configured alongside a separate management-events trail",
  "CloudTrail Insights disabled to save cost",
]
runbook = "Run cloudtrail get-event-selectors on requestParameters.trailName and confirm another trail still records management events for this account."
tags = ["cloudtrail", "logging", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'cloudtrail.amazonaws.com'
  AND errorcode IS NULL
  AND (
    (
      eventname = 'PutEventSelectors'
      AND (
        (
          regexp_like(requestparameters, '"includeManagementEvents"[[:space:]]*:[[:space:]]*false')
          AND NOT regexp_like(requestparameters, '"includeManagementEvents"[[:space:]]*:[[:space:]]*true')
        )
        OR (
          strpos(requestparameters, '"advancedEventSelectors"') > 0
          AND NOT regexp_like(requestparameters, '"equals"[[:space:]]*:[[:space:]]*.[[:space:]]*"Management"[[:space:]]*[]]')
        )
      )
    )
    OR (
      eventname = 'PutInsightSelectors'
      AND regexp_like(requestparameters, '"insightSelectors"[[:space:]]*:[[:space:]]*.[[:space:]]*[]]')
    )
  )
