# notification_mode: each mode wires the CloudTrail bucket to the queue its own way, filters on
# AWSLogs/ and .json.gz, and lets exactly that sender (by ARN and account) write to the queue.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  trail_bucket_name = "org-cloudtrail-logs"
  lambda_package    = { s3_bucket = "artifacts-bucket", s3_key = "trailhound/bootstrap.zip" }
}

run "s3_sqs_sends_bucket_notifications_straight_to_the_queue" {
  variables {
    notification_mode = "s3_sqs"
  }

  assert {
    condition = (length(aws_s3_bucket_notification.trail) == 1 && aws_s3_bucket_notification.trail[0].bucket == "org-cloudtrail-logs"
    && length(aws_s3_bucket_notification.trail[0].queue) == 1 && length(aws_s3_bucket_notification.trail[0].topic) == 0)
    error_message = "s3_sqs must configure one queue notification on the trail bucket"
  }

  assert {
    condition = (aws_s3_bucket_notification.trail[0].queue[0].queue_arn == aws_sqs_queue.main.arn
      && aws_s3_bucket_notification.trail[0].queue[0].filter_prefix == "AWSLogs/"
      && aws_s3_bucket_notification.trail[0].queue[0].filter_suffix == ".json.gz"
    && jsonencode(aws_s3_bucket_notification.trail[0].queue[0].events) == jsonencode(["s3:ObjectCreated:*"]))
    error_message = "the notification must send ObjectCreated of AWSLogs/*.json.gz to the main queue"
  }

  assert {
    condition     = aws_s3_bucket_notification.trail[0].eventbridge != true
    error_message = "s3_sqs must not turn on EventBridge delivery"
  }

  assert {
    condition = (length(aws_sns_topic.objects) + length(aws_sns_topic_subscription.queue)
    + length(aws_cloudwatch_event_rule.objects) + length(aws_cloudwatch_event_target.queue)) == 0
    error_message = "s3_sqs must create no SNS or EventBridge resources"
  }

  assert {
    condition = (jsondecode(aws_sqs_queue_policy.main.policy).Statement[0].Principal.Service == "s3.amazonaws.com"
      && jsondecode(aws_sqs_queue_policy.main.policy).Statement[0].Action == "sqs:SendMessage"
      && jsondecode(aws_sqs_queue_policy.main.policy).Statement[0].Resource == aws_sqs_queue.main.arn
      && jsondecode(aws_sqs_queue_policy.main.policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == "arn:aws:s3:::org-cloudtrail-logs"
    && jsondecode(aws_sqs_queue_policy.main.policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "111122223333")
    error_message = "the queue policy must let only the trail bucket (by ARN and owner account) send"
  }

  assert {
    condition = (length(jsondecode(aws_sqs_queue_policy.main.policy).Statement) == 2
      && jsondecode(aws_sqs_queue_policy.main.policy).Statement[1].Effect == "Deny"
    && jsondecode(aws_sqs_queue_policy.main.policy).Statement[1].Condition.Bool["aws:SecureTransport"] == "false")
    error_message = "the queue policy must otherwise only deny non-TLS access"
  }

  assert {
    condition = (jsondecode(aws_sqs_queue.main.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq.arn
    && jsondecode(aws_sqs_queue.main.redrive_policy).maxReceiveCount == 5)
    error_message = "the main queue must redrive to the DLQ after max_receive_count receives"
  }

  assert {
    condition     = aws_sqs_queue.main.sqs_managed_sse_enabled == true && aws_sqs_queue.dlq.sqs_managed_sse_enabled == true
    error_message = "queues must use SSE-SQS without a customer key"
  }
}

run "s3_sns_sqs_creates_a_topic_the_queue_subscribes_to" {
  variables {
    notification_mode = "s3_sns_sqs"
    max_receive_count = 3
    queue_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000001"
  }

  assert {
    condition = (length(aws_sns_topic.objects) == 1 && length(aws_sns_topic_subscription.queue) == 1
    && length(aws_cloudwatch_event_rule.objects) == 0)
    error_message = "s3_sns_sqs must create the topic and the subscription only"
  }

  assert {
    condition = (aws_sns_topic_subscription.queue[0].topic_arn == aws_sns_topic.objects[0].arn
      && aws_sns_topic_subscription.queue[0].protocol == "sqs"
      && aws_sns_topic_subscription.queue[0].endpoint == aws_sqs_queue.main.arn
    && aws_sns_topic_subscription.queue[0].raw_message_delivery == false)
    error_message = "the queue must subscribe to the topic (SNS envelopes, unwrapped by the worker)"
  }

  assert {
    condition = (length(aws_s3_bucket_notification.trail[0].queue) == 0 && length(aws_s3_bucket_notification.trail[0].topic) == 1
      && aws_s3_bucket_notification.trail[0].topic[0].topic_arn == aws_sns_topic.objects[0].arn
      && aws_s3_bucket_notification.trail[0].topic[0].filter_prefix == "AWSLogs/"
    && aws_s3_bucket_notification.trail[0].topic[0].filter_suffix == ".json.gz")
    error_message = "the bucket must notify the topic for AWSLogs/*.json.gz"
  }

  assert {
    condition = (jsondecode(aws_sns_topic_policy.objects[0].policy).Statement[0].Principal.Service == "s3.amazonaws.com"
      && jsondecode(aws_sns_topic_policy.objects[0].policy).Statement[0].Action == "sns:Publish"
      && jsondecode(aws_sns_topic_policy.objects[0].policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == "arn:aws:s3:::org-cloudtrail-logs"
    && jsondecode(aws_sns_topic_policy.objects[0].policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "111122223333")
    error_message = "the topic policy must let only the trail bucket publish"
  }

  assert {
    condition = (jsondecode(aws_sqs_queue_policy.main.policy).Statement[0].Principal.Service == "sns.amazonaws.com"
    && jsondecode(aws_sqs_queue_policy.main.policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == aws_sns_topic.objects[0].arn)
    error_message = "the queue policy must let only the topic send"
  }

  assert {
    condition = (aws_sqs_queue.main.kms_master_key_id == "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000001"
      && aws_sqs_queue.dlq.kms_master_key_id == aws_sqs_queue.main.kms_master_key_id
    && jsondecode(aws_sqs_queue.main.redrive_policy).maxReceiveCount == 3)
    error_message = "both queues must use the customer key; max_receive_count must reach the redrive policy"
  }
}

run "s3_sns_sqs_with_an_existing_topic_and_unmanaged_bucket_notification" {
  variables {
    notification_mode          = "s3_sns_sqs"
    sns_topic_arn              = "arn:aws:sns:eu-west-1:444455556666:log-archive-cloudtrail-objects"
    manage_bucket_notification = false
  }

  assert {
    condition     = length(aws_sns_topic.objects) == 0 && length(aws_sns_topic_policy.objects) == 0 && length(aws_s3_bucket_notification.trail) == 0
    error_message = "an existing topic must be used as is, and the bucket's notifications left alone"
  }

  assert {
    condition     = aws_sns_topic_subscription.queue[0].topic_arn == "arn:aws:sns:eu-west-1:444455556666:log-archive-cloudtrail-objects"
    error_message = "the queue must subscribe to the existing topic"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue_policy.main.policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == "arn:aws:sns:eu-west-1:444455556666:log-archive-cloudtrail-objects"
    error_message = "the queue policy must let only the existing topic send"
  }

  assert {
    condition     = output.sns_topic_arn == "arn:aws:sns:eu-west-1:444455556666:log-archive-cloudtrail-objects"
    error_message = "the sns_topic_arn output must be the existing topic"
  }
}

run "eventbridge_routes_object_created_events_through_a_rule" {
  variables {
    notification_mode = "eventbridge"
  }

  assert {
    condition = (aws_s3_bucket_notification.trail[0].eventbridge == true
    && length(aws_s3_bucket_notification.trail[0].queue) == 0 && length(aws_s3_bucket_notification.trail[0].topic) == 0)
    error_message = "eventbridge mode must only turn on EventBridge delivery for the bucket"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.objects[0].event_pattern) == {
      source        = ["aws.s3"]
      "detail-type" = ["Object Created"]
      detail = {
        bucket = { name = ["org-cloudtrail-logs"] }
        object = { key = [{ wildcard = "AWSLogs/*.json.gz" }] }
      }
    }
    error_message = "the rule must match Object Created in the trail bucket under AWSLogs/ ending in .json.gz"
  }

  assert {
    condition = (aws_cloudwatch_event_target.queue[0].arn == aws_sqs_queue.main.arn
      && aws_cloudwatch_event_target.queue[0].rule == aws_cloudwatch_event_rule.objects[0].name
    && aws_cloudwatch_event_target.queue[0].dead_letter_config[0].arn == aws_sqs_queue.dlq.arn)
    error_message = "the rule must target the main queue, with the DLQ for undeliverable events"
  }

  assert {
    condition = (jsondecode(aws_sqs_queue_policy.main.policy).Statement[0].Principal.Service == "events.amazonaws.com"
    && jsondecode(aws_sqs_queue_policy.main.policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == aws_cloudwatch_event_rule.objects[0].arn)
    error_message = "the queue policy must let only the rule send"
  }

  assert {
    condition = (jsondecode(aws_sqs_queue_policy.dlq.policy).Statement[0].Principal.Service == "events.amazonaws.com"
    && jsondecode(aws_sqs_queue_policy.dlq.policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == aws_cloudwatch_event_rule.objects[0].arn)
    error_message = "the DLQ policy must accept the rule's undeliverable events"
  }

  assert {
    condition     = length(aws_sns_topic.objects) + length(aws_sns_topic_subscription.queue) == 0
    error_message = "eventbridge mode must create no SNS resources"
  }
}

run "trail_key_prefix_and_bucket_in_another_account" {
  variables {
    notification_mode       = "s3_sqs"
    trail_s3_key_prefix     = "org-trail"
    trail_bucket_account_id = "444455556666"
  }

  assert {
    condition     = aws_s3_bucket_notification.trail[0].queue[0].filter_prefix == "org-trail/AWSLogs/"
    error_message = "the filter must include the trail's key prefix"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue_policy.main.policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "444455556666"
    error_message = "aws:SourceAccount must be the bucket owner"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.worker.policy).Statement[0].Resource == "arn:aws:s3:::org-cloudtrail-logs/org-trail/AWSLogs/*"
    error_message = "the worker may read only below the trail's key prefix"
  }
}
