/*
id = "aws.lateral_movement.ec2_serial_console_access"
title = "EC2 serial console access enabled or SSH key pushed to a serial console"
severity = "medium"
description = """
Detects two successful steps of EC2 serial console use: EnableSerialConsoleAccess (ec2.amazonaws.com), which turns on serial console access for the whole account in the region, and SendSerialConsoleSSHPublicKey (ec2-instance-connect.amazonaws.com), which pushes an SSH key for the serial port requestParameters.serialPort of requestParameters.instanceId. Calls by AWS services (invokedBy set) are excluded.
The serial console reaches the instance out of band, bypassing security groups, network ACLs and the absence of network access entirely, and with a local password it gives a root login; it is rarely needed outside of boot troubleshooting.
"""
tactics = ["TA0008"]
techniques = ["T1021.004"]
stratus = ["aws.lateral-movement.ec2-serial-console-send-ssh-public-key"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableSerialConsoleAccess.html",
  "https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/API_SendSerialConsoleSSHPublicKey.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-serial-console.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.lateral-movement.ec2-serial-console-send-ssh-public-key/",
]
false_positives = [
  "Administrators troubleshooting an instance that fails to boot or lost network connectivity",
]
runbook = "Confirm with the owner of useridentity.arn that serial console troubleshooting was planned for requestParameters.instanceId; if not, call DisableSerialConsoleAccess in awsregion and review the instance for local account changes."
tags = ["ec2", "serial-console", "instance-connect", "lateral-movement"]
*/
SELECT *
FROM cloudtrail
WHERE (
    (eventsource = 'ec2.amazonaws.com' AND eventname = 'EnableSerialConsoleAccess')
    OR (eventsource = 'ec2-instance-connect.amazonaws.com' AND eventname = 'SendSerialConsoleSSHPublicKey')
  )
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
