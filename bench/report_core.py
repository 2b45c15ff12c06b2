"""Writes the markdown section for the core benchmarks from run-N.json and memory.txt."""
import glob, json, os, statistics, sys
from datetime import date

work, rustc = sys.argv[1], sys.argv[2]
runs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(work, "run-*.json")))]
names = sorted(runs[0]) if runs else []
# Elements per iteration, as the benchmarks declare them.
per_iter = {"worker/apply_delta_1000_records": 1000}

lines = [
    f"Measured {date.today().isoformat()} by `make bench` ({len(runs)} criterion runs; {rustc}; "
    f"{os.cpu_count()} cores, shared machine). Time is per observation; the spread is the range of "
    "the runs' medians.",
    "",
    "| benchmark | median ns/op | spread ns/op | operations/s per core |",
    "|---|---:|---:|---:|",
]
for name in names:
    n = per_iter.get(name, 1)
    values = [r[name] / n for r in runs if name in r]
    med = statistics.median(values)
    lines.append(f"| `{name}` | {med:.1f} | {min(values):.1f}-{max(values):.1f} | {1e9 / med / 1e6:.2f} M |")
# Response inspection: the cost per KB read, against a typical request's inspection in the
# same runs (rules that read responses run only for matched requests and their statuses).
pairs = [(r["response/json_4kb"] / 4, r["inspect/get_1kb"]) for r in runs
         if "response/json_4kb" in r and "inspect/get_1kb" in r]
if pairs:
    per_kb = [kb for kb, _ in pairs]
    ratio = [kb / get for kb, get in pairs]
    lines += [
        "",
        f"Reading a response body for leaks (`response/json_4kb`, per KB read): median "
        f"{statistics.median(per_kb):.0f} ns/KB, spread {min(per_kb):.0f}-{max(per_kb):.0f}; "
        f"{statistics.median(ratio):.2f}x (spread {min(ratio):.2f}-{max(ratio):.2f}) the inspection "
        "of a typical 1 KB GET (`inspect/get_1kb`) in the same run. With no rule reading responses "
        "nothing is read: the default Wasm module does not export the response callbacks.",
    ]
lines += ["", "Bytes per tracked actor (counting allocator, samples off, one rule with threshold 10):", ""]
for line in open(os.path.join(work, "memory.txt")):
    lines.append(f"- {line.strip()}")
replay = []
for label, size, n in [("1m", "1,000,000", 1_000_000), ("10m", "10,000,000", 10_000_000)]:
    times = []
    for p in sorted(glob.glob(os.path.join(work, f"replay-time-{label}-*.txt"))):
        secs, kb = open(p).read().split()[-2:]
        times.append((float(secs), int(kb)))
    if times:
        secs = [t for t, _ in times]
        mib = [k / 1024 for _, k in times]
        med = statistics.median(secs)
        replay.append(
            f"- {size} records: median {med:.2f} s ({med / n * 1e9:.0f} ns/record, {n / med / 1e6:.2f} M records/s), "
            f"spread {min(secs):.2f}-{max(secs):.2f} s over {len(secs)} runs; peak RSS median "
            f"{statistics.median(mib):.0f} MiB, spread {min(mib):.0f}-{max(mib):.0f} MiB"
        )
if replay:
    lines += [
        "",
        "`actorwatch replay` of JSON-lines records (`bench/replay_input.py`: a third of them 404s from 50,000 "
        "actors, 2 ms apart; `examples/alert.json`; release build; wall time including reading and parsing; "
        "peak RSS of the process, `bench/timed.py`):",
        "",
    ] + replay
print("\n".join(lines))
