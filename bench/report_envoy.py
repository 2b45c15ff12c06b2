"""Markdown tables for bench/README.md from envoy_overhead.py's JSON results."""
import json, statistics, sys
from datetime import date

ROUTES = ["direct 200", "direct 404", "proxied 200", "proxied 404"]


def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None


def spread(values):
    return f"{min(values):,.0f}-{max(values):,.0f}" if len(values) > 1 else "-"


def callgrind_table(cg):
    res = cg["results"]
    variants = list(dict.fromkeys(k.split("|")[0] for k in res))
    routes = [r for r in ROUTES if f"no filter|{r}" in res]
    med = {k: statistics.median(v) for k, v in res.items()}
    has_empty = any(k.startswith("empty proxy-wasm|") for k in res)
    out = [
        f"Instructions per request under callgrind (Envoy 1.40, `--concurrency 1`, {cg['requests']} requests per measurement, "
        f"{cg['repeats']} alternated repeats; median, with the range of the repeats). Deltas are against the "
        "no-filter listener" + (" and against the empty proxy-wasm filter" if has_empty else "")
        + " in the same process; `native` rows are the native dynamic module (`make build-native`) with the same "
        "configuration as the `actorwatch` row above them.",
        "",
        "| variant | " + " | ".join(routes) + " |",
        "|---|" + "---:|" * len(routes),
    ]
    for v in variants:
        cells = []
        for r in routes:
            k = f"{v}|{r}"
            base = med[f"no filter|{r}"]
            d = med[k] - base
            vs_empty = f"; vs empty {med[k] - med[f'empty proxy-wasm|{r}']:+,.0f}" if has_empty else ""
            extra = "" if v in ("no filter",) else f" ({d:+,.0f}{vs_empty})"
            cells.append(f"{med[k]:,.0f}{extra} [{spread(res[k])}]")
        out.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def timing_table(t):
    res = t["results"]
    variants = list(dict.fromkeys(k.split("|")[0] for k in res))
    out = [
        f"Load runs (Envoy pinned to core 0, `hey -c 4` pinned to core 1, {t['requests']} requests per run, "
        f"{t['repeats']} alternated rounds; median [range]). Envoy CPU per request is from /proc (10 ms ticks); "
        "hey reports latency in 0.1 ms steps.",
        "",
        "| variant | route | requests/s | p50 µs | p99 µs | Envoy CPU µs/request |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for v in variants:
        for r in [r for r in ROUTES if f"{v}|{r}" in res]:
            runs = res[f"{v}|{r}"]
            col = lambda f: f"{statistics.median([x[f] for x in runs]):,.1f} [{min(x[f] for x in runs):,.1f}-{max(x[f] for x in runs):,.1f}]"
            out.append(f"| {v} | {r} | {col('rps')} | {col('p50_us')} | {col('p99_us')} | {col('cpu_us')} |")
    return "\n".join(out)


def attack_table(a):
    out = [
        "Under attack (Envoy `--concurrency 1`, actorwatch alert mode, actors from X-Forwarded-For, `max_actors` "
        f"{a['max_actors']:,}): the same number of 404s from few or from many distinct actors.",
        "",
        "| scenario | requests | Envoy RSS before → after (MiB) | Envoy CPU µs/request | actors tracked | evicted |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in a["scenarios"]:
        out.append(
            f"| {s['name']} | {s['requests']:,} | {s['rss_before_kib'] / 1024:,.1f} → {s['rss_after_kib'] / 1024:,.1f} | "
            f"{s['cpu_us']:,.1f} | {s['actors_tracked']:,} | {s['actors_evicted']:,} |"
        )
    return "\n".join(out)


def memory_table(m):
    res = m["results"]
    base = statistics.median(x["rss_after_kib"] for x in res["no filter"]) if "no filter" in res else None
    mib = lambda runs, f: f"{statistics.median(x[f] for x in runs) / 1024:,.1f} [{min(x[f] for x in runs) / 1024:,.1f}-{max(x[f] for x in runs) / 1024:,.1f}]"
    out = [
        f"Resident memory (VmRSS) of Envoy at `--concurrency {m['concurrency']}`, one Envoy per variant, after start-up "
        f"and after {m['requests']:,} requests from {m['actors']:,} X-Forwarded-For actors (half 200s, half 404s); "
        f"median [range] of {m['repeats']} alternated runs, in MiB.",
        "",
        "| variant | RSS after start-up | RSS after the requests | over no filter |",
        "|---|---:|---:|---:|",
    ]
    for v, runs in res.items():
        over = "" if base is None or v == "no filter" else f"{(statistics.median(x['rss_after_kib'] for x in runs) - base) / 1024:+,.1f}"
        out.append(f"| {v} | {mib(runs, 'rss_start_kib')} | {mib(runs, 'rss_after_kib')} | {over} |")
    return "\n".join(out)


parts = [f"Measured {date.today().isoformat()} by `make bench`."]
# Callgrind results may come from several Envoy processes ("a.json,b.json"), each with its own
# no-filter and empty-filter baselines.
cgs = [load(p) for p in sys.argv[1].split(",")]
timing, attack = (load(p) for p in sys.argv[2:4])
memory = load(sys.argv[4]) if len(sys.argv) > 4 else None
for i, cg in enumerate(c for c in cgs if c):
    if i:
        parts.append("The same measured in a second Envoy process (V8 under valgrind holds only a few Wasm VMs):")
    parts.append(callgrind_table(cg))
if timing:
    parts.append(timing_table(timing))
if attack:
    parts.append(attack_table(attack))
if memory:
    parts.append(memory_table(memory))
print("\n\n".join(parts))
