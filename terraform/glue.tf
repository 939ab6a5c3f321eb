# Glue database and the lake's two tables, `cloudtrail` (events) and `alerts`. Their columns,
# partition keys and partition projection come from schema/lake_tables.json, which
# `trailhound lake glue-schema` generates from the lake writer's own schema (a Rust test keeps
# the file current), so the tables cannot drift from what the worker writes. Partitions are
# projected (no crawler, no MSCK REPAIR): the projection's storage.location.template has the
# placeholder ${lake_url}, replaced here with s3://<bucket>/<lake_prefix>.

locals {
  lake_tables = jsondecode(file("${path.module}/schema/lake_tables.json"))

  glue_database_name = coalesce(var.glue_database_name, replace(var.name, "-", "_"))

  # Table name => its schema entry; a table is named after its folder (`cloudtrail`, `alerts`),
  # as in `trailhound hunt`.
  glue_tables = { for key, table in local.lake_tables : table.folder => merge(table, { key = key }) }
}

resource "aws_glue_catalog_database" "lake" {
  name        = local.glue_database_name
  description = "trailhound lake ${local.lake_url}"
  tags        = local.tags
}

resource "aws_glue_catalog_table" "lake" {
  for_each = local.glue_tables

  database_name = aws_glue_catalog_database.lake.name
  name          = each.key
  description   = "trailhound ${each.value.key} (${local.lake_url}/${each.value.folder}/)"
  table_type    = "EXTERNAL_TABLE"

  parameters = merge(
    { for name, value in each.value.parameters : name => replace(value, "$${lake_url}", local.lake_url) },
    {
      EXTERNAL       = "TRUE"
      classification = "parquet"
    },
  )

  dynamic "partition_keys" {
    for_each = each.value.partition_keys
    content {
      name = partition_keys.value.name
      type = partition_keys.value.type
    }
  }

  storage_descriptor {
    location      = "${local.lake_url}/${each.value.folder}/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = each.value.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }

  lifecycle {
    precondition {
      condition     = strcontains(each.value.parameters["storage.location.template"], "$${lake_url}/${each.value.folder}/")
      error_message = "schema/lake_tables.json: the ${each.key} table's storage.location.template must start from $${lake_url}/${each.value.folder}/."
    }
  }
}
