/*
id = "aws.defense_evasion.config_recorder_stopped"
title = "AWS Config recorder stopped or deleted"
severity = "high"
description = """
Detects successful AWS Config StopConfigurationRecorder, DeleteConfigurationRecorder and DeleteDeliveryChannel calls. Each of them stops resource configuration history from being recorded or delivered, which blinds Config rules, conformance packs and Security Hub controls that depend on them.
Restart the recorder (config start-configuration-recorder) or recreate the delivery channel in the affected region and review the caller's activity from this point on.
"""
tactics = ["TA0005"]
techniques = ["T1562.008", "T1562.001"]
references = [
  "https://docs.aws.amazon.com/config/latest/APIReference/API_StopConfigurationRecorder.html",
  "https://docs.aws.amazon.com/config/latest/APIReference/API_DeleteConfigurationRecorder.html",
  "https://docs.aws.amazon.com/config/latest/APIReference/API_DeleteDeliveryChannel.html",
  "https://docs.aws.amazon.com/config/latest/developerguide/log-api-calls.html",
]
false_positives = [
  "Control Tower or landing-zone automation re-deploying the Config baseline",
  "Cost-driven disabling of Config in unused regions",
]
runbook = "Run config describe-configuration-recorder-status in awsregion and check whether the caller is the approved landing-zone automation role."
tags = ["config", "logging", "defense-evasion"]
dedup_key = ["useridentity.arn", "recipientaccountid", "awsregion"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'config.amazonaws.com'
  AND eventname IN ('StopConfigurationRecorder', 'DeleteConfigurationRecorder', 'DeleteDeliveryChannel')
  AND errorcode IS NULL
