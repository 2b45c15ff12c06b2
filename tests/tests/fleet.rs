//! Fleet mode end to end: a real `redis-server` (started here on a free loopback port), the
//! `actorwatch front`, and three Envoy processes (`--concurrency 2`, each its own base id) with
//! the filter, one webhook receiver. An attacker spread round-robin over the three is counted
//! once in Redis and flagged once for the fleet; a block set by one proxy is enforced by the
//! others; retries change nothing; a Redis outage puts every proxy in fallback and back.

mod common;

use actorwatch_e2e::*;
use common::*;

const THRESHOLD: u64 = 6;
const FLEET_SECRET: &str = "fleet-secret-0123456789";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn dotted(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

struct Fleet {
    envoys: Vec<Envoy>,
    clients: Vec<Client>,
}

impl Fleet {
    fn sum(&self, metric: &str) -> u64 {
        self.envoys.iter().map(|e| e.metric(metric)).sum()
    }
    fn each(&self, metric: &str) -> Vec<u64> {
        self.envoys.iter().map(|e| e.metric(metric)).collect()
    }
    /// Sends `n` requests for a missing page as `ip`, round-robin from proxy `first` on.
    fn scan(&mut self, ip: [u8; 4], n: u64, first: usize) -> Vec<u16> {
        (0..n as usize)
            .map(|i| {
                let c = &mut self.clients[(first + i) % 3];
                get_as(c, &format!("/missing/{i}"), &dotted(ip))
            })
            .collect()
    }
    /// Waits until every proxy's `fleet_fallback` gauge is `value` (1: counting on its own).
    fn until_fallback_is(&self, value: u64) -> Option<()> {
        wait_for(WAIT, || {
            self.each("fleet_fallback")
                .iter()
                .all(|&f| f == value)
                .then_some(())
        })
    }
    /// Waits until every proxy has had `more` batches answered beyond what it had now.
    fn settle(&self, more: u64) {
        settle_batches(&self.envoys, more);
    }
}

#[test]
fn three_envoys_count_in_redis_flag_once_share_blocks_and_survive_an_outage() {
    let scratch = scratch_dir("fleet");
    let redis = RedisServer::start(&scratch.join("redis"));
    // Batches are signed with a secret both sides take from their environment.
    let front = FrontProcess::start_signed(&redis.url(), Some(FLEET_SECRET));
    let api = SampleApi::start();
    let receiver = Receiver::start(0);
    let cfg = config(
        &format!(
            r#"{{"id": "scanner", "statuses": [404], "threshold": {THRESHOLD}, "window_secs": 60,
                "cooldown_secs": 600, "action": "block", "block_secs": 60, "block_status": 429}}"#
        ),
        r#""mode": "instant""#,
        &format!(
            r#"{XFF_ACTORS} "fleet": {{"mode": "redis", "url": "http://actorwatch-front/v1/batch",
                "flush_ms": 100, "timeout_ms": 250, "grace_ms": 5000,
                "hmac_secret": {{"env": "ACTORWATCH_FLEET_SECRET"}}}},"#
        ),
    );
    let mut envoys = Vec::new();
    for _ in 0..3 {
        let mut setup = EnvoySetup::new(&cfg, api.port, receiver.port);
        setup.concurrency = 2;
        setup.fleet_port = Some(front.addr.port());
        setup.env = vec![("ACTORWATCH_FLEET_SECRET".into(), FLEET_SECRET.into())];
        envoys.push(start(&setup));
    }
    let clients = envoys.iter().map(Envoy::client).collect();
    let mut fleet = Fleet { envoys, clients };
    fleet.settle(1);

    // threshold - 1 responses over three proxies: counted in Redis, nothing raised.
    let scanner = [198, 51, 100, 10];
    let key = redis_actor(&dotted(scanner));
    assert!(fleet
        .scan(scanner, THRESHOLD - 1, 0)
        .iter()
        .all(|&s| s == 404));
    let counted = wait_for(WAIT, || {
        (redis.counted(&key) == THRESHOLD - 1).then_some(())
    });
    assert!(counted.is_some(), "Redis holds {}", redis.counted(&key));
    fleet.settle(2);
    assert_eq!(fleet.sum("fleet_events"), 0);
    assert!(receiver.events().is_empty());

    // The threshold-th: one event for the fleet, though no proxy saw more than a third.
    assert_eq!(fleet.scan(scanner, 1, 2), vec![404]);
    let event = wait_for(WAIT, || receiver.events().into_iter().next());
    let event = event.expect("an event for the scanner");
    assert_eq!(event["actor"], dotted(scanner));
    assert_eq!(event["count"], THRESHOLD);
    fleet.settle(2);
    assert_eq!(receiver.events().len(), 1);
    assert_eq!(fleet.sum("fleet_events"), 1);
    assert!(fleet
        .envoys
        .iter()
        .all(|e| e.stat("http.api.downstream_rq_4xx") <= THRESHOLD.div_ceil(3)));
    // Redis counted exactly what the proxies answered.
    assert_eq!(
        redis.counted("*"),
        fleet
            .envoys
            .iter()
            .map(|e| e.stat("http.api.downstream_rq_4xx"))
            .sum::<u64>()
    );

    // The block reaches every proxy, also the two that did not raise the event.
    let blocked = wait_for(WAIT, || {
        let statuses = fleet.scan(scanner, 3, 0);
        statuses.iter().all(|&s| s == 429).then_some(())
    });
    assert!(blocked.is_some(), "not blocked everywhere");
    assert!(fleet.sum("fleet_blocks_received") >= 2);

    // Redis paused: answers too slow, every proxy falls back; the batches it then answers twice
    // (the first attempt and its retry) are counted once.
    let slow = [198, 51, 100, 20];
    redis.signal("-STOP");
    assert!(fleet.scan(slow, 3, 0).iter().all(|&s| s == 404));
    let fell_back = fleet.until_fallback_is(1);
    redis.signal("-CONT");
    assert!(
        fell_back.is_some(),
        "fallback: {:?}",
        fleet.each("fleet_fallback")
    );
    let rejoined = fleet.until_fallback_is(0);
    assert!(rejoined.is_some());
    fleet.settle(2);
    assert_eq!(redis.counted(&redis_actor(&dotted(slow))), 3);
    assert!(fleet.each("fleet_fallbacks").iter().all(|&n| n >= 1));
    assert!(fleet.sum("fleet_batch_failures") >= 3);

    // A batch replayed to the front (as a proxy retries one whose answer it lost) changes
    // nothing the second time.
    let replayed = [198, 51, 100, 40];
    let batch = serde_json::json!({"v": 1, "instance": "replayer", "seq": 1, "grace_ms": 5000,
        "bucket_ms": 100, "blocks_since_ms": 0,
        "rules": [{"id": "scanner", "window_ms": 60000, "threshold": THRESHOLD,
                   "cooldown_ms": 600000, "block_ms": 60000, "block_status": 429}],
        "actors": [{"key": redis_actor(&dotted(replayed)),
                    "entries": [[0, "", now_ms() / 100, 2]]}]})
    .to_string();
    let (unsigned, _) =
        http(front.addr, "POST", "/v1/batch", &[], batch.as_bytes()).expect("front");
    assert_eq!(unsigned, 401, "an unsigned batch is refused");
    for attempt in 0..2 {
        let signature = actorwatch_core::signature::sign(
            FLEET_SECRET.as_bytes(),
            now_ms() / 1000,
            batch.as_bytes(),
        );
        let headers = [("x-actorwatch-signature", signature.as_str())];
        let (status, body) =
            http(front.addr, "POST", "/v1/batch", &headers, batch.as_bytes()).expect("front");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let reply: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(reply["actors"][0]["dup"], attempt == 1);
        assert_eq!(redis.counted(&redis_actor(&dotted(replayed))), 2);
    }

    // Redis stopped: a proxy that sees an actor reach the threshold alone raises the event
    // itself; once Redis is back, its cooldown is claimed there and the fleet raises no second.
    let local = [198, 51, 100, 30];
    let (port, dir) = redis.stop();
    let fell_back = fleet.until_fallback_is(1);
    assert!(fell_back.is_some());
    for i in 0..THRESHOLD {
        assert_eq!(
            get_as(&mut fleet.clients[0], &format!("/gone/{i}"), &dotted(local)),
            404
        );
    }
    let local_event = wait_for(WAIT, || {
        receiver
            .events()
            .into_iter()
            .find(|e| e["actor"] == dotted(local))
    });
    assert!(local_event.is_some(), "no event in fallback");
    let redis = RedisServer::start_on(port, &dir);
    let rejoined = fleet.until_fallback_is(0);
    assert!(rejoined.is_some());
    let claimed = wait_for(WAIT, || {
        let cd = format!("aw:{{{}}}:cd:scanner:", redis_actor(&dotted(local)));
        (redis.cli(&["EXISTS", &cd]) == "1").then_some(())
    });
    assert!(
        claimed.is_some(),
        "the fallback event's cooldown was not claimed"
    );
    // The scanner's count and cooldown survived the restart (append-only file).
    assert!(redis.counted(&key) >= THRESHOLD);
    assert!(fleet
        .scan(local, 2 * THRESHOLD, 1)
        .iter()
        .all(|&s| s == 404 || s == 429));
    fleet.settle(3);
    let for_local = receiver
        .events()
        .into_iter()
        .filter(|e| e["actor"] == dotted(local))
        .count();
    assert_eq!(
        for_local, 1,
        "one event for the actor across fallback and rejoin"
    );
    let scanner_events = receiver
        .events()
        .into_iter()
        .filter(|e| e["actor"] == dotted(scanner))
        .count();
    assert_eq!(scanner_events, 1);
    drop(fleet);
    drop(redis);
}
