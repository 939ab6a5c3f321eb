# Values for the data sources the module reads, shared by every test file through
# `mock_provider "aws" { source = "./tests/mocks" }`. Resources get generated values.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "111122223333"
    arn        = "arn:aws:iam::111122223333:user/terraform"
    user_id    = "AIDAEXAMPLE"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
  }
}

mock_data "aws_region" {
  defaults = {
    name        = "eu-west-1"
    endpoint    = "ec2.eu-west-1.amazonaws.com"
    description = "Europe (Ireland)"
  }
}

mock_data "aws_subnet" {
  defaults = {
    vpc_id = "vpc-0123456789abcdef0"
  }
}

mock_data "aws_organizations_organization" {
  defaults = {
    id = "o-exampleorg1"
  }
}

# Resources whose ARNs or URLs other resources pass to attributes the provider validates
# get well-formed values; each is distinct so assertions can tell them apart.

override_resource {
  target = aws_sqs_queue.main
  values = {
    id  = "https://sqs.eu-west-1.amazonaws.com/111122223333/trailhound-notifications"
    url = "https://sqs.eu-west-1.amazonaws.com/111122223333/trailhound-notifications"
    arn = "arn:aws:sqs:eu-west-1:111122223333:trailhound-notifications"
  }
}

override_resource {
  target = aws_sqs_queue.dlq
  values = {
    id  = "https://sqs.eu-west-1.amazonaws.com/111122223333/trailhound-notifications-dlq"
    url = "https://sqs.eu-west-1.amazonaws.com/111122223333/trailhound-notifications-dlq"
    arn = "arn:aws:sqs:eu-west-1:111122223333:trailhound-notifications-dlq"
  }
}

override_resource {
  target = aws_iam_role.worker
  values = { arn = "arn:aws:iam::111122223333:role/trailhound-worker" }
}

override_resource {
  target = aws_iam_role.execution
  values = { arn = "arn:aws:iam::111122223333:role/trailhound-execution" }
}

override_resource {
  target = aws_lambda_function.worker
  values = { arn = "arn:aws:lambda:eu-west-1:111122223333:function:trailhound" }
}

override_resource {
  target = aws_sns_topic.objects
  values = { arn = "arn:aws:sns:eu-west-1:111122223333:trailhound-cloudtrail-objects" }
}

override_resource {
  target = aws_cloudwatch_event_rule.objects
  values = { arn = "arn:aws:events:eu-west-1:111122223333:rule/trailhound-cloudtrail-objects" }
}

override_resource {
  target = aws_ecs_cluster.this
  values = { arn = "arn:aws:ecs:eu-west-1:111122223333:cluster/trailhound" }
}

override_resource {
  target = aws_ecs_task_definition.worker
  values = { arn = "arn:aws:ecs:eu-west-1:111122223333:task-definition/trailhound:1" }
}

override_resource {
  target = aws_security_group.worker
  values = { id = "sg-0123456789abcdef0" }
}

override_resource {
  target = aws_cloudtrail.this
  values = { arn = "arn:aws:cloudtrail:eu-west-1:111122223333:trail/trailhound-trail" }
}
