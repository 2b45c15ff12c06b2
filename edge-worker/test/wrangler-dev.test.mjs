// End to end under `wrangler dev` on 127.0.0.1: a real local origin, `actorwatch receive` as
// the webhook receiver, every process stopped by its PID.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { waitFor } from "./lib/harness.mjs";

const listen = (server) => new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server.address().port)));

async function freePort() {
  const s = createServer();
  const port = await listen(s);
  await new Promise((ok) => s.close(ok));
  return port;
}

function stop(child) {
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {}
}

test("wrangler dev: origin answers pass through, a scanner reaches actorwatch receive", { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "actorwatch-wrangler-"));
  const origin = createServer((req, res) => {
    res.writeHead(req.url.startsWith("/ok") ? 200 : 404, { "content-type": "application/json", "x-origin": "local" });
    res.end(JSON.stringify({ path: req.url }));
  });
  const originPort = await listen(origin);

  const out = join(dir, "received.jsonl");
  const receiver = spawn(process.env.ACTORWATCH_BIN, ["receive", "--listen", "127.0.0.1:0", "--quiet", "--out", out], {
    detached: true,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const first = await new Promise((ok) => createInterface({ input: receiver.stdout }).once("line", ok));
  const receiverPort = Number(first.trim().split(":").at(-1));

  const config = JSON.stringify({
    rules: [{ id: "4XX_FILTER", threshold: 3, window_secs: 60 }],
    webhook: { url: `http://127.0.0.1:${receiverPort}/akto`, mode: "instant" },
  });
  const toml = join(dir, "wrangler.toml");
  writeFileSync(
    toml,
    `name = "actorwatch-test"
main = "${join(process.cwd(), "build/index.js")}"
compatibility_date = "2025-09-01"
[vars]
ACTORWATCH_CONFIG = '''${config}'''
ORIGIN_URL = "http://127.0.0.1:${originPort}"
[[durable_objects.bindings]]
name = "COUNTERS"
class_name = "CounterShard"
[[durable_objects.bindings]]
name = "HUB"
class_name = "Hub"
[[migrations]]
tag = "v1"
new_sqlite_classes = ["CounterShard", "Hub"]
`,
  );
  const port = await freePort();
  const inspector = await freePort();
  const wrangler = spawn(
    process.execPath,
    ["node_modules/wrangler/bin/wrangler.js", "dev", "--config", toml, "--ip", "127.0.0.1", "--port", String(port),
      "--inspector-port", String(inspector), "--persist-to", join(dir, "state"), "--log-level", "warn"],
    { detached: true, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" } },
  );
  try {
    const base = `http://127.0.0.1:${port}`;
    const ok = await waitFor(async () => {
      try {
        const r = await fetch(`${base}/ok`);
        return r.status === 200 && r;
      } catch {
        return false;
      }
    }, "wrangler dev", 60000);
    assert.equal(ok.headers.get("x-origin"), "local");
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${base}/scan/${i}`)).status, 404);
    // Complete lines only: the last piece is empty or still being written.
    const received = () => (existsSync(out) ? readFileSync(out, "utf8").split("\n").slice(0, -1) : []);
    const lines = await waitFor(() => received().length > 0 && received(), "a webhook", 20000);
    const payload = JSON.parse(lines[0]).payload;
    assert.equal(payload.maliciousEvents.length, 1);
    assert.equal(payload.maliciousEvents[0].url, "/scan/2");
    assert.equal(payload.maliciousEvents[0].count, 3);
  } finally {
    stop(wrangler);
    stop(receiver);
    origin.close();
  }
});
