/*
id = "aws.credential_access.ec2_get_password_data"
title = "EC2 Windows administrator password data requested"
severity = "medium"
description = """
Detects EC2 GetPasswordData calls, which return the encrypted local Administrator password of a Windows instance (decryptable with the key pair's private key), whether they succeed or are refused with Client.UnauthorizedOperation. Calls by AWS services (AWSService identity or invokedBy set) are excluded.
A successful call by an unexpected principal means the RDP password of requestParameters.instanceId may be in the attacker's hands; a run of refused calls across many instance IDs is the typical probe of a stolen credential (this is what Stratus Red Team simulates). Alerts are grouped per principal for an hour.
"""
tactics = ["TA0006"]
techniques = ["T1552"]
stratus = ["aws.credential-access.ec2-get-password-data"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetPasswordData.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/WindowsGuide/connect-rdp.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.ec2-get-password-data/",
]
false_positives = [
  "Administrators retrieving the initial Administrator password of a new Windows instance from the console or CLI",
  "Provisioning automation that bootstraps Windows instances with the launch key pair",
]
runbook = "Check whether useridentity.arn manages Windows instances and whether requestParameters.instanceId is one of them; if errorcode is Client.UnauthorizedOperation, look for the same principal probing other APIs, and rotate the local Administrator password of any instance read successfully."
tags = ["ec2", "windows", "password", "credential-access"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname = 'GetPasswordData'
  AND (errorcode IS NULL OR errorcode = 'Client.UnauthorizedOperation')
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
