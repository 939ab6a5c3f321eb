/*
id = "aws.signals.ec2_instance_launch_request"
title = "EC2 RunInstances requested by a user or role (signal)"
severity = "info"
description = """
Signal for correlations: an EC2 RunInstances call made directly by a user or role, successful or not: refusals such as Client.VcpuLimitExceeded, Client.InstanceLimitExceeded, Server.InsufficientInstanceCapacity or Client.UnauthorizedOperation are kept because an attacker launching miners with stolen keys hits quotas and permissions while trying. Dry runs (Client.DryRunOperation) and launches by Auto Scaling, EC2 Fleet, CloudFormation or other services (invokedBy, AWSService identity) are excluded.
Used by aws.correlation.ec2_mass_instance_launch.
"""
tactics = ["TA0040", "TA0005"]
techniques = ["T1578.002"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html",
]
false_positives = [
  "Every hand-made or pipeline launch (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own."
tags = ["ec2", "compute", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname = 'RunInstances'
  AND (errorcode IS DISTINCT FROM 'Client.DryRunOperation')
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
