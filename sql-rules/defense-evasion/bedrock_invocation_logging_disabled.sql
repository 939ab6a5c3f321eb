/*
id = "aws.defense_evasion.bedrock_invocation_logging_disabled"
title = "Amazon Bedrock model invocation logging disabled"
severity = "high"
description = """
Detects a successful Amazon Bedrock DeleteModelInvocationLoggingConfiguration call, which turns off the logging of model invocations (prompts, responses and metadata) to CloudWatch Logs and S3 for the region. Attackers who use stolen credentials to run models at the victim's expense (LLMjacking) or to extract data through prompts disable it first so their prompts are not recorded.
Restore the logging configuration in awsregion (bedrock put-model-invocation-logging-configuration) and review bedrock InvokeModel and Converse activity from this point on, which CloudTrail still records without prompt content.
"""
tactics = ["TA0005"]
techniques = ["T1562.008"]
references = [
  "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_DeleteModelInvocationLoggingConfiguration.html",
  "https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html",
]
false_positives = [
  "Application or platform teams reconfiguring logging (delete then put with a new destination)",
  "Disabling logging in a sandbox account to save cost",
]
runbook = "Run bedrock get-model-invocation-logging-configuration in awsregion and look for Bedrock InvokeModel, Converse or InvokeModelWithResponseStream calls by useridentity.arn after this event."
tags = ["bedrock", "genai", "logging", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'bedrock.amazonaws.com'
  AND eventname = 'DeleteModelInvocationLoggingConfiguration'
  AND errorcode IS NULL
