#!/usr/bin/env bash
# Checks the Terraform deployment module in terraform/.
#
# With terraform (or tofu) on the PATH: `fmt -check`, then for the module and every example
# `init -backend=false` (offline, from the provider mirror in $TF_PLUGIN_DIR, default
# /opt/tf-plugins) and `validate`, then `terraform test` in the module (mocked AWS provider:
# no credentials, nothing created). Terraform's working files go to a temporary directory and
# the lock files it writes are removed, so nothing untracked is left behind.
#
# Always: terraform/tests/check_hcl.py (python-hcl2, installed into the cached virtualenv
# $TRAILHOUND_VENV, default ~/.cache/trailhound-venv), which checks references, variables,
# examples, the Glue/schema wiring and the README tables without terraform.
#
# Prints one line per check and ends with "terraform: N passed, M failed"; exits non-zero
# when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

module=terraform
venv="${TRAILHOUND_VENV:-$HOME/.cache/trailhound-venv}"
plugin_dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
hcl2_version=8.1.4
work=$(mktemp -d)
created_locks=()
passed=0
failed=0

cleanup() {
  for lock in "${created_locks[@]+"${created_locks[@]}"}"; do
    rm -f "$lock"
  done
  rm -rf "$work"
}
trap cleanup EXIT

ok() {
  passed=$((passed + 1))
  echo "ok   $*"
}

fail() {
  failed=$((failed + 1))
  echo "FAIL $*"
}

# Runs a command quietly; on failure prints its output.
quiet() {
  local name=$1
  shift
  if "$@" > "$work/out" 2>&1; then
    ok "$name"
  else
    fail "$name"
    sed 's/^/     /' "$work/out"
    return 1
  fi
}

in_dir() {
  local dir=$1
  shift
  (cd "$dir" && "$@")
}

tf=
for candidate in terraform tofu; do
  if command -v "$candidate" > /dev/null 2>&1; then
    tf=$candidate
    break
  fi
done

if [ -n "$tf" ]; then
  echo "== $tf: fmt, init, validate, test ($("$tf" version 2> /dev/null | head -n 1))"
  quiet "$tf fmt -check -recursive $module/" "$tf" fmt -check -recursive -diff "$module/"

  init_args=(-backend=false -input=false -no-color)
  offline=true
  if [ -d "$plugin_dir" ]; then
    init_args+=("-plugin-dir=$plugin_dir")
  else
    offline=false
    echo "     ($plugin_dir not found: trying a plain init, which needs the registry)"
  fi

  usable=true
  dirs=("$module")
  for example in "$module"/examples/*/; do
    dirs+=("${example%/}")
  done
  for dir in "${dirs[@]}"; do
    data_dir="$work/tf-data/$(echo "$dir" | tr '/' '_')"
    [ -e "$dir/.terraform.lock.hcl" ] || created_locks+=("$dir/.terraform.lock.hcl")
    if ! (cd "$dir" && TF_DATA_DIR="$data_dir" "$tf" init "${init_args[@]}") > "$work/out" 2>&1; then
      if [ "$offline" = false ]; then
        echo "     $tf init failed without a provider mirror (offline?): only the static checks run"
        usable=false
        break
      fi
      fail "$tf init $dir"
      sed 's/^/     /' "$work/out"
      continue
    fi
    ok "$tf init $dir"
    quiet "$tf validate $dir" in_dir "$dir" env TF_DATA_DIR="$data_dir" "$tf" validate -no-color
  done

  if [ "$usable" = true ]; then
    data_dir="$work/tf-data/$(echo "$module" | tr '/' '_')"
    (cd "$module" && TF_DATA_DIR="$data_dir" "$tf" test -no-color) > "$work/test.out" 2>&1
    status=$?
    grep -E '^(tests/[^ ]+\.tftest\.hcl\.\.\. (pass|fail)|  run ")' "$work/test.out" | grep -v 'in progress' || true
    summary=$(grep -E '^(Success|Failure)! [0-9]+ passed, [0-9]+ failed' "$work/test.out" | tail -n 1)
    if [ -z "$summary" ]; then
      fail "$tf test (no summary line)"
      sed 's/^/     /' "$work/test.out"
    else
      test_passed=$(echo "$summary" | sed -E 's/.*! ([0-9]+) passed.*/\1/')
      test_failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) failed.*/\1/')
      test_skipped=$(echo "$summary" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
      passed=$((passed + test_passed))
      failed=$((failed + test_failed + ${test_skipped:-0}))
      echo "     $tf test: $summary"
      if [ "$status" -ne 0 ] || [ "$test_failed" -ne 0 ]; then
        [ "$test_failed" -ne 0 ] || fail "$tf test exited $status"
        sed 's/^/     /' "$work/test.out"
      fi
    fi
  fi
else
  echo "== terraform/tofu not found: static checks only"
fi

echo "== static checks (python-hcl2)"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || { fail "create the virtualenv $venv"; }
fi
if [ -x "$venv/bin/python" ]; then
  if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('python-hcl2') != '$hcl2_version')" 2> /dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "python-hcl2==$hcl2_version" > "$work/pip.out" 2>&1 \
      || { fail "install python-hcl2==$hcl2_version"; sed 's/^/     /' "$work/pip.out"; }
  fi
  "$venv/bin/python" "$module/tests/check_hcl.py" | tee "$work/static.out"
  line=$(tail -n 1 "$work/static.out")
  if echo "$line" | grep -qE '^[0-9]+ passed, [0-9]+ failed$'; then
    passed=$((passed + $(echo "$line" | awk '{print $1}')))
    failed=$((failed + $(echo "$line" | awk '{print $3}')))
  else
    fail "check_hcl.py did not finish"
  fi
fi

echo
echo "terraform: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
