/*
id = "aws.exfiltration.ebs_snapshot_shared"
title = "EBS snapshot shared with another account or made public"
severity = "high"
description = """
Detects a successful EC2 ModifySnapshotAttribute that adds create-volume permissions: requestParameters.createVolumePermission.add.items holds a userId (another AWS account) or the group all (public). Whoever receives the permission can create a volume from the snapshot and read the whole disk in their own account, outside your logging. Calls made by AWS services (invokedBy set, e.g. AWS Backup) are excluded; removals are ignored.
Verify that the account IDs in the add list belong to your organization; revoke the permission (createVolumePermission remove) immediately if the share is public or unknown.
"""
tactics = ["TA0010"]
techniques = ["T1537"]
stratus = ["aws.exfiltration.ec2-share-ebs-snapshot"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html",
  "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.exfiltration.ec2-share-ebs-snapshot/",
]
false_positives = [
  "Disaster-recovery or migration processes that share snapshots with accounts of the same organization",
  "Publishing deliberately public datasets as snapshots",
]
runbook = "Compare the userId values in requestParameters.createVolumePermission.add.items with your organization's account list; if unknown or group all, remove the permission, check whether volumes were created from requestParameters.snapshotId, and review the caller's session."
tags = ["ec2", "ebs", "snapshot", "sharing", "exfiltration"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname = 'ModifySnapshotAttribute'
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
  AND regexp_like(coalesce(json_extract(requestparameters, '$.createVolumePermission.add.items'), ''), '"(userId|group)"')
