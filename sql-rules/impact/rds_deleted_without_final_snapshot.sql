/*
id = "aws.impact.rds_deleted_without_final_snapshot"
title = "RDS or Aurora database deleted without a final snapshot"
severity = "high"
description = """
Detects successful RDS DeleteDBInstance and DeleteDBCluster calls (also used by Aurora, Neptune and DocumentDB) with requestParameters.skipFinalSnapshot true, made directly by a user or role. Without a final snapshot the only way back is an existing manual snapshot or retained automated backups, and requestParameters.deleteAutomatedBackups true removes the latter as well. Calls blocked by deletion protection fail and do not match, nor do deletions made through CloudFormation (useridentity.invokedby).
Look for remaining snapshots and retained automated backups of the database in requestParameters.dBInstanceIdentifier or dBClusterIdentifier (rds describe-db-snapshots, describe-db-instance-automated-backups) and restore if the deletion was not planned.
"""
tactics = ["TA0040"]
techniques = ["T1485", "T1490"]
references = [
  "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html",
  "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBCluster.html",
  "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_DeleteInstance.html",
]
false_positives = [
  "Terraform or scripts tearing down development and test databases with skip_final_snapshot",
  "Deleting a database that was just restored for a test",
]
runbook = "Ask the database owner whether useridentity.arn was expected to delete it, and check whether any snapshot or retained automated backup still exists."
tags = ["rds", "aurora", "database", "data-destruction", "impact"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'rds.amazonaws.com'
  AND eventname IN ('DeleteDBInstance', 'DeleteDBCluster')
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.skipFinalSnapshot') = 'true'
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
  AND useridentity.invokedby IS NULL
