#!/usr/bin/env bash
# trailhound's whole test suite, runnable on a fresh machine: installs the Python tools the
# checks need into a cached virtualenv, starts the AWS-protocol emulator (moto's server) on
# 127.0.0.1, builds, lints, runs the Rust tests (the emulator ones included), the rule tests,
# the Terraform module's checks, an end-to-end run whose lake is read back by pyarrow and DuckDB,
# and the benchmark tools on a small corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trailhound-target}"
export CARGO_TERM_COLOR=never
venv="${TRAILHOUND_VENV:-$HOME/.cache/trailhound-venv}"
work=$(mktemp -d)
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "tools"
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
for component in rustfmt clippy; do
  cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1 || rustup component add "$component"
done
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt

step "AWS emulator"
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 100); do
  "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null && break
  sleep 0.2
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
echo "moto server on $AWS_ENDPOINT_URL"

step "format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "rust tests"
cargo build --workspace --all-targets --quiet
cargo test --workspace -- --include-ignored 2>&1 | tee "$work/cargo-test.log"
rust_passed=$(grep -E '^test result:' "$work/cargo-test.log" | awk '{sum += $4} END {print sum + 0}')
rust_failed=$(grep -E '^test result:' "$work/cargo-test.log" | awk '{sum += $6} END {print sum + 0}')

trailhound="$CARGO_TARGET_DIR/debug/trailhound"

step "rule tests"
"$trailhound" test --rules sql-rules | tee "$work/rule-test.log"
rules_line=$(tail -n 1 "$work/rule-test.log")
rules_passed=$(echo "$rules_line" | awk '{print $1}')
rules_failed=$(echo "$rules_line" | awk '{print $3}')

step "terraform module: fmt, validate, terraform test (mocked AWS) or static checks"
bash scripts/check-terraform.sh | tee "$work/terraform.log"
terraform_line=$(tail -n 1 "$work/terraform.log")
terraform_passed=$(echo "$terraform_line" | awk '{print $2}')
terraform_failed=$(echo "$terraform_line" | awk '{print $4}')

step "end to end: bundled samples into a lake, read back by pyarrow and DuckDB"
"$trailhound" run --input samples/cloudtrail --lake "$work/lake" > "$work/alerts.jsonl" 2> "$work/run.log"
tail -n 1 "$work/run.log"
events=$(tail -n 1 "$work/run.log" | sed -E 's/.* events=([0-9]+).*/\1/')
alerts=$(wc -l < "$work/alerts.jsonl")
[ "$alerts" -gt 0 ] || { echo "no alerts from the samples"; exit 1; }
"$trailhound" lake schema > "$work/schema.md"
"$venv/bin/python" scripts/check_lake.py "$work/lake" "$work/schema.md" "$events" | tee "$work/lake-check.log"
lake_line=$(tail -n 1 "$work/lake-check.log")
lake_passed=$(echo "$lake_line" | awk '{print $2}')
lake_failed=$(echo "$lake_line" | awk '{print $4}')

step "benchmark tools: the corpus generator and every stage floor on a small corpus"
# The benchmarks run outside the suite; this keeps their tools working (a lake-stage failure
# once went unseen until a benchmark ran).
bench_events=2000
"$CARGO_TARGET_DIR/debug/corpus" layout --out "$work/corpus" --events "$bench_events" > /dev/null
bench_passed=0
bench_failed=0
for stage in inflate tokenize decode encode lake; do
  expected="events=$bench_events"
  # Gunzip alone counts no events: it must still have inflated some JSON.
  [ "$stage" = inflate ] && expected="json_bytes=[1-9][0-9]* events=0"
  if "$CARGO_TARGET_DIR/debug/floor" "$stage" --input "$work/corpus" --lake "$work/floor-lake" \
      2> "$work/floor.log" && grep -q "^floor: .* $expected" "$work/floor.log"; then
    bench_passed=$((bench_passed + 1))
    echo "ok floor $stage: $(head -n 1 "$work/floor.log")"
  else
    bench_failed=$((bench_failed + 1))
    echo "FAILED floor $stage (expected $expected):"
    cat "$work/floor.log"
  fi
done
echo "benchmark tools: $bench_passed passed, $bench_failed failed"

passed=$((rust_passed + rules_passed + lake_passed + terraform_passed + bench_passed))
failed=$((rust_failed + rules_failed + lake_failed + terraform_failed + bench_failed))
echo
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
