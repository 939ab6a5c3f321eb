/*
id = "aws.defense_evasion.leave_organization"
title = "AWS account left its organization"
severity = "high"
description = """
Detects a successful Organizations LeaveOrganization call, made from a member account to detach itself from its AWS Organization. Once outside the organization the account is no longer bound by SCPs, organization trails, delegated GuardDuty or Security Hub, so it is a strong sign that an attacker with admin in the member account is removing guardrails.
Confirm with the organization owners that the departure was planned; if not, treat the account as compromised, invite it back if you still control it and review the activity that preceded the call.
"""
tactics = ["TA0005"]
techniques = ["T1666"]
stratus = ["aws.defense-evasion.organizations-leave"]
references = [
  "https://docs.aws.amazon.com/organizations/latest/APIReference/API_LeaveOrganization.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.organizations-leave/",
]
false_positives = [
  "Planned divestiture or transfer of an account to another organization",
]
runbook = "Ask the organization management team whether recipientaccountid was scheduled to leave, and block further departures with an SCP denying organizations:LeaveOrganization."
tags = ["organizations", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'organizations.amazonaws.com'
  AND eventname = 'LeaveOrganization'
  AND errorcode IS NULL
