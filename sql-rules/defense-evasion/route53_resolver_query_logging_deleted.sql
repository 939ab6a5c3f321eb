/*
id = "aws.defense_evasion.route53_resolver_query_logging_deleted"
title = "Route 53 Resolver query logging deleted or disassociated from a VPC"
severity = "high"
description = """
Detects successful Route 53 Resolver DeleteResolverQueryLogConfig and DisassociateResolverQueryLogConfig calls. Resolver query logs record every DNS query made from the VPC; removing them hides DNS-based command and control, tunnelling and exfiltration, and the lookups of attacker infrastructure that GuardDuty and analysts rely on.
Re-associate the configuration in requestParameters.resolverQueryLogConfigId with the VPC in requestParameters.resourceId (or recreate it if deleted) and review the caller's activity.
"""
tactics = ["TA0005"]
techniques = ["T1562.008"]
stratus = ["aws.defense-evasion.dns-delete-logs"]
references = [
  "https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_DeleteResolverQueryLogConfig.html",
  "https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_DisassociateResolverQueryLogConfig.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.dns-delete-logs/",
]
false_positives = [
  "VPC decommissioning, which requires disassociating query logging first",
  "Moving query logging to a new destination or to a configuration shared through RAM",
]
runbook = "Run route53resolver list-resolver-query-log-config-associations in awsregion to see which VPCs are still logged, and confirm the change with the network team."
tags = ["route53resolver", "dns", "logging", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'route53resolver.amazonaws.com'
  AND eventname IN ('DeleteResolverQueryLogConfig', 'DisassociateResolverQueryLogConfig')
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
