// Starts the built Worker in real workerd (Miniflare 4); an outbound service stands in for the
// origin (it answers the status a request asks for in x-test-status, with the body x-test-body
// gives) and the webhook receiver.
import { Miniflare } from "miniflare";

export const SECRET = "worker-test-secret-0123456789";

export function makeConfig(rules, webhook = {}, extra = {}) {
  return JSON.stringify({
    ...extra,
    rules,
    samples_per_event: 2,
    webhook: { url: "https://siem.test/akto", mode: "instant", hmac_secret: SECRET, ...webhook },
  });
}

/**
 * Miniflare options for the built Worker and its Durable Objects (tests and benchmarks).
 * `bindings` adds vars and secrets, such as the test-only fault switches.
 */
export function workerOptions(config, originUrl, bindings = {}) {
  return {
    modules: true,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    scriptPath: "build/index.js",
    compatibilityDate: "2025-09-01",
    durableObjects: {
      COUNTERS: { className: "CounterShard", useSQLite: true },
      HUB: { className: "Hub", useSQLite: true },
    },
    bindings: { ACTORWATCH_CONFIG: config, ORIGIN_URL: originUrl, ...bindings },
  };
}

/**
 * Starts the Worker. `receiver(request, body, n)` answers the n-th webhook POST: a status
 * (default 200), a Response, or a throw (the connection is refused). `persist` keeps Durable
 * Object storage in that directory across instances; `bindings` are passed to the Worker.
 * Everything workerd prints is in `output`.
 */
export async function start(config, { receiver, persist, posts = [], bindings } = {}) {
  const hook = new URL(JSON.parse(config).webhook.url);
  const originCalls = [];
  const output = [];
  const mf = new Miniflare({
    durableObjectsPersist: persist ?? false,
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) stream.on("data", (chunk) => output.push(String(chunk)));
    },
    ...workerOptions(config, "https://origin.test", bindings),
    outboundService: async (request) => {
      const url = new URL(request.url);
      if (url.host === hook.host) {
        const body = await request.text();
        const post = { headers: Object.fromEntries(request.headers), body, answer: 0, at: Date.now() };
        posts.push(post);
        const answer = receiver ? await receiver(request, body, posts.length - 1) : 200;
        if (answer instanceof Response) {
          post.answer = answer.status;
          return answer;
        }
        post.answer = answer;
        return new Response("{}", { status: answer });
      }
      originCalls.push({ method: request.method, path: url.pathname + url.search, body: await request.text() });
      const wanted = Number(request.headers.get("x-test-status"));
      const status = wanted || (url.pathname.startsWith("/ok") ? 200 : url.pathname === "/login" ? 401 : 404);
      // x-test-body (URI-encoded) is the body to answer with: responses rules read.
      const body = request.headers.get("x-test-body");
      const text = body === null ? JSON.stringify({ path: url.pathname }) : decodeURIComponent(body);
      return new Response(text, { status, headers: { "x-origin": "yes" } });
    },
  });
  await mf.ready;
  const send = (path, ip, init = {}) =>
    mf.dispatchFetch(`https://api.test${path}`, {
      ...init,
      headers: { "cf-connecting-ip": ip, ...(init.headers || {}) },
      cf: { country: "IN" },
    });
  return { mf, posts, originCalls, send, output };
}

export async function waitFor(fn, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const accepted = (posts) => {
  const seen = new Set();
  return posts.filter((p) => p.answer === 200 && !seen.has(p.headers["x-actorwatch-delivery"]) && seen.add(p.headers["x-actorwatch-delivery"]));
};
export const events = (posts) => accepted(posts).flatMap((p) => JSON.parse(p.body).maliciousEvents);

/**
 * The hub's /metrics: the hub's counters with every shard's added, then `hub` and `shards`
 * (each shard's latest report) apart.
 */
export async function metrics(mf) {
  const ns = await mf.getDurableObjectNamespace("HUB");
  const stub = ns.get(ns.idFromName("hub"));
  return (await stub.fetch("https://hub/metrics")).json();
}

