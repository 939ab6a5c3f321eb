# compute_mode: each mode creates its own resources and none of the other's, wires the queue
# to the worker, and gives the worker its settings.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  trail_bucket_name = "org-cloudtrail-logs"
  sinks_toml        = "[[sink]]\nname = \"soc\"\ntype = \"slack\"\nurl_env = \"SLACK_WEBHOOK_URL\"\n"
  sink_secrets = {
    SLACK_WEBHOOK_URL     = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trailhound/slack-AbCdEf"
    PAGERDUTY_ROUTING_KEY = "arn:aws:ssm:eu-west-1:111122223333:parameter/trailhound/pagerduty"
  }
}

run "lambda_mode_creates_the_function_and_no_ecs_resources" {
  variables {
    compute_mode                           = "lambda"
    lambda_package                         = { s3_bucket = "artifacts-bucket", s3_key = "trailhound/bootstrap.zip" }
    lambda_timeout                         = 120
    lambda_maximum_batching_window_seconds = 5
    lambda_batch_size                      = 50
    lambda_maximum_concurrency             = 20
  }

  assert {
    condition     = length(aws_lambda_function.worker) == 1 && length(aws_lambda_event_source_mapping.queue) == 1
    error_message = "lambda mode must create the function and its event source mapping"
  }

  assert {
    condition = (length(aws_ecs_service.worker) + length(aws_ecs_task_definition.worker) + length(aws_ecs_cluster.this)
    + length(aws_iam_role.execution) + length(aws_security_group.worker)) == 0
    error_message = "lambda mode must not create ECS resources"
  }

  assert {
    condition = (aws_lambda_function.worker[0].runtime == "provided.al2023" && aws_lambda_function.worker[0].handler == "bootstrap"
    && jsonencode(aws_lambda_function.worker[0].architectures) == jsonencode(["arm64"]))
    error_message = "the function must be provided.al2023 / bootstrap / arm64"
  }

  assert {
    condition     = aws_lambda_function.worker[0].s3_bucket == "artifacts-bucket" && aws_lambda_function.worker[0].s3_key == "trailhound/bootstrap.zip"
    error_message = "the function must come from lambda_package"
  }

  assert {
    condition     = aws_lambda_function.worker[0].role == aws_iam_role.worker.arn
    error_message = "the function must run as the worker role"
  }

  assert {
    condition     = jsonencode(aws_lambda_event_source_mapping.queue[0].function_response_types) == jsonencode(["ReportBatchItemFailures"])
    error_message = "the event source mapping must report batch item failures"
  }

  assert {
    condition = (aws_lambda_event_source_mapping.queue[0].event_source_arn == aws_sqs_queue.main.arn
      && aws_lambda_event_source_mapping.queue[0].batch_size == 50
      && aws_lambda_event_source_mapping.queue[0].maximum_batching_window_in_seconds == 5
    && aws_lambda_event_source_mapping.queue[0].scaling_config[0].maximum_concurrency == 20)
    error_message = "the event source mapping must read the main queue with the configured batching and concurrency"
  }

  assert {
    condition     = aws_sqs_queue.main.visibility_timeout_seconds == 6 * 120 + 5
    error_message = "in lambda mode the queue's visibility timeout must be 6 x timeout + batching window, got ${aws_sqs_queue.main.visibility_timeout_seconds}"
  }

  assert {
    condition = (aws_lambda_function.worker[0].environment[0].variables["TRAILHOUND_SQS_QUEUE_URL"] == aws_sqs_queue.main.url
      && aws_lambda_function.worker[0].environment[0].variables["TRAILHOUND_LAKE"] == "s3://trailhound-lake-111122223333-eu-west-1/trailhound"
      && aws_lambda_function.worker[0].environment[0].variables["TRAILHOUND_VISIBILITY_TIMEOUT"] == "725"
      && aws_lambda_function.worker[0].environment[0].variables["TRAILHOUND_SINKS"] == "s3://trailhound-lake-111122223333-eu-west-1/trailhound/_config/sinks.toml"
      && aws_lambda_function.worker[0].environment[0].variables["TRAILHOUND_LOG_FORMAT"] == "json"
    && aws_lambda_function.worker[0].environment[0].variables["TRAILHOUND_LOG"] == "info")
    error_message = "the function's environment must carry the queue, lake, visibility timeout, sinks file and log settings"
  }

  assert {
    condition     = jsonencode(jsondecode(aws_lambda_function.worker[0].environment[0].variables["TRAILHOUND_SECRETS"])) == jsonencode(var.sink_secrets)
    error_message = "TRAILHOUND_SECRETS must be the JSON map of environment variable name to secret ARN"
  }

  assert {
    condition = (!contains(keys(aws_lambda_function.worker[0].environment[0].variables), "TRAILHOUND_OPS_LISTEN")
    && !contains(keys(aws_lambda_function.worker[0].environment[0].variables), "TRAILHOUND_RULES"))
    error_message = "lambda mode has no ops listener, and rules default to the built-in pack"
  }

  assert {
    condition     = aws_lambda_function.worker[0].logging_config[0].log_group == aws_cloudwatch_log_group.worker.name && aws_cloudwatch_log_group.worker.name == "/aws/lambda/trailhound"
    error_message = "the function must log to the module's log group"
  }

  assert {
    condition     = jsondecode(aws_iam_role.worker.assume_role_policy).Statement[0].Principal.Service == "lambda.amazonaws.com"
    error_message = "the worker role must be assumable by Lambda only"
  }

  assert {
    condition     = output.lambda_function_name == "trailhound" && output.ecs_service_name == null && output.execution_role_arn == null
    error_message = "outputs must name the function and no ECS service"
  }
}

run "lambda_visibility_timeout_at_the_maximum_timeout" {
  variables {
    compute_mode                           = "lambda"
    lambda_package                         = { s3_bucket = "artifacts-bucket", s3_key = "trailhound/bootstrap.zip" }
    lambda_timeout                         = 900
    lambda_maximum_batching_window_seconds = 300
    visibility_timeout_seconds             = 60
  }

  assert {
    condition     = aws_sqs_queue.main.visibility_timeout_seconds == 5700
    error_message = "lambda mode must ignore visibility_timeout_seconds and use 6 x 900 + 300"
  }

  assert {
    condition     = aws_sqs_queue.main.visibility_timeout_seconds >= 6 * aws_lambda_function.worker[0].timeout
    error_message = "the visibility timeout must be at least six times the function timeout"
  }

  assert {
    condition     = length(aws_lambda_event_source_mapping.queue[0].scaling_config) == 0
    error_message = "no scaling_config without lambda_maximum_concurrency"
  }
}

run "ecs_mode_creates_the_service_and_no_lambda_resources" {
  variables {
    compute_mode               = "ecs"
    container_image            = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/trailhound:1.0.0"
    ecs_subnet_ids             = ["subnet-0aaa", "subnet-0bbb"]
    ecs_desired_count          = 2
    ecs_cpu                    = 512
    ecs_memory                 = 1024
    ecs_cpu_architecture       = "X86_64"
    visibility_timeout_seconds = 600
    rules_s3_uri               = "s3://detection-content/trailhound/rules"
  }

  assert {
    condition = (length(aws_ecs_service.worker) == 1 && length(aws_ecs_task_definition.worker) == 1
    && length(aws_ecs_cluster.this) == 1 && length(aws_iam_role.execution) == 1)
    error_message = "ecs mode must create the cluster, task definition, service and execution role"
  }

  assert {
    condition     = length(aws_lambda_function.worker) + length(aws_lambda_event_source_mapping.queue) == 0
    error_message = "ecs mode must not create Lambda resources"
  }

  assert {
    condition = jsonencode(jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].healthCheck.command) == jsonencode(
      ["CMD", "/usr/local/bin/trailhound", "health", "--url", "http://127.0.0.1:9100/health"]
    )
    error_message = "the container health check must run `trailhound health` against 127.0.0.1:9100/health"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].portMappings[0].containerPort == 9100
    error_message = "the container must expose port 9100"
  }

  assert {
    condition     = jsonencode(jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].command) == jsonencode(["--log-format", "json", "run"])
    error_message = "the container must run `trailhound --log-format json run`"
  }

  assert {
    condition = (jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].logConfiguration.logDriver == "awslogs"
      && jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].logConfiguration.options["awslogs-group"] == "/ecs/trailhound"
    && aws_cloudwatch_log_group.worker.name == "/ecs/trailhound")
    error_message = "the container must log to the module's log group with awslogs"
  }

  assert {
    condition = ({ for e in jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].environment : e.name => e.value } == {
      TRAILHOUND_SQS_QUEUE_URL      = "https://sqs.eu-west-1.amazonaws.com/111122223333/trailhound-notifications"
      TRAILHOUND_LAKE               = "s3://trailhound-lake-111122223333-eu-west-1/trailhound"
      TRAILHOUND_VISIBILITY_TIMEOUT = "600"
      TRAILHOUND_OPS_LISTEN         = "0.0.0.0:9100"
      TRAILHOUND_RULES              = "s3://detection-content/trailhound/rules"
      TRAILHOUND_SINKS              = "s3://trailhound-lake-111122223333-eu-west-1/trailhound/_config/sinks.toml"
      TRAILHOUND_LOG                = "info"
    })
    error_message = "the container environment must be exactly the worker settings (no TRAILHOUND_SECRETS: ECS injects secrets)"
  }

  assert {
    condition     = jsonencode({ for s in jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].secrets : s.name => s.valueFrom }) == jsonencode(var.sink_secrets)
    error_message = "sink secrets must be injected as container secrets by ARN"
  }

  assert {
    condition     = aws_sqs_queue.main.visibility_timeout_seconds == 600
    error_message = "in ecs mode the queue's visibility timeout is visibility_timeout_seconds"
  }

  assert {
    condition = (aws_ecs_task_definition.worker[0].runtime_platform[0].cpu_architecture == "X86_64"
      && aws_ecs_task_definition.worker[0].cpu == "512" && aws_ecs_task_definition.worker[0].memory == "1024"
      && aws_ecs_task_definition.worker[0].network_mode == "awsvpc"
      && aws_ecs_task_definition.worker[0].task_role_arn == aws_iam_role.worker.arn
    && aws_ecs_task_definition.worker[0].execution_role_arn == aws_iam_role.execution[0].arn)
    error_message = "the Fargate task definition must have the requested size, architecture and both roles"
  }

  assert {
    condition = (aws_ecs_service.worker[0].desired_count == 2 && aws_ecs_service.worker[0].launch_type == "FARGATE"
      && aws_ecs_service.worker[0].cluster == aws_ecs_cluster.this[0].arn
      && toset(aws_ecs_service.worker[0].network_configuration[0].subnets) == toset(["subnet-0aaa", "subnet-0bbb"])
      && toset(aws_ecs_service.worker[0].network_configuration[0].security_groups) == toset([aws_security_group.worker[0].id])
    && aws_ecs_service.worker[0].network_configuration[0].assign_public_ip == false)
    error_message = "the service must run desired_count Fargate tasks in the given subnets with the module's security group"
  }

  assert {
    condition = (aws_security_group.worker[0].vpc_id == "vpc-0123456789abcdef0"
      && aws_vpc_security_group_egress_rule.worker_https[0].from_port == 443
      && aws_vpc_security_group_egress_rule.worker_https[0].to_port == 443
    && aws_vpc_security_group_egress_rule.worker_https[0].ip_protocol == "tcp")
    error_message = "the default security group must allow only outbound HTTPS, in the subnets' VPC"
  }

  assert {
    condition     = jsondecode(aws_iam_role.worker.assume_role_policy).Statement[0].Principal.Service == "ecs-tasks.amazonaws.com"
    error_message = "the worker role must be an ECS task role"
  }

  assert {
    condition     = output.ecs_service_name == "trailhound" && output.lambda_function_name == null
    error_message = "outputs must name the ECS service and no function"
  }
}

run "ecs_mode_with_an_existing_cluster_and_security_groups" {
  variables {
    compute_mode           = "ecs"
    container_image        = "ghcr.io/example/trailhound:1.0.0"
    ecs_subnet_ids         = ["subnet-0aaa"]
    ecs_security_group_ids = ["sg-0feedfacefeedface"]
    ecs_cluster_arn        = "arn:aws:ecs:eu-west-1:111122223333:cluster/shared"
    ecs_assign_public_ip   = true
  }

  assert {
    condition     = length(aws_ecs_cluster.this) == 0 && aws_ecs_service.worker[0].cluster == "arn:aws:ecs:eu-west-1:111122223333:cluster/shared"
    error_message = "an existing cluster must be used, not created"
  }

  assert {
    condition = (length(aws_security_group.worker) == 0
      && toset(aws_ecs_service.worker[0].network_configuration[0].security_groups) == toset(["sg-0feedfacefeedface"])
    && aws_ecs_service.worker[0].network_configuration[0].assign_public_ip == true)
    error_message = "given security groups must be used, not a created one"
  }
}
