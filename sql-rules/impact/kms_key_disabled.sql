/*
id = "aws.impact.kms_key_disabled"
title = "KMS key disabled"
severity = "medium"
description = """
Detects a successful KMS DisableKey call. A disabled key can no longer encrypt or decrypt, so every service and application depending on it (S3 SSE-KMS objects, EBS volumes, RDS, Secrets Manager, Lambda environment variables) fails until the key is enabled again. Attackers disable keys to cause an outage or as a ransom lever, often before scheduling deletion.
Re-enable the key in requestParameters.keyId (kms enable-key) unless its owner confirms the change, and look for a ScheduleKeyDeletion or key policy change by the same caller.
"""
tactics = ["TA0040"]
techniques = ["T1485", "T1486"]
references = [
  "https://docs.aws.amazon.com/kms/latest/APIReference/API_DisableKey.html",
  "https://docs.aws.amazon.com/kms/latest/developerguide/enabling-keys.html",
]
false_positives = [
  "Key owners disabling a key before scheduling its deletion, to see whether anything still uses it",
  "Incident responders disabling a key that may have been misused",
]
runbook = "Run kms describe-key on requestParameters.keyId to identify what it protects and ask the key owner whether useridentity.arn was expected to disable it."
tags = ["kms", "encryption", "impact"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'kms.amazonaws.com'
  AND eventname = 'DisableKey'
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
