/*
id = "aws.exfiltration.s3_public_access_block_removed"
title = "S3 Block Public Access removed or weakened"
severity = "medium"
description = """
Detects successful changes that lift S3 Block Public Access, at bucket or account level: DeleteBucketPublicAccessBlock or DeleteAccountPublicAccessBlock (also accepted under the API names DeletePublicAccessBlock), and PutBucketPublicAccessBlock or PutAccountPublicAccessBlock (or PutPublicAccessBlock) whose requestParameters.PublicAccessBlockConfiguration leaves any of BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy or RestrictPublicBuckets false or unset (unset means false).
Block Public Access is the safety net that stops public policies and ACLs from taking effect; removing it usually precedes making a bucket public. Check what follows on the same bucket (PutBucketPolicy, PutBucketAcl).
"""
tactics = ["TA0005", "TA0010"]
techniques = ["T1562", "T1537"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutPublicAccessBlock.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeletePublicAccessBlock.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PutPublicAccessBlock.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
]
false_positives = [
  "Setting up a public website or public dataset bucket",
  "Infrastructure-as-code that manages the four settings individually and applies them in several calls",
]
runbook = "Check whether requestParameters.bucketName (or the whole account, when there is no bucket) is meant to be public, restore the four Block Public Access settings if not, and look for policy or ACL changes on the bucket right after."
tags = ["s3", "block-public-access", "defense-evasion", "exfiltration"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource IN ('s3.amazonaws.com', 's3-control.amazonaws.com')
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
  AND (
    eventname IN ('DeleteBucketPublicAccessBlock', 'DeleteAccountPublicAccessBlock', 'DeletePublicAccessBlock')
    OR (
      eventname IN ('PutBucketPublicAccessBlock', 'PutAccountPublicAccessBlock', 'PutPublicAccessBlock')
      AND json_extract(requestparameters, '$.PublicAccessBlockConfiguration') IS NOT NULL
      AND (
        coalesce(json_extract_scalar(requestparameters, '$.PublicAccessBlockConfiguration.BlockPublicAcls'), 'false') <> 'true'
        OR coalesce(json_extract_scalar(requestparameters, '$.PublicAccessBlockConfiguration.IgnorePublicAcls'), 'false') <> 'true'
        OR coalesce(json_extract_scalar(requestparameters, '$.PublicAccessBlockConfiguration.BlockPublicPolicy'), 'false') <> 'true'
        OR coalesce(json_extract_scalar(requestparameters, '$.PublicAccessBlockConfiguration.RestrictPublicBuckets'), 'false') <> 'true'
      )
    )
  )
