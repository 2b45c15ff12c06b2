"""Writes N one-off actors' 404s as JSON lines, 1 ms apart, with an attacker's 404 after every
EVERY of them (the replay side of the memory measurement; `actorwatch-flood` is the Envoy side)."""
import json, sys

n, every, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0 = 1_747_162_000_000
with open(out, "w") as f:
    for i in range(n):
        line = {"ts_ms": t0 + i, "method": "GET", "path": "/direct/flood", "status": 404,
                "peer": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:40000"}
        f.write(json.dumps(line, separators=(",", ":")) + "\n")
        if i % every == 0:
            line.update(path="/direct/probe", peer="198.51.100.66:40000")
            f.write(json.dumps(line, separators=(",", ":")) + "\n")
