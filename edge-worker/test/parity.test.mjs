// The same traffic gives the same metrics in Envoy, the Worker and `actorwatch replay` (issue 23).
// One trace (cli/tests/fixtures/parity.jsonl: counted 4XX responses, two actors flagged and their
// events delivered, one of them suppressed by the cooldown, uncounted 2XX responses, the last
// response among them, SQL injection in a query and XSS in a JSON body, the second SQL injection
// in its rule's cooldown) goes at its recorded pace (so that events are raised, batched and
// delivered as they would be live) through a real Envoy with the filter and through the Worker in
// real workerd (Miniflare), both with the same configuration (parity.config.json), and through
// replay. Every metric the core declares (`Metrics::fields()`, as `replay --emit metrics` prints
// them) must be equal in the three, but for the few in EXCLUDED, each with its reason; and the
// three raise the same events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import http from "node:http";
import { start, waitFor, events, metrics } from "./lib/harness.mjs";
import { startEnvoy, request } from "./lib/envoy.mjs";

const fixtures = new URL("../../cli/tests/fixtures/", import.meta.url);

/** Metrics that legitimately differ by host, and why. Everything else is compared. */
const EXCLUDED = {
  memory_bytes:
    "bytes held depend on the host: samples keep the request headers each host sees, and the Worker splits its state over shard engines and the hub",
  threat_bytes_inspected:
    "the rules inspect every header a host hands them: Envoy's pseudo-headers and x-request-id, workerd's cf-connecting-ip and host, only the recorded ones in replay",
  state_saves: "Worker only: shards' snapshots of their counting state to Durable Object storage, as many as their alarms found changes",
  memory_budget_bytes:
    "each engine has the whole max_memory_mb: the Worker's gauge sums its shards' and its hub's, Envoy and replay have one engine",
};

/** "203.0.113.7:40001" or "[2001:db8::5]:50000" -> the bare address (the client each host is given). */
const bare = (peer) => (peer.startsWith("[") ? peer.slice(1, peer.indexOf("]")) : peer.replace(/:\d+$/, ""));

/** What identifies an event across hosts (ids, times and samples differ). */
const facts = (evs) => evs.map((e) => [e.filterId, e.actor, e.eventType, e.count].join(" ")).sort();

/** A loopback server; `handler(req, body)` answers. Resolves to `{ port, close() }`. */
async function serve(handler) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => handler(req, Buffer.concat(chunks).toString(), res));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: server.address().port, close: () => new Promise((resolve) => server.close(resolve)) };
}

const sleepUntil = (at) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

test("Envoy, the Worker and actorwatch replay give the same metrics for the same traffic", async (t) => {
  const began = Date.now();
  const bin = process.env.ACTORWATCH_BIN;
  assert.ok(bin, "ACTORWATCH_BIN names the actorwatch binary (make test sets it)");
  const configPath = new URL("parity.config.json", fixtures).pathname;
  const tracePath = new URL("parity.jsonl", fixtures).pathname;
  const config = readFileSync(configPath, "utf8");
  const records = readFileSync(tracePath, "utf8").trim().split("\n").map((l) => JSON.parse(l));

  // replay: every metric the core declares, by name, and the events it raises.
  const replayed = JSON.parse(execFileSync(bin, ["replay", "--config", configPath, "--emit", "metrics", tracePath]).toString());
  const replayedEvents = execFileSync(bin, ["replay", "--config", configPath, "--emit", "events", tracePath])
    .toString().trim().split("\n").map((l) => JSON.parse(l));
  const names = Object.keys(replayed);
  for (const name of Object.keys(EXCLUDED)) assert.ok(names.includes(name), `excluded ${name} is a metric`);
  const compared = names.filter((n) => !(n in EXCLUDED));
  // The trace exercises what it claims to, or the comparison would be of zeros.
  assert.ok(replayed.matched > 0 && replayed.responses > replayed.matched, "counted and uncounted responses");
  assert.ok(replayed.events_raised >= 2 && replayed.events_suppressed > 0, "actors flagged, and a cooldown");
  assert.ok(replayed.threat_events >= 2 && replayed.threat_suppressed > 0, "threat findings, and a cooldown");
  assert.ok(records.at(-1).status < 400, "the last response is one no rule counts");
  assert.equal(replayed.events_delivered, replayed.events_raised);
  assert.equal(replayedEvents.length, replayed.events_raised);

  // Envoy's origin answers the status each record asks for; its webhook receiver takes every POST.
  const origin = await serve((req, body, res) => {
    const status = Number(req.headers["x-test-status"]) || 404;
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ path: req.url }));
  });
  const envoyPosts = [];
  const hook = await serve((req, body, res) => {
    envoyPosts.push({ headers: req.headers, body, answer: 200 });
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  let envoy;
  let worker;
  try {
    envoy = await startEnvoy(config, origin.port, hook.port);
    // The Worker's isolate sends the counts of uncounted responses that no counted response
    // carried after 1 s rather than 60 s: the trace ends with such a response.
    worker = await start(config, { bindings: { ACTORWATCH_TEST_COUNTS_FLUSH_MS: "1000" } });

    // The trace at its recorded pace, each record to Envoy and to the Worker at once. The client:
    // X-Forwarded-For for Envoy (its default connection manager makes the last entry the
    // downstream address), CF-Connecting-IP for the Worker, the recorded peer for replay.
    const t0 = records[0].ts_ms;
    const startedAt = Date.now();
    for (const r of records) {
      await sleepUntil(startedAt + (r.ts_ms - t0));
      const headers = { ...r.headers, "x-test-status": String(r.status) };
      const init = { method: r.method, headers, body: r.body };
      const [viaEnvoy, viaWorker] = await Promise.all([
        request(envoy.port, r.path, { ...init, headers: { ...headers, host: "api.test", "x-forwarded-for": bare(r.peer) } }),
        worker.send(r.path, bare(r.peer), init),
      ]);
      assert.equal(viaEnvoy.status, r.status, `Envoy: ${r.method} ${r.path}`);
      assert.equal(viaWorker.status, r.status, `Worker: ${r.method} ${r.path}`);
    }
    const sentIn = Date.now() - startedAt;

    // Settled: every response counted, every event delivered, nothing held, every Worker shard's
    // state saved (so its last report is in). Then everything is compared, settled or not (a
    // timeout shows as the differences).
    const settled = (m) =>
      m.responses === replayed.responses && m.matched === replayed.matched &&
      m.threat_inspected === replayed.threat_inspected && m.events_raised === replayed.events_raised &&
      m.events_delivered === replayed.events_delivered && m.events_queued === 0 && m.records_held === 0 &&
      m.state_unsaved === 0;
    const pick = (m) => Object.fromEntries(compared.map((n) => [n, m[n]]));
    const settle = async (read, what) => {
      let last = {};
      await waitFor(async () => settled((last = await read())), what, 20000).catch(() => {});
      return last;
    };
    const [fromEnvoy, fromWorker] = await Promise.all([
      settle(() => envoy.stats(), "Envoy's stats to settle"),
      settle(() => metrics(worker.mf), "the Worker's /metrics to settle"),
    ]);
    for (const [host, m] of [["Envoy", fromEnvoy], ["the Worker", fromWorker]]) {
      const missing = names.filter((n) => !(n in m));
      assert.deepEqual(missing, [], `${host} exports every metric the core declares`);
    }
    const want = pick(replayed);
    const diff = (m) => compared.filter((n) => m[n] !== want[n]).map((n) => `${n}: ${m[n]} (replay ${want[n]})`);
    assert.deepEqual(diff(fromEnvoy), [], "Envoy's metrics differ from replay's");
    assert.deepEqual(diff(fromWorker), [], "the Worker's metrics differ from replay's");

    // The same events too, each delivered once.
    const envoyEvents = events(envoyPosts);
    assert.deepEqual(facts(envoyEvents), facts(replayedEvents), "Envoy's events");
    assert.deepEqual(facts(events(worker.posts)), facts(replayedEvents), "the Worker's events");

    t.diagnostic(
      `excluded, Envoy / Worker / replay: ${Object.keys(EXCLUDED).map((n) => `${n} ${fromEnvoy[n]} / ${fromWorker[n]} / ${replayed[n]}`).join(", ")}`,
    );
    t.diagnostic(
      `${compared.length} of ${names.length} metrics equal in Envoy, the Worker and replay ` +
        `(${records.length} records sent in ${(sentIn / 1000).toFixed(1)} s, ${((Date.now() - began) / 1000).toFixed(1)} s in all); ` +
        `excluded: ${Object.keys(EXCLUDED).join(", ")}`,
    );
  } catch (e) {
    if (envoy) console.error(`Envoy's log (last 4,000 characters):\n${envoy.log().slice(-4000)}`);
    throw e;
  } finally {
    await worker?.mf.dispose();
    await envoy?.stop();
    await origin.close();
    await hook.close();
  }
});
