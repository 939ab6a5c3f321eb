# Sourced by the benchmark scripts: builds trailhound and the corpus generator for $profile
# (debug or release) and sets $bin to the folder holding them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trailhound-target}"
if [ "$profile" = release ]; then
  cargo build --release -p trailhound -p trailhound-benches --quiet
  bin="$CARGO_TARGET_DIR/release"
else
  cargo build -p trailhound -p trailhound-benches --quiet
  bin="$CARGO_TARGET_DIR/debug"
fi
