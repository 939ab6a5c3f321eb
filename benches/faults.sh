#!/usr/bin/env bash
# Where a run's page faults come from: `trailhound run` over the seeded corpus (full rule pack,
# zstd Parquet lake) under `perf record -e page-faults` with DWARF call stacks. The kernel's
# share of a run's CPU (about a fifth, nearly all of it page faults) is not counted by
# benches/profile.sh, which counts only the instructions the process executes.
#
# Prints the run's page faults and system time, then each stage's share of the faults: a
# fault is charged to the first stage named on its call stack, from the innermost frame out.
# Usage: benches/faults.sh [EVENTS]   (default: 200000)
set -euo pipefail
events=${1:-200000}
cd "$(dirname "$0")/.."
command -v perf > /dev/null || { echo "faults.sh needs perf (apt install linux-perf)" >&2; exit 1; }
profile=release
source benches/build.sh
bench_corpus "$events"
/usr/bin/time -f '%U %S' -o "$work/time" perf record -q -e page-faults \
  --call-graph dwarf,16384 -o "$work/perf.data" -- \
  "$bin/trailhound" run --input "$work/corpus" --lake "$work/lake" > /dev/null 2> "$work/run.log"
grep '^trailhound:' "$work/run.log"
perf script -i "$work/perf.data" -F period,ip,sym 2> /dev/null > "$work/stacks.txt"

python3 - "$work/stacks.txt" "$work/time" <<'PY'
import re
import sys
from collections import Counter

stacks_path, time_path = sys.argv[1:]
# (stage, pattern of a frame's symbol), tried in order on each frame from the innermost out.
stages = [
    ("zstd: contexts (one per column chunk)",
     r"ZSTD_create[CD]Ctx|ZSTD_resetCCtx|ZSTD_cwksp|ZSTD_free[CD]Ctx"),
    ("zstd: compression", r"ZSTD_|zstd_safe::"),
    ("lake: copy rows into source order", r"lake::writer::files::gather"),
    ("lake: Parquet encoding", r"^parquet::|<parquet::"),
    ("lake: buffer and split by partition", r"lake::writer::"),
    ("decode: Arrow column builders", r"pipeline::decode::(columns|BatchBuilder|Decoder::record)"),
    ("decode: gunzip, JSON scan and tape", r"zlib_rs|flate2|pipeline::decode|json_tape"),
    # The checkpoint serialises the correlation state: before correlations.
    ("checkpoint", r"pipeline::state|serde_core::ser::Serialize"),
    ("correlations", r"pipeline::correlate"),
    ("detections", r"pipeline::detect|datafusion"),
]
compiled = [(name, re.compile(pattern)) for name, pattern in stages]
faults = Counter()
period, frames = None, []


def charge():
    if period is None:
        return
    for frame in frames:
        for name, pattern in compiled:
            if pattern.search(frame):
                faults[name] += period
                return
    faults["elsewhere (start, threads, runtime)"] += period


# `perf script -F period,ip,sym`: a sample's period on a line of its own, then its frames, one
# per line ("address symbol+offset"), innermost first.
for line in open(stacks_path):
    text = line.strip()
    if not text:
        continue
    if text.isdigit():
        charge()
        period, frames = int(text), []
    else:
        frames.append(text.partition(" ")[2])
charge()

total = sum(faults.values())
user, system = (float(value) for value in open(time_path).read().split())
print(f"page faults: {total:,} ({total * 4096 / 2**20:,.0f} MiB of 4 KiB pages); "
      f"CPU {user + system:.2f} s, of which system {system:.2f} s (under perf)")
print(f"{'stage':44} {'faults':>9} {'share':>7}")
for name, _ in stages + [("elsewhere (start, threads, runtime)", None)]:
    print(f"{name:44} {faults[name]:9,} {100 * faults[name] / total:6.1f}%")
PY
