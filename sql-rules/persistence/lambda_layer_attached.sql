/*
id = "aws.persistence.lambda_layer_attached"
title = "Lambda layer attached to an existing function"
severity = "low"
description = """
Detects a successful Lambda UpdateFunctionConfiguration (any API version, e.g. UpdateFunctionConfiguration20150331v2) whose requestParameters.layers is a non-empty list, made directly by a user or role rather than through CloudFormation or another AWS service (invokedBy empty). Setting layers to an empty list (removing them) does not match. Layers from any account match; aws.persistence.lambda_layer_from_other_account raises foreign layers at medium severity.
A layer is unpacked into /opt of the function and can carry a Lambda extension that runs beside every invocation, with access to the event payloads, environment variables and the execution role's credentials, without touching the function code. Terraform and other deployment pipelines also attach layers, hence the low severity: compare the layer ARNs with what the function's deployment defines.
"""
tactics = ["TA0003"]
techniques = ["T1525", "T1546"]
stratus = ["aws.persistence.lambda-layer-extension"]
references = [
  "https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionConfiguration.html",
  "https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html",
  "https://docs.aws.amazon.com/lambda/latest/dg/lambda-extensions.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.lambda-layer-extension/",
]
false_positives = [
  "Terraform, CDK-without-CloudFormation, Serverless Framework or CI pipelines deploying functions with layers",
  "Engineers adding observability or shared-library layers from the console or CLI",
]
runbook = "Compare requestParameters.layers with the layers the function's infrastructure code declares; for any unknown layer, download it (lambda get-layer-version-by-arn) and inspect its extensions directory before removing it."
tags = ["lambda", "layer", "extension", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'lambda.amazonaws.com'
  AND starts_with(eventname, 'UpdateFunctionConfiguration')
  AND errorcode IS NULL
  AND coalesce(json_extract_scalar(requestparameters, '$.layers[0]'), '') <> ''
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
