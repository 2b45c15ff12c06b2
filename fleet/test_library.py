#!/usr/bin/env python3
"""Tests of the actorwatch Redis Functions library (fleet/actorwatch.lua) against a real,
private redis-server. Standard library only: python3 fleet/test_library.py"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import sys
import unittest

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'actorwatch.lua')
BUCKET_MS = 100


class RedisError(Exception):
    pass


class Resp:
    """A minimal RESP2 client: one command, one reply, in order."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.f = self.sock.makefile('rb')

    def call(self, *args):
        out = [b'*%d\r\n' % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b'$%d\r\n%s\r\n' % (len(a), a))
        self.sock.sendall(b''.join(out))
        reply = self._read()
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def _read(self):
        line = self.f.readline()
        if not line.endswith(b'\r\n'):
            raise ConnectionError('connection closed')
        kind, rest = line[:1], line[1:-2]
        if kind == b'+':
            return rest.decode()
        if kind == b'-':
            return RedisError(rest.decode())  # returned, not raised: keeps nested reads aligned
        if kind == b':':
            return int(rest)
        if kind == b'$':
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2].decode()
        if kind == b'*':
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError('bad reply type %r' % line)

    def close(self):
        self.f.close()
        self.sock.close()


SERVER = {}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_server():
    d = tempfile.mkdtemp(prefix='aw-redis-')
    SERVER['dir'] = d
    port = free_port()
    log = open(os.path.join(d, 'redis.log'), 'wb')
    SERVER['log'] = log
    SERVER['proc'] = subprocess.Popen(
        ['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '',
         '--appendonly', 'no', '--dir', d, '--daemonize', 'no'],
        stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while True:  # poll until PING answers; a fixed sleep would be either slow or flaky
        if SERVER['proc'].poll() is not None:
            raise RuntimeError('redis-server exited: ' + open(log.name).read())
        try:
            c = Resp(port)
            if c.call('PING') == 'PONG':
                return c
            c.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError('redis-server did not answer PING in time')
        time.sleep(0.02)


def stop_server():
    if SERVER.get('client'):
        SERVER.pop('client').close()
    proc = SERVER.pop('proc', None)
    if proc is not None and proc.poll() is None:
        proc.terminate()  # SIGTERM to our own child's PID
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if SERVER.get('log'):
        SERVER.pop('log').close()
    if SERVER.get('dir'):
        shutil.rmtree(SERVER.pop('dir'), ignore_errors=True)


def setUpModule():
    try:
        SERVER['client'] = start_server()
        with open(LIB) as f:
            SERVER['client'].call('FUNCTION', 'LOAD', 'REPLACE', f.read())
    except BaseException:
        stop_server()  # tearDownModule does not run when setUpModule fails
        raise


def tearDownModule():
    stop_server()


def rule(rid='r1', window=10000, threshold=5, cooldown=10000, block=0, status=0):
    return (rid, window, threshold, cooldown, block, status)


class Lib(unittest.TestCase):
    def setUp(self):
        self.r = SERVER['client']
        self.r.call('FLUSHALL')

    def now(self):
        """Redis's clock in ms, the one the library judges lateness and windows by."""
        s, us = self.r.call('TIME')
        return int(s) * 1000 + int(us) // 1000

    def bucket(self):
        return self.now() // BUCKET_MS

    def apply(self, actor, inst, seq, rules, entries=(), claims=(), grace=5000):
        args = [inst, seq, grace, BUCKET_MS, len(rules)]
        for x in rules:
            args += x
        args.append(len(entries))
        for x in entries:
            args += x
        args.append(len(claims))
        for x in claims:
            args += x
        return self.r.call('FCALL', 'aw_apply', 1, 'aw:{%s}' % actor, *args)

    def count_in(self, actor, rid, api, b):
        v = self.r.call('HGET', 'aw:{%s}:wc:%s:%s' % (actor, rid, api), b)
        return None if v is None else int(v)

    def test_01_threshold_fires_once_across_fleet(self):
        rules, b = [rule(threshold=6)], self.bucket()
        # 5 = threshold-1 from three proxies, each with its own seq.
        for inst, seq, n in [('p1', 1, 2), ('p2', 1, 1), ('p3', 1, 1), ('p2', 2, 1)]:
            rep = self.apply('a', inst, seq, rules, [(1, '/x', b, n)])
            self.assertEqual(rep, ['ok', 0, 0, 0, []], (inst, seq))
        replies = [self.apply('a', inst, seq, rules, [(1, '/x', b, 1)])
                   for inst, seq in [('p3', 2), ('p1', 2), ('p2', 3), ('p3', 3)]]
        fired = [f for rep in replies for f in rep[4] if f[2] == 1]
        self.assertEqual(len(fired), 1)
        self.assertEqual(replies[0][4][0][:5], [1, '/x', 1, 6, b * BUCKET_MS])
        for rep in replies[1:]:
            (f,) = rep[4]
            self.assertEqual(f[2], 0)
            self.assertTrue(0 < f[5] <= 10000, f)

    def test_02_sliding_window_boundary(self):
        # window 1000 ms / 100 ms = 10 buckets: the window ending at b is b-9..b.
        rules, b, th = [rule(window=1000, threshold=4, cooldown=0)], self.bucket(), 4
        for old, want in [(b - 10, False), (b - 9, True)]:
            for order in ('together', 'old_first', 'new_first'):
                with self.subTest(old=b - old, order=order):
                    self.r.call('FLUSHALL')
                    e_old, e_new = (1, '/w', old, th - 1), (1, '/w', b, 1)
                    if order == 'together':
                        reps = [self.apply('a', 'p1', 1, rules, [e_old, e_new])]
                    else:
                        pair = [e_old, e_new] if order == 'old_first' else [e_new, e_old]
                        reps = [self.apply('a', 'p1', s + 1, rules, [e]) for s, e in enumerate(pair)]
                    self.assertTrue(all(rep[4] == [] for rep in reps[:-1]), reps)
                    flags = reps[-1][4]
                    if want:
                        self.assertEqual(flags, [[1, '/w', 1, th, b * BUCKET_MS, 0]])
                    else:
                        self.assertEqual(flags, [])

    def test_03_dedupe(self):
        rules, b = [rule(threshold=3)], self.bucket()
        e = [(1, '/d', b, 1)]
        self.assertEqual(self.apply('a', 'p1', 5, rules, e), ['ok', 0, 0, 0, []])
        self.assertEqual(self.apply('a', 'p1', 5, rules, e), ['dup', 0, 0, 0, []])
        self.assertEqual(self.count_in('a', 'r1', '/d', b), 1)
        first = self.apply('a', 'p1', 6, rules, [(1, '/d', b, 2)])
        self.assertEqual(first[4][0][:4], [1, '/d', 1, 3])
        again = self.apply('a', 'p1', 6, rules, [(1, '/d', b, 2)])
        self.assertEqual(again, ['dup'] + first[1:])  # a lost reply is repeated, flags and all
        self.assertEqual(self.count_in('a', 'r1', '/d', b), 3)
        # An older seq from the same proxy: nothing counted, nothing repeated.
        self.assertEqual(self.apply('a', 'p1', 4, rules, [(1, '/d', b, 7)]), ['dup', 0, 0, 0, []])
        self.assertEqual(self.count_in('a', 'r1', '/d', b), 3)
        # The same seq from another proxy is another batch.
        self.assertEqual(self.apply('a', 'p2', 6, rules, [(1, '/d', b, 1)])[0], 'ok')
        self.assertEqual(self.count_in('a', 'r1', '/d', b), 4)
        # A retry of a flagless batch must not repeat an older batch's flags (fired=1 twice).
        e7 = [(1, '/other', b, 1)]
        self.assertEqual(self.apply('a', 'p1', 7, rules, e7), ['ok', 0, 0, 0, []])
        self.assertEqual(self.apply('a', 'p1', 7, rules, e7), ['dup', 0, 0, 0, []])

    def test_04_late(self):
        grace, rules = 1000, [rule(threshold=100)]
        edge = (self.now() - grace) // BUCKET_MS  # (edge+1)*100 + grace > now >= edge*100 + grace
        late_b, kept_b = edge - 2, edge + 2  # 100+ ms clear of the boundary either side
        rep = self.apply('a', 'p1', 1, rules, [(1, '/l', late_b, 3), (1, '/l', kept_b, 2)], grace=grace)
        self.assertEqual(rep, ['ok', 3, 0, 0, []])
        self.assertIsNone(self.count_in('a', 'r1', '/l', late_b))
        self.assertEqual(self.count_in('a', 'r1', '/l', kept_b), 2)
        self.assertGreaterEqual((kept_b + 1) * BUCKET_MS + grace, self.now(), 'host too slow')
        # The retry of a batch whose answer was lost says what was late, as the first answer did.
        again = self.apply('a', 'p1', 1, rules, [(1, '/l', late_b, 3), (1, '/l', kept_b, 2)], grace=grace)
        self.assertEqual(again, ['dup', 3, 0, 0, []])
        self.assertEqual(self.count_in('a', 'r1', '/l', kept_b), 2)

    def test_05_zero_cooldown_fires_every_time(self):
        rules, b = [rule(threshold=2, cooldown=0)], self.bucket()
        for seq in range(1, 5):
            rep = self.apply('a', 'p1', seq, rules, [(1, '/z', b, 2 if seq == 1 else 1)])
            self.assertEqual(rep[4], [[1, '/z', 1, 1 + seq, b * BUCKET_MS, 0]])
        self.assertEqual(self.r.call('EXISTS', 'aw:{a}:cd:r1:/z'), 0)

    def test_06_block_and_block_log(self):
        rules, b = [rule(threshold=2, block=30000, status=429)], self.bucket()
        rep = self.apply('a', 'p1', 1, rules, [(1, '/b', b, 1)])
        self.assertEqual(rep[2:4], [0, 0])  # not over the threshold: no block
        t0 = self.now()
        rep = self.apply('a', 'p1', 2, rules, [(1, '/b', b, 1)])
        until = rep[2]
        self.assertTrue(t0 + 30000 <= until <= self.now() + 30000, (t0, until))
        self.assertEqual(rep[3], 429)
        self.assertTrue(0 < self.r.call('PTTL', 'aw:{a}:block') <= 30000)
        # The block log: set at Redis time t, seen from since <= t, not from since > t.
        t = self.r.call('FCALL', 'aw_block_log', 1, 'aw:blocks', 'a', until, 429, 60000)
        entry = 'a %d 429' % until
        for since, want in [(t - 1, [entry]), (t, [entry]), (t + 1, [])]:
            now, got = self.r.call('FCALL', 'aw_blocks', 1, 'aw:blocks', since)
            self.assertEqual(got, want, since)
            self.assertGreaterEqual(now, t)
        self.assertTrue(0 < self.r.call('PTTL', 'aw:blocks') <= 60000)

    def test_07_claims(self):
        rules, b = [rule(threshold=2, cooldown=10000)], self.bucket()
        # A claim alone reports the cooldown, and a later crossing does not fire.
        rep = self.apply('a', 'p1', 1, rules, claims=[(1, '/c', 5000)])
        (f,) = rep[4]
        self.assertEqual(f[:5], [1, '/c', 0, 0, 0])
        self.assertTrue(0 < f[5] <= 5000)
        rep = self.apply('a', 'p2', 1, rules, [(1, '/c', b, 2)])
        self.assertEqual(rep[4][0][:4], [1, '/c', 0, 2])
        # A claim does not stretch a cooldown already running (SET NX).
        rep = self.apply('a', 'p1', 2, rules, [(1, '/n', b, 2)])
        self.assertEqual(rep[4][0][2], 1)
        rep = self.apply('a', 'p2', 2, rules, claims=[(1, '/n', 600000)])
        self.assertTrue(0 < rep[4][0][5] <= 10000, rep)
        self.assertTrue(0 < self.r.call('PTTL', 'aw:{a}:cd:r1:/n') <= 10000)
        self.assertEqual(self.r.call('GET', 'aw:{a}:cd:r1:/n'), 'p1')

    def test_08_per_api(self):
        rules, b = [rule(threshold=3)], self.bucket()
        rep = self.apply('a', 'p1', 1, rules, [(1, '/a', b, 2), (1, '/b', b, 2)])
        self.assertEqual(rep[4], [])
        rep = self.apply('a', 'p1', 2, rules, [(1, '/a', b, 1)])
        self.assertEqual([f[:4] for f in rep[4]], [[1, '/a', 1, 3]])
        self.assertEqual((self.count_in('a', 'r1', '/a', b), self.count_in('a', 'r1', '/b', b)), (3, 2))

    def test_09_many_buckets(self):
        n, b = 2500, self.bucket()  # > CHUNK (1000) buckets in one window
        entries = [(1, '/m', b - n + 1 + j, j % 3 + 1) for j in range(n)]
        total = sum(e[3] for e in entries)
        big = lambda th: [rule(window=3600000, threshold=th, cooldown=0)]
        rep = self.apply('a', 'p1', 1, big(total + 1), entries, grace=300000)
        self.assertEqual(rep, ['ok', 0, 0, 0, []])  # one short of the exact total
        rep = self.apply('a', 'p1', 2, big(total + 1), [(1, '/m', b, 1)], grace=300000)
        self.assertEqual(rep[4], [[1, '/m', 1, total + 1, b * BUCKET_MS, 0]])
        self.assertEqual(self.r.call('HLEN', 'aw:{a}:wc:r1:/m'), n)
        # The same window shrunk to 1 s trims > 1000 buckets at once (HDEL in chunks).
        rep = self.apply('a', 'p1', 3, [rule(window=1000, threshold=10**9, cooldown=0)],
                         [(1, '/m', b + 5, 1)], grace=0)
        self.assertEqual(rep, ['ok', 0, 0, 0, []])
        left = self.r.call('HLEN', 'aw:{a}:wc:r1:/m')
        self.assertTrue(1 < left < 40, left)
        self.assertEqual(self.r.call('ZCARD', 'aw:{a}:wz:r1:/m'), left)

    def test_10_version_and_hash_tags(self):
        self.assertEqual(self.r.call('FCALL', 'aw_version', 0), '2')
        self.assertEqual(self.r.call('FCALL_RO', 'aw_version', 0), '2')
        rules, b = [rule(threshold=1, block=5000, status=403)], self.bucket()
        api = '/v1/{id}/x'  # braces in the api must not move the hash tag
        self.apply('acme-1', 'p1', 1, rules, [(1, api, b, 1)])
        self.apply('acme-1', 'p2', 1, rules, claims=[(1, '/y', 1000)])
        keys = sorted(self.r.call('KEYS', '*'))
        kinds = {k.split(':')[2] for k in keys}
        self.assertEqual(kinds, {'seq', 'reply', 'wz', 'wc', 'ws', 'cd', 'block'}, keys)
        for k in keys:
            tag = k[k.index('{') + 1:k.index('}')]  # Redis Cluster hashes the first {...}
            self.assertEqual(tag, 'acme-1', k)
            self.assertGreater(self.r.call('PTTL', k), 0, k)  # nothing is kept forever


if __name__ == '__main__':
    try:
        result = unittest.main(verbosity=2, exit=False).result
    finally:
        stop_server()  # also on Ctrl-C or an error outside the tests
    failed = len(result.failures) + len(result.errors)
    # The line CI's closing count reads (as Node's test runner prints it).
    print(f"# pass {result.testsRun - failed}\n# fail {failed}")
    sys.exit(1 if failed else 0)
