# How the queue hears about new CloudTrail log files, per `notification_mode`:
#   s3_sqs      bucket notification (ObjectCreated, AWSLogs/ ... .json.gz) -> queue
#   s3_sns_sqs  bucket notification -> SNS topic (created, or `sns_topic_arn`) -> queue
#   eventbridge bucket -> EventBridge (bucket setting) -> rule (Object Created, same filter) -> queue
#
# aws_s3_bucket_notification owns the bucket's WHOLE notification configuration: on an
# existing bucket it replaces whatever was configured before, and a second one anywhere else
# for the same bucket would overwrite this one. `manage_bucket_notification = false` leaves
# the bucket alone; configure the equivalent notification where the bucket is managed.

locals {
  sns_topic_name        = "${var.name}-cloudtrail-objects"
  eventbridge_rule_name = "${var.name}-cloudtrail-objects"
  sns_topic_arn         = local.notify_sns ? coalesce(var.sns_topic_arn, "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.sns_topic_name}") : null
  eventbridge_rule_arn  = local.notify_eventbridge ? "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.eventbridge_rule_name}" : null

  eventbridge_pattern = {
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [local.trail_bucket_name] }
      object = { key = [{ wildcard = "${local.trail_logs_prefix}*${local.trail_logs_suffix}" }] }
    }
  }
}

# --- s3_sqs ----------------------------------------------------------------------------------

resource "aws_s3_bucket_notification" "trail" {
  count = var.manage_bucket_notification ? 1 : 0

  bucket      = local.trail_bucket_name
  eventbridge = local.notify_eventbridge ? true : null

  dynamic "queue" {
    for_each = local.notify_s3_sqs ? [aws_sqs_queue.main.arn] : []
    content {
      id            = "${var.name}-cloudtrail-logs"
      queue_arn     = queue.value
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = local.trail_logs_prefix
      filter_suffix = local.trail_logs_suffix
    }
  }

  dynamic "topic" {
    for_each = local.notify_sns ? [local.sns_topic_arn] : []
    content {
      id            = "${var.name}-cloudtrail-logs"
      topic_arn     = topic.value
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = local.trail_logs_prefix
      filter_suffix = local.trail_logs_suffix
    }
  }

  # S3 checks that it may deliver when the configuration is written.
  depends_on = [aws_sqs_queue_policy.main, aws_sns_topic_policy.objects]
}

# --- s3_sns_sqs --------------------------------------------------------------------------------

resource "aws_sns_topic" "objects" {
  count = local.create_sns_topic ? 1 : 0

  name              = local.sns_topic_name
  kms_master_key_id = var.sns_kms_key_arn
  tags              = local.tags
}

resource "aws_sns_topic_policy" "objects" {
  count = local.create_sns_topic ? 1 : 0

  arn = aws_sns_topic.objects[0].arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllowS3BucketNotifications"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = local.sns_topic_arn
        Condition = {
          ArnEquals    = { "aws:SourceArn" = local.trail_bucket_arn }
          StringEquals = { "aws:SourceAccount" = local.trail_bucket_account_id }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:Publish"
        Resource  = local.sns_topic_arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

# raw_message_delivery stays false: the worker unwraps SNS envelopes.
resource "aws_sns_topic_subscription" "queue" {
  count = local.notify_sns ? 1 : 0

  topic_arn            = local.create_sns_topic ? aws_sns_topic.objects[0].arn : var.sns_topic_arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.main.arn
  raw_message_delivery = false

  depends_on = [aws_sqs_queue_policy.main]
}

# --- eventbridge -------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "objects" {
  count = local.notify_eventbridge ? 1 : 0

  name          = local.eventbridge_rule_name
  description   = "CloudTrail log files (${local.trail_logs_prefix}*${local.trail_logs_suffix}) created in ${local.trail_bucket_name}, for trailhound"
  event_pattern = jsonencode(local.eventbridge_pattern)
  tags          = local.tags
}

resource "aws_cloudwatch_event_target" "queue" {
  count = local.notify_eventbridge ? 1 : 0

  rule      = aws_cloudwatch_event_rule.objects[0].name
  target_id = "trailhound-queue"
  arn       = aws_sqs_queue.main.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}
