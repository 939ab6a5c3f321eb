/*
id = "aws.signals.successful_write_by_principal"
title = "Successful mutating API call by a user or role (signal)"
severity = "info"
description = """
Signal for correlations: any successful API call that changes something (eventType AwsApiCall, readOnly = false, errorCode empty) made directly by a user or role, not by an AWS service (AWSService identity or invokedBy). Read-only calls are excluded so that inventory and security tools that sweep every region do not make all regions look used.
Used by aws.correlation.first_activity_in_region to learn which regions each account really works in.
"""
tactics = ["TA0005"]
techniques = ["T1535"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-record-contents.html",
]
false_positives = [
  "All normal change activity (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own."
tags = ["region", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE eventtype = 'AwsApiCall'
  AND readonly = 'false'
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
  AND awsregion IS NOT NULL
