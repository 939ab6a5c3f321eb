/*
id = "aws.defense_evasion.config_rule_deleted"
title = "AWS Config rule or conformance pack deleted"
severity = "medium"
description = """
Detects successful AWS Config DeleteConfigRule, DeleteConformancePack, DeleteOrganizationConfigRule and DeleteOrganizationConformancePack calls made directly by a user or role. Config rules are the compliance checks that flag public buckets, open security groups, unencrypted volumes or disabled logging; deleting them lets a misconfiguration stay unreported. Deletions performed by AWS services (useridentity.invokedby set, for example the rules of a conformance pack being removed by config-conforms.amazonaws.com) are excluded.
Find out what the rule or pack in requestParameters checked, recreate it if the deletion was not planned, and review the resources it covered for changes made since.
"""
tactics = ["TA0005"]
techniques = ["T1562.001"]
references = [
  "https://docs.aws.amazon.com/config/latest/APIReference/API_DeleteConfigRule.html",
  "https://docs.aws.amazon.com/config/latest/APIReference/API_DeleteConformancePack.html",
  "https://docs.aws.amazon.com/config/latest/APIReference/API_DeleteOrganizationConfigRule.html",
  "https://docs.aws.amazon.com/config/latest/APIReference/API_DeleteOrganizationConformancePack.html",
]
false_positives = [
  "Compliance team retiring or replacing rules, or redeploying a conformance pack",
  "Landing-zone automation (Control Tower, Terraform) updating the Config baseline",
]
runbook = "Check requestParameters for the rule or pack name, then ask the compliance owner whether useridentity.arn was expected to delete it."
tags = ["config", "compliance", "defense-evasion"]
dedup_key = ["useridentity.arn", "recipientaccountid", "awsregion"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'config.amazonaws.com'
  AND eventname IN (
    'DeleteConfigRule',
    'DeleteConformancePack',
    'DeleteOrganizationConfigRule',
    'DeleteOrganizationConformancePack'
  )
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
  AND useridentity.invokedby IS NULL
