/*
id = "aws.signals.secret_material_read"
title = "Secret or credential material read by a non-workload principal (signal)"
severity = "info"
description = """
Signal for correlations: a successful read of secret material made directly by a person, a long-term key or a stolen session rather than by a running workload: Secrets Manager GetSecretValue or BatchGetSecretValue, SSM GetParameter, GetParameters or GetParametersByPath with withDecryption = true, EC2 GetPasswordData, and EC2 DescribeInstanceAttribute for the userData attribute (user data often carries bootstrap passwords and tokens).
Calls by AWS services (AWSService identity, invokedBy), by Lambda and ECS runtimes and the SSM agent (user agent exec-env/AWS_Lambda, exec-env/AWS_ECS, amazon-ssm-agent), by EC2 instance-profile sessions (ec2RoleDelivery; their use off the instance is covered by aws.credential_access.ec2_instance_credentials_used_off_instance) and by web-identity sessions (EKS service accounts, CI OIDC roles) are excluded, because applications read their secrets in bursts at every start.
"""
tactics = ["TA0006"]
techniques = ["T1555.006", "T1552"]
references = [
  "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html",
  "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetPasswordData.html",
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceAttribute.html",
]
false_positives = [
  "Administrators and developers reading single secrets while debugging (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own; when a correlation cites it, list which secrets, parameters or instances the caller read and from which sourceipaddress."
tags = ["secretsmanager", "ssm", "ec2", "credentials", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
  AND useridentity.sessioncontext.ec2roledelivery IS NULL
  AND useridentity.sessioncontext.webidfederationdata.federatedprovider IS NULL
  AND NOT regexp_like(coalesce(useragent, ''), 'exec-env/AWS_(Lambda|ECS)|amazon-ssm-agent')
  AND (
    (eventsource = 'secretsmanager.amazonaws.com' AND eventname IN ('GetSecretValue', 'BatchGetSecretValue'))
    OR (
      eventsource = 'ssm.amazonaws.com'
      AND eventname IN ('GetParameter', 'GetParameters', 'GetParametersByPath')
      AND json_extract_scalar(requestparameters, '$.withDecryption') = 'true'
    )
    OR (eventsource = 'ec2.amazonaws.com' AND eventname = 'GetPasswordData')
    OR (
      eventsource = 'ec2.amazonaws.com'
      AND eventname = 'DescribeInstanceAttribute'
      AND json_extract_scalar(requestparameters, '$.attribute') = 'userData'
    )
  )
