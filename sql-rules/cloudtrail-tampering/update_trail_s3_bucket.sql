/*
id = "aws.cloudtrail.update_trail_s3_bucket"
title = "CloudTrail trail redirected to a different S3 bucket"
severity = "high"
description = """
Detects a successful CloudTrail UpdateTrail call that sets s3BucketName, which changes where the trail delivers its log files. An attacker can point the trail at a bucket they control (or one that does not accept the writes) so that defenders lose the logs while the trail still looks enabled.
Verify that the bucket in requestParameters.s3BucketName belongs to your log-archive account and has the expected bucket policy; if not, restore the original bucket and review the caller's activity.
"""
tactics = ["TA0005"]
techniques = ["T1562.008"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_UpdateTrail.html",
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/best-practices-security.html",
]
false_positives = [
  "Migration of trails to a new central log-archive bucket",
]
runbook = "Compare requestParameters.s3BucketName with the approved log-archive bucket and check that bucket's owner account."
tags = ["cloudtrail", "logging", "s3", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'cloudtrail.amazonaws.com'
  AND eventname = 'UpdateTrail'
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.s3BucketName') IS NOT NULL
