/*
id = "aws.privilege_escalation.iam_user_assumed_admin_role"
title = "IAM user assumed an admin-named role"
severity = "low"
description = """
Detects a successful STS AssumeRole called directly by an IAM user (long-term credentials, not a role session or federated user) into a role whose ARN contains "admin" after :role/ (case-insensitive), in the same or another account.
Administrators normally reach admin roles through SSO or a federated session; an IAM user, often a service or legacy account whose keys leaked, assuming an admin role is a common privilege escalation and lateral movement step. Confirm that the user is expected to use requestParameters.roleArn; if not, revoke the role's active sessions and disable the user's keys.
"""
tactics = ["TA0004", "TA0008"]
techniques = ["T1078.004", "T1548.005"]
references = [
  "https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html",
]
false_positives = [
  "Break-glass or legacy IAM users whose documented workflow is to assume an admin role",
  "Roles whose name contains admin but grant narrow rights",
]
runbook = "Check whether useridentity.arn normally assumes requestParameters.roleArn, from which source IP, and what the new session (responseElements.assumedRoleUser.arn) did."
tags = ["sts", "assume-role", "privilege-escalation"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'sts.amazonaws.com'
  AND eventname = 'AssumeRole'
  AND errorcode IS NULL
  AND useridentity.type = 'IAMUser'
  AND lower(json_extract_scalar(requestparameters, '$.roleArn')) LIKE '%:role/%admin%'
