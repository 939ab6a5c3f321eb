/*
id = "aws.exfiltration.ami_shared"
title = "AMI shared with another account or made public"
severity = "medium"
description = """
Detects a successful EC2 ModifyImageAttribute that adds launch permissions for a specific AWS account (userId) or for everyone (group all) in requestParameters.launchPermission.add.items. The receiving account can launch the image and read its disks, including any credentials or data baked into it. Shares with an organization or OU ARN, removals, and calls by AWS services (invokedBy set) are ignored.
Confirm that the account is one of yours (golden-image pipelines share AMIs routinely) and revoke the permission if it is public or unknown.
"""
tactics = ["TA0010"]
techniques = ["T1537"]
stratus = ["aws.exfiltration.ec2-share-ami"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyImageAttribute.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/sharingamis-explicit.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.exfiltration.ec2-share-ami/",
]
false_positives = [
  "Golden-AMI pipelines sharing images with the accounts of the organization by account ID",
  "Vendors publishing public AMIs on purpose",
]
runbook = "Check the userId values in requestParameters.launchPermission.add.items against your account inventory; remove unknown or public launch permissions on requestParameters.imageId and review the caller's other actions."
tags = ["ec2", "ami", "sharing", "exfiltration"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname = 'ModifyImageAttribute'
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
  AND regexp_like(coalesce(json_extract(requestparameters, '$.launchPermission.add.items'), ''), '"(userId|group)"')
