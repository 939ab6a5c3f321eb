/*
id = "aws.persistence.lambda_code_updated_outside_ci"
title = "Lambda function code replaced by an IAM user or from the console"
severity = "low"
description = """
Detects a successful Lambda UpdateFunctionCode made with long-term IAM user or root credentials, or from an AWS console session (sessionCredentialFromConsole = true). Deployments by assumed roles outside the console (CI/CD pipelines, CloudFormation, SAM, CDK) are not matched.
Overwriting a function's code lets an attacker run their own code with the function's role every time it is invoked, while keeping its triggers and name. Diff the deployed code (responseElements.codeSha256) against the last build from source control; if it does not match, redeploy from source and review the function's role activity since eventtime.
"""
tactics = ["TA0003", "TA0002"]
techniques = ["T1648", "T1525"]
stratus = ["aws.persistence.lambda-overwrite-code"]
references = [
  "https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.lambda-overwrite-code/",
]
false_positives = [
  "Developers editing functions in the Lambda console code editor, common in sandbox accounts",
  "Legacy deployment jobs that still use IAM user access keys",
]
runbook = "Compare responseElements.codeSha256 with the artefact of the last pipeline run for requestParameters.functionName and ask the caller why the code was changed by hand."
tags = ["lambda", "code", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'lambda.amazonaws.com'
  AND eventname LIKE 'UpdateFunctionCode%'
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
  AND (
    useridentity.type IN ('IAMUser', 'Root')
    OR sessioncredentialfromconsole = 'true'
  )
