#!/usr/bin/env bash
# Hunting speed against DuckDB on the same lake: generates a corpus (EVENTS events), writes the
# lake with `trailhound run`, compacts it, then runs the same hunting queries with
# `trailhound hunt` and with DuckDB (Python package, in-process) over the same Parquet files.
# Each query runs 3 times per engine; the best wall time counts (trailhound's includes process
# start). Answers are compared, so a fast wrong answer cannot win.
# Usage: benches/hunt-vs-duckdb.sh [EVENTS] [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-200000}
profile=${2:-release}
venv="${TRAILHOUND_VENV:-$HOME/.cache/trailhound-venv}"
source benches/build.sh
work=$(bench_workdir)
trap 'rm -rf "$work"' EXIT
"$bin/corpus" layout --out "$work/corpus" --events "$events" 2>/dev/null
"$bin/trailhound" run --input "$work/corpus" --lake "$work/lake" --alerts /dev/null 2>&1 | grep '^trailhound:'
"$bin/trailhound" lake compact --lake "$work/lake" --older-than 0s 2>&1 | grep '^trailhound:'
"$venv/bin/python" - "$bin/trailhound" "$work/lake" <<'PY'
import csv, io, math, subprocess, sys, time
import duckdb

trailhound, lake = sys.argv[1], sys.argv[2]
# (name, trailhound SQL, DuckDB SQL when it differs: DuckDB spells the JSON function otherwise)
queries = [
    ("count", "SELECT count(*) AS n FROM cloudtrail", None),
    ("top_events", "SELECT eventname, count(*) AS n FROM cloudtrail GROUP BY eventname ORDER BY n DESC, eventname LIMIT 10", None),
    ("access_denied_by_principal", "SELECT useridentity.arn AS arn, count(*) AS n FROM cloudtrail WHERE errorcode = 'AccessDenied' GROUP BY 1 ORDER BY n DESC, arn LIMIT 10", None),
    ("ips_per_principal", "SELECT useridentity.arn AS arn, count(DISTINCT sourceipaddress) AS ips FROM cloudtrail GROUP BY 1 ORDER BY ips DESC, arn LIMIT 10", None),
    ("one_hour", "SELECT eventsource, count(*) AS n FROM cloudtrail WHERE dt = (SELECT min(dt) FROM cloudtrail) AND hour = '12' GROUP BY 1 ORDER BY n DESC, eventsource", None),
    ("s3_buckets", "SELECT json_extract_scalar(requestparameters, '$.bucketName') AS bucket, count(*) AS n FROM cloudtrail WHERE eventsource = 's3.amazonaws.com' GROUP BY 1 ORDER BY n DESC, bucket LIMIT 10",
     "SELECT json_extract_string(requestparameters, '$.bucketName') AS bucket, count(*) AS n FROM cloudtrail WHERE eventsource = 's3.amazonaws.com' GROUP BY 1 ORDER BY n DESC, bucket LIMIT 10"),
    ("console_failures", "SELECT useridentity.arn AS arn, sourceipaddress, count(*) AS n FROM cloudtrail WHERE eventname = 'ConsoleLogin' AND errormessage IS NOT NULL GROUP BY 1, 2 ORDER BY n DESC, arn, sourceipaddress LIMIT 10", None),
]

def rows(text):
    return [tuple(row) for row in csv.reader(io.StringIO(text))][1:]

def run_trailhound(sql):
    start = time.perf_counter()
    out = subprocess.run([trailhound, "hunt", "--lake", lake, "--format", "csv", "--progress", "never", sql],
                         check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, rows(out)

def run_duckdb(sql):
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"CREATE VIEW cloudtrail AS SELECT * FROM read_parquet('{lake}/cloudtrail/**/*.parquet', hive_partitioning = true)")
    result = con.execute(sql).fetchall()
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed, [tuple("" if v is None else str(v) for v in row) for row in result]

ratios = []
print(f"{'query':<28} {'trailhound s':>13} {'duckdb s':>10} {'ratio':>7}  answers")
for name, sql, duck_sql in queries:
    ours = min((run_trailhound(sql) for _ in range(3)), key=lambda r: r[0])
    theirs = min((run_duckdb(duck_sql or sql) for _ in range(3)), key=lambda r: r[0])
    same = "same" if sorted(ours[1]) == sorted(theirs[1]) else f"DIFFER: {ours[1][:2]} vs {theirs[1][:2]}"
    ratio = ours[0] / theirs[0]
    ratios.append(ratio)
    print(f"{name:<28} {ours[0]:>13.3f} {theirs[0]:>10.3f} {ratio:>7.2f}  {same}")
print(f"geometric mean of trailhound/duckdb time: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}")
PY
