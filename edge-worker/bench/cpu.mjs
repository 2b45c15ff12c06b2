// CPU time per request of the Worker in real workerd (Miniflare 4), side by side with a plain
// pass-through Worker in the same workerd process. workerd reports no CPU time locally (a tail
// Worker's TraceItem.cpuTime is 0), so the figure is the workerd process's own CPU time from
// /proc, divided by the requests sent. The origin and the webhook receiver run in this Node
// process, so their CPU is not counted. Variants are alternated over repeated rounds.
//
//   node bench/cpu.mjs OUT.json [requests] [repeats]
import { Miniflare } from "miniflare";
import { workerOptions } from "../test/lib/harness.mjs";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";

const [out, requestsArg, repeatsArg] = process.argv.slice(2);
const requests = Number(requestsArg || 2000);
const repeats = Number(repeatsArg || 5);
const concurrency = 4;

// The origin: 200 for /ok, 404 otherwise. Also the webhook receiver (POST /hook).
const origin = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const ok = req.url.startsWith("/ok") || req.url === "/hook";
    res.writeHead(ok ? 200 : 404, { "content-type": "text/plain" });
    res.end(ok ? "ok" : "nope");
  });
});
await new Promise((r) => origin.listen(0, "127.0.0.1", r));
const originUrl = `http://127.0.0.1:${origin.address().port}`;

const config = JSON.stringify({
  actor: { sources: ["cf-connecting-ip"] },
  rules: [{ id: "4XX_FILTER", threshold: 10, window_secs: 60, cooldown_secs: 600 }],
  webhook: { url: `${originUrl}/hook`, mode: "instant" },
});

const PASS_THROUGH = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, { method: request.method, headers: request.headers, redirect: "manual" });
  },
};`;

const mf = new Miniflare({
  host: "127.0.0.1",
  port: 0,
  workers: [
    {
      name: "actorwatch",
      routes: ["actorwatch.test/*"],
      ...workerOptions(config, originUrl),
    },
    {
      name: "passthrough",
      routes: ["passthrough.test/*"],
      modules: true,
      script: PASS_THROUGH,
      compatibilityDate: "2025-09-01",
      bindings: { ORIGIN_URL: originUrl },
    },
  ],
});
const entry = await mf.ready;

function workerdPid() {
  const out = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" });
  const line = out.split("\n").find((l) => l.includes("workerd"));
  if (!line) throw new Error("workerd process not found");
  return Number(line.trim().split(/\s+/)[0]);
}
const pid = workerdPid();
const ticksPerSec = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));
function cpuSeconds() {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSec;
}

/** Waits until workerd is idle (work left in waitUntil finished): its CPU time stops moving. */
async function settled() {
  const deadline = Date.now() + 5000;
  let last = cpuSeconds();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    const now = cpuSeconds();
    if (now === last) return now;
    last = now;
  }
  return last;
}

// Asynchronous: the origin answering the Worker runs on this process's event loop.
async function hey(host, path, n, ip) {
  const args = ["-c", "1", "hey", "-n", String(n), "-c", String(concurrency), "-host", host, "-H", `cf-connecting-ip: ${ip}`, `${entry.origin}${path}`];
  const { stdout: text } = await promisify(execFile)("taskset", args, { encoding: "utf8", timeout: 600_000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)[1]);
  const codes = [...text.matchAll(/\[(\d+)\]\s+(\d+) responses/g)].map((m) => `${m[1]}:${m[2]}`);
  return { rps, codes };
}

const variants = {
  "pass-through JS Worker|200": ["passthrough.test", "/ok"],
  "pass-through JS Worker|404": ["passthrough.test", "/nope"],
  "actorwatch Worker|200": ["actorwatch.test", "/ok"],
  "actorwatch Worker|404": ["actorwatch.test", "/nope"],
};

// Pin workerd to core 0 and the load generator to core 1.
execFileSync("taskset", ["-a", "-p", "-c", "0", String(pid)], { stdio: "ignore" });
for (const [host, path] of Object.values(variants)) await hey(host, path, 500, "198.51.100.1");

const results = {};
for (let r = 0; r < repeats; r++) {
  for (const [name, [host, path]] of Object.entries(variants)) {
    // One actor per variant and round: the first 10 404s raise one event, the rest are counted
    // in cooldown, as for a scanner.
    const ip = `198.51.${100 + r}.${Object.keys(variants).indexOf(name) + 2}`;
    const cpu0 = await settled();
    const { rps, codes } = await hey(host, path, requests, ip);
    const want = `${path === "/ok" ? 200 : 404}:${requests}`;
    if (codes.join() !== want) throw new Error(`${name}: expected ${want}, got ${codes.join(" ")}`);
    const cpuUs = (((await settled()) - cpu0) * 1e6) / requests;
    (results[name] ??= []).push({ cpu_us: cpuUs, rps, codes });
    console.error(`run ${r + 1}/${repeats} ${name}: ${cpuUs.toFixed(1)} µs CPU/request, ${rps} requests/s, ${codes.join(" ")}`);
  }
}

await mf.dispose();
origin.close();
writeFileSync(out, JSON.stringify({ requests, repeats, concurrency, results }, null, 1));
