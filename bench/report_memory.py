"""The memory section of bench/README.md: 1 M one-off actors through `actorwatch replay` and
through real Envoy, with a threshold-10,000 rule and with the default rule."""
import json, sys
from datetime import date
from pathlib import Path

work = Path(sys.argv[1])
rows_replay, rows_envoy = [], []
for name, label in [("threshold-10000", "`SLOW_SCAN`: 10,000 in 1 h (`bench/flood/threshold-10000.json`)"),
                    ("default-rules", "default rule: 10 in 60 s, samples on (`bench/flood/default-rules.json`)")]:
    r = json.loads((work / f"replay-flood-{name}.json").read_text())
    e = json.loads((work / f"envoy-flood-{name}.json").read_text())
    rows_replay.append(f"| {label} | {r['peak_rss_kib'] / 1024:,.0f} | {r['memory_mib']:.1f} | {r['actors_tracked']:,} | "
                       f"{'yes' if r['attacker_flagged'] else 'NO'} | {r['seconds']:.1f} |")
    rows_envoy.append(f"| {label} | {e['rss_before_kib'] / 1024:,.0f} → {e['rss_after_kib'] / 1024:,.0f} | "
                      f"{e['memory_bytes'] / 2**20:.1f} | {e['actors_tracked']:,} | {e['actors_evicted']:,} | "
                      f"{e['attacker_events']} | {e['actors'] + e['attacker_requests']:,} in {e['seconds']:.0f} s |")
print(f"""Measured {date.today().isoformat()} by `make bench`: 1,000,000 one-off actors (one 404 each) with an
attacker hidden among them, `max_actors` 50,000,000 (so that only the byte budget binds),
`max_memory_mb` 64 (the default). Engine memory is the engine's own accounting (`memory_bytes`),
which the counting-allocator test `filter/core/tests/memory.rs` checks against every byte
allocated.

`actorwatch replay` (release build; the peak includes the records of the reorder window, the 60 s
default, which replay holds while it reads its input):

| rule | peak RSS (MiB) | engine memory (MiB) | actors tracked at the end | attacker flagged | seconds |
|---|---:|---:|---:|:---:|---:|
""" + "\n".join(rows_replay) + """

Real Envoy 1.40 (`--concurrency 2`, singleton aggregator, actors from X-Forwarded-For,
`tests/src/bin/flood.rs`):

| rule | Envoy RSS before → after (MiB) | engine memory (MiB) | actors tracked | evicted | attacker events | requests |
|---|---:|---:|---:|---:|---:|---:|
""" + "\n".join(rows_envoy))
