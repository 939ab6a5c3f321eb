output "queue_url" {
  description = "URL of the notification queue (TRAILHOUND_SQS_QUEUE_URL)."
  value       = aws_sqs_queue.main.url
}

output "queue_arn" {
  description = "ARN of the notification queue."
  value       = aws_sqs_queue.main.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "sns_topic_arn" {
  description = "SNS topic the queue subscribes to (s3_sns_sqs mode; null otherwise)."
  value       = local.notify_sns ? aws_sns_topic_subscription.queue[0].topic_arn : null
}

output "eventbridge_rule_arn" {
  description = "EventBridge rule forwarding Object Created events to the queue (eventbridge mode; null otherwise)."
  value       = local.notify_eventbridge ? aws_cloudwatch_event_rule.objects[0].arn : null
}

output "trail_bucket_name" {
  description = "The CloudTrail bucket (created or existing)."
  value       = local.trail_bucket_name
}

output "trail_arn" {
  description = "ARN of the trail created here (null without create_trail)."
  value       = var.create_trail ? aws_cloudtrail.this[0].arn : null
}

output "lake_bucket_name" {
  description = "The lake bucket (created or existing)."
  value       = local.lake_bucket_name
}

output "lake_url" {
  description = "Lake location, s3://bucket/prefix (TRAILHOUND_LAKE; also for `trailhound hunt --lake` and `trailhound backtest --lake`)."
  value       = local.lake_url
}

output "sinks_config_uri" {
  description = "S3 URI of the uploaded sinks file (TRAILHOUND_SINKS; null without sinks_toml)."
  value       = local.sinks_uri
}

output "glue_database_name" {
  description = "Glue database of the lake tables."
  value       = aws_glue_catalog_database.lake.name
}

output "glue_table_names" {
  description = "Glue table names by lake table: { events = \"cloudtrail\", alerts = \"alerts\" }."
  value       = { for name, table in local.glue_tables : table.key => aws_glue_catalog_table.lake[name].name }
}

output "athena_workgroup_name" {
  description = "Athena workgroup for querying the lake."
  value       = aws_athena_workgroup.lake.name
}

output "athena_results_location" {
  description = "Where the workgroup writes query results."
  value       = local.athena_results_location
}

output "worker_role_arn" {
  description = "Role the worker runs as (ECS task role or Lambda execution role)."
  value       = aws_iam_role.worker.arn
}

output "worker_role_name" {
  description = "Name of the worker role."
  value       = aws_iam_role.worker.name
}

output "execution_role_arn" {
  description = "ECS task execution role (image pull, logs, secrets; null in Lambda mode)."
  value       = local.ecs ? aws_iam_role.execution[0].arn : null
}

output "log_group_name" {
  description = "CloudWatch log group of the worker."
  value       = aws_cloudwatch_log_group.worker.name
}

output "alarm_arns" {
  description = "CloudWatch alarms: dead-letter queue not empty, and queue lag."
  value = {
    dlq_depth = aws_cloudwatch_metric_alarm.dlq_depth.arn
    lag       = aws_cloudwatch_metric_alarm.queue_lag.arn
  }
}

output "ecs_cluster_arn" {
  description = "ECS cluster of the service (ecs mode; null otherwise)."
  value       = local.ecs ? aws_ecs_service.worker[0].cluster : null
}

output "ecs_service_name" {
  description = "ECS service running the workers (ecs mode; null otherwise)."
  value       = local.ecs ? aws_ecs_service.worker[0].name : null
}

output "ecs_task_definition_arn" {
  description = "Task definition of the workers (ecs mode; null otherwise)."
  value       = local.ecs ? aws_ecs_task_definition.worker[0].arn : null
}

output "lambda_function_name" {
  description = "Lambda function (lambda mode; null otherwise)."
  value       = local.lambda ? aws_lambda_function.worker[0].function_name : null
}

output "lambda_function_arn" {
  description = "ARN of the Lambda function (lambda mode; null otherwise)."
  value       = local.lambda ? aws_lambda_function.worker[0].arn : null
}

output "worker_environment" {
  description = "Environment the worker runs with (no secret values: sink secrets are ARNs)."
  value       = local.worker_environment
}
