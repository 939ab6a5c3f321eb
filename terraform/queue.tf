# The notification queue and its dead-letter queue. A notification the worker cannot handle
# (a body of unknown shape, a log object it keeps failing on) is received max_receive_count
# times and then parked in the dead-letter queue, which an alarm watches (monitoring.tf).

resource "aws_sqs_queue" "dlq" {
  name                              = local.dlq_name
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = var.queue_kms_key_arn == null ? true : null
  kms_master_key_id                 = var.queue_kms_key_arn
  kms_data_key_reuse_period_seconds = var.queue_kms_key_arn == null ? null : 300
  tags                              = local.tags
}

resource "aws_sqs_queue" "main" {
  name                              = local.queue_name
  visibility_timeout_seconds        = local.queue_visibility_timeout
  message_retention_seconds         = var.queue_message_retention_seconds
  receive_wait_time_seconds         = 20
  sqs_managed_sse_enabled           = var.queue_kms_key_arn == null ? true : null
  kms_master_key_id                 = var.queue_kms_key_arn
  kms_data_key_reuse_period_seconds = var.queue_kms_key_arn == null ? null : 300
  tags                              = local.tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  lifecycle {
    precondition {
      condition     = var.create_trail || var.trail_bucket_name != null
      error_message = "Set trail_bucket_name to the existing CloudTrail bucket, or create_trail = true."
    }
    precondition {
      condition     = var.create_lake_bucket || var.lake_bucket_name != null
      error_message = "Set lake_bucket_name when create_lake_bucket is false."
    }
    precondition {
      condition     = var.sns_topic_arn == null || var.notification_mode == "s3_sns_sqs"
      error_message = "sns_topic_arn is only used with notification_mode = \"s3_sns_sqs\"."
    }
    precondition {
      condition     = !(var.create_trail && var.trail_bucket_account_id != null && var.trail_bucket_account_id != local.account_id)
      error_message = "trail_bucket_account_id cannot name another account when create_trail is true: the bucket is created in this account."
    }
  }
}

# Only the main queue may use this queue as its dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main.arn]
  })
}

# Who may send to the queue: exactly the sender of the chosen notification mode, identified
# by its ARN (aws:SourceArn) and, for S3 (whose bucket ARNs carry no account), by the bucket
# owner (aws:SourceAccount). SNS topic and EventBridge rule ARNs include their account.
# Non-TLS requests are refused.
locals {
  queue_policy_send_statement = {
    s3_sqs = {
      Sid       = "AllowS3BucketNotifications"
      Effect    = "Allow"
      Principal = { Service = "s3.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = local.queue_arn
      Condition = {
        ArnEquals    = { "aws:SourceArn" = local.trail_bucket_arn }
        StringEquals = { "aws:SourceAccount" = local.trail_bucket_account_id }
      }
    }
    s3_sns_sqs = {
      Sid       = "AllowSnsTopic"
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = local.queue_arn
      Condition = {
        ArnEquals = { "aws:SourceArn" = local.sns_topic_arn }
      }
    }
    eventbridge = {
      Sid       = "AllowEventBridgeRule"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = local.queue_arn
      Condition = {
        ArnEquals = { "aws:SourceArn" = local.eventbridge_rule_arn }
      }
    }
  }[var.notification_mode]

  queue_policy = {
    Version = "2012-10-17"
    Statement = [
      local.queue_policy_send_statement,
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:*"
        Resource  = local.queue_arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  }
}

resource "aws_sqs_queue_policy" "main" {
  queue_url = aws_sqs_queue.main.id
  policy    = jsonencode(local.queue_policy)
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = jsonencode(local.dlq_policy)
}

# The dead-letter queue also takes the events the EventBridge rule failed to deliver.
locals {
  dlq_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [for statement in [{
        Sid       = "AllowEventBridgeRuleDeadLetters"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = local.dlq_arn
        Condition = { ArnEquals = { "aws:SourceArn" = local.eventbridge_rule_arn } }
      }] : statement if local.notify_eventbridge],
      [{
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:*"
        Resource  = local.dlq_arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }],
    )
  }
}
