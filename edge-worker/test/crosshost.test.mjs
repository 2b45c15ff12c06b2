// Same core, same decisions: the CLI's fixture traffic through the Worker and through
// `actorwatch replay` raises the same events (apart from times, ids and the edge's country).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { start, waitFor, events, metrics } from "./lib/harness.mjs";

const fixtures = new URL("../../cli/tests/fixtures/", import.meta.url);
const facts = (evs) =>
  evs
    .map((e) => [e.actor, e.ip, e.method, e.url, e.count, e.filterId, e.eventType, e.subCategory].join(" "))
    .sort();

/** "203.0.113.7:40001" or "[2001:db8::5]:50000" -> the bare address Cloudflare would give. */
const bare = (peer) => (peer.startsWith("[") ? peer.slice(1, peer.indexOf("]")) : peer.replace(/:\d+$/, ""));

test("the Worker and actorwatch replay raise the same events", async () => {
  const bin = process.env.ACTORWATCH_BIN;
  assert.ok(bin, "ACTORWATCH_BIN names the actorwatch binary (make test sets it)");
  const config = readFileSync(new URL("config.json", fixtures), "utf8");
  const traffic = new URL("traffic.jsonl", fixtures);
  const replayed = execFileSync(bin, ["replay", "--config", new URL("config.json", fixtures).pathname, "--emit", "events", traffic.pathname])
    .toString()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(replayed.length, 2);

  const w = await start(config);
  try {
    const records = readFileSync(traffic, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    for (const r of records) {
      const res = await w.send(r.path, bare(r.peer), { method: r.method, headers: { ...r.headers, "x-test-status": String(r.status) } });
      assert.equal(res.status, r.status);
    }
    // Every 4XX counted by the shards and every event they raised delivered: nothing still to come.
    const counted = records.filter((r) => r.status >= 400 && r.status < 500).length;
    const m = await waitFor(async () => {
      const m = await metrics(w.mf);
      return m.matched === counted && m.events_raised > 0 && m.events_delivered === m.events_raised && m.events_queued === 0 && m;
    }, `${counted} counted responses and every event delivered`);
    assert.equal(m.events_raised, replayed.length);
    assert.deepEqual(facts(events(w.posts)), facts(replayed));
  } finally {
    await w.mf.dispose();
  }
});
