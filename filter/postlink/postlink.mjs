// The filter's post-link step, run by `make build` on the module cargo links:
//  - drops the exports of proxy-wasm callbacks the filter never uses, so the host skips them
//    without entering the VM (proxy-wasm-cpp-host calls only what a module exports);
//  - optimizes with binaryen (-O3: size without giving back instructions per request;
//    with --shrink, -Oz: the lean alert-only build of `make build-lean`, size first).
//    -O3 inlines a function with one caller only when it is small (ONE_CALLER_INLINE_MAX):
//    unbounded, it merged whole call trees into functions of 33-49 KB, and V8 (TurboFan, run
//    on every function at load) holds compile memory that grows with the largest functions;
//    Envoy's allocator keeps it (about 9 MiB more RSS per process). The cap also keeps apart
//    what the core splits with #[inline(never)], which binaryen does not see.
//  - with --responses, keeps the response callbacks too: the module that reads response bodies
//    (`actorwatch_filter_responses.wasm`). Envoy enters the VM for every exported callback, so
//    the default module leaves them out and a request costs the same when no rule reads responses.
// Usage: node postlink.mjs [--shrink] [--responses] <module.wasm>...   (each rewritten in place)
// Cargo restores its own output on every build, so results are cached by the input's hash.
import binaryen from "binaryen";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Exactly what the filter implements (filter/proxy/src): everything else is the SDK's no-op.
const KEPT = new Set([
  "memory",
  "_initialize",
  "proxy_abi_version_0_2_1",
  "proxy_on_memory_allocate",
  "proxy_on_vm_start",
  "proxy_on_configure",
  "proxy_on_tick",
  "proxy_on_http_call_response",
  "proxy_on_context_create",
  "proxy_on_request_headers",
  "proxy_on_request_body",
  "proxy_on_log",
  // The SDK frees a context's state here.
  "proxy_on_delete",
]);
// What the module that reads response bodies keeps besides.
const RESPONSES = ["proxy_on_response_headers", "proxy_on_response_body"];
const MARKER = "actorwatch-postlink";
// Bump when KEPT or the optimization changes, so cached results are not reused.
const VERSION = "3";
// binaryen's size measure (expressions) of a one-caller function -O3 still inlines; its default
// is unbounded.
const ONE_CALLER_INLINE_MAX = 100;

// What rustc's wasm32-wasip1 target emits; the linker strips its target_features section.
const F = binaryen.Features;
const FEATURES =
  F.MutableGlobals | F.NontrappingFPToInt | F.BulkMemory | F.SignExt | F.ReferenceTypes |
  F.Multivalue | F.ExtendedConst | F.BulkMemoryOpt | F.CallIndirectOverlong;

// The names of a module's custom sections.
function customSections(bytes) {
  const names = [];
  let at = 8;
  const leb = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (id === 0) {
      const length = leb();
      names.push(bytes.subarray(at, at + length).toString());
    }
    at = end;
  }
  return names;
}

const here = dirname(fileURLToPath(import.meta.url));
const cacheDir = join(here, "..", "..", "target", "postlink");

function postlink(path, shrink, responses) {
  const input = readFileSync(path);
  const variant = `${VERSION}${shrink ? "-Oz" : ""}${responses ? "-responses" : ""}`;
  const key = createHash("sha256").update(variant).update(input).digest("hex");
  const kept = new Set([...KEPT, ...(responses ? RESPONSES : [])]);
  const cached = join(cacheDir, `${key}.wasm`);
  if (existsSync(cached)) {
    copyFileSync(cached, `${path}.tmp`);
    renameSync(`${path}.tmp`, path);
    console.log(`postlink: ${path}: ${input.length} -> ${readFileSync(path).length} bytes (cached)`);
    return;
  }
  if (customSections(input).includes(MARKER)) {
    console.log(`postlink: ${path}: already processed`);
    return;
  }
  const module = binaryen.readBinary(input);
  module.setFeatures(FEATURES);
  const exported = [];
  for (let i = 0; i < module.getNumExports(); i++) {
    exported.push(binaryen.getExportInfo(module.getExportByIndex(i)).name);
  }
  const missing = [...kept].filter((name) => !exported.includes(name));
  if (missing.length > 0) {
    throw new Error(`${path} lacks exports the filter needs: ${missing.join(", ")}`);
  }
  const dropped = exported.filter((name) => !kept.has(name));
  for (const name of dropped) module.removeExport(name);
  // -O3, or -Oz with --shrink.
  binaryen.setOptimizeLevel(shrink ? 2 : 3);
  binaryen.setShrinkLevel(shrink ? 2 : 0);
  binaryen.setOneCallerInlineMaxSize(shrink ? -1 : ONE_CALLER_INLINE_MAX);
  module.optimize();
  if (!module.validate()) throw new Error(`${path}: the optimized module does not validate`);
  module.addCustomSection(MARKER, new TextEncoder().encode(VERSION));
  const output = module.emitBinary();
  module.dispose();
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(`${cached}.tmp`, output);
  renameSync(`${cached}.tmp`, cached);
  writeFileSync(`${path}.tmp`, output);
  renameSync(`${path}.tmp`, path);
  console.log(`postlink: ${path}: ${input.length} -> ${output.length} bytes; exports dropped: ${dropped.join(" ")}`);
}

const args = process.argv.slice(2);
const shrink = args.includes("--shrink");
const responses = args.includes("--responses");
const paths = args.filter((arg) => arg !== "--shrink" && arg !== "--responses");
if (paths.length === 0 || paths.some((path) => path.startsWith("--"))) {
  console.error("usage: node postlink.mjs [--shrink] [--responses] <module.wasm>...");
  process.exit(2);
}
for (const path of paths) postlink(path, shrink, responses);
