/*
id = "aws.persistence.oidc_provider_created_or_updated"
title = "IAM OpenID Connect provider created or given a new client ID"
severity = "low"
description = """
Detects a successful IAM CreateOpenIDConnectProvider or AddClientIDToOpenIDConnectProvider made by a person or workload (AWS service principals excluded).
An OIDC provider lets tokens from an external issuer be exchanged for role credentials (AssumeRoleWithWebIdentity). An attacker who registers an issuer they control, or adds their own client ID (audience) to a trusted provider, can obtain role credentials from outside the account without any IAM key. Check that the issuer URL in requestParameters.url (or the provider ARN) and the client IDs belong to a known platform such as GitHub Actions or an EKS cluster of the account.
"""
tactics = ["TA0003", "TA0004"]
techniques = ["T1484.002"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html",
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_AddClientIDToOpenIDConnectProvider.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html",
]
false_positives = [
  "EKS clusters enabling IAM roles for service accounts (an oidc.eks.<region>.amazonaws.com provider per cluster)",
  "Teams setting up GitHub Actions, GitLab or Terraform Cloud OIDC federation",
]
runbook = "Confirm the issuer URL and client IDs with the platform team, then list roles whose trust policy names the provider and check AssumeRoleWithWebIdentity calls against them."
tags = ["iam", "oidc", "identity-provider", "federation", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname IN ('CreateOpenIDConnectProvider', 'AddClientIDToOpenIDConnectProvider')
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
