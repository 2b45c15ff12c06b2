//! Harness for end-to-end runs: a real Envoy with the actorwatch `.wasm`, a sample API and a
//! webhook receiver, all on loopback ephemeral ports, every process stopped by its PID.

pub mod monitoring;
pub mod relay;
pub mod shop;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn envoy_bin() -> PathBuf {
    std::env::var_os("ACTORWATCH_ENVOY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".tools/envoy/envoy"))
}

/// Which build of actorwatch the Envoy tests load: the Wasm filter, or the native module when
/// `ACTORWATCH_HOST=native` (`make test-e2e` runs the suites once with each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Wasm,
    Native,
}

pub fn host() -> Host {
    match std::env::var("ACTORWATCH_HOST").as_deref() {
        Ok("native") => Host::Native,
        _ => Host::Wasm,
    }
}

/// Skips the calling test under the native module, saying why (a Wasm-only behaviour).
#[macro_export]
macro_rules! wasm_only {
    ($why:expr) => {
        if $crate::host() == $crate::Host::Native {
            eprintln!("not run with the native module: {}", $why);
            return;
        }
    };
}

/// Skips the calling test under the Wasm filter, saying why (a native-only behaviour).
#[macro_export]
macro_rules! native_only {
    ($why:expr) => {
        if $crate::host() == $crate::Host::Wasm {
            eprintln!("not run with the Wasm filter: {}", $why);
            return;
        }
    };
}

/// The Envoy stat of the core's metric `name` (or of a host's own counter, `native_panics`)
/// under [`host`]: its exported name (`Field::exported`, e.g. `responses_total`,
/// `threat_rule_matches_total.rule.xss`; a per-sink one of the `webhook` sink,
/// `deliveries_sent_total.sink.akto`) under `wasmcustom.actorwatch.` from the Wasm filter,
/// `actorwatch.` from the native module (its metrics namespace).
pub fn metric_stat(name: &str) -> String {
    let exported = actorwatch_core::Metrics::default()
        .fields()
        .into_iter()
        .find(|f| f.name == name)
        .map_or_else(
            || format!("{name}_total"),
            |f| {
                let mut exported = f.exported();
                if f.per_sink() {
                    exported.label = Some(("sink", "akto".to_string()));
                }
                exported.flat_name()
            },
        );
    match host() {
        Host::Wasm => format!("wasmcustom.actorwatch.{exported}"),
        Host::Native => format!("actorwatch.{exported}"),
    }
}

/// The native module (`make build-native`).
pub fn native_module() -> PathBuf {
    std::env::var_os("ACTORWATCH_NATIVE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/native/libactorwatch_native.so"))
}

/// The native module with fault injection (a request can make a hook panic).
pub fn native_fault_module() -> PathBuf {
    repo().join("target/native-fault-injection/libactorwatch_native.so")
}

/// The filter build that exports the response callbacks (`make build`).
pub fn responses_wasm() -> PathBuf {
    repo().join("target/wasm32-wasip1/release/actorwatch_filter_responses.wasm")
}

pub fn filter_wasm() -> PathBuf {
    std::env::var_os("ACTORWATCH_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/wasm32-wasip1/release/actorwatch_filter.wasm"))
}

/// Where runs keep their files (Envoy configs and logs): inside the build directory, so that the
/// secrets test can read every log the suites produced.
pub fn scratch_root() -> PathBuf {
    repo().join("target/e2e-scratch")
}

/// Every Envoy log under [`scratch_root`].
pub fn scratch_logs() -> Vec<PathBuf> {
    std::fs::read_dir(scratch_root())
        .map(|dirs| {
            dirs.filter_map(|d| Some(d.ok()?.path().join("envoy.log")))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default()
}

/// A fresh directory for one run's files.
pub fn scratch_dir(label: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = scratch_root().join(format!(
        "actorwatch-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Polls `f` every 20 ms until it returns `Some`, or gives up after `timeout`.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A free loopback port, for a server that will start later (the receiver that comes back).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Writes `value` as JSON to `path` (Envoy reads a `.json` bootstrap or LDS file as JSON).
pub fn write_json(path: &Path, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("JSON");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

// ---------------------------------------------------------------------------------------------
// The sample API

/// A small API: `GET /api/orders` and `/api/orders/<1..=100>` answer 200, `POST /login` 401
/// unless the form's password is `letmein` (then 200), `POST /api/comments` 201, `/healthz` 200,
/// everything else 404.
/// Three endpoints have the flaws response inspection finds: `GET /api/search?q=` answers a
/// quote with MySQL's syntax error (200), `GET /api/files?name=` serves `/etc/passwd` lines for
/// a name with `passwd` in it, and `GET /api/crash` answers 500 with a Java stack trace
/// (`/api/report` 500 without one). It counts the requests that reached it.
pub struct SampleApi {
    pub port: u16,
    server: Arc<tiny_http::Server>,
    hits: Arc<std::sync::atomic::AtomicU64>,
}

impl SampleApi {
    pub fn start() -> SampleApi {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("sample API listens"));
        let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(0);
        let hits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        for _ in 0..4 {
            let s = Arc::clone(&server);
            let hits = Arc::clone(&hits);
            thread::spawn(move || {
                for mut req in s.incoming_requests() {
                    hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let mut sent = String::new();
                    let _ = std::io::Read::read_to_string(req.as_reader(), &mut sent);
                    let path = req.url().split('?').next().unwrap_or("").to_string();
                    let status = match (req.method().as_str(), path.as_str()) {
                        ("GET", "/healthz") | ("GET", "/api/orders") => 200,
                        ("GET", p)
                            if p.strip_prefix("/api/orders/")
                                .and_then(|n| n.parse::<u32>().ok())
                                .is_some_and(|n| (1..=100).contains(&n)) =>
                        {
                            200
                        }
                        ("POST", "/login") if sent.split('&').any(|f| f == "password=letmein") => {
                            200
                        }
                        ("POST", "/login") => 401,
                        ("POST", "/api/comments") => 201,
                        _ => 404,
                    };
                    let query = percent_decoded(req.url().split_once('?').map_or("", |q| q.1));
                    let (status, body) = match (req.method().as_str(), path.as_str()) {
                        ("GET", "/api/search") if query.contains('\'') => (200, MYSQL_ERROR.into()),
                        ("GET", "/api/search") => (200, "{\"results\":[]}".into()),
                        ("GET", "/api/files") if query.contains("passwd") => (200, PASSWD.into()),
                        ("GET", "/api/files") => (200, "{\"files\":[]}".into()),
                        ("GET", "/api/crash") => (500, JAVA_TRACE.into()),
                        ("GET", "/api/report") => (500, "{\"error\":\"internal\"}".into()),
                        _ => (
                            status,
                            format!("{{\"status\":{status},\"path\":{}}}", Value::String(path)),
                        ),
                    };
                    let _ = req
                        .respond(tiny_http::Response::from_string(body).with_status_code(status));
                }
            });
        }
        SampleApi { port, server, hits }
    }

    /// Requests that reached the API so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

const MYSQL_ERROR: &str = "<b>Warning</b>: You have an error in your SQL syntax; check the manual \
    that corresponds to your MySQL server version for the right syntax to use near ''' at line 1";
const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n";
const JAVA_TRACE: &str = "java.lang.IllegalStateException: order store closed\n\
    \tat com.acme.orders.OrderStore.find(OrderStore.java:42)\n\
    \tat com.acme.orders.OrderController.get(OrderController.java:17)\n";

/// `%xx` and `+` of a query string decoded (invalid escapes kept as they are).
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)?, hex(*bytes.get(i + 2)?)?)))
            .flatten();
        match (bytes[i], escaped) {
            (_, Some((h, l))) => {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Drop for SampleApi {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

// ---------------------------------------------------------------------------------------------
// A webhook receiver inside the test process

#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

fn snapshot(received: &Mutex<Vec<Received>>) -> Vec<Received> {
    received.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The POSTs answered 200, at most one per delivery id.
fn deduplicated(posts: Vec<Received>) -> Vec<Received> {
    let mut seen = std::collections::HashSet::new();
    posts
        .into_iter()
        .filter(|r| {
            r.answered == 200
                && seen.insert(r.header("x-actorwatch-delivery").unwrap_or("").to_string())
        })
        .collect()
}

fn events_in(posts: &[Received]) -> Vec<Value> {
    posts
        .iter()
        .flat_map(|r| {
            r.json()["maliciousEvents"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// Records every POST; answers 500 to the first `fail_first` of them, 200 afterwards.
pub struct Receiver {
    pub port: u16,
    server: Arc<tiny_http::Server>,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(fail_first: usize) -> Receiver {
        Receiver::start_on(0, fail_first)
    }

    pub fn start_on(port: u16, fail_first: usize) -> Receiver {
        let server = Arc::new(
            tiny_http::Server::http(format!("127.0.0.1:{port}")).expect("receiver listens"),
        );
        let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(0);
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let (s, r) = (Arc::clone(&server), Arc::clone(&received));
        thread::spawn(move || {
            for mut req in s.incoming_requests() {
                let mut body = Vec::new();
                let _ = req.as_reader().read_to_end(&mut body);
                let headers = req
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.as_str().as_str().to_ascii_lowercase(),
                            h.value.as_str().to_string(),
                        )
                    })
                    .collect();
                let mut list = r.lock().unwrap_or_else(|p| p.into_inner());
                let answered = if list.len() < fail_first { 500 } else { 200 };
                list.push(Received {
                    at: Instant::now(),
                    headers,
                    body,
                    answered,
                });
                drop(list);
                let _ =
                    req.respond(tiny_http::Response::from_string("{}").with_status_code(answered));
            }
        });
        Receiver {
            port,
            server,
            received,
        }
    }

    pub fn all(&self) -> Vec<Received> {
        snapshot(&self.received)
    }

    /// Accepted POSTs (answered 200), at most one per delivery id.
    pub fn accepted(&self) -> Vec<Received> {
        deduplicated(self.all())
    }

    /// Every event in accepted POSTs.
    pub fn events(&self) -> Vec<Value> {
        events_in(&self.accepted())
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// How a [`ScriptedReceiver`] answers one POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    Status(u16),
    /// Stores the POST and answers 200 after this long (past the sender's timeout).
    OkAfterMs(u64),
    /// Stores the POST, starts a 200 response and closes the connection halfway through it.
    CloseMidResponse,
}

/// A webhook receiver on a raw socket that misbehaves on purpose: the n-th POST gets
/// `script[n]`, later ones [`Answer::Ok`]. A POST it stored (every answer but a status >= 300)
/// is recorded with `answered: 200`, as a real receiver would have kept its events.
pub struct ScriptedReceiver {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl ScriptedReceiver {
    pub fn start_on(port: u16, script: Vec<Answer>) -> ScriptedReceiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("receiver listens");
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let next = Arc::new(AtomicU64::new(0));
        let script = Arc::new(script);
        let (r, st) = (Arc::clone(&received), Arc::clone(&stop));
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (r, next, script) = (Arc::clone(&r), Arc::clone(&next), Arc::clone(&script));
                thread::spawn(move || serve_scripted(conn, &r, &next, &script));
            }
        });
        ScriptedReceiver {
            port,
            received,
            stop,
        }
    }

    pub fn all(&self) -> Vec<Received> {
        snapshot(&self.received)
    }

    /// Every event the receiver stored, counting a delivery id once (what a receiver that
    /// deduplicates on `x-actorwatch-delivery` keeps).
    pub fn events_deduplicated(&self) -> Vec<Value> {
        events_in(&deduplicated(self.all()))
    }
}

impl Drop for ScriptedReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve_scripted(
    conn: TcpStream,
    received: &Mutex<Vec<Received>>,
    next: &AtomicU64,
    script: &[Answer],
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "content-length" {
                    length = v.parse().unwrap_or(0);
                }
                headers.push((k, v));
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let n = next.fetch_add(1, Ordering::SeqCst) as usize;
        let answer = script.get(n).copied().unwrap_or(Answer::Ok);
        let answered = match answer {
            Answer::Status(s) => s,
            _ => 200,
        };
        received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Received {
                at: Instant::now(),
                headers,
                body,
                answered,
            });
        let out = reader.get_mut();
        match answer {
            Answer::Ok => {
                let _ = out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
            }
            Answer::Status(s) => {
                let _ = write!(out, "HTTP/1.1 {s} Nope\r\ncontent-length: 2\r\n\r\n{{}}");
            }
            Answer::OkAfterMs(ms) => {
                thread::sleep(Duration::from_millis(ms));
                let _ = out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
                return;
            }
            Answer::CloseMidResponse => {
                let _ = out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"acc");
                let _ = out.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Envoy

pub struct EnvoySetup {
    /// The actorwatch configuration JSON, for the filter and the singleton alike.
    pub config_json: String,
    pub singleton: bool,
    pub concurrency: u32,
    pub upstream_port: u16,
    pub webhook_port: u16,
    /// `127.0.0.1` or `::1`.
    pub listen: String,
    pub access_log: Option<PathBuf>,
    /// Keys merged into the HTTP connection manager's config (a JSON object, merged key by key
    /// into nested objects), e.g. larger limits.
    pub hcm_extra: Value,
    /// Another build of the filter (default: [`filter_wasm`]).
    pub wasm: Option<PathBuf>,
    /// A server for `/hang/...` requests (one that never answers, for resets mid-request).
    pub hang_port: Option<u16>,
    /// Environment variables of the Envoy process, passed by name (`host_env_keys`) to the
    /// filter's and the singleton's VMs alike: how `{"env": "NAME"}` secrets reach the filter.
    pub env: Vec<(String, String)>,
    /// Fleet mode: the port of the `actorwatch front` (cluster `actorwatch_fleet`).
    pub fleet_port: Option<u16>,
    /// Run the filter as a Wasm access logger instead of an HTTP filter, behind this
    /// access-log filter (`Value::Null`: none).
    pub access_logger: Option<Value>,
    /// Another build of the native module (default: [`native_module`]).
    pub native: Option<PathBuf>,
    /// Further clusters by name and loopback port: the sinks' (`actorwatch_sink_<name>`).
    pub clusters: Vec<(String, u16)>,
}

impl EnvoySetup {
    /// The filter build this setup loads.
    pub fn wasm_path(&self) -> String {
        self.wasm
            .clone()
            .unwrap_or_else(filter_wasm)
            .display()
            .to_string()
    }

    pub fn new(config_json: &str, upstream_port: u16, webhook_port: u16) -> Self {
        EnvoySetup {
            config_json: config_json.to_string(),
            singleton: true,
            concurrency: 2,
            upstream_port,
            webhook_port,
            listen: "127.0.0.1".into(),
            access_log: None,
            hcm_extra: json!({}),
            wasm: None,
            hang_port: None,
            env: Vec::new(),
            fleet_port: None,
            access_logger: None,
            native: None,
            clusters: Vec::new(),
        }
    }

    /// The native module this setup loads.
    pub fn native_path(&self) -> String {
        self.native
            .clone()
            .unwrap_or_else(native_module)
            .display()
            .to_string()
    }

    /// The native module's `dynamic_module_config`.
    fn native_module_config(&self) -> Value {
        json!({
            "module": {"local": {"filename": self.native_path()}},
            "do_not_close": true,
            "metrics_namespace": "actorwatch",
        })
    }

    /// The native bootstrap extension that aggregates for the native access logger.
    pub fn native_service(&self) -> Value {
        json!({
            "name": "envoy.bootstrap.dynamic_modules",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.bootstrap.dynamic_modules.v3.DynamicModuleBootstrapExtension",
                "dynamic_module_config": self.native_module_config(),
                "extension_name": "actorwatch",
                "extension_config": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": self.config_json,
                },
            },
        })
    }

    /// The access logger entry for actorwatch (Wasm, or native recording into the bootstrap
    /// extension).
    pub fn access_logger_entry(&self) -> Value {
        match host() {
            Host::Wasm => json!({
                "name": "envoy.access_loggers.wasm",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.wasm.v3.WasmAccessLog",
                    "config": self.plugin_config("actorwatch"),
                },
            }),
            Host::Native => json!({
                "name": "envoy.access_loggers.dynamic_modules",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.dynamic_modules.v3.DynamicModuleAccessLog",
                    "dynamic_module_config": self.native_module_config(),
                    "logger_name": "actorwatch",
                },
            }),
        }
    }

    /// The HTTP filter entry for actorwatch: the Wasm filter or the native module, with the
    /// same configuration JSON.
    pub fn http_filter(&self) -> Value {
        match host() {
            Host::Wasm => {
                let mut filter = self.plugin_config("actorwatch");
                filter["failure_policy"] = json!("FAIL_RELOAD");
                json!({"name": "actorwatch", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                    "config": filter,
                }})
            }
            Host::Native => json!({"name": "actorwatch", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter",
                "dynamic_module_config": self.native_module_config(),
                "filter_name": "actorwatch",
                "filter_config": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": self.config_json,
                },
            }}),
        }
    }

    /// The `vm_config` of the filter and the singleton: same VM id, code and variables.
    fn vm_config(&self) -> Value {
        let mut vm = json!({
            "vm_id": "actorwatch",
            "runtime": "envoy.wasm.runtime.v8",
            "code": {"local": {"filename": self.wasm_path()}},
        });
        if !self.env.is_empty() {
            let keys: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
            vm["environment_variables"] = json!({ "host_env_keys": keys });
        }
        vm
    }

    /// The `PluginConfig` of the filter (`root_id` `actorwatch`) or the singleton
    /// (`actorwatch_singleton`), with the actorwatch configuration as a string.
    fn plugin_config(&self, root_id: &str) -> Value {
        json!({
            "name": "actorwatch",
            "root_id": root_id,
            // Lets a blocking threat rule hold a request's headers while it reads the body.
            "allow_on_headers_stop_iteration": true,
            "configuration": {
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": self.config_json,
            },
            "vm_config": self.vm_config(),
        })
    }
}

/// Merges `extra` into `base`: an object's keys one by one (objects within merged the same way),
/// anything else replaced.
pub fn merge(base: &mut Value, extra: &Value) {
    match (base, extra) {
        (Value::Object(base), Value::Object(extra)) => {
            for (k, v) in extra {
                merge(base.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (base, extra) => *base = extra.clone(),
    }
}

/// Admin on loopback, on an ephemeral port (the harness reads it from `--admin-address-path`).
pub fn admin() -> Value {
    json!({"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}})
}

/// The tag extraction that makes the Wasm filter's `<family>.rule.<rule>`,
/// `<family>.sink.<sink>` and `<family>.filter_id.<id>` stats one Prometheus family with a
/// `rule`, `sink` or `filter_id` label, as the shipped configurations have it (the native module labels
/// its metrics itself).
pub fn stats_config() -> Value {
    json!({"stats_tags": [
        {"tag_name": "rule", "regex": r"^wasmcustom\.actorwatch\.\w+(\.rule\.(\w+))$"},
        {"tag_name": "sink", "regex": r"^wasmcustom\.actorwatch\.\w+(\.sink\.(\w+))$"},
        {"tag_name": "filter_id", "regex": r"^wasmcustom\.actorwatch\.\w+(\.filter_id\.([\w.-]+))$"},
    ]})
}

/// The Envoy bootstrap for a run: admin, one listener in front of the sample API, the clusters,
/// and (optionally) the singleton aggregator, sharing the filter's configuration.
pub fn bootstrap(s: &EnvoySetup) -> Value {
    let mut b = json!({
        "admin": admin(),
        "stats_config": stats_config(),
        "static_resources": {"listeners": [listener(s)], "clusters": clusters(s)},
    });
    if let Some(extension) = aggregating_extension(s) {
        b["bootstrap_extensions"] = json!([extension]);
    }
    b
}

/// A bootstrap that takes its listener from `lds.json` in `dir` (filesystem LDS, watched
/// directory): writing that file ([`lds_resources`]) is a config push.
pub fn bootstrap_lds(s: &EnvoySetup, dir: &Path) -> Value {
    let mut b = json!({
        "admin": admin(),
        "stats_config": stats_config(),
        "node": {"id": "actorwatch-test", "cluster": "actorwatch-test"},
        "dynamic_resources": {"lds_config": {
            "resource_api_version": "V3",
            "path_config_source": {
                "path": dir.join("lds.json").display().to_string(),
                "watched_directory": {"path": dir.display().to_string()},
            },
        }},
        "static_resources": {"clusters": clusters(s)},
    });
    if let Some(extension) = aggregating_extension(s) {
        b["bootstrap_extensions"] = json!([extension]);
    }
    b
}

/// The LDS file's content: the API listener with `s.config_json`.
pub fn lds_resources(s: &EnvoySetup) -> Value {
    let mut listener = listener(s);
    listener["@type"] = json!("type.googleapis.com/envoy.config.listener.v3.Listener");
    json!({ "resources": [listener] })
}

/// The bootstrap extension that aggregates, if the setup has one: the Wasm singleton, or for the
/// native access logger the native extension (the native HTTP filter aggregates on its own).
fn aggregating_extension(s: &EnvoySetup) -> Option<Value> {
    match host() {
        Host::Wasm => s.singleton.then(|| singleton(s)),
        Host::Native => s.access_logger.is_some().then(|| s.native_service()),
    }
}

/// The singleton aggregator (a `bootstrap_extensions` entry).
pub fn singleton(s: &EnvoySetup) -> Value {
    json!({
        "name": "envoy.bootstrap.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.wasm.v3.WasmService",
            "singleton": true,
            "config": s.plugin_config("actorwatch_singleton"),
        },
    })
}

/// The upstream clusters: the sample API, the webhook receiver, the never-answering server,
/// the fleet's front and the sinks'.
pub fn clusters(s: &EnvoySetup) -> Value {
    let cluster = |name: &str, port: u16| {
        json!({
            "name": name,
            "type": "STATIC",
            "connect_timeout": "1s",
            "load_assignment": {
                "cluster_name": name,
                "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address":
                    {"address": "127.0.0.1", "port_value": port}}}}]}],
            },
        })
    };
    let mut clusters = json!([
        cluster("sample_api", s.upstream_port),
        cluster("actorwatch_webhook", s.webhook_port),
        cluster("hang", s.hang_port.unwrap_or(s.upstream_port)),
    ]);
    if let Some(list) = clusters.as_array_mut() {
        if let Some(port) = s.fleet_port {
            list.push(cluster("actorwatch_fleet", port));
        }
        for (name, port) in &s.clusters {
            list.push(cluster(name, *port));
        }
    }
    clusters
}

/// The API listener: the HTTP connection manager (with `s.hcm_extra` merged in), the filter,
/// the router.
pub fn listener(s: &EnvoySetup) -> Value {
    let mut hcm = json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "api",
        "route_config": {"virtual_hosts": [{
            "name": "api",
            "domains": ["*"],
            "routes": [
                {"match": {"prefix": "/direct/"},
                 "direct_response": {"status": 404, "body": {"inline_string": "not here"}}},
                {"match": {"prefix": "/hang/"}, "route": {"cluster": "hang", "timeout": "30s"}},
                {"match": {"prefix": "/"}, "route": {"cluster": "sample_api"}},
            ],
        }]},
        "http_filters": [
            s.http_filter(),
            {"name": "envoy.filters.http.router", "typed_config":
                {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
        ],
    });
    let mut access_logs = Vec::new();
    if let Some(log_filter) = &s.access_logger {
        // Envoy calls the logger once per logged stream.
        let mut logger = s.access_logger_entry();
        if !log_filter.is_null() {
            logger["filter"] = log_filter.clone();
        }
        hcm["http_filters"] = json!([{"name": "envoy.filters.http.router", "typed_config":
            {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]);
        access_logs.push(logger);
    }
    if let Some(path) = &s.access_log {
        access_logs.push(json!({
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": path.display().to_string(),
                "log_format": {"json_format": {
                    "start_time": "%START_TIME%",
                    "method": "%REQ(:METHOD)%",
                    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
                    "status": "%RESPONSE_CODE%",
                    "peer": "%DOWNSTREAM_REMOTE_ADDRESS%",
                    "authority": "%REQ(:AUTHORITY)%",
                    "x_forwarded_for": "%REQ(X-FORWARDED-FOR)%",
                    "user_agent": "%REQ(USER-AGENT)%",
                }},
            },
        }));
    }
    if !access_logs.is_empty() {
        hcm["access_log"] = Value::Array(access_logs);
    }
    merge(&mut hcm, &s.hcm_extra);
    json!({
        "name": "api",
        "address": {"socket_address": {"address": s.listen, "port_value": 0}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": hcm,
        }]}],
    })
}

/// A running Envoy, stopped (with its process group) when dropped.
pub struct Envoy {
    child: Child,
    pub admin: SocketAddr,
    pub listener: SocketAddr,
    pub log_path: PathBuf,
    pub dir: PathBuf,
}

#[derive(Debug)]
pub struct EnvoyFailed {
    pub log: String,
}

impl Envoy {
    pub fn start(setup: &EnvoySetup) -> Result<Envoy, EnvoyFailed> {
        let dir = scratch_dir("envoy");
        Envoy::start_with(&bootstrap(setup), setup.concurrency, &dir, &setup.env)
    }

    /// Envoy with this bootstrap (written to `envoy.json` in `dir`) and these environment
    /// variables on top of the test's.
    pub fn start_with(
        bootstrap: &Value,
        concurrency: u32,
        dir: &Path,
        env: &[(String, String)],
    ) -> Result<Envoy, EnvoyFailed> {
        let path = dir.join("envoy.json");
        write_json(&path, bootstrap);
        Envoy::start_with_file(&path, concurrency, dir, env)
    }

    /// Envoy with the bootstrap file `path` and these environment variables on top of the
    /// test's. The bootstrap needs an admin on loopback (see [`admin`]): the harness learns its
    /// address from `--admin-address-path` and waits for `/ready`.
    pub fn start_with_file(
        path: &Path,
        concurrency: u32,
        dir: &Path,
        env: &[(String, String)],
    ) -> Result<Envoy, EnvoyFailed> {
        let admin_path = dir.join("admin-address");
        let log_path = dir.join("envoy.log");
        let log = std::fs::File::create(&log_path).expect("envoy log");
        let mut cmd = Command::new("setsid");
        cmd.arg(envoy_bin())
            .arg("-c")
            .arg(path)
            .args([
                "--concurrency",
                &concurrency.to_string(),
                "--use-dynamic-base-id",
            ])
            .arg("--admin-address-path")
            .arg(&admin_path)
            .args(["-l", "info", "--component-log-level", "wasm:debug"])
            // A listener replaced by a configuration push drains for 1 s, not 10 minutes: the
            // old configuration goes (and hands over) while the test watches.
            .args(["--drain-time-s", "1"])
            // File access logs reach the disk within 100 ms (replay reads them).
            .args(["--file-flush-interval-msec", "100"])
            .current_dir(repo())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let child = cmd.spawn().expect("envoy starts");
        let mut envoy = Envoy {
            child,
            admin: "127.0.0.1:0".parse().expect("addr"),
            listener: "127.0.0.1:0".parse().expect("addr"),
            log_path: log_path.clone(),
            dir: dir.to_path_buf(),
        };
        let ready = wait_for(Duration::from_secs(60), || {
            if let Ok(Some(_)) = envoy.child.try_wait() {
                return Some(false);
            }
            let admin: SocketAddr = std::fs::read_to_string(&admin_path)
                .ok()?
                .trim()
                .parse()
                .ok()?;
            let (status, _) = http(admin, "GET", "/ready", &[], b"").ok()?;
            (status == 200).then(|| {
                envoy.admin = admin;
                true
            })
        });
        if ready != Some(true) {
            return Err(EnvoyFailed {
                log: std::fs::read_to_string(&log_path).unwrap_or_default(),
            });
        }
        let (_, listeners) = http(envoy.admin, "GET", "/listeners?format=json", &[], b"")
            .map_err(|e| EnvoyFailed { log: e })?;
        let v: Value = serde_json::from_slice(&listeners).unwrap_or(Value::Null);
        if let Some(sa) = v["listener_statuses"][0]["local_address"]["socket_address"].as_object() {
            let ip = sa
                .get("address")
                .and_then(Value::as_str)
                .unwrap_or("127.0.0.1");
            let port = sa.get("port_value").and_then(Value::as_u64).unwrap_or(0);
            envoy.listener = SocketAddr::new(ip.parse().expect("listener ip"), port as u16);
        }
        Ok(envoy)
    }

    pub fn stats(&self) -> HashMap<String, u64> {
        let Ok((_, body)) = http(self.admin, "GET", "/stats", &[], b"") else {
            return HashMap::new();
        };
        String::from_utf8_lossy(&body)
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(": ")?;
                Some((k.to_string(), v.trim().parse().ok()?))
            })
            .collect()
    }

    pub fn stat(&self, name: &str) -> u64 {
        self.stats().get(name).copied().unwrap_or(0)
    }

    /// The filter's own metric `name` (the core's name; [`metric_stat`] says where Envoy has it).
    pub fn metric(&self, name: &str) -> u64 {
        self.stat(&metric_stat(name))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn client(&self) -> Client {
        Client::new(self.listener)
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        // setsid made Envoy the leader of its own process group: stop the group by its PID.
        let pid = self.child.id();
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{pid}"))
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `envoy --mode validate` with these environment variables on top of the test's; the log
/// on failure. Validation loads the filter's VM, not the singleton's.
pub fn envoy_validate(yaml: &Path, env: &[(&str, &str)]) -> Result<(), String> {
    let out = Command::new(envoy_bin())
        .args(["--mode", "validate", "-c"])
        .arg(yaml)
        .args(["--use-dynamic-base-id", "-l", "warn"])
        .current_dir(repo())
        .envs(env.iter().copied())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// A small HTTP/1.1 client (keep-alive), enough to drive Envoy

fn read_response(reader: &mut BufReader<TcpStream>) -> Result<(u16, Vec<u8>, bool), String> {
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("bad status line {line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    let mut close = false;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).map_err(|e| e.to_string())?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((h, ""));
        match k.to_ascii_lowercase().as_str() {
            "content-length" => length = v.trim().parse::<usize>().ok(),
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            "connection" => close = v.to_ascii_lowercase().contains("close"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).map_err(|e| e.to_string())?;
            let n = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            chunk.truncate(n);
            body.extend_from_slice(&chunk);
            if n == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    } else {
        reader.read_to_end(&mut body).map_err(|e| e.to_string())?;
        close = true;
    }
    Ok((status, body, close))
}

/// Raw request bytes on a new connection; the status of the answer, or `None` if the server
/// closed the connection without one.
pub fn raw_request(addr: SocketAddr, bytes: &[u8]) -> Option<u16> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(s);
    reader.get_mut().write_all(bytes).ok()?;
    read_response(&mut reader).ok().map(|(status, _, _)| status)
}

/// Raw requests, each on its own new connection, all written before any answer is read: they
/// reach the server together. The status of each answer, or `None` for a connection that
/// failed or closed without one.
pub fn requests_at_once(addr: SocketAddr, requests: &[&[u8]]) -> Vec<Option<u16>> {
    let mut conns: Vec<Option<BufReader<TcpStream>>> = requests
        .iter()
        .map(|_| {
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
            s.set_nodelay(true).ok()?;
            Some(BufReader::new(s))
        })
        .collect();
    for (conn, bytes) in conns.iter_mut().zip(requests) {
        if let Some(reader) = conn {
            if reader.get_mut().write_all(bytes).is_err() {
                *conn = None;
            }
        }
    }
    conns
        .iter_mut()
        .map(|conn| {
            let (status, _, _) = read_response(conn.as_mut()?).ok()?;
            Some(status)
        })
        .collect()
}

/// Envoy's RSS in KiB (its PID is the process group leader `setsid` started).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// One request on a new connection.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let mut c = Client::new(addr);
    c.request(method, path, headers, body)
}

/// A keep-alive connection. Each request is sent once: if the connection fails, the request
/// returns the error (the server may or may not have seen it) and the next request opens a
/// new connection. A response that closes the connection (`connection: close`, or a body that
/// ends with it) also makes the next request open a new one.
pub struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Client { addr, conn: None }
    }

    /// The status of a GET, or 0 if the connection failed.
    pub fn get(&mut self, path: &str) -> u16 {
        self.request("GET", path, &[], b"")
            .map(|(s, _)| s)
            .unwrap_or(0)
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let reader = match &mut self.conn {
            Some(reader) => reader,
            None => {
                let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
                    .map_err(|e| format!("connect to {}: {e}", self.addr))?;
                s.set_read_timeout(Some(Duration::from_secs(10)))
                    .map_err(|e| e.to_string())?;
                s.set_nodelay(true).map_err(|e| e.to_string())?;
                self.conn.insert(BufReader::new(s))
            }
        };
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: api.example.com\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let result = reader
            .get_mut()
            .write_all(req.as_bytes())
            .and_then(|_| reader.get_mut().write_all(body))
            .map_err(|e| e.to_string())
            .and_then(|_| read_response(reader));
        match result {
            Ok((status, body, close)) => {
                if close {
                    self.conn = None;
                }
                Ok((status, body))
            }
            Err(e) => {
                self.conn = None;
                Err(format!("{method} {path}: {e}"))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fleet mode: Redis and the actorwatch front

/// The `actorwatch` command (`ACTORWATCH_BIN`, else the release build).
pub fn actorwatch_bin() -> PathBuf {
    std::env::var_os("ACTORWATCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/release/actorwatch"))
}

/// A `redis-server` of this test's own (Debian's package), on a loopback port, with its data in
/// `dir` (append-only file: a restart on the same port and directory keeps the counts), stopped
/// by its PID when dropped.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl RedisServer {
    pub fn start(dir: &Path) -> RedisServer {
        RedisServer::start_on(free_port(), dir)
    }

    pub fn start_on(port: u16, dir: &Path) -> RedisServer {
        std::fs::create_dir_all(dir).expect("redis dir");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install -y redis-server: `make setup-fleet`)");
        let server = RedisServer {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        let up = wait_for(Duration::from_secs(10), || {
            (server.cli(&["PING"]) == "PONG").then_some(())
        });
        assert!(up.is_some(), "redis-server did not answer on port {port}");
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One `redis-cli` command; its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// Every counted response in Redis's windows: the sum over all `aw:{*}:wc:*` hashes.
    pub fn counted(&self, actor_pattern: &str) -> u64 {
        let keys = self.cli(&[
            "--scan",
            "--pattern",
            &format!("aw:{{{actor_pattern}}}:wc:*"),
        ]);
        keys.lines()
            .filter(|k| !k.is_empty())
            .map(|k| {
                self.cli(&["HVALS", k])
                    .lines()
                    .filter_map(|v| v.trim().parse::<u64>().ok())
                    .sum::<u64>()
            })
            .sum()
    }

    /// Pauses (`SIGSTOP`) or resumes (`SIGCONT`) the server: Redis slow rather than gone.
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status();
    }

    /// Kills the server by its PID (`SIGKILL`: no chance to write anything more) and waits.
    pub fn kill(mut self) -> (u16, PathBuf) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        (self.port, self.dir.clone())
    }

    /// Stops the server by its PID and waits for it (it writes its append-only file first).
    pub fn stop(mut self) -> (u16, PathBuf) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        (self.port, self.dir.clone())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-CONT", &self.child.id().to_string()])
                .status();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `actorwatch front` on a loopback ephemeral port, stopped by its PID when dropped.
pub struct FrontProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl FrontProcess {
    pub fn start(redis_url: &str) -> FrontProcess {
        FrontProcess::start_signed(redis_url, None)
    }

    /// A front that applies only batches signed with `secret` (given through its environment).
    pub fn start_signed(redis_url: &str, secret: Option<&str>) -> FrontProcess {
        let mut cmd = Command::new(actorwatch_bin());
        cmd.args(["front", "--listen", "127.0.0.1:0", "--redis", redis_url])
            .env_remove("ACTORWATCH_FLEET_SECRET");
        if let Some(secret) = secret {
            cmd.env("ACTORWATCH_FLEET_SECRET", secret);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("actorwatch front (make build)");
        let mut first = String::new();
        if let Some(out) = child.stdout.as_mut() {
            let _ = BufReader::new(out).read_line(&mut first);
        }
        let addr = first
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("actorwatch front said {first:?}"));
        FrontProcess { child, addr }
    }

    /// The front's `/stats`.
    pub fn stats(&self) -> Value {
        http(self.addr, "GET", "/stats", &[], b"")
            .ok()
            .and_then(|(_, body)| serde_json::from_slice(&body).ok())
            .unwrap_or(Value::Null)
    }
}

impl Drop for FrontProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
