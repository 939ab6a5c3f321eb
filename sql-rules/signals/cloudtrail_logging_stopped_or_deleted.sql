/*
id = "aws.signals.cloudtrail_logging_stopped_or_deleted"
title = "CloudTrail trail stopped or deleted (signal)"
severity = "info"
description = """
Signal for correlations: a successful CloudTrail StopLogging or DeleteTrail call, the two calls that end event delivery for a trail. Each already alerts on its own (aws.cloudtrail.stop_logging, aws.cloudtrail.delete_trail); this signal lets a correlation treat them as one step.
"""
tactics = ["TA0005"]
techniques = ["T1562.008"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html",
  "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DeleteTrail.html",
]
false_positives = [
  "Planned trail maintenance (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own; the detections aws.cloudtrail.stop_logging and aws.cloudtrail.delete_trail carry the response steps."
tags = ["cloudtrail", "logging", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'cloudtrail.amazonaws.com'
  AND eventname IN ('StopLogging', 'DeleteTrail')
  AND errorcode IS NULL
