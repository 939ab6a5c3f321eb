/*
id = "aws.discovery.iam_enumeration_access_denied"
title = "IAM enumeration refused with AccessDenied"
severity = "low"
description = """
Detects IAM List* or Get* calls (ListUsers, ListRoles, ListAttachedUserPolicies, GetAccountAuthorizationDetails...) that fail with errorCode AccessDenied, made outside the console by any principal other than an AWS service. Console sessions (sessionCredentialFromConsole = true) are excluded because browsing the IAM console without full rights produces such errors routinely.
Automated enumeration with a stolen key that lacks IAM permissions leaves a trail of these refusals; alerts are grouped per principal for an hour, so look at the count and the spread of event names rather than at a single event.
"""
tactics = ["TA0007"]
techniques = ["T1087.004", "T1069.003"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html",
]
false_positives = [
  "Scripts or SDK tools run with a narrowly scoped role that probe IAM (for example Terraform refreshing a data source)",
  "Security scanners deployed with incomplete read permissions",
]
runbook = "Count the distinct eventname values refused for useridentity.arn in the hour and check whether sourceipaddress and useragent are usual for this principal; a broad sweep from a new location means the key should be deactivated."
tags = ["iam", "recon", "access-denied", "discovery"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND (starts_with(eventname, 'List') OR starts_with(eventname, 'Get'))
  AND errorcode = 'AccessDenied'
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
  AND coalesce(sessioncredentialfromconsole, 'false') <> 'true'
