/*
id = "aws.privilege_escalation.admin_policy_version_set_default"
title = "New default IAM policy version granting every action"
severity = "high"
description = """
Detects a successful IAM CreatePolicyVersion with setAsDefault = true whose policyDocument allows Action "*" on Resource "*" (string or list form, any whitespace; the Allow effect, Action and Resource are checked across the document, not per statement).
A principal allowed iam:CreatePolicyVersion on a customer managed policy attached to itself can rewrite that policy into full admin and make it effective immediately, a well-known IAM privilege escalation path that needs no attach or pass-role permission. Confirm the new version was approved; if not, set a previous version as default (iam set-default-policy-version), delete the new one and review every identity the policy is attached to.
"""
tactics = ["TA0004"]
techniques = ["T1098.003"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html",
]
false_positives = [
  "Infrastructure as code updating an intentionally full-admin customer managed policy",
]
runbook = "List the entities attached to requestParameters.policyArn (iam list-entities-for-policy) and check whether the caller is one of them."
tags = ["iam", "policy", "policy-version", "privilege-escalation"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname = 'CreatePolicyVersion'
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.setAsDefault') = 'true'
  AND regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '(?i)"Effect"[[:space:]]*:[[:space:]]*"Allow"')
  AND regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '(?i)"Action"[[:space:]]*:[[:space:]]*("[*]"|[^"[:space:]][^]]*"[*]")')
  AND regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '(?i)"Resource"[[:space:]]*:[[:space:]]*("[*]"|[^"[:space:]][^]]*"[*]")')
