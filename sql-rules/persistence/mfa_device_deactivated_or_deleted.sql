/*
id = "aws.persistence.mfa_device_deactivated_or_deleted"
title = "IAM MFA device deactivated or deleted"
severity = "medium"
description = """
Detects a successful IAM DeactivateMFADevice (removes an MFA device from a user) or DeleteVirtualMFADevice (deletes a virtual MFA device, possible only once it is unassigned). Failed calls and AWS service principals are excluded.
Removing MFA from a user lets an attacker who holds the password sign in to the console, or lets them enrol their own device afterwards (EnableMFADevice) and lock the owner out. Confirm with the user in requestParameters.userName (or the owner of the device in requestParameters.serialNumber) that they asked for the reset; if not, re-enrol MFA and reset the password.
"""
tactics = ["TA0003", "TA0005", "TA0006"]
techniques = ["T1556.006"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeactivateMFADevice.html",
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteVirtualMFADevice.html",
]
false_positives = [
  "Helpdesk resetting MFA for a user who lost their phone or security key",
  "Users replacing their own device, and the console deleting an abandoned virtual MFA device during enrolment",
  "Offboarding scripts that remove MFA devices before deleting a user",
]
runbook = "Ask the owner of requestParameters.serialNumber whether they requested the reset, and look for EnableMFADevice, CreateLoginProfile or ConsoleLogin for the same user afterwards."
tags = ["iam", "mfa", "persistence", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname IN ('DeactivateMFADevice', 'DeleteVirtualMFADevice')
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
