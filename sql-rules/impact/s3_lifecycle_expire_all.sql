/*
id = "aws.impact.s3_lifecycle_expire_all"
title = "S3 lifecycle rule expires every object after one day"
severity = "high"
description = """
Detects a successful S3 PutBucketLifecycle (PutBucketLifecycleConfiguration) call that sets an enabled rule with Expiration Days 1 and an empty filter (no prefix, tag or size condition), so that S3 deletes every object in the bucket within a day without any further API call. Attackers use it to destroy data, or to erase CloudTrail and access logs quietly, since the deletions themselves are made by S3 and are not logged as DeleteObject calls. A one-day expiration limited to a prefix such as tmp/ is common and does not match. The check covers a configuration with a single rule and the first three rules of a multi-rule configuration.
Remove or fix the lifecycle rule on requestParameters.bucketName immediately; with versioning enabled, deleted objects can still be restored from their noncurrent versions.
"""
tactics = ["TA0040", "TA0005"]
techniques = ["T1485", "T1562.008"]
stratus = ["aws.defense-evasion.cloudtrail-lifecycle-rule"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-lifecycle-rule/",
]
false_positives = [
  "Scratch or staging buckets whose whole content is meant to live one day (for example query results or temporary uploads)",
]
runbook = "Run s3api get-bucket-lifecycle-configuration on requestParameters.bucketName, remove the rule if the bucket owner did not ask for it, and check whether the bucket holds CloudTrail or access logs."
tags = ["s3", "lifecycle", "data-destruction", "impact"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname = 'PutBucketLifecycle'
  AND errorcode IS NULL
  AND (
    (
      json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule.Expiration.Days') = '1'
      AND json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule.Status') = 'Enabled'
      AND coalesce(json_extract(requestparameters, '$.LifecycleConfiguration.Rule.Filter'), '{}') IN ('{}', '""', '{"Prefix":""}')
      AND coalesce(json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule.Prefix'), '') = ''
    )
    OR (
      json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule[0].Expiration.Days') = '1'
      AND json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule[0].Status') = 'Enabled'
      AND coalesce(json_extract(requestparameters, '$.LifecycleConfiguration.Rule[0].Filter'), '{}') IN ('{}', '""', '{"Prefix":""}')
      AND coalesce(json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule[0].Prefix'), '') = ''
    )
    OR (
      json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule[1].Expiration.Days') = '1'
      AND json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule[1].Status') = 'Enabled'
      AND coalesce(json_extract(requestparameters, '$.LifecycleConfiguration.Rule[1].Filter'), '{}') IN ('{}', '""', '{"Prefix":""}')
      AND coalesce(json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule[1].Prefix'), '') = ''
    )
    OR (
      json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule[2].Expiration.Days') = '1'
      AND json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule[2].Status') = 'Enabled'
      AND coalesce(json_extract(requestparameters, '$.LifecycleConfiguration.Rule[2].Filter'), '{}') IN ('{}', '""', '{"Prefix":""}')
      AND coalesce(json_extract_scalar(requestparameters, '$.LifecycleConfiguration.Rule[2].Prefix'), '') = ''
    )
  )
