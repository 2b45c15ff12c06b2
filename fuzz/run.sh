#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 20) after replaying its committed corpus.
#   fuzz/run.sh [SECONDS] [--grow]
# --grow writes new interesting inputs into fuzz/corpus (make fuzz); without it they go to a
# scratch directory, so that make test leaves the checkout clean. A crash leaves its input in
# fuzz/artifacts/<target>/ and fails the run.
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
grow=${2:-}
targets=(config actor template delta engine inspect fleet native)
# -a: debug assertions and overflow checks on, so that any arithmetic overflow is a crash.
cargo +nightly fuzz build --release -a >/dev/null 2>&1 || { echo "fuzz: build failed" >&2; cargo +nightly fuzz build --release -a; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
pass=0
fail=0
for t in "${targets[@]}"; do
  if [ "$grow" = "--grow" ]; then
    dirs=("corpus/$t")
    seed=()
  else
    mkdir -p "$scratch/$t"
    dirs=("$scratch/$t" "corpus/$t")
    # A fixed seed: make test explores the same inputs on every run, so a red run reproduces.
    seed=(-seed=1)
  fi
  log="$scratch/$t.log"
  if cargo +nightly fuzz run --release -a "$t" "${dirs[@]}" -- -max_total_time="$seconds" -rss_limit_mb=2048 "${seed[@]}" >"$log" 2>&1; then
    runs=$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1)
    echo "fuzz $t: ok, $(ls corpus/$t | wc -l) corpus inputs replayed, ${runs#Done } in ${seconds} s"
    pass=$((pass + 1))
  else
    echo "fuzz $t: FAILED" >&2
    grep -E "panicked|SUMMARY|Test unit written|assert" "$log" | head -20 >&2
    fail=$((fail + 1))
  fi
done
echo "# pass $pass"
echo "# fail $fail"
[ "$fail" -eq 0 ]
