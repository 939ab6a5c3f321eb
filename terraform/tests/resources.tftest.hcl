# The lake bucket, the sinks file, the optional trail, and the alarms.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  trail_bucket_name = "org-cloudtrail-logs"
  lambda_package    = { s3_bucket = "artifacts-bucket", s3_key = "trailhound/bootstrap.zip" }
}

run "created_lake_bucket_is_private_encrypted_and_expires_only_disposable_state" {
  assert {
    condition = (aws_s3_bucket.lake[0].bucket == "trailhound-lake-111122223333-eu-west-1"
      && aws_s3_bucket_public_access_block.lake[0].block_public_acls && aws_s3_bucket_public_access_block.lake[0].block_public_policy
    && aws_s3_bucket_public_access_block.lake[0].ignore_public_acls && aws_s3_bucket_public_access_block.lake[0].restrict_public_buckets)
    error_message = "the lake bucket must block all public access"
  }

  assert {
    condition = (one(aws_s3_bucket_server_side_encryption_configuration.lake[0].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    && aws_s3_bucket_ownership_controls.lake[0].rule[0].object_ownership == "BucketOwnerEnforced")
    error_message = "the lake bucket must default to SSE-S3 and disable ACLs"
  }

  assert {
    condition = (jsondecode(aws_s3_bucket_policy.lake[0].policy).Statement[0].Effect == "Deny"
    && jsondecode(aws_s3_bucket_policy.lake[0].policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false")
    error_message = "the lake bucket must refuse non-TLS requests"
  }

  assert {
    condition = jsonencode({ for r in aws_s3_bucket_lifecycle_configuration.lake[0].rule : r.id => r.filter[0].prefix }) == jsonencode({
      "abort-incomplete-multipart-uploads" = ""
      "expire-delivered"                   = "trailhound/_delivered/"
      "expire-quarantine"                  = "trailhound/_quarantine/"
      "expire-dead_letter"                 = "trailhound/_dead_letter/"
      "expire-suppressed"                  = "trailhound/_suppressed/"
      "expire-athena-results"              = "athena-results/trailhound/"
    })
    error_message = "by default only multipart uploads, delivery markers, diagnostics and Athena results may expire (never tables or worker state)"
  }

  assert {
    condition = jsonencode({ for r in aws_s3_bucket_lifecycle_configuration.lake[0].rule : r.id => r.expiration[0].days if length(r.expiration) > 0 }) == jsonencode({
      "expire-delivered"      = 30
      "expire-quarantine"     = 90
      "expire-dead_letter"    = 90
      "expire-suppressed"     = 90
      "expire-athena-results" = 30
    })
    error_message = "expirations must follow the *_expiration_days variables"
  }

  assert {
    condition     = length(aws_s3_bucket_versioning.lake) == 0
    error_message = "lake versioning is off by default"
  }

  assert {
    condition     = length(aws_s3_object.sinks) == 0 && !contains(keys(aws_lambda_function.worker[0].environment[0].variables), "TRAILHOUND_SINKS") && output.sinks_config_uri == null
    error_message = "without sinks_toml nothing is uploaded and TRAILHOUND_SINKS is unset"
  }

  assert {
    condition     = length(aws_cloudtrail.this) + length(aws_s3_bucket.trail) == 0
    error_message = "no trail or trail bucket without create_trail"
  }
}

run "lake_lifecycle_options_and_sinks_file" {
  variables {
    lake_versioning               = true
    lake_events_transition_days   = 90
    lake_transition_storage_class = "GLACIER_IR"
    lake_events_expiration_days   = 400
    lake_alerts_expiration_days   = 730
    lake_kms_key_arn              = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000c"
    sinks_toml                    = "[[sink]]\nname = \"soc\"\ntype = \"webhook\"\nurl_env = \"SOC_WEBHOOK_URL\"\n"
  }

  assert {
    condition = anytrue([for r in aws_s3_bucket_lifecycle_configuration.lake[0].rule : (
      r.filter[0].prefix == "trailhound/cloudtrail/" && one(r.transition).days == 90 && one(r.transition).storage_class == "GLACIER_IR" && r.expiration[0].days == 400
    ) if r.id == "events-storage"])
    error_message = "event files must transition and expire as configured"
  }

  assert {
    condition     = anytrue([for r in aws_s3_bucket_lifecycle_configuration.lake[0].rule : r.filter[0].prefix == "trailhound/alerts/" && r.expiration[0].days == 730 if r.id == "expire-alerts"])
    error_message = "alert files must expire as configured"
  }

  assert {
    condition = (length(aws_s3_bucket_versioning.lake) == 1
    && anytrue([for r in aws_s3_bucket_lifecycle_configuration.lake[0].rule : r.noncurrent_version_expiration[0].noncurrent_days == 30 if r.id == "expire-noncurrent-versions"]))
    error_message = "with versioning, noncurrent versions must expire"
  }

  assert {
    condition = (one(aws_s3_bucket_server_side_encryption_configuration.lake[0].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms"
    && one(aws_s3_bucket_server_side_encryption_configuration.lake[0].rule).bucket_key_enabled == true)
    error_message = "with a lake key the bucket must default to SSE-KMS with a bucket key"
  }

  assert {
    condition = (aws_s3_object.sinks[0].bucket == "trailhound-lake-111122223333-eu-west-1"
      && aws_s3_object.sinks[0].key == "trailhound/_config/sinks.toml"
      && aws_s3_object.sinks[0].content == var.sinks_toml
      && aws_s3_object.sinks[0].server_side_encryption == "aws:kms"
    && aws_s3_object.sinks[0].kms_key_id == "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000c")
    error_message = "the sinks file must be uploaded to <lake>/_config/sinks.toml, encrypted with the lake key"
  }

  assert {
    condition     = aws_lambda_function.worker[0].environment[0].variables["TRAILHOUND_SINKS"] == "s3://trailhound-lake-111122223333-eu-west-1/trailhound/_config/sinks.toml"
    error_message = "TRAILHOUND_SINKS must point at the uploaded file"
  }
}

run "existing_lake_bucket_is_used_as_is" {
  variables {
    create_lake_bucket = false
    lake_bucket_name   = "security-data-lake"
    lake_prefix        = "cloudtrail-lake"
    sinks_toml         = "[[sink]]\nname = \"soc\"\ntype = \"webhook\"\nurl_env = \"SOC_WEBHOOK_URL\"\n"
  }

  assert {
    condition = (length(aws_s3_bucket.lake) + length(aws_s3_bucket_policy.lake) + length(aws_s3_bucket_lifecycle_configuration.lake)
    + length(aws_s3_bucket_public_access_block.lake) + length(aws_s3_bucket_server_side_encryption_configuration.lake)) == 0
    error_message = "an existing lake bucket must not be managed"
  }

  assert {
    condition     = output.lake_url == "s3://security-data-lake/cloudtrail-lake" && output.lake_bucket_name == "security-data-lake"
    error_message = "the lake must be the existing bucket and prefix"
  }

  assert {
    condition     = aws_s3_object.sinks[0].bucket == "security-data-lake" && aws_s3_object.sinks[0].key == "cloudtrail-lake/_config/sinks.toml" && aws_s3_object.sinks[0].server_side_encryption == "AES256"
    error_message = "the sinks file must go to the existing bucket's lake prefix"
  }
}

run "created_organization_trail_and_its_bucket" {
  variables {
    create_trail                = true
    trail_bucket_name           = null
    trail_is_organization_trail = true
    trail_log_expiration_days   = 365
  }

  assert {
    condition = (aws_cloudtrail.this[0].is_multi_region_trail && aws_cloudtrail.this[0].is_organization_trail
      && aws_cloudtrail.this[0].enable_log_file_validation && aws_cloudtrail.this[0].include_global_service_events
    && aws_cloudtrail.this[0].s3_bucket_name == "trailhound-trail-111122223333-eu-west-1")
    error_message = "the trail must be a validated multi-region organization trail writing to the created bucket"
  }

  assert {
    condition = (aws_s3_bucket_public_access_block.trail[0].block_public_policy && aws_s3_bucket_public_access_block.trail[0].restrict_public_buckets
    && one(aws_s3_bucket_server_side_encryption_configuration.trail[0].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256")
    error_message = "the trail bucket must be private and encrypted"
  }

  assert {
    condition = jsonencode([for s in jsondecode(aws_s3_bucket_policy.trail[0].policy).Statement : s.Resource if s.Sid == "CloudTrailWrite"]) == jsonencode([[
      "arn:aws:s3:::trailhound-trail-111122223333-eu-west-1/AWSLogs/111122223333/*",
      "arn:aws:s3:::trailhound-trail-111122223333-eu-west-1/AWSLogs/o-exampleorg1/*",
    ]])
    error_message = "CloudTrail may write only its account's and organization's AWSLogs/ prefixes"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_s3_bucket_policy.trail[0].policy).Statement :
      s.Condition.StringEquals["aws:SourceArn"] == "arn:aws:cloudtrail:eu-west-1:111122223333:trail/trailhound-trail" if s.Effect == "Allow"
    ])
    error_message = "the bucket policy must admit CloudTrail only for this trail (aws:SourceArn)"
  }

  assert {
    condition     = aws_s3_bucket_notification.trail[0].bucket == "trailhound-trail-111122223333-eu-west-1"
    error_message = "notifications must come from the created trail bucket"
  }

  assert {
    condition     = anytrue([for r in aws_s3_bucket_lifecycle_configuration.trail[0].rule : r.expiration[0].days == 365 && r.filter[0].prefix == "AWSLogs/" if r.id == "expire-log-files"])
    error_message = "raw log files must expire after trail_log_expiration_days"
  }
}

run "alarms_watch_the_dlq_and_the_queue_lag" {
  variables {
    alarm_sns_topic_arn               = "arn:aws:sns:eu-west-1:111122223333:soc-alarms"
    queue_lag_alarm_threshold_seconds = 900
    log_retention_days                = 30
  }

  assert {
    condition = (aws_cloudwatch_metric_alarm.dlq_depth.namespace == "AWS/SQS"
      && aws_cloudwatch_metric_alarm.dlq_depth.metric_name == "ApproximateNumberOfMessagesVisible"
      && aws_cloudwatch_metric_alarm.dlq_depth.dimensions["QueueName"] == aws_sqs_queue.dlq.name
      && aws_cloudwatch_metric_alarm.dlq_depth.comparison_operator == "GreaterThanThreshold"
    && aws_cloudwatch_metric_alarm.dlq_depth.threshold == 0)
    error_message = "the DLQ alarm must fire as soon as the DLQ holds a message"
  }

  assert {
    condition = (aws_cloudwatch_metric_alarm.queue_lag.metric_name == "ApproximateAgeOfOldestMessage"
      && aws_cloudwatch_metric_alarm.queue_lag.dimensions["QueueName"] == aws_sqs_queue.main.name
    && aws_cloudwatch_metric_alarm.queue_lag.threshold == 900)
    error_message = "the lag alarm must watch the main queue's oldest message against the threshold"
  }

  assert {
    condition = (jsonencode(aws_cloudwatch_metric_alarm.dlq_depth.alarm_actions) == jsonencode(["arn:aws:sns:eu-west-1:111122223333:soc-alarms"])
    && jsonencode(aws_cloudwatch_metric_alarm.queue_lag.alarm_actions) == jsonencode(["arn:aws:sns:eu-west-1:111122223333:soc-alarms"]))
    error_message = "both alarms must notify alarm_sns_topic_arn"
  }

  assert {
    condition     = aws_cloudwatch_log_group.worker.retention_in_days == 30
    error_message = "the log group must keep logs log_retention_days"
  }
}
