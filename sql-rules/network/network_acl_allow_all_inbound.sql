/*
id = "aws.network.network_acl_allow_all_inbound"
title = "Network ACL entry allows all inbound traffic from the internet"
severity = "low"
description = """
Detects a successful EC2 CreateNetworkAclEntry or ReplaceNetworkAclEntry that adds an inbound (egress = false) allow rule from 0.0.0.0/0 (cidrBlock) or ::/0 (ipv6CidrBlock) for all traffic: aclProtocol -1, or a port range 0-65535. Calls by AWS services (invokedBy set) are excluded. Narrower entries (a single port, the ephemeral range 1024-65535) are not flagged.
Network ACLs are the subnet-level guard rail; an allow-all entry with a low rule number overrides the deny entries below it. Infrastructure-as-code for public subnets often creates such entries on purpose, hence low severity: check that the ACL belongs to a public subnet and the change was planned.
"""
tactics = ["TA0005"]
techniques = ["T1562.007"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNetworkAclEntry.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReplaceNetworkAclEntry.html",
  "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html",
]
false_positives = [
  "Terraform or CloudFormation VPC modules creating allow-all ACLs for public subnets",
  "Resetting a custom ACL to the permissive defaults",
]
runbook = "Find the subnets associated with requestParameters.networkAclId and the rule number used; if they are private subnets or the change is unplanned, delete or replace the entry."
tags = ["ec2", "vpc", "network-acl", "network", "defense-evasion"]
dedup_key = ["useridentity.arn", "json_extract_scalar(requestparameters, '$.networkAclId')"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname IN ('CreateNetworkAclEntry', 'ReplaceNetworkAclEntry')
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
  AND json_extract_scalar(requestparameters, '$.egress') = 'false'
  AND lower(json_extract_scalar(requestparameters, '$.ruleAction')) = 'allow'
  AND (
    json_extract_scalar(requestparameters, '$.cidrBlock') = '0.0.0.0/0'
    OR json_extract_scalar(requestparameters, '$.ipv6CidrBlock') = '::/0'
  )
  AND (
    json_extract_scalar(requestparameters, '$.aclProtocol') IN ('-1', 'all')
    OR (
      json_extract_scalar(requestparameters, '$.portRange.from') = '0'
      AND json_extract_scalar(requestparameters, '$.portRange.to') = '65535'
    )
  )
