/*
id = "aws.persistence.lambda_layer_from_other_account"
title = "Lambda function given a layer from another AWS account"
severity = "medium"
description = """
Detects a successful Lambda CreateFunction or UpdateFunctionConfiguration whose requestParameters.layers includes a layer version ARN owned by an account other than the function's account (recipientaccountid is removed from the layer list and any remaining ':<12 digits>:layer:' ARN matches).
Layers are unpacked into /opt of the function and can ship a Lambda extension that runs alongside every invocation, reading events, environment variables and the role's credentials. A layer from an account you do not control is code you do not review. Check the owning account of each foreign layer ARN; if it is not a vendor you use, remove the layer and rotate anything the function's role or environment could expose.
"""
tactics = ["TA0003", "TA0002"]
techniques = ["T1525", "T1648"]
references = [
  "https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionConfiguration.html",
  "https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html",
  "https://docs.aws.amazon.com/lambda/latest/dg/lambda-extensions.html",
]
false_positives = [
  "Vendor and AWS-published layers hosted in their own accounts (observability agents, Lambda Insights, Powertools, Parameters and Secrets extension)",
  "Layers shared from a central platform account of the same organization",
]
runbook = "For every layer ARN in requestParameters.layers that is not in recipientaccountid, identify the owning account and inspect the layer contents (lambda get-layer-version)."
tags = ["lambda", "layer", "extension", "supply-chain", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'lambda.amazonaws.com'
  AND eventname IN ('CreateFunction20150331', 'UpdateFunctionConfiguration20150331v2')
  AND errorcode IS NULL
  AND regexp_like(
    replace(coalesce(json_extract(requestparameters, '$.layers'), ''), recipientaccountid, ''),
    ':[0-9]{12}:layer:'
  )
