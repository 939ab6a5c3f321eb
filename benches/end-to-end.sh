#!/usr/bin/env bash
# End-to-end benchmark: `trailhound run` over the seeded corpus (thousands of 5-minute files
# in the S3 layout) with the full rule pack (detections and correlations) writing the zstd
# Parquet lake, against `zcat` of the same files measured in the same run.
#
# Reports events per CPU-second (user+sys), MB/s of decompressed JSON per CPU-second, peak
# RSS, the CPU ratio to zcat, and the wall-clock scaling from 1 to 2 CPUs (taskset; the medians
# of five runs each).
# Usage: benches/end-to-end.sh [EVENTS] [PROFILE]   (defaults: 200000 release)
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-200000}
profile=${2:-release}
source benches/build.sh
work=$(bench_workdir)
trap 'rm -rf "$work"' EXIT

"$bin/corpus" layout --out "$work/corpus" --events "$events"
files=$(find "$work/corpus" -name '*.json.gz' | wc -l)
gz_bytes=$(find "$work/corpus" -name '*.json.gz' -print0 | du -cb --files0-from=- | tail -1 | cut -f1)
json_bytes=$(find "$work/corpus" -name '*.json.gz' -print0 | xargs -0 cat | gzip -dc | wc -c)
# Warm the page cache so neither side pays for the disk.
find "$work/corpus" -name '*.json.gz' -print0 | xargs -0 cat > /dev/null

# timed CMD...: runs CMD under /usr/bin/time, which writes "user sys elapsed max_rss_kb" to
# $work/time.
timed() { /usr/bin/time -f '%U %S %e %M' -o "$work/time" "$@"; }

timed sh -c "find '$work/corpus' -name '*.json.gz' -print0 | xargs -0 zcat > /dev/null"
read -r zu zs ze _ < "$work/time"

run_once() { # $1: CPUs for taskset, $2: lake folder
  rm -rf "$2"
  timed taskset -c "$1" "$bin/trailhound" run --input "$work/corpus" --lake "$2" \
    > "$work/alerts.jsonl" 2> "$work/run.log"
}
run_once 0,1 "$work/lake"
read -r tu ts te trss < "$work/time"
summary=$(grep -E '^trailhound:' "$work/run.log")
decoded=$(echo "$summary" | sed -E 's/.* events=([0-9]+).*/\1/')
alerts=$(wc -l < "$work/alerts.jsonl")
# Scaling: five runs on each CPU count, alternating; one run's wall time varies by several
# percent (by a tenth on a busy host), so the medians are compared.
walls1=() walls2=()
for _ in 1 2 3 4 5; do
  run_once 0 "$work/lake1"
  read -r _ _ wall _ < "$work/time"
  walls1+=("$wall")
  run_once 0,1 "$work/lake2"
  read -r _ _ wall _ < "$work/time"
  walls2+=("$wall")
done

python3 - "$decoded" "$files" "$gz_bytes" "$json_bytes" "$zu" "$zs" "$ze" "$tu" "$ts" "$te" "$trss" "${walls1[*]}" "${walls2[*]}" "$alerts" "$(du -sb "$work/lake" | cut -f1)" <<'PY'
import statistics
import sys
(events, files, gz, js, zu, zs, ze, tu, ts, te, rss, walls1, walls2, alerts, lake) = sys.argv[1:]
walls1, walls2 = [float(w) for w in walls1.split()], [float(w) for w in walls2.split()]
te1, te2 = statistics.median(walls1), statistics.median(walls2)
events, files, gz, js, lake = int(events), int(files), int(gz), int(js), int(lake)
zcpu, tcpu = float(zu) + float(zs), float(tu) + float(ts)
print(f"corpus: {events} events in {files} files, {gz / 1e6:.1f} MB gzip, {js / 1e6:.1f} MB JSON")
print(f"zcat:       cpu {zcpu:.2f} s (user {zu}, sys {zs}), wall {ze} s")
print(f"trailhound: cpu {tcpu:.2f} s (user {tu}, sys {ts}), wall {te} s, peak RSS {int(rss) / 1024:.0f} MB")
print(f"  events per CPU-second: {events / tcpu:,.0f}")
print(f"  decompressed JSON per CPU-second: {js / 1e6 / tcpu:.1f} MB/s")
print(f"  CPU relative to zcat: {tcpu / zcpu:.2f}x")
print(f"  alerts: {alerts}; lake with its state: {lake / 1e6:.1f} MB ({lake / gz:.2f}x the gzip input)")
print(f"scaling: 1 CPU {walls1} s wall, 2 CPUs {walls2} s wall;"
      f" medians {te1} and {te2} s: {te1 / te2:.2f}x")
PY
