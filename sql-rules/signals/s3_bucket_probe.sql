/*
id = "aws.signals.s3_bucket_probe"
title = "S3 bucket listed or its configuration read (signal)"
severity = "info"
description = """
Signal for correlations: an S3 ListObjects (ListObjectsV2), GetBucketAcl, GetBucketPolicy, HeadBucket or GetBucketLocation call made directly by a user or role, whatever its outcome: refusals (AccessDenied) and missing configurations (NoSuchBucketPolicy) are kept because an enumeration sweep produces many of them. AWS services (AWSService identity, invokedBy) and service-linked roles (AWS Config, Access Analyzer, Macie under role/aws-service-role/) are excluded. ListObjects and HeadBucket are data events and appear only when S3 data events are logged.
Used by aws.correlation.s3_bucket_enumeration, which counts distinct buckets per principal.
"""
tactics = ["TA0007"]
techniques = ["T1619"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketAcl.html",
]
false_positives = [
  "Applications listing their own bucket (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own."
tags = ["s3", "discovery", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname IN ('ListObjects', 'ListObjectsV2', 'GetBucketAcl', 'GetBucketPolicy', 'HeadBucket', 'GetBucketLocation')
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
  AND coalesce(useridentity.sessioncontext.sessionissuer.arn, '') NOT LIKE '%:role/aws-service-role/%'
