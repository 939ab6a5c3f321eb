/*
id = "aws.privilege_escalation.inline_policy_full_admin"
title = "Inline IAM policy granting every action on every resource"
severity = "high"
description = """
Detects a successful IAM PutUserPolicy, PutRolePolicy or PutGroupPolicy whose requestParameters.policyDocument allows Action "*" on Resource "*" (as a string or inside a list, with any whitespace). The policy text must contain an Allow effect, an Action element equal to or listing "*", and a Resource element equal to or listing "*"; the three are not tied to the same statement. Inline policies IAM Identity Center writes on its own AWSReservedSSO_ roles through the AWSServiceRoleForSSO service-linked role are excluded (the permission set change itself is the event to review).
An inline full-admin policy is the quickest self-escalation for a principal that has iam:Put*Policy, and unlike AttachUserPolicy with AdministratorAccess it does not name a well-known policy ARN. Confirm the change was approved; if not, delete the inline policy (requestParameters.policyName) and review what the target identity did afterwards.
"""
tactics = ["TA0004", "TA0003"]
techniques = ["T1098.003"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPolicy.html",
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html",
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutGroupPolicy.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html",
]
false_positives = [
  "Break-glass or account bootstrap roles that are given full access by infrastructure as code",
  "Policies whose Allow statement is scoped while a separate Deny statement uses Action * on Resource *",
]
runbook = "Read requestParameters.policyDocument to confirm the Allow *:* statement, identify the target (userName, roleName or groupName) and check whether the caller is the target itself."
tags = ["iam", "policy", "inline-policy", "privilege-escalation"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname IN ('PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy')
  AND errorcode IS NULL
  AND regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '(?i)"Effect"[[:space:]]*:[[:space:]]*"Allow"')
  AND regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '(?i)"Action"[[:space:]]*:[[:space:]]*("[*]"|[^"[:space:]][^]]*"[*]")')
  AND regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '(?i)"Resource"[[:space:]]*:[[:space:]]*("[*]"|[^"[:space:]][^]]*"[*]")')
  AND NOT (
    eventname = 'PutRolePolicy'
    AND coalesce(useridentity.sessioncontext.sessionissuer.arn, '') LIKE '%:role/aws-service-role/sso.amazonaws.com/AWSServiceRoleForSSO'
    AND starts_with(coalesce(json_extract_scalar(requestparameters, '$.roleName'), ''), 'AWSReservedSSO_')
  )
