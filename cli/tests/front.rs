//! `actorwatch front` against a real `redis-server` (Debian's, started here on a free loopback
//! port and stopped by its PID): batches counted once across proxies, retries that change
//! nothing, blocks every proxy reads, 503 while Redis is away and recovery after it restarts.

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
        let mut child = Command::new(env!("CARGO_BIN_EXE_actorwatch"))
            .args([
                "front",
                "--listen",
                "127.0.0.1:0",
                "--redis-timeout-ms",
                "500",
            ])
            .args(["--redis", redis])
            .args(extra)
            .env_remove("ACTORWATCH_FLEET_SECRET")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("actorwatch front");
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
    assert_eq!(redis.cli(&["FCALL_RO", "aw_version", "0"]), "1");
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
