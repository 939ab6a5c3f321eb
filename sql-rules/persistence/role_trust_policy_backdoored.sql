/*
id = "aws.persistence.role_trust_policy_backdoored"
title = "IAM role trust policy opened to another account or to everyone"
severity = "medium"
description = """
Detects a successful IAM UpdateAssumeRolePolicy whose new trust policy (requestParameters.policyDocument) names an AWS principal outside the account that owns the role, or a wildcard principal ("AWS": "*" or "Principal": "*"). Account ids are found by removing every occurrence of recipientaccountid from the policy text and looking for a 12-digit account id, bare or inside an iam/sts ARN, that is left over; the account check only applies to policies with an "AWS" principal, so service and web-identity trusts with same-account conditions are not matched.
Rewriting a role's trust policy so that an attacker-owned account can assume it is a quiet backdoor: the role keeps its name and permissions, and no new credentials are created. Verify the external account id against your organisation's account list; if it is unknown, restore the previous trust policy and review AssumeRole calls on the role.
"""
tactics = ["TA0003", "TA0004"]
techniques = ["T1098.003", "T1484.002"]
stratus = ["aws.persistence.iam-backdoor-role"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAssumeRolePolicy.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-backdoor-role/",
]
false_positives = [
  "Cross-account access between accounts of the same AWS Organization (CI/CD, security tooling, central operations)",
  "Trust granted to a third-party vendor account (monitoring, backup, cost tools), usually with an sts:ExternalId condition",
  "Account ids that only appear in a Condition block of a policy that also has an AWS principal",
]
runbook = "Look up every account id in requestParameters.policyDocument in the organisation's account inventory, then list AssumeRole events for requestParameters.roleName from those accounts."
tags = ["iam", "role", "trust-policy", "cross-account", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname = 'UpdateAssumeRolePolicy'
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND (
    (
      regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '"AWS"[[:space:]]*:')
      AND regexp_like(
        replace(json_extract_scalar(requestparameters, '$.policyDocument'), recipientaccountid, ''),
        '(arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:|"[0-9]{12}")'
      )
    )
    OR regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '"AWS"[[:space:]]*:[[:space:]]*("[*]"|[^"[:space:]][^]]*"[*]")')
    OR regexp_like(json_extract_scalar(requestparameters, '$.policyDocument'), '"Principal"[[:space:]]*:[[:space:]]*"[*]"')
  )
