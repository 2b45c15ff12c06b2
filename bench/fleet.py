"""Fleet mode under load: what one Redis primary does for a fleet of proxies (issue 13).

For every case (actors x counted responses/s across the fleet, 10 proxies) and every round, a
fresh redis-server and `actorwatch front` (both on free loopback ports, stopped by PID at the
end) take batches from `actorwatch-fleet-load`, which posts them as the proxies' aggregators
would. Redis's INFO before and after gives commands, bytes, CPU, FCALL time and memory; the load
generator gives round trips and the rate it achieved. Writes a markdown report (--out) and the
raw figures beside it (.json); with --readme, rewrites that file's fleet section too.

A second part (issue 22), "a fleet arriving at once": --burst-proxies (50) simulated proxies,
asyncio tasks in this script, all connecting at the same instant to a fresh front on a healthy
Redis, each on its own keep-alive connection, each sending a signed batch every 100 ms (the
aggregator's flush) and giving up on an answer after 250 ms (`fleet.timeout_ms`'s default), as
Envoy does: the connection is closed and the next batch opens a new one. Counts timed-out
batches (the goal is none), answered batches/s and round-trip percentiles; then the same fleet
flat out (each proxy's next batch as soon as the last is answered), for requests/s.
--burst-only runs just that part; --front-bin measures another build of the front (an older
one, to compare).

Usage: python3 bench/fleet.py [--secs 5] [--runs 3] [--proxies 10] [--out target/bench/fleet.md]
       [--readme bench/README.md] [--quick] [--burst-only] [--burst-proxies 50] [--burst-secs 10]
       [--front-bin target/release/actorwatch]
"""
import argparse, asyncio, hashlib, hmac, json, os, random, re, resource, secrets, select, shutil, signal, socket, statistics, subprocess, sys, tempfile, time
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
        front = subprocess.Popen([str(args_front()), "front", "--listen", "127.0.0.1:0", "--redis",
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
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
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


# A fleet arriving at once (issue 22).
FLUSH_S = 0.1          # the aggregator's flush interval (fleet.flush_ms)
PROXY_TIMEOUT_S = 0.25  # how long a proxy waits for an answer (fleet.timeout_ms's default)
BURST_ACTORS = 10_000  # actors drawn from, 10 per batch: 100 counted responses/s per proxy
BURST_PER_BATCH = 10
FRONT_BIN = [FRONT]
BURST_MODES = (("paced (every 100 ms)", True), ("flat out", False))


def args_front():
    return FRONT_BIN[0]


async def read_answer(reader):
    """One HTTP/1.1 answer: (status, close)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length, close = 0, False
    for line in lines[1:]:
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "content-length":
            length = int(value)
        elif key == "connection":
            close = "close" in value.lower()
    await reader.readexactly(length)
    return status, close


async def burst_proxy(host, port, index, t0, end, secret, paced, tally, sock):
    """One proxy: a signed batch per flush (or, flat out, as soon as the last is answered) on a
    keep-alive connection; a batch unanswered after PROXY_TIMEOUT_S is given up and its
    connection closed, as Envoy does."""
    loop = asyncio.get_running_loop()
    rng = random.Random(index)
    instance = f"{rng.getrandbits(64):016x}"
    reader, writer = await asyncio.open_connection(sock=sock)
    rule = {"id": "BENCH_4XX", "window_ms": 60_000, "threshold": 50, "cooldown_ms": 600_000,
            "block_ms": 0, "block_status": 0}

    def build(seq):
        bucket = int(time.time() * 10)
        # Actors are IPv4 addresses from 10.0.0.0 on, keyed as the filter keys them.
        actors = [{"key": f"04{0x0a000000 + rng.randrange(BURST_ACTORS):08x}", "entries": [[0, "", bucket, 1]]}
                  for _ in range(BURST_PER_BATCH)]
        body = json.dumps({"v": 1, "instance": instance, "seq": seq, "grace_ms": 2000, "bucket_ms": 100,
                           "blocks_since_ms": 0, "rules": [rule], "actors": actors},
                          separators=(",", ":")).encode()
        t_secs = int(time.time())
        mac = hmac.new(secret, f"{t_secs}.".encode() + body, hashlib.sha256).hexdigest()
        return (f"POST /v1/batch HTTP/1.1\r\nhost: actorwatch_fleet\r\ncontent-type: application/json\r\n"
                f"x-actorwatch-signature: t={t_secs},v1={mac}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body

    seq, due = 0, t0
    while True:
        # The next batch is built before its flush, so that building 50 of them at the same
        # instant does not count in the round trips.
        seq += 1
        request = build(seq)
        now = loop.time()
        if paced and due > now:
            await asyncio.sleep(due - now)
        flush_at = loop.time()
        if flush_at >= end:
            break
        due = flush_at + FLUSH_S
        tally["sent"] += 1
        started = loop.time()
        try:
            async def exchange():
                nonlocal reader, writer
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                    tally["connections"] += 1
                    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                writer.write(request)
                return await read_answer(reader)
            # The proxy's timeout runs from the flush, connecting included.
            status, close = await asyncio.wait_for(exchange(), PROXY_TIMEOUT_S)
            rtt = loop.time() - started
            if status == 200:
                tally["rtt"].append(rtt)
            else:
                tally["failed"] += 1
            if close:
                writer.close()
                reader = writer = None
        except asyncio.TimeoutError:
            tally["timed_out"] += 1
            tally["timed_out_at"].append(flush_at - t0)
            if writer is not None:
                writer.close()
            reader = writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            tally["failed"] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def burst_fleet(addr, proxies, secs, secret, paced):
    host, port = addr.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    tally = {"sent": 0, "failed": 0, "timed_out": 0, "timed_out_at": [], "rtt": [], "connections": proxies}
    # Every proxy connects at the same instant (one tight loop), then sends its first batch.
    socks = []
    try:
        for _ in range(proxies):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            socks.append(s)
    except OSError:
        for s in socks:
            s.close()
        raise
    t0 = loop.time()
    end = t0 + secs
    await asyncio.gather(*(burst_proxy(host, int(port), i, t0, end, secret, paced, tally, s)
                           for i, s in enumerate(socks)))
    return tally


def quantile(values, q):
    values = sorted(values)
    return values[round((len(values) - 1) * q)] if values else 0.0


def run_burst(front_bin, proxies, secs, paced):
    tmp = tempfile.mkdtemp(prefix="actorwatch-fleet-bench-")
    redis = front = None
    secret = secrets.token_hex(16)
    env = dict(os.environ, ACTORWATCH_FLEET_SECRET=secret)
    try:
        redis, port = start_redis(tmp)
        front = subprocess.Popen([str(front_bin), "front", "--listen", "127.0.0.1:0", "--redis",
                                  f"redis://127.0.0.1:{port}"],
                                 stdout=subprocess.PIPE, stderr=open(Path(tmp) / "front.log", "wb"), env=env)
        addr = read_first_line(front, 10).strip().rsplit("http://", 1)[1]
        poll(10, "actorwatch front /healthz", lambda: healthy(addr))
        own = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        cpu0, redis0, own0, machine0 = proc_cpu(front.pid), proc_cpu(redis.pid), own(), machine_cpu()
        started = time.monotonic()
        tally = asyncio.run(burst_fleet(addr, proxies, secs, secret.encode(), paced))
        wall = time.monotonic() - started
        front_cpu, redis_cpu, own_cpu = proc_cpu(front.pid) - cpu0, proc_cpu(redis.pid) - redis0, own() - own0
        others = max(0.0, machine_cpu() - machine0 - front_cpu - redis_cpu - own_cpu)
    finally:
        stop(front)
        stop(redis)
        shutil.rmtree(tmp, ignore_errors=True)
    rtt = tally["rtt"]
    return {"proxies": proxies, "secs": secs, "paced": paced, "sent": tally["sent"],
            "answered": len(rtt), "timed_out": tally["timed_out"], "failed": tally["failed"],
            "timed_out_first_s": sum(1 for t in tally["timed_out_at"] if t < 1.0),
            "connections": tally["connections"], "answered_per_s": len(rtt) / secs,
            "rtt_p50_ms": quantile(rtt, 0.5) * 1000, "rtt_p99_ms": quantile(rtt, 0.99) * 1000,
            "rtt_max_ms": max(rtt, default=0.0) * 1000, "front_cpu_share": front_cpu / wall,
            "redis_cpu_share": redis_cpu / wall, "load_cpu_share": own_cpu / wall, "others_cpu_share": others / wall}


def burst_report(results, args):
    """results: {(build label, mode): [runs]}."""
    out = [
        f"Measured {date.today().isoformat()} by `bench/fleet.py` (`make bench-fleet`; `--burst-only` for this part alone): "
        f"{args.burst_proxies} simulated proxies (asyncio tasks of the script) connect to a fresh `actorwatch front` "
        f"(defaults: 4 Redis connections) on a fresh Redis at the same instant, each on its own keep-alive connection, "
        f"and send a signed batch of {BURST_PER_BATCH} actors each; a batch unanswered after {PROXY_TIMEOUT_S * 1000:.0f} ms "
        "(`fleet.timeout_ms`'s default) is given up and its connection closed, as Envoy does. Paced: one batch per "
        f"proxy every {FLUSH_S * 1000:.0f} ms, all proxies' flushes aligned. Flat out: each proxy's next batch as soon as "
        f"the last is answered. {args.runs} run(s) of {args.burst_secs:g} s each"
        + (", the two builds alternating" if args.baseline else "")
        + f", median [range]; same {os.cpu_count()} shared cores as above.",
        "",
        "| build | fleet | batches sent | answered/s | timed out (> 250 ms) | of them in the first second | other failures "
        "| connections opened | round trip p50 ms | p99 ms | max ms | front CPU share | Redis CPU share "
        "| generator CPU share | others' CPU share |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (label, name), runs in results.items():
        if not runs:
            continue
        out.append(f"| {label} | {args.burst_proxies} proxies, {name} | {med(runs, 'sent')} | {med(runs, 'answered_per_s')} "
                   f"| {sum(r['timed_out'] for r in runs)} in {len(runs)} runs ({med(runs, 'timed_out')}) "
                   f"| {sum(r['timed_out_first_s'] for r in runs)} | {sum(r['failed'] for r in runs)} "
                   f"| {med(runs, 'connections')} | {med(runs, 'rtt_p50_ms', '{:,.2f}')} "
                   f"| {med(runs, 'rtt_p99_ms', '{:,.2f}')} | {med(runs, 'rtt_max_ms', '{:,.1f}')} "
                   f"| {med(runs, 'front_cpu_share', '{:.0%}')} | {med(runs, 'redis_cpu_share', '{:.0%}')} "
                   f"| {med(runs, 'load_cpu_share', '{:.0%}')} | {med(runs, 'others_cpu_share', '{:.0%}')} |")
    return "\n".join(out) + "\n"


def write_block(path, name, text):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    content = path.read_text()
    if begin not in content:
        sys.exit(f"{path} has no {begin} ... {end} block")
    path.write_text(re.sub(re.escape(begin) + ".*?" + re.escape(end),
                           lambda _: begin + "\n" + text.rstrip() + "\n" + end, content, flags=re.S))


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
    p.add_argument("--burst-only", action="store_true", help="only the fleet arriving at once")
    p.add_argument("--burst-proxies", type=int, default=50)
    p.add_argument("--burst-secs", type=float, default=10)
    p.add_argument("--front-bin", default=str(FRONT), help="the actorwatch build to measure")
    p.add_argument("--label", default="this build", help="its name in the fleet-at-once table")
    p.add_argument("--baseline", help="another actorwatch build, measured in the same rounds (fleet at once only)")
    p.add_argument("--baseline-label", default="baseline")
    args = p.parse_args()
    FRONT_BIN[0] = Path(args.front_bin)
    builds = [(args.label, FRONT_BIN[0])] + ([(args.baseline_label, Path(args.baseline))] if args.baseline else [])
    for binary in [b for _, b in builds] + ([] if args.burst_only else [LOAD]):
        if not binary.exists():
            sys.exit(f"{binary} is missing: make build")
    if not 1 <= args.burst_proxies <= 500 or not 0 < args.burst_secs <= 600:
        sys.exit("--burst-proxies 1-500, --burst-secs up to 600")
    cases = [] if args.burst_only else CASES[:4] if args.quick else CASES
    args.runs = 1 if args.quick else args.runs
    results = {c: [] for c in cases}
    bursts = {(label, name): [] for label, _ in builds for name, _ in BURST_MODES}
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
        for name, paced in BURST_MODES:
            # Builds alternate too, in an order that changes every round.
            for label, binary in builds[::-1] if i % 2 else builds:
                print(f"fleet: round {i + 1} of {args.runs}: {label}, {args.burst_proxies} proxies at once, {name}",
                      file=sys.stderr)
                r = run_burst(binary, args.burst_proxies, args.burst_secs, paced)
                print(f"  {r['answered_per_s']:,.0f} answered/s, {r['timed_out']} timed out, "
                      f"p99 {r['rtt_p99_ms']:.2f} ms", file=sys.stderr)
                bursts[(label, name)].append(r)
    depth = []
    if cases:
        print("fleet: per-actor work (window depth)", file=sys.stderr)
        depth = window_depth()
    print(f"fleet: {time.monotonic() - started:.0f} s", file=sys.stderr)
    text = report(results, depth, args) if cases else ""
    burst_text = burst_report(bursts, args)
    out = Path(args.out)
    if args.burst_only and args.out == p.get_default("out"):
        out = out.with_name("fleet-burst.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + ("\n" if text else "") + burst_text)
    out.with_suffix(".json").write_text(json.dumps({"front": str(FRONT_BIN[0]),
                                                    "runs": [r for runs in results.values() for r in runs],
                                                    "window_depth": depth,
                                                    "bursts": [dict(r, build=label, mode=name)
                                                               for (label, name), runs in bursts.items()
                                                               for r in runs]}, indent=1))
    if args.readme:
        path = Path(args.readme)
        if cases:
            write_block(path, "fleet", text)
        write_block(path, "fleet-burst", burst_text)
    print(text + ("\n" if text else "") + burst_text)


if __name__ == "__main__":
    main()
