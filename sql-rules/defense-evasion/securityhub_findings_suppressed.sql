/*
id = "aws.defense_evasion.securityhub_findings_suppressed"
title = "Security Hub findings suppressed in bulk or by an automation rule"
severity = "medium"
description = """
Detects successful Security Hub calls that hide findings from analysts: a BatchUpdateFindings call that sets Workflow.Status to SUPPRESSED on 10 or more findings at once (requestParameters.FindingIdentifiers has at least 10 entries), and a CreateAutomationRule whose action sets Workflow.Status to SUPPRESSED, which silently suppresses every future finding matching its criteria. Suppressing a handful of findings during triage is routine and is not matched.
Read requestParameters.FindingIdentifiers (or the automation rule Criteria) to see which findings were hidden, reopen them if the change was not requested, and review the caller's activity: attackers suppress the findings their own actions produced.
"""
tactics = ["TA0005"]
techniques = ["T1562.001"]
references = [
  "https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchUpdateFindings.html",
  "https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_CreateAutomationRule.html",
  "https://docs.aws.amazon.com/securityhub/latest/userguide/automation-rules.html",
]
false_positives = [
  "Analysts bulk-suppressing known-benign findings from the console (select all on a page)",
  "Ticketing or SOAR integrations that close findings in batches",
  "Security team creating automation rules for accepted risks",
]
runbook = "List the suppressed finding ids in requestParameters.FindingIdentifiers (or the rule in requestParameters.RuleName) and ask the security team whether useridentity.arn was expected to suppress them."
tags = ["securityhub", "findings", "defense-evasion"]
dedup_key = ["useridentity.arn", "recipientaccountid", "awsregion"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'securityhub.amazonaws.com'
  AND errorcode IS NULL
  AND (
    (
      eventname = 'BatchUpdateFindings'
      AND upper(json_extract_scalar(requestparameters, '$.Workflow.Status')) = 'SUPPRESSED'
      AND json_extract(requestparameters, '$.FindingIdentifiers[9]') IS NOT NULL
    )
    OR (
      eventname = 'CreateAutomationRule'
      AND upper(json_extract_scalar(requestparameters, '$.Actions[0].FindingFieldsUpdate.Workflow.Status')) = 'SUPPRESSED'
      AND upper(coalesce(json_extract_scalar(requestparameters, '$.RuleStatus'), 'ENABLED')) = 'ENABLED'
    )
  )
