/*
id = "aws.discovery.get_caller_identity_offensive_tool"
title = "Caller identity checked from an offensive security tool or distribution"
severity = "medium"
description = """
Detects STS GetCallerIdentity (the 'whoami' of AWS, which needs no permission and cannot be denied) whose user agent names an offensive tool or penetration-testing distribution: Pacu, CloudFox, WeirdAAL, enumerate-iam, TruffleHog (which validates leaked keys with this call), or Kali, Parrot and Pentoo (visible in the AWS CLI user agent, e.g. md/distrib#kali.2025 or exe/x86_64.kali.2024). All outcomes are kept, since the tool matters more than the result.
It is usually the very first call made with a freshly stolen or leaked key. Confirm whether an authorised assessment is running; if not, treat the access key in useridentity.accesskeyid as compromised.
"""
tactics = ["TA0007"]
techniques = ["T1087.004", "T1033"]
references = [
  "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html",
  "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-iam.html#pentest-iam-kalilinux",
  "https://github.com/RhinoSecurityLabs/pacu",
  "https://github.com/BishopFox/cloudfox",
]
false_positives = [
  "Authorised penetration tests or red-team exercises",
  "Security engineers who use Kali or Parrot as their everyday workstation",
  "Secret-scanning pipelines (TruffleHog) verifying keys found in your own repositories",
]
runbook = "Identify the owner of useridentity.arn and useridentity.accesskeyid, ask whether an assessment is scheduled from sourceipaddress, and otherwise deactivate the key and review everything it did afterwards."
tags = ["sts", "recon", "offensive-tool", "discovery"]
dedup_key = ["useridentity.arn", "sourceipaddress"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'sts.amazonaws.com'
  AND eventname = 'GetCallerIdentity'
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND regexp_like(lower(coalesce(useragent, '')), 'pacu|cloudfox|weirdaal|enumerate-iam|trufflehog|kali|parrot|pentoo')
