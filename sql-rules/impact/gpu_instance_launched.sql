/*
id = "aws.impact.gpu_instance_launched"
title = "EC2 GPU or accelerator instance launched or attempted"
severity = "medium"
description = """
Detects EC2 RunInstances calls made directly by a user or role for a GPU or machine-learning accelerator instance type (p, g, gr, trn, inf, dl and vt families), read from requestParameters.instanceType or, for launches from a launch template, from responseElements.instancesSet.items[0].instanceType. Stolen credentials are routinely used to launch such instances for cryptocurrency mining or model training at the victim's expense. Failed attempts match too (errors such as Client.UnauthorizedOperation or Client.VcpuLimitExceeded are typical of an attacker probing permissions and quotas); dry runs and launches by Auto Scaling or other services (useridentity.invokedby) do not. Alerts are grouped per caller and region for an hour.
Check whether the caller normally launches accelerated instances; if not, terminate the instances in responseElements.instancesSet, disable the credentials and look for the same activity in other regions.
"""
tactics = ["TA0040"]
techniques = ["T1496.001"]
stratus = ["aws.execution.ec2-launch-unusual-instances"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html",
  "https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ec2-launch-unusual-instances/",
]
false_positives = [
  "Machine-learning, graphics or HPC teams launching accelerated instances by hand or from CI",
  "Capacity tests of new instance types",
]
runbook = "Confirm with the owner of useridentity.arn that the launch was expected; list RunInstances by the same caller across regions and check the instances for mining software or unfamiliar AMIs."
tags = ["ec2", "gpu", "resource-hijacking", "cryptomining", "impact"]
dedup_key = ["useridentity.arn", "recipientaccountid", "awsregion"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname = 'RunInstances'
  AND (errorcode IS DISTINCT FROM 'Client.DryRunOperation')
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
  AND useridentity.invokedby IS NULL
  AND regexp_like(
    lower(coalesce(
      json_extract_scalar(requestparameters, '$.instanceType'),
      json_extract_scalar(responseelements, '$.instancesSet.items[0].instanceType')
    )),
    '^(p[0-9]|g[0-9]|gr[0-9]|trn[0-9]|inf[0-9]|dl[0-9]|vt[0-9])[a-z0-9-]*[.]'
  )
