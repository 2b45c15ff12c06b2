//! `actorwatch front`: the HTTP door between Envoy aggregators in fleet mode and Redis. A
//! proxy-wasm filter can only call Envoy clusters over HTTP or gRPC, so each aggregator POSTs
//! its batch here and this service applies it with the `actorwatch` function library, one
//! `FCALL` per actor in one pipeline. It keeps no state: run as many as wanted, side by side.

use crate::http::{self, json, read_body, Limits, Reply};
use crate::receive::now_secs;
use actorwatch_core::fleet::{ActorReply, Batch, Flag, Reply as BatchReply, PROTOCOL};
use actorwatch_core::signature::{verify, SIGNATURE_HEADER};
use clap::Args;
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::{Method, Request};
use redis::Value;
use serde_json::json;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The function library this front loads into Redis (and the version it expects there).
pub const LIBRARY: &str = include_str!("../../fleet/actorwatch.lua");
const LIBRARY_VERSION: &str = "2";
/// The key of the block log every proxy reads.
const BLOCKS_KEY: &str = "aw:blocks";
const MAX_BODY_BYTES: usize = 16 << 20;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  actorwatch front --listen 127.0.0.1:8080 --redis redis://127.0.0.1:6379
  actorwatch front --listen 0.0.0.0:8080 --redis redis://:$REDIS_PASSWORD@redis.internal:6379/0

It prints the address it listens on first (useful with port 0), loads the `actorwatch`
function library into Redis (FUNCTION LOAD REPLACE) and answers:
  POST /v1/batch   an aggregator's batch (JSON), answered with flags and blocks; 503 if Redis fails
                   or no Redis connection frees up within --queue-timeout-ms
  GET  /healthz    200 when Redis answers, else 503
  GET  /stats      {\"batches\", \"actors\", \"duplicates\", \"late\", \"fired\", \"errors\", \"rejected\"}
With --secret (or ACTORWATCH_FLEET_SECRET), only batches signed with it (fleet.hmac_secret) are
applied; others get 401. Every connection is served at once, keep-alive included; only the Redis
work is bounded (--threads).")]
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
    /// Requests applied in Redis at once, each on its own Redis connection; more wait for one
    /// (up to --queue-timeout-ms).
    #[arg(long, visible_alias = "max-concurrent", default_value_t = 4)]
    threads: usize,
    /// How long a request's Redis work may take (each command, and all of a batch's commands
    /// together) before it is answered 503.
    #[arg(long, default_value_t = 1000)]
    redis_timeout_ms: u64,
    /// How long a request may wait for one of the --threads Redis connections before it is
    /// answered 503.
    #[arg(long, default_value_t = 1000)]
    queue_timeout_ms: u64,
    /// How long a client may take to send a request's header, and then as long for its body;
    /// slower clients are cut off. A keep-alive connection idle this long is closed.
    #[arg(long, default_value_t = 10_000)]
    read_timeout_ms: u64,
    /// Connections open at once; past this a new connection is closed at once.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
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
    fn refuses(&self, headers: &HeaderMap, body: &[u8]) -> Option<String> {
        let secret = self.secret.as_ref()?;
        let Some(header) = http::header(headers, SIGNATURE_HEADER) else {
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

/// What every request shares.
struct Front {
    stats: Stats,
    check: Check,
    redis: Arc<Pool>,
    read_timeout: Duration,
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
    let listener = match http::bind(&args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("actorwatch front: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::from(2);
        }
    };
    let threads = args.threads.max(1);
    let queue_timeout = Duration::from_millis(args.queue_timeout_ms.max(1));
    // The Redis work runs on the pool's own threads, not the runtime's blocking ones.
    let (runtime, redis) = match http::runtime(1)
        .and_then(|r| Ok((r, Pool::start(&client, threads, timeout, queue_timeout)?)))
    {
        Ok(started) => started,
        Err(e) => {
            eprintln!("actorwatch front: cannot start: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| args.listen.clone());
    println!("actorwatch front: listening on http://{addr}");
    let _ = std::io::stdout().flush();
    let front = Arc::new(Front {
        stats: Stats::default(),
        check: Check {
            secret: args.secret.clone(),
            tolerance_secs: args.tolerance_secs,
        },
        redis,
        read_timeout: Duration::from_millis(args.read_timeout_ms.max(1)),
    });
    let limits = Limits {
        read_timeout: front.read_timeout,
        max_connections: args.max_connections,
    };
    http::serve_until_done(&runtime, listener, limits, "actorwatch front", move |req| {
        handle(Arc::clone(&front), req)
    })
}

/// The Redis connections: `threads` worker threads, each with its own connection, take the
/// requests' Redis work in arrival order from one queue. A worker that finishes takes the next
/// piece at once; nothing waits for a thread to wake while work is queued. A request waits at
/// most `queue_timeout` for a worker to start its work and at most `timeout` from that start
/// for the result; either way it is answered then.
struct Pool {
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
    threads: usize,
    timeout: Duration,
    queue_timeout: Duration,
}

/// One request's Redis work, waiting for a worker.
struct Job {
    ticket: Arc<Ticket>,
    queued: Instant,
    work: Box<dyn FnOnce(&mut Redis) + Send>,
}

/// Where a job stands, shared by the request and the worker.
#[derive(Default)]
struct Ticket {
    state: AtomicU8,
    started: OnceLock<Instant>,
}

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const CANCELLED: u8 = 2;

impl Ticket {
    /// When a worker started the job, if one did.
    fn started(&self) -> Option<Instant> {
        (self.state.load(Ordering::Acquire) == STARTED)
            .then(|| self.started.get().copied())
            .flatten()
    }

    /// Gives the job up unless a worker started it; true if it will never run.
    fn cancel(&self) -> bool {
        self.state
            .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Withdraws its job when dropped, unless a worker started it.
struct Withdraw<'a>(&'a Pool, Arc<Ticket>);

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.0.withdraw(&self.1);
    }
}

/// Why a request's Redis work gave no answer (503).
enum Failure {
    /// No worker started it within `queue_timeout`.
    Busy,
    /// The work took longer than `timeout` (it finishes on its own; batches are idempotent).
    TimedOut,
    Redis(redis::RedisError),
    /// The work ended without an answer (a bug).
    Lost,
}

impl Pool {
    /// Starts the workers, each opening its Redis connection on first use.
    fn start(
        target: &Target,
        threads: usize,
        timeout: Duration,
        queue_timeout: Duration,
    ) -> std::io::Result<Arc<Pool>> {
        let pool = Arc::new(Pool {
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            threads,
            timeout,
            queue_timeout,
        });
        for i in 0..threads {
            let (pool, target) = (Arc::clone(&pool), target.clone());
            std::thread::Builder::new()
                .name(format!("redis-{i}"))
                .spawn(move || pool.work(target))?;
        }
        Ok(pool)
    }

    /// A worker: the next job, for as long as the process runs.
    fn work(&self, target: Target) {
        let mut redis = Redis {
            target,
            conn: None,
            timeout: self.timeout,
        };
        loop {
            let job = {
                let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    match queue.pop_front() {
                        Some(job) => break job,
                        None => queue = self.ready.wait(queue).unwrap_or_else(|p| p.into_inner()),
                    }
                }
            };
            // A job that waited too long is given up here too, even before its request's
            // timer says so: its request is answered 503 busy.
            if job.queued.elapsed() > self.queue_timeout {
                job.ticket.cancel();
                continue;
            }
            let _ = job.ticket.started.set(Instant::now());
            if job
                .ticket
                .state
                .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            let work = job.work;
            // A panic (a bug) costs this job and the connection, not the worker.
            let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut redis)));
            if done.is_err() {
                redis.conn = None;
            }
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Redis) -> redis::RedisResult<T> + Send + 'static,
    ) -> Result<T, Failure> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let ticket = Arc::new(Ticket::default());
        let queued = Instant::now();
        let job = Job {
            ticket: Arc::clone(&ticket),
            queued,
            work: Box::new(move |redis: &mut Redis| {
                let _ = tx.send(f(redis));
            }),
        };
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(job);
        self.ready.notify_one();
        // A request that goes away (its client closed the connection) takes its job along.
        let _withdraw = Withdraw(self, Arc::clone(&ticket));
        loop {
            // Until a worker starts the job, the next look is at the queue deadline or one
            // Redis timeout from now, whichever comes first: a job that starts meanwhile still
            // gets its whole `timeout`, and no more.
            let deadline = match ticket.started() {
                Some(started) => started + self.timeout,
                None => (queued + self.queue_timeout).min(Instant::now() + self.timeout),
            };
            match tokio::time::timeout_at(deadline.into(), &mut rx).await {
                Ok(Ok(result)) => return result.map_err(Failure::Redis),
                Ok(Err(_)) if ticket.state.load(Ordering::Acquire) == CANCELLED => {
                    return Err(Failure::Busy)
                }
                Ok(Err(_)) => return Err(Failure::Lost),
                Err(_) => {}
            }
            match ticket.started() {
                Some(started) if started.elapsed() >= self.timeout => {
                    return Err(Failure::TimedOut)
                }
                Some(_) => {}
                None if queued.elapsed() >= self.queue_timeout && self.withdraw(&ticket) => {
                    return Err(Failure::Busy)
                }
                // Cancelled by a worker that found it stale.
                None if ticket.state.load(Ordering::Acquire) == CANCELLED => {
                    return Err(Failure::Busy)
                }
                None => {}
            }
        }
    }

    /// Takes a job no worker started out of the queue, freeing what it holds (the batch) now;
    /// false if a worker started it.
    fn withdraw(&self, ticket: &Arc<Ticket>) -> bool {
        if !ticket.cancel() {
            return false;
        }
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|job| !Arc::ptr_eq(&job.ticket, ticket));
        true
    }

    fn describe(&self, failure: &Failure) -> String {
        match failure {
            Failure::Busy => format!(
                "busy: none of the {} Redis connections (--threads) was free within {} ms",
                self.threads,
                self.queue_timeout.as_millis()
            ),
            Failure::TimedOut => format!("redis: no answer within {} ms", self.timeout.as_millis()),
            Failure::Redis(e) => format!("redis: {e}"),
            Failure::Lost => "redis: the request's work ended without an answer".into(),
        }
    }
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

/// What a request asks for.
enum Route {
    Health,
    Stats,
    Batch,
    Unknown,
}

async fn handle(front: Arc<Front>, req: Request<Incoming>) -> Reply {
    // The whole request target, as it was written: `/stats?x` is not `/stats`.
    let target = req.uri().path_and_query().map_or("", |p| p.as_str());
    let route = match (req.method(), target) {
        (&Method::GET, "/healthz") => Route::Health,
        (&Method::GET, "/stats") => Route::Stats,
        (&Method::POST, "/v1/batch") => Route::Batch,
        _ => Route::Unknown,
    };
    match route {
        Route::Health => {
            let ping = front
                .redis
                .run(|redis: &mut Redis| redis.with(|c| c.query::<Value>(&redis::cmd("PING"))))
                .await;
            match ping {
                Ok(_) => json(200, r#"{"redis":"ok"}"#),
                Err(Failure::Busy) => json(503, r#"{"redis":"busy"}"#),
                Err(_) => json(503, r#"{"redis":"unreachable"}"#),
            }
        }
        Route::Stats => {
            let stats = &front.stats;
            let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
            let body = json!({"batches": n(&stats.batches), "actors": n(&stats.actors),
                "duplicates": n(&stats.duplicates), "late": n(&stats.late),
                "fired": n(&stats.fired), "errors": n(&stats.errors),
                "rejected": n(&stats.rejected)});
            json(200, body.to_string())
        }
        Route::Batch => batch(&front, req).await,
        Route::Unknown => json(404, r#"{"error":"POST /v1/batch"}"#),
    }
}

async fn batch(front: &Front, req: Request<Incoming>) -> Reply {
    let stats = &front.stats;
    let (parts, body) = req.into_parts();
    let body = match read_body(body, MAX_BODY_BYTES, front.read_timeout).await {
        Ok(body) => body,
        Err(e) => return e.reply(),
    };
    if let Some(why) = front.check.refuses(&parts.headers, &body) {
        stats.rejected.fetch_add(1, Ordering::Relaxed);
        return json(401, json!({ "error": why }).to_string());
    }
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            let msg = json!({"error": format!("not a batch: {e}")});
            return json(400, msg.to_string());
        }
    };
    if batch.v != PROTOCOL {
        let msg =
            json!({"error": format!("batch version {} (this front speaks {PROTOCOL})", batch.v)});
        return json(400, msg.to_string());
    }
    let (seq, instance) = (batch.seq, batch.instance.clone());
    match front
        .redis
        .run(move |redis: &mut Redis| apply(redis, &batch))
        .await
    {
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
                Ok(text) => json(200, text),
                Err(_) => json(500, r#"{"error":"cannot encode the answer"}"#),
            }
        }
        Err(failure) => {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            let why = front.redis.describe(&failure);
            eprintln!("actorwatch front: batch {seq} of {instance}: {why}");
            json(503, json!({ "error": why }).to_string())
        }
    }
}

/// The key every call about `actor_hex` uses: its hash tag keeps an actor's keys in one slot.
pub fn actor_key(actor_hex: &str) -> String {
    format!("aw:{{{actor_hex}}}")
}

/// Applies a batch: one `aw_apply` per actor and one `aw_blocks` read, pipelined; then one
/// `aw_block_log` per block this batch set, for the other proxies.
fn apply(redis: &mut Redis, batch: &Batch) -> redis::RedisResult<BatchReply> {
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
    let mut reply = BatchReply {
        seq: batch.seq,
        ..BatchReply::default()
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
