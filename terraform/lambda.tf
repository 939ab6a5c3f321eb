# compute_mode = "lambda": the same binary, packaged as `bootstrap` (provided.al2023, arm64),
# invoked by an SQS event source mapping. It reports the notifications it could not process
# as batchItemFailures, so only those return to the queue (and, after max_receive_count
# receives, to the dead-letter queue).

resource "aws_lambda_function" "worker" {
  count = local.lambda ? 1 : 0

  function_name = var.name
  description   = "trailhound: CloudTrail detections and Parquet lake (${local.lake_url})"
  role          = aws_iam_role.worker.arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = ["arm64"]
  memory_size   = var.lambda_memory_size
  timeout       = var.lambda_timeout

  reserved_concurrent_executions = var.lambda_reserved_concurrency == null ? -1 : var.lambda_reserved_concurrency

  s3_bucket         = var.lambda_package == null ? null : var.lambda_package.s3_bucket
  s3_key            = var.lambda_package == null ? null : var.lambda_package.s3_key
  s3_object_version = var.lambda_package == null ? null : var.lambda_package.s3_object_version
  filename          = var.lambda_zip_path
  source_code_hash  = var.lambda_zip_path == null ? null : filebase64sha256(var.lambda_zip_path)

  environment {
    variables = local.worker_environment
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.worker.name
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.worker]

  lifecycle {
    precondition {
      condition     = (var.lambda_package == null) != (var.lambda_zip_path == null)
      error_message = "compute_mode = \"lambda\" needs exactly one of lambda_package (S3) and lambda_zip_path (local file)."
    }
  }
}

resource "aws_lambda_event_source_mapping" "queue" {
  count = local.lambda ? 1 : 0

  event_source_arn                   = aws_sqs_queue.main.arn
  function_name                      = aws_lambda_function.worker[0].arn
  batch_size                         = var.lambda_batch_size
  maximum_batching_window_in_seconds = var.lambda_maximum_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = var.lambda_maximum_concurrency == null ? [] : [var.lambda_maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }

  # The mapping polls with the function's role: its SQS grant must exist first.
  depends_on = [aws_iam_role_policy.worker]

  lifecycle {
    precondition {
      condition     = var.lambda_batch_size <= 10 || var.lambda_maximum_batching_window_seconds >= 1
      error_message = "lambda_batch_size above 10 needs lambda_maximum_batching_window_seconds of at least 1."
    }
    precondition {
      condition     = var.lambda_maximum_concurrency == null || var.lambda_reserved_concurrency == null || try(var.lambda_maximum_concurrency <= var.lambda_reserved_concurrency, false)
      error_message = "lambda_maximum_concurrency must not exceed lambda_reserved_concurrency (the mapping would be throttled)."
    }
  }
}
