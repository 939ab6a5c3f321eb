/*
id = "aws.impact.kms_key_scheduled_for_deletion"
title = "KMS key scheduled for deletion"
severity = "high"
description = """
Detects a successful KMS ScheduleKeyDeletion call. When the waiting period (requestParameters.pendingWindowInDays, 7 to 30 days) ends, the key material is destroyed and every S3 object, EBS volume, snapshot, database, secret or backup encrypted under the key becomes permanently unreadable; attackers use it for destruction or extortion, and the key is unusable from the moment it is pending deletion.
Cancel the deletion (kms cancel-key-deletion, then enable-key) for the key in responseElements.keyId unless the owner confirms it was retired, and review the caller's activity.
"""
tactics = ["TA0040"]
techniques = ["T1485", "T1486"]
references = [
  "https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html",
  "https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html",
  "https://docs.aws.amazon.com/kms/latest/developerguide/ct-schedule-key-deletion.html",
]
false_positives = [
  "Key owners retiring customer managed keys that are no longer used",
  "Infrastructure-as-code teardown (CloudFormation, Terraform) of stacks that own a KMS key",
]
runbook = "Run kms describe-key on responseElements.keyId to see what the key protects (aliases, tags, grants), and cancel the deletion before responseElements.deletionDate if the owner did not request it."
tags = ["kms", "encryption", "data-destruction", "impact"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'kms.amazonaws.com'
  AND eventname = 'ScheduleKeyDeletion'
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
