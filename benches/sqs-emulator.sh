#!/usr/bin/env bash
# Queue throughput against moto's AWS emulator: uploads N corpus objects to a bucket, sends one
# S3 notification per object to a queue, then times `trailhound run --sqs-queue-url` draining it.
# Reports messages/s and events/s. Usage: benches/sqs-emulator.sh [OBJECTS] [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
objects=${1:-200}
profile=${2:-debug}
venv="${TRAILHOUND_VENV:-$HOME/.cache/trailhound-venv}"
source benches/build.sh
work=$(bench_workdir)
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; rm -rf "$work"' EXIT
sleep 2
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
"$bin/corpus" layout --out "$work/corpus" --events $((objects * 60)) 2>/dev/null
queue=$("$venv/bin/python" - "$work/corpus" "$objects" <<'PY'
import json, os, sys, boto3
root, limit = sys.argv[1], int(sys.argv[2])
s3, sqs = boto3.client("s3"), boto3.client("sqs")
s3.create_bucket(Bucket="bench")
url = sqs.create_queue(QueueName="bench")["QueueUrl"]
keys = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)[:limit]
for key in keys:
    s3.upload_file(os.path.join(root, key), "bench", key)
    body = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": "bench"}, "object": {"key": key}}}]}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
print(url)
PY
)
start=$(date +%s.%N)
"$bin/trailhound" run --sqs-queue-url "$queue" --lake s3://bench/lake --wait-seconds 1 --max-empty-receives 1 > /dev/null 2> "$work/run.log"
end=$(date +%s.%N)
line=$(grep -E '^trailhound:' "$work/run.log")
echo "$line"
python3 - "$line" "$start" "$end" <<'PY'
import re, sys
line, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
fields = dict(re.findall(r"(\w+)=(\d+)", line))
seconds = end - start
print(f"{seconds:.1f} s: {int(fields['messages_deleted']) / seconds:.1f} messages/s, {int(fields['events']) / seconds:.0f} events/s")
PY
