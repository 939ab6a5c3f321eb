/*
id = "aws.network.route_to_internet_gateway_or_peering"
title = "Default route pointed at an internet gateway or VPC peering connection"
severity = "low"
description = """
Detects a successful EC2 CreateRoute or ReplaceRoute for the default destination (destinationCidrBlock 0.0.0.0/0 or destinationIpv6CidrBlock ::/0) whose target is an internet gateway (gatewayId igw-...) or a VPC peering connection (vpcPeeringConnectionId). Routes to NAT gateways, transit gateways, egress-only internet gateways and firewall endpoints are ignored. Calls by AWS services (invokedBy set) are excluded.
Pointing a private subnet's default route at an internet gateway, or away from an inspection path, opens a direct path out of the network and around egress controls. Building public subnets does this legitimately, hence low severity, grouped per principal for an hour.
"""
tactics = ["TA0005"]
techniques = ["T1599"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateRoute.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReplaceRoute.html",
  "https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html",
]
false_positives = [
  "Creating public subnets for load balancers or bastions with infrastructure-as-code",
  "Network re-architecture work by the platform team",
]
runbook = "Check which subnets use requestParameters.routeTableId; if they host private workloads or the previous route went through a firewall or NAT, restore the previous target."
tags = ["ec2", "vpc", "route-table", "network", "defense-evasion"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname IN ('CreateRoute', 'ReplaceRoute')
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
  AND (
    json_extract_scalar(requestparameters, '$.destinationCidrBlock') = '0.0.0.0/0'
    OR json_extract_scalar(requestparameters, '$.destinationIpv6CidrBlock') = '::/0'
  )
  AND (
    starts_with(coalesce(json_extract_scalar(requestparameters, '$.gatewayId'), ''), 'igw-')
    OR json_extract_scalar(requestparameters, '$.vpcPeeringConnectionId') IS NOT NULL
  )
