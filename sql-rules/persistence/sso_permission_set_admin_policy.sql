/*
id = "aws.persistence.sso_permission_set_admin_policy"
title = "AdministratorAccess attached to an IAM Identity Center permission set"
severity = "high"
description = """
Detects a successful IAM Identity Center (sso.amazonaws.com) AttachManagedPolicyToPermissionSet whose managedPolicyArn is the AWS managed AdministratorAccess policy. Every user or group assigned that permission set, in every account it is provisioned to, becomes an administrator of that account.
Attackers with Identity Center admin rights upgrade a permission set they (or a user they control) are assigned to, which is quieter than attaching policies in each account. Confirm the change was approved; if not, detach the policy from requestParameters.permissionSetArn, reprovision the permission set, and review account assignments made to it.
"""
tactics = ["TA0003", "TA0004"]
techniques = ["T1098.003"]
references = [
  "https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_AttachManagedPolicyToPermissionSet.html",
  "https://docs.aws.amazon.com/singlesignon/latest/userguide/logging-using-cloudtrail.html",
]
false_positives = [
  "Identity administrators creating the standard administrator permission set",
  "Infrastructure as code re-applying the permission set definitions",
]
runbook = "List the account assignments of requestParameters.permissionSetArn (sso-admin list-accounts-for-provisioned-permission-set) and check who is assigned to it."
tags = ["sso", "identity-center", "permission-set", "policy", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'sso.amazonaws.com'
  AND eventname = 'AttachManagedPolicyToPermissionSet'
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.managedPolicyArn') LIKE '%:policy/AdministratorAccess'
