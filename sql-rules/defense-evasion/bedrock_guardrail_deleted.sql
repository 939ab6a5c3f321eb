/*
id = "aws.defense_evasion.bedrock_guardrail_deleted"
title = "Amazon Bedrock guardrail deleted"
severity = "medium"
description = """
Detects a successful Amazon Bedrock DeleteGuardrail call that deletes a whole guardrail (no requestParameters.guardrailVersion, so the draft and every version go). Guardrails filter harmful content, denied topics, prompt attacks and sensitive data in model prompts and responses; removing one is a step towards abusing models (jailbreaks, data leakage) or making applications that call the model run without the filter once they are pointed elsewhere. Deleting a single numbered version is routine cleanup and does not match.
Confirm with the application owner that the guardrail in requestParameters.guardrailIdentifier was retired, and check which agents or applications referenced it and how they are now configured.
"""
tactics = ["TA0005"]
techniques = ["T1562.001"]
references = [
  "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_DeleteGuardrail.html",
  "https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-delete.html",
  "https://docs.aws.amazon.com/bedrock/latest/userguide/logging-using-cloudtrail.html",
]
false_positives = [
  "Application teams retiring a guardrail or replacing it with a new one",
  "Teardown of a development or test environment",
]
runbook = "Check whether requestParameters.guardrailIdentifier was referenced by an agent or application (bedrock-agent get-agent, application config) and ask its owner whether useridentity.arn was expected to delete it."
tags = ["bedrock", "genai", "guardrails", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'bedrock.amazonaws.com'
  AND eventname = 'DeleteGuardrail'
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.guardrailVersion') IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
