#!/usr/bin/env bash
# Memory check: one CloudTrail file of about 1 GiB decompressed through `trailhound run`,
# reporting peak RSS, CPU time and throughput. Usage: benches/large-file.sh [BYTES] [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
bytes=${1:-1073741824}
profile=${2:-release}
source benches/build.sh
work=$(bench_workdir)
trap 'rm -rf "$work"' EXIT
"$bin/corpus" single --out "$work/input/large.json.gz" --bytes "$bytes"
/usr/bin/time -v "$bin/trailhound" run --input "$work/input" --lake "$work/lake" > /dev/null 2> "$work/run.log"
grep -E '^trailhound:' "$work/run.log"
grep -E 'Maximum resident set size|User time|System time|Elapsed' "$work/run.log"
echo "lake size: $(du -sh "$work/lake/cloudtrail" | cut -f1)"
