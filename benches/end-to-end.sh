#!/usr/bin/env bash
# End-to-end benchmark: `trailhound run` over the seeded corpus (thousands of 5-minute files
# in the S3 layout) with the full rule pack (detections and correlations) writing the zstd
# Parquet lake, against `zcat` of the same files measured in the same run.
#
# Reports events per CPU-second (user+sys), MB/s of decompressed JSON per CPU-second, peak
# RSS, the CPU ratio to zcat, and the wall-clock scaling from 1 to 2 CPUs (taskset). Every
# figure is the median of five runs (peak RSS their maximum): one run's CPU varies by 5-10%.
# Usage: benches/end-to-end.sh [EVENTS] [PROFILE]   (defaults: 200000 release)
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-200000}
profile=${2:-release}
source benches/build.sh
bench_corpus "$events"
files=$(find "$work/corpus" -name '*.json.gz' | wc -l)
gz_bytes=$(find "$work/corpus" -name '*.json.gz' -print0 | du -cb --files0-from=- | tail -1 | cut -f1)
json_bytes=$(find "$work/corpus" -name '*.json.gz' -print0 | xargs -0 cat | gzip -dc | wc -c)

# timed CMD...: runs CMD under /usr/bin/time, which writes "user sys elapsed max_rss_kb" to
# $work/time.
timed() { /usr/bin/time -f '%U %S %e %M' -o "$work/time" "$@"; }

run_once() { # $1: CPUs for taskset, $2: lake folder
  rm -rf "$2"
  timed taskset -c "$1" "$bin/trailhound" run --input "$work/corpus" --lake "$2" \
    > "$work/alerts.jsonl" 2> "$work/run.log"
}
run_once 0,1 "$work/lake"
summary=$(grep -E '^trailhound:' "$work/run.log")
decoded=$(echo "$summary" | sed -E 's/.* events=([0-9]+).*/\1/')
alerts=$(wc -l < "$work/alerts.jsonl")
# Five rounds, alternating zcat, a run on one CPU and a run on two: the host's drift shows on
# all three alike. Each run appends "user sys elapsed max_rss_kb" to its list.
for _ in 1 2 3 4 5; do
  timed sh -c "find '$work/corpus' -name '*.json.gz' -print0 | xargs -0 zcat > /dev/null"
  cat "$work/time" >> "$work/zcat.times"
  run_once 0 "$work/lake1"
  cat "$work/time" >> "$work/one-cpu.times"
  run_once 0,1 "$work/lake2"
  cat "$work/time" >> "$work/two-cpus.times"
done

python3 - "$work" "$decoded" "$files" "$gz_bytes" "$json_bytes" "$alerts" "$(du -sb "$work/lake" | cut -f1)" <<'PY'
import sys
from statistics import median

work, events, files, gz, js, alerts, lake = sys.argv[1:]
events, files, gz, js, lake = int(events), int(files), int(gz), int(js), int(lake)


def runs(name):
    """Per run of `name`: (user, sys, elapsed, peak RSS in MB)."""
    rows = [line.split() for line in open(f"{work}/{name}.times") if line.strip()]
    return [(float(u), float(s), float(e), int(r) / 1024) for u, s, e, r in rows]


zcat, one, two = runs("zcat"), runs("one-cpu"), runs("two-cpus")
zcpu = median(u + s for u, s, _, _ in zcat)
tcpus = sorted(u + s for u, s, _, _ in two)
tcpu = median(tcpus)
tu, ts = median(u for u, _, _, _ in two), median(s for _, s, _, _ in two)
te1, te2 = median(e for _, _, e, _ in one), median(e for _, _, e, _ in two)
rss = max(r for _, _, _, r in one + two)
print(f"corpus: {events} events in {files} files, {gz / 1e6:.1f} MB gzip, {js / 1e6:.1f} MB JSON")
print(f"medians of {len(two)} runs each (peak RSS: the largest):")
print(f"zcat:       cpu {zcpu:.2f} s, wall {median(e for _, _, e, _ in zcat):.2f} s")
print(f"trailhound: cpu {tcpu:.2f} s (user {tu:.2f}, sys {ts:.2f}; runs from {tcpus[0]:.2f} to"
      f" {tcpus[-1]:.2f} s), wall {te2:.2f} s, peak RSS {rss:.0f} MB")
print(f"  events per CPU-second: {events / tcpu:,.0f}")
ocpu = median(u + s for u, s, _, _ in one)
print(f"  on one CPU: cpu {ocpu:.2f} s, {events / ocpu:,.0f} events per CPU-second")
print(f"  decompressed JSON per CPU-second: {js / 1e6 / tcpu:.1f} MB/s")
print(f"  CPU relative to zcat: {tcpu / zcpu:.2f}x")
print(f"  alerts: {alerts}; lake with its state: {lake / 1e6:.1f} MB ({lake / gz:.2f}x the gzip input)")
print(f"scaling: wall on 1 CPU {[e for _, _, e, _ in one]} s, on 2 CPUs {[e for _, _, e, _ in two]} s;"
      f" medians {te1:.2f} and {te2:.2f} s: {te1 / te2:.2f}x")
PY
