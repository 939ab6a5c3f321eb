# Inputs of the trailhound deployment module. Grouped as: naming, CloudTrail source,
# notifications, queue, lake, rules/sinks/secrets, compute (ECS and Lambda), Glue/Athena,
# monitoring. Cross-variable requirements (e.g. "ecs needs subnets") are checked by
# preconditions on the resources that need them, since variable validations may only refer
# to their own variable on Terraform < 1.9.

# ---------------------------------------------------------------------------------------------
# Naming
# ---------------------------------------------------------------------------------------------

variable "name" {
  description = "Name of this deployment, used for (and as the prefix of) every resource name: queue, roles, log group, ECS service or Lambda function, bucket names derived from it. Lowercase letters, digits and hyphens, at most 28 characters (bucket names derived from it must fit in 63)."
  type        = string
  default     = "trailhound"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,26}[a-z0-9]$", var.name))
    error_message = "name must be 2-28 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource the module creates (in addition to the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the buckets the module created (with their objects) and the Athena workgroup (with its saved queries). Keep false in production."
  type        = bool
  default     = false
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary attached to every IAM role the module creates (null: none)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN."
  }
}

# ---------------------------------------------------------------------------------------------
# CloudTrail source: an existing bucket, or a trail and bucket created here
# ---------------------------------------------------------------------------------------------

variable "create_trail" {
  description = "Create a multi-region CloudTrail trail (optionally an organization trail) and its S3 bucket. When false, `trail_bucket_name` names the existing bucket an existing trail writes to."
  type        = bool
  default     = false
}

variable "trail_bucket_name" {
  description = "The CloudTrail bucket. Required when `create_trail` is false (the existing bucket); when `create_trail` is true, the name of the bucket to create (null: `<name>-trail-<account id>-<region>`)."
  type        = string
  default     = null

  validation {
    condition     = var.trail_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.trail_bucket_name))
    error_message = "trail_bucket_name must be a valid S3 bucket name."
  }
}

variable "trail_bucket_account_id" {
  description = "Account that owns the CloudTrail bucket, used in the aws:SourceAccount condition of the queue (or topic) policy that lets S3 deliver notifications (null: the account Terraform runs in). Set it when the bucket lives in another account, e.g. a log archive account; then also set `manage_bucket_notification = false` and configure the notification from that account."
  type        = string
  default     = null

  validation {
    condition     = var.trail_bucket_account_id == null || can(regex("^[0-9]{12}$", var.trail_bucket_account_id))
    error_message = "trail_bucket_account_id must be a 12-digit account id."
  }
}

variable "trail_s3_key_prefix" {
  description = "S3 key prefix the trail writes under (its `s3_key_prefix`), without leading or trailing slash; empty when the trail writes directly under `AWSLogs/`. Notifications filter on `<prefix>/AWSLogs/` and the worker may read only that."
  type        = string
  default     = ""

  validation {
    condition     = var.trail_s3_key_prefix == "" || can(regex("^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$", var.trail_s3_key_prefix))
    error_message = "trail_s3_key_prefix must be empty or path segments of letters, digits, '_', '.', '=' and '-' separated by single slashes, without leading or trailing slash."
  }
}

variable "trail_kms_key_arn" {
  description = "KMS key the CloudTrail log files are encrypted with (SSE-KMS), null for SSE-S3. The worker gets kms:Decrypt on it (through S3 only). With `create_trail`, the trail encrypts with this key; its key policy must then allow CloudTrail (see the README)."
  type        = string
  default     = null

  validation {
    condition     = var.trail_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.trail_kms_key_arn))
    error_message = "trail_kms_key_arn must be a KMS key ARN (arn:...:kms:region:account:key/id), not an alias."
  }
}

variable "trail_is_organization_trail" {
  description = "With `create_trail`: make it an organization trail (apply in the organization's management account or a delegated administrator account)."
  type        = bool
  default     = false
}

variable "trail_is_multi_region" {
  description = "With `create_trail`: log every region (recommended)."
  type        = bool
  default     = true
}

variable "trail_log_expiration_days" {
  description = "With `create_trail`: delete raw CloudTrail log files this many days after delivery (null: keep them). The lake keeps its own Parquet copy of every event."
  type        = number
  default     = null

  validation {
    condition     = var.trail_log_expiration_days == null || try(var.trail_log_expiration_days >= 1, false)
    error_message = "trail_log_expiration_days must be at least 1, or null."
  }
}

# ---------------------------------------------------------------------------------------------
# Notifications: how the queue learns about new log files
# ---------------------------------------------------------------------------------------------

variable "notification_mode" {
  description = "How new CloudTrail objects reach the queue: `s3_sqs` (bucket notification straight to the queue), `s3_sns_sqs` (bucket notification to an SNS topic the queue subscribes to, so other consumers can subscribe too) or `eventbridge` (the bucket sends events to EventBridge; a rule forwards `Object Created` under AWSLogs/ ending in .json.gz)."
  type        = string
  default     = "s3_sqs"

  validation {
    condition     = contains(["s3_sqs", "s3_sns_sqs", "eventbridge"], var.notification_mode)
    error_message = "notification_mode must be one of: s3_sqs, s3_sns_sqs, eventbridge."
  }
}

variable "manage_bucket_notification" {
  description = "Create the `aws_s3_bucket_notification` of the CloudTrail bucket. That resource owns the bucket's WHOLE notification configuration: applying it replaces any notification already configured on an existing bucket, and two of them on one bucket overwrite each other. Set false when the bucket's notifications are managed elsewhere (another stack, another account, an existing SNS topic already fed by the bucket) and add this module's queue, topic or EventBridge setting there."
  type        = bool
  default     = true
}

variable "sns_topic_arn" {
  description = "With `notification_mode = \"s3_sns_sqs\"`: an existing SNS topic that receives the bucket's object-created notifications; the queue subscribes to it. Null: the module creates the topic."
  type        = string
  default     = null

  validation {
    condition     = var.sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+(\\.fifo)?$", var.sns_topic_arn))
    error_message = "sns_topic_arn must be an SNS topic ARN."
  }
}

variable "sns_kms_key_arn" {
  description = "With `notification_mode = \"s3_sns_sqs\"` and a topic created here: KMS key for the topic's server-side encryption (null: unencrypted; messages carry object keys, not log content). The key policy must allow s3.amazonaws.com kms:GenerateDataKey* and kms:Decrypt; the AWS-managed alias/aws/sns key cannot be used with S3 notifications."
  type        = string
  default     = null

  validation {
    condition     = var.sns_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.sns_kms_key_arn))
    error_message = "sns_kms_key_arn must be a KMS key ARN."
  }
}

# ---------------------------------------------------------------------------------------------
# Queue
# ---------------------------------------------------------------------------------------------

variable "max_receive_count" {
  description = "Receives of a message before SQS moves it to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "queue_message_retention_seconds" {
  description = "How long the main queue keeps an unprocessed notification (the dead-letter queue keeps messages 14 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.queue_message_retention_seconds >= 60 && var.queue_message_retention_seconds <= 1209600
    error_message = "queue_message_retention_seconds must be between 60 and 1209600."
  }
}

variable "visibility_timeout_seconds" {
  description = "ECS mode: the queue's visibility timeout and the worker's TRAILHOUND_VISIBILITY_TIMEOUT (the worker renews it while a batch is in progress). Ignored in Lambda mode, where the queue's timeout is 6 x lambda_timeout + lambda_maximum_batching_window_seconds as AWS recommends."
  type        = number
  default     = 300

  validation {
    condition     = var.visibility_timeout_seconds >= 30 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 30 and 43200."
  }
}

variable "queue_kms_key_arn" {
  description = "Customer managed KMS key for the queues (null: SSE-SQS, SQS-owned keys). Its key policy must let the notification sender use it: s3.amazonaws.com (s3_sqs), sns.amazonaws.com (s3_sns_sqs) or events.amazonaws.com (eventbridge) need kms:GenerateDataKey* and kms:Decrypt. The worker role gets kms:Decrypt through SQS."
  type        = string
  default     = null

  validation {
    condition     = var.queue_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.queue_kms_key_arn))
    error_message = "queue_kms_key_arn must be a KMS key ARN."
  }
}

# ---------------------------------------------------------------------------------------------
# Lake
# ---------------------------------------------------------------------------------------------

variable "create_lake_bucket" {
  description = "Create the lake bucket (encrypted, public access blocked, TLS only, lifecycle rules below). False: use the existing `lake_bucket_name`; the module then manages neither its policy nor its lifecycle."
  type        = bool
  default     = true
}

variable "lake_bucket_name" {
  description = "The lake bucket. Required when `create_lake_bucket` is false; otherwise the name of the bucket to create (null: `<name>-lake-<account id>-<region>`)."
  type        = string
  default     = null

  validation {
    condition     = var.lake_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.lake_bucket_name))
    error_message = "lake_bucket_name must be a valid S3 bucket name."
  }
}

variable "lake_prefix" {
  description = "Prefix of the lake inside the bucket (no leading or trailing slash). The worker may read, write and list only below it."
  type        = string
  default     = "trailhound"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$", var.lake_prefix))
    error_message = "lake_prefix must be non-empty path segments of letters, digits, '_', '.', '=' and '-' separated by single slashes, without leading or trailing slash."
  }
}

variable "lake_kms_key_arn" {
  description = "KMS key for the lake (SSE-KMS with an S3 bucket key) and the Athena query results; null for SSE-S3. With an existing lake bucket, the key its default encryption uses. The worker role gets kms:Decrypt and kms:GenerateDataKey through S3."
  type        = string
  default     = null

  validation {
    condition     = var.lake_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.lake_kms_key_arn))
    error_message = "lake_kms_key_arn must be a KMS key ARN."
  }
}

variable "lake_versioning" {
  description = "Enable versioning on a lake bucket created here. Noncurrent versions then expire after `lake_noncurrent_version_expiration_days`."
  type        = bool
  default     = false
}

variable "lake_noncurrent_version_expiration_days" {
  description = "With `lake_versioning`: days before noncurrent object versions are deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.lake_noncurrent_version_expiration_days >= 1
    error_message = "lake_noncurrent_version_expiration_days must be at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which incomplete multipart uploads in a lake bucket created here are aborted."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be at least 1."
  }
}

variable "lake_delivered_expiration_days" {
  description = "Days the per-sink delivery markers (`_delivered/`) are kept. An alert re-raised after they expired (a replay of older sources) is delivered again."
  type        = number
  default     = 30

  validation {
    condition     = var.lake_delivered_expiration_days >= 1
    error_message = "lake_delivered_expiration_days must be at least 1."
  }
}

variable "lake_diagnostics_expiration_days" {
  description = "Days the diagnostic folders are kept: `_quarantine/` (records that failed to decode), `_dead_letter/` (alerts a receiver refused for good) and `_suppressed/` (matches silenced by exceptions)."
  type        = number
  default     = 90

  validation {
    condition     = var.lake_diagnostics_expiration_days >= 1
    error_message = "lake_diagnostics_expiration_days must be at least 1."
  }
}

variable "lake_events_transition_days" {
  description = "Days after which event Parquet files (`cloudtrail/`) move to `lake_transition_storage_class` (null: never)."
  type        = number
  default     = null

  validation {
    condition     = var.lake_events_transition_days == null || try(var.lake_events_transition_days >= 1, false)
    error_message = "lake_events_transition_days must be at least 1, or null."
  }
}

variable "lake_transition_storage_class" {
  description = "Storage class for `lake_events_transition_days`. Only classes Athena and the worker can read without a restore are allowed."
  type        = string
  default     = "STANDARD_IA"

  validation {
    condition     = contains(["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR"], var.lake_transition_storage_class)
    error_message = "lake_transition_storage_class must be one of STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR."
  }
}

variable "lake_events_expiration_days" {
  description = "Days after which event Parquet files (`cloudtrail/`) are deleted (null: never)."
  type        = number
  default     = null

  validation {
    condition     = var.lake_events_expiration_days == null || try(var.lake_events_expiration_days >= 1, false)
    error_message = "lake_events_expiration_days must be at least 1, or null."
  }
}

variable "lake_alerts_expiration_days" {
  description = "Days after which alert Parquet files (`alerts/`) are deleted (null: never)."
  type        = number
  default     = null

  validation {
    condition     = var.lake_alerts_expiration_days == null || try(var.lake_alerts_expiration_days >= 1, false)
    error_message = "lake_alerts_expiration_days must be at least 1, or null."
  }
}

# ---------------------------------------------------------------------------------------------
# Rules, sinks, secrets, worker settings
# ---------------------------------------------------------------------------------------------

variable "rules_s3_uri" {
  description = "Rule pack location, `s3://bucket/prefix` (TRAILHOUND_RULES). Null: the rule pack built into the binary. The worker gets read and list access to exactly that prefix."
  type        = string
  default     = null

  validation {
    condition     = var.rules_s3_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*/?$", var.rules_s3_uri))
    error_message = "rules_s3_uri must look like s3://bucket/prefix: a prefix is required (the worker's grant is limited to it) and wildcards are not allowed."
  }
}

variable "rules_kms_key_arn" {
  description = "KMS key the rule objects under `rules_s3_uri` are encrypted with, if SSE-KMS (the worker gets kms:Decrypt through S3)."
  type        = string
  default     = null

  validation {
    condition     = var.rules_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.rules_kms_key_arn))
    error_message = "rules_kms_key_arn must be a KMS key ARN."
  }
}

variable "sinks_toml" {
  description = "Text of the sinks file (webhook, Slack, PagerDuty destinations and routing). Uploaded to `<lake>/_config/sinks.toml` and passed as TRAILHOUND_SINKS. It must name secrets only by environment variable (`url_env`, `secret_env`, `routing_key_env`), never contain them; the values come from `sink_secrets`. Null: alerts go only to the lake's alerts table and the log."
  type        = string
  default     = null

  validation {
    condition     = var.sinks_toml == null || try(length(trimspace(var.sinks_toml)) > 0, false)
    error_message = "sinks_toml must be null or non-empty TOML."
  }
}

variable "sink_secrets" {
  description = "Secrets the sinks file refers to: environment variable name => ARN of a Secrets Manager secret (whole secret string) or an SSM SecureString/String parameter. ECS injects them as container secrets; Lambda gets them as TRAILHOUND_SECRETS (JSON) and the binary resolves them at cold start. The roles may read exactly these ARNs."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.sink_secrets) : can(regex("^[A-Z_][A-Z0-9_]*$", k)) && !startswith(k, "AWS_") && !startswith(k, "TRAILHOUND_")])
    error_message = "sink_secrets keys must be environment variable names (A-Z, 0-9, _), not starting with AWS_ or TRAILHOUND_."
  }

  validation {
    condition = alltrue([for v in values(var.sink_secrets) : can(regex(
      "^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+|ssm:[a-z0-9-]+:[0-9]{12}:parameter/[A-Za-z0-9/_.-]+)$", v
    ))])
    error_message = "sink_secrets values must be full ARNs of Secrets Manager secrets (arn:...:secretsmanager:region:account:secret:name-AbCdEf, without a JSON key suffix) or SSM parameters (arn:...:ssm:region:account:parameter/name)."
  }
}

variable "secrets_kms_key_arn" {
  description = "Customer managed KMS key the `sink_secrets` are encrypted with (null: the AWS-managed keys, which need no grant). The role reading the secrets gets kms:Decrypt on it through Secrets Manager and SSM only."
  type        = string
  default     = null

  validation {
    condition     = var.secrets_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.secrets_kms_key_arn))
    error_message = "secrets_kms_key_arn must be a KMS key ARN."
  }
}

variable "sink_sns_topic_arns" {
  description = "SNS topics that `type = \"sns\"` sinks in sinks_toml publish alerts to; the worker may publish to exactly these."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.sink_sns_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+(\\.fifo)?$", arn))])
    error_message = "sink_sns_topic_arns must be SNS topic ARNs."
  }
}

variable "sink_sns_kms_key_arn" {
  description = "Customer managed KMS key the `sink_sns_topic_arns` are encrypted with, if any (the worker gets kms:GenerateDataKey and kms:Decrypt through SNS only)."
  type        = string
  default     = null

  validation {
    condition     = var.sink_sns_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.sink_sns_kms_key_arn))
    error_message = "sink_sns_kms_key_arn must be a KMS key ARN."
  }
}

variable "log_level" {
  description = "Worker log filter (TRAILHOUND_LOG): a level (error, warn, info, debug, trace) or a tracing filter such as `info,pipeline=debug`."
  type        = string
  default     = "info"

  validation {
    condition     = can(regex("^[A-Za-z0-9_:=,.-]+$", var.log_level))
    error_message = "log_level must be a level or a tracing filter (letters, digits, _ : = , . -)."
  }
}

variable "worker_concurrency" {
  description = "Sources downloaded and decoded at once per worker (TRAILHOUND_CONCURRENCY; null: the binary's default, 4)."
  type        = number
  default     = null

  validation {
    condition     = var.worker_concurrency == null || try(var.worker_concurrency >= 1 && var.worker_concurrency <= 256, false)
    error_message = "worker_concurrency must be between 1 and 256, or null."
  }
}

variable "extra_environment" {
  description = "Additional TRAILHOUND_* settings for the worker, e.g. { TRAILHOUND_LATENESS = \"30m\" }. Not for secrets (use sink_secrets), and not for the settings this module manages."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for k in keys(var.extra_environment) : can(regex("^TRAILHOUND_[A-Z0-9_]+$", k)) && !contains([
      "TRAILHOUND_SQS_QUEUE_URL", "TRAILHOUND_LAKE", "TRAILHOUND_RULES", "TRAILHOUND_SINKS", "TRAILHOUND_SECRETS",
      "TRAILHOUND_VISIBILITY_TIMEOUT", "TRAILHOUND_OPS_LISTEN", "TRAILHOUND_CONCURRENCY", "TRAILHOUND_LOG",
      "TRAILHOUND_LOG_FORMAT", "TRAILHOUND_INPUTS",
    ], k)])
    error_message = "extra_environment keys must be TRAILHOUND_* names other than the ones the module sets (SQS_QUEUE_URL, LAKE, RULES, SINKS, SECRETS, VISIBILITY_TIMEOUT, OPS_LISTEN, CONCURRENCY, LOG, LOG_FORMAT, INPUTS)."
  }
}

# ---------------------------------------------------------------------------------------------
# Compute
# ---------------------------------------------------------------------------------------------

variable "compute_mode" {
  description = "Where the worker runs: `ecs` (a long-running Fargate service polling the queue) or `lambda` (a function fed by an SQS event source mapping)."
  type        = string
  default     = "lambda"

  validation {
    condition     = contains(["ecs", "lambda"], var.compute_mode)
    error_message = "compute_mode must be \"ecs\" or \"lambda\"."
  }
}

# ECS ------------------------------------------------------------------------------------------

variable "container_image" {
  description = "ECS mode (required): the trailhound image (`docker build -t trailhound .`), e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/trailhound:1.4.0`. For an ECR image the execution role may pull only from that repository."
  type        = string
  default     = null
}

variable "ecs_cluster_arn" {
  description = "ECS mode: an existing cluster to run the service in (null: create one named after `name`)."
  type        = string
  default     = null

  validation {
    condition     = var.ecs_cluster_arn == null || can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/.+$", var.ecs_cluster_arn))
    error_message = "ecs_cluster_arn must be an ECS cluster ARN."
  }
}

variable "ecs_container_insights" {
  description = "ECS mode, cluster created here: enable Container Insights."
  type        = bool
  default     = true
}

variable "ecs_cpu" {
  description = "ECS mode: task CPU units (Fargate sizes: 256, 512, 1024, 2048, 4096, 8192, 16384)."
  type        = number
  default     = 1024

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.ecs_cpu)
    error_message = "ecs_cpu must be a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "ecs_memory" {
  description = "ECS mode: task memory in MiB (must be a valid Fargate combination with ecs_cpu)."
  type        = number
  default     = 2048

  validation {
    condition     = var.ecs_memory >= 512 && var.ecs_memory <= 122880
    error_message = "ecs_memory must be between 512 and 122880 MiB."
  }
}

variable "ecs_cpu_architecture" {
  description = "ECS mode: CPU architecture of the image, ARM64 (Graviton, cheaper) or X86_64."
  type        = string
  default     = "ARM64"

  validation {
    condition     = contains(["ARM64", "X86_64"], var.ecs_cpu_architecture)
    error_message = "ecs_cpu_architecture must be ARM64 or X86_64."
  }
}

variable "ecs_desired_count" {
  description = "ECS mode: number of worker tasks. Workers share the queue and coordinate through the lake's conditional writes, so more than one is safe."
  type        = number
  default     = 1

  validation {
    condition     = var.ecs_desired_count >= 0 && var.ecs_desired_count <= 100
    error_message = "ecs_desired_count must be between 0 and 100."
  }
}

variable "ecs_subnet_ids" {
  description = "ECS mode (required): subnets of the tasks. They need a route to S3, SQS, CloudWatch Logs, ECR (and Secrets Manager/SSM with sink_secrets), and to the sink endpoints: a NAT gateway, VPC endpoints, or public subnets with `ecs_assign_public_ip`."
  type        = list(string)
  default     = []
}

variable "ecs_security_group_ids" {
  description = "ECS mode: security groups of the tasks. Empty: the module creates one with no ingress and egress only to TCP 443 (AWS APIs and HTTPS sinks)."
  type        = list(string)
  default     = []
}

variable "ecs_assign_public_ip" {
  description = "ECS mode: give tasks a public IP (only for public subnets without a NAT gateway)."
  type        = bool
  default     = false
}

# Lambda ---------------------------------------------------------------------------------------

variable "lambda_package" {
  description = "Lambda mode: the function zip (`scripts/build-lambda.sh` builds target/lambda/bootstrap.zip) in S3. Give exactly one of this and `lambda_zip_path`."
  type = object({
    s3_bucket         = string
    s3_key            = string
    s3_object_version = optional(string)
  })
  default = null
}

variable "lambda_zip_path" {
  description = "Lambda mode: local path of the function zip (e.g. target/lambda/bootstrap.zip). Give exactly one of this and `lambda_package`."
  type        = string
  default     = null
}

variable "lambda_memory_size" {
  description = "Lambda mode: function memory in MB (CPU scales with it)."
  type        = number
  default     = 1024

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240
    error_message = "lambda_memory_size must be between 128 and 10240."
  }
}

variable "lambda_timeout" {
  description = "Lambda mode: function timeout in seconds. The queue's visibility timeout is set to 6 x this + lambda_maximum_batching_window_seconds."
  type        = number
  default     = 300

  validation {
    condition     = var.lambda_timeout >= 10 && var.lambda_timeout <= 900
    error_message = "lambda_timeout must be between 10 and 900 seconds."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Lambda mode: reserved concurrent executions of the function (null: unreserved; 0 stops processing)."
  type        = number
  default     = null

  validation {
    condition     = var.lambda_reserved_concurrency == null || try(var.lambda_reserved_concurrency >= 0, false)
    error_message = "lambda_reserved_concurrency must be 0 or more, or null."
  }
}

variable "lambda_batch_size" {
  description = "Lambda mode: notifications per invocation (1-10000; above 10 needs a batching window of at least 1 second)."
  type        = number
  default     = 10

  validation {
    condition     = var.lambda_batch_size >= 1 && var.lambda_batch_size <= 10000
    error_message = "lambda_batch_size must be between 1 and 10000."
  }
}

variable "lambda_maximum_batching_window_seconds" {
  description = "Lambda mode: how long the event source mapping gathers notifications before invoking (0-300)."
  type        = number
  default     = 0

  validation {
    condition     = var.lambda_maximum_batching_window_seconds >= 0 && var.lambda_maximum_batching_window_seconds <= 300
    error_message = "lambda_maximum_batching_window_seconds must be between 0 and 300."
  }
}

variable "lambda_maximum_concurrency" {
  description = "Lambda mode: maximum concurrent invocations the SQS event source mapping starts (2-1000; null: no limit besides reserved concurrency)."
  type        = number
  default     = null

  validation {
    condition     = var.lambda_maximum_concurrency == null || try(var.lambda_maximum_concurrency >= 2 && var.lambda_maximum_concurrency <= 1000, false)
    error_message = "lambda_maximum_concurrency must be between 2 and 1000, or null."
  }
}

# ---------------------------------------------------------------------------------------------
# Glue and Athena
# ---------------------------------------------------------------------------------------------

variable "glue_database_name" {
  description = "Glue database of the lake tables (null: `name` with hyphens as underscores). Its tables are `cloudtrail` and `alerts`, the names `trailhound hunt` uses, so hunting SQL runs unchanged in Athena."
  type        = string
  default     = null

  validation {
    condition     = var.glue_database_name == null || can(regex("^[a-z0-9_]{1,255}$", var.glue_database_name))
    error_message = "glue_database_name must be lowercase letters, digits and underscores."
  }
}

variable "athena_workgroup_name" {
  description = "Athena workgroup to create (null: `name`)."
  type        = string
  default     = null

  validation {
    condition     = var.athena_workgroup_name == null || can(regex("^[A-Za-z0-9._-]{1,128}$", var.athena_workgroup_name))
    error_message = "athena_workgroup_name must be 1-128 characters of letters, digits, '.', '_' and '-'."
  }
}

variable "athena_results_prefix" {
  description = "Prefix in the lake bucket for Athena query results (null: `athena-results/<lake_prefix>`). Outside the lake prefix on purpose: the worker cannot read query results."
  type        = string
  default     = null

  validation {
    condition     = var.athena_results_prefix == null || can(regex("^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$", var.athena_results_prefix))
    error_message = "athena_results_prefix must be path segments without leading or trailing slash."
  }
}

variable "athena_results_expiration_days" {
  description = "Days Athena query results are kept (lake bucket created here only)."
  type        = number
  default     = 30

  validation {
    condition     = var.athena_results_expiration_days >= 1
    error_message = "athena_results_expiration_days must be at least 1."
  }
}

variable "athena_bytes_scanned_cutoff_per_query" {
  description = "Cancel Athena queries of the workgroup that scan more than this many bytes (null: no limit; minimum 10 MB)."
  type        = number
  default     = null

  validation {
    condition     = var.athena_bytes_scanned_cutoff_per_query == null || try(var.athena_bytes_scanned_cutoff_per_query >= 10485760, false)
    error_message = "athena_bytes_scanned_cutoff_per_query must be at least 10485760, or null."
  }
}

# ---------------------------------------------------------------------------------------------
# Logs and alarms
# ---------------------------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of the worker's CloudWatch log group."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key for the log group (null: CloudWatch Logs' default encryption). Its key policy must allow the logs.<region>.amazonaws.com service principal."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic notified when an alarm fires and recovers (null: alarms without actions)."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN."
  }
}

variable "queue_lag_alarm_threshold_seconds" {
  description = "Alarm when the oldest notification on the queue is older than this (ApproximateAgeOfOldestMessage), for two consecutive 5-minute periods."
  type        = number
  default     = 1800

  validation {
    condition     = var.queue_lag_alarm_threshold_seconds >= 60
    error_message = "queue_lag_alarm_threshold_seconds must be at least 60."
  }
}
