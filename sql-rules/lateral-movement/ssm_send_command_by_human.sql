/*
id = "aws.lateral_movement.ssm_send_command_by_human"
title = "SSM Run Command sent to instances by a human principal"
severity = "medium"
description = """
Detects a successful SSM SendCommand made by a human identity: an IAM user or the root user (long-term credentials), a console session (sessionCredentialFromConsole = true), or an IAM Identity Center permission-set role (AWSReservedSSO_*). Automation (State Manager, Maintenance Windows, pipelines running under roles without a console session) and calls by AWS services (invokedBy set) are excluded.
Run Command executes arbitrary shell or PowerShell as root/SYSTEM on every instance in requestParameters.instanceIds or targets, with no network path needed; CloudTrail hides the command text (parameters is HIDDEN_DUE_TO_SECURITY_REASONS), so fetch it from SSM command history. Grouped per principal for an hour.
"""
tactics = ["TA0002", "TA0008"]
techniques = ["T1651"]
stratus = ["aws.execution.ssm-send-command"]
references = [
  "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html",
  "https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-cloudtrail-logs.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ssm-send-command/",
]
false_positives = [
  "Administrators running ad-hoc Run Command jobs (patching, log collection) from the console or CLI",
  "Break-glass operations during an incident",
]
runbook = "Look up responseElements.command.commandId with aws ssm list-command-invocations --details to read the executed commands and output, and confirm with the owner of useridentity.arn that the run was intended."
tags = ["ssm", "run-command", "execution", "lateral-movement"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ssm.amazonaws.com'
  AND eventname = 'SendCommand'
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
  AND (
    useridentity.type IN ('IAMUser', 'Root')
    OR sessioncredentialfromconsole = 'true'
    OR (
      useridentity.type = 'AssumedRole'
      AND starts_with(coalesce(useridentity.sessioncontext.sessionissuer.username, ''), 'AWSReservedSSO_')
    )
  )
