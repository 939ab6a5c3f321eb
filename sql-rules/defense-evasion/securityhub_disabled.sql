/*
id = "aws.defense_evasion.securityhub_disabled"
title = "Security Hub disabled, standards disabled or findings import stopped"
severity = "high"
description = """
Detects successful Security Hub calls that switch off posture and threat aggregation: DisableSecurityHub (the hub and all its controls in the region), BatchDisableStandards (security standards and their controls stop being evaluated), DisableImportFindingsForProduct (findings from an integration such as GuardDuty, Inspector or a partner product stop arriving), and DisassociateFromAdministratorAccount or DisassociateFromMasterAccount (the member stops sending findings to the security account). Calls made by the Security Hub service itself (central configuration) are excluded.
Re-enable Security Hub, the standard in requestParameters.StandardsSubscriptionArns or the product subscription in requestParameters.ProductSubscriptionArn in awsregion, then review what the caller did around this event.
"""
tactics = ["TA0005"]
techniques = ["T1562.001"]
references = [
  "https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_DisableSecurityHub.html",
  "https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchDisableStandards.html",
  "https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_DisableImportFindingsForProduct.html",
  "https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_DisassociateFromAdministratorAccount.html",
  "https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-ct.html",
]
false_positives = [
  "Security team trimming standards or product integrations to reduce cost or duplicate findings",
  "Region or account decommissioning, or moving members to a new Security Hub administrator account",
]
runbook = "Run securityhub describe-hub and get-enabled-standards in awsregion for recipientaccountid, and confirm with the security team that useridentity.arn was allowed to change Security Hub."
tags = ["securityhub", "detection", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'securityhub.amazonaws.com'
  AND eventname IN (
    'DisableSecurityHub',
    'BatchDisableStandards',
    'DisableImportFindingsForProduct',
    'DisassociateFromAdministratorAccount',
    'DisassociateFromMasterAccount'
  )
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
