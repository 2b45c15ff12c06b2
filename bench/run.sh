#!/usr/bin/env bash
# make bench: runs the benchmarks and rewrites their section of bench/README.md.
# Criterion runs BENCH_RUNS times (default 3); the table gives the median of the runs' median
# estimates and the spread (min-max) across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-3}
work=target/bench-core
rm -rf "$work" && mkdir -p "$work"

cargo bench -p actorwatch-core --bench observe --no-run --locked >/dev/null 2>&1
for i in $(seq 1 "$runs"); do
  echo "core benchmarks: run $i of $runs" >&2
  rm -rf target/criterion
  cargo bench -p actorwatch-core --bench observe --locked -- --warm-up-time 1 --measurement-time 4 --noplot >"$work/criterion-$i.txt" 2>&1
  python3 bench/criterion_medians.py target/criterion >"$work/run-$i.json"
done
echo "core memory: 1 M actors" >&2
cargo bench -p actorwatch-core --bench memory --locked 2>/dev/null | grep bytes/actor >"$work/memory.txt"

echo "actorwatch replay: 1 M records" >&2
cargo build --release -p actorwatch-cli --locked 2>/dev/null
python3 bench/replay_input.py 1000000 "$work/replay-1m.jsonl"
for i in $(seq 1 "$runs"); do
  python3 bench/timed.py "$work/replay-time-$i.txt" \
    target/release/actorwatch replay --config examples/alert.json "$work/replay-1m.jsonl"
done

python3 bench/report_core.py "$work" "$(rustc --version)" >"$work/section.md"
python3 - "$work/section.md" <<'PY'
import re, sys
section = open(sys.argv[1]).read()
path = "bench/README.md"
text = open(path).read()
begin, end = "<!-- core:begin -->", "<!-- core:end -->"
new = begin + "\n" + section + end
text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: new, text, flags=re.S)
open(path, "w").write(text)
PY
cat "$work/section.md"
