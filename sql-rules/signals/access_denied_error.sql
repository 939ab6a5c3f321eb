/*
id = "aws.signals.access_denied_error"
title = "API call refused for lack of permission (signal)"
severity = "info"
description = """
Signal for correlations: any API call refused with an authorization error (errorCode AccessDenied, AccessDeniedException, Client.UnauthorizedOperation or UnauthorizedOperation), by a principal acting directly (not an AWS service, no invokedBy). Console sessions (sessionCredentialFromConsole = true) are excluded because console pages call many APIs in the background and routinely collect denials for users with narrow permissions. Throttling, validation and not-found errors are deliberately left out.
A burst of denials from one principal is how permission enumeration tools (Pacu, enumerate-iam, ScoutSuite with limited keys) look in CloudTrail.
"""
tactics = ["TA0007"]
techniques = ["T1580", "T1087.004"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html",
]
false_positives = [
  "Misconfigured applications and pipelines missing a permission (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own; when a correlation cites it, list the refused actions of the principal to see what it was looking for."
tags = ["access-denied", "discovery", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE errorcode IN ('AccessDenied', 'AccessDeniedException', 'Client.UnauthorizedOperation', 'UnauthorizedOperation')
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
  AND useridentity.arn IS NOT NULL
  AND coalesce(sessioncredentialfromconsole, 'false') <> 'true'
