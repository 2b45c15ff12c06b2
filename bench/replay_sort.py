"""`actorwatch replay` of input out of order: N records (default 10 M) of `bench/replay_input.py`'s
traffic written in a shuffled order (fixed seed), replayed under `/usr/bin/time -v`; the same
records in time order replayed once for comparison, and both summaries checked to be the same.
Prints peak RSS, records/s and the runs sorted on disk, as a Markdown table and a JSON line.

    python3 bench/replay_sort.py [--records N] [--runs R] [--work DIR]

Needs a release build (`cargo build --release -p actorwatch-cli`) and, per 10 M records, 1.6 GB
of disk for each input (removed at the end) and 0.9 GB in $TMPDIR for the sorted runs while a
replay runs. Not part of `make bench` or `make test`.
"""
import argparse, json, os, random, re, statistics, subprocess, sys
from pathlib import Path

T0 = 1_747_162_000_000


def record(i):
    """Record i of `bench/replay_input.py`: a third 404s from 50,000 actors, 2 ms apart."""
    actor = i % 50_000
    status = 404 if i % 3 == 0 else 200
    return (f'{{"ts_ms":{T0 + i * 2},"method":"GET","path":"/api/items/{i % 977}?page=2","status":{status},'
            f'"peer":"10.{(actor >> 16) & 255}.{(actor >> 8) & 255}.{actor & 255}:{40000 + i % 20000}",'
            f'"headers":{{"user-agent":"bench/1","accept":"*/*"}}}}\n')


def write(path, order):
    with open(path, "w", buffering=1 << 20) as f:
        for start in range(0, len(order), 100_000):
            f.write("".join(record(i) for i in order[start:start + 100_000]))


def timed(cmd):
    """Runs cmd under /usr/bin/time -v: stdout, stderr (actorwatch's own), peak RSS KiB, wall s."""
    run = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True)
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", run.stderr)
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return run.stdout, run.stderr, peak_kib, seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="target/bench-replay-sort")
    ap.add_argument("--binary", default="target/release/actorwatch")
    ap.add_argument("--config", default="examples/alert.json")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    n = args.records
    shuffled, in_order = work / "shuffled.jsonl", work / "sorted.jsonl"
    print(f"writing {n:,} records in time order and shuffled", file=sys.stderr)
    order = list(range(n))
    write(in_order, order)
    random.Random(22).shuffle(order)
    write(shuffled, order)
    del order
    cmd = [args.binary, "replay", "--config", args.config]
    try:
        print("replaying the records in time order", file=sys.stderr)
        reference, _, sorted_kib, sorted_s = timed([*cmd, str(in_order)])
        runs = []
        for i in range(args.runs):
            print(f"replaying the shuffled records: run {i + 1} of {args.runs}", file=sys.stderr)
            out, err, kib, s = timed([*cmd, str(shuffled)])
            if out != reference:
                sys.exit(f"the shuffled input's summary differs from the sorted input's:\n{out}\n{reference}")
            spilled = re.search(r"(\d+) records sorted on disk \((\d+) of them, (\d+) MB, in (\d+) sorted runs\)", err)
            if not spilled:
                sys.exit(f"the shuffled input was not sorted on disk:\n{err}")
            runs.append({"peak_rss_kib": kib, "seconds": s, "spilled": int(spilled.group(2)),
                         "spilled_mb": int(spilled.group(3)), "sorted_runs": int(spilled.group(4))})
    finally:
        shuffled.unlink(missing_ok=True)
        in_order.unlink(missing_ok=True)
    mib = lambda kib: kib / 1024
    med_s = statistics.median(r["seconds"] for r in runs)
    med_kib = statistics.median(r["peak_rss_kib"] for r in runs)
    print("| input | runs | wall s, median (spread) | records/s | peak RSS MiB, median (spread) | on disk |")
    print("|---|---:|---:|---:|---:|---|")
    print(f"| {n:,} records in time order | 1 | {sorted_s:.2f} | {n / sorted_s / 1e6:.2f} M | {mib(sorted_kib):.0f} | - |")
    print(f"| {n:,} records shuffled | {len(runs)} | {med_s:.2f} ({min(r['seconds'] for r in runs):.2f}-"
          f"{max(r['seconds'] for r in runs):.2f}) | {n / med_s / 1e6:.2f} M | {mib(med_kib):.0f} "
          f"({mib(min(r['peak_rss_kib'] for r in runs)):.0f}-{mib(max(r['peak_rss_kib'] for r in runs)):.0f}) | "
          f"{runs[0]['spilled']:,} records, {runs[0]['spilled_mb']:,} MB in {runs[0]['sorted_runs']} sorted runs |")
    print(json.dumps({"records": n, "sorted": {"seconds": sorted_s, "peak_rss_kib": sorted_kib}, "shuffled": runs}))


if __name__ == "__main__":
    main()
