#!/usr/bin/env bash
# Noise benchmark: runs the rule pack over the benign corpus (benches' generator, seeded) and
# reports alerts per 10,000 events per rule. Usage: benches/noise.sh [EVENTS] [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-200000}
profile=${2:-debug}
source benches/build.sh
bench_corpus "$events"
"$bin/trailhound" run --input "$work/corpus" --lake "$work/lake" --rules sql-rules > "$work/alerts.jsonl" 2> "$work/run.log"
grep -E '^trailhound:' "$work/run.log"
decoded=$(grep -E '^trailhound:' "$work/run.log" | sed -E 's/.* events=([0-9]+).*/\1/')
python3 - "$work/alerts.jsonl" "$decoded" <<'PY'
import collections, json, sys
alerts = [json.loads(line) for line in open(sys.argv[1])]
events = int(sys.argv[2])
by_rule = collections.Counter(a["rule_id"] for a in alerts)
matched = collections.Counter()
for a in alerts:
    matched[a["rule_id"]] += a["count"]
print(f"{len(alerts)} alerts over {events} benign events ({len(alerts) * 10000 / events:.2f} per 10k events)")
print("| rule | alerts | alerts per 10k events | matched events |")
print("|---|---|---|---|")
for rule, count in by_rule.most_common():
    print(f"| {rule} | {count} | {count * 10000 / events:.2f} | {matched[rule]} |")
PY
