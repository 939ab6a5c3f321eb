# Bad inputs are refused at plan time: variable validations, and preconditions for
# requirements that span several variables.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  trail_bucket_name = "org-cloudtrail-logs"
  lambda_package    = { s3_bucket = "artifacts-bucket", s3_key = "trailhound/bootstrap.zip" }
}

run "valid_defaults_plan" {
  command = plan
}

run "unknown_compute_mode_is_rejected" {
  command = plan
  variables {
    compute_mode = "ec2"
  }
  expect_failures = [var.compute_mode]
}

run "unknown_notification_mode_is_rejected" {
  command = plan
  variables {
    notification_mode = "sqs"
  }
  expect_failures = [var.notification_mode]
}

run "lake_prefix_with_slashes_at_the_ends_is_rejected" {
  command = plan
  variables {
    lake_prefix = "/trailhound/"
  }
  expect_failures = [var.lake_prefix]
}

run "lake_prefix_with_a_wildcard_is_rejected" {
  command = plan
  variables {
    lake_prefix = "trail*"
  }
  expect_failures = [var.lake_prefix]
}

run "secret_arn_with_a_json_key_is_rejected" {
  command = plan
  variables {
    sink_secrets = { SLACK_WEBHOOK_URL = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trailhound/slack-AbCdEf:url::" }
  }
  expect_failures = [var.sink_secrets]
}

run "secret_value_instead_of_an_arn_is_rejected" {
  command = plan
  variables {
    sink_secrets = { SLACK_WEBHOOK_URL = "https://hooks.slack.com/services/T000/B000/XXXX" }
  }
  expect_failures = [var.sink_secrets]
}

run "secret_named_like_a_trailhound_setting_is_rejected" {
  command = plan
  variables {
    sink_secrets = { TRAILHOUND_LAKE = "arn:aws:ssm:eu-west-1:111122223333:parameter/x" }
  }
  expect_failures = [var.sink_secrets]
}

run "rules_uri_without_a_prefix_is_rejected" {
  command = plan
  variables {
    rules_s3_uri = "s3://detection-content"
  }
  expect_failures = [var.rules_s3_uri]
}

run "extra_environment_cannot_override_module_settings" {
  command = plan
  variables {
    extra_environment = { TRAILHOUND_LAKE = "s3://elsewhere/lake" }
  }
  expect_failures = [var.extra_environment]
}

run "lambda_timeout_above_15_minutes_is_rejected" {
  command = plan
  variables {
    lambda_timeout = 901
  }
  expect_failures = [var.lambda_timeout]
}

run "existing_trail_bucket_is_required_without_create_trail" {
  command = plan
  variables {
    trail_bucket_name = null
  }
  expect_failures = [aws_sqs_queue.main]
}

run "existing_lake_bucket_needs_its_name" {
  command = plan
  variables {
    create_lake_bucket = false
  }
  expect_failures = [aws_sqs_queue.main]
}

run "ecs_needs_an_image_and_subnets" {
  command = plan
  variables {
    compute_mode = "ecs"
  }
  expect_failures = [aws_ecs_task_definition.worker]
}

run "lambda_needs_exactly_one_package" {
  command = plan
  variables {
    lambda_zip_path = "target/lambda/bootstrap.zip"
  }
  expect_failures = [aws_lambda_function.worker]
}

run "lambda_batches_above_10_need_a_batching_window" {
  command = plan
  variables {
    lambda_batch_size = 100
  }
  expect_failures = [aws_lambda_event_source_mapping.queue]
}
