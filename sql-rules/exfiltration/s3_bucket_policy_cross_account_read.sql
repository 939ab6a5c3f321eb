/*
id = "aws.exfiltration.s3_bucket_policy_cross_account_read"
title = "S3 bucket policy grants read access to another AWS account"
severity = "medium"
description = """
Detects a successful S3 PutBucketPolicy with an Allow statement whose Principal.AWS names an account other than the bucket owner (any 12-digit account ID that is not recipientAccountId, as a bare ID or inside an ARN) and whose Action covers reading or listing (s3:GetObject*, s3:Get*, s3:List*, s3:* or *). Write-only grants such as log delivery and principals of the owning account are ignored. The statement may be a single object or one of the first five entries of the Statement list.
This is how an attacker backdoors a bucket for exfiltration from their own account. Confirm that the account IDs in the statement belong to your organization or a known partner.
"""
tactics = ["TA0010", "TA0003"]
techniques = ["T1537"]
stratus = ["aws.exfiltration.s3-backdoor-bucket-policy"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.exfiltration.s3-backdoor-bucket-policy/",
]
false_positives = [
  "Data sharing with accounts of the same organization or with partners (analytics, backups, data lakes)",
  "Central security or audit accounts granted read access to log buckets",
]
runbook = "Extract the account IDs from the Principal of the Allow statements in requestParameters.bucketPolicy and check them against your organization and partner list; remove unknown grants and review reads on requestParameters.bucketName since eventtime."
tags = ["s3", "bucket-policy", "cross-account", "exfiltration"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname = 'PutBucketPolicy'
  AND errorcode IS NULL
  AND (
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement.Effect') = 'Allow'
      AND regexp_like(replace(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement.Principal.AWS'), ''), recipientaccountid, ''), '[0-9]{12}')
      AND regexp_like(lower(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement.Action'), '')), '"(s3:)?[*]"|"s3:get[*]"|"s3:getobject|"s3:list')
    )
    OR
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement[0].Effect') = 'Allow'
      AND regexp_like(replace(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[0].Principal.AWS'), ''), recipientaccountid, ''), '[0-9]{12}')
      AND regexp_like(lower(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[0].Action'), '')), '"(s3:)?[*]"|"s3:get[*]"|"s3:getobject|"s3:list')
    )
    OR
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement[1].Effect') = 'Allow'
      AND regexp_like(replace(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[1].Principal.AWS'), ''), recipientaccountid, ''), '[0-9]{12}')
      AND regexp_like(lower(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[1].Action'), '')), '"(s3:)?[*]"|"s3:get[*]"|"s3:getobject|"s3:list')
    )
    OR
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement[2].Effect') = 'Allow'
      AND regexp_like(replace(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[2].Principal.AWS'), ''), recipientaccountid, ''), '[0-9]{12}')
      AND regexp_like(lower(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[2].Action'), '')), '"(s3:)?[*]"|"s3:get[*]"|"s3:getobject|"s3:list')
    )
    OR
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement[3].Effect') = 'Allow'
      AND regexp_like(replace(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[3].Principal.AWS'), ''), recipientaccountid, ''), '[0-9]{12}')
      AND regexp_like(lower(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[3].Action'), '')), '"(s3:)?[*]"|"s3:get[*]"|"s3:getobject|"s3:list')
    )
    OR
    (
      json_extract_scalar(requestparameters, '$.bucketPolicy.Statement[4].Effect') = 'Allow'
      AND regexp_like(replace(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[4].Principal.AWS'), ''), recipientaccountid, ''), '[0-9]{12}')
      AND regexp_like(lower(coalesce(json_extract(requestparameters, '$.bucketPolicy.Statement[4].Action'), '')), '"(s3:)?[*]"|"s3:get[*]"|"s3:getobject|"s3:list')
    )
  )
