"""Writes N JSON-lines records of mixed traffic (for the replay throughput figure)."""
import json, sys

n = int(sys.argv[1])
t0 = 1_747_162_000_000
with open(sys.argv[2], "w") as f:
    for i in range(n):
        actor = i % 50_000
        status = 404 if i % 3 == 0 else 200
        f.write(json.dumps({
            "ts_ms": t0 + i * 2,
            "method": "GET",
            "path": f"/api/items/{i % 977}?page=2",
            "status": status,
            "peer": f"10.{(actor >> 16) & 255}.{(actor >> 8) & 255}.{actor & 255}:{40000 + i % 20000}",
            "headers": {"user-agent": "bench/1", "accept": "*/*"},
        }, separators=(",", ":")) + "\n")
