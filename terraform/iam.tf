# IAM for the worker. One role runs trailhound (the ECS task role, or the Lambda function's
# role); in ECS mode a separate execution role lets ECS pull the image, write the logs and
# inject the sink secrets, none of which the worker itself can then do.
#
# What the worker may do, and nothing else:
#   - read CloudTrail log objects under [<trail prefix>/]AWSLogs/ (and decrypt them via S3);
#   - receive, delete, extend and inspect messages of its own queue (decrypt via SQS);
#   - read, write, delete and list objects under its lake prefix (en/decrypt via S3);
#   - read and list the rule pack prefix, when rules come from S3;
#   - publish to the SNS topics of `type = "sns"` sinks, when given;
#   - Lambda only: write its log group and read exactly the sink_secrets ARNs.
# Every KMS grant is limited to one key and, by kms:ViaService, to the service that uses it.
# Policies are built with jsonencode so the tests can assert on them.

locals {
  via_s3  = "s3.${local.region}.${local.dns_suffix}"
  via_sqs = "sqs.${local.region}.${local.dns_suffix}"

  log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"

  # --- statements of the worker role --------------------------------------------------------

  worker_statements = concat(
    [
      {
        Sid      = "ReadCloudTrailLogs"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:GetObjectVersion"]
        Resource = "${local.trail_bucket_arn}/${local.trail_logs_prefix}*"
      },
      {
        Sid      = "ConsumeNotificationQueue"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
        Resource = local.queue_arn
      },
      {
        Sid      = "ReadWriteLakeObjects"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        Resource = "${local.lake_bucket_arn}/${var.lake_prefix}/*"
      },
      {
        Sid       = "ListLakePrefix"
        Effect    = "Allow"
        Action    = "s3:ListBucket"
        Resource  = local.lake_bucket_arn
        Condition = { StringLike = { "s3:prefix" = ["${var.lake_prefix}/*"] } }
      },
    ],
    [for statement in [
      {
        Sid      = "ReadRulePack"
        Effect   = "Allow"
        Action   = "s3:GetObject"
        Resource = local.rules_objects
      },
      {
        Sid       = "ListRulePack"
        Effect    = "Allow"
        Action    = "s3:ListBucket"
        Resource  = local.rules_bucket_arn
        Condition = { StringLike = { "s3:prefix" = [local.rules_list_match] } }
      },
    ] : statement if var.rules_s3_uri != null],
    [for statement in [
      {
        Sid       = "DecryptCloudTrailLogs"
        Effect    = "Allow"
        Action    = "kms:Decrypt"
        Resource  = var.trail_kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = local.via_s3 } }
      },
    ] : statement if var.trail_kms_key_arn != null],
    [for statement in [
      {
        Sid       = "DecryptQueueMessages"
        Effect    = "Allow"
        Action    = "kms:Decrypt"
        Resource  = var.queue_kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = local.via_sqs } }
      },
    ] : statement if var.queue_kms_key_arn != null],
    [for statement in [
      {
        Sid       = "EncryptDecryptLake"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = var.lake_kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = local.via_s3 } }
      },
    ] : statement if var.lake_kms_key_arn != null],
    [for statement in [
      {
        Sid       = "DecryptRulePack"
        Effect    = "Allow"
        Action    = "kms:Decrypt"
        Resource  = var.rules_kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = local.via_s3 } }
      },
    ] : statement if var.rules_kms_key_arn != null && var.rules_s3_uri != null],
    [for statement in [
      {
        Sid      = "PublishAlertsToSnsSinks"
        Effect   = "Allow"
        Action   = "sns:Publish"
        Resource = sort(var.sink_sns_topic_arns)
      },
    ] : statement if length(var.sink_sns_topic_arns) > 0],
    [for statement in [
      {
        Sid       = "EncryptSnsSinkMessages"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = var.sink_sns_kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = "sns.${local.region}.${local.dns_suffix}" } }
      },
    ] : statement if var.sink_sns_kms_key_arn != null && length(var.sink_sns_topic_arns) > 0],
    [for statement in local.log_statements : statement if local.lambda],
    [for statement in local.secret_statements : statement if local.lambda],
  )

  # --- logs and secrets: the Lambda role's, or the ECS execution role's ------------------------

  log_statements = [
    {
      Sid      = "WriteLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${local.log_group_arn}:log-stream:*"
    },
  ]

  secret_statements = concat(
    [for statement in [
      {
        Sid      = "ReadSinkSecrets"
        Effect   = "Allow"
        Action   = "secretsmanager:GetSecretValue"
        Resource = local.secret_arns_secretsmanager
      },
    ] : statement if length(local.secret_arns_secretsmanager) > 0],
    [for statement in [
      {
        Sid      = "ReadSinkParameters"
        Effect   = "Allow"
        Action   = ["ssm:GetParameter", "ssm:GetParameters"]
        Resource = local.secret_arns_ssm
      },
    ] : statement if length(local.secret_arns_ssm) > 0],
    [for statement in [
      {
        Sid      = "DecryptSinkSecrets"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = var.secrets_kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = [
          "secretsmanager.${local.region}.${local.dns_suffix}",
          "ssm.${local.region}.${local.dns_suffix}",
        ] } }
      },
    ] : statement if var.secrets_kms_key_arn != null && length(var.sink_secrets) > 0],
  )

  # An ECR image (<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:tag|@digest]):
  # the execution role may pull from that repository only. Other registries need no grant.
  ecr_image = local.ecs && var.container_image != null ? try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([a-z0-9._/-]+)", var.container_image), null) : null

  execution_statements = concat(
    local.log_statements,
    [for statement in [
      {
        Sid      = "EcrAuthorization"
        Effect   = "Allow"
        Action   = "ecr:GetAuthorizationToken"
        Resource = "*"
      },
      {
        Sid      = "PullImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
        Resource = local.ecr_image == null ? "" : "arn:${local.partition}:ecr:${local.ecr_image[1]}:${local.ecr_image[0]}:repository/${local.ecr_image[2]}"
      },
    ] : statement if local.ecr_image != null],
    local.secret_statements,
  )

  worker_policy    = { Version = "2012-10-17", Statement = local.worker_statements }
  execution_policy = { Version = "2012-10-17", Statement = local.execution_statements }

  # ECS tasks of this account only (confused-deputy protection on the task role's trust).
  ecs_task_trust = {
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ecs:${local.region}:${local.account_id}:*" }
        StringEquals = { "aws:SourceAccount" = local.account_id }
      }
    }]
  }

  ecs_execution_trust = {
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  }

  lambda_trust = {
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  }
}

resource "aws_iam_role" "worker" {
  name                 = "${var.name}-worker"
  description          = "trailhound worker (${var.compute_mode}): reads CloudTrail logs, consumes ${local.queue_name}, writes ${local.lake_url}"
  assume_role_policy   = local.ecs ? jsonencode(local.ecs_task_trust) : jsonencode(local.lambda_trust)
  permissions_boundary = var.permissions_boundary_arn
  tags                 = local.tags
}

resource "aws_iam_role_policy" "worker" {
  name   = "trailhound-worker"
  role   = aws_iam_role.worker.id
  policy = jsonencode(local.worker_policy)
}

resource "aws_iam_role" "execution" {
  count = local.ecs ? 1 : 0

  name                 = "${var.name}-execution"
  description          = "ECS execution role of trailhound: image pull, logs, sink secrets"
  assume_role_policy   = jsonencode(local.ecs_execution_trust)
  permissions_boundary = var.permissions_boundary_arn
  tags                 = local.tags
}

resource "aws_iam_role_policy" "execution" {
  count = local.ecs ? 1 : 0

  name   = "trailhound-execution"
  role   = aws_iam_role.execution[0].id
  policy = jsonencode(local.execution_policy)
}
