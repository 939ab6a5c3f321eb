# Shared data sources and the names, locations and switches every other file uses.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  dns_suffix = data.aws_partition.current.dns_suffix

  tags = merge({ "trailhound:deployment" = var.name }, var.tags)

  # Mode switches: each resource that belongs to one mode uses one of these as its count.
  ecs    = var.compute_mode == "ecs"
  lambda = var.compute_mode == "lambda"

  notify_s3_sqs      = var.notification_mode == "s3_sqs"
  notify_sns         = var.notification_mode == "s3_sns_sqs"
  notify_eventbridge = var.notification_mode == "eventbridge"
  create_sns_topic   = local.notify_sns && var.sns_topic_arn == null

  # CloudTrail source. Objects are at [<trail prefix>/]AWSLogs/...; everything the module does
  # with the trail bucket (notification filters, the worker's read grant) is confined to that.
  # (An unset required name becomes "" here so that the precondition on aws_sqs_queue.main
  # reports it, rather than a null-interpolation error.)
  trail_bucket_name       = var.create_trail ? aws_s3_bucket.trail[0].bucket : (var.trail_bucket_name == null ? "" : var.trail_bucket_name)
  trail_bucket_arn        = "arn:${local.partition}:s3:::${local.trail_bucket_name}"
  trail_bucket_account_id = coalesce(var.trail_bucket_account_id, local.account_id)
  trail_logs_prefix       = var.trail_s3_key_prefix == "" ? "AWSLogs/" : "${var.trail_s3_key_prefix}/AWSLogs/"
  trail_logs_suffix       = ".json.gz"

  # Queue names and ARNs, known at plan time so that policies are too.
  queue_name = "${var.name}-notifications"
  dlq_name   = "${var.name}-notifications-dlq"
  queue_arn  = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.queue_name}"
  dlq_arn    = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.dlq_name}"

  # Lambda: AWS recommends a visibility timeout of at least six times the function timeout
  # plus the batching window. ECS: the worker's own visibility timeout, which it renews while
  # a batch is in progress.
  queue_visibility_timeout = local.lambda ? 6 * var.lambda_timeout + var.lambda_maximum_batching_window_seconds : var.visibility_timeout_seconds

  # Lake.
  lake_bucket_name = var.create_lake_bucket ? aws_s3_bucket.lake[0].bucket : (var.lake_bucket_name == null ? "" : var.lake_bucket_name)
  lake_bucket_arn  = "arn:${local.partition}:s3:::${local.lake_bucket_name}"
  lake_url         = "s3://${local.lake_bucket_name}/${var.lake_prefix}"

  sinks_key = "${var.lake_prefix}/_config/sinks.toml"
  sinks_uri = var.sinks_toml == null ? null : "s3://${local.lake_bucket_name}/${local.sinks_key}"

  athena_results_prefix = coalesce(var.athena_results_prefix, "athena-results/${var.lake_prefix}")

  # Rules in S3: s3://bucket/prefix (a prefix is required, see the variable).
  rules_parts      = var.rules_s3_uri == null ? null : regex("^s3://([^/]+)/(.+)$", var.rules_s3_uri)
  rules_bucket     = var.rules_s3_uri == null ? null : local.rules_parts[0]
  rules_prefix     = var.rules_s3_uri == null ? null : trimsuffix(local.rules_parts[1], "/")
  rules_bucket_arn = var.rules_s3_uri == null ? null : "arn:${local.partition}:s3:::${local.rules_bucket}"
  rules_objects    = var.rules_s3_uri == null ? null : "${local.rules_bucket_arn}/${local.rules_prefix}/*"
  rules_list_match = var.rules_s3_uri == null ? null : "${local.rules_prefix}/*"

  # Secrets, split by the service that holds them.
  secret_arns_secretsmanager = sort([for arn in values(var.sink_secrets) : arn if can(regex("^arn:[^:]+:secretsmanager:", arn))])
  secret_arns_ssm            = sort([for arn in values(var.sink_secrets) : arn if can(regex("^arn:[^:]+:ssm:", arn))])

  # The worker's settings (see the binary's `trailhound run --help`). Lambda has no ops
  # listener (nothing to scrape) and resolves sink secrets itself from TRAILHOUND_SECRETS;
  # ECS injects them as container secrets.
  ops_port = 9100
  worker_environment = merge(
    var.extra_environment,
    {
      TRAILHOUND_SQS_QUEUE_URL      = aws_sqs_queue.main.url
      TRAILHOUND_LAKE               = local.lake_url
      TRAILHOUND_VISIBILITY_TIMEOUT = tostring(local.queue_visibility_timeout)
      TRAILHOUND_LOG                = var.log_level
    },
    var.rules_s3_uri == null ? {} : { TRAILHOUND_RULES = var.rules_s3_uri },
    local.sinks_uri == null ? {} : { TRAILHOUND_SINKS = local.sinks_uri },
    var.worker_concurrency == null ? {} : { TRAILHOUND_CONCURRENCY = tostring(var.worker_concurrency) },
    local.ecs ? { TRAILHOUND_OPS_LISTEN = "0.0.0.0:${local.ops_port}" } : {},
    local.lambda ? { TRAILHOUND_LOG_FORMAT = "json" } : {},
    local.lambda && length(var.sink_secrets) > 0 ? { TRAILHOUND_SECRETS = jsonencode(var.sink_secrets) } : {},
  )

  log_group_name = local.ecs ? "/ecs/${var.name}" : "/aws/lambda/${var.name}"
}
