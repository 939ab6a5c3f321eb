#!/usr/bin/env bash
# A/B benchmark: two trailhound binaries (say, main's and a change's) run alternately over the
# same seeded corpus, so drift in the machine's speed hits both alike. Reports each run's CPU
# (user+sys), wall time and peak RSS, the medians of each binary, and whether both wrote the
# same alerts and the same rows to the lake, and whether they cut them into the same files (a
# change to the writer may cut them differently on purpose). One run's CPU varies by several percent, so a
# change is judged by the medians of several runs, never by one.
# Usage: benches/ab.sh BINARY_A BINARY_B [RUNS] [EVENTS] [CPUS]
#   (defaults: 5 runs each, 200000 events, CPUs 0,1 for taskset)
# Exits 1 when the two wrote different alerts or lake rows.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: benches/ab.sh BINARY_A BINARY_B [RUNS] [EVENTS] [CPUS]" >&2
  exit 2
fi
binaries=("$(realpath "$1")" "$(realpath "$2")")
runs=${3:-5}
events=${4:-200000}
cpus=${5:-0,1}
profile=release
source benches/build.sh
bench_corpus "$events" > /dev/null

# run_once SIDE: one run of binary SIDE (0 or 1); its figures go to $work/figures.SIDE.
run_once() {
  local side=$1
  rm -rf "$work/lake.$side"
  /usr/bin/time -f '%U %S %e %M' -o "$work/time" taskset -c "$cpus" "${binaries[$side]}" run \
    --input "$work/corpus" --lake "$work/lake.$side" > "$work/alerts.$side" 2> "$work/log.$side"
  cat "$work/time" >> "$work/figures.$side"
}
for _ in $(seq "$runs"); do
  run_once 0
  run_once 1
done

# What a side wrote, independent of run order: its sorted alerts, every lake row in source
# order (read by binary A for both), and the names of its lake files (named by their rows).
for side in 0 1; do
  sort "$work/alerts.$side" > "$work/alerts.$side.sorted"
  "${binaries[0]}" hunt --lake "$work/lake.$side" --format csv \
    'SELECT * FROM cloudtrail ORDER BY source_uri, source_record' 2> /dev/null \
    | sha256sum > "$work/rows.$side"
  (cd "$work/lake.$side" && find cloudtrail -name '*.parquet' | sort) > "$work/files.$side"
done
same_alerts=$(cmp -s "$work/alerts.0.sorted" "$work/alerts.1.sorted" && echo yes || echo no)
same_rows=$(cmp -s "$work/rows.0" "$work/rows.1" && echo yes || echo no)
same_files=$(cmp -s "$work/files.0" "$work/files.1" && echo yes || echo no)

python3 - "$work" "${binaries[@]}" "$same_alerts" "$same_rows" "$same_files" <<'PY'
import statistics
import sys
work, a, b, same_alerts, same_rows, same_files = sys.argv[1:]
for side, binary in enumerate([a, b]):
    runs = [line.split() for line in open(f"{work}/figures.{side}")]
    cpu = [float(u) + float(s) for u, s, _, _ in runs]
    wall = [float(e) for _, _, e, _ in runs]
    rss = [int(m) / 1024 for _, _, _, m in runs]
    print(f"{'AB'[side]}: {binary}")
    print(f"   cpu (s):  {' '.join(f'{c:.2f}' for c in cpu)}   median {statistics.median(cpu):.2f}")
    print(f"   wall (s): {' '.join(f'{w:.2f}' for w in wall)}   median {statistics.median(wall):.2f}")
    print(f"   RSS (MB): {' '.join(f'{r:.0f}' for r in rss)}   median {statistics.median(rss):.0f}")
print(f"same alerts: {same_alerts}; same lake rows: {same_rows}; same lake files: {same_files}")
PY
[ "$same_alerts" = yes ] && [ "$same_rows" = yes ]
