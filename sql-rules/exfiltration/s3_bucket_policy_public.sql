/*
id = "aws.exfiltration.s3_bucket_policy_public"
title = "S3 bucket policy grants unconditional public access"
severity = "high"
description = """
Detects a successful S3 PutBucketPolicy whose policy (requestParameters.bucketPolicy) contains an Allow statement for every principal (Principal "*" or {"AWS": "*"}) without any Condition block, which makes the bucket readable or writable by anyone on the internet, unless Block Public Access stops it. Deny statements and statements restricted by a Condition (aws:SourceVpce, aws:PrincipalOrgID, aws:SourceIp...) are ignored. The statement may be a single object or one of the first five entries of the Statement list.
Check which actions and resources the public statement grants; if the bucket is not meant to be public, restore the previous policy and review S3 access (server access logs or data events) since the change.
"""
tactics = ["TA0010", "TA0009"]
techniques = ["T1537", "T1530"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html",
]
false_positives = [
  "Buckets that host public websites or public downloads on purpose",
  "Policies whose public statement is restricted by a mechanism other than a Condition (rare)",
]
runbook = "Open the bucket's policy (requestParameters.bucketName) and the public statement; if the exposure is not intended, put back a private policy, enable Block Public Access, and look for anonymous reads since eventtime."
tags = ["s3", "bucket-policy", "public-access", "exfiltration"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname = 'PutBucketPolicy'
  AND errorcode IS NULL
  AND (
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement.Effect') = 'Allow'
      AND regexp_like(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement.Principal'), ''), '"[*]"')
      AND json_extract(requestparameters, '$.bucketPolicy.Statement.Condition') IS NULL
    )
    OR
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement[0].Effect') = 'Allow'
      AND regexp_like(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[0].Principal'), ''), '"[*]"')
      AND json_extract(requestparameters, '$.bucketPolicy.Statement[0].Condition') IS NULL
    )
    OR
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement[1].Effect') = 'Allow'
      AND regexp_like(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[1].Principal'), ''), '"[*]"')
      AND json_extract(requestparameters, '$.bucketPolicy.Statement[1].Condition') IS NULL
    )
    OR
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement[2].Effect') = 'Allow'
      AND regexp_like(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[2].Principal'), ''), '"[*]"')
      AND json_extract(requestparameters, '$.bucketPolicy.Statement[2].Condition') IS NULL
    )
    OR
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement[3].Effect') = 'Allow'
      AND regexp_like(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[3].Principal'), ''), '"[*]"')
      AND json_extract(requestparameters, '$.bucketPolicy.Statement[3].Condition') IS NULL
    )
    OR
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement[4].Effect') = 'Allow'
      AND regexp_like(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[4].Principal'), ''), '"[*]"')
      AND json_extract(requestparameters, '$.bucketPolicy.Statement[4].Condition') IS NULL
    )
  )
