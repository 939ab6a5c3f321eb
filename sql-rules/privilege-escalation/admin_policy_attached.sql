/*
id = "aws.privilege_escalation.admin_policy_attached"
title = "AdministratorAccess policy attached to an IAM identity"
severity = "high"
description = """
Detects a successful AttachUserPolicy, AttachGroupPolicy or AttachRolePolicy whose policyArn ends in :policy/AdministratorAccess, granting full control of the account to the target user, group or role. IAM Identity Center provisioning of its own AWSReservedSSO_ roles through the AWSServiceRoleForSSO service-linked role is excluded.
Confirm the grant was approved; if not, detach the policy from the identity named in requestParameters (userName, groupName or roleName), and review both the caller and the target's activity.
"""
tactics = ["TA0004", "TA0003"]
techniques = ["T1098.003"]
stratus = ["aws.persistence.iam-create-admin-user", "aws.persistence.iam-create-backdoor-role"]
references = [
  "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AdministratorAccess.html",
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachRolePolicy.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-admin-user/",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-backdoor-role/",
]
false_positives = [
  "Account bootstrap roles created by Control Tower Account Factory or landing-zone pipelines",
  "Approved break-glass administrator roles deployed by infrastructure as code",
]
runbook = "Check who the target identity in requestParameters is and whether the change was made by the approved IAM pipeline role."
tags = ["iam", "policy", "privilege-escalation"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname IN ('AttachUserPolicy', 'AttachGroupPolicy', 'AttachRolePolicy')
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.policyArn') LIKE '%:policy/AdministratorAccess'
  AND NOT (
    eventname = 'AttachRolePolicy'
    AND coalesce(useridentity.sessioncontext.sessionissuer.arn, '') LIKE '%:role/aws-service-role/sso.amazonaws.com/AWSServiceRoleForSSO'
    AND starts_with(coalesce(json_extract_scalar(requestparameters, '$.roleName'), ''), 'AWSReservedSSO_')
  )
