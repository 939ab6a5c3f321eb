/*
id = "aws.credential_access.ssm_securestring_parameters_decrypted"
title = "SSM parameters read with decryption by a non-workload principal"
severity = "low"
description = """
Detects successful SSM Parameter Store GetParameter, GetParameters or GetParametersByPath calls with requestParameters.withDecryption = true, i.e. SecureString values returned in clear text. Calls made by AWS services (userIdentity type AWSService or invokedBy set) and by the usual workload runtimes are excluded: EC2 instance-profile credentials (sessionContext.ec2RoleDelivery set), the SSM agent, and Lambda or ECS runtimes (exec-env/AWS_Lambda or exec-env/AWS_ECS in the user agent), which read their own configuration all day.
What remains are humans, CI jobs and stolen keys. A burst of GetParameters or a recursive GetParametersByPath on a broad path (requestParameters.path such as /) is how attackers harvest database passwords and API tokens; alerts are grouped per principal for an hour.
"""
tactics = ["TA0006"]
techniques = ["T1555.006"]
stratus = ["aws.credential-access.ssm-retrieve-securestring-parameters"]
references = [
  "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html",
  "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParametersByPath.html",
  "https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-cloudtrail-logs.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.ssm-retrieve-securestring-parameters/",
]
false_positives = [
  "Engineers viewing a SecureString with 'Show decrypted value' in the console or aws ssm get-parameter --with-decryption",
  "CI/CD pipelines and on-premises hosts that read deployment secrets from Parameter Store",
  "Containers on Kubernetes or other runtimes whose user agent does not carry an exec-env marker",
]
runbook = "List the parameter names or path read by useridentity.arn in the hour (requestParameters.name, names or path) and confirm the principal normally reads them from this sourceipaddress; rotate the values if not."
tags = ["ssm", "parameter-store", "secrets", "credential-access"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ssm.amazonaws.com'
  AND eventname IN ('GetParameter', 'GetParameters', 'GetParametersByPath')
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.withDecryption') = 'true'
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
  AND useridentity.sessioncontext.ec2roledelivery IS NULL
  AND NOT regexp_like(coalesce(useragent, ''), 'exec-env/AWS_(Lambda|ECS)|amazon-ssm-agent')
