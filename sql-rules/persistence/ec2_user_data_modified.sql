/*
id = "aws.persistence.ec2_user_data_modified"
title = "EC2 instance user data modified"
severity = "medium"
description = """
Detects a successful EC2 ModifyInstanceAttribute that changes an instance's user data, whether sent as requestParameters.userData or as attribute = userData. CloudTrail redacts the new script (<sensitiveDataRemoved>), so the event only says that it changed.
User data runs as root when the instance boots (every boot if the script opts in with cloud-init's per-boot directives), so replacing it and restarting the instance executes attacker code with the instance role's credentials. Retrieve the current user data (ec2 describe-instance-attribute --attribute userData) and review it; look for StopInstances and StartInstances on the same instance around eventtime.
"""
tactics = ["TA0002", "TA0003", "TA0004"]
techniques = ["T1059.009", "T1037"]
stratus = ["aws.execution.ec2-user-data"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceAttribute.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ec2-user-data/",
]
false_positives = [
  "Operators updating bootstrap scripts of long-lived instances during maintenance",
  "Tooling that rewrites user data before restarting instances (for example some migration or patching workflows)",
]
runbook = "Pull the user data of requestParameters.instanceId, decode it and look for downloads, reverse shells or credential access; check who restarted the instance afterwards."
tags = ["ec2", "user-data", "execution", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname = 'ModifyInstanceAttribute'
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
  AND (
    json_extract(requestparameters, '$.userData') IS NOT NULL
    OR json_extract_scalar(requestparameters, '$.attribute') = 'userData'
  )
