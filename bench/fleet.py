"""Fleet mode under load: what one Redis primary does for a fleet of proxies (issue 13).

For every case (actors x counted responses/s across the fleet, 10 proxies) and every round, a
fresh redis-server and `actorwatch front` (both on free loopback ports, stopped by PID at the
end) take batches from `actorwatch-fleet-load`, which posts them as the proxies' aggregators
would. Redis's INFO before and after gives commands, bytes, CPU, FCALL time and memory; the load
generator gives round trips and the rate it achieved. Writes a markdown report (--out) and the
raw figures beside it (.json); with --readme, rewrites that file's fleet section too.

Usage: python3 bench/fleet.py [--secs 5] [--runs 3] [--proxies 10] [--out target/bench/fleet.md]
       [--readme bench/README.md] [--quick]
"""
import argparse, json, os, re, resource, secrets, select, shutil, signal, socket, statistics, subprocess, sys, tempfile, time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRONT = ROOT / "target/release/actorwatch"
LOAD = ROOT / "target/release/actorwatch-fleet-load"
TICK = os.sysconf("SC_CLK_TCK")
# (actors, offered counted responses/s across the fleet, hot set "ACTORS:SHARE" or None, warm-up
# seconds). The first, with nothing counted, is what every proxy costs anyway (its empty batches).
# The last measures after 62 s, once the 60 s windows of actors active all along are full: an
# actor's call reads its whole window, so short runs alone would understate what busy actors cost.
CASES = [(1_000, 0, None, 0)] + [
    (a, r, None, 0) for a in (1_000, 100_000, 1_000_000) for r in (1_000, 10_000, 100_000)
] + [(1_000_000, 100_000, "1000:0.9", 0), (100, 2_000, None, 62)]
# Buckets already in an actor's window for the per-actor work: 600 is a full 60 s window, 36,000
# a full hour (an actor counted in every 100 ms of it).
DEPTHS = (1, 50, 128, 600, 6_000, 36_000)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                         capture_output=True, text=True, timeout=30)
    return out.stdout


def info(port):
    """INFO all as {field: value}; commandstats as {command: {calls, usec}}."""
    fields, cmds = {}, {}
    for line in cli(port, "INFO", "all").splitlines():
        key, _, value = line.strip().partition(":")
        if key.startswith("cmdstat_"):
            parts = dict(p.split("=") for p in value.split(","))
            cmds[key[len("cmdstat_"):]] = {"calls": int(parts["calls"]), "usec": int(parts["usec"])}
        elif value:
            fields[key] = value
    return fields, cmds


def proc_cpu(pid):
    """User+system seconds of a process, from /proc (clock ticks)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu():
    """Busy seconds of all cores together, from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICK


def poll(deadline_s, what, f):
    """Polls f every 20 ms until it returns something true, else fails after deadline_s."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = f()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not come up within {deadline_s} s")


def stop(proc):
    """Stops a process this script started, by its PID."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def healthy(addr):
    try:
        return urllib.request.urlopen(f"http://{addr}/healthz", timeout=5).status == 200
    except OSError:
        return False


def read_first_line(proc, deadline_s):
    deadline = time.monotonic() + deadline_s
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            raise RuntimeError("actorwatch front printed no address")
        chunk = os.read(proc.stdout.fileno(), 1)
        if not chunk:
            raise RuntimeError(f"actorwatch front exited: {line!r}")
        line += chunk
    return line.decode()


def resp(*args):
    """One command in Redis's protocol, for redis-cli --pipe."""
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def start_redis(tmp):
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                              "--appendonly", "no", "--dir", tmp],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll(10, "redis-server", lambda: cli(port, "PING").strip() == "PONG")
    except Exception:
        stop(redis)
        raise
    return redis, port


DEPTH_CALLS = 100


def window_depth(calls=DEPTH_CALLS):
    """The per-actor work: µs per aw_apply (one entry, one rule) on an actor whose window already
    holds n buckets, called directly (no front). The keys are seeded as the library lays them out
    (aw:{actor}:wz:<rule>:<api>, :wc: and :ws:), with a window just long enough to keep them all."""
    tmp = tempfile.mkdtemp(prefix="actorwatch-fleet-bench-")
    redis, rows = None, []
    try:
        redis, port = start_redis(tmp)
        pipe = lambda data: subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=data,
                                           capture_output=True, timeout=60, check=True)
        pipe(resp("FUNCTION", "LOAD", "REPLACE", (ROOT / "fleet/actorwatch.lua").read_text()))
        for n in DEPTHS:
            base, now = f"aw:{{depth-{n}}}", int(time.time() * 10)
            window_ms = max(60_000, (n + 20) * 100)
            pipe(resp("ZADD", base + ":wz:R:", *[x for b in range(now - n, now) for x in (b, b)]) +
                 resp("HSET", base + ":wc:R:", *[x for b in range(now - n, now) for x in (b, 1)]) +
                 resp("HSET", base + ":ws:R:",
                      *[x for i, b in enumerate(range(now - n, now)) for x in (b, i + 1)]))
            cli(port, "CONFIG", "RESETSTAT")
            pipe(b"".join(resp("FCALL", "aw_apply", 1, base, "bench", seq, 2000, 100, 1, "R", window_ms,
                               10**9, 600_000, 0, 0, 1, 1, "", int(time.time() * 10), 1, 0)
                          for seq in range(1, calls + 1)))
            stats = info(port)[1]["fcall"]
            size = sum(int(cli(port, "MEMORY", "USAGE", base + k).strip() or 0) for k in (":wz:R:", ":wc:R:", ":ws:R:"))
            rows.append({"buckets": n, "window_s": window_ms / 1000, "usec": stats["usec"] / stats["calls"],
                         "bytes": size})
    finally:
        stop(redis)
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def run_case(actors, rate, hot, warm, proxies, secs):
    tmp = tempfile.mkdtemp(prefix="actorwatch-fleet-bench-")
    redis = front = gen = None
    # Batches are signed and checked, as in a deployment with fleet.hmac_secret (a throwaway key).
    env = dict(os.environ, ACTORWATCH_FLEET_SECRET=secrets.token_hex(16))
    try:
        redis, port = start_redis(tmp)
        front = subprocess.Popen([str(FRONT), "front", "--listen", "127.0.0.1:0", "--redis",
                                  f"redis://127.0.0.1:{port}"],
                                 stdout=subprocess.PIPE, stderr=open(Path(tmp) / "front.log", "wb"), env=env)
        addr = read_first_line(front, 10).strip().rsplit("http://", 1)[1]
        # The front loads the library on its first Redis connection (/healthz opens one): before
        # the measurement starts.
        poll(10, "actorwatch front /healthz", lambda: healthy(addr))
        empty_memory = int(info(port)[0]["used_memory"])
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        args = [str(LOAD), "--front", addr, "--proxies", str(proxies), "--actors", str(actors),
                "--rate", str(rate), "--secs", str(secs), "--warm", str(warm)] + (["--hot", hot] if hot else [])
        gen = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        # The measurement starts where the generator's figures do: after its warm-up, if any
        # (returns early if the generator ends before).
        try:
            gen.wait(timeout=warm)
        except subprocess.TimeoutExpired:
            pass
        before, cmds_before = info(port)
        front_cpu0, gen_cpu0, machine0 = proc_cpu(front.pid), proc_cpu(gen.pid), machine_cpu()
        out, err = gen.communicate(timeout=secs + 60)
        kids1, front_cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN), proc_cpu(front.pid)
        machine1 = machine_cpu()
        after, cmds_after = info(port)
        if gen.returncode != 0:
            raise RuntimeError(f"actorwatch-fleet-load failed: {err.strip()}")
        load = json.loads(out)
    finally:
        stop(gen)
        stop(front)
        stop(redis)
        shutil.rmtree(tmp, ignore_errors=True)

    d = lambda k: float(after[k]) - float(before[k])
    dc = lambda c, f: cmds_after.get(c, {}).get(f, 0) - cmds_before.get(c, {}).get(f, 0)
    wall = load["secs"]
    batches = max(load["batches_answered"], 1)
    fcalls = dc("fcall", "calls")
    redis_cpu = d("used_cpu_user") + d("used_cpu_sys")
    # INFO's own commands (the first snapshot's) are not the fleet's.
    commands = d("total_commands_processed") - dc("info", "calls")
    front_cpu = front_cpu1 - front_cpu0
    load_cpu = kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime - gen_cpu0
    touched = load["actors_touched"]
    return {
        "actors": actors, "rate": rate, "hot": hot, "warm": warm, "proxies": proxies,
        "achieved": load["achieved_rate"],
        "actors_per_batch": load["actors_per_batch"],
        "fcall_per_s": fcalls / wall,
        "commands_per_s": commands / wall,
        "commands_per_s_proxy": commands / wall / proxies,
        "bytes_per_s_proxy": (d("total_net_input_bytes") + d("total_net_output_bytes")) / wall / proxies,
        "redis_cpu_ms_batch": redis_cpu * 1000 / batches,
        "redis_cpu_share": redis_cpu / wall,
        "usec_per_fcall": dc("fcall", "usec") / max(fcalls, 1),
        "redis_cpu_us_fcall": redis_cpu * 1e6 / max(fcalls, 1),
        # Everything the run left in Redis (warm-up included), per actor it counted for.
        "bytes_per_actor": (int(after["used_memory"]) - empty_memory) / touched if touched else None,
        "rtt_p50_ms": load["rtt_ms"]["p50"], "rtt_p99_ms": load["rtt_ms"]["p99"],
        "rtt_max_ms": load["rtt_ms"]["max"],
        "front_cpu_share": front_cpu / wall,
        "load_cpu_share": load_cpu / wall,
        # Whatever else ran on the machine meanwhile (the cores are shared).
        "others_cpu_share": max(0.0, machine1 - machine0 - redis_cpu - front_cpu - load_cpu) / wall,
        "fired": load["fired"], "fired_age_p50_ms": load["fired_flag_age_ms"]["p50"],
        "errors": load["errors"], "error_samples": load["error_samples"],
        "late": load["responses_late"], "dropped": load["responses_dropped"],
        "offered": load["responses_offered"],
        "batches": load["batches_answered"], "secs": wall,
    }


def med(runs, key, fmt="{:,.0f}"):
    values = [r[key] for r in runs]
    if None in values:
        return "-"
    m = fmt.format(statistics.median(values))
    return m if len(values) < 2 else f"{m} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def case_name(actors, rate, hot, warm):
    if rate == 0:
        return "idle: empty batches"
    n = lambda x: f"{x // 1_000_000} M" if x >= 1_000_000 else f"{x // 1000}k" if x >= 1000 else str(x)
    name = f"{n(actors)} actors, {n(rate)}/s"
    if hot:
        hot_actors, share = hot.split(":")
        name += f", {float(share):.0%} of it from {n(int(hot_actors))} of them"
    return name + (f", windows full (measured after {warm} s)" if warm else "")


def report(results, depth, args):
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    out = [
        f"Measured {date.today().isoformat()} by `bench/fleet.py` (`make bench`, `make bench-fleet`; {args.runs} round(s) of every case "
        f"but the last (one run), {args.secs:g} s each, a fresh Redis per run; median [range]). Redis {redis_version.removeprefix('v=')} "
        f"(`--save '' --appendonly no`), one `actorwatch front` (4 threads), {args.proxies} simulated proxies "
        "(`actorwatch-fleet-load`: one signed batch in flight per proxy, every 100 ms), all on loopback and on the "
        f"same {os.cpu_count()} cores, shared. Offered responses are drawn uniformly over the actors unless a "
        "hot set is named. One rule (threshold 50 in 60 s).",
        "",
        "Load on Redis:",
        "",
        "| case | achieved responses/s | actors per batch | FCALL/s | commands/s (with the functions' own) "
        "| commands/s per proxy | bytes in+out/s per proxy | memory bytes/actor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, runs in results.items():
        out.append(f"| {case_name(*key)} | {med(runs, 'achieved')} | {med(runs, 'actors_per_batch', '{:,.1f}')} "
                   f"| {med(runs, 'fcall_per_s')} | {med(runs, 'commands_per_s')} | {med(runs, 'commands_per_s_proxy')} "
                   f"| {med(runs, 'bytes_per_s_proxy')} | {med(runs, 'bytes_per_actor')} |")
    out += [
        "",
        "CPU and latency (CPU shares are of one core: Redis from INFO cpu, the front from /proc, the load "
        "generator from its rusage, others' from /proc/stat minus those three; µs per FCALL is INFO commandstats' time inside the function):",
        "",
        "| case | Redis CPU ms per batch | Redis CPU share | µs per FCALL (in Lua) | Redis CPU µs per FCALL "
        "| front CPU share | generator CPU share | others' CPU share | round trip p50 ms | p99 ms | flags fired | fired flag age p50 ms "
        "| failed batches | late or dropped |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, runs in results.items():
        pct = "{:.0%}"
        out.append(f"| {case_name(*key)} | {med(runs, 'redis_cpu_ms_batch', '{:,.2f}')} | {med(runs, 'redis_cpu_share', pct)} "
                   f"| {med(runs, 'usec_per_fcall', '{:.1f}')} | {med(runs, 'redis_cpu_us_fcall', '{:.1f}')} "
                   f"| {med(runs, 'front_cpu_share', pct)} | {med(runs, 'load_cpu_share', pct)} "
                   f"| {med(runs, 'others_cpu_share', pct)} "
                   f"| {med(runs, 'rtt_p50_ms', '{:,.1f}')} | {med(runs, 'rtt_p99_ms', '{:,.1f}')} "
                   f"| {med(runs, 'fired')} | {med(runs, 'fired_age_p50_ms') if any(r['fired'] for r in runs) else '-'} "
                   f"| {sum(r['errors'] for r in runs)} "
                   f"| {sum(r['late'] + r['dropped'] for r in runs) / max(sum(r['offered'] for r in runs), 1):.1%} |")
    out += [
        "",
        f"Per-actor work: Redis time inside one `aw_apply` (one entry, one rule; {DEPTH_CALLS} calls, directly on Redis "
        "without the front) on an actor whose window already holds that many buckets, and the `MEMORY USAGE` of its "
        "two window keys:",
        "",
        "| buckets in the window | e.g. an actor counted in every 100 ms of | µs per aw_apply | window keys' bytes |",
        "|---:|---|---:|---:|",
    ]
    for row in depth:
        span = f"{row['buckets'] / 10:,.0f} s" if row["buckets"] > 1 else "one bucket"
        out.append(f"| {row['buckets']:,} | {span} | {row['usec']:,.1f} | {row['bytes']:,} |")
    out += ["", "Detection latency: a counted response waits up to one flush interval (100 ms) in its proxy's "
            "aggregator, then one batch round trip (above) until the flag is back. The fired flag age is that, "
            "measured: from the start of the 100 ms bucket in which an actor crossed its threshold to the answer "
            "that carried the flag. Late or dropped: the share of offered responses that reached Redis after the "
            "grace period (2 s) or that the proxy dropped for being older, as the aggregator does when its "
            "batches fall behind."]
    return "\n".join(out) + "\n"


def main():
    # A SIGTERM unwinds like Ctrl-C, so that every process this script started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--secs", type=float, default=5)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--proxies", type=int, default=10)
    p.add_argument("--out", default=str(ROOT / "target/bench/fleet.md"))
    p.add_argument("--readme")
    p.add_argument("--quick", action="store_true", help="one round of the 1k-actor cases")
    args = p.parse_args()
    for binary in (FRONT, LOAD):
        if not binary.exists():
            sys.exit(f"{binary} is missing: make build")
    cases = CASES[:4] if args.quick else CASES
    args.runs = 1 if args.quick else args.runs
    results = {c: [] for c in cases}
    started = time.monotonic()
    # Rounds alternate the cases, so that a busy moment of the machine spreads over all of them.
    for i in range(args.runs):
        # A case with a warm-up takes a minute: one run of it, in the first round.
        for c in [c for c in cases if i == 0 or not c[3]]:
            print(f"fleet: round {i + 1} of {args.runs}: {case_name(*c)}", file=sys.stderr)
            r = run_case(*c, args.proxies, args.secs)
            if r["errors"]:
                print(f"  {r['errors']} failed batches, e.g. {r['error_samples'][:1]}", file=sys.stderr)
            results[c].append(r)
    print("fleet: per-actor work (window depth)", file=sys.stderr)
    depth = window_depth()
    print(f"fleet: {time.monotonic() - started:.0f} s", file=sys.stderr)
    text = report(results, depth, args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps({"runs": [r for runs in results.values() for r in runs],
                                                    "window_depth": depth}, indent=1))
    if args.readme:
        path = Path(args.readme)
        begin, end = "<!-- fleet:begin -->", "<!-- fleet:end -->"
        path.write_text(re.sub(re.escape(begin) + ".*?" + re.escape(end),
                               lambda _: begin + "\n" + text.rstrip() + "\n" + end, path.read_text(), flags=re.S))
    print(text)


if __name__ == "__main__":
    main()
