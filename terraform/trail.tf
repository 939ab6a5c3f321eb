# Optional: a multi-region (optionally organization) trail and its bucket. With
# `create_trail = false` none of this exists and `trail_bucket_name` names the existing bucket.

locals {
  trail_name = "${var.name}-trail"
  trail_arn  = "arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/${local.trail_name}"

  # Where CloudTrail writes: AWSLogs/<account>/... and, for an organization trail,
  # AWSLogs/<organization id>/<account>/... as well.
  trail_write_resources = concat(
    ["${local.trail_bucket_arn}/${local.trail_logs_prefix}${local.account_id}/*"],
    var.create_trail && var.trail_is_organization_trail ? ["${local.trail_bucket_arn}/${local.trail_logs_prefix}${data.aws_organizations_organization.current[0].id}/*"] : [],
  )
}

data "aws_organizations_organization" "current" {
  count = var.create_trail && var.trail_is_organization_trail ? 1 : 0
}

resource "aws_s3_bucket" "trail" {
  count = var.create_trail ? 1 : 0

  bucket        = coalesce(var.trail_bucket_name, "${var.name}-trail-${local.account_id}-${local.region}")
  force_destroy = var.force_destroy
  tags          = local.tags
}

resource "aws_s3_bucket_public_access_block" "trail" {
  count = var.create_trail ? 1 : 0

  bucket                  = aws_s3_bucket.trail[0].bucket
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "trail" {
  count = var.create_trail ? 1 : 0

  bucket = aws_s3_bucket.trail[0].bucket
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "trail" {
  count = var.create_trail ? 1 : 0

  bucket = aws_s3_bucket.trail[0].bucket
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  count = var.create_trail ? 1 : 0

  bucket = aws_s3_bucket.trail[0].bucket
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.trail_kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.trail_kms_key_arn
    }
    bucket_key_enabled = var.trail_kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  count = var.create_trail ? 1 : 0

  bucket = aws_s3_bucket.trail[0].bucket

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
    for_each = var.trail_log_expiration_days == null ? [] : [var.trail_log_expiration_days]
    content {
      id     = "expire-log-files"
      status = "Enabled"
      filter {
        prefix = local.trail_logs_prefix
      }
      expiration {
        days = rule.value
      }
      noncurrent_version_expiration {
        noncurrent_days = 1
      }
    }
  }
}

resource "aws_s3_bucket_policy" "trail" {
  count = var.create_trail ? 1 : 0

  bucket = aws_s3_bucket.trail[0].bucket
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CloudTrailAclCheck"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:GetBucketAcl"
        Resource  = local.trail_bucket_arn
        Condition = { StringEquals = { "aws:SourceArn" = local.trail_arn } }
      },
      {
        Sid       = "CloudTrailWrite"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = local.trail_write_resources
        Condition = {
          StringEquals = {
            "s3:x-amz-acl"  = "bucket-owner-full-control"
            "aws:SourceArn" = local.trail_arn
          }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.trail_bucket_arn, "${local.trail_bucket_arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.trail]
}

resource "aws_cloudtrail" "this" {
  count = var.create_trail ? 1 : 0

  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.trail[0].bucket
  s3_key_prefix                 = var.trail_s3_key_prefix == "" ? null : var.trail_s3_key_prefix
  kms_key_id                    = var.trail_kms_key_arn
  is_multi_region_trail         = var.trail_is_multi_region
  is_organization_trail         = var.trail_is_organization_trail
  include_global_service_events = true
  enable_log_file_validation    = true
  tags                          = local.tags

  # CloudTrail checks its write access when the trail is created.
  depends_on = [aws_s3_bucket_policy.trail]
}
