/*
id = "aws.network.security_group_admin_port_open_to_internet"
title = "Security group ingress opened to the internet on an administration or database port"
severity = "medium"
description = """
Detects a successful EC2 AuthorizeSecurityGroupIngress that allows 0.0.0.0/0 or ::/0 on all traffic (ipProtocol -1) or on a TCP port range covering SSH 22, RDP 3389, MySQL 3306, PostgreSQL 5432, SQL Server 1433, Redis 6379, Elasticsearch 9200 or MongoDB 27017. The first four entries of requestParameters.ipPermissions.items are inspected, as well as the single-rule form (cidrIp, ipProtocol, fromPort, toPort). Calls by AWS services (invokedBy set) are excluded; web ports such as 80 and 443 are not flagged.
Exposing these services to the whole internet invites brute force and exploitation, and attackers open them to keep a way in. Remove the rule (responseElements.securityGroupRuleSet gives the rule IDs) unless the exposure is intended and compensated.
"""
tactics = ["TA0005", "TA0003"]
techniques = ["T1562.007"]
stratus = ["aws.exfiltration.ec2-security-group-open-port-22-ingress"]
references = [
  "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html",
  "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.exfiltration.ec2-security-group-open-port-22-ingress/",
]
false_positives = [
  "Temporary SSH or RDP access opened by an engineer who did not know their IP address",
  "Sandbox or lab accounts where exposure is accepted",
]
runbook = "Identify the instances and databases attached to requestParameters.groupId, revoke the world-open rule (RevokeSecurityGroupIngress with the securityGroupRuleId) and check the services' logs for logins from unknown addresses since eventtime."
tags = ["ec2", "security-group", "network", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname = 'AuthorizeSecurityGroupIngress'
  AND errorcode IS NULL
  AND useridentity.invokedby IS NULL
  AND (
    (
      regexp_like(coalesce(json_extract(requestparameters, '$.ipPermissions.items[0].ipRanges'), '') || coalesce(json_extract(requestparameters, '$.ipPermissions.items[0].ipv6Ranges'), ''), '"(0[.]0[.]0[.]0/0|::/0)"')
      AND (
        json_extract_scalar(requestparameters, '$.ipPermissions.items[0].ipProtocol') = '-1'
        OR (
          json_extract_scalar(requestparameters, '$.ipPermissions.items[0].ipProtocol') IN ('tcp', '6')
          AND array_has_any(
            range(TRY_CAST(json_extract_scalar(requestparameters, '$.ipPermissions.items[0].fromPort') AS BIGINT), TRY_CAST(json_extract_scalar(requestparameters, '$.ipPermissions.items[0].toPort') AS BIGINT) + 1),
            make_array(22, 3389, 3306, 5432, 1433, 6379, 9200, 27017)
          )
        )
      )
    )
    OR
    (
      regexp_like(coalesce(json_extract(requestparameters, '$.ipPermissions.items[1].ipRanges'), '') || coalesce(json_extract(requestparameters, '$.ipPermissions.items[1].ipv6Ranges'), ''), '"(0[.]0[.]0[.]0/0|::/0)"')
      AND (
        json_extract_scalar(requestparameters, '$.ipPermissions.items[1].ipProtocol') = '-1'
        OR (
          json_extract_scalar(requestparameters, '$.ipPermissions.items[1].ipProtocol') IN ('tcp', '6')
          AND array_has_any(
            range(TRY_CAST(json_extract_scalar(requestparameters, '$.ipPermissions.items[1].fromPort') AS BIGINT), TRY_CAST(json_extract_scalar(requestparameters, '$.ipPermissions.items[1].toPort') AS BIGINT) + 1),
            make_array(22, 3389, 3306, 5432, 1433, 6379, 9200, 27017)
          )
        )
      )
    )
    OR
    (
      regexp_like(coalesce(json_extract(requestparameters, '$.ipPermissions.items[2].ipRanges'), '') || coalesce(json_extract(requestparameters, '$.ipPermissions.items[2].ipv6Ranges'), ''), '"(0[.]0[.]0[.]0/0|::/0)"')
      AND (
        json_extract_scalar(requestparameters, '$.ipPermissions.items[2].ipProtocol') = '-1'
        OR (
          json_extract_scalar(requestparameters, '$.ipPermissions.items[2].ipProtocol') IN ('tcp', '6')
          AND array_has_any(
            range(TRY_CAST(json_extract_scalar(requestparameters, '$.ipPermissions.items[2].fromPort') AS BIGINT), TRY_CAST(json_extract_scalar(requestparameters, '$.ipPermissions.items[2].toPort') AS BIGINT) + 1),
            make_array(22, 3389, 3306, 5432, 1433, 6379, 9200, 27017)
          )
        )
      )
    )
    OR
    (
      regexp_like(coalesce(json_extract(requestparameters, '$.ipPermissions.items[3].ipRanges'), '') || coalesce(json_extract(requestparameters, '$.ipPermissions.items[3].ipv6Ranges'), ''), '"(0[.]0[.]0[.]0/0|::/0)"')
      AND (
        json_extract_scalar(requestparameters, '$.ipPermissions.items[3].ipProtocol') = '-1'
        OR (
          json_extract_scalar(requestparameters, '$.ipPermissions.items[3].ipProtocol') IN ('tcp', '6')
          AND array_has_any(
            range(TRY_CAST(json_extract_scalar(requestparameters, '$.ipPermissions.items[3].fromPort') AS BIGINT), TRY_CAST(json_extract_scalar(requestparameters, '$.ipPermissions.items[3].toPort') AS BIGINT) + 1),
            make_array(22, 3389, 3306, 5432, 1433, 6379, 9200, 27017)
          )
        )
      )
    )
    OR
    (
      regexp_like(coalesce(json_extract(requestparameters, '$.cidrIp'), ''), '"(0[.]0[.]0[.]0/0|::/0)"')
      AND (
        json_extract_scalar(requestparameters, '$.ipProtocol') = '-1'
        OR (
          json_extract_scalar(requestparameters, '$.ipProtocol') IN ('tcp', '6')
          AND array_has_any(
            range(TRY_CAST(json_extract_scalar(requestparameters, '$.fromPort') AS BIGINT), TRY_CAST(json_extract_scalar(requestparameters, '$.toPort') AS BIGINT) + 1),
            make_array(22, 3389, 3306, 5432, 1433, 6379, 9200, 27017)
          )
        )
      )
    )
  )
