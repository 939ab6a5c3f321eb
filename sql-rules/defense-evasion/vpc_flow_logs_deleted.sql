/*
id = "aws.defense_evasion.vpc_flow_logs_deleted"
title = "VPC flow logs deleted"
severity = "high"
description = """
Detects a successful EC2 DeleteFlowLogs call. Flow logs are the network record of a VPC, subnet or interface; deleting them hides later lateral movement, exfiltration and command-and-control traffic. Dry runs and denied calls do not match. Note that one call can delete several flow logs and that per-item failures are reported in responseElements.DeleteFlowLogsResponse.unsuccessful.
Recreate the flow logs listed in requestParameters.DeleteFlowLogsRequest.FlowLogId, then review the caller's activity from this point on.
"""
tactics = ["TA0005"]
techniques = ["T1562.008"]
stratus = ["aws.defense-evasion.vpc-remove-flow-logs"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteFlowLogs.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.vpc-remove-flow-logs/",
]
false_positives = [
  "Infrastructure-as-code teardown of a VPC or test environment (CloudFormation, Terraform)",
  "Migration of flow logs to a new destination or format",
]
runbook = "Check which VPCs lost their flow logs (ec2 describe-flow-logs in awsregion) and whether a change ticket or pipeline run covers useridentity.arn."
tags = ["ec2", "vpc", "flow-logs", "logging", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname = 'DeleteFlowLogs'
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
