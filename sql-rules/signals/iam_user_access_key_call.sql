/*
id = "aws.signals.iam_user_access_key_call"
title = "API call signed with an IAM user's long-term access key (signal)"
severity = "info"
description = """
Signal for correlations: any API call, successful or refused, signed with a long-term IAM user access key (useridentity.type = IAMUser and an access key id starting with AKIA) and sent from an IP address (not an AWS service name or AWS Internal). Refused calls are kept on purpose: the first thing done with a leaked key is often a failed probe.
Used by aws.correlation.access_key_new_ip to learn from which addresses each key is normally used.
"""
tactics = ["TA0001"]
techniques = ["T1078.004"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids",
]
false_positives = [
  "All normal use of access keys (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own."
tags = ["iam", "access-key", "source-ip", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE useridentity.type = 'IAMUser'
  AND starts_with(coalesce(useridentity.accesskeyid, ''), 'AKIA')
  AND useridentity.invokedby IS NULL
  AND regexp_like(coalesce(sourceipaddress, ''), '^[0-9A-Fa-f:.]+$')
