# Athena workgroup for querying the lake's Glue tables. Its settings are enforced (clients
# cannot send results elsewhere or unencrypted); results go to the lake bucket under
# athena_results_prefix, outside the lake prefix, encrypted with the lake's KMS key if any.

locals {
  athena_workgroup_name   = coalesce(var.athena_workgroup_name, var.name)
  athena_results_location = "s3://${local.lake_bucket_name}/${local.athena_results_prefix}/"
}

resource "aws_athena_workgroup" "lake" {
  name          = local.athena_workgroup_name
  description   = "trailhound: queries over ${local.glue_database_name}.cloudtrail and ${local.glue_database_name}.alerts"
  force_destroy = var.force_destroy
  tags          = local.tags

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.athena_bytes_scanned_cutoff_per_query

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = local.athena_results_location

      encryption_configuration {
        encryption_option = var.lake_kms_key_arn == null ? "SSE_S3" : "SSE_KMS"
        kms_key_arn       = var.lake_kms_key_arn
      }
    }
  }
}
