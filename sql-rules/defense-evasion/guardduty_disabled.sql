/*
id = "aws.defense_evasion.guardduty_disabled"
title = "GuardDuty detector deleted, disabled, detached or findings auto-archived"
severity = "high"
description = """
Detects successful GuardDuty calls that stop or hide threat detection: DeleteDetector, UpdateDetector with enable false, DisassociateFromMasterAccount or DisassociateFromAdministratorAccount (the member stops reporting to the security account), and CreateFilter or UpdateFilter with action ARCHIVE (a suppression rule that auto-archives matching findings).
Restore the detector or administrator association in the affected region; for filters, read requestParameters.findingCriteria to see which findings are being hidden, and review the caller's activity.
"""
tactics = ["TA0005"]
techniques = ["T1562.001"]
references = [
  "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DeleteDetector.html",
  "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_UpdateDetector.html",
  "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DisassociateFromAdministratorAccount.html",
  "https://docs.aws.amazon.com/guardduty/latest/ug/findings_suppression-rule.html",
]
false_positives = [
  "Security team creating suppression rules for known-benign findings",
  "Region or account decommissioning, or moving members to a new GuardDuty administrator account",
]
runbook = "Check the detector status with guardduty get-detector in awsregion and, for filters, whether the suppression rule was requested by the security team."
tags = ["guardduty", "detection", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'guardduty.amazonaws.com'
  AND errorcode IS NULL
  AND (
    eventname IN ('DeleteDetector', 'DisassociateFromMasterAccount', 'DisassociateFromAdministratorAccount')
    OR (eventname = 'UpdateDetector' AND json_extract_scalar(requestparameters, '$.enable') = 'false')
    OR (eventname IN ('CreateFilter', 'UpdateFilter') AND upper(json_extract_scalar(requestparameters, '$.action')) = 'ARCHIVE')
  )
