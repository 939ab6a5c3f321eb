/*
id = "aws.signals.human_principal_api_call"
title = "Successful API call by a person-like principal from an IP address (signal)"
severity = "info"
description = """
Signal for correlations: any successful call (errorCode empty; failed console sign-ins excluded) made from an IP address (not an AWS service name or AWS Internal) by a principal that is usually a person or a long-term credential: IAM users, root, federation-token users, IAM Identity Center (AWSReservedSSO_) role sessions and any console session (sessionCredentialFromConsole). Workload roles are out of scope because their source addresses change by design.
Used by aws.correlation.principal_new_source_ip to learn which addresses each principal normally works from.
"""
tactics = ["TA0001"]
techniques = ["T1078.004"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html",
]
false_positives = [
  "All normal human activity (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own."
tags = ["identity", "source-ip", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE errorcode IS NULL
  AND useridentity.invokedby IS NULL
  AND useridentity.arn IS NOT NULL
  AND regexp_like(coalesce(sourceipaddress, ''), '^[0-9A-Fa-f:.]+$')
  AND NOT (
    eventsource = 'signin.amazonaws.com'
    AND eventname = 'ConsoleLogin'
    AND json_extract_scalar(responseelements, '$.ConsoleLogin') IS DISTINCT FROM 'Success'
  )
  AND (
    useridentity.type IN ('IAMUser', 'Root', 'FederatedUser')
    OR coalesce(useridentity.sessioncontext.sessionissuer.arn, '') LIKE '%:role/aws-reserved/sso.amazonaws.com/%'
    OR sessioncredentialfromconsole = 'true'
  )
