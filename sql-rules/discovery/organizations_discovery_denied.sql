/*
id = "aws.discovery.organizations_discovery_denied"
title = "AWS Organizations enumeration refused"
severity = "low"
description = """
Detects AWS Organizations discovery calls (ListAccounts, ListAccountsForParent, ListRoots, ListOrganizationalUnitsForParent, ListChildren, ListDelegatedAdministrators, ListPolicies, DescribeOrganization, DescribeAccount) that fail with AccessDeniedException, by any principal other than an AWS service. Outside the management account and delegated administrators these calls are refused ('You don't have permissions to access this resource'), so the errors typically come from a principal of a member account, or one without Organizations permissions, trying to map the wider organization.
Attackers who land in one account look for the other accounts and the management account to pivot to; grouped per principal for an hour.
"""
tactics = ["TA0007"]
techniques = ["T1087.004", "T1069.003"]
references = [
  "https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccounts.html",
  "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_security_incident-response.html",
  "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_cloudtrail-integration.html",
]
false_positives = [
  "Multi-account tooling (Terraform providers, cost or inventory tools) deployed in member accounts that probe Organizations and fall back on failure",
  "Console pages that query the organization for users without Organizations permissions",
]
runbook = "Check which account useridentity.accountid is and whether useridentity.arn has any reason to query the organization; look for other discovery calls from the same principal and sourceipaddress."
tags = ["organizations", "recon", "access-denied", "discovery"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'organizations.amazonaws.com'
  AND eventname IN (
    'ListAccounts', 'ListAccountsForParent', 'ListRoots', 'ListOrganizationalUnitsForParent',
    'ListChildren', 'ListDelegatedAdministrators', 'ListPolicies', 'DescribeOrganization', 'DescribeAccount'
  )
  AND errorcode = 'AccessDeniedException'
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
