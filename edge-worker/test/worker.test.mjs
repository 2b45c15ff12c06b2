// The built Worker in real workerd (Miniflare 4): boundaries, delivery, blocking, fail-open.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { start, waitFor, accepted, events, metrics, makeConfig, SECRET } from "./lib/harness.mjs";

test("threshold boundary, cooldown, the payload and its signature", async () => {
  const w = await start(makeConfig([{ id: "4XX_FILTER", threshold: 3, window_secs: 60, cooldown_secs: 600 }]));
  try {
    const r = await w.send("/ok", "203.0.113.7");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-origin"), "yes", "the origin's response comes back unchanged");
    for (let i = 0; i < 2; i++) assert.equal((await w.send(`/scan/${i}`, "203.0.113.7")).status, 404);
    // threshold-1: the shard has counted both 404s (its report reaches the hub's /metrics after
    // its state save) and raised nothing.
    const before = await waitFor(async () => {
      const m = await metrics(w.mf);
      return m.matched === 2 && m;
    }, "the shard's count of threshold-1 responses");
    assert.equal(before.events_raised, 0);
    assert.equal(w.posts.length, 0);
    assert.equal((await w.send("/scan/2?x=1", "203.0.113.7")).status, 404);
    const evs = await waitFor(() => events(w.posts).length > 0 && events(w.posts), "an event");
    assert.equal(evs.length, 1);
    const e = evs[0];
    assert.deepEqual(
      [e.actor, e.ip, e.country, e.filterId, e.url, e.method, e.count, e.eventType],
      ["203.0.113.7", "203.0.113.7", "IN", "4XX_FILTER", "/scan/2", "GET", 3, "AGGREGATED"],
    );
    assert.equal(e.maliciousPayloadsResponses.length, 2);
    const post = accepted(w.posts)[0];
    const [t, v1] = post.headers["x-actorwatch-signature"].split(",").map((p) => p.split("=")[1]);
    assert.equal(createHmac("sha256", SECRET).update(`${t}.${post.body}`).digest("hex"), v1);
    // Cooldown: more 404s raise nothing new. The shard's counters reach the hub's /metrics
    // (its report follows its state save, about a second later).
    for (let i = 3; i < 6; i++) await w.send(`/scan/${i}`, "203.0.113.7");
    const m = await waitFor(async () => {
      const m = await metrics(w.mf);
      return m.matched === 6 && m.events_suppressed === 3 && m;
    }, "the shard's counters");
    assert.equal(events(w.posts).length, 1);
    assert.equal(m.events_raised, 1);
    assert.equal(m.responses, 7, "the /ok response too, counted in this isolate and sent with the next delta");
    const shards = Object.values(m.shards);
    assert.equal(shards.length, 1);
    assert.equal(shards[0].matched, 6);
    assert.equal(m.hub.matched, 0);
    assert.equal(m.hub.events_delivered, 1);
  } finally {
    await w.mf.dispose();
  }
});

test("periodic mode waits and batches by batch_size", async () => {
  const w = await start(makeConfig([{ id: "4XX_FILTER", threshold: 2 }], { mode: "periodic", run_every_secs: 2, batch_size: 2 }));
  try {
    const started = Date.now();
    for (let a = 0; a < 3; a++) for (let i = 0; i < 2; i++) await w.send("/nope", `203.0.113.${a}`);
    const posts = await waitFor(() => accepted(w.posts).length >= 2 && accepted(w.posts), "periodic POSTs");
    assert.ok(posts[0].at - started >= 1900, `sent after ${posts[0].at - started} ms`);
    assert.deepEqual(posts.map((p) => JSON.parse(p.body).maliciousEvents.length), [2, 1]);
  } finally {
    await w.mf.dispose();
  }
});

test("a failing webhook is retried under the same delivery id", async () => {
  const w = await start(makeConfig([{ id: "4XX_FILTER", threshold: 2 }], { max_retries: 5 }), {
    receiver: (_req, _body, n) => (n < 2 ? 500 : 200),
  });
  try {
    for (let i = 0; i < 2; i++) await w.send("/nope", "198.51.100.9");
    await waitFor(() => accepted(w.posts).length === 1, "the retried POST", 15000);
    const ids = w.posts.map((p) => p.headers["x-actorwatch-delivery"]);
    assert.equal(ids.length, 3);
    assert.equal(new Set(ids).size, 1, "every attempt carries the same delivery id");
    assert.equal(new Set(w.posts.map((p) => JSON.parse(p.body).maliciousEvents[0].refId)).size, 1, "and the same event");
    // Retry n waits between half and all of 2^(n-1) s after the attempt before it failed (plus
    // the alarm's own delay: up to a second here).
    for (let n = 1; n < w.posts.length; n++) {
      const gap = w.posts[n].at - w.posts[n - 1].at;
      const exp = 1000 * 2 ** (n - 1);
      assert.ok(gap >= exp / 2 && gap <= exp + 1000, `retry ${n} after ${gap} ms`);
    }
  } finally {
    await w.mf.dispose();
  }
});

test("block mode answers at the edge until block_secs pass, others pass", async () => {
  const w = await start(makeConfig([{ id: "4XX_FILTER", threshold: 2, action: "block", block_secs: 4, block_status: 429 }]));
  try {
    await w.send("/nope", "203.0.113.50");
    const crossed = Date.now();
    await w.send("/nope", "203.0.113.50");
    // Isolates cache the blocklist for up to 3 s: the block shows within that.
    const blocked = await waitFor(async () => {
      const r = await w.send("/ok", "203.0.113.50");
      return r.status === 429 && r;
    }, "a block");
    // The core's blocked reply (Block::reply), byte for byte what the Envoy filter sends.
    assert.equal(blocked.headers.get("content-type"), "application/json");
    const retryAfter = Number(blocked.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 4, `retry-after: ${retryAfter}`);
    assert.equal(
      await blocked.text(),
      `{"error":"too many client errors","blocked_by":"actorwatch","retry_after_secs":${retryAfter}}`,
    );
    const before = w.originCalls.length;
    assert.equal((await w.send("/ok", "203.0.113.50")).status, 429);
    assert.equal(w.originCalls.length, before, "blocked requests never reach the origin");
    assert.equal((await w.send("/ok", "203.0.113.51")).status, 200);
    await waitFor(async () => (await w.send("/ok", "203.0.113.50")).status === 200, "the block to expire", 15000);
    const held = Date.now() - crossed;
    assert.ok(held >= 4000, `released ${held} ms after the crossing response, before block_secs`);
  } finally {
    await w.mf.dispose();
  }
});

test("IPv6 actors count per /64", async () => {
  const w = await start(makeConfig([{ id: "4XX_FILTER", threshold: 3 }]));
  try {
    for (const ip of ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"]) await w.send("/nope", ip);
    const evs = await waitFor(() => events(w.posts).length > 0 && events(w.posts), "an IPv6 event");
    assert.equal(evs[0].actor, "2001:db8:1:2::/64");
    assert.equal(evs[0].ip, "2001:db8:1:2:ffff::3");
  } finally {
    await w.mf.dispose();
  }
});

test("a bad config fails open: every request reaches the origin unchanged", async () => {
  const w = await start(makeConfig([{ id: "4XX_FILTER", threshold: 0, action: "block" }]));
  try {
    for (let i = 0; i < 5; i++) assert.equal((await w.send("/nope", "203.0.113.99")).status, 404);
    const r = await w.send("/ok", "203.0.113.99", { method: "POST", body: "payload" });
    assert.equal(r.status, 200);
    assert.equal(w.originCalls.length, 6, "every request reached the origin");
    assert.equal(w.originCalls.at(-1).body, "payload");
    // The configuration was refused, with the key path in the log: nothing counts.
    await waitFor(
      () => w.output.join("").includes("invalid configuration, passing traffic through: ACTORWATCH_CONFIG: rules[0].threshold: must be >= 1, got 0"),
      "the logged configuration error",
    );
    assert.equal(w.posts.length, 0);
  } finally {
    await w.mf.dispose();
  }
});

test("/metrics: the shards' counters next to the hub's, on the Worker behind a bearer token", async () => {
  const token = "metrics-token-7c1d2e";
  const w = await start(makeConfig([{ id: "4XX_FILTER", threshold: 2 }]), { bindings: { ACTORWATCH_METRICS_TOKEN: token } });
  try {
    const ips = Array.from({ length: 8 }, (_, i) => `198.51.100.${20 + i}`);
    for (const ip of ips) await w.send("/nope", ip);
    for (const ip of ips.slice(0, 3)) await w.send("/nope", ip);
    const scrape = (headers) => w.mf.dispatchFetch("https://api.test/__actorwatch/metrics", { headers });
    assert.equal((await scrape({})).status, 401);
    assert.equal((await scrape({ authorization: `Bearer ${token}x` })).status, 401);
    assert.equal((await scrape({ authorization: "Bearer " })).status, 401);
    const m = await waitFor(async () => {
      const r = await scrape({ authorization: `Bearer ${token}` });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("cache-control"), "no-store");
      const m = await r.json();
      return m.matched === 11 && m.state_unsaved === 0 && m;
    }, "11 counted responses in the shards' counters");
    // Summed over the shards: every counted response, every event; per shard as well.
    const shards = Object.values(m.shards);
    assert.equal(shards.reduce((n, s) => n + s.matched, 0), 11);
    assert.equal(m.events_raised, 3);
    assert.ok(shards.length > 1 && shards.length <= 8, `${shards.length} shards`);
    assert.ok(Object.keys(m.shards).every((name) => /^shard-\d+$/.test(name)), Object.keys(m.shards).join());
    assert.equal(m.records_dropped, 0);
    // Every metric the core declares, in the totals, the hub's and each shard's; each total is
    // the hub's plus the shards' (gauges too).
    const names = Object.keys(m.hub).sort();
    assert.ok(["state_saves", "state_unsaved", "memory_bytes", "events_queued"].every((n) => names.includes(n)), names.join());
    assert.deepEqual(Object.keys(m).filter((k) => k !== "hub" && k !== "shards").sort(), names);
    for (const s of shards) assert.deepEqual(Object.keys(s).sort(), names);
    for (const n of names) assert.equal(m[n], m.hub[n] + shards.reduce((sum, s) => sum + s[n], 0), n);
    await waitFor(async () => (await metrics(w.mf)).events_delivered === 3, "3 events delivered");
    assert.equal(w.originCalls.filter((c) => c.path.startsWith("/__actorwatch")).length, 0);
    assert.ok(!w.output.join("").includes(token), "the token never reaches workerd's output");
  } finally {
    await w.mf.dispose();
  }
  // Without the secret the path is the API's.
  const plain = await start(makeConfig([{ id: "4XX_FILTER", threshold: 2 }]));
  try {
    const r = await plain.send("/__actorwatch/metrics", "198.51.100.1", { headers: { authorization: "Bearer x" } });
    assert.equal(r.status, 404);
    assert.equal(plain.originCalls.at(-1).path, "/__actorwatch/metrics", "passed to the origin");
  } finally {
    await plain.mf.dispose();
  }
});

const b64url = (buf) => Buffer.from(buf).toString("base64url");
const hs256 = (claims, secret) => {
  const signed = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify(claims))}`;
  return `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
};

test("a verified JWT subject is the actor across addresses; a token under another key is not", async () => {
  const secret = "jwt-secret-0123456789abcdef-0123456789";
  const w = await start(makeConfig([{ id: "4XX_FILTER", threshold: 3, window_secs: 60 }], {}, {
    actor: { sources: ["jwt:sub", "cf-connecting-ip"], jwt_hs256_secret: secret },
  }));
  try {
    const auth = (claims, key = secret) => ({ headers: { authorization: `Bearer ${hs256(claims, key)}` } });
    const forged = auth({ sub: "alice" }, "another-secret-0123456789abcdef-0123");
    // Two failures each: Alice from two addresses, Bob, and Alice's claims under another key
    // (counted for the address it came from).
    await w.send("/scan/1", "203.0.113.1", auth({ sub: "alice" }));
    await w.send("/scan/2", "203.0.113.2", auth({ sub: "alice" }));
    await w.send("/scan/3", "203.0.113.3", auth({ sub: "bob" }));
    await w.send("/scan/4", "203.0.113.3", auth({ sub: "bob" }));
    await w.send("/scan/5", "203.0.113.9", forged);
    await w.send("/scan/6", "203.0.113.9", forged);
    await waitFor(async () => (await metrics(w.mf)).matched === 6, "six counted responses");
    assert.equal(events(w.posts).length, 0);
    // Alice's third, from a third address: one event for her subject.
    await w.send("/scan/7", "203.0.113.4", auth({ sub: "alice" }));
    const evs = await waitFor(() => events(w.posts).length > 0 && events(w.posts), "Alice's event");
    assert.equal(evs.length, 1);
    const e = evs[0];
    assert.deepEqual(
      [e.actor, e.ip, e.responseStatus, e.responseStatuses, e.successfulExploit],
      ["jwt:sub:alice", "203.0.113.4", 404, { "4XX": 3 }, false],
    );
    assert.ok(!w.posts.some((p) => p.body.includes("Bearer")), "no token leaves the Worker");
  } finally {
    await w.mf.dispose();
  }
});
