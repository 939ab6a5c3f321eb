/*
id = "aws.exfiltration.rds_snapshot_shared"
title = "RDS snapshot shared with another account or made public"
severity = "high"
description = """
Detects a successful RDS ModifyDBSnapshotAttribute or ModifyDBClusterSnapshotAttribute with requestParameters.attributeName = restore and at least one entry in requestParameters.valuesToAdd: an AWS account ID, or all for a public snapshot. The receiving account can restore the database, with all its data, in an account you do not control. Calls by AWS services (invokedBy set) and pure removals (valuesToRemove only) are ignored.
Check the account IDs in valuesToAdd; if unknown or all, remove them with valuesToRemove and determine whether the snapshot was already copied or restored.
"""
tactics = ["TA0010"]
techniques = ["T1537"]
stratus = ["aws.exfiltration.rds-share-snapshot"]
references = [
  "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBSnapshotAttribute.html",
  "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBClusterSnapshotAttribute.html",
  "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ShareSnapshot.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.exfiltration.rds-share-snapshot/",
]
false_positives = [
  "Cross-account backup copies or database migrations to accounts of the same organization",
  "Refreshing a staging account from a production snapshot",
]
runbook = "Compare requestParameters.valuesToAdd with your organization's accounts; revoke unknown or public access on the snapshot (dBSnapshotIdentifier or dBClusterSnapshotIdentifier) and review the caller's session."
tags = ["rds", "snapshot", "sharing", "exfiltration"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'rds.amazonaws.com'
  AND eventname IN ('ModifyDBSnapshotAttribute', 'ModifyDBClusterSnapshotAttribute')
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
  AND lower(json_extract_scalar(requestparameters, '$.attributeName')) = 'restore'
  AND json_extract_scalar(requestparameters, '$.valuesToAdd[0]') IS NOT NULL
