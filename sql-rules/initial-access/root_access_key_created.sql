/*
id = "aws.initial_access.root_access_key_created"
title = "Access key created for the AWS root user"
severity = "high"
description = """
Detects a successful IAM CreateAccessKey made by the root user without requestParameters.userName, which creates a long-term access key for root itself. Keys the root user creates for IAM users (userName set) are not matched here.
Root access keys bypass IAM policies (and SCPs in a management or standalone account) and AWS strongly recommends having none; a new one usually means someone with root console access wants programmatic, persistent control of the account. Verify with the root credential custodian; if unplanned, delete the key (responseElements.accessKey.accessKeyId), reset the root password, check the MFA device and review Root activity from sourceipaddress.
"""
tactics = ["TA0003", "TA0001"]
techniques = ["T1098.001", "T1078.004"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user_manage_add-key.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-best-practices.html",
]
false_positives = [
  "Legacy tooling that still requires root keys, created during a documented break-glass procedure",
]
runbook = "Ask the root credential custodian about the key, then delete it unless a documented exception exists and search for API calls signed with responseElements.accessKey.accessKeyId."
tags = ["iam", "root", "access-key", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname = 'CreateAccessKey'
  AND errorcode IS NULL
  AND useridentity.type = 'Root'
  AND useridentity.invokedby IS NULL
  AND json_extract_scalar(requestparameters, '$.userName') IS NULL
