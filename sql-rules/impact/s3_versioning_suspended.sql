/*
id = "aws.impact.s3_versioning_suspended"
title = "S3 bucket versioning suspended"
severity = "medium"
description = """
Detects a successful S3 PutBucketVersioning call with VersioningConfiguration.Status Suspended. Once versioning is suspended, overwritten and deleted objects are no longer kept as recoverable versions, so a following deletion, overwrite or encryption of the data cannot be undone; ransomware actors suspend versioning before destroying or encrypting objects.
Re-enable versioning on requestParameters.bucketName unless the bucket owner confirms the change, and watch for DeleteObject(s), PutObject or lifecycle changes on the bucket by the same caller.
"""
tactics = ["TA0040"]
techniques = ["T1490"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketVersioning.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html",
]
false_positives = [
  "Cost-driven suspension of versioning on buckets with high-churn, reproducible data",
  "Bucket teardown before deletion",
]
runbook = "Run s3api get-bucket-versioning on requestParameters.bucketName and ask the bucket owner whether useridentity.arn was expected to suspend it."
tags = ["s3", "versioning", "ransomware", "impact"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname = 'PutBucketVersioning'
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.VersioningConfiguration.Status') = 'Suspended'
