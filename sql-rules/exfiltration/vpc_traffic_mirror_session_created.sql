/*
id = "aws.exfiltration.vpc_traffic_mirror_session_created"
title = "VPC traffic mirroring session created"
severity = "medium"
description = """
Detects a successful EC2 CreateTrafficMirrorSession, which copies every packet of a network interface (CreateTrafficMirrorSessionRequest.NetworkInterfaceId) to a mirror target (TrafficMirrorTargetId: a network interface, a Network Load Balancer or a Gateway Load Balancer endpoint, possibly in another account). An attacker can use it to capture unencrypted traffic and credentials or to siphon data off the network without touching the workload. Calls by AWS services (invokedBy set) are excluded.
Check who owns the mirror target and whether a network monitoring project is known to use mirroring.
"""
tactics = ["TA0010", "TA0006"]
techniques = ["T1020.001", "T1040"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateTrafficMirrorSession.html",
  "https://docs.aws.amazon.com/vpc/latest/mirroring/what-is-traffic-mirroring.html",
]
false_positives = [
  "Network security monitoring (IDS, NDR appliances) deployed by the security team",
  "Troubleshooting packet captures by network engineers",
]
runbook = "Describe the mirror target (aws ec2 describe-traffic-mirror-targets) named in the request and its owner account; delete the session if the target is unknown and review what the mirrored interface carries."
tags = ["ec2", "vpc", "traffic-mirroring", "exfiltration"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname = 'CreateTrafficMirrorSession'
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
