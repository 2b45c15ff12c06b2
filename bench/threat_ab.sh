#!/usr/bin/env bash
# The threat rules' inspection cost, BASE against the working tree (HEAD plus any uncommitted
# edits), measured in one run:
#   1. natively, criterion's `inspect` bench (filter/core/benches/inspect.rs), base and head
#      interleaved (base, head, ... RUNS times each);
#   2. natively, instructions per `Inspector::inspect` call under callgrind: the same bench file
#      built against a stub `criterion` whose `iter` runs the routine a fixed number of times
#      (deterministic, unlike a timed criterion run);
#   3. in one Envoy under callgrind, base and head filters (post-linked), 4XX rule alone and with
#      every threat rule: instructions per request on direct 200 and direct 404;
#   4. sizes of the post-linked filters and of the detectors' vocabularies.
# Usage: bash bench/threat_ab.sh [BASE_COMMIT]   (default 423b297)
# Prints a markdown section and writes it to target/bench-threat-ab/ab.md.
# The base builds in its own git worktree (AW_BASE_DIR, default /tmp/aw-base) with its own target
# dir; head builds in this tree's target dir. Builds run one at a time.
# Knobs: AB_RUNS (criterion runs per side, 3), AB_DRIVER_ITERS (50), AB_ENVOY_REQUESTS (2000),
# AB_ENVOY_REPEATS (3), AB_ENVOY_WARMUP (1000).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
base_commit=${1:-423b297}
base_dir=${AW_BASE_DIR:-/tmp/aw-base}
runs=${AB_RUNS:-3}
iters=${AB_DRIVER_ITERS:-50}
work=$root/target/bench-threat-ab
start=$(date +%s)
log() { echo "threat_ab [$(( $(date +%s) - start ))s]: $*" >&2; }

rm -rf "$work" && mkdir -p "$work/bin" "$work/criterion" "$work/driver"
base_sha=$(git rev-parse --verify "$base_commit^{commit}")
head_sha=$(git rev-parse HEAD)
dirty=$(git status --porcelain --untracked-files=no | wc -l)
# HEAD and its uncommitted edits: compared after head's builds (the tree may be edited meanwhile).
tree_state() { echo "$(git rev-parse HEAD) $(git diff HEAD | sha1sum)"; }
state_before=$(tree_state)
mkdir -p "$work/vocab-head" && cp filter/core/vocab/*.txt "$work/vocab-head/" 2>/dev/null || true

# The base worktree (created, or moved to BASE_COMMIT; its target dir is kept between runs).
if [ ! -e "$base_dir/.git" ]; then
  log "git worktree add $base_dir $base_sha"
  git worktree add --detach "$base_dir" "$base_sha" >&2
elif [ "$(git -C "$base_dir" rev-parse HEAD)" != "$base_sha" ]; then
  git -C "$base_dir" checkout --quiet --detach "$base_sha"
fi
[ -z "$(git -C "$base_dir" status --porcelain --untracked-files=no)" ] || { echo "$base_dir has local changes" >&2; exit 1; }
# Base's own post-link script with this tree's binaryen (the lock files pin the same package).
[ -e "$base_dir/filter/postlink/node_modules" ] || ln -s "$root/filter/postlink/node_modules" "$base_dir/filter/postlink/node_modules"

for tool in hey valgrind; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; }
done

# The stub criterion for the instruction-count driver: `iter` runs the routine AB_WARM times, then
# AB_ITERS times inside `aw_measured`, the only code callgrind collects (--toggle-collect).
stub=$work/driver/criterion-stub
mkdir -p "$stub/src"
cat >"$stub/Cargo.toml" <<'EOF'
[package]
name = "criterion"
version = "0.8.0"
edition = "2021"
[lib]
path = "src/lib.rs"
EOF
cat >"$stub/src/lib.rs" <<'EOF'
//! Just enough of criterion's API for filter/core/benches/inspect.rs, run deterministically.
use std::hint::black_box;

pub enum Throughput { Bytes(u64), Elements(u64) }
#[derive(Default)]
pub struct Criterion;
pub struct BenchmarkGroup<'a> { name: String, _c: &'a mut Criterion }
pub struct Bencher { iters: u64, warm: u64 }

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

impl Criterion {
    pub fn benchmark_group<S: Into<String>>(&mut self, name: S) -> BenchmarkGroup<'_> {
        BenchmarkGroup { name: name.into(), _c: self }
    }
}

impl BenchmarkGroup<'_> {
    pub fn throughput(&mut self, _: Throughput) -> &mut Self { self }
    pub fn bench_function<F: FnMut(&mut Bencher)>(&mut self, id: &str, mut f: F) -> &mut Self {
        let full = format!("{}/{}", self.name, id);
        if std::env::var("AB_BENCH").map_or(true, |b| b == full) {
            f(&mut Bencher { iters: env("AB_ITERS", 50), warm: env("AB_WARM", 3) });
            println!("{full}");
        }
        self
    }
    pub fn finish(self) {}
}

#[inline(never)]
pub fn aw_measured<O, R: FnMut() -> O>(routine: &mut R, iters: u64) {
    for _ in 0..iters {
        black_box(routine());
    }
}

impl Bencher {
    pub fn iter<O, R: FnMut() -> O>(&mut self, mut routine: R) {
        for _ in 0..self.warm {
            black_box(routine());
        }
        aw_measured(&mut routine, self.iters);
    }
}

#[macro_export]
macro_rules! criterion_group {
    ($name:ident, $($target:path),+ $(,)?) => {
        pub fn $name() { let mut c = $crate::Criterion::default(); $($target(&mut c);)+ }
    };
}
#[macro_export]
macro_rules! criterion_main {
    ($($group:path),+ $(,)?) => { fn main() { $($group();)+ } };
}
EOF

# build SIDE SRC TARGET_DIR: the criterion bench, the driver and the filter, copied out of the
# target dir (the other engineer's builds may rewrite it later).
build() {
  local side=$1 src=$2 tdir=$3
  log "$side: cargo bench --no-run (inspect)"
  (cd "$src" && CARGO_TARGET_DIR=$tdir cargo bench -p actorwatch-core --bench inspect --no-run --locked \
      --message-format=json 2>"$work/build-$side.log") |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "inspect":
        print(m["executable"])' >"$work/bench-exe-$side.txt"
  cp "$(tail -1 "$work/bench-exe-$side.txt")" "$work/bin/inspect-$side"

  log "$side: instruction-count driver"
  local d=$work/driver/$side
  mkdir -p "$d"
  cp "$src/Cargo.lock" "$d/Cargo.lock"
  cat >"$d/Cargo.toml" <<EOF
[package]
name = "aw-inspect-driver"
version = "0.0.0"
edition = "2021"
publish = false
[workspace]
[[bin]]
name = "inspect-driver"
path = "$src/filter/core/benches/inspect.rs"
[dependencies]
actorwatch-core = { path = "$src/filter/core" }
criterion = { path = "../criterion-stub" }
# As [profile.bench] builds the criterion bench; symbols kept for --toggle-collect.
[profile.release]
opt-level = 3
lto = "thin"
codegen-units = 16
debug = false
strip = false
EOF
  if (cd "$d" && CARGO_TARGET_DIR=$tdir/ab-driver cargo build --release --offline >>"$work/build-$side.log" 2>&1); then
    cp "$tdir/ab-driver/release/inspect-driver" "$work/bin/driver-$side"
  else
    log "$side: the driver did not build (see $work/build-$side.log): no instruction counts"
  fi

  log "$side: filter .wasm"
  (cd "$src" && CARGO_TARGET_DIR=$tdir cargo build --release --locked --target wasm32-wasip1 -p actorwatch-filter >>"$work/build-$side.log" 2>&1)
  cp "$tdir/wasm32-wasip1/release/actorwatch_filter.wasm" "$work/$side.wasm"
  node "$src/filter/postlink/postlink.mjs" "$work/$side.wasm" >&2
}
build head "$root" "$root/target"
changed=no
[ "$(tree_state)" = "$state_before" ] || { changed=yes; log "WARNING: the working tree changed during head's builds"; }
mkdir -p "$work/vocab-base" && cp "$base_dir"/filter/core/vocab/*.txt "$work/vocab-base/" 2>/dev/null || true
build base "$base_dir" "$base_dir/target"

# 1. Criterion, interleaved.
for i in $(seq 1 "$runs"); do
  for side in base head; do
    log "criterion: $side run $i of $runs"
    home=$work/criterion/$side-$i
    CRITERION_HOME=$home "$work/bin/inspect-$side" --bench --warm-up-time 1 --measurement-time 2 --noplot \
      >"$home.txt" 2>&1
    python3 bench/criterion_medians.py "$home" >"$home.json"
  done
done

# 2. Instructions per inspect call (deterministic; one process per benchmark and side).
benches=$(python3 -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1])))))' "$work/criterion/head-1.json")
echo "{}" >"$work/driver.json"
for side in base head; do
  [ -x "$work/bin/driver-$side" ] || continue
  for b in $benches; do
    log "callgrind driver: $side $b"
    out=$work/driver/cg-$side-${b//\//_}.out
    AB_BENCH=$b AB_ITERS=$iters valgrind --tool=callgrind --toggle-collect='*aw_measured*' \
      --callgrind-out-file="$out" "$work/bin/driver-$side" >"$out.stdout" 2>"$out.log"
    grep -qx "$b" "$out.stdout" || { log "driver $side did not run $b"; continue; }
    python3 - "$work/driver.json" "$side" "$b" "$out" "$iters" <<'PY'
import json, re, sys
path, side, bench, out, iters = sys.argv[1:]
total = int(re.search(r"^(?:summary|totals): (\d+)", open(out).read(), re.M).group(1))
data = json.load(open(path))
data.setdefault(side, {})[bench] = total / int(iters)
json.dump(data, open(path, "w"))
PY
  done
done

# 3. Envoy under callgrind: head as the filter, base as the compared build, in one Envoy.
log "envoy: callgrind (5 listeners, 2 routes)"
ACTORWATCH_COMPARE_WASM="base=$work/base.wasm" ACTORWATCH_COMPARE_THREATS=1 \
ACTORWATCH_BENCH_ONLY="no filter,actorwatch alert,actorwatch threat rules,compared base" \
  python3 bench/envoy_overhead.py --mode callgrind --wasm "$work/head.wasm" --routes "direct 200,direct 404" \
  --warmup "${AB_ENVOY_WARMUP:-1000}" --requests "${AB_ENVOY_REQUESTS:-2000}" --repeats "${AB_ENVOY_REPEATS:-3}" \
  --out "$work/envoy.json"

# 4 and the report.
log "report"
python3 - "$work" "$base_sha" "$head_sha" "$dirty" "$changed" "$runs" "$iters" "$(rustc --version)" \
  "$(( $(date +%s) - start ))" "$root" <<'PY' | tee "$work/ab.md"
import gzip, json, statistics, sys
from datetime import date
from pathlib import Path
work, base_sha, head_sha, dirty, changed, runs, iters, rustc, secs, root = sys.argv[1:]
work, root, runs = Path(work), Path(root), int(runs)
med = statistics.median

def load(side):
    return [json.loads((work / "criterion" / f"{side}-{i}.json").read_text()) for i in range(1, runs + 1)]

crit = {s: load(s) for s in ("base", "head")}
state = "" if dirty == "0" else f" plus {dirty} uncommitted file(s)"
if changed == "yes":
    state += " (WARNING: the working tree changed while head was built: its builds may not match)"
print(f"### Threat rules: base `{base_sha[:7]}` against head `{head_sha[:7]}`{state}\n")
print(f"Measured {date.today().isoformat()} by `bash bench/threat_ab.sh {base_sha[:7]}` ({rustc}; "
      f"2 cores, shared machine; {int(secs) // 60} min {int(secs) % 60} s before this report).\n")

print(f"Natively, criterion `inspect` (every payload and weak-authentication rule on; {runs} runs per side, "
      "interleaved base/head, `--warm-up-time 1 --measurement-time 2`; median of the runs' medians [min-max]):\n")
print("| benchmark | base µs | base range µs | head µs | head range µs | head/base |\n|---|---:|---:|---:|---:|---:|")
names = sorted(set().union(*crit["base"], *crit["head"]))
for n in names:
    cells = []
    meds = {}
    for s in ("base", "head"):
        v = [r[n] / 1000 for r in crit[s] if n in r]
        meds[s] = med(v) if v else None
        cells += [f"{med(v):.1f}", f"{min(v):.1f}-{max(v):.1f}"] if v else ["-", "-"]
    ratio = f"{meds['head'] / meds['base']:.2f}x" if meds["base"] and meds["head"] else "-"
    print(f"| `{n}` | " + " | ".join(cells) + f" | {ratio} |")

drv = json.loads((work / "driver.json").read_text())
print(f"\nNatively, instructions per `Inspector::inspect` call (callgrind; the bench file above built "
      f"against a stub criterion: 3 warm-up calls, then {iters} counted calls; deterministic):\n")
if drv.get("base") and drv.get("head"):
    print("| benchmark | base instructions | head instructions | head/base |\n|---|---:|---:|---:|")
    for n in names:
        b, h = drv["base"].get(n), drv["head"].get(n)
        print(f"| `{n}` | {b:,.0f} | {h:,.0f} | {h / b:.2f}x |" if b and h else f"| `{n}` | - | - | - |")
else:
    print("(skipped: the driver did not build or run for both sides; see target/bench-threat-ab/build-*.log)")

env = json.loads((work / "envoy.json").read_text())
res = env["results"]
routes = ["direct 200", "direct 404"]
def cell(name, route):
    v = res[f"{name}|{route}"]
    return med(v), min(v), max(v)
print(f"\nIn one Envoy under callgrind (`--concurrency 1`, {env['requests']:,} GETs per measurement, "
      f"{env['repeats']} repeats alternated over the listeners; median instructions per request [min-max]):\n")
print("| variant | " + " | ".join(routes) + " |\n|---|" + "---:|" * len(routes))
fmt = lambda c: f"{c[0]:,.0f} [{c[1]:,.0f}-{c[2]:,.0f}]"
print("| no filter | " + " | ".join(fmt(cell("no filter", r)) for r in routes) + " |")
sides = {"base": ("compared base", "compared base threat rules"), "head": ("actorwatch alert", "actorwatch threat rules")}
cost = {}
for s, (alert, threats) in sides.items():
    print(f"| {s}: actorwatch, 4XX rule (alert) | " + " | ".join(fmt(cell(alert, r)) for r in routes) + " |")
    print(f"| {s}: actorwatch, 4XX rule and every threat rule (alert) | " + " | ".join(fmt(cell(threats, r)) for r in routes) + " |")
    cost[s] = {r: cell(threats, r)[0] - cell(alert, r)[0] for r in routes}
    print(f"| **{s}: the threat rules' cost** (every threat rule minus 4XX only) | " + " | ".join(f"**+{cost[s][r]:,.0f}**" for r in routes) + " |")
print("| **threat rules' cost, head/base** | " + " | ".join(f"**{cost['head'][r] / cost['base'][r]:.2f}x**" for r in routes) + " |")

print("\nSizes of the post-linked filter (`actorwatch_filter.wasm`, binaryen -O3 post-link step):\n")
print("| build | raw bytes | gzip -9 bytes |\n|---|---:|---:|")
sz = {}
for s in ("base", "head"):
    d = (work / f"{s}.wasm").read_bytes()
    sz[s] = (len(d), len(gzip.compress(d, 9)))
    print(f"| {s} | {sz[s][0]:,} | {sz[s][1]:,} |")
dr, dg = sz["head"][0] - sz["base"][0], sz["head"][1] - sz["base"][1]
print(f"| head - base | {dr:+,} ({dr / 1024:+.1f} KiB) | {dg:+,} ({dg / 1024:+.1f} KiB) |")
print(f"\nGoal: at most +100 KB raw: {'met' if dr <= 100 * 1024 else 'NOT met'} ({dr / 1024:+.1f} KiB of 100 KiB).\n")
vocab = {s: sorted((work / f"vocab-{s}").glob("*.txt")) for s in ("base", "head")}
print("The detectors' vocabularies (`filter/core/vocab/*.txt` as each side was built, embedded whole with "
      "`include_str!`; entries are the lines that are not `#` headers):\n")
print("| file | base entries | base file bytes | head entries | head entry bytes (with newlines) | head file bytes (embedded) |")
print("|---|---:|---:|---:|---:|---:|")
def vstat(f):
    data = f.read_bytes()
    entries = [l for l in data.split(b"\n") if l and not l.startswith(b"#")]
    return len(entries), sum(len(l) + 1 for l in entries), len(data)
tot = [0] * 5
for name in sorted({f.name for fs in vocab.values() for f in fs}):
    b = vstat(work / "vocab-base" / name) if (work / "vocab-base" / name).exists() else None
    h = vstat(work / "vocab-head" / name) if (work / "vocab-head" / name).exists() else None
    vals = [b[0] if b else 0, b[2] if b else 0, h[0] if h else 0, h[1] if h else 0, h[2] if h else 0]
    tot = [x + y for x, y in zip(tot, vals)]
    show = [f"{v:,}" for v in vals]
    if not b:
        show[0:2] = ["-", "-"]
    print(f"| `{name}` | " + " | ".join(show) + " |")
print("| total | " + " | ".join(f"{v:,}" for v in tot) + " |")
PY
log "done: $work/ab.md"
