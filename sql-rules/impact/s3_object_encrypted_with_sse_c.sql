/*
id = "aws.impact.s3_object_encrypted_with_sse_c"
title = "S3 object written with a customer-provided encryption key (SSE-C)"
severity = "high"
description = """
Detects successful S3 PutObject, CopyObject and CreateMultipartUpload data events that encrypt the new object with a customer-provided key (SSE-C): the request carries x-amz-server-side-encryption-customer-algorithm or additionalEventData.SSEApplied is SSE_C. AWS does not keep SSE-C keys, so whoever supplied the key is the only one able to read the object again; ransomware actors (for example the Codefinger campaign) rewrite a victim's objects in place with CopyObject and their own key, then set a short lifecycle rule and demand payment. Few workloads use SSE-C, so its appearance is worth a look. Copies that only decrypt an SSE-C source (x-amz-copy-source-server-side-encryption-customer-algorithm) do not match. Requires S3 data events; alerts are grouped per caller and bucket for an hour.
Confirm whether the bucket's applications legitimately use SSE-C; if not, disable the access key or session in useridentity.accesskeyid at once and check for versioning and lifecycle changes on the bucket.
"""
tactics = ["TA0040"]
techniques = ["T1486"]
stratus = ["aws.impact.s3-ransomware-client-side-encryption"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html",
  "https://aws.amazon.com/blogs/security/preventing-unintended-encryption-of-amazon-s3-objects/",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.impact.s3-ransomware-client-side-encryption/",
]
false_positives = [
  "Applications that deliberately manage their own keys with SSE-C",
]
runbook = "Check with the owner of requestParameters.bucketName whether SSE-C is in use; if not, revoke the credentials of useridentity.arn and block SSE-C with a bucket policy on s3:x-amz-server-side-encryption-customer-algorithm."
tags = ["s3", "encryption", "ransomware", "impact"]
dedup_key = ["useridentity.arn", "json_extract_scalar(requestparameters, '$.bucketName')"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname IN ('PutObject', 'CopyObject', 'CreateMultipartUpload')
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
  AND (
    json_extract_scalar(requestparameters, '$["x-amz-server-side-encryption-customer-algorithm"]') IS NOT NULL
    OR json_extract_scalar(additionaleventdata, '$.SSEApplied') = 'SSE_C'
  )
