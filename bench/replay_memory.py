"""Runs `actorwatch replay` (summary) and writes a JSON line: peak RSS, wall time, the engine's
memory, actors tracked, and whether the attacker was flagged."""
import json, re, resource, subprocess, sys, time

out, cmd = sys.argv[1], sys.argv[2:]
start = time.monotonic()
run = subprocess.run(cmd, capture_output=True, text=True, check=True)
wall = time.monotonic() - start
text = run.stdout
tracked = int(re.search(r"actors tracked at the end: (\d+)", text).group(1))
memory_mib = float(re.search(r"engine memory: ([\d.]+) MiB", text).group(1))
with open(out, "w") as f:
    json.dump({"seconds": wall, "peak_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
               "memory_mib": memory_mib, "actors_tracked": tracked,
               "attacker_flagged": "198.51.100.66" in text}, f)
