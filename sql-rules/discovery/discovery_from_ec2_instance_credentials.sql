/*
id = "aws.discovery.discovery_from_ec2_instance_credentials"
title = "Account enumeration with EC2 instance-profile credentials"
severity = "low"
description = """
Detects EC2 instance-profile credentials (an AssumedRole session whose principalId ends with an instance ID such as :i-0abc..., or whose sessionContext.ec2RoleDelivery is set) calling account-wide enumeration APIs that workloads rarely need: IAM ListUsers, ListRoles, ListGroups, ListPolicies, GetAccountSummary and GetAccountAuthorizationDetails, Organizations DescribeOrganization and ListAccounts, S3 ListBuckets, SES ListIdentities, GetSendQuota and GetAccount, GuardDuty ListDetectors and CloudTrail DescribeTrails. Both successful calls and AccessDenied refusals match, since an attacker probing the role's rights produces either. Routine instance calls (EC2 Describe*, STS GetCallerIdentity, IAM GetRole) are deliberately not matched, and calls made through an AWS service are excluded.
An attacker with a shell on an instance, or with its role credentials, typically maps the account this way first. Alerts are grouped per instance session for an hour: look at the count and the spread of event names.
"""
tactics = ["TA0007"]
techniques = ["T1087.004", "T1069.003", "T1580", "T1619"]
stratus = ["aws.discovery.ec2-enumerate-from-instance"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html",
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html",
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.discovery.ec2-enumerate-from-instance/",
]
false_positives = [
  "Security, inventory or CSPM tools (Prowler, ScoutSuite, Steampipe, CloudQuery) run from an EC2 instance with its instance role",
  "Bastion or admin instances whose role is used interactively by operators",
  "Applications that list buckets or check SES quota at start-up",
]
runbook = "Take the instance ID from the end of useridentity.principalid, check with its owner whether the software on it is expected to enumerate the account, and if not review SSM sessions and logins on the instance and revoke the role's active sessions."
tags = ["ec2", "instance-profile", "recon", "discovery"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE useridentity.type = 'AssumedRole'
  AND (
    regexp_like(coalesce(useridentity.principalid, ''), ':i-[0-9a-f]{8,17}$')
    OR useridentity.sessioncontext.ec2roledelivery IS NOT NULL
  )
  AND useridentity.invokedby IS NULL
  AND (errorcode IS NULL OR errorcode IN ('AccessDenied', 'AccessDeniedException'))
  AND (
    (eventsource = 'iam.amazonaws.com' AND eventname IN ('ListUsers', 'ListRoles', 'ListGroups', 'ListPolicies', 'GetAccountSummary', 'GetAccountAuthorizationDetails'))
    OR (eventsource = 'organizations.amazonaws.com' AND eventname IN ('DescribeOrganization', 'ListAccounts'))
    OR (eventsource = 's3.amazonaws.com' AND eventname = 'ListBuckets')
    OR (eventsource = 'ses.amazonaws.com' AND eventname IN ('ListIdentities', 'GetSendQuota', 'GetAccount'))
    OR (eventsource = 'guardduty.amazonaws.com' AND eventname = 'ListDetectors')
    OR (eventsource = 'cloudtrail.amazonaws.com' AND eventname = 'DescribeTrails')
  )
