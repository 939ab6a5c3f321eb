/*
id = "aws.persistence.role_created_trusting_external_account"
title = "IAM role created that trusts another account or everyone"
severity = "medium"
description = """
Detects a successful IAM CreateRole whose trust policy (requestParameters.assumeRolePolicyDocument) lets an AWS principal outside the role's own account assume it, or uses a wildcard principal ("AWS": "*" or "Principal": "*"). External accounts are found by removing every occurrence of recipientaccountid from the policy text and looking for a leftover 12-digit account id, bare or inside an iam/sts ARN; the account check only applies to policies with an "AWS" principal.
A role that an attacker-controlled account can assume gives durable access without any credential in the victim account. Check the external account id against your organisation's accounts; if unknown, delete the role (detach its policies first) and review the caller's other IAM changes.
"""
tactics = ["TA0003", "TA0004"]
techniques = ["T1098.003", "T1484.002"]
stratus = ["aws.persistence.iam-create-backdoor-role"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_aws-accounts.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-backdoor-role/",
]
false_positives = [
  "Landing-zone pipelines (Control Tower, StackSets, Terraform) creating execution roles trusted by the management or tooling account",
  "Roles created for third-party vendors (monitoring, backup, FinOps), usually with an sts:ExternalId condition",
]
runbook = "Identify the owner of each account id in requestParameters.assumeRolePolicyDocument, then check which policies were attached to requestParameters.roleName right after creation."
tags = ["iam", "role", "trust-policy", "cross-account", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname = 'CreateRole'
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND (
    (
      regexp_like(json_extract_scalar(requestparameters, '$.assumeRolePolicyDocument'), '"AWS"[[:space:]]*:')
      AND regexp_like(
        replace(json_extract_scalar(requestparameters, '$.assumeRolePolicyDocument'), recipientaccountid, ''),
        '(arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:|"[0-9]{12}")'
      )
    )
    OR regexp_like(json_extract_scalar(requestparameters, '$.assumeRolePolicyDocument'), '"AWS"[[:space:]]*:[[:space:]]*("[*]"|[^"[:space:]][^]]*"[*]")')
    OR regexp_like(json_extract_scalar(requestparameters, '$.assumeRolePolicyDocument'), '"Principal"[[:space:]]*:[[:space:]]*"[*]"')
  )
