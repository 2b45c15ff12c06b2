//! Fleet mode's fault matrix: three Envoys (the filter in fleet mode), the `actorwatch front`
//! and a real `redis-server`, with a relay between the proxies and the front and one between
//! the front and Redis (where a slow network or a slow Redis is made). Clients keep sending
//! counted 404s from addresses that never reach the threshold while each fault lasts:
//! Redis killed and restarted empty, killed and restarted from its append-only file, paused;
//! the front killed and restarted; Redis answering later than the proxies' `timeout_ms`; the
//! network between proxies and front slower than it.
//!
//! In each, one attacker reaches the threshold on one proxy during the fault (that proxy raises
//! the event itself, in fallback), the fault lasts until batches with counts have been given
//! up past the grace period, and once it is over the attacker crosses the threshold again
//! round-robin. Each case checks:
//! - one event per attacker for its cooldown, fleet-wide;
//! - every counted response either answered by Redis or counted as dropped, and Redis holding
//!   at least what it answered (less what it called late) and at most that plus the dropped;
//! - no client request waited on Redis.

mod common;

use actorwatch_e2e::relay::{Relay, Way};
use actorwatch_e2e::*;
use common::*;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const THRESHOLD: u64 = 6;
const FLEET_SECRET: &str = "fleet-faults-secret-0123456789";
const TIMEOUT_MS: u64 = 250;
const GRACE_MS: u64 = 1_500;
/// How late the slow cases answer: past the proxies' timeout, within the front's Redis timeout.
const SLOW: Duration = Duration::from_millis(400);
/// A client request is served without Redis: far below any time Redis takes in a fault here.
const REQUEST_BOUND: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug)]
enum Fault {
    RedisRestartedEmpty,
    RedisRestartedFromAof,
    RedisPaused,
    FrontRestarted,
    SlowRedis,
    SlowNetwork,
}

/// Clients that each send one counted 404 from an address of their own, round-robin over the
/// proxies, until stopped; the slowest answer is kept.
struct Traffic {
    stop: Arc<AtomicBool>,
    pause: Arc<AtomicBool>,
    idle: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    slowest_ms: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(listeners: Vec<SocketAddr>) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let pause = Arc::new(AtomicBool::new(true));
        let idle = Arc::new(AtomicBool::new(true));
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let slowest_ms = Arc::new(AtomicU64::new(0));
        let (s, p, i, n, f, w) = (
            Arc::clone(&stop),
            Arc::clone(&pause),
            Arc::clone(&idle),
            Arc::clone(&sent),
            Arc::clone(&failed),
            Arc::clone(&slowest_ms),
        );
        let thread = std::thread::spawn(move || {
            let mut clients: Vec<Client> = listeners.into_iter().map(Client::new).collect();
            let mut k: u32 = 0;
            while !s.load(Ordering::SeqCst) {
                if p.load(Ordering::SeqCst) {
                    i.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                i.store(false, Ordering::SeqCst);
                k += 1;
                let ip = format!("10.{}.{}.{}", (k >> 16) & 255, (k >> 8) & 255, k & 255);
                let c = &mut clients[k as usize % 3];
                let started = Instant::now();
                let status = get_as(c, &format!("/bg/{k}"), &ip);
                let took = started.elapsed().as_millis() as u64;
                if status == 404 {
                    n.fetch_add(1, Ordering::SeqCst);
                } else {
                    f.fetch_add(1, Ordering::SeqCst);
                }
                w.fetch_max(took, Ordering::SeqCst);
                // About 50 requests a second over three proxies: every batch has counts.
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Traffic {
            stop,
            pause,
            idle,
            sent,
            failed,
            slowest_ms,
            thread: Some(thread),
        }
    }

    fn resume(&self) {
        self.pause.store(false, Ordering::SeqCst);
        let busy = wait_for(WAIT, || (!self.idle.load(Ordering::SeqCst)).then_some(()));
        assert!(busy.is_some(), "traffic did not start");
    }

    /// Stops sending and waits until no request is in flight.
    fn hold(&self) {
        self.pause.store(true, Ordering::SeqCst);
        let idle = wait_for(WAIT, || self.idle.load(Ordering::SeqCst).then_some(()));
        assert!(idle.is_some(), "traffic did not stop");
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The sums over the proxies that a case compares, and what Redis holds.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    answered_404: u64,
    sent: u64,
    dropped: u64,
    late: u64,
    redis: u64,
}

struct Stack {
    scratch: PathBuf,
    envoys: Vec<Envoy>,
    clients: Vec<Client>,
    receiver: Receiver,
    redis: Option<RedisServer>,
    redis_relay: Relay,
    front: Option<FrontProcess>,
    front_relay: Relay,
    restarts: u32,
    /// Where the Redis killed last kept its append-only file.
    killed_dir: Option<PathBuf>,
}

impl Stack {
    fn sum(&self, metric: &str) -> u64 {
        self.envoys.iter().map(|e| e.metric(metric)).sum()
    }
    fn each(&self, metric: &str) -> Vec<u64> {
        self.envoys.iter().map(|e| e.metric(metric)).collect()
    }
    fn redis(&self) -> &RedisServer {
        self.redis.as_ref().expect("Redis runs")
    }
    fn tally(&self) -> Tally {
        Tally {
            answered_404: self
                .envoys
                .iter()
                .map(|e| e.stat("http.api.downstream_rq_4xx"))
                .sum(),
            sent: self.sum("fleet_responses_sent"),
            dropped: self.sum("fleet_responses_dropped"),
            late: self.sum("fleet_responses_late"),
            redis: self.redis.as_ref().map_or(0, |r| r.counted("*")),
        }
    }
    fn until_fallback(&self, which: &[usize], value: u64) -> bool {
        wait_for(WAIT, || {
            let each = self.each("fleet_fallback");
            which.iter().all(|&i| each[i] == value).then_some(())
        })
        .is_some()
    }
    /// Every proxy has had `more` batches answered beyond what it had now.
    fn settle(&self, more: u64) {
        settle_batches(&self.envoys, more);
    }
    fn events_for(&self, ip: &str) -> usize {
        self.receiver
            .events()
            .iter()
            .filter(|e| e["actor"] == ip)
            .count()
    }
    fn start_redis(&mut self, dir: PathBuf) {
        let redis = RedisServer::start(&dir);
        self.redis_relay.set_target(redis.port);
        self.redis = Some(redis);
    }
    fn start_front(&mut self) {
        let url = format!("redis://127.0.0.1:{}", self.redis_relay.port);
        let front = FrontProcess::start_signed(&url, Some(FLEET_SECRET));
        self.front_relay.set_target(front.addr.port());
        self.front = Some(front);
    }

    fn inject(&mut self, fault: Fault) {
        match fault {
            Fault::RedisRestartedEmpty | Fault::RedisRestartedFromAof => {
                if let Some(redis) = self.redis.take() {
                    self.killed_dir = Some(redis.kill().1);
                }
            }
            Fault::RedisPaused => self.redis().signal("-STOP"),
            Fault::FrontRestarted => {
                // Dropping it kills it by its PID.
                self.front = None;
            }
            Fault::SlowRedis => self.redis_relay.set_delay(SLOW, Way::Answers),
            Fault::SlowNetwork => self.front_relay.set_delay(SLOW, Way::Both),
        }
    }

    fn heal(&mut self, fault: Fault) {
        match fault {
            Fault::RedisRestartedEmpty => {
                self.restarts += 1;
                let dir = self.scratch.join(format!("redis-empty-{}", self.restarts));
                self.start_redis(dir);
            }
            Fault::RedisRestartedFromAof => {
                let dir = self
                    .killed_dir
                    .take()
                    .expect("the killed Redis's directory");
                self.start_redis(dir);
            }
            Fault::RedisPaused => self.redis().signal("-CONT"),
            Fault::FrontRestarted => self.start_front(),
            Fault::SlowRedis => self.redis_relay.set_delay(Duration::ZERO, Way::Answers),
            Fault::SlowNetwork => self.front_relay.set_delay(Duration::ZERO, Way::Both),
        }
    }
}

#[test]
fn every_fault_loses_no_count_silently_and_sends_no_event_twice() {
    let scratch = scratch_dir("fleet-faults");
    let redis = RedisServer::start(&scratch.join("redis"));
    let redis_relay = Relay::start(redis.port);
    let front_relay = Relay::start(0);
    let api = SampleApi::start();
    let receiver = Receiver::start(0);
    let cfg = fleet_config(r#", "hmac_secret": {"env": "ACTORWATCH_FLEET_SECRET"}"#);
    let mut stack = Stack {
        scratch,
        envoys: Vec::new(),
        clients: Vec::new(),
        receiver,
        redis: Some(redis),
        redis_relay,
        front: None,
        front_relay,
        restarts: 0,
        killed_dir: None,
    };
    stack.start_front();
    for _ in 0..3 {
        let mut setup = EnvoySetup::new(&cfg, api.port, stack.receiver.port);
        setup.concurrency = 2;
        setup.fleet_port = Some(stack.front_relay.port);
        setup.env = vec![("ACTORWATCH_FLEET_SECRET".into(), FLEET_SECRET.into())];
        stack.envoys.push(start(&setup));
    }
    stack.clients = stack.envoys.iter().map(Envoy::client).collect();
    stack.settle(1);
    let traffic = Traffic::start(stack.envoys.iter().map(|e| e.listener).collect());

    let faults = [
        Fault::RedisRestartedEmpty,
        Fault::RedisRestartedFromAof,
        Fault::RedisPaused,
        Fault::FrontRestarted,
        Fault::SlowRedis,
        Fault::SlowNetwork,
    ];
    for (n, fault) in faults.into_iter().enumerate() {
        let attacker = format!("198.51.100.{}", 10 + n);
        let start = stack.tally();
        let fallbacks = stack.each("fleet_fallbacks");
        traffic.resume();
        // Flowing: every proxy's batches carry counts when the fault comes.
        let sent = stack.each("fleet_responses_sent");
        let flowing = wait_for(WAIT, || {
            let now = stack.each("fleet_responses_sent");
            now.iter().zip(&sent).all(|(n, s)| n > s).then_some(())
        });
        assert!(flowing.is_some(), "{fault:?}: no counts reach Redis");

        stack.inject(fault);
        assert!(
            stack.until_fallback(&[0], 1),
            "{fault:?}: proxy 0 never fell back"
        );
        // Redis holds everything from here on, unless it lost what it had.
        let from = if matches!(fault, Fault::RedisRestartedEmpty) {
            assert!(
                stack.until_fallback(&[0, 1, 2], 1),
                "{fault:?}: not all fell back"
            );
            Tally {
                redis: 0,
                ..stack.tally()
            }
        } else {
            start
        };
        // The attacker reaches the threshold on proxy 0 alone: its event goes from there.
        for i in 0..THRESHOLD {
            let status = get_as(&mut stack.clients[0], &format!("/scan/{i}"), &attacker);
            assert_eq!(status, 404, "{fault:?}");
        }
        let raised = wait_for(WAIT, || (stack.events_for(&attacker) == 1).then_some(()));
        assert!(raised.is_some(), "{fault:?}: no event in fallback");
        // The fault lasts twice the grace period after the event: the batch in flight is given
        // up, then the next one, which carries the event's claim, too. Failed batches go on
        // meanwhile.
        let failures = stack.envoys[0].metric("fleet_batch_failures");
        let until = Instant::now() + Duration::from_millis(2 * GRACE_MS + 500);
        let lasted = wait_for(WAIT, || (Instant::now() >= until).then_some(()));
        assert!(lasted.is_some());
        assert!(
            stack.envoys[0].metric("fleet_batch_failures") > failures,
            "{fault:?}: batches stopped failing"
        );

        stack.heal(fault);
        assert!(stack.until_fallback(&[0, 1, 2], 0), "{fault:?}: no rejoin");
        let cooldown = format!("aw:{{{}}}:cd:scanner:", redis_actor(&attacker));
        let claimed = wait_for(WAIT, || {
            (stack.redis().cli(&["EXISTS", &cooldown]) == "1").then_some(())
        });
        assert!(claimed.is_some(), "{fault:?}: the cooldown is not in Redis");
        println!(
            "{fault:?}: cooldown set by {} with {} ms left; dropped {:?}, failed batches {:?}",
            stack.redis().cli(&["GET", &cooldown]),
            stack.redis().cli(&["PTTL", &cooldown]),
            stack.each("fleet_responses_dropped"),
            stack.each("fleet_batch_failures")
        );
        // Over the threshold again, round-robin: within the cooldown, nothing more.
        for i in 0..2 * THRESHOLD {
            let c = &mut stack.clients[i as usize % 3];
            assert_eq!(
                get_as(c, &format!("/again/{i}"), &attacker),
                404,
                "{fault:?}"
            );
        }
        traffic.hold();
        stack.settle(2);
        // Every response handed on to the aggregators and through a batch (or given up); the
        // assertion below says what is missing if that never comes.
        let _ = wait_for(WAIT, || {
            let t = stack.tally();
            (t.answered_404 - start.answered_404
                == (t.sent - start.sent) + (t.dropped - start.dropped))
                .then_some(())
        });

        assert_eq!(
            stack.events_for(&attacker),
            1,
            "{fault:?}: events for one cooldown"
        );
        let end = stack.tally();
        let answered = end.answered_404 - start.answered_404;
        let (sent, dropped) = (end.sent - start.sent, end.dropped - start.dropped);
        assert_eq!(
            answered,
            sent + dropped,
            "{fault:?}: every counted response is sent or counted as dropped ({start:?} -> {end:?})"
        );
        assert!(dropped > 0, "{fault:?}");
        let held = end.redis - from.redis;
        let taken = (end.sent - from.sent) - (end.late - from.late);
        assert!(
            taken <= held && held <= taken + (end.dropped - from.dropped),
            "{fault:?}: Redis holds {held}, answered {taken} ({from:?} -> {end:?})"
        );
        let fell_back = stack.each("fleet_fallbacks");
        assert!(fell_back[0] > fallbacks[0], "{fault:?}");
    }

    // Only the attackers were flagged; the clients below the threshold never.
    let events = stack.receiver.events();
    assert_eq!(events.len(), faults.len(), "{events:?}");
    assert_eq!(traffic.failed.load(Ordering::SeqCst), 0);
    let slowest = Duration::from_millis(traffic.slowest_ms.load(Ordering::SeqCst));
    assert!(
        slowest < REQUEST_BOUND,
        "a request waited {slowest:?}: requests never wait on Redis"
    );
    assert!(traffic.sent.load(Ordering::SeqCst) > 0);
    println!(
        "fault matrix: {} background requests, slowest {slowest:?}, events {}, claims sent {}, \
         events suppressed {}, responses sent {}, dropped {}",
        traffic.sent.load(Ordering::SeqCst),
        events.len(),
        stack.sum("fleet_claims_sent"),
        stack.sum("fleet_events_suppressed"),
        stack.sum("fleet_responses_sent"),
        stack.sum("fleet_responses_dropped"),
    );
}

/// The aggregating VM is replaced (it traps) while Redis is down and an event it raised in
/// fallback has not had its cooldown claimed yet. Its successor takes the claim over from
/// shared data, and once Redis is back (empty) sends it: the attacker crossing again raises
/// nothing within the cooldown.
#[test]
fn an_aggregator_replaced_in_fallback_hands_its_claims_to_its_successor() {
    wasm_only!("it traps the aggregating VM; the native aggregator hands over when its configuration is replaced (faults.rs, a_replaced_configuration_hands_its_events_to_the_next)");
    // ACTORWATCH_FAULT_WASM: another build of it (to check that this test fails without
    // the handover).
    let wasm = std::env::var_os("ACTORWATCH_FAULT_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            repo().join("target/wasm32-wasip1/fault-injection/actorwatch_filter.wasm")
        });
    assert!(
        wasm.exists(),
        "{} is built by make test-fleet",
        wasm.display()
    );
    let scratch = scratch_dir("fleet-handover");
    let redis = RedisServer::start(&scratch.join("redis"));
    let redis_relay = Relay::start(redis.port);
    let front = FrontProcess::start(&format!("redis://127.0.0.1:{}", redis_relay.port));
    let api = SampleApi::start();
    let receiver = Receiver::start(0);
    let cfg = fleet_config("");
    let mut setup = EnvoySetup::new(&cfg, api.port, receiver.port);
    setup.wasm = Some(wasm);
    setup.singleton = false;
    setup.concurrency = 1;
    setup.fleet_port = Some(front.addr.port());
    let envoy = start(&setup);
    let addr = envoy.listener;
    let aggregators = || envoy.log().matches("aggregating in a worker VM").count();
    // The only worker VM aggregates once it has seen traffic for 2 s.
    let mut c = envoy.client();
    let first = wait_for(WAIT, || {
        let _ = c.get("/api/orders");
        (aggregators() == 1 && envoy.metric("fleet_batches") > 0).then_some(())
    });
    assert!(first.is_some(), "a worker VM aggregates in fleet mode");

    let _ = redis.kill();
    let fell_back = wait_for(WAIT, || (envoy.metric("fleet_fallback") == 1).then_some(()));
    assert!(fell_back.is_some(), "no fallback without Redis");
    let attacker = "198.51.100.77";
    for i in 0..THRESHOLD {
        assert_eq!(get_as(&mut c, &format!("/scan/{i}"), attacker), 404);
    }
    let raised = wait_for(WAIT, || {
        (receiver
            .events()
            .iter()
            .filter(|e| e["actor"] == attacker)
            .count()
            == 1)
            .then_some(())
    });
    assert!(raised.is_some(), "no event in fallback");
    // The trap: the aggregating VM dies holding the unclaimed cooldown.
    let trapped = http(
        addr,
        "GET",
        "/api/orders",
        &[("x-actorwatch-test-trap", "1")],
        b"",
    );
    assert_eq!(trapped.map_or(0, |(s, _)| s), 503);
    let second = wait_for(Duration::from_secs(60), || {
        let _ = http(addr, "GET", "/api/orders", &[], b"");
        (aggregators() >= 2).then_some(())
    });
    assert!(second.is_some(), "a new aggregator; {}", envoy.log());

    // Redis back, empty: the claim is the only way its cooldown gets there.
    let redis = RedisServer::start(&scratch.join("redis-empty"));
    redis_relay.set_target(redis.port);
    let rejoined = wait_for(WAIT, || (envoy.metric("fleet_fallback") == 0).then_some(()));
    assert!(rejoined.is_some(), "no rejoin");
    let cooldown = format!("aw:{{{}}}:cd:scanner:", redis_actor(attacker));
    let claimed = wait_for(WAIT, || {
        (redis.cli(&["EXISTS", &cooldown]) == "1").then_some(())
    });
    assert!(
        claimed.is_some(),
        "the successor did not claim the cooldown; {}",
        envoy.log()
    );
    assert!(envoy.metric("fleet_claims_sent") >= 1);
    for i in 0..THRESHOLD {
        assert_eq!(get_as(&mut c, &format!("/again/{i}"), attacker), 404);
    }
    let batches = envoy.metric("fleet_batches");
    let settled = wait_for(WAIT, || {
        (envoy.metric("fleet_batches") >= batches + 3).then_some(())
    });
    assert!(settled.is_some());
    assert_eq!(
        receiver
            .events()
            .iter()
            .filter(|e| e["actor"] == attacker)
            .count(),
        1,
        "one event for one cooldown across the aggregator's replacement"
    );
}

/// One counting rule for 404s (threshold [`THRESHOLD`], cooldown 600 s) in fleet mode, with
/// `fleet_extra` added to the `fleet` section.
fn fleet_config(fleet_extra: &str) -> String {
    config(
        &format!(
            r#"{{"id": "scanner", "statuses": [404], "threshold": {THRESHOLD}, "window_secs": 60,
                "cooldown_secs": 600}}"#
        ),
        r#""mode": "instant""#,
        &format!(
            r#"{XFF_ACTORS} "fleet": {{"mode": "redis", "url": "http://actorwatch-front/v1/batch",
                "flush_ms": 100, "timeout_ms": {TIMEOUT_MS}, "grace_ms": {GRACE_MS}{fleet_extra}}},"#
        ),
    )
}
