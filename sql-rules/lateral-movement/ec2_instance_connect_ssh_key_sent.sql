/*
id = "aws.lateral_movement.ec2_instance_connect_ssh_key_sent"
title = "SSH public key pushed to an instance with EC2 Instance Connect"
severity = "medium"
description = """
Detects a successful EC2 Instance Connect SendSSHPublicKey, which installs the key in requestParameters.sSHPublicKey for the OS user requestParameters.instanceOSUser on requestParameters.instanceId for 60 seconds. Anyone allowed to call it can log in over SSH without knowing any existing key; calls by AWS services (invokedBy set) are excluded.
Confirm the principal normally connects to this instance and OS user (root or a privileged user is a red flag), then review the instance's SSH logs for the session that followed. Grouped per principal and instance for an hour.
"""
tactics = ["TA0008"]
techniques = ["T1021.004"]
stratus = ["aws.lateral-movement.ec2-instance-connect"]
references = [
  "https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/API_SendSSHPublicKey.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-connect-log-requests.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.lateral-movement.ec2-instance-connect/",
]
false_positives = [
  "Engineers connecting with the console's EC2 Instance Connect button or the mssh / aws ec2-instance-connect CLI",
  "Bastion tooling that relies on Instance Connect for short-lived keys",
]
runbook = "Check that useridentity.arn is expected to log in to requestParameters.instanceId as requestParameters.instanceOSUser from sourceipaddress, and read the instance's auth log for the SSH session opened right after."
tags = ["ec2", "instance-connect", "ssh", "lateral-movement"]
dedup_key = ["useridentity.arn", "json_extract_scalar(requestparameters, '$.instanceId')"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2-instance-connect.amazonaws.com'
  AND eventname = 'SendSSHPublicKey'
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
