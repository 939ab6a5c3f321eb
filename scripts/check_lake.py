#!/usr/bin/env python3
"""Reads a trailhound lake with pyarrow and DuckDB, as a user would, and checks it against
the documented schema (`trailhound lake schema`). Prints one line per check and a closing
'N passed, M failed' line; exits non-zero on any failure.

usage: check_lake.py LAKE_DIR SCHEMA_MARKDOWN EXPECTED_ROWS
"""
import sys

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

lake, schema_md, expected_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
passed, failed = 0, 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


documented = []
with open(schema_md) as f:
    for line in f:
        if line.startswith("| `"):
            column = line.split("`")[1]
            if "." not in column and "[" not in column:
                documented.append(column)

dataset = ds.dataset(f"{lake}/cloudtrail", format="parquet", partitioning="hive")
names = dataset.schema.names
check("pyarrow sees the documented columns in order", names == documented, f"{names} != {documented}")
table = dataset.to_table()
check("pyarrow reads every row", table.num_rows == expected_rows, f"{table.num_rows} != {expected_rows}")
check("event_ts is timestamp(ms, UTC)", dataset.schema.field("event_ts").type == pa.timestamp("ms", tz="UTC"))
identity = dataset.schema.field("useridentity").type
check("useridentity is a struct with sessioncontext", pa.types.is_struct(identity) and identity.get_field_index("sessioncontext") >= 0)
check("resources is a list of struct", pa.types.is_list(dataset.schema.field("resources").type))

first_file = dataset.files[0]
meta = pq.ParquetFile(first_file).metadata
leaf = next(i for i in range(meta.num_columns) if meta.schema.column(i).path == "event_ts")
column = meta.row_group(0).column(leaf)
check("Parquet files are zstd", column.compression == "ZSTD", column.compression)
check("Parquet statistics are written", column.statistics is not None and column.statistics.has_min_max)
event_ts = meta.schema.column(leaf)
logical = str(event_ts.logical_type)
check(
    "event_ts is INT64 TIMESTAMP(MILLIS, UTC)",
    event_ts.physical_type == "INT64" and "isAdjustedToUTC=true" in logical and "milliseconds" in logical.lower(),
    f"{event_ts.physical_type} {logical}",
)
sources = pq.read_table(first_file, columns=["source_uri", "source_record"]).to_pylist()


def delivery_order(row):
    """A row's place in its file: its source in delivery order (the YYYYMMDDTHHMMZ period in a
    CloudTrail object name, sources without one last, then by URI), then its record."""
    uri = row["source_uri"]
    period = next(
        (part for part in uri.rsplit("/", 1)[-1].split("_")
         if len(part) == 14 and part[8] == "T" and part.endswith("Z")
         and (part[:8] + part[9:13]).isdigit()),
        None,
    )
    return (period is None, period or "", uri, row["source_record"])


identities = [delivery_order(row) for row in sources]
check("rows are in delivery order within a file", identities == sorted(identities))

con = duckdb.connect()
rows = con.execute(
    f"SELECT count(*) FROM read_parquet('{lake}/cloudtrail/*/*/*.parquet', hive_partitioning = true)"
).fetchone()[0]
check("DuckDB reads every row", rows == expected_rows, f"{rows} != {expected_rows}")
partitions = con.execute(
    f"SELECT count(DISTINCT (dt, hour)) FROM read_parquet('{lake}/cloudtrail/*/*/*.parquet', hive_partitioning = true)"
).fetchone()[0]
check("DuckDB sees hive partitions dt/hour", partitions > 1, str(partitions))
arn = con.execute(
    f"SELECT count(*) FROM read_parquet('{lake}/cloudtrail/*/*/*.parquet') WHERE useridentity.arn IS NOT NULL"
).fetchone()[0]
check("DuckDB reads nested struct members", arn > 0)

print(f"lake-check: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
