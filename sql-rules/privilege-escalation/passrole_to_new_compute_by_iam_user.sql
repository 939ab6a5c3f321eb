/*
id = "aws.privilege_escalation.passrole_to_new_compute_by_iam_user"
title = "IAM user with long-term keys launched compute with a role"
severity = "low"
description = """
Detects an IAM user signing with a long-term access key (AKIA...) that successfully passes a role to new compute: EC2 RunInstances with requestParameters.iamInstanceProfile, Lambda CreateFunction (always given a role), or Glue CreateDevEndpoint (roleArn). Console sessions and assumed roles (pipelines, Terraform runners) are not matched. Alerts are grouped per user for one hour.
Passing a more privileged role to compute the caller controls (SSH key, function code, dev endpoint) is the classic iam:PassRole privilege escalation: the caller then reads the role's credentials from the instance or runtime. Check which role was passed (the instance profile, requestParameters.role or requestParameters.roleArn) and whether it is more privileged than the user; if so, terminate the resource and revoke the role's sessions.
"""
tactics = ["TA0004", "TA0005"]
techniques = ["T1548.005"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html",
  "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
  "https://docs.aws.amazon.com/glue/latest/webapi/API_CreateDevEndpoint.html",
]
false_positives = [
  "Legacy automation or developers still deploying with IAM user access keys",
  "Scripts launching instances with a standard SSM-only instance profile",
]
runbook = "Compare the permissions of the passed role with those of useridentity.arn; if the role is stronger, check who can reach the new instance, function or endpoint."
tags = ["iam", "passrole", "ec2", "lambda", "glue", "privilege-escalation"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE useridentity.type = 'IAMUser'
  AND starts_with(coalesce(useridentity.accesskeyid, ''), 'AKIA')
  AND errorcode IS NULL
  AND (
    (
      eventsource = 'ec2.amazonaws.com'
      AND eventname = 'RunInstances'
      AND json_extract(requestparameters, '$.iamInstanceProfile') IS NOT NULL
    )
    OR (
      eventsource = 'lambda.amazonaws.com'
      AND eventname LIKE 'CreateFunction2015%'
      AND json_extract_scalar(requestparameters, '$.role') IS NOT NULL
    )
    OR (
      eventsource = 'glue.amazonaws.com'
      AND eventname = 'CreateDevEndpoint'
      AND json_extract_scalar(requestparameters, '$.roleArn') IS NOT NULL
    )
  )
