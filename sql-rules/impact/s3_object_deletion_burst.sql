/*
id = "aws.impact.s3_object_deletion_burst"
title = "S3 objects deleted one by one (DeleteObject burst)"
severity = "low"
description = """
Detects successful S3 DeleteObject data events made directly by a user or role (not by an AWS service, invokedBy empty) and groups them per caller and bucket over 15 minutes, so the alert's count is the size of the burst. Ransomware and destructive actors that avoid the multi-object DeleteObjects call remove objects, or every version of every object (requestParameters.versionId set), one request at a time after copying the data out. Requires S3 data events in the trail; lifecycle expirations are not logged as DeleteObject and do not match.
Each deletion is routine on its own: triage by the count and by whether versionId is present (permanent deletion of versions rather than a delete marker).
"""
tactics = ["TA0040"]
techniques = ["T1485"]
stratus = ["aws.impact.s3-ransomware-individual-deletion"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.impact.s3-ransomware-individual-deletion/",
]
false_positives = [
  "Applications that delete processed or temporary objects as part of normal work",
  "Users removing files from the S3 console or with aws s3 rm",
  "Cleanup and retention jobs run by a user or role instead of lifecycle rules",
]
runbook = "Look at the alert count and the keys in the grouped events; if the caller does not normally delete from requestParameters.bucketName, list object versions and delete markers to measure the loss and check what the same caller read or copied from the bucket beforehand."
tags = ["s3", "data-destruction", "ransomware", "impact"]
dedup_key = ["useridentity.arn", "json_extract_scalar(requestparameters, '$.bucketName')"]
dedup_period = "15m"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname = 'DeleteObject'
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
