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
lines += ["", "Bytes per tracked actor (counting allocator, samples off, one rule with threshold 10):", ""]
for line in open(os.path.join(work, "memory.txt")):
    lines.append(f"- {line.strip()}")
times = []
for p in sorted(glob.glob(os.path.join(work, "replay-time-*.txt"))):
    secs, kb = open(p).read().split()[-2:]
    times.append((float(secs), int(kb)))
if times:
    secs = [t for t, _ in times]
    med = statistics.median(secs)
    lines += [
        "",
        "`actorwatch replay` of 1,000,000 JSON-lines records (a third of them 404s from 50,000 actors; "
        "`examples/alert.json`; release build; wall time including parsing and sorting):",
        "",
        f"- median {med:.2f} s ({1e6 / med / 1e6:.2f} M records/s), spread {min(secs):.2f}-{max(secs):.2f} s "
        f"over {len(secs)} runs; peak memory {max(k for _, k in times) / 1024:.0f} MiB",
    ]
print("\n".join(lines))
