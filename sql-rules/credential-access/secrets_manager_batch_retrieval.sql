/*
id = "aws.credential_access.secrets_manager_batch_retrieval"
title = "Secrets Manager secrets retrieved in bulk with BatchGetSecretValue"
severity = "medium"
description = """
Detects a successful Secrets Manager BatchGetSecretValue call by any principal other than an AWS service (userIdentity type AWSService or invokedBy set are excluded). One call returns up to 20 secret values, selected either by requestParameters.secretIdList or by requestParameters.filters (name, tag-key, tag-value, description...), so a single event can hand an attacker most of the secrets of an account. Few applications use the batch API; it complements the broader GetSecretValue rule (aws.credential_access.secrets_manager_secret_retrieved), which only looks at long-term keys and IP-sourced callers.
Review which secrets were returned (filters or secretIdList), and rotate them if the caller or source IP is not a known consumer.
"""
tactics = ["TA0006"]
techniques = ["T1555.006"]
stratus = ["aws.credential-access.secretsmanager-batch-retrieve-secrets"]
references = [
  "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_BatchGetSecretValue.html",
  "https://docs.aws.amazon.com/secretsmanager/latest/userguide/monitoring-cloudtrail.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.secretsmanager-batch-retrieve-secrets/",
]
false_positives = [
  "Applications or secret-sync tools (External Secrets, CI plugins) that load their secrets in one batch at start-up",
  "Secret inventory or migration scripts run by the platform team",
]
runbook = "Check whether useridentity.arn (or its session issuer role) is a known batch consumer and which secrets requestParameters.filters or secretIdList selected; rotate them if the call is unexplained."
tags = ["secretsmanager", "secrets", "credential-access"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'secretsmanager.amazonaws.com'
  AND eventname = 'BatchGetSecretValue'
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
