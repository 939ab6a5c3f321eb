/*
id = "aws.persistence.saml_provider_created_or_updated"
title = "IAM SAML identity provider created or updated"
severity = "medium"
description = """
Detects a successful IAM CreateSAMLProvider or UpdateSAMLProvider. The AWSSSO_*_DO_NOT_DELETE providers that IAM Identity Center manages in member accounts through its AWSServiceRoleForSSO service-linked role are excluded.
Registering an identity provider whose signing certificate the attacker controls (or swapping the metadata of an existing one) lets them mint SAML assertions for any role that trusts that provider, a Golden SAML style backdoor that needs no IAM credentials. Confirm that the provider and its metadata (issuer, certificate) belong to your identity platform; if not, delete or restore it and review roles whose trust policy references it.
"""
tactics = ["TA0003", "TA0004", "TA0005"]
techniques = ["T1484.002", "T1606.002"]
references = [
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateSAMLProvider.html",
  "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateSAMLProvider.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml.html",
]
false_positives = [
  "Identity team onboarding a new IdP or rotating the IdP signing certificate (UpdateSAMLProvider)",
  "Account vending pipelines that register the corporate IdP in every new account",
]
runbook = "Compare the entityID and X509Certificate in requestParameters.sAMLMetadataDocument with the corporate IdP, and list roles whose trust policy names the provider ARN."
tags = ["iam", "saml", "identity-provider", "federation", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname IN ('CreateSAMLProvider', 'UpdateSAMLProvider')
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
  AND NOT (
    coalesce(useridentity.sessioncontext.sessionissuer.arn, '') LIKE '%:role/aws-service-role/sso.amazonaws.com/AWSServiceRoleForSSO'
    AND strpos(coalesce(json_extract_scalar(requestparameters, '$.name'), json_extract_scalar(requestparameters, '$.sAMLProviderArn'), ''), 'AWSSSO_') > 0
  )
