#!/usr/bin/env bash
# Where a run's work goes, counted in instructions rather than seconds: `trailhound run` over
# the seeded corpus (full rule pack, zstd Parquet lake) under valgrind's callgrind, which
# counts every instruction the process executes. Unlike CPU time on a shared host, the count
# does not move with the machine's load, so two builds compare to a fraction of a percent.
# Kernel work (page faults, I/O) is not counted: the timed benchmarks measure it.
#
# Prints each stage's instructions (inclusive: everything it calls), its share of the run and
# per event, and keeps the callgrind file for `callgrind_annotate`.
# Usage: benches/profile.sh [EVENTS] [OUT]   (defaults: 50000, profile.callgrind in $PWD)
# callgrind runs the program about 50 times slower: 50,000 events take about a minute.
set -euo pipefail
events=${1:-50000}
out=$(realpath -m "${2:-profile.callgrind}")
cd "$(dirname "$0")/.."
command -v valgrind > /dev/null || { echo "profile.sh needs valgrind (apt install valgrind)" >&2; exit 1; }
profile=release
source benches/build.sh
bench_corpus "$events"
valgrind --tool=callgrind --callgrind-out-file="$out" \
  "$bin/trailhound" run --input "$work/corpus" --lake "$work/lake" \
  > /dev/null 2> "$work/run.log"
grep '^trailhound:' "$work/run.log"
# Every function (threshold 100%), without source annotation; its warnings are noise.
callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$out" > "$work/inclusive.txt" 2> /dev/null

python3 - "$work/inclusive.txt" "$events" <<'PY'
import re
import sys

path, events = sys.argv[1], int(sys.argv[2])
# "  1,234 (12.34%)  /path/file.rs:function [/binary]". A function with code inlined from other
# files is listed once per file (without the binary), each entry with what it calls: the
# largest entry of a name is taken, as a lower bound of the function's count.
line = re.compile(r"^\s*([\d,]+) \([^)]*\)\s+\S*?:(.+?)(?: \[[^\]]*\])?\s*$")
counts = {}
total = None
for text in open(path):
    if "PROGRAM TOTALS" in text:
        total = int(text.split()[0].replace(",", ""))
        continue
    found = line.match(text)
    if found:
        count = int(found.group(1).replace(",", ""))
        name = found.group(2)
        counts[name] = max(count, counts.get(name, 0))

def of(*names):
    """The summed counts of the functions named."""
    return sum(counts.get(name, 0) for name in names)

decode = of("pipeline::decode::decode_whole")
inflate = of("zlib_rs::inflate::inflate")
tape = of("lake::json_tape::parse_prefix")
lake = of("lake::writer::files::GroupWrite::run::{{closure}}")
encode = of("parquet::arrow::arrow_writer::ArrowWriter<W>::write",
            "parquet::arrow::arrow_writer::ArrowRowGroupWriter::close")
zstd = of("ZSTD_compress2")
gather = of("lake::writer::files::gather")
rows = [
    ("decode (gzip + JSON -> Arrow)", decode),
    ("  inflate (zlib-rs)", inflate),
    ("  JSON tape (json_tape)", tape),
    ("  tape -> Arrow columns", decode - inflate - tape),
    ("write the lake (group files)", lake),
    ("  Parquet encoding (parquet crate)", encode - zstd),
    ("  zstd (inside the encoding)", zstd),
    ("  copy rows into source order", gather),
    ("  rest (sort, names, journal, ledger)", lake - encode - gather),
    ("detections (DataFusion filters)", of("pipeline::detect::engine::DetectionEngine::evaluate")),
    ("correlations", of("pipeline::correlate::engine::CorrelationEngine::observe",
                        "pipeline::correlate::engine::CorrelationEngine::advance")),
    ("checkpoint (JSON + zstd)", of("pipeline::state::EncodedCheckpoint::of")),
    ("rule planning (start)", of(
        "pipeline::detect::engine::DetectionEngine::compile::{{closure}}::{{closure}}::{{closure}}")),
]
accounted = sum(count for label, count in rows if not label.startswith(" "))
rows.append(("everything else", total - accounted))
print(f"instructions over {events:,} events: {total:,} ({total / events:,.0f} per event)")
print(f"{'stage':40} {'instructions':>16} {'share':>7} {'per event':>10}")
for label, count in rows:
    print(f"{label:40} {count:16,} {100 * count / total:6.1f}% {count / events:10,.0f}")
PY
echo "callgrind file: $out (callgrind_annotate --inclusive=yes $out)"
