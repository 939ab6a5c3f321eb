/*
id = "aws.persistence.rolesanywhere_trust_anchor_created_or_updated"
title = "IAM Roles Anywhere trust anchor created or updated"
severity = "medium"
description = """
Detects a successful IAM Roles Anywhere CreateTrustAnchor or UpdateTrustAnchor. A trust anchor registers a certificate authority whose certificates can be exchanged for temporary credentials of any role that trusts rolesanywhere.amazonaws.com through a Roles Anywhere profile.
An attacker who uploads their own CA (sourceType CERTIFICATE_BUNDLE) can later obtain role credentials from anywhere on the internet, with no IAM user or access key to revoke. Confirm the anchor's CA belongs to your PKI; if not, disable and delete the trust anchor and review Roles Anywhere profiles and role trust policies created around the same time.
"""
tactics = ["TA0003"]
techniques = ["T1098.001", "T1484.002"]
stratus = ["aws.persistence.rolesanywhere-create-trust-anchor"]
references = [
  "https://docs.aws.amazon.com/rolesanywhere/latest/APIReference/API_CreateTrustAnchor.html",
  "https://docs.aws.amazon.com/rolesanywhere/latest/APIReference/API_UpdateTrustAnchor.html",
  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.rolesanywhere-create-trust-anchor/",
]
false_positives = [
  "Platform teams onboarding on-premises servers or workloads to IAM Roles Anywhere",
  "Planned rotation of the CA certificate bundle of an existing trust anchor",
]
runbook = "Compare the certificate in requestParameters.source with your private CA, then list CreateProfile calls and roles trusting rolesanywhere.amazonaws.com."
tags = ["rolesanywhere", "certificate", "persistence"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'rolesanywhere.amazonaws.com'
  AND eventname IN ('CreateTrustAnchor', 'UpdateTrustAnchor')
  AND errorcode IS NULL
  AND coalesce(useridentity.type, '') <> 'AWSService'
