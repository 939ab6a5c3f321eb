/*
id = "aws.persistence.login_profile_for_other_user"
title = "Console password created or changed for another IAM user"
severity = "medium"
description = """
Detects a successful IAM CreateLoginProfile or UpdateLoginProfile where requestParameters.userName names a user other than the caller (case-insensitive). Giving an existing user a console password, or resetting theirs, lets an attacker sign in to the console as that user and inherit its permissions. Calls that target the caller's own user are not matched (self-service password changes are logged as ChangePassword).
Confirm with the target user's owner that the password change was expected; if not, delete or reset the login profile, check for ConsoleLogin events by that user and review the caller.
"""
tactics = ["TA0003", "TA0004"]
techniques = ["T1098.001"]
stratus = ["aws.persistence.iam-create-user-login-profile", "aws.privilege-escalation.iam-update-user-login-profile"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateLoginProfile.html",
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateLoginProfile.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-user-login-profile/",
]
false_positives = [
  "Administrators onboarding a new IAM user (CreateUser followed by CreateLoginProfile)",
  "Helpdesk password resets for IAM users",
]
runbook = "Look for a ConsoleLogin by requestParameters.userName after eventtime and compare its source IP with the caller's."
tags = ["iam", "console", "password", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname IN ('CreateLoginProfile', 'UpdateLoginProfile')
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.userName') IS NOT NULL
  AND lower(json_extract_scalar(requestparameters, '$.userName')) IS DISTINCT FROM lower(useridentity.username)
