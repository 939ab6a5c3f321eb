# A fuller deployment: the module creates a multi-region trail and its bucket, the bucket
# notifies an SNS topic (other consumers can subscribe to it too), the queue subscribes, and a
# Fargate service of two workers processes the notifications. Alerts go to Slack and PagerDuty
# (their secrets stay in Secrets Manager / SSM and are injected by ECS), rules come from S3,
# the lake is SSE-KMS, and alarms notify an existing SNS topic.
#
#   docker build -t trailhound .            # at the repository root
#   docker tag trailhound <account>.dkr.ecr.<region>.amazonaws.com/trailhound:<version>
#   docker push <account>.dkr.ecr.<region>.amazonaws.com/trailhound:<version>
#   cd terraform/examples/ecs-sns
#   terraform init && terraform apply -var-file=prod.tfvars

terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 6.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = { "cost-center" = "security" }
  }
}

variable "region" {
  description = "Region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "container_image" {
  description = "The pushed trailhound image, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/trailhound:1.0.0."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (with a NAT gateway or VPC endpoints) for the worker tasks."
  type        = list(string)
}

variable "lake_kms_key_arn" {
  description = "KMS key for the lake and Athena results."
  type        = string
}

variable "rules_s3_uri" {
  description = "Your rule pack, e.g. s3://detection-content/trailhound/rules."
  type        = string
}

variable "slack_webhook_secret_name" {
  description = "Secrets Manager secret holding the Slack webhook URL."
  type        = string
  default     = "trailhound/slack-webhook-url"
}

variable "pagerduty_routing_key_parameter" {
  description = "SSM SecureString parameter holding the PagerDuty routing key."
  type        = string
  default     = "/trailhound/pagerduty-routing-key"
}

variable "alarm_topic_arn" {
  description = "SNS topic your on-call receives alarms from."
  type        = string
}

data "aws_secretsmanager_secret" "slack" {
  name = var.slack_webhook_secret_name
}

data "aws_ssm_parameter" "pagerduty" {
  name            = var.pagerduty_routing_key_parameter
  with_decryption = false
}

module "trailhound" {
  source = "../.."

  name = "trailhound"

  create_trail          = true
  trail_is_multi_region = true

  notification_mode = "s3_sns_sqs"

  lake_kms_key_arn            = var.lake_kms_key_arn
  lake_versioning             = true
  lake_events_transition_days = 90
  lake_events_expiration_days = 730

  rules_s3_uri = var.rules_s3_uri

  sinks_toml = <<-TOML
    [[sink]]
    name = "slack-soc"
    type = "slack"
    url_env = "SLACK_WEBHOOK_URL"

    [[sink]]
    name = "pagerduty"
    type = "pagerduty"
    routing_key_env = "PAGERDUTY_ROUTING_KEY"
  TOML

  sink_secrets = {
    SLACK_WEBHOOK_URL     = data.aws_secretsmanager_secret.slack.arn
    PAGERDUTY_ROUTING_KEY = data.aws_ssm_parameter.pagerduty.arn
  }

  compute_mode         = "ecs"
  container_image      = var.container_image
  ecs_subnet_ids       = var.subnet_ids
  ecs_desired_count    = 2
  ecs_cpu              = 1024
  ecs_memory           = 2048
  ecs_cpu_architecture = "ARM64"

  alarm_sns_topic_arn               = var.alarm_topic_arn
  queue_lag_alarm_threshold_seconds = 900
  log_retention_days                = 365

  tags = { environment = "production" }
}

output "lake_url" {
  description = "Where the lake is."
  value       = module.trailhound.lake_url
}

output "athena_workgroup" {
  description = "Athena workgroup to query the lake with."
  value       = module.trailhound.athena_workgroup_name
}

output "glue_tables" {
  description = "Glue database and tables."
  value       = { database = module.trailhound.glue_database_name, tables = module.trailhound.glue_table_names }
}

output "sns_topic_arn" {
  description = "Topic announcing new CloudTrail log files (subscribe other consumers here)."
  value       = module.trailhound.sns_topic_arn
}

output "ecs_service_name" {
  description = "The worker service."
  value       = module.trailhound.ecs_service_name
}

output "ecs_cluster_arn" {
  description = "The cluster running it."
  value       = module.trailhound.ecs_cluster_arn
}

output "worker_role_arn" {
  description = "The task role."
  value       = module.trailhound.worker_role_arn
}
