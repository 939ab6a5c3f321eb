/*
id = "aws.lateral_movement.ssm_start_session"
title = "SSM Session Manager session started on an instance"
severity = "low"
description = """
Detects a successful SSM StartSession, which opens an interactive shell (or, with a port-forwarding documentName, a tunnel) to the managed node in requestParameters.target, without SSH keys or open inbound ports. Calls by AWS services (AWSService identity or invokedBy set) are excluded.
Where Session Manager is the sanctioned access path this is routine, hence low severity and grouping per principal and target for an hour; it matters when the principal does not normally administer the target, when a port-forwarding document reaches a database or another host, or when the session follows suspicious activity by the same principal.
"""
tactics = ["TA0008", "TA0002"]
techniques = ["T1021", "T1651"]
stratus = ["aws.execution.ssm-start-session"]
references = [
  "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StartSession.html",
  "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-auditing.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ssm-start-session/",
]
false_positives = [
  "Engineers using Session Manager as their normal shell access to instances",
  "Port forwarding to databases by developers through a bastion instance",
]
runbook = "Check whether useridentity.arn usually connects to requestParameters.target, read the session transcript if session logging is enabled (responseElements.sessionId), and review the principal's other activity around the event."
tags = ["ssm", "session-manager", "lateral-movement"]
dedup_key = ["useridentity.arn", "json_extract_scalar(requestparameters, '$.target')"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ssm.amazonaws.com'
  AND eventname = 'StartSession'
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
