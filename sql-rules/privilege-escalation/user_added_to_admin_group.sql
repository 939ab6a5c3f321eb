/*
id = "aws.privilege_escalation.user_added_to_admin_group"
title = "IAM user added to an administrator group"
severity = "medium"
description = """
Detects a successful IAM AddUserToGroup where requestParameters.groupName contains "admin" (case-insensitive), for example Admins or platform-administrators. The rule relies on the group's name, not on its policies, so groups with admin rights under other names are not covered.
Adding a user, often the attacker's own, to an admin group grants the group's permissions at once and is easy to overlook next to policy changes. Confirm the membership was requested; if not, remove the user from the group and review the user's activity since eventtime.
"""
tactics = ["TA0004", "TA0003"]
techniques = ["T1098.003"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_AddUserToGroup.html",
]
false_positives = [
  "Onboarding of a new administrator or temporary elevation approved through a ticket",
  "Groups with admin in the name that are not privileged (for example billing-admins with read-only access)",
]
runbook = "Check the policies of requestParameters.groupName and whether the caller added itself (useridentity.username equals requestParameters.userName)."
tags = ["iam", "group", "privilege-escalation"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname = 'AddUserToGroup'
  AND errorcode IS NULL
  AND lower(json_extract_scalar(requestparameters, '$.groupName')) LIKE '%admin%'
