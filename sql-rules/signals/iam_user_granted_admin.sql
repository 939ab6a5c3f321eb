/*
id = "aws.signals.iam_user_granted_admin"
title = "Administrator rights granted to an IAM user (signal)"
severity = "info"
description = """
Signal for correlations: an IAM user (requestParameters.userName) is given administrator rights by a successful AttachUserPolicy of the AWS managed AdministratorAccess policy, a PutUserPolicy inline policy that allows every action on every resource, or an AddUserToGroup into a group whose name contains "admin". Grants to roles and groups are out of scope: the correlation that uses this signal follows one user from creation to admin.
The individual grants already alert through aws.privilege_escalation.admin_policy_attached, aws.privilege_escalation.inline_policy_full_admin and aws.privilege_escalation.user_added_to_admin_group.
"""
tactics = ["TA0004", "TA0003"]
techniques = ["T1098.003"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachUserPolicy.html",
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPolicy.html",
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_AddUserToGroup.html",
]
false_positives = [
  "Approved onboarding of administrators (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own; when a correlation cites it, check who requested admin rights for requestParameters.userName."
tags = ["iam", "privilege-escalation", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.userName') IS NOT NULL
  AND (
    (
      eventname = 'AttachUserPolicy'
      AND json_extract_scalar(requestparameters, '$.policyArn') LIKE '%:policy/AdministratorAccess'
    )
    OR (
      eventname = 'PutUserPolicy'
      AND regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '(?i)"Effect"[[:space:]]*:[[:space:]]*"Allow"')
      AND regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '(?i)"Action"[[:space:]]*:[[:space:]]*("[*]"|[^"[:space:]][^]]*"[*]")')
      AND regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '(?i)"Resource"[[:space:]]*:[[:space:]]*("[*]"|[^"[:space:]][^]]*"[*]")')
    )
    OR (
      eventname = 'AddUserToGroup'
      AND lower(json_extract_scalar(requestparameters, '$.groupName')) LIKE '%admin%'
    )
  )
