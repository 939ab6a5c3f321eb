/*
id = "aws.discovery.ses_enumeration"
title = "SES sending capability enumerated outside the console"
severity = "low"
description = """
Detects SES discovery calls (GetAccount, GetAccountSendingEnabled, GetSendQuota, ListIdentities, ListEmailIdentities, GetIdentityVerificationAttributes) made with the CLI, an SDK or a script by any principal that is not an AWS service. Both successful calls and AccessDenied refusals match. Console sessions (sessionCredentialFromConsole = true) are excluded because opening the SES console issues these calls.
Attackers who steal an access key check whether SES is out of the sandbox, how much it may send and which domains are verified before using the account for phishing or spam, or reselling the key. Alerts are grouped per principal for an hour.
"""
tactics = ["TA0007"]
techniques = ["T1526"]
stratus = ["aws.discovery.ses-enumerate"]
references = [
  "https://docs.aws.amazon.com/ses/latest/APIReference/API_GetSendQuota.html",
  "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_GetAccount.html",
  "https://docs.aws.amazon.com/ses/latest/dg/logging-using-cloudtrail.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.discovery.ses-enumerate/",
]
false_positives = [
  "Applications or monitoring jobs that check the SES sending quota before sending",
  "Administrators scripting SES identity verification or audits with the CLI",
]
runbook = "Check whether useridentity.arn normally uses SES from sourceipaddress with this useragent; for an unexpected caller, look for SendEmail, SendRawEmail, VerifyEmailIdentity or CreateEmailIdentity by the same principal and deactivate its key."
tags = ["ses", "email", "phishing", "recon", "discovery"]
dedup_key = ["useridentity.arn"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ses.amazonaws.com'
  AND eventname IN ('GetAccount', 'GetAccountSendingEnabled', 'GetSendQuota', 'ListIdentities', 'ListEmailIdentities', 'GetIdentityVerificationAttributes')
  AND (errorcode IS NULL OR errorcode IN ('AccessDenied', 'AccessDeniedException'))
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND useridentity.invokedby IS NULL
  AND coalesce(sessioncredentialfromconsole, 'false') <> 'true'
