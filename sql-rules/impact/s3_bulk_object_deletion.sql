/*
id = "aws.impact.s3_bulk_object_deletion"
title = "S3 objects deleted in bulk with DeleteObjects"
severity = "medium"
description = """
Detects successful S3 DeleteObjects data events (multi-object delete, up to 1,000 keys per call) made directly by a user or role with a request body of at least 1 KiB (additionalEventData.bytesTransferredIn), which is roughly 15 or more keys: CloudTrail does not list the deleted keys, so the size of the XML key list stands in for their number. Ransomware and destructive actors empty buckets this way after copying the data out. Requires S3 data events in the trail. Calls by AWS services are excluded, and alerts are grouped per caller and bucket for an hour.
Check whether versioning is enabled on requestParameters.bucketName (deleted objects then remain as noncurrent versions) and what the same caller read or copied from the bucket beforehand.
"""
tactics = ["TA0040"]
techniques = ["T1485"]
stratus = ["aws.impact.s3-ransomware-batch-deletion"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.impact.s3-ransomware-batch-deletion/",
]
false_positives = [
  "Application or batch jobs that clean up objects in batches (aws s3 rm --recursive, aws s3 sync --delete)",
  "Data retention jobs run by a user or role instead of lifecycle rules",
]
runbook = "Compare the caller and time with the bucket's known cleanup jobs, then list object versions and delete markers on requestParameters.bucketName to measure what was removed."
tags = ["s3", "data-destruction", "ransomware", "impact"]
dedup_key = ["useridentity.arn", "json_extract_scalar(requestparameters, '$.bucketName')"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname = 'DeleteObjects'
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
  AND useridentity.invokedby IS NULL
  AND TRY_CAST(json_extract_scalar(additionaleventdata, '$.bytesTransferredIn') AS DOUBLE) >= 1024
