/*
id = "aws.persistence.iam_user_created"
title = "IAM user created"
severity = "low"
description = """
Detects a successful IAM CreateUser made directly by a person or workload. Users created by CloudFormation (invokedBy or source IP cloudformation.amazonaws.com) and by AWS service principals are excluded, as are CreateUser calls of other services (Transfer Family, Identity Store, Amazon MQ) that share the API name.
A new IAM user can hold long-term access keys and a console password, so attackers create one as a durable foothold that outlives the credentials they stole. Confirm that the user in requestParameters.userName was requested; if not, delete its keys and login profile and review what the caller did around eventtime.
"""
tactics = ["TA0003"]
techniques = ["T1136.003"]
stratus = ["aws.persistence.iam-create-admin-user"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-admin-user/",
]
false_positives = [
  "Administrators onboarding staff or service users where IAM users are still used",
  "Provisioning tools (Terraform, SCIM bridges) that create IAM users outside CloudFormation",
]
runbook = "Check who created requestParameters.userName and whether CreateAccessKey, CreateLoginProfile or Attach*Policy calls for that user followed within the hour."
tags = ["iam", "user", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname = 'CreateUser'
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
  AND coalesce(sourceipaddress, '') <> 'cloudformation.amazonaws.com'
