/*
id = "aws.signals.s3_destructive_write"
title = "S3 object deletion or lifecycle change (signal)"
severity = "info"
description = """
Signal for correlations: a successful S3 DeleteObject, DeleteObjects (multi-object delete) or PutBucketLifecycle (the CloudTrail name of PutBucketLifecycleConfiguration) made directly by a user or role, not by an AWS service. Object deletions are data events and appear only when S3 data events are logged. Failed calls are left out: the correlation measures destruction that happened.
Used by aws.correlation.s3_mass_deletion_or_lifecycle, which counts them per bucket.
"""
tactics = ["TA0040"]
techniques = ["T1485"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html",
]
false_positives = [
  "Applications deleting processed objects (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own."
tags = ["s3", "impact", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname IN ('DeleteObject', 'DeleteObjects', 'PutBucketLifecycle', 'PutBucketLifecycleConfiguration')
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
