/*
id = "aws.persistence.create_access_key_for_other_user"
title = "IAM access key created for another user"
severity = "medium"
description = """
Detects a successful IAM CreateAccessKey where requestParameters.userName names a user other than the caller (case-insensitive), including keys created by roles, federated sessions or root for an IAM user. Minting a long-term key for an existing user is a classic backdoor: it survives the removal of the attacker's original access and blends in with the victim user's identity.
Confirm with the owner of the target user that the key was requested; if not, deactivate the key in responseElements.accessKey.accessKeyId and review what the caller did before and after.
"""
tactics = ["TA0003", "TA0004"]
techniques = ["T1098.001"]
stratus = ["aws.persistence.iam-backdoor-user"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-backdoor-user/",
]
false_positives = [
  "IAM administrators or provisioning pipelines issuing keys for service users",
  "Access-key rotation tooling that runs under a role and rotates keys on behalf of users",
]
runbook = "Ask the owner of requestParameters.userName whether they expected a new key, and check whether the new access key ID has been used from an unfamiliar IP."
tags = ["iam", "access-key", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname = 'CreateAccessKey'
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.userName') IS NOT NULL
  AND lower(json_extract_scalar(requestparameters, '$.userName')) IS DISTINCT FROM lower(useridentity.username)
