// A real Envoy with the actorwatch filter, from a node test: the Envoy `make setup-envoy` installs
// and the filter `make build` writes (ACTORWATCH_ENVOY and ACTORWATCH_WASM override them), on
// loopback ephemeral ports, in its own session (setsid) and stopped with its process group by PID.
// The same bootstrap as the Rust harness (tests/src/lib.rs): one listener, the filter with the
// singleton aggregator, an origin cluster and the webhook cluster.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";
import { waitFor } from "./harness.mjs";

const repo = new URL("../../../", import.meta.url).pathname;
export const envoyBin = process.env.ACTORWATCH_ENVOY || join(repo, ".tools/envoy/envoy");
export const filterWasm = process.env.ACTORWATCH_WASM || join(repo, "target/wasm32-wasip1/release/actorwatch_filter.wasm");

/** One HTTP/1.1 request on a new connection; `{ status, headers, body }`. */
export function request(port, path, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on("error", reject);
    req.end(body);
  });
}

const cluster = (name, port) => ({
  name,
  type: "STATIC",
  connect_timeout: "1s",
  load_assignment: {
    cluster_name: name,
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } } }] }],
  },
});

/**
 * The bootstrap: `config` (the actorwatch JSON) in the filter and in the singleton aggregator,
 * requests routed to the origin on `originPort`, webhooks to `webhookPort` (cluster
 * `actorwatch_webhook`). The connection manager keeps Envoy's defaults for the client address:
 * no `use_remote_address`, no trusted hops, so the last X-Forwarded-For entry is the downstream
 * address, the filter's `source.address` (how a test gives each request its client).
 */
export function bootstrap(config, originPort, webhookPort) {
  const plugin = (rootId) => ({
    name: "actorwatch",
    root_id: rootId,
    allow_on_headers_stop_iteration: true,
    configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: config },
    vm_config: { vm_id: "actorwatch", runtime: "envoy.wasm.runtime.v8", code: { local: { filename: filterWasm } } },
  });
  const hcm = {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    stat_prefix: "api",
    route_config: { virtual_hosts: [{ name: "api", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "origin" } }] }] },
    http_filters: [
      {
        name: "actorwatch",
        typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm", config: { ...plugin("actorwatch"), failure_policy: "FAIL_RELOAD" } },
      },
      { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
    ],
  };
  return {
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: "api",
        address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
        filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: hcm }] }],
      }],
      clusters: [cluster("origin", originPort), cluster("actorwatch_webhook", webhookPort)],
    },
    bootstrap_extensions: [{
      name: "envoy.bootstrap.wasm",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.wasm.v3.WasmService", singleton: true, config: plugin("actorwatch_singleton") },
    }],
  };
}

/**
 * The core's name of an exported stat (the core's `Field::exported`): counters end in `_total`,
 * per-rule threat counters are `threat_rule_<kind>_total.rule.<rule>` (`threat_<rule>_<kind>`),
 * per-sink ones `<name>.sink.<sink>` (added up over the sinks).
 */
export function coreName(exported) {
  const perRule = /^threat_rule_([a-z]+)_total\.rule\.([a-z0-9_]+)$/.exec(exported);
  if (perRule) return `threat_${perRule[2]}_${perRule[1]}`;
  return exported.replace(/\.sink\.[a-z0-9_]+$/, "").replace(/_total$/, "");
}

/**
 * Starts Envoy (`--concurrency 2`) with `bootstrap(...)` and waits for its admin `/ready`:
 * `{ pid, admin, port, log(), stats(), stop() }`. `stats()` reads the filter's metrics from the
 * admin `/stats` (`wasmcustom.actorwatch.<exported name>`) as `{ name: value }`, by the core's
 * names (`coreName`).
 */
export async function startEnvoy(config, originPort, webhookPort, { concurrency = 2 } = {}) {
  for (const [what, path, make] of [["Envoy", envoyBin, "make setup-envoy"], ["the filter", filterWasm, "make build"]]) {
    if (!existsSync(path)) throw new Error(`${what} is missing at ${path} (${make})`);
  }
  const dir = mkdtempSync(join(tmpdir(), "actorwatch-envoy-"));
  const cfgPath = join(dir, "envoy.json");
  const adminPath = join(dir, "admin-address");
  const logPath = join(dir, "envoy.log");
  writeFileSync(cfgPath, JSON.stringify(bootstrap(config, originPort, webhookPort), null, 2));
  const logFd = openSync(logPath, "w");
  // setsid: Envoy leads its own process group, which stop() ends by its PID.
  const child = spawn("setsid", [
    envoyBin, "-c", cfgPath, "--concurrency", String(concurrency), "--use-dynamic-base-id",
    "--admin-address-path", adminPath, "-l", "info", "--component-log-level", "wasm:debug",
  ], { stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);
  let exited = null;
  child.on("exit", (code, signal) => (exited = { code, signal }));
  const log = () => (existsSync(logPath) ? readFileSync(logPath, "utf8") : "");
  const stop = async () => {
    if (exited === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      const gone = await waitFor(() => exited !== null, "Envoy to exit", 10000).catch(() => false);
      if (!gone) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const admin = await waitFor(async () => {
      if (exited !== null) throw new Error(`Envoy exited (${JSON.stringify(exited)}):\n${log()}`);
      if (!existsSync(adminPath)) return false;
      const port = Number(readFileSync(adminPath, "utf8").trim().split(":").pop());
      const ready = await request(port, "/ready").catch(() => null);
      return ready?.status === 200 && port;
    }, "Envoy's admin /ready", 60000);
    const listeners = JSON.parse((await request(admin, "/listeners?format=json")).body);
    const port = listeners.listener_statuses[0].local_address.socket_address.port_value;
    const stats = async () => {
      const { body } = await request(admin, "/stats?filter=%5Ewasmcustom%5C.actorwatch%5C.");
      const out = {};
      for (const line of body.split("\n")) {
        const m = /^wasmcustom\.actorwatch\.([a-z0-9_.]+): (\d+)$/.exec(line.trim());
        // A per-sink series adds to its metric's total.
        if (m) out[coreName(m[1])] = (out[coreName(m[1])] ?? 0) + Number(m[2]);
      }
      return out;
    };
    return { pid: child.pid, admin, port, log, stats, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
