/*
id = "aws.defense_evasion.access_analyzer_deleted"
title = "IAM Access Analyzer analyzer deleted"
severity = "medium"
description = """
Detects a successful IAM Access Analyzer DeleteAnalyzer call. An analyzer continuously reports resources shared outside the account or organization (buckets, roles, KMS keys, snapshots) and unused access; deleting it also deletes its findings and archive rules, so new external sharing created by an attacker, such as a role trust or a bucket policy for their own account, goes unreported.
Recreate the analyzer named in requestParameters.analyzerName and review its findings once it has rescanned for external access granted after this event.
"""
tactics = ["TA0005"]
techniques = ["T1562.001"]
references = [
  "https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_DeleteAnalyzer.html",
  "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-cloudtrail.html",
]
false_positives = [
  "Replacing an account analyzer with an organization analyzer in the delegated administrator account",
  "Removing the analyzer of a sandbox account",
]
runbook = "Run accessanalyzer list-analyzers in awsregion, and confirm with the security team that useridentity.arn was expected to delete requestParameters.analyzerName."
tags = ["access-analyzer", "iam", "detection", "defense-evasion"]
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 'access-analyzer.amazonaws.com'
  AND eventname = 'DeleteAnalyzer'
  AND errorcode IS NULL
  AND (useridentity.type IS DISTINCT FROM 'AWSService')
