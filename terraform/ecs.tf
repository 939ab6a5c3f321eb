# compute_mode = "ecs": a Fargate service of long-running workers (`trailhound run`) polling
# the queue. The image's entrypoint is the trailhound binary; settings come from the
# environment, sink secrets are injected by ECS from Secrets Manager / SSM.

locals {
  container_name = "trailhound"

  container_definition = {
    name      = local.container_name
    image     = var.container_image
    essential = true
    command   = ["--log-format", "json", "run"]

    environment = [for name in sort(keys(local.worker_environment)) : { name = name, value = local.worker_environment[name] }]
    secrets     = [for name in sort(keys(var.sink_secrets)) : { name = name, valueFrom = var.sink_secrets[name] }]

    portMappings = [{ containerPort = local.ops_port, protocol = "tcp", name = "ops" }]

    # The image has no shell or curl: the binary checks its own /health endpoint.
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/trailhound", "health", "--url", "http://127.0.0.1:${local.ops_port}/health"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }

    # Read-only root file system; /tmp is a task-scoped scratch volume.
    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]

    # On SIGTERM the worker finishes its batch and commits; Fargate allows at most 120 s.
    stopTimeout = 120

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = local.log_group_name
        awslogs-region        = local.region
        awslogs-stream-prefix = local.container_name
      }
    }
  }
}

resource "aws_ecs_cluster" "this" {
  count = local.ecs && var.ecs_cluster_arn == null ? 1 : 0

  name = var.name
  tags = local.tags

  setting {
    name  = "containerInsights"
    value = var.ecs_container_insights ? "enabled" : "disabled"
  }
}

resource "aws_ecs_task_definition" "worker" {
  count = local.ecs ? 1 : 0

  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.ecs_cpu)
  memory                   = tostring(var.ecs_memory)
  task_role_arn            = aws_iam_role.worker.arn
  execution_role_arn       = aws_iam_role.execution[0].arn
  container_definitions    = jsonencode([local.container_definition])
  tags                     = local.tags

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.ecs_cpu_architecture
  }

  volume {
    name = "tmp"
  }

  lifecycle {
    precondition {
      condition     = var.container_image != null
      error_message = "compute_mode = \"ecs\" needs container_image."
    }
    precondition {
      condition     = length(var.ecs_subnet_ids) > 0
      error_message = "compute_mode = \"ecs\" needs ecs_subnet_ids."
    }
  }
}

resource "aws_security_group" "worker" {
  count = local.ecs && length(var.ecs_security_group_ids) == 0 ? 1 : 0

  name        = "${var.name}-worker"
  description = "trailhound worker tasks: no inbound, outbound HTTPS only"
  vpc_id      = one(data.aws_subnet.ecs[*].vpc_id)
  tags        = merge(local.tags, { Name = "${var.name}-worker" })
}

resource "aws_vpc_security_group_egress_rule" "worker_https" {
  count = local.ecs && length(var.ecs_security_group_ids) == 0 ? 1 : 0

  security_group_id = aws_security_group.worker[0].id
  description       = "HTTPS to AWS APIs (S3, SQS, Logs, ECR, Secrets Manager, SSM) and sink endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}

data "aws_subnet" "ecs" {
  count = local.ecs && length(var.ecs_security_group_ids) == 0 && length(var.ecs_subnet_ids) > 0 ? 1 : 0

  id = var.ecs_subnet_ids[0]
}

resource "aws_ecs_service" "worker" {
  count = local.ecs ? 1 : 0

  name                               = var.name
  cluster                            = var.ecs_cluster_arn != null ? var.ecs_cluster_arn : aws_ecs_cluster.this[0].arn
  task_definition                    = aws_ecs_task_definition.worker[0].arn
  desired_count                      = var.ecs_desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  tags                               = local.tags

  network_configuration {
    subnets          = var.ecs_subnet_ids
    security_groups  = length(var.ecs_security_group_ids) > 0 ? var.ecs_security_group_ids : [aws_security_group.worker[0].id]
    assign_public_ip = var.ecs_assign_public_ip
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # The role's policy must be in place before tasks start, and the log group must exist
  # (the awslogs driver does not create it).
  depends_on = [aws_iam_role_policy.worker, aws_iam_role_policy.execution, aws_cloudwatch_log_group.worker]
}
