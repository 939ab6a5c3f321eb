/*
id = "aws.credential_access.ec2_instance_credentials_used_off_instance"
title = "EC2 instance-profile credentials used from a workstation or attack tool"
severity = "high"
description = """
Detects API calls signed with EC2 instance-profile credentials (an AssumedRole session whose principalId ends with an instance ID such as :i-0abc..., or whose sessionContext.ec2RoleDelivery is set) where the client is clearly not software running on that instance: the caller is a plain IP address (not an AWS service), the user agent does not mention amazon, and the user agent reveals a desktop or offensive client (macOS/Darwin, a browser, Kali, Parrot or Pentoo, Pacu, CloudFox, WeirdAAL, TruffleHog, or the Stratus Red Team tool).
Credentials copied out of the instance metadata service (SSRF, a compromised host) and replayed from an attacker laptop look exactly like this. The rule cannot compare the source IP with the instance's own addresses, so it relies on the user agent and will miss attackers who spoof a Linux SDK user agent; GuardDuty's InstanceCredentialExfiltration findings cover that case.
"""
tactics = ["TA0006", "TA0005"]
techniques = ["T1552.005", "T1078.004"]
stratus = ["aws.credential-access.ec2-steal-instance-credentials"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html",
  "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html",
  "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-iam.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.ec2-steal-instance-credentials/",
]
false_positives = [
  "Workloads on EC2 Mac instances, whose SDK user agent reports macOS",
  "Security teams running CloudFox or Pacu from an instance during an authorised assessment",
]
runbook = "Find the instance ID at the end of useridentity.principalid, compare sourceipaddress with that instance's public and NAT addresses, and if they differ revoke the role's active sessions (Revoke active sessions on the role) and investigate the instance for SSRF or compromise."
tags = ["ec2", "imds", "instance-profile", "credential-access"]
dedup_key = ["useridentity.arn", "sourceipaddress"]
dedup_period = "1h"
*/
SELECT *
FROM cloudtrail
WHERE useridentity.type = 'AssumedRole'
  AND (
    regexp_like(coalesce(useridentity.principalid, ''), ':i-[0-9a-f]{8,17}$')
    OR useridentity.sessioncontext.ec2roledelivery IS NOT NULL
  )
  AND useridentity.invokedby IS NULL
  AND regexp_like(coalesce(sourceipaddress, ''), '^[0-9A-Fa-f:.]+$')
  AND strpos(lower(coalesce(useragent, '')), 'amazon') = 0
  AND regexp_like(lower(coalesce(useragent, '')), 'os/macos|darwin/|mac_os_x|mozilla/|kali|parrot|pentoo|pacu|cloudfox|weirdaal|trufflehog|stratus-red-team')
