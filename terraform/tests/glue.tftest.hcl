# Drift test: the Glue tables are exactly the lake schema in schema/lake_tables.json (written
# by `trailhound lake glue-schema`): same tables, columns (names, types, order), partition
# keys and partition projection, with the real lake location in the projection template.
# Also the Athena workgroup that queries them.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  trail_bucket_name = "org-cloudtrail-logs"
  lambda_package    = { s3_bucket = "artifacts-bucket", s3_key = "trailhound/bootstrap.zip" }
  lake_prefix       = "security/trailhound"
}

run "glue_tables_match_the_lake_schema" {
  assert {
    condition     = jsonencode(sort(keys(aws_glue_catalog_table.lake))) == jsonencode(["alerts", "cloudtrail"])
    error_message = "there must be exactly the tables `cloudtrail` and `alerts`"
  }

  assert {
    condition = jsonencode([for c in aws_glue_catalog_table.lake["cloudtrail"].storage_descriptor[0].columns : { name = c.name, type = c.type }]) == jsonencode(
      jsondecode(file("schema/lake_tables.json")).events.columns
    )
    error_message = "the cloudtrail table's columns differ from schema/lake_tables.json (events)"
  }

  assert {
    condition = jsonencode([for c in aws_glue_catalog_table.lake["alerts"].storage_descriptor[0].columns : { name = c.name, type = c.type }]) == jsonencode(
      jsondecode(file("schema/lake_tables.json")).alerts.columns
    )
    error_message = "the alerts table's columns differ from schema/lake_tables.json (alerts)"
  }

  assert {
    condition = (jsonencode([for k in aws_glue_catalog_table.lake["cloudtrail"].partition_keys : { name = k.name, type = k.type }]) == jsonencode(jsondecode(file("schema/lake_tables.json")).events.partition_keys)
    && jsonencode([for k in aws_glue_catalog_table.lake["alerts"].partition_keys : { name = k.name, type = k.type }]) == jsonencode(jsondecode(file("schema/lake_tables.json")).alerts.partition_keys))
    error_message = "partition keys differ from schema/lake_tables.json"
  }

  assert {
    condition = alltrue(flatten([for table, entry in jsondecode(file("schema/lake_tables.json")) : [
      for name, value in entry.parameters : aws_glue_catalog_table.lake[entry.folder].parameters[name] == replace(value, "$${lake_url}", "s3://trailhound-lake-111122223333-eu-west-1/security/trailhound")
    ]]))
    error_message = "every table parameter of the schema (partition projection) must be set, with $${lake_url} replaced by the lake location"
  }

  assert {
    condition = (aws_glue_catalog_table.lake["cloudtrail"].parameters["storage.location.template"] == "s3://trailhound-lake-111122223333-eu-west-1/security/trailhound/cloudtrail/dt=$${dt}/hour=$${hour}/"
    && aws_glue_catalog_table.lake["alerts"].parameters["storage.location.template"] == "s3://trailhound-lake-111122223333-eu-west-1/security/trailhound/alerts/dt=$${dt}/")
    error_message = "the projection templates must point at the lake's table folders"
  }

  assert {
    condition     = alltrue([for t in aws_glue_catalog_table.lake : alltrue([for v in values(t.parameters) : !strcontains(v, "lake_url")])])
    error_message = "no parameter may keep the $${lake_url} placeholder"
  }

  assert {
    condition = (aws_glue_catalog_table.lake["cloudtrail"].storage_descriptor[0].location == "s3://trailhound-lake-111122223333-eu-west-1/security/trailhound/cloudtrail/"
    && aws_glue_catalog_table.lake["alerts"].storage_descriptor[0].location == "s3://trailhound-lake-111122223333-eu-west-1/security/trailhound/alerts/")
    error_message = "table locations must be the lake's table folders"
  }

  assert {
    condition = alltrue([for t in aws_glue_catalog_table.lake : (
      t.table_type == "EXTERNAL_TABLE"
      && t.database_name == "trailhound"
      && t.parameters["projection.enabled"] == "true"
      && t.storage_descriptor[0].ser_de_info[0].serialization_library == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      && t.storage_descriptor[0].input_format == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
      && t.storage_descriptor[0].output_format == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    )])
    error_message = "tables must be external Parquet tables with partition projection in the module's database"
  }

  assert {
    condition     = output.glue_table_names == { events = "cloudtrail", alerts = "alerts" } && output.glue_database_name == "trailhound"
    error_message = "outputs must name the database and tables"
  }

  assert {
    condition = (aws_athena_workgroup.lake.name == "trailhound"
      && aws_athena_workgroup.lake.configuration[0].enforce_workgroup_configuration == true
      && aws_athena_workgroup.lake.configuration[0].result_configuration[0].output_location == "s3://trailhound-lake-111122223333-eu-west-1/athena-results/security/trailhound/"
    && aws_athena_workgroup.lake.configuration[0].result_configuration[0].encryption_configuration[0].encryption_option == "SSE_S3")
    error_message = "the workgroup must enforce its settings and write SSE-S3 results outside the lake prefix"
  }
}

run "athena_results_use_the_lake_kms_key" {
  variables {
    lake_kms_key_arn   = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000003"
    glue_database_name = "security_lake"
  }

  assert {
    condition = (aws_athena_workgroup.lake.configuration[0].result_configuration[0].encryption_configuration[0].encryption_option == "SSE_KMS"
    && aws_athena_workgroup.lake.configuration[0].result_configuration[0].encryption_configuration[0].kms_key_arn == "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000003")
    error_message = "with a lake key, Athena results must be SSE-KMS with it"
  }

  assert {
    condition     = alltrue([for t in aws_glue_catalog_table.lake : t.database_name == "security_lake"])
    error_message = "tables must live in glue_database_name"
  }
}
