/*
id = "aws.signals.privileged_write_success"
title = "Successful identity, role or compute change (signal)"
severity = "info"
description = """
Signal for correlations: a successful call, made directly by a user or role, that creates or widens access or compute: IAM Create*, Put*, Attach*, AddUserToGroup, UpdateAssumeRolePolicy, UpdateLoginProfile, UpdateAccessKey and SetDefaultPolicyVersion; STS AssumeRole and GetFederationToken; EC2 RunInstances, CreateKeyPair, ImportKeyPair, AuthorizeSecurityGroupIngress, ModifyInstanceAttribute, ModifySnapshotAttribute and ModifyImageAttribute. Calls by AWS services (AWSService identity, invokedBy such as Auto Scaling or CloudFormation) are excluded.
On its own this is everyday administration; after a burst of refused calls by the same principal it shows that the enumeration found something that works (aws.correlation.recon_access_denied_then_success).
"""
tactics = ["TA0004", "TA0003"]
techniques = ["T1098", "T1078.004"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_Operations.html",
  "https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html",
]
false_positives = [
  "Routine administration and deployments (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own; when a correlation cites it, check what the call created or changed and undo it if the principal is compromised."
tags = ["iam", "sts", "ec2", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
  AND (
    (
      eventsource = 'iam.amazonaws.com'
      AND (
        eventname LIKE 'Create%'
        OR eventname LIKE 'Put%'
        OR eventname LIKE 'Attach%'
        OR eventname IN ('AddUserToGroup', 'UpdateAssumeRolePolicy', 'UpdateLoginProfile', 'UpdateAccessKey', 'SetDefaultPolicyVersion')
      )
    )
    OR (eventsource = 'sts.amazonaws.com' AND eventname IN ('AssumeRole', 'GetFederationToken'))
    OR (
      eventsource = 'ec2.amazonaws.com'
      AND eventname IN (
        'RunInstances', 'CreateKeyPair', 'ImportKeyPair', 'AuthorizeSecurityGroupIngress',
        'ModifyInstanceAttribute', 'ModifySnapshotAttribute', 'ModifyImageAttribute'
      )
    )
  )
