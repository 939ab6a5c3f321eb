# Minimal deployment: an existing CloudTrail bucket notifies the queue directly (s3_sqs) and
# a Lambda function processes the notifications. The module creates the lake bucket, Glue
# tables and Athena workgroup; alerts go to the lake's alerts table and the function's log.
#
#   scripts/build-lambda.sh                 # builds target/lambda/bootstrap.zip
#   cd terraform/examples/minimal
#   terraform init
#   terraform apply -var cloudtrail_bucket_name=my-cloudtrail-bucket \
#     -var lambda_zip_path=../../../target/lambda/bootstrap.zip
#
# The module takes over the bucket's notification configuration (see the README).

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
}

variable "region" {
  description = "Region of the CloudTrail bucket (the queue and function must be in the same region)."
  type        = string
  default     = "us-east-1"
}

variable "cloudtrail_bucket_name" {
  description = "The existing bucket your trail writes to."
  type        = string
}

variable "cloudtrail_kms_key_arn" {
  description = "KMS key of the trail's log files, if SSE-KMS."
  type        = string
  default     = null
}

variable "lambda_zip_path" {
  description = "Path of the function zip built by scripts/build-lambda.sh."
  type        = string
}

module "trailhound" {
  source = "../.."

  name              = "trailhound"
  trail_bucket_name = var.cloudtrail_bucket_name
  trail_kms_key_arn = var.cloudtrail_kms_key_arn
  notification_mode = "s3_sqs"
  compute_mode      = "lambda"
  lambda_zip_path   = var.lambda_zip_path
}

output "lake_url" {
  description = "Where the lake is (for `trailhound hunt --lake`)."
  value       = module.trailhound.lake_url
}

output "athena_workgroup" {
  description = "Athena workgroup to query the lake with."
  value       = module.trailhound.athena_workgroup_name
}

output "glue_database" {
  description = "Glue database holding the cloudtrail and alerts tables."
  value       = module.trailhound.glue_database_name
}

output "queue_url" {
  description = "Notification queue."
  value       = module.trailhound.queue_url
}

output "lambda_function_name" {
  description = "The worker function."
  value       = module.trailhound.lambda_function_name
}

output "log_group_name" {
  description = "Where the worker logs."
  value       = module.trailhound.log_group_name
}
