// The Worker in real workerd under attack and under faults: hostile requests, a flood of
// one-off actors, a misbehaving receiver, a full queue, an isolate recycled mid-batch, a hub
// that refuses its shards, a shard that refuses deltas, shards evicted mid-window, and secrets
// that must never leak.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SECRET, accepted, events, makeConfig, metrics, start, waitFor } from "./lib/harness.mjs";

const refused = () => {
  throw new Error("connection refused");
};

/** Events a receiver keeps that deduplicates POSTs on x-actorwatch-delivery. */
const deduplicated = (posts) => {
  const seen = new Set();
  return posts
    .filter((p) => p.answer === 200 && !seen.has(p.headers["x-actorwatch-delivery"]) && seen.add(p.headers["x-actorwatch-delivery"]))
    .flatMap((p) => JSON.parse(p.body).maliciousEvents);
};

test("hostile requests pass through and are counted; a flood cannot hide an attacker", async () => {
  const w = await start(makeConfig([{ id: "4XX_FILTER", threshold: 3 }], {}, { max_actors: 20 }));
  try {
    // A 64 KiB path, bytes that are not UTF-8 in a header, 1,000 headers, a 10,000-entry
    // X-Forwarded-For (not an actor source here: Cloudflare's address is).
    const hostile = [
      [`/nope/${"a".repeat(64 * 1024)}`, {}],
      ["/nope/bytes", { headers: { "x-junk": "\xc3\x28\xa0\xa1\xff" } }],
      ["/nope/many", { headers: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`x-h-${i}`, `v${i}`])) }],
      ["/nope/xff", { headers: { "x-forwarded-for": Array.from({ length: 10000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(", ") } }],
    ];
    // workerd refuses what Cloudflare's edge refuses too (431/414: headers or URL too large);
    // everything else reaches the Worker and the origin.
    const statuses = [];
    for (const [path, init] of hostile) statuses.push((await w.send(path, "198.51.100.10", init)).status);
    console.log(`hostile request statuses: ${statuses}`);
    // The 64 KiB path, the 1,000 headers and the long X-Forwarded-For are over workerd's header
    // limits; the bytes that are not UTF-8 reach the origin.
    assert.deepEqual(statuses, [431, 404, 431, 431]);
    assert.equal((await w.send("/ok", "198.51.100.1")).status, 200);
    // Three counted responses flag the client.
    for (let n = statuses.filter((s) => s === 404).length; n < 3; n++) await w.send("/nope/more", "198.51.100.10");
    const long = await waitFor(() => events(w.posts).find((e) => e.actor === "198.51.100.10"), "the hostile client's event");
    assert.ok(long.url.length <= 2048, `url of ${long.url.length} bytes`);
    // An attacker at threshold-1 behind 1,000 one-off actors (more than 32 shards × max_actors).
    for (let i = 0; i < 2; i++) await w.send("/probe", "198.51.100.66");
    for (let i = 0; i < 1000; i++) assert.equal((await w.send("/flood", `10.200.${i >> 8}.${i & 255}`)).status, 404);
    await w.send("/probe", "198.51.100.66");
    await waitFor(() => events(w.posts).some((e) => e.actor === "198.51.100.66"), "the attacker's event", 20000);
    assert.equal((await w.send("/ok", "198.51.100.1")).status, 200);
  } finally {
    await w.mf.dispose();
  }
});

test("a refusing, failing, slow, then healthy receiver gets every event exactly once", async () => {
  const faults = [refused, () => 500, () => new Promise((r) => setTimeout(() => r(200), 1500)), () => 503];
  const w = await start(
    makeConfig([{ id: "4XX_FILTER", threshold: 2 }], { batch_size: 1, timeout_ms: 500, max_retries: 12 }),
    { receiver: (_req, _body, n) => (faults[n] ?? (() => 200))() },
  );
  try {
    for (let a = 0; a < 3; a++) for (let i = 0; i < 2; i++) await w.send("/nope", `203.0.113.${a}`);
    const evs = await waitFor(async () => {
      const m = await metrics(w.mf);
      return m.events_delivered === 3 && m.events_queued === 0 && deduplicated(w.posts);
    }, "every event delivered", 40000);
    const refIds = evs.map((e) => e.refId);
    assert.equal(refIds.length, 3, JSON.stringify(refIds));
    assert.equal(new Set(refIds).size, 3);
    // Each fault cost exactly one more POST: 4 faulty answers and 3 accepted POSTs.
    assert.equal(w.posts.length, 7, "the faults made the hub send again, once each");
    assert.equal((await metrics(w.mf)).events_dropped, 0);
  } finally {
    await w.mf.dispose();
  }
});

test("a full queue drops exactly the overflow and reports it", async () => {
  let down = true;
  const w = await start(
    makeConfig([{ id: "4XX_FILTER", threshold: 2 }], { batch_size: 1, timeout_ms: 500, max_retries: 20, queue_capacity: 3 }),
    { receiver: () => (down ? refused() : 200) },
  );
  try {
    for (let a = 0; a < 5; a++) for (let i = 0; i < 2; i++) await w.send("/nope", `203.0.113.${a}`);
    await waitFor(async () => {
      const m = await metrics(w.mf);
      return m.events_queued + m.events_dropped + m.events_delivered === 5;
    }, "5 events at the hub");
    assert.equal((await metrics(w.mf)).events_dropped, 2);
    down = false;
    await waitFor(async () => (await metrics(w.mf)).events_delivered === 3, "3 delivered", 30000);
    assert.equal(deduplicated(w.posts).length, 3);
    assert.equal((await metrics(w.mf)).events_dropped, 2, "exactly the overflow");
  } finally {
    await w.mf.dispose();
  }
});

test("events raised before the isolate is recycled are delivered by the next one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "actorwatch-persist-"));
  const config = makeConfig([{ id: "4XX_FILTER", threshold: 2 }], { mode: "periodic", run_every_secs: 3, batch_size: 10 });
  const posts = [];
  try {
    const first = await start(config, { persist: dir, posts });
    for (let a = 0; a < 2; a++) for (let i = 0; i < 2; i++) await first.send("/nope", `203.0.113.${a}`);
    await waitFor(async () => (await metrics(first.mf)).events_queued === 2, "2 events stored at the hub");
    // Recycled mid-batch: before the periodic POST.
    await first.mf.dispose();
    assert.equal(posts.length, 0);
    const second = await start(config, { persist: dir, posts });
    try {
      await metrics(second.mf); // the hub wakes and queues what its storage holds
      const evs = await waitFor(() => deduplicated(posts).length >= 2 && deduplicated(posts), "the stored events", 20000);
      assert.deepEqual(evs.map((e) => e.actor).sort(), ["203.0.113.0", "203.0.113.1"]);
    } finally {
      await second.mf.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The shards named in workerd's output lines matching `re` (its first group). */
const shardsIn = (output, re) => new Set([...output.join("").matchAll(re)].map((m) => m[1]));

for (const [fault, what] of [
  ["3", "refuses"],
  ["3 after-storing", "takes, then fails to acknowledge,"],
]) {
  test(`a hub that ${what} shards' POSTs: every event delivered exactly once`, async () => {
    const w = await start(makeConfig([{ id: "4XX_FILTER", threshold: 2 }], { batch_size: 1 }), {
      bindings: { ACTORWATCH_TEST_HUB_FAIL_FIRST: fault },
    });
    try {
      const actors = [0, 1, 2, 3].map((a) => `203.0.113.${40 + a}`);
      for (const ip of actors) for (let i = 0; i < 2; i++) await w.send("/nope", ip);
      // Every shard the hub failed held its events and sent them again until the hub took them.
      await waitFor(() => {
        const failed = shardsIn(w.output, /(shard-\d+): the hub did not take/g);
        const recovered = shardsIn(w.output, /(shard-\d+): the hub took \d+ event\(s\) after/g);
        return failed.size > 0 && [...failed].every((s) => recovered.has(s));
      }, "shards the hub failed, recovered", 30000);
      const m = await waitFor(async () => {
        const m = await metrics(w.mf);
        return m.events_delivered >= 4 && m.events_queued === 0 && m;
      }, "4 events delivered", 30000);
      assert.equal(m.events_delivered, 4);
      const evs = deduplicated(w.posts);
      assert.deepEqual(evs.map((e) => e.actor).sort(), actors);
      assert.equal(new Set(evs.map((e) => e.refId)).size, 4, "no event stored twice");
      assert.equal(m.events_raised, 4);
      assert.equal(m.events_dropped, 0);
    } finally {
      await w.mf.dispose();
    }
  });
}

test("events a shard holds while the hub refuses it survive the shard's eviction", async () => {
  const dir = mkdtempSync(join(tmpdir(), "actorwatch-pending-"));
  const config = makeConfig([{ id: "4XX_FILTER", threshold: 2 }]);
  const posts = [];
  const ip = "203.0.113.70";
  try {
    const first = await start(config, { persist: dir, posts, bindings: { ACTORWATCH_TEST_HUB_FAIL_FIRST: "1000" } });
    for (let i = 0; i < 2; i++) await first.send("/nope", ip);
    await waitFor(() => first.output.join("").includes("the hub did not take 1 event(s)"), "the refused event");
    await first.mf.dispose();
    assert.equal(posts.length, 0);
    // The shard's retry alarm starts it again; it sends what its storage holds, with no traffic.
    const second = await start(config, { persist: dir, posts });
    try {
      const evs = await waitFor(() => events(posts).length > 0 && events(posts), "the held event", 20000);
      assert.deepEqual(evs.map((e) => [e.actor, e.count]), [[ip, 2]]);
      await waitFor(async () => (await metrics(second.mf)).events_delivered === 1, "delivered");
      assert.equal(deduplicated(posts).length, 1);
    } finally {
      await second.mf.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a delta its shard refuses is sent again; one lost for good arrives as records_dropped", async () => {
  // The shard refuses 4 deltas; the Worker makes 3 attempts per delta.
  const w = await start(makeConfig([{ id: "4XX_FILTER", threshold: 3 }]), {
    bindings: { ACTORWATCH_TEST_SHARD_REFUSE_FIRST: "4" },
  });
  const ip = "198.51.100.77";
  try {
    // Refused 3 times: lost, and counted in the isolate.
    await w.send("/nope/1", ip);
    await waitFor(() => w.output.join("").includes("1 counted response(s) lost"), "the lost delta");
    // Refused once more, then taken, carrying the lost one as records_dropped.
    await w.send("/nope/2", ip);
    let m = await waitFor(async () => {
      const m = await metrics(w.mf);
      return m.matched === 2 && m;
    }, "the second delta at its shard");
    assert.equal(m.records_dropped, 1);
    assert.equal(m.events_raised, 0);
    // The window holds the second response only: two more flag the actor, with a count of 3.
    await w.send("/nope/3", ip);
    await w.send("/nope/4", ip);
    const evs = await waitFor(() => events(w.posts).length > 0 && events(w.posts), "the event");
    assert.equal(evs.length, 1);
    assert.equal(evs[0].count, 3);
    assert.equal(evs[0].url, "/nope/4");
    m = await waitFor(async () => {
      const m = await metrics(w.mf);
      return m.matched === 4 && m;
    }, "4 counted responses");
    assert.equal(m.records_dropped, 1, "exactly the lost response");
    assert.equal(m.events_raised, 1);
    assert.equal(m.deltas_rejected, 0);
  } finally {
    await w.mf.dispose();
  }
});

test("a shard's windows and cooldowns survive its eviction", async () => {
  const dir = mkdtempSync(join(tmpdir(), "actorwatch-shards-"));
  const config = makeConfig([{ id: "4XX_FILTER", threshold: 3, window_secs: 60, cooldown_secs: 600 }]);
  const posts = [];
  const near = "203.0.113.60";
  const flagged = "203.0.113.61";
  try {
    const first = await start(config, { persist: dir, posts });
    for (let i = 0; i < 2; i++) await first.send(`/nope/${i}`, near);
    for (let i = 0; i < 3; i++) await first.send(`/nope/${i}`, flagged);
    await waitFor(() => events(posts).some((e) => e.actor === flagged), "the flagged actor's event");
    // Saved: every counted response is in a shard's report, and no shard has unsaved changes.
    const before = await waitFor(async () => {
      const m = await metrics(first.mf);
      return m.matched === 5 && m.state_unsaved === 0 && m;
    }, "the shards' state saved");
    assert.ok(before.state_saves >= 1);
    await first.mf.dispose();
    const second = await start(config, { persist: dir, posts });
    try {
      // One more response flags the actor that was at threshold-1, exactly once; the flagged
      // one, in its cooldown, raises nothing.
      await second.send("/nope/2", near);
      for (let i = 3; i < 6; i++) await second.send(`/nope/${i}`, flagged);
      const m = await waitFor(async () => {
        const m = await metrics(second.mf);
        return m.matched === 9 && m.events_delivered >= 2 && m;
      }, "every response counted after the restart", 20000);
      assert.equal(m.events_suppressed, 3);
      const evs = events(posts);
      assert.deepEqual(evs.map((e) => e.actor).sort(), [near, flagged].sort());
      const e = evs.find((x) => x.actor === near);
      assert.equal(e.count, 3);
      assert.equal(e.url, "/nope/2");
      // Samples are not saved: the event carries those seen since the restart.
      assert.equal(e.maliciousPayloadsResponses.length, 1);
      assert.equal(m.events_raised, 2, "counted across the restart");
      assert.equal(m.events_delivered, 2);
    } finally {
      await second.mf.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("secrets never reach the Worker's output or the payloads", async () => {
  const token = "siem-token-8f3a0c1e2b";
  const apiKey = "ak_live_5b7e9d1f3a2c4e6b";
  const config = makeConfig([{ id: "4XX_FILTER", threshold: 3 }], { headers: { authorization: `Bearer ${token}` } }, {
    actor: { sources: ["header:x-api-key", "peer"] },
  });
  const w = await start(config);
  try {
    for (let i = 0; i < 3; i++) {
      await w.send("/login", "198.51.100.5", {
        method: "POST",
        headers: { "x-api-key": apiKey, authorization: "Bearer user-bearer-91", cookie: "session=s3ss10n-c00k1e-77" },
        body: "{}",
      });
    }
    const evs = await waitFor(() => events(w.posts).length > 0 && events(w.posts), "an event");
    assert.match(evs[0].actor, /^x-api-key:sha256:[0-9a-f]{16}$/);
    assert.ok(accepted(w.posts).every((p) => p.headers.authorization === `Bearer ${token}`));
  } finally {
    await w.mf.dispose();
  }
  // An invalid configuration holding secrets: its logged errors must not echo them.
  const bad = JSON.stringify({ webhook: { url: `https://user:${token}@hooks.example.com/${token}`, hmac_secret: "sh0rt-x", headers: { authorization: `Bearer ${token}\n` } } });
  const b = await start(bad);
  try {
    assert.equal((await b.send("/ok", "198.51.100.5")).status, 200);
    await waitFor(() => b.output.join("").includes("webhook.headers.authorization"), "the logged config error");
  } finally {
    await b.mf.dispose();
  }
  const haystacks = [["Worker output", w.output.join("")], ["Worker output (bad config)", b.output.join("")], ...w.posts.map((p, i) => [`payload ${i}`, p.body])];
  for (const [name, text] of haystacks) {
    for (const secret of [SECRET, token, apiKey, "user-bearer-91", "s3ss10n-c00k1e-77", "sh0rt-x"]) {
      assert.ok(!text.includes(secret), `${name} contains ${secret}`);
    }
  }
});
