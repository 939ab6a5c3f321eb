/*
id = "aws.defense_evasion.s3_server_access_logging_disabled"
title = "S3 server access logging disabled on a bucket"
severity = "medium"
description = """
Detects a successful S3 PutBucketLogging call whose BucketLoggingStatus has no LoggingEnabled element, which turns server access logging off for the bucket. Server access logs are often the only per-object record of reads and deletions when S3 data events are not sent to CloudTrail, so disabling them ahead of exfiltration or deletion hides the activity. Calls that enable or change the log target do not match.
Re-enable access logging on requestParameters.bucketName and review reads, writes and deletions on the bucket after this event.
"""
tactics = ["TA0005"]
techniques = ["T1562.008"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLogging.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html",
]
false_positives = [
  "Switching a bucket from server access logs to CloudTrail data events",
  "Teardown of a bucket that is about to be deleted",
]
runbook = "Run s3api get-bucket-logging on requestParameters.bucketName and confirm with the bucket owner that useridentity.arn was expected to turn logging off."
tags = ["s3", "logging", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname = 'PutBucketLogging'
  AND errorcode IS NULL
  AND json_extract(requestparameters, '$.BucketLoggingStatus') IS NOT NULL
  AND json_extract(requestparameters, '$.BucketLoggingStatus.LoggingEnabled') IS NULL
