#!/usr/bin/env bash
# Builds the AWS Lambda package: the trailhound binary as `bootstrap` in
# target/lambda/bootstrap.zip, for the provided.al2023 runtime on arm64 (Graviton) by
# default, or x86_64 with `--arch x86_64`.
#
# Cross-compiles with cargo-zigbuild (zig as the C toolchain and linker, targeting the glibc
# of Amazon Linux 2023), installing zig from PyPI and cargo-zigbuild from crates.io into
# caches when missing. The binary starts in Lambda mode by itself (AWS_LAMBDA_RUNTIME_API set,
# no arguments); see terraform/README.md for the deployment.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=arm64
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="$2"; shift 2 ;;
    *) echo "usage: $0 [--arch arm64|x86_64]" >&2; exit 2 ;;
  esac
done
case "$arch" in
  arm64) triple=aarch64-unknown-linux-gnu ;;
  x86_64) triple=x86_64-unknown-linux-gnu ;;
  *) echo "unknown arch '$arch' (arm64 or x86_64)" >&2; exit 2 ;;
esac
# Amazon Linux 2023 ships glibc 2.34.
glibc=2.34

venv="${TRAILHOUND_VENV:-$HOME/.cache/trailhound-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import ziglang' 2>/dev/null \
  || "$venv/bin/pip" install --quiet --disable-pip-version-check ziglang
export PATH="$venv/bin:$PATH"
command -v cargo-zigbuild >/dev/null || cargo install --locked cargo-zigbuild
rustup target add "$triple" >/dev/null

target_dir="${CARGO_TARGET_DIR:-target}"
cargo zigbuild --release --locked -p trailhound --target "$triple.$glibc"
mkdir -p target/lambda
"$venv/bin/python" - "$target_dir/$triple/release/trailhound" target/lambda/bootstrap.zip <<'PY'
import sys, zipfile
binary, out = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap")
info.external_attr = 0o100755 << 16  # a regular, executable file
info.compress_type = zipfile.ZIP_DEFLATED
with open(binary, "rb") as f, zipfile.ZipFile(out, "w") as z:
    z.writestr(info, f.read())
print(f"{out}: bootstrap for {sys.argv[1]}")
PY
