/*
id = "aws.defense_evasion.cloudwatch_log_group_deleted"
title = "CloudWatch Logs log group or log stream deleted"
severity = "medium"
description = """
Detects successful CloudWatch Logs DeleteLogGroup and DeleteLogStream calls made directly by a user or role. Deleting a log group erases every event it holds (CloudTrail, VPC flow, DNS query, application and Lambda logs) and is a common way to destroy evidence. Calls made by AWS services or through a service on the caller's behalf (useridentity.invokedby, for example CloudFormation stack deletion) are excluded.
Check what requestParameters.logGroupName contained (subscriptions, metric filters, exports to S3) and whether the deletion was planned; if not, restore from any export and review the caller's activity.
"""
tactics = ["TA0005"]
techniques = ["T1070", "T1562.008"]
references = [
  "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DeleteLogGroup.html",
  "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DeleteLogStream.html",
  "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/logging_cw_api_calls.html",
]
false_positives = [
  "Terraform or scripts tearing down Lambda functions and their log groups",
  "Log hygiene jobs that delete empty or stale log streams",
]
runbook = "Identify the owner of requestParameters.logGroupName and confirm the deletion with them; check whether the group fed a SIEM subscription that is now silent."
tags = ["logs", "cloudwatch", "logging", "defense-evasion"]
dedup_key = ["useridentity.arn", "recipientaccountid", "awsregion"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'logs.amazonaws.com'
  AND eventname IN ('DeleteLogGroup', 'DeleteLogStream')
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
  AND useridentity.invokedby IS NULL
