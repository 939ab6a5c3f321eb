/*
id = "aws.persistence.lambda_function_public_permission"
title = "Lambda function resource policy opened to everyone"
severity = "medium"
description = """
Detects a successful Lambda AddPermission whose requestParameters.principal is "*" and that is not scoped to an organization with principalOrgID. Such a statement lets any AWS account (and, for lambda:InvokeFunctionUrl with auth type NONE, anyone on the internet) invoke the function.
A publicly invocable function is an easy backdoor: the attacker can trigger code running with the function's role from outside the account whenever they want. Review the statement returned in responseElements.statement; if it is not intended, remove it (lambda remove-permission with the statementId) and check the function's invocations.
"""
tactics = ["TA0003"]
techniques = ["T1098", "T1648"]
stratus = ["aws.persistence.lambda-backdoor-function"]
references = [
  "https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html",
  "https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.lambda-backdoor-function/",
]
false_positives = [
  "Public Lambda function URLs deliberately exposed without IAM auth (webhooks, public APIs)",
  "Statements with principal * restricted by sourceArn or sourceAccount for a service integration",
]
runbook = "Read the policy of requestParameters.functionName (lambda get-policy) and confirm with the function owner that public invocation is intended."
tags = ["lambda", "resource-policy", "public", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'lambda.amazonaws.com'
  AND eventname LIKE 'AddPermission%'
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.principal') = '*'
  AND json_extract_scalar(requestparameters, '$.principalOrgID') IS NULL
