/*
id = "aws.signals.root_console_login_without_mfa"
title = "Root console sign-in without MFA (signal)"
severity = "info"
description = """
Signal for correlations: a successful console sign-in by the account root user (signin.amazonaws.com ConsoleLogin, useridentity.type = Root, responseElements.ConsoleLogin = Success) where additionalEventData.MFAUsed = No, that is with the password alone.
The sign-in itself already alerts through aws.initial_access.root_console_login and aws.initial_access.console_login_without_mfa; this signal lets aws.correlation.root_login_without_mfa_then_changes tie it to the security changes that follow.
"""
tactics = ["TA0001", "TA0004"]
techniques = ["T1078.004"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/enable-virt-mfa-for-root.html",
]
false_positives = [
  "Root sign-in to a new account before its MFA device is registered (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own; when a correlation cites it, ask the root credential custodian about the sign-in from sourceipaddress."
tags = ["signin", "root", "mfa", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'signin.amazonaws.com'
  AND eventname = 'ConsoleLogin'
  AND useridentity.type = 'Root'
  AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
  AND json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'No'
