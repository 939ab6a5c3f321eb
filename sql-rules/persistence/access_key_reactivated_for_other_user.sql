/*
id = "aws.persistence.access_key_reactivated_for_other_user"
title = "IAM access key reactivated for another user"
severity = "medium"
description = """
Detects a successful IAM UpdateAccessKey that sets status Active on a key of a user other than the caller (requestParameters.userName differs, case-insensitively, from the caller's user name; roles and root always count as another user). Deactivating keys is not matched.
Re-enabling a dormant or quarantined key of another user gives an attacker working long-term credentials without creating a new key, which is easier to miss than CreateAccessKey. Confirm with the key owner and whoever deactivated it why it is being re-enabled; if unexpected, set it back to Inactive and check the key's last use.
"""
tactics = ["TA0003"]
techniques = ["T1098.001"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAccessKey.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
]
false_positives = [
  "Administrators re-enabling a key that was disabled by mistake or during a closed incident",
  "Key-rotation tooling that re-activates the previous key on rollback",
]
runbook = "Check why requestParameters.accessKeyId was inactive (who deactivated it and when) and whether it has been used since this event (iam get-access-key-last-used)."
tags = ["iam", "access-key", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname = 'UpdateAccessKey'
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.status') = 'Active'
  AND json_extract_scalar(requestparameters, '$.userName') IS NOT NULL
  AND lower(json_extract_scalar(requestparameters, '$.userName')) IS DISTINCT FROM lower(useridentity.username)
