//! `actorwatch front` against a real `redis-server` (Debian's, started here on a free loopback
//! port and stopped by its PID): batches counted once across proxies, retries that change
//! nothing, blocks every proxy reads, 503 while Redis is away and recovery after it restarts;
//! and the HTTP server under it and `actorwatch receive`: many proxies connecting at once,
//! slow clients, more requests than the concurrency bound.
//!
//! `ACTORWATCH_FRONT_BIN=/path/to/actorwatch` runs these tests against another build (an older
//! one, to see a test fail); by default they run this crate's.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start_on(port: u16) -> RedisServer {
        RedisServer::start_with(port, &[])
    }

    fn start_with(port: u16, extra: &[&str]) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                &std::env::temp_dir().to_string_lossy(),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install -y redis-server; `make setup-fleet` does it)");
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.cli(&["PING"]) != "PONG" {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Front {
    child: Child,
    addr: String,
}

impl Front {
    fn start(redis_port: u16) -> Front {
        Front::start_with(redis_port, &[])
    }

    fn start_with(redis_port: u16, extra: &[&str]) -> Front {
        Front::start_with_target(&format!("redis://127.0.0.1:{redis_port}"), extra)
    }

    fn start_with_target(redis: &str, extra: &[&str]) -> Front {
        let mut args = vec!["--redis-timeout-ms", "500", "--redis", redis];
        args.extend_from_slice(extra);
        Front::spawn("front", &args)
    }

    /// `actorwatch SUBCOMMAND --listen 127.0.0.1:0 ARGS...`, once it printed its address.
    fn spawn(subcommand: &str, args: &[&str]) -> Front {
        let bin = std::env::var_os("ACTORWATCH_FRONT_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_actorwatch").into());
        let mut child = Command::new(bin)
            .args([subcommand, "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("ACTORWATCH_FLEET_SECRET")
            .env_remove("ACTORWATCH_HMAC_SECRET")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("actorwatch");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut first)
            .expect("first line");
        let addr = first
            .trim()
            .rsplit("http://")
            .next()
            .unwrap_or("")
            .to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{first}");
        Front { child, addr }
    }

    fn request(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        self.request_with(method, path, "", body)
    }

    /// One request with extra header lines (`name: value\r\n` each).
    fn request_with(&self, method: &str, path: &str, headers: &str, body: &str) -> (u16, Value) {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
            self.addr,
            body.len()
        );
        s.write_all(req.as_bytes()).expect("write");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        let status = resp
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The version `fleet/actorwatch.lua` declares (`local VERSION = '<n>'`).
fn library_version() -> String {
    let lua = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fleet/actorwatch.lua"),
    )
    .expect("fleet/actorwatch.lua");
    lua.lines()
        .find_map(|l| l.trim().strip_prefix("local VERSION = '"))
        .and_then(|rest| rest.strip_suffix('\''))
        .expect("local VERSION = '<n>' in fleet/actorwatch.lua")
        .to_string()
}

const ACTOR: &str = "04cb007109"; // 203.0.113.9 in the delta encoding

/// A batch of `count` responses of `ACTOR` in the current bucket, under a block rule with
/// threshold 3.
fn batch(instance: &str, seq: u64, count: u32, blocks_since_ms: u64) -> String {
    let actors = if count == 0 {
        json!([])
    } else {
        json!([{"key": ACTOR, "entries": [[0, "", now_ms() / 100, count]]}])
    };
    json!({"v": 1, "instance": instance, "seq": seq, "grace_ms": 2000, "bucket_ms": 100,
        "blocks_since_ms": blocks_since_ms,
        "rules": [{"id": "r4xx", "window_ms": 60000, "threshold": 3, "cooldown_ms": 300000,
                   "block_ms": 30000, "block_status": 429}],
        "actors": actors})
    .to_string()
}

fn flags(reply: &Value) -> Vec<(bool, u64)> {
    reply["actors"][0]["flags"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| {
                    (
                        f["fired"].as_bool().unwrap_or(false),
                        f["count"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn batches_from_several_proxies_count_once_and_share_blocks() {
    let redis = RedisServer::start_on(free_port());
    let front = Front::start(redis.port);
    // Two proxies bring the actor to threshold - 1: nothing.
    let (status, r) = front.request("POST", "/v1/batch", &batch("p1", 1, 1, 0));
    assert_eq!(status, 200, "{r}");
    assert!(flags(&r).is_empty(), "{r}");
    let (_, r) = front.request("POST", "/v1/batch", &batch("p2", 1, 1, 0));
    assert!(flags(&r).is_empty(), "{r}");
    // The third response, at a third proxy: flagged once, with the fleet's count.
    let (_, r) = front.request("POST", "/v1/batch", &batch("p3", 1, 1, 0));
    assert_eq!(flags(&r), vec![(true, 3)], "{r}");
    assert_eq!(r["actors"][0]["block_status"], 429);
    // The same batch again (a retry): nothing counted twice, the same answer.
    let counted = || redis.cli(&["HVALS", &format!("aw:{{{ACTOR}}}:wc:r4xx:")]);
    let before = counted();
    let (_, again) = front.request("POST", "/v1/batch", &batch("p3", 1, 1, 0));
    assert_eq!(again["actors"][0]["dup"], true);
    assert_eq!(counted(), before);
    // One more from p1: over the threshold, but in the cooldown.
    let (_, r) = front.request("POST", "/v1/batch", &batch("p1", 2, 1, 0));
    assert_eq!(flags(&r), vec![(false, 4)], "{r}");
    // A proxy that never saw the actor reads its block from the log.
    let (_, r) = front.request("POST", "/v1/batch", &batch("p4", 1, 0, 0));
    let blocks = r["blocks"].as_array().cloned().unwrap_or_default();
    assert_eq!(blocks.len(), 1, "{r}");
    assert_eq!(blocks[0][0], ACTOR);
    assert_eq!(blocks[0][2], 429);
    let since = r["blocks_now_ms"].as_u64().unwrap_or(0);
    assert!(since > 0);
    let (_, r) = front.request("POST", "/v1/batch", &batch("p4", 2, 0, since + 1));
    assert_eq!(r["blocks"], json!([]), "nothing new since");
    let (status, stats) = front.request("GET", "/stats", "");
    assert_eq!(status, 200);
    assert_eq!(
        (stats["fired"].as_u64(), stats["duplicates"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn without_redis_batches_get_503_and_a_restarted_redis_is_used_again() {
    let port = free_port();
    let redis = RedisServer::start_on(port);
    let front = Front::start(port);
    assert_eq!(
        front.request("POST", "/v1/batch", &batch("p1", 1, 1, 0)).0,
        200
    );
    drop(redis);
    let (status, r) = front.request("POST", "/v1/batch", &batch("p1", 2, 1, 0));
    assert_eq!(status, 503, "{r}");
    assert_eq!(front.request("GET", "/healthz", "").0, 503);
    // A Redis without persistence comes back empty, library included: the front loads it.
    let redis = RedisServer::start_on(port);
    let (status, r) = front.request("POST", "/v1/batch", &batch("p1", 3, 2, 0));
    assert_eq!(status, 200, "{r}");
    assert!(flags(&r).is_empty(), "the window was lost with Redis: {r}");
    assert_eq!(front.request("GET", "/healthz", "").0, 200);
    assert_eq!(
        redis.cli(&["FCALL_RO", "aw_version", "0"]),
        library_version()
    );
    // Bad input is named, not counted.
    let (status, r) = front.request("POST", "/v1/batch", r#"{"v": 9}"#);
    assert_eq!(status, 400, "{r}");
    let (status, _) = front.request(
        "POST",
        "/v1/batch",
        &batch("p1", 4, 1, 0).replace("\"v\":1", "\"v\":2"),
    );
    assert_eq!(status, 400);
}

#[test]
fn with_a_secret_only_batches_signed_with_it_count() {
    use actorwatch_core::signature::sign;
    let secret = "front-secret-0123456789";
    let redis = RedisServer::start_on(free_port());
    let front = Front::start_with(redis.port, &["--secret", secret]);
    let body = batch("p1", 1, 1, 0);
    let now = now_ms() / 1000;
    let counted = || redis.cli(&["HVALS", &format!("aw:{{{ACTOR}}}:wc:r4xx:")]);
    // Unsigned, signed with another secret, signed too long ago: refused, nothing counted.
    let refused = [
        String::new(),
        format!(
            "x-actorwatch-signature: {}\r\n",
            sign(b"another-secret-987654321", now, body.as_bytes())
        ),
        format!(
            "x-actorwatch-signature: {}\r\n",
            sign(secret.as_bytes(), now - 3600, body.as_bytes())
        ),
    ];
    for headers in &refused {
        let (status, r) = front.request_with("POST", "/v1/batch", headers, &body);
        assert_eq!(status, 401, "{headers:?}: {r}");
    }
    assert_eq!(counted(), "");
    let good = format!(
        "x-actorwatch-signature: {}\r\n",
        sign(secret.as_bytes(), now, body.as_bytes())
    );
    let (status, r) = front.request_with("POST", "/v1/batch", &good, &body);
    assert_eq!(status, 200, "{r}");
    assert_eq!(counted(), "1");
    assert_eq!(front.request("GET", "/stats", "").1["rejected"], 3);
}

/// Three `redis-server`s made into one Redis Cluster (3 primaries, no replicas).
struct Cluster {
    nodes: Vec<RedisServer>,
    _dir: std::path::PathBuf,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = std::env::temp_dir().join(format!(
            "actorwatch-cluster-{}-{}",
            std::process::id(),
            now_ms()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                let port = free_port();
                RedisServer::start_with(
                    port,
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        &format!("nodes-{port}.conf"),
                        "--dir",
                        &dir.to_string_lossy(),
                    ],
                )
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !nodes
            .iter()
            .all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            assert!(Instant::now() < deadline, "the cluster did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Cluster { nodes, _dir: dir }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

#[test]
fn on_redis_cluster_each_actor_counts_in_its_slot_and_blocks_reach_everyone() {
    let cluster = Cluster::start();
    let seeds: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| format!("redis://127.0.0.1:{}", n.port))
        .collect();
    let front = Front::start_with_target(&seeds.join(","), &["--redis-cluster"]);
    // 30 actors, each at threshold 3 over three proxies: 30 events, each raised once.
    let actors: Vec<String> = (1..=30).map(|i| format!("04cb0071{i:02x}")).collect();
    let batch = |instance: &str| {
        let entries: Vec<Value> = actors
            .iter()
            .map(|key| json!({"key": key, "entries": [[0, "", now_ms() / 100, 1]]}))
            .collect();
        json!({"v": 1, "instance": instance, "seq": 1, "grace_ms": 2000, "bucket_ms": 100,
            "blocks_since_ms": 0,
            "rules": [{"id": "r4xx", "window_ms": 60000, "threshold": 3, "cooldown_ms": 300000,
                       "block_ms": 30000, "block_status": 429}],
            "actors": entries})
        .to_string()
    };
    let mut fired = 0;
    for instance in ["p1", "p2", "p3"] {
        let (status, r) = front.request("POST", "/v1/batch", &batch(instance));
        assert_eq!(status, 200, "{r}");
        for a in r["actors"].as_array().cloned().unwrap_or_default() {
            fired += a["flags"]
                .as_array()
                .map_or(0, |f| f.iter().filter(|f| f["fired"] == true).count());
        }
    }
    assert_eq!(fired, actors.len());
    // Every primary holds some actors' keys, and every actor's keys sit in one slot.
    for node in &cluster.nodes {
        assert!(
            node.cli(&["DBSIZE"]).parse::<u64>().unwrap_or(0) > 0,
            "a primary holds nothing"
        );
    }
    let (_, r) = front.request("POST", "/v1/batch", &batch("p4"));
    assert_eq!(
        r["blocks"].as_array().map_or(0, Vec::len),
        actors.len(),
        "{r}"
    );
}

// ---------------------------------------------------------------------------------------------
// The HTTP server: connections, timeouts, the concurrency bound

/// How long a proxy waits for its batch's answer by default (`fleet.timeout_ms`).
const PROXY_TIMEOUT: Duration = Duration::from_millis(250);

/// A keep-alive connection, as a proxy's Envoy holds one to the front.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        Conn {
            reader: BufReader::new(s),
        }
    }

    fn send(&mut self, method: &str, path: &str, body: &str) {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: front\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        self.reader
            .get_mut()
            .write_all(req.as_bytes())
            .expect("write");
    }

    /// The next answer on this connection, if it arrives before `deadline`.
    fn answer(&mut self, deadline: Instant) -> Result<(u16, Value), String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no answer before the deadline".into());
        }
        self.reader
            .get_mut()
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| format!("no answer: {e}"))?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or(format!("status line {line:?}"))?;
        let mut length = 0;
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).map_err(|e| e.to_string())?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().map_err(|_| format!("header {h:?}"))?;
                }
            }
        }
        let mut body = vec![0; length];
        self.reader
            .read_exact(&mut body)
            .map_err(|e| e.to_string())?;
        if Instant::now() > deadline {
            return Err("answered after the deadline".into());
        }
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }
}

/// Whether the server closed `s` (EOF or reset); false while it is open and silent. Whatever
/// the server wrote before closing is read into `got`.
fn closed_by_server(s: &mut TcpStream, got: &mut Vec<u8>) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    s.set_nonblocking(false).expect("blocking");
    closed
}

/// Redis's count of its clients (this question's own connection included).
fn redis_clients(redis: &RedisServer) -> u64 {
    redis
        .cli(&["INFO", "clients"])
        .lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn fifty_proxies_connecting_at_the_same_instant_are_all_answered_in_time() {
    // tiny_http, which served the front before, parked some of the connections it accepted in
    // one burst behind threads already taken by other keep-alive connections: their batches
    // were answered only when another connection closed (never, here). That is a race, lost
    // in most bursts: three fresh fronts, three bursts.
    let redis = RedisServer::start_on(free_port());
    for round in 0..3 {
        fleet_arrives_at_once(&Front::start(redis.port), &format!("r{round}"));
    }
}

/// 50 proxies connect at once, each sends a batch on its own keep-alive connection: every one
/// is answered in time, then a newcomer's, then every connection's next.
fn fleet_arrives_at_once(front: &Front, round: &str) {
    // The library is loaded before the fleet arrives, as a long-running front has it.
    assert_eq!(front.request("GET", "/healthz", "").0, 200);
    let proxies = 50;
    let mut conns: Vec<Conn> = (0..proxies).map(|_| Conn::open(&front.addr)).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.send(
            "POST",
            "/v1/batch",
            &batch(&format!("{round}p{i}"), 1, 1, 0),
        );
    }
    // A debug build on a shared machine: 1 s, four times a proxy's default timeout.
    let deadline = Instant::now() + 4 * PROXY_TIMEOUT;
    let late: Vec<String> = conns
        .iter_mut()
        .enumerate()
        .filter_map(|(i, c)| match c.answer(deadline) {
            Ok((200, _)) => None,
            Ok((status, r)) => Some(format!("proxy {i}: {status} {r}")),
            Err(e) => Some(format!("proxy {i}: {e}")),
        })
        .collect();
    assert!(
        late.is_empty(),
        "{round}: {} of {proxies} batches not answered in time: {late:?}",
        late.len()
    );
    // All 50 connections stay open and idle. A proxy that connects now is answered at once,
    // and so is every open connection's next batch.
    let mut newcomer = Conn::open(&front.addr);
    newcomer.send("POST", "/v1/batch", &batch(&format!("{round}new"), 1, 1, 0));
    let answer = newcomer.answer(Instant::now() + 4 * PROXY_TIMEOUT);
    assert!(matches!(answer, Ok((200, _))), "{round}: {answer:?}");
    for (i, c) in conns.iter_mut().enumerate() {
        c.send(
            "POST",
            "/v1/batch",
            &batch(&format!("{round}p{i}"), 2, 1, 0),
        );
    }
    let deadline = Instant::now() + 4 * PROXY_TIMEOUT;
    for (i, c) in conns.iter_mut().enumerate() {
        let answer = c.answer(deadline);
        assert!(
            matches!(answer, Ok((200, _))),
            "{round}: proxy {i}: {answer:?}"
        );
    }
    let (_, stats) = front.request("GET", "/stats", "");
    assert_eq!(stats["batches"], 2 * proxies + 1, "{round}: {stats}");
}

#[test]
fn slow_clients_are_cut_off_and_oversized_bodies_refused() {
    let redis = RedisServer::start_on(free_port());
    let front = Front::start_with(redis.port, &["--read-timeout-ms", "300"]);
    // A header sent a byte every 20 ms would take 5 s: the front closes the connection once
    // 300 ms have passed without a complete header.
    let header = format!(
        "POST /v1/batch HTTP/1.1\r\nhost: front\r\nx-slow: {}\r\n\r\n",
        "s".repeat(200)
    );
    let mut slow = TcpStream::connect(&front.addr).expect("connect");
    let started = Instant::now();
    let mut got = Vec::new();
    let mut sent = 0;
    for byte in header.as_bytes() {
        if closed_by_server(&mut slow, &mut got) || slow.write_all(&[*byte]).is_err() {
            break;
        }
        sent += 1;
        // Meanwhile everyone else is served.
        if sent == 5 {
            assert_eq!(front.request("GET", "/stats", "").0, 200);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let cut_after = started.elapsed();
    assert!(
        sent < header.len(),
        "the whole header went through, byte by byte"
    );
    assert!(
        cut_after >= Duration::from_millis(250) && cut_after < Duration::from_secs(3),
        "cut off after {cut_after:?}"
    );
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    // A complete header, then a body that stops short: 408 once the same time has passed.
    let mut stalled = TcpStream::connect(&front.addr).expect("connect");
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stalled
        .write_all(b"POST /v1/batch HTTP/1.1\r\nhost: front\r\ncontent-length: 100\r\n\r\n{\"v\":")
        .expect("write");
    let mut answer = String::new();
    let _ = stalled.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.contains("body not received within 300 ms"),
        "{answer}"
    );
    // A declared body over the cap (16 MiB) is refused without being read.
    let mut big = Conn::open(&front.addr);
    big.reader
        .get_mut()
        .write_all(b"POST /v1/batch HTTP/1.1\r\nhost: front\r\ncontent-length: 17000000\r\n\r\n")
        .expect("write");
    let answer = big.answer(Instant::now() + Duration::from_secs(10));
    assert!(
        matches!(&answer, Ok((413, r)) if r["error"] == "body over 16777216 bytes"),
        "{answer:?}"
    );
    let (_, stats) = front.request("GET", "/stats", "");
    assert_eq!(
        (stats["batches"].as_u64(), stats["errors"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn connections_past_the_cap_are_closed_at_once() {
    let redis = RedisServer::start_on(free_port());
    let front = Front::start_with(redis.port, &["--max-connections", "2"]);
    // Two keep-alive connections, open and idle: a third is closed without an answer.
    let mut held: Vec<Conn> = (0..2).map(|_| Conn::open(&front.addr)).collect();
    for c in &mut held {
        c.send("GET", "/stats", "");
        let answer = c.answer(Instant::now() + Duration::from_secs(10));
        assert!(matches!(answer, Ok((200, _))), "{answer:?}");
    }
    let mut third = Conn::open(&front.addr);
    third.send("GET", "/stats", "");
    let answer = third.answer(Instant::now() + Duration::from_secs(10));
    assert!(answer.is_err(), "{answer:?}");
    // Once one of them closes, a new connection is served.
    held.pop();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Conn::open(&front.addr);
        c.send("GET", "/stats", "");
        match c.answer(deadline) {
            Ok((200, _)) => break,
            other => assert!(Instant::now() < deadline, "{other:?}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends one batch per connection at once while Redis is paused for `pause_ms`; the answers
/// (status, error) and how long each took, in order.
fn batches_during_a_pause(
    front: &Front,
    redis: &RedisServer,
    batches: usize,
    pause_ms: u64,
) -> Vec<(u16, String, Duration)> {
    // Every Redis connection the front may use is open and has the library before the pause.
    assert_eq!(front.request("GET", "/healthz", "").0, 200);
    let mut conns: Vec<Conn> = (0..batches).map(|_| Conn::open(&front.addr)).collect();
    assert_eq!(
        redis.cli(&["CLIENT", "PAUSE", &pause_ms.to_string(), "ALL"]),
        "OK"
    );
    let sent = Instant::now();
    for (i, c) in conns.iter_mut().enumerate() {
        c.send("POST", "/v1/batch", &batch(&format!("p{i}"), 1, 1, 0));
    }
    let deadline = sent + Duration::from_millis(pause_ms) + Duration::from_secs(10);
    // One reader per connection: each answer's time is its own, whatever order they come in.
    std::thread::scope(|s| {
        let readers: Vec<_> = conns
            .iter_mut()
            .map(|c| {
                s.spawn(move || {
                    let (status, r) = c.answer(deadline).expect("an answer");
                    let error = r["error"].as_str().unwrap_or("").to_string();
                    (status, error, sent.elapsed())
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|r| r.join().expect("reader"))
            .collect()
    })
}

#[test]
fn more_batches_than_the_bound_wait_their_turn() {
    let redis = RedisServer::start_on(free_port());
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let front = Front::spawn(
        "front",
        &[
            "--redis",
            &url,
            "--threads",
            "2",
            "--queue-timeout-ms",
            "10000",
            "--redis-timeout-ms",
            "5000",
        ],
    );
    // 12 batches while Redis answers nobody for 400 ms: all applied once it does, never more
    // than 2 at once (2 Redis connections, and redis-cli's own).
    let answers = batches_during_a_pause(&front, &redis, 12, 400);
    assert!(
        answers.iter().all(|(status, _, _)| *status == 200),
        "{answers:?}"
    );
    assert!(redis_clients(&redis) <= 3, "{}", redis_clients(&redis));
    let (_, stats) = front.request("GET", "/stats", "");
    assert_eq!(stats["batches"], 12, "{stats}");
}

#[test]
fn batches_that_wait_past_the_queue_timeout_get_503_at_once() {
    let redis = RedisServer::start_on(free_port());
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let front = Front::spawn(
        "front",
        &[
            "--redis",
            &url,
            "--threads",
            "2",
            "--queue-timeout-ms",
            "200",
            "--redis-timeout-ms",
            "5000",
        ],
    );
    // Redis answers nobody for 1.5 s: the 2 batches that got a connection wait for it and are
    // applied; the other 10 are told the front is busy once 200 ms have passed, not 1.5 s.
    let answers = batches_during_a_pause(&front, &redis, 12, 1500);
    let applied = answers.iter().filter(|a| a.0 == 200).count();
    let busy: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert_eq!((applied, busy.len()), (2, 10), "{answers:?}");
    for (_, error, took) in &busy {
        assert!(error.starts_with("busy: "), "{error}");
        assert!(*took < Duration::from_millis(1000), "503 after {took:?}");
    }
    let (_, stats) = front.request("GET", "/stats", "");
    assert_eq!(
        (stats["batches"].as_u64(), stats["errors"].as_u64()),
        (Some(2), Some(10))
    );
}

#[test]
fn a_redis_slower_than_the_timeout_gets_503_in_that_time() {
    let redis = RedisServer::start_on(free_port());
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let front = Front::spawn("front", &["--redis", &url, "--redis-timeout-ms", "300"]);
    // Redis answers nobody for 2 s; the batch is answered 503 after its 300 ms.
    let answers = batches_during_a_pause(&front, &redis, 1, 2000);
    let (status, error, took) = &answers[0];
    assert_eq!(*status, 503, "{answers:?}");
    assert!(error.starts_with("redis: "), "{error}");
    assert!(
        *took >= Duration::from_millis(250) && *took < Duration::from_millis(1500),
        "503 after {took:?}"
    );
}

/// An Akto webhook body `actorwatch receive` accepts.
fn webhook() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../filter/core/tests/fixtures/akto-webhook-example.json"),
    )
    .expect("Akto's example payload")
}

#[test]
fn receive_handles_a_bounded_number_of_posts_at_once_and_answers_every_one() {
    // 6 POSTs at once, 2 at a time, each taking 300 ms: three rounds, so no sooner than 900 ms;
    // /stats answers meanwhile.
    let receiver = Front::spawn(
        "receive",
        &["--quiet", "--max-concurrent", "2", "--delay-ms", "300"],
    );
    let body = webhook();
    let mut conns: Vec<Conn> = (0..6).map(|_| Conn::open(&receiver.addr)).collect();
    let sent = Instant::now();
    for c in &mut conns {
        c.send("POST", "/hook", &body);
    }
    let (status, stats) = receiver.request("GET", "/stats", "");
    assert_eq!(status, 200);
    assert!(sent.elapsed() < Duration::from_millis(300), "{stats}");
    let deadline = sent + Duration::from_secs(10);
    for c in &mut conns {
        let answer = c.answer(deadline);
        assert!(matches!(answer, Ok((200, _))), "{answer:?}");
    }
    assert!(
        sent.elapsed() >= Duration::from_millis(900),
        "{:?}",
        sent.elapsed()
    );
    let (_, stats) = receiver.request("GET", "/stats", "");
    assert_eq!(
        (stats["posts"].as_u64(), stats["accepted"].as_u64()),
        (Some(6), Some(6))
    );
}
