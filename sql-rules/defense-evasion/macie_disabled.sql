/*
id = "aws.defense_evasion.macie_disabled"
title = "Amazon Macie disabled, paused or detached from its administrator"
severity = "medium"
description = """
Detects successful Macie calls that stop sensitive-data discovery: DisableMacie (deletes the Macie session, its findings and its configuration in the region), UpdateMacieSession with status PAUSED, and DisassociateFromAdministratorAccount or DisassociateFromMasterAccount (the member stops reporting to the security account). Attackers who plan to exfiltrate from S3 disable Macie so that discovery of exposed sensitive data and policy findings stop.
Re-enable Macie in awsregion, check S3 bucket policies and public access for changes made after this event, and review the caller's activity.
"""
tactics = ["TA0005"]
techniques = ["T1562.001"]
references = [
  "https://docs.aws.amazon.com/macie/latest/APIReference/macie.html",
  "https://docs.aws.amazon.com/macie/latest/user/macie-suspend-disable.html",
  "https://docs.aws.amazon.com/macie/latest/user/macie-logging.html",
]
false_positives = [
  "Cost reduction by suspending or disabling Macie in unused regions",
  "Account decommissioning or a change of Macie administrator account",
]
runbook = "Run macie2 get-macie-session in awsregion for recipientaccountid and confirm with the security team that useridentity.arn was allowed to change Macie."
tags = ["macie", "detection", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'macie2.amazonaws.com'
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
  AND (
    eventname IN ('DisableMacie', 'DisassociateFromAdministratorAccount', 'DisassociateFromMasterAccount')
    OR (eventname = 'UpdateMacieSession' AND upper(json_extract_scalar(requestparameters, '$.status')) = 'PAUSED')
  )
