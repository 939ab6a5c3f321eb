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

# bench_workdir: prints a new folder for a benchmark's corpus and lakes, in memory (tmpfs) when
# /dev/shm has 4 GiB free. On ext4, creating a file is slow for minutes after many were
# deleted (the kernel's `recently_deleted` check while allocating an inode): after a cleanup
# of 13,000 files, a run's system time went from 0.4-0.5 s to 2.1-4.4 s (perf: inode
# allocation and the folder lock), and the runs of a benchmark delete their lakes.
bench_workdir() {
  if [ -w /dev/shm ] && [ "$(df -k --output=avail /dev/shm | tail -1)" -gt 4194304 ]; then
    mktemp -d -p /dev/shm trailhound-bench.XXXXXX
  else
    mktemp -d
  fi
}

# bench_corpus EVENTS: sets $work to a new benchmark folder (see bench_workdir), removed when
# the script exits, writes the seeded corpus of EVENTS events to $work/corpus and reads its
# files once, so that every run of the benchmark finds them in the page cache.
bench_corpus() {
  work=$(bench_workdir)
  trap 'rm -rf "$work"' EXIT
  "$bin/corpus" layout --out "$work/corpus" --events "$1"
  find "$work/corpus" -name '*.json.gz' -print0 | xargs -0 cat > /dev/null
}
