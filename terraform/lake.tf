# The lake bucket (created here unless `create_lake_bucket = false`) and the sinks file in it.
#
# Layout below s3://<bucket>/<lake_prefix>/:
#   cloudtrail/dt=YYYY-MM-DD/hour=HH/*.parquet   events (Glue table `cloudtrail`)
#   alerts/dt=YYYY-MM-DD/*.parquet               alerts (Glue table `alerts`)
#   _ledger/ _state/ _outbox/ _compaction/       worker state: never expired
#   _delivered/                                  delivery markers: expire (lake_delivered_expiration_days)
#   _quarantine/ _dead_letter/ _suppressed/      diagnostics: expire (lake_diagnostics_expiration_days)
#   _config/sinks.toml                           the sinks file (sinks_toml)
# and Athena query results under s3://<bucket>/<athena_results_prefix>/.

locals {
  # Folders whose objects expire, and when.
  lake_expiring_folders = merge(
    { "_delivered" = var.lake_delivered_expiration_days },
    { for folder in ["_quarantine", "_dead_letter", "_suppressed"] : folder => var.lake_diagnostics_expiration_days },
    var.lake_alerts_expiration_days == null ? {} : { "alerts" = var.lake_alerts_expiration_days },
  )
}

resource "aws_s3_bucket" "lake" {
  count = var.create_lake_bucket ? 1 : 0

  bucket        = coalesce(var.lake_bucket_name, "${var.name}-lake-${local.account_id}-${local.region}")
  force_destroy = var.force_destroy
  tags          = local.tags
}

resource "aws_s3_bucket_public_access_block" "lake" {
  count = var.create_lake_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.lake[0].bucket
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  count = var.create_lake_bucket ? 1 : 0

  bucket = aws_s3_bucket.lake[0].bucket
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  count = var.create_lake_bucket ? 1 : 0

  bucket = aws_s3_bucket.lake[0].bucket
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.lake_kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.lake_kms_key_arn
    }
    bucket_key_enabled = var.lake_kms_key_arn != null
  }
}

resource "aws_s3_bucket_versioning" "lake" {
  count = var.create_lake_bucket && var.lake_versioning ? 1 : 0

  bucket = aws_s3_bucket.lake[0].bucket
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_policy" "lake" {
  count = var.create_lake_bucket ? 1 : 0

  bucket = aws_s3_bucket.lake[0].bucket
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.lake_bucket_arn, "${local.lake_bucket_arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.lake]
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  count = var.create_lake_bucket ? 1 : 0

  bucket = aws_s3_bucket.lake[0].bucket

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {
      prefix = ""
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  dynamic "rule" {
    for_each = local.lake_expiring_folders
    content {
      id     = "expire-${trimprefix(rule.key, "_")}"
      status = "Enabled"
      filter {
        prefix = "${var.lake_prefix}/${rule.key}/"
      }
      expiration {
        days = rule.value
      }
    }
  }

  dynamic "rule" {
    for_each = var.lake_events_transition_days != null || var.lake_events_expiration_days != null ? ["events"] : []
    content {
      id     = "events-storage"
      status = "Enabled"
      filter {
        prefix = "${var.lake_prefix}/cloudtrail/"
      }
      dynamic "transition" {
        for_each = var.lake_events_transition_days == null ? [] : [var.lake_events_transition_days]
        content {
          days          = transition.value
          storage_class = var.lake_transition_storage_class
        }
      }
      dynamic "expiration" {
        for_each = var.lake_events_expiration_days == null ? [] : [var.lake_events_expiration_days]
        content {
          days = expiration.value
        }
      }
    }
  }

  rule {
    id     = "expire-athena-results"
    status = "Enabled"
    filter {
      prefix = "${local.athena_results_prefix}/"
    }
    expiration {
      days = var.athena_results_expiration_days
    }
  }

  dynamic "rule" {
    for_each = var.lake_versioning ? [var.lake_noncurrent_version_expiration_days] : []
    content {
      id     = "expire-noncurrent-versions"
      status = "Enabled"
      filter {
        prefix = ""
      }
      noncurrent_version_expiration {
        noncurrent_days = rule.value
      }
      expiration {
        expired_object_delete_marker = true
      }
    }
  }

  # Lifecycle rules on a versioned bucket need versioning configured first.
  depends_on = [aws_s3_bucket_versioning.lake]

  lifecycle {
    precondition {
      condition     = var.lake_events_expiration_days == null || var.lake_events_transition_days == null || try(var.lake_events_expiration_days > var.lake_events_transition_days, false)
      error_message = "lake_events_expiration_days must be later than lake_events_transition_days."
    }
    precondition {
      condition     = var.lake_events_transition_days == null || !contains(["STANDARD_IA", "ONEZONE_IA"], var.lake_transition_storage_class) || try(var.lake_events_transition_days >= 30, false)
      error_message = "S3 needs lake_events_transition_days of at least 30 for STANDARD_IA and ONEZONE_IA."
    }
  }
}

# The sinks file. It names secrets by environment variable only; their values never pass
# through Terraform (see sink_secrets).
resource "aws_s3_object" "sinks" {
  count = var.sinks_toml == null ? 0 : 1

  bucket                 = local.lake_bucket_name
  key                    = local.sinks_key
  content                = var.sinks_toml
  content_type           = "application/toml"
  server_side_encryption = var.lake_kms_key_arn == null ? "AES256" : "aws:kms"
  kms_key_id             = var.lake_kms_key_arn
  bucket_key_enabled     = var.lake_kms_key_arn == null ? null : true
  tags                   = local.tags

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.lake, aws_s3_bucket_policy.lake]
}
