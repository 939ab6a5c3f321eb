#!/usr/bin/env bash
# What a run must spend before any rule runs, and what each stage adds: the CPU (user+sys) of
# the work under trailhound's stages, each timed alone as its own process over the same corpus
# (`floor`, one thread), then `trailhound run` with no rules, with the detections only and with
# the whole pack. Reports the medians of three rounds, and the budgets of the CPU targets
# (150,000 events per CPU-second; 2.5 times zcat's CPU).
# Usage: benches/floors.sh [EVENTS] [PROFILE]   (defaults: 200000 release)
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-200000}
profile=${2:-release}
source benches/build.sh
bench_corpus "$events"
mkdir "$work/no-rules"
cp -r sql-rules "$work/detections"
find "$work/detections" -name '*.toml' -delete
detections=$(find "$work/detections" -name '*.sql' | wc -l)
correlations=$(find sql-rules -name '*.toml' | wc -l)

# measure NAME CMD...: runs CMD under /usr/bin/time and appends "NAME cpu_seconds rss_kb" to
# $work/times; the command's stderr goes to $work/NAME.log.
measure() {
  local name=$1
  shift
  rm -rf "$work/lake"
  /usr/bin/time -f '%U %S %M' -o "$work/time" "$@" > /dev/null 2> "$work/$name.log"
  read -r user sys rss < "$work/time"
  echo "$name $(python3 -c "print($user + $sys)") $rss" >> "$work/times"
}
run=("$bin/trailhound" run --input "$work/corpus" --lake "$work/lake")
for _ in 1 2 3; do
  measure zcat sh -c "find '$work/corpus' -name '*.json.gz' -print0 | xargs -0 zcat"
  for stage in inflate tokenize decode encode; do
    measure "$stage" "$bin/floor" "$stage" --input "$work/corpus"
  done
  measure lake "$bin/floor" lake --input "$work/corpus" --lake "$work/lake"
  measure run-no-rules "${run[@]}" --rules "$work/no-rules"
  measure run-detections "${run[@]}" --rules "$work/detections"
  measure run-full "${run[@]}"
done
grep -h '^floor:' "$work/lake.log" "$work/encode.log"
grep -h '^trailhound:' "$work/run-full.log"

python3 - "$work/times" "$events" "$detections" "$correlations" "$(grep -ho 'encode_seconds=[0-9.]*' "$work/encode.log" | cut -d= -f2)" <<'PY'
import collections
import statistics
import sys

path, events, detections, correlations, encode = sys.argv[1:]
events = int(events)
runs = collections.defaultdict(list)
for line in open(path):
    name, cpu, rss = line.split()
    runs[name].append((float(cpu), int(rss)))
cpu = {name: statistics.median(c for c, _ in values) for name, values in runs.items()}
rss = {name: max(r for _, r in values) / 1024 for name, values in runs.items()}
rows = [
    ("zcat (system gzip)", "zcat", None),
    ("inflate (zlib-rs, as trailhound)", "inflate", None),
    ("+ read the JSON (serde_json, kept nothing)", "tokenize", "inflate"),
    ("+ decode to Arrow (trailhound's decoder)", "decode", "inflate"),
    ("+ write the Parquet lake", "lake", "decode"),
    ("trailhound run, no rules (2 threads)", "run-no-rules", "lake"),
    (f"+ {detections} detections", "run-detections", "run-no-rules"),
    (f"+ {correlations} correlations", "run-full", "run-detections"),
]
print(f"events={events}, medians of {len(runs['zcat'])} rounds (CPU = user + sys)")
print(f"{'stage':46} {'CPU s':>7} {'added':>7} {'events/CPU-s':>13} {'peak MB':>8}")
for label, name, base in rows:
    added = f"{cpu[name] - cpu[base]:+7.2f}" if base else " " * 7
    print(f"{label:46} {cpu[name]:7.2f} {added} {events / max(cpu[name], 0.01):13,.0f} {rss[name]:8.0f}")
print(f"Parquet encoding alone (the lake's settings, in memory, no sorting or partitions): "
      f"{float(encode):.2f} s of the 'encode' stage's {cpu['encode']:.2f}")
print(f"budget at 150,000 events per CPU-second: {events / 150000:.2f} s; "
      f"at 2.5 x zcat: {2.5 * cpu['zcat']:.2f} s")
PY
