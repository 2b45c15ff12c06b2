//! `actorwatch front`: the HTTP door between Envoy aggregators in fleet mode and Redis. A
//! proxy-wasm filter can only call Envoy clusters over HTTP or gRPC, so each aggregator POSTs
//! its batch here and this service applies it with the `actorwatch` function library, one
//! `FCALL` per actor in one pipeline. It keeps no state: run as many as wanted, side by side.

use crate::receive::{header, now_secs, read_body, respond};
use actorwatch_core::fleet::{ActorReply, Batch, Flag, Reply, PROTOCOL};
use actorwatch_core::signature::{verify, SIGNATURE_HEADER};
use clap::Args;
use redis::Value;
use serde_json::json;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tiny_http::{Method, Request, Server};

/// The function library this front loads into Redis (and the version it expects there).
pub const LIBRARY: &str = include_str!("../../fleet/actorwatch.lua");
const LIBRARY_VERSION: &str = "1";
/// The key of the block log every proxy reads.
const BLOCKS_KEY: &str = "aw:blocks";
const MAX_BODY_BYTES: u64 = 16 << 20;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  actorwatch front --listen 127.0.0.1:8080 --redis redis://127.0.0.1:6379
  actorwatch front --listen 0.0.0.0:8080 --redis redis://:$REDIS_PASSWORD@redis.internal:6379/0

It prints the address it listens on first (useful with port 0), loads the `actorwatch`
function library into Redis (FUNCTION LOAD REPLACE) and answers:
  POST /v1/batch   an aggregator's batch (JSON), answered with flags and blocks; 503 if Redis fails
  GET  /healthz    200 when Redis answers, else 503
  GET  /stats      {\"batches\", \"actors\", \"duplicates\", \"late\", \"fired\", \"errors\", \"rejected\"}
With --secret (or ACTORWATCH_FLEET_SECRET), only batches signed with it (fleet.hmac_secret) are
applied; others get 401.")]
pub struct FrontArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Redis to count in (redis://[:password@]host:port[/db]); with --redis-cluster, the
    /// cluster's nodes, comma-separated (any few will do: the rest are discovered).
    #[arg(long, env = "ACTORWATCH_REDIS_URL", hide_env_values = true)]
    redis: String,
    /// --redis names Redis Cluster nodes: each actor's calls go to its slot's primary.
    #[arg(long)]
    redis_cluster: bool,
    /// Requests served at once, each with its own Redis connection.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// How long a Redis command may take before the batch is answered 503.
    #[arg(long, default_value_t = 1000)]
    redis_timeout_ms: u64,
    /// Accept only batches signed with this secret (`fleet.hmac_secret` of the proxies'
    /// configuration); others get 401.
    #[arg(long, env = "ACTORWATCH_FLEET_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// How far a signature's time may be from this clock.
    #[arg(long, default_value_t = 300)]
    tolerance_secs: u64,
}

/// Who may post batches: holders of the secret, when one is set.
struct Check {
    secret: Option<String>,
    tolerance_secs: u64,
}

impl Check {
    fn refuses(&self, req: &Request, body: &[u8]) -> Option<String> {
        let secret = self.secret.as_ref()?;
        let Some(header) = header(req, SIGNATURE_HEADER) else {
            return Some(format!("no {SIGNATURE_HEADER} header"));
        };
        verify(
            secret.as_bytes(),
            header,
            body,
            now_secs(),
            self.tolerance_secs,
        )
        .err()
        .map(|e| e.to_string())
    }
}

#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    actors: AtomicU64,
    duplicates: AtomicU64,
    late: AtomicU64,
    fired: AtomicU64,
    errors: AtomicU64,
    rejected: AtomicU64,
}

pub fn run(args: FrontArgs) -> std::process::ExitCode {
    let timeout = Duration::from_millis(args.redis_timeout_ms.max(1));
    let target = if args.redis_cluster {
        redis::cluster::ClusterClient::builder(args.redis.split(',').map(str::trim))
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .build()
            .map(Target::Cluster)
    } else {
        redis::Client::open(args.redis.as_str()).map(Target::Single)
    };
    let client = match target {
        Ok(c) => c,
        Err(e) => {
            // The error never carries the URL (it may hold a password).
            eprintln!("actorwatch front: --redis: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let server = match Server::http(&args.listen) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("actorwatch front: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::from(2);
        }
    };
    let addr = server
        .server_addr()
        .to_ip()
        .map(|a| a.to_string())
        .unwrap_or_else(|| args.listen.clone());
    println!("actorwatch front: listening on http://{addr}");
    let _ = std::io::stdout().flush();
    let stats = Arc::new(Stats::default());
    let check = Arc::new(Check {
        secret: args.secret.clone(),
        tolerance_secs: args.tolerance_secs,
    });
    let workers: Vec<_> = (0..args.threads.max(1))
        .map(|_| {
            let (server, client, stats, check) = (
                Arc::clone(&server),
                client.clone(),
                Arc::clone(&stats),
                Arc::clone(&check),
            );
            std::thread::spawn(move || {
                let mut redis = Redis {
                    target: client,
                    conn: None,
                    timeout,
                };
                for req in server.incoming_requests() {
                    handle(req, &mut redis, &stats, &check);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    std::process::ExitCode::SUCCESS
}

/// Where the counts live: one Redis (or a primary behind a proxy), or a Redis Cluster.
#[derive(Clone)]
enum Target {
    Single(redis::Client),
    Cluster(redis::cluster::ClusterClient),
}

enum Conn {
    Single(redis::Connection),
    // Boxed: a cluster connection holds its node map.
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl Conn {
    fn query<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        match self {
            Conn::Single(c) => cmd.query(c),
            Conn::Cluster(c) => cmd.query(c.as_mut()),
        }
    }

    /// One round trip (per node, on a cluster) for all of `cmds`; the answers in order.
    fn pipeline(&mut self, cmds: &[redis::Cmd]) -> redis::RedisResult<Vec<Value>> {
        match self {
            Conn::Single(c) => {
                let mut pipe = redis::pipe();
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query(c)
            }
            Conn::Cluster(c) => {
                let mut pipe = redis::cluster::cluster_pipe();
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query(c.as_mut())
            }
        }
    }
}

/// One worker's Redis connection, opened on first use and again after any failure.
struct Redis {
    target: Target,
    conn: Option<Conn>,
    timeout: Duration,
}

impl Redis {
    fn conn(&mut self) -> redis::RedisResult<&mut Conn> {
        if self.conn.is_none() {
            let mut conn = match &self.target {
                Target::Single(client) => {
                    let conn = client.get_connection_with_timeout(self.timeout)?;
                    conn.set_read_timeout(Some(self.timeout))?;
                    conn.set_write_timeout(Some(self.timeout))?;
                    Conn::Single(conn)
                }
                Target::Cluster(client) => {
                    let conn = client.get_connection()?;
                    conn.set_read_timeout(Some(self.timeout))?;
                    conn.set_write_timeout(Some(self.timeout))?;
                    Conn::Cluster(Box::new(conn))
                }
            };
            ensure_library(&mut conn, false)?;
            self.conn = Some(conn);
        }
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "no connection",
            ))),
        }
    }

    /// Runs `f` on the connection. A connection that failed is dropped and `f` runs once more
    /// on a new one (a connection left over from before a Redis restart fails once; batches are
    /// idempotent); when a Redis lost the library (a restart without persistence, a new
    /// cluster node), it is loaded on every primary.
    fn with<T>(
        &mut self,
        mut f: impl FnMut(&mut Conn) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        match f(self.conn()?) {
            Err(e) if e.to_string().contains("Function not found") => {
                ensure_library(self.conn()?, true)?;
                f(self.conn()?)
            }
            Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
                self.conn = None;
                let again = f(self.conn()?);
                if again.is_err() {
                    self.conn = None;
                }
                again
            }
            other => other,
        }
    }
}

/// Loads the library (on every primary of a cluster) unless Redis has this version already
/// or `force`.
fn ensure_library(conn: &mut Conn, force: bool) -> redis::RedisResult<()> {
    if !force {
        let version: redis::RedisResult<String> =
            conn.query(redis::cmd("FCALL_RO").arg("aw_version").arg(0));
        if version.as_deref().ok() == Some(LIBRARY_VERSION) {
            return Ok(());
        }
    }
    conn.query::<Value>(
        redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg("REPLACE")
            .arg(LIBRARY),
    )
    .map(|_| ())
}

fn handle(mut req: Request, redis: &mut Redis, stats: &Stats, check: &Check) {
    match (req.method(), req.url()) {
        (Method::Get, "/healthz") => {
            let ok = redis
                .with(|c| c.query::<Value>(&redis::cmd("PING")))
                .is_ok();
            let (status, body) = if ok {
                (200, r#"{"redis":"ok"}"#)
            } else {
                (503, r#"{"redis":"unreachable"}"#)
            };
            return respond(req, status, body);
        }
        (Method::Get, "/stats") => {
            let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
            let body = json!({"batches": n(&stats.batches), "actors": n(&stats.actors),
                "duplicates": n(&stats.duplicates), "late": n(&stats.late),
                "fired": n(&stats.fired), "errors": n(&stats.errors),
                "rejected": n(&stats.rejected)});
            return respond(req, 200, &body.to_string());
        }
        (Method::Post, "/v1/batch") => {}
        _ => return respond(req, 404, r#"{"error":"POST /v1/batch"}"#),
    }
    let Some(body) = read_body(&mut req, MAX_BODY_BYTES) else {
        return respond(req, 400, r#"{"error":"unreadable body"}"#);
    };
    if let Some(why) = check.refuses(&req, &body) {
        stats.rejected.fetch_add(1, Ordering::Relaxed);
        return respond(req, 401, &json!({ "error": why }).to_string());
    }
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            let msg = json!({"error": format!("not a batch: {e}")});
            return respond(req, 400, &msg.to_string());
        }
    };
    if batch.v != PROTOCOL {
        let msg =
            json!({"error": format!("batch version {} (this front speaks {PROTOCOL})", batch.v)});
        return respond(req, 400, &msg.to_string());
    }
    match apply(redis, &batch) {
        Ok(reply) => {
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats
                .actors
                .fetch_add(reply.actors.len() as u64, Ordering::Relaxed);
            for a in &reply.actors {
                stats
                    .duplicates
                    .fetch_add(u64::from(a.dup), Ordering::Relaxed);
                stats.late.fetch_add(a.late, Ordering::Relaxed);
                // A retry's answer repeats the first one's: its events are counted there.
                let fired = a.flags.iter().filter(|f| f.fired && !a.dup).count() as u64;
                stats.fired.fetch_add(fired, Ordering::Relaxed);
            }
            match serde_json::to_string(&reply) {
                Ok(text) => respond(req, 200, &text),
                Err(_) => respond(req, 500, r#"{"error":"cannot encode the answer"}"#),
            }
        }
        Err(e) => {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "actorwatch front: batch {} of {}: {e}",
                batch.seq, batch.instance
            );
            let msg = json!({"error": format!("redis: {e}")});
            respond(req, 503, &msg.to_string())
        }
    }
}

/// The key every call about `actor_hex` uses: its hash tag keeps an actor's keys in one slot.
pub fn actor_key(actor_hex: &str) -> String {
    format!("aw:{{{actor_hex}}}")
}

/// Applies a batch: one `aw_apply` per actor and one `aw_blocks` read, pipelined; then one
/// `aw_block_log` per block this batch set, for the other proxies.
fn apply(redis: &mut Redis, batch: &Batch) -> redis::RedisResult<Reply> {
    let max_block_ms = batch.rules.iter().map(|r| r.block_ms).max().unwrap_or(0);
    let mut cmds = Vec::with_capacity(batch.actors.len() + 1);
    for actor in &batch.actors {
        let mut cmd = redis::cmd("FCALL");
        cmd.arg("aw_apply").arg(1);
        cmd.arg(actor_key(&actor.key))
            .arg(&batch.instance)
            .arg(batch.seq)
            .arg(batch.grace_ms)
            .arg(batch.bucket_ms)
            .arg(batch.rules.len());
        for r in &batch.rules {
            cmd.arg(&r.id)
                .arg(r.window_ms)
                .arg(r.threshold)
                .arg(r.cooldown_ms)
                .arg(r.block_ms)
                .arg(r.block_status);
        }
        cmd.arg(actor.entries.len());
        for (rule, api, bucket, count) in &actor.entries {
            // The library numbers rules from 1, as Lua does.
            cmd.arg(rule + 1).arg(api).arg(bucket).arg(count);
        }
        cmd.arg(actor.claims.len());
        for (rule, api, left_ms) in &actor.claims {
            cmd.arg(rule + 1).arg(api).arg(left_ms);
        }
        cmds.push(cmd);
    }
    let mut blocks = redis::cmd("FCALL");
    blocks
        .arg("aw_blocks")
        .arg(1)
        .arg(BLOCKS_KEY)
        .arg(batch.blocks_since_ms);
    cmds.push(blocks);
    let values = redis.with(|c| c.pipeline(&cmds))?;
    let mut reply = Reply {
        seq: batch.seq,
        ..Reply::default()
    };
    let mut values = values.into_iter();
    let mut logs = Vec::new();
    for actor in &batch.actors {
        let answer = values
            .next()
            .map(|v| actor_reply(&v))
            .ok_or_else(|| bad("aw_apply answered nothing"))??;
        // A block this batch set or extended goes to the log every proxy reads.
        let set_block = answer.block_until_ms > 0
            && answer.flags.iter().any(|f| {
                f.at_ms > 0
                    && batch
                        .rules
                        .get(f.rule as usize)
                        .is_some_and(|r| r.block_ms > 0)
            });
        if set_block && !answer.dup {
            logs.push((
                actor.key.clone(),
                answer.block_until_ms,
                answer.block_status,
            ));
        }
        reply.actors.push(answer);
    }
    if let Some(Value::Array(parts)) = values.next() {
        let mut parts = parts.into_iter();
        reply.blocks_now_ms = parts.next().and_then(|v| int(&v)).unwrap_or(0);
        if let Some(Value::Array(entries)) = parts.next() {
            for entry in entries {
                let text = text(&entry).unwrap_or_default();
                let mut words = text.split(' ');
                if let (Some(key), Some(until), Some(status)) =
                    (words.next(), words.next(), words.next())
                {
                    if let (Ok(until), Ok(status)) = (until.parse::<u64>(), status.parse()) {
                        // A block extended since is logged again: the latest end only.
                        match reply.blocks.iter_mut().find(|b| b.0 == key) {
                            Some(b) if b.1 < until => *b = (key.to_string(), until, status),
                            Some(_) => {}
                            None => reply.blocks.push((key.to_string(), until, status)),
                        }
                    }
                }
            }
        }
    }
    for (key, until, status) in logs {
        let mut log = redis::cmd("FCALL");
        log.arg("aw_block_log")
            .arg(1)
            .arg(BLOCKS_KEY)
            .arg(&key)
            .arg(until)
            .arg(status)
            .arg(max_block_ms.max(1));
        redis.with(|c| c.query::<Value>(&log))?;
    }
    Ok(reply)
}

fn bad(what: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Parse,
        "unexpected answer",
        what.to_string(),
    ))
}

fn int(v: &Value) -> Option<u64> {
    match v {
        Value::Int(n) => u64::try_from(*n).ok(),
        other => text(other)?.parse().ok(),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

/// `{ status, late, block_until_ms, block_status, flags }` from `aw_apply`.
fn actor_reply(v: &Value) -> redis::RedisResult<ActorReply> {
    if let Value::ServerError(e) = v {
        return Err(bad(&format!("aw_apply: {e:?}")));
    }
    let Value::Array(parts) = v else {
        return Err(bad("aw_apply: not an array"));
    };
    let [status, late, until, block_status, flags] = parts.as_slice() else {
        return Err(bad("aw_apply: not five parts"));
    };
    let mut reply = ActorReply {
        dup: text(status).as_deref() == Some("dup"),
        late: int(late).unwrap_or(0),
        block_until_ms: int(until).unwrap_or(0),
        block_status: int(block_status)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0),
        flags: Vec::new(),
    };
    if let Value::Array(flags) = flags {
        for f in flags {
            let Value::Array(f) = f else { continue };
            let [rule, api, fired, count, at_ms, left] = f.as_slice() else {
                continue;
            };
            reply.flags.push(Flag {
                rule: int(rule)
                    .and_then(|r| u32::try_from(r).ok())
                    .and_then(|r| r.checked_sub(1))
                    .ok_or_else(|| bad("aw_apply: rule index"))?,
                api: text(api).unwrap_or_default(),
                fired: int(fired) == Some(1),
                count: int(count).unwrap_or(0),
                at_ms: int(at_ms).unwrap_or(0),
                cooldown_left_ms: int(left).unwrap_or(0),
            });
        }
    }
    Ok(reply)
}
