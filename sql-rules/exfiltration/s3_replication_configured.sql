/*
id = "aws.exfiltration.s3_replication_configured"
title = "S3 bucket replication configured"
severity = "medium"
description = """
Detects a successful S3 PutBucketReplication, which makes S3 copy every new object of requestParameters.bucketName to the destination bucket of each rule. Read the destination in requestParameters.ReplicationConfiguration.Rule (a single object or a list): Destination.Bucket is the target bucket ARN, and Destination.Account, when present, is the account that owns it (set when ownership is transferred with AccessControlTranslation). A destination in an account outside your organization is a silent, continuous exfiltration channel that survives credential rotation. Calls by AWS services (invokedBy set) are excluded.
"""
tactics = ["TA0010"]
techniques = ["T1537", "T1020"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketReplication.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-walkthrough-2.html",
]
false_positives = [
  "Disaster-recovery replication to a bucket of the same organization in another region or account",
  "Data platform teams replicating datasets to an analytics account",
]
runbook = "Read Destination.Bucket and Destination.Account in requestParameters.ReplicationConfiguration, confirm the destination account belongs to your organization, and delete the replication configuration if it does not."
tags = ["s3", "replication", "exfiltration"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname = 'PutBucketReplication'
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
