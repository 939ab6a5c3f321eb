# Least privilege, asserted on the policy JSON: the worker reads only the trail's AWSLogs/
# prefix, writes only its lake prefix, lists only with a prefix condition, consumes only its
# queue, reads only the named secrets and uses only the given keys, each through its service.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  trail_bucket_name = "org-cloudtrail-logs"
  lambda_package    = { s3_bucket = "artifacts-bucket", s3_key = "trailhound/bootstrap.zip" }
}

run "default_lambda_worker_has_only_the_base_grants" {
  assert {
    condition = jsonencode([for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Sid]) == jsonencode(
      ["ReadCloudTrailLogs", "ConsumeNotificationQueue", "ReadWriteLakeObjects", "ListLakePrefix", "WriteLogs"]
    )
    error_message = "without keys, rules in S3 or secrets, the worker must have exactly the base statements"
  }

  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Effect == "Allow" && !contains(flatten([s.Resource]), "*")])
    error_message = "no worker statement may apply to every resource"
  }

  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : alltrue([for a in flatten([s.Action]) : !strcontains(a, "*")])])
    error_message = "no worker action may be a wildcard"
  }

  assert {
    condition = jsonencode(flatten([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Resource if anytrue([for a in flatten([s.Action]) : a == "s3:GetObject"])
      ])) == jsonencode([
      "arn:aws:s3:::org-cloudtrail-logs/AWSLogs/*",
      "arn:aws:s3:::trailhound-lake-111122223333-eu-west-1/trailhound/*",
    ])
    error_message = "the worker may read only the trail's AWSLogs/ prefix and its lake prefix"
  }

  assert {
    condition = jsonencode(flatten([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Resource
      if anytrue([for a in flatten([s.Action]) : contains(["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], a)])
    ])) == jsonencode(["arn:aws:s3:::trailhound-lake-111122223333-eu-west-1/trailhound/*"])
    error_message = "the worker may write and delete only below its lake prefix"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : (
        s.Resource == "arn:aws:s3:::trailhound-lake-111122223333-eu-west-1" && jsonencode(s.Condition) == jsonencode({ StringLike = { "s3:prefix" = ["trailhound/*"] } })
      ) if contains(flatten([s.Action]), "s3:ListBucket")
    ])
    error_message = "listing must be limited to the lake prefix by an s3:prefix condition"
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : (
        s.Resource == aws_sqs_queue.main.arn
        && jsonencode(sort(s.Action)) == jsonencode(sort(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]))
      ) if s.Sid == "ConsumeNotificationQueue"
    ])
    error_message = "the worker may only receive, delete, extend and inspect messages of its own queue"
  }

  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s if anytrue([for a in flatten([s.Action]) : startswith(a, "sqs:")]) && s.Resource != aws_sqs_queue.main.arn]) == 0
    error_message = "no SQS grant may cover another queue (not even the DLQ)"
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement :
      s.Resource == "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/trailhound:log-stream:*" if s.Sid == "WriteLogs"
    ])
    error_message = "the function may write only its own log group"
  }
}

run "lambda_worker_with_keys_rules_and_secrets" {
  variables {
    trail_kms_key_arn    = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000a"
    queue_kms_key_arn    = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000b"
    lake_kms_key_arn     = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000c"
    secrets_kms_key_arn  = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000d"
    rules_s3_uri         = "s3://detection-content/trailhound/rules/"
    rules_kms_key_arn    = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000e"
    sink_sns_topic_arns  = ["arn:aws:sns:eu-west-1:111122223333:soc-alerts"]
    sink_sns_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000f"
    sink_secrets = {
      SLACK_WEBHOOK_URL     = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trailhound/slack-AbCdEf"
      WEBHOOK_SECRET        = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trailhound/webhook-GhIjKl"
      PAGERDUTY_ROUTING_KEY = "arn:aws:ssm:eu-west-1:111122223333:parameter/trailhound/pagerduty"
    }
  }

  assert {
    condition = jsonencode(flatten([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Resource if anytrue([for a in flatten([s.Action]) : a == "s3:GetObject"])
      ])) == jsonencode([
      "arn:aws:s3:::org-cloudtrail-logs/AWSLogs/*",
      "arn:aws:s3:::trailhound-lake-111122223333-eu-west-1/trailhound/*",
      "arn:aws:s3:::detection-content/trailhound/rules/*",
    ])
    error_message = "reads must be the trail prefix, the lake prefix and the rules prefix only"
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : (
        s.Resource == "arn:aws:s3:::detection-content" && jsonencode(s.Condition) == jsonencode({ StringLike = { "s3:prefix" = ["trailhound/rules/*"] } })
      ) if s.Sid == "ListRulePack"
    ])
    error_message = "listing the rule bucket must be limited to the rules prefix"
  }

  assert {
    condition = jsonencode(flatten([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Resource if contains(flatten([s.Action]), "secretsmanager:GetSecretValue")
      ])) == jsonencode([
      "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trailhound/slack-AbCdEf",
      "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trailhound/webhook-GhIjKl",
    ])
    error_message = "the function may read exactly the named Secrets Manager secrets"
  }

  assert {
    condition = jsonencode(flatten([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Resource if contains(flatten([s.Action]), "ssm:GetParameter")
    ])) == jsonencode(["arn:aws:ssm:eu-west-1:111122223333:parameter/trailhound/pagerduty"])
    error_message = "the function may read exactly the named SSM parameters"
  }

  assert {
    condition = jsonencode(sort(flatten([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Resource if anytrue([for a in flatten([s.Action]) : startswith(a, "kms:")])
      ]))) == jsonencode(sort([
      "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000a",
      "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000b",
      "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000c",
      "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000d",
      "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000e",
      "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000f",
    ]))
    error_message = "KMS grants must cover exactly the given keys"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : can(s.Condition.StringEquals["kms:ViaService"])
      if anytrue([for a in flatten([s.Action]) : startswith(a, "kms:")])
    ])
    error_message = "every KMS grant must be limited to its service by kms:ViaService"
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Sid => s.Condition.StringEquals["kms:ViaService"] if anytrue([for a in flatten([s.Action]) : startswith(a, "kms:")])
      }) == jsonencode({
      DecryptCloudTrailLogs  = "s3.eu-west-1.amazonaws.com"
      DecryptQueueMessages   = "sqs.eu-west-1.amazonaws.com"
      EncryptDecryptLake     = "s3.eu-west-1.amazonaws.com"
      DecryptRulePack        = "s3.eu-west-1.amazonaws.com"
      EncryptSnsSinkMessages = "sns.eu-west-1.amazonaws.com"
      DecryptSinkSecrets     = ["secretsmanager.eu-west-1.amazonaws.com", "ssm.eu-west-1.amazonaws.com"]
    })
    error_message = "each key must be usable only through the service that holds the data it protects"
  }

  assert {
    condition = jsonencode(sort([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Sid if contains(flatten([s.Action]), "kms:GenerateDataKey")
    ])) == jsonencode(["EncryptDecryptLake", "EncryptSnsSinkMessages"])
    error_message = "only the lake key and the SNS sink key may be used to encrypt (GenerateDataKey)"
  }

  assert {
    condition = jsonencode(flatten([
      for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Resource if contains(flatten([s.Action]), "sns:Publish")
    ])) == jsonencode(["arn:aws:sns:eu-west-1:111122223333:soc-alerts"])
    error_message = "the worker may publish only to the SNS sink topics"
  }
}

run "ecs_secrets_and_image_pull_belong_to_the_execution_role" {
  variables {
    compute_mode    = "ecs"
    container_image = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/security/trailhound:1.0.0"
    ecs_subnet_ids  = ["subnet-0aaa"]
    sink_secrets = {
      SLACK_WEBHOOK_URL     = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trailhound/slack-AbCdEf"
      PAGERDUTY_ROUTING_KEY = "arn:aws:ssm:eu-west-1:111122223333:parameter/trailhound/pagerduty"
    }
  }

  assert {
    condition = jsonencode([for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Sid]) == jsonencode(
      ["ReadCloudTrailLogs", "ConsumeNotificationQueue", "ReadWriteLakeObjects", "ListLakePrefix"]
    )
    error_message = "the ECS task role must have no logs, secrets or image grants"
  }

  assert {
    condition = jsonencode([for s in jsondecode(aws_iam_role_policy.execution[0].policy).Statement : s.Sid]) == jsonencode(
      ["WriteLogs", "EcrAuthorization", "PullImage", "ReadSinkSecrets", "ReadSinkParameters"]
    )
    error_message = "the execution role must have exactly logs, image pull and the sink secrets"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.execution[0].policy).Statement : s.Resource != "*" if s.Sid != "EcrAuthorization"
    ])
    error_message = "only ecr:GetAuthorizationToken (which has no resource-level permissions) may apply to *"
  }

  assert {
    condition = jsonencode({ for s in jsondecode(aws_iam_role_policy.execution[0].policy).Statement : s.Sid => s.Resource }) == jsonencode({
      WriteLogs          = "arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/trailhound:log-stream:*"
      EcrAuthorization   = "*"
      PullImage          = "arn:aws:ecr:eu-west-1:111122223333:repository/security/trailhound"
      ReadSinkSecrets    = ["arn:aws:secretsmanager:eu-west-1:111122223333:secret:trailhound/slack-AbCdEf"]
      ReadSinkParameters = ["arn:aws:ssm:eu-west-1:111122223333:parameter/trailhound/pagerduty"]
    })
    error_message = "execution grants must be limited to the log group, the image's repository and the named secrets"
  }

  assert {
    condition = (jsondecode(aws_iam_role.worker.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "111122223333"
    && jsondecode(aws_iam_role.worker.assume_role_policy).Statement[0].Condition.ArnLike["aws:SourceArn"] == "arn:aws:ecs:eu-west-1:111122223333:*")
    error_message = "the task role must be assumable only by this account's ECS tasks"
  }
}

run "image_outside_ecr_gets_no_ecr_grant" {
  variables {
    compute_mode    = "ecs"
    container_image = "ghcr.io/example/trailhound:1.0.0"
    ecs_subnet_ids  = ["subnet-0aaa"]
  }

  assert {
    condition     = jsonencode([for s in jsondecode(aws_iam_role_policy.execution[0].policy).Statement : s.Sid]) == jsonencode(["WriteLogs"])
    error_message = "without an ECR image or secrets, the execution role may only write logs"
  }
}
