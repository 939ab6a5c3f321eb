/*
id = "aws.exfiltration.s3_acl_public"
title = "S3 bucket or object ACL grants access to all users"
severity = "high"
description = """
Detects a successful S3 PutBucketAcl or PutObjectAcl that makes the bucket or object public: either a canned ACL public-read, public-read-write or authenticated-read in requestParameters.x-amz-acl, or an explicit grant (AccessControlPolicy grant or x-amz-grant-* header) to the AllUsers or AuthenticatedUsers group (http://acs.amazonaws.com/groups/global/...). AuthenticatedUsers means any AWS account, not only yours. Grants to the LogDelivery group and private canned ACLs are ignored. PutObjectAcl is a data event, so it is only seen when S3 data events are logged.
Revert the ACL (or enforce Object Ownership 'bucket owner enforced', which disables ACLs) unless the content is meant to be public.
"""
tactics = ["TA0010", "TA0009"]
techniques = ["T1537", "T1530"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketAcl.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectAcl.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl",
]
false_positives = [
  "Legacy static website or download buckets that still publish objects through ACLs",
  "Applications that upload public assets with a public-read ACL",
]
runbook = "Check requestParameters.bucketName (and key) for sensitive content, set the ACL back to private, turn on Block Public Access, and review anonymous access in server access logs since eventtime."
tags = ["s3", "acl", "public-access", "exfiltration"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname IN ('PutBucketAcl', 'PutObjectAcl')
  AND errorcode IS NULL
  AND (
    regexp_like(coalesce(json_extract(requestparameters, '$'), ''), 'acs[.]amazonaws[.]com/groups/global/(AllUsers|AuthenticatedUsers)')
    OR coalesce(
      json_extract_scalar(requestparameters, '$["x-amz-acl"][0]'),
      json_extract_scalar(requestparameters, '$["x-amz-acl"]')
    ) IN ('public-read', 'public-read-write', 'authenticated-read')
  )
