/*
id = "aws.credential_access.secrets_manager_secret_retrieved"
title = "Secrets Manager secret value retrieved directly by a principal"
severity = "low"
description = """
Detects successful Secrets Manager GetSecretValue or BatchGetSecretValue calls made directly by a principal, either an IAM user signing with a long-term access key (AKIA) or any caller whose sourceIPAddress is an IP address rather than an AWS service endpoint. Retrievals performed by AWS services (userIdentity type AWSService, or invokedBy set, e.g. CloudFormation resolving a dynamic reference) are excluded.
Check whether the principal normally reads this secret (requestParameters.secretId, or secretIdList/filters for BatchGetSecretValue); an unfamiliar principal, a human session, or a burst across many secrets should lead to rotating the secrets and reviewing the principal's credentials.
"""
tactics = ["TA0006"]
techniques = ["T1555.006"]
stratus = ["aws.credential-access.secretsmanager-retrieve-secrets", "aws.credential-access.secretsmanager-batch-retrieve-secrets"]
references = [
  "https://docs.aws.amazon.com/secretsmanager/latest/userguide/monitoring-cloudtrail.html",
  "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_BatchGetSecretValue.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.secretsmanager-retrieve-secrets/",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.secretsmanager-batch-retrieve-secrets/",
]
false_positives = [
  "Applications reading their own secrets at start-up through an instance, task or function role",
  "Engineers viewing a secret in the console or CLI during troubleshooting",
]
runbook = "Check whether useridentity.arn (or its session issuer role) has read this secretId before, and whether sourceipaddress belongs to your workloads."
tags = ["secretsmanager", "secrets", "credential-access"]
dedup_key = ["useridentity.arn", "json_extract_scalar(requestparameters, '$.secretId')"]
dedup_period = "24h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'secretsmanager.amazonaws.com'
  AND eventname IN ('GetSecretValue', 'BatchGetSecretValue')
  AND errorcode IS NULL
  AND useridentity.type <> 'AWSService'
  AND useridentity.invokedby IS NULL
  AND (
    (useridentity.type = 'IAMUser' AND starts_with(useridentity.accesskeyid, 'AKIA'))
    OR regexp_like(sourceipaddress, '^[0-9A-Fa-f:.]+$')
  )
