/*
id = "aws.credential_access.ec2_user_data_read"
title = "EC2 instance user data read through the API"
severity = "low"
description = """
Detects EC2 DescribeInstanceAttribute calls with requestParameters.attribute = userData, successful or refused with Client.UnauthorizedOperation, by any principal other than an AWS service. Instance user data holds bootstrap scripts, which often embed passwords, API tokens or registration secrets; instances read their own user data through the metadata service, not through this API, so these calls come from people or tools.
A successful read by an unfamiliar principal, or a sweep across many instances (the refused variant is what Stratus Red Team simulates), should lead to reviewing the user data of requestParameters.instanceId for secrets and rotating them. Alerts are grouped per principal for an hour.
"""
tactics = ["TA0006", "TA0007"]
techniques = ["T1552.005", "T1580"]
stratus = ["aws.discovery.ec2-download-user-data"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceAttribute.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.discovery.ec2-download-user-data/",
]
false_positives = [
  "Engineers viewing user data in the console (Actions > Instance settings > Edit user data) while troubleshooting",
  "Inventory or compliance scanners that audit user data for secrets",
]
runbook = "Read the user data of requestParameters.instanceId for embedded secrets and confirm useridentity.arn had a reason to view it; count how many distinct instances the principal queried in the hour."
tags = ["ec2", "user-data", "credential-access", "discovery"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname = 'DescribeInstanceAttribute'
  AND json_extract_scalar(requestparameters, '$.attribute') = 'userData'
  AND (errorcode IS NULL OR errorcode = 'Client.UnauthorizedOperation')
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
