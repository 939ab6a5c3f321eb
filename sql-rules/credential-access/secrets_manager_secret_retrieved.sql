/*
id = "aws.credential_access.secrets_manager_secret_retrieved"
title = "Secrets Manager secret value retrieved by a person"
severity = "low"
description = """
Detects successful Secrets Manager GetSecretValue or BatchGetSecretValue calls made by a person rather than a workload: an IAM user signing with a long-term access key (AKIA), the root user, or a console session. Workload roles reading their own secrets, and AWS services (userIdentity type AWSService, or invokedBy set, e.g. CloudFormation resolving a dynamic reference), are routine and excluded; bursts by workload roles are left to correlation rules. Matches by one principal within an hour form one alert whose count is the burst size.
Check whether the principal normally reads these secrets (requestParameters.secretId, or secretIdList/filters for BatchGetSecretValue); an unfamiliar principal or a burst across many secrets should lead to rotating the secrets and reviewing the principal's credentials.
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
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
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
    OR useridentity.type = 'Root'
    OR sessioncredentialfromconsole = 'true'
  )
