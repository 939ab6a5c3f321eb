/*
id = "aws.signals.console_login_password_success"
title = "Successful password console sign-in by an IAM user or root (signal)"
severity = "info"
description = """
Signal for correlations: a successful AWS console sign-in (signin.amazonaws.com ConsoleLogin with responseElements.ConsoleLogin = Success) by an IAM user or the root user, the only identities whose password is checked by AWS itself and can therefore be guessed through the sign-in page. SAML federated sign-ins (additionalEventData.SamlProviderArn set) and role sessions are excluded because their authentication happens at the identity provider.
On its own a successful sign-in is routine; it matters when it follows a burst of failures from the same address (aws.correlation.console_brute_force_then_success).
"""
tactics = ["TA0001"]
techniques = ["T1078.004"]
references = [
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
]
false_positives = [
  "Every legitimate password sign-in (this rule raises no alert of its own)",
]
runbook = "Raises no alert on its own; when a correlation cites it, check additionalEventData.MFAUsed and whether sourceipaddress belongs to the user."
tags = ["signin", "console", "signal"]
signal_only = true
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'signin.amazonaws.com'
  AND eventname = 'ConsoleLogin'
  AND useridentity.type IN ('IAMUser', 'Root')
  AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
  AND json_extract_scalar(additionaleventdata, '$.SamlProviderArn') IS NULL
