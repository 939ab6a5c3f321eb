/*
id = "aws.persistence.sagemaker_lifecycle_config_changed"
title = "SageMaker notebook lifecycle configuration created, changed or attached"
severity = "medium"
description = """
Detects a successful SageMaker CreateNotebookInstanceLifecycleConfig or UpdateNotebookInstanceLifecycleConfig, and a successful UpdateNotebookInstance whose requestParameters set lifecycleConfigName (attaching a lifecycle configuration to an existing notebook instance). Calls made through CloudFormation or another AWS service (invokedBy set) are excluded.
A lifecycle configuration is a shell script that runs as root on the notebook instance at every start (onStart) or at creation (onCreate), with the notebook's execution role credentials at hand. Attackers replace or attach one to get code execution and persistence that survives restarts. Decode the base64 onStart/onCreate content in requestParameters when CloudTrail records it, or fetch it with describe-notebook-instance-lifecycle-config, and review it.
"""
tactics = ["TA0003", "TA0002"]
techniques = ["T1037", "T1059.004"]
stratus = ["aws.execution.sagemaker-update-lifecycle-config"]
references = [
  "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateNotebookInstanceLifecycleConfig.html",
  "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateNotebookInstance.html",
  "https://docs.aws.amazon.com/sagemaker/latest/dg/notebook-lifecycle-config.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.sagemaker-update-lifecycle-config/",
]
false_positives = [
  "ML platform teams maintaining lifecycle scripts (package installs, idle auto-stop) with the CLI, an SDK or Terraform",
  "Data scientists attaching an approved lifecycle configuration to their notebook from the console",
]
runbook = "Fetch the lifecycle configuration named in requestParameters (describe-notebook-instance-lifecycle-config), decode its scripts and look for downloads, reverse shells or credential access; check which notebook instances use it and whether they were restarted after eventtime."
tags = ["sagemaker", "notebook", "lifecycle-config", "execution", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'sagemaker.amazonaws.com'
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
  AND (
    eventname IN ('CreateNotebookInstanceLifecycleConfig', 'UpdateNotebookInstanceLifecycleConfig')
    OR (
      eventname = 'UpdateNotebookInstance'
      AND coalesce(
        json_extract_scalar(requestparameters, '$.lifecycleConfigName'),
        json_extract_scalar(requestparameters, '$.LifecycleConfigName'),
        ''
      ) <> ''
    )
  )
