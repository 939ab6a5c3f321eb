/*
id = "aws.defense_evasion.cloudtrail_lake_event_data_store_deleted"
title = "CloudTrail Lake event data store deleted or ingestion stopped"
severity = "high"
description = """
Detects successful CloudTrail DeleteEventDataStore and StopEventDataStoreIngestion calls. An event data store is the CloudTrail Lake copy of the audit log; stopping ingestion silently stops recording events into it, and deleting it (after termination protection has been turned off) schedules the stored events for removal.
Restart ingestion or restore the store named in requestParameters.eventDataStore (a deleted store stays in PENDING_DELETION for 7 days and can be restored), then review what the caller did while ingestion was off.
"""
tactics = ["TA0005"]
techniques = ["T1562.008"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DeleteEventDataStore.html",
  "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopEventDataStoreIngestion.html",
  "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_RestoreEventDataStore.html",
]
false_positives = [
  "Planned retirement of an event data store or migration to a new one",
  "Pausing ingestion of a test data store to control cost",
]
runbook = "Run cloudtrail get-event-data-store for requestParameters.eventDataStore to see its status, and call restore-event-data-store or start-event-data-store-ingestion if the change was not approved."
tags = ["cloudtrail", "cloudtrail-lake", "logging", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'cloudtrail.amazonaws.com'
  AND eventname IN ('DeleteEventDataStore', 'StopEventDataStoreIngestion')
  AND errorcode IS NULL
