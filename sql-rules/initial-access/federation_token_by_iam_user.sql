/*
id = "aws.initial_access.federation_token_by_iam_user"
title = "STS federation token obtained by an IAM user"
severity = "medium"
description = """
Detects a successful STS GetFederationToken called by an IAM user. The call returns temporary credentials for a federated user (up to 36 hours) that stay valid after the IAM user's access key is deactivated or deleted, and they can be turned into a console session through the federation endpoint (GetSigninToken).
Attackers with a leaked IAM user key use it to keep access through a key rotation and to reach the console. Few environments use GetFederationToken legitimately; confirm the caller's tooling (for example an identity broker), and if it is unexpected, attach a deny-all policy with an aws:TokenIssueTime condition to the user (deleting the key does not revoke the tokens) and investigate the key's use.
"""
tactics = ["TA0003", "TA0001"]
techniques = ["T1078.004", "T1550.001"]
stratus = ["aws.persistence.sts-federation-token"]
references = [
  "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_disable-perms.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.sts-federation-token/",
]
false_positives = [
  "Custom identity brokers that issue federated sessions from an IAM user",
  "Engineers using aws-vault login (or similar tools) without a role to open the console",
]
runbook = "Check responseElements.federatedUser.arn for later activity and the policy passed in requestParameters.policy; revoke by denying the IAM user with an aws:TokenIssueTime condition."
tags = ["sts", "federation", "temporary-credentials", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'sts.amazonaws.com'
  AND eventname = 'GetFederationToken'
  AND errorcode IS NULL
  AND useridentity.type = 'IAMUser'
