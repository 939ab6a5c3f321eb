/*
id = "aws.persistence.lambda_function_url_without_auth"
title = "Lambda function URL created or changed to require no authentication"
severity = "medium"
description = """
Detects a successful Lambda CreateFunctionUrlConfig or UpdateFunctionUrlConfig (event names may carry an API-version suffix) with requestParameters.authType = NONE. A function URL with auth type NONE is a public HTTPS endpoint: together with a resource policy allowing lambda:InvokeFunctionUrl for principal "*", anyone can call the function.
Attackers expose an existing function this way to get an unauthenticated entry point that runs with the function's role, or to exfiltrate data through it. Confirm the function is meant to be public; if not, switch the URL to AWS_IAM or delete it and review the function's code and recent invocations.
"""
tactics = ["TA0003", "TA0001"]
techniques = ["T1098", "T1190"]
references = [
  "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunctionUrlConfig.html",
  "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html",
]
false_positives = [
  "Webhook receivers and public endpoints intentionally deployed with function URLs",
]
runbook = "Check responseElements.functionUrl with the function owner and look for a matching AddPermission with principal * on requestParameters.functionName."
tags = ["lambda", "function-url", "public", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'lambda.amazonaws.com'
  AND (eventname LIKE 'CreateFunctionUrlConfig%' OR eventname LIKE 'UpdateFunctionUrlConfig%')
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.authType') = 'NONE'
