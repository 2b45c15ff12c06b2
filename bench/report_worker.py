"""Markdown table for bench/README.md from edge-worker/bench/cpu.mjs's JSON results."""
import json, statistics, sys
from datetime import date

res = json.load(open(sys.argv[1]))
runs = res["results"]
med = lambda name, field: statistics.median(r[field] for r in runs[name])
rng = lambda name, field: f"{min(r[field] for r in runs[name]):,.1f}-{max(r[field] for r in runs[name]):,.1f}"
out = [
    f"Measured {date.today().isoformat()} by `make bench`: one workerd (Miniflare 4) process pinned to core 0 running both Workers, "
    f"`hey -c {res['concurrency']}` pinned to core 1, {res['requests']} requests per run, {res['repeats']} alternated rounds; "
    "median [range]. CPU is the workerd process's user+system time from /proc (10 ms ticks) over the run, "
    "until workerd is idle again (work left in `waitUntil` included); the origin runs outside workerd.",
    "",
    "| Worker | origin answers | workerd CPU µs/request | vs pass-through | requests/s |",
    "|---|---|---:|---:|---:|",
]
for name in runs:
    worker, status = name.split("|")
    base = f"pass-through JS Worker|{status}"
    ratio = med(name, "cpu_us") / med(base, "cpu_us")
    out.append(
        f"| {worker} | {status} | {med(name, 'cpu_us'):,.1f} [{rng(name, 'cpu_us')}] | "
        f"{ratio:.2f}× ({med(name, 'cpu_us') - med(base, 'cpu_us'):+,.1f} µs) | {med(name, 'rps'):,.0f} [{rng(name, 'rps')}] |"
    )
print("\n".join(out))
