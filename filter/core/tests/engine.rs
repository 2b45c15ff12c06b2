//! The engine at its boundaries: thresholds, windows, cooldowns, blocks, batching, the queue,
//! retries, signatures, payload bytes, worker deltas. Runs natively and as wasm.

use actorwatch_core::internals::{
    quiet_covers, retry_delay_ms, Detector, Outbox, Verdict, WireError,
};
use actorwatch_core::payload::WebhookPayload;
use actorwatch_core::signature::{verify, DELIVERY_HEADER, SIGNATURE_HEADER};
use actorwatch_core::{Config, Delivery, Detection, Observation, Recorder};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const T0: u64 = 1_747_162_000_000;
const SECRET: &str = "test-secret-0123456789";

fn config(rules: &str, webhook: &str, extra: &str) -> Config {
    let json = format!(
        r#"{{"rules": [{rules}], {extra} "webhook": {{"url": "https://siem.example.com/akto", {webhook} "hmac_secret": "{SECRET}"}}}}"#
    );
    match Config::from_json_str(&json) {
        Ok(c) => c,
        Err(e) => panic!("{e}\n{json}"),
    }
}

/// The engine, keeping the detections its calls return so that a test can look at them after a
/// run of calls.
struct Engine {
    inner: actorwatch_core::Engine,
    seen: Vec<Detection>,
}

impl Engine {
    fn new(cfg: Config, seed: u64) -> Self {
        Engine::with_shared_config(Arc::new(cfg), seed)
    }
    fn with_shared_config(cfg: Arc<Config>, seed: u64) -> Self {
        Engine {
            inner: actorwatch_core::Engine::with_shared_config(cfg, seed),
            seen: Vec::new(),
        }
    }
    fn observe(&mut self, now_ms: u64, obs: &Observation) -> Verdict {
        self.inner.observe(now_ms, obs, &mut self.seen)
    }
    fn apply_delta(&mut self, now_ms: u64, delta: &[u8]) -> Result<usize, WireError> {
        let d = self.inner.apply_delta(now_ms, delta)?;
        let n = d.len();
        self.seen.extend(d);
        Ok(n)
    }
    fn advance(&mut self, now_ms: u64) -> usize {
        let d = self.inner.advance(now_ms);
        let n = d.len();
        self.seen.extend(d);
        n
    }
    fn drain_detections(&mut self) -> Vec<Detection> {
        std::mem::take(&mut self.seen)
    }
}

impl Deref for Engine {
    type Target = actorwatch_core::Engine;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl DerefMut for Engine {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

fn engine(rules: &str, webhook: &str) -> Engine {
    Engine::new(config(rules, webhook, ""), 42)
}

const NO_HEADERS: [(&str, &str); 0] = [];

fn obs<'a>(peer: &'a str, path: &'a str, status: u16) -> Observation<'a> {
    Observation {
        method: "GET",
        path,
        status,
        peer: Some(peer),
        host: Some("api.example.com"),
        headers: &NO_HEADERS,
        country: None,
        threats: None,
    }
}

/// Sends `n` responses from `peer`, `step_ms` apart starting at `start`; returns events raised.
fn hit(e: &mut Engine, peer: &str, status: u16, n: u64, start: u64, step_ms: u64) -> u32 {
    (0..n)
        .map(|i| {
            e.observe(start + i * step_ms, &obs(peer, "/x", status))
                .events
        })
        .sum()
}

fn payload(d: &Delivery) -> WebhookPayload {
    serde_json::from_slice(&d.body).expect("body is an Akto payload")
}

fn header<'a>(d: &'a Delivery, name: &str) -> Option<&'a str> {
    d.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

const RULE_10_60: &str =
    r#"{"id": "4XX_FILTER", "threshold": 10, "window_secs": 60, "cooldown_secs": 600}"#;
const INSTANT: &str = r#""mode": "instant","#;

#[test]
fn threshold_minus_one_never_flags_threshold_does() {
    let mut e = engine(RULE_10_60, INSTANT);
    assert_eq!(hit(&mut e, "203.0.113.7:1000", 404, 9, T0, 1000), 0);
    assert_eq!(e.metrics().events_raised, 0);
    assert_eq!(hit(&mut e, "203.0.113.7:1000", 404, 1, T0 + 9000, 0), 1);
    let d = e.drain_detections();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].at_ms, T0 + 9000);
    assert_eq!(d[0].event.actor, "203.0.113.7");
    assert_eq!(d[0].event.count, Some(10));
}

#[test]
fn non_matching_statuses_do_not_count() {
    let mut e = engine(RULE_10_60, INSTANT);
    for status in [200, 302, 399, 500, 503] {
        assert_eq!(hit(&mut e, "203.0.113.7", status, 20, T0, 10), 0);
    }
    let m = e.metrics();
    assert_eq!((m.responses, m.matched, m.actors_tracked), (100, 0, 0));
    assert_eq!(
        hit(&mut e, "203.0.113.7", 400, 5, T0, 10)
            + hit(&mut e, "203.0.113.7", 499, 5, T0 + 50, 10),
        1
    );
}

#[test]
fn window_is_half_open_at_its_start() {
    let mut e = engine(RULE_10_60, INSTANT);
    // 9 responses at T0, the 10th exactly 60 s later: the first 9 are at t - window, outside.
    assert_eq!(hit(&mut e, "198.51.100.1", 404, 9, T0, 0), 0);
    assert_eq!(hit(&mut e, "198.51.100.1", 404, 1, T0 + 60_000, 0), 0);
    // The same 1 ms earlier is inside.
    let mut e = engine(RULE_10_60, INSTANT);
    assert_eq!(hit(&mut e, "198.51.100.1", 404, 9, T0, 0), 0);
    assert_eq!(hit(&mut e, "198.51.100.1", 404, 1, T0 + 59_999, 0), 1);
}

#[test]
fn a_window_sliding_past_its_first_response_unflags() {
    // cooldown 0: every flagged response raises an event, so events show the flag state.
    let mut e = engine(
        r#"{"id": "R", "threshold": 3, "window_secs": 10, "cooldown_secs": 0}"#,
        INSTANT,
    );
    let p = "198.51.100.2";
    assert_eq!(hit(&mut e, p, 404, 3, T0, 1000), 1); // T0, +1 s, +2 s
    assert_eq!(hit(&mut e, p, 404, 1, T0 + 11_500, 0), 0); // (1.5 s, 11.5 s]: +2 s and itself
    assert_eq!(hit(&mut e, p, 404, 1, T0 + 11_600, 0), 1); // +2 s, +11.5 s, +11.6 s
}

#[test]
fn cooldown_allows_one_event_per_period() {
    let mut e = engine(
        r#"{"id": "R", "threshold": 2, "window_secs": 60, "cooldown_secs": 30}"#,
        INSTANT,
    );
    let p = "198.51.100.3";
    assert_eq!(hit(&mut e, p, 404, 2, T0, 0), 1);
    assert_eq!(hit(&mut e, p, 404, 1, T0 + 29_999, 0), 0);
    assert_eq!(e.metrics().events_suppressed, 1);
    assert_eq!(hit(&mut e, p, 404, 1, T0 + 30_000, 0), 1);
    assert_eq!(hit(&mut e, p, 404, 1, T0 + 59_999, 0), 0);
    assert_eq!(hit(&mut e, p, 404, 1, T0 + 60_000, 0), 1);
}

#[test]
fn block_lasts_exactly_block_secs_and_extends() {
    let rule = r#"{"id": "R", "threshold": 3, "window_secs": 10, "cooldown_secs": 60, "action": "block", "block_secs": 20, "block_status": 403}"#;
    let mut e = engine(rule, INSTANT);
    let p = "198.51.100.4:5555";
    let actor = e.resolve_actor(Some(p), &NO_HEADERS).unwrap().key;
    assert_eq!(hit(&mut e, p, 404, 2, T0, 0), 0);
    assert_eq!(e.check_blocked(T0, &actor), None);
    let v = e.observe(T0 + 1, &obs(p, "/x", 404));
    assert_eq!(v.blocked_status, Some(403));
    assert_eq!(e.check_blocked(T0 + 20_000, &actor), Some(403));
    assert_eq!(e.check_blocked(T0 + 20_001, &actor), None);
    assert_eq!(e.metrics().blocked_requests, 1);
    // Flagged again inside the cooldown: no new event, but the block is renewed.
    assert_eq!(hit(&mut e, p, 404, 3, T0 + 30_000, 0), 0);
    assert_eq!(e.check_blocked(T0 + 50_000 - 1, &actor), Some(403));
    assert_eq!(e.check_blocked(T0 + 50_000, &actor), None);
    // Blocks of other actors do not leak.
    let other = e
        .resolve_actor(Some("198.51.100.5"), &NO_HEADERS)
        .unwrap()
        .key;
    assert_eq!(e.check_blocked(T0 + 30_000, &other), None);
}

#[test]
fn ipv6_clients_in_one_prefix_are_one_actor() {
    let mut e = engine(RULE_10_60, INSTANT);
    for i in 0..10u64 {
        let peer = format!("[2001:db8:aa:bb:{i:x}::1]:4000");
        e.observe(T0 + i, &obs(&peer, "/x", 404));
    }
    let d = e.drain_detections();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].event.actor, "2001:db8:aa:bb::/64");
    assert_eq!(d[0].event.ip, "2001:db8:aa:bb:9::1");
}

#[test]
fn forged_x_forwarded_for_does_not_split_an_actor() {
    let mut e = engine(RULE_10_60, INSTANT);
    for i in 0..10u64 {
        let forged = format!("10.{i}.0.1");
        let headers = [("x-forwarded-for", forged.as_str())];
        let o = Observation {
            headers: &headers,
            ..obs("203.0.113.9:1", "/x", 401)
        };
        e.observe(T0 + i, &o);
    }
    let d = e.drain_detections();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].event.actor, "203.0.113.9");
}

#[test]
fn per_api_rules_count_each_api_apart() {
    let rule = r#"{"id": "API", "threshold": 3, "window_secs": 60, "per": "actor_api"}"#;
    let mut e = engine(rule, INSTANT);
    let p = "198.51.100.6";
    e.observe(T0, &obs(p, "/orders/1", 404));
    e.observe(T0 + 1, &obs(p, "/users/1", 404));
    e.observe(T0 + 2, &obs(p, "/orders/2?x=1", 404));
    assert_eq!(e.metrics().events_raised, 0);
    let o = Observation {
        method: "POST",
        ..obs(p, "/orders/3", 404)
    };
    e.observe(T0 + 3, &o);
    assert_eq!(e.metrics().events_raised, 0, "POST is another API");
    e.observe(T0 + 4, &obs(p, "/orders/507f1f77bcf86cd799439011", 404));
    e.observe(T0 + 5, &obs(p, "/orders/3", 404));
    let d = e.drain_detections();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].event.method.as_str(), d[0].event.url.as_str()),
        ("GET", "/orders/INTEGER")
    );
}

#[test]
fn a_ladder_of_rules_raises_each_rule_once() {
    let rules = r#"{"id": "FAST", "threshold": 10, "window_secs": 60}, {"id": "SLOW", "threshold": 30, "window_secs": 600}"#;
    let mut e = engine(rules, INSTANT);
    hit(&mut e, "198.51.100.7", 404, 30, T0, 5_000);
    let d = e.drain_detections();
    let ids: Vec<&str> = d.iter().map(|d| d.event.filter_id.as_str()).collect();
    assert_eq!(ids, vec!["FAST", "SLOW"]);
    assert_eq!(d[1].at_ms, T0 + 29 * 5_000);
}

#[test]
fn instant_delivery_is_signed_and_carries_the_akto_payload() {
    let mut e = engine(RULE_10_60, INSTANT);
    assert_eq!(e.next_wakeup(), None);
    hit(&mut e, "203.0.113.7:1", 404, 10, T0, 100);
    let now = T0 + 1000;
    assert_eq!(e.next_wakeup(), Some(0));
    let d = e.poll_delivery(now).expect("instant mode sends at once");
    assert!(e.poll_delivery(now).is_none());
    assert_eq!(
        (d.authority.as_str(), d.path.as_str(), d.attempt, d.events),
        ("siem.example.com", "/akto", 1, 1)
    );
    assert_eq!(header(&d, "content-type"), Some("application/json"));
    assert_eq!(header(&d, DELIVERY_HEADER), Some(d.delivery_id.as_str()));
    let sig = header(&d, SIGNATURE_HEADER).unwrap();
    assert_eq!(
        verify(SECRET.as_bytes(), sig, &d.body, now / 1000, 0),
        Ok(())
    );
    let p = payload(&d);
    assert_eq!(p.malicious_events.len(), 1);
    let ev = &p.malicious_events[0];
    assert_eq!(
        (
            ev.actor.as_str(),
            ev.ip.as_str(),
            ev.event_type.as_str(),
            ev.filter_id.as_str(),
            ev.kind.as_str()
        ),
        (
            "203.0.113.7",
            "203.0.113.7",
            "AGGREGATED",
            "4XX_FILTER",
            "Rule-Based"
        )
    );
    assert_eq!(
        (ev.timestamp, ev.url.as_str(), ev.sub_category.as_str()),
        (((T0 + 900) / 1000) as i64, "/x", "API_LEVEL_RATE_LIMITING")
    );
    assert_eq!(ev.malicious_payloads_responses.len(), 10);
    assert!(p.overview.description.contains("4XX"));
    assert!(!p.remediation.steps.is_empty());
    assert!(!String::from_utf8_lossy(&d.body).contains(SECRET));
    e.delivered(d.token, now + 5);
    let m = e.metrics();
    assert_eq!(
        (m.events_delivered, m.deliveries_succeeded, m.events_queued),
        (1, 1, 0)
    );
    assert_eq!(e.next_wakeup(), None);
}

#[test]
fn periodic_mode_waits_run_every_secs() {
    let mut e = engine(RULE_10_60, r#""mode": "periodic", "run_every_secs": 900,"#);
    hit(&mut e, "203.0.113.7", 404, 10, T0, 0);
    assert_eq!(e.next_wakeup(), Some(T0 + 900_000));
    assert!(e.poll_delivery(T0 + 899_999).is_none());
    hit(&mut e, "203.0.113.8", 404, 10, T0 + 1000, 0);
    let d = e.poll_delivery(T0 + 900_000).expect("due");
    assert_eq!(d.events, 2);
}

#[test]
fn batches_split_by_size_and_filter() {
    let rules = r#"{"id": "A", "threshold": 1, "statuses": [404]}, {"id": "B", "threshold": 1, "statuses": [401]}"#;
    let mut e = engine(
        rules,
        r#""mode": "periodic", "run_every_secs": 60, "batch_size": 20, "max_in_flight": 64,"#,
    );
    for i in 0..45u64 {
        e.observe(
            T0 + i,
            &obs(&format!("198.51.{}.{}", i / 200, i % 200), "/x", 404),
        );
    }
    for i in 0..3u64 {
        e.observe(T0 + 100 + i, &obs(&format!("198.52.0.{i}"), "/x", 401));
    }
    let mut sizes = Vec::new();
    while let Some(d) = e.poll_delivery(T0 + 60_000) {
        let p = payload(&d);
        let ids: Vec<&str> = p
            .malicious_events
            .iter()
            .map(|e| e.filter_id.as_str())
            .collect();
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "one filterId per POST: {ids:?}"
        );
        sizes.push((ids[0].to_string(), ids.len()));
    }
    assert_eq!(
        sizes,
        vec![
            ("A".into(), 20),
            ("A".into(), 20),
            ("A".into(), 5),
            ("B".into(), 3)
        ]
    );
}

#[test]
fn full_queue_drops_the_oldest_and_counts_exactly() {
    let mut e = engine(
        r#"{"id": "A", "threshold": 1}"#,
        r#""mode": "periodic", "queue_capacity": 5, "batch_size": 100,"#,
    );
    for i in 0..8u64 {
        e.observe(T0 + i, &obs(&format!("198.51.100.{i}"), "/x", 404));
    }
    let m = e.metrics();
    assert_eq!(
        (m.events_raised, m.events_dropped, m.events_queued),
        (8, 3, 5)
    );
    e.flush();
    let d = e.poll_delivery(T0 + 10).unwrap();
    let actors: Vec<String> = payload(&d)
        .malicious_events
        .into_iter()
        .map(|e| e.actor)
        .collect();
    assert_eq!(
        actors,
        (3..8)
            .map(|i| format!("198.51.100.{i}"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn failed_deliveries_retry_with_backoff_under_one_id_then_give_up() {
    let mut e = engine(
        RULE_10_60,
        r#""mode": "instant", "max_retries": 3, "timeout_ms": 1000,"#,
    );
    hit(&mut e, "203.0.113.7", 404, 10, T0, 0);
    let mut now = T0;
    let first = e.poll_delivery(now).unwrap();
    let mut d = first.clone();
    for attempt in 1..=3u32 {
        e.failed(d.token, now);
        let wake = e.next_wakeup().unwrap();
        let exp = 1000 * (1 << (attempt - 1));
        let delay = wake - now;
        assert!(
            delay >= exp / 2 && delay <= exp,
            "attempt {attempt}: {delay}"
        );
        assert!(e.poll_delivery(wake - 1).is_none());
        now = wake;
        d = e.poll_delivery(now).unwrap();
        assert_eq!(
            (d.attempt, d.delivery_id.as_str(), &d.body),
            (attempt + 1, first.delivery_id.as_str(), &first.body)
        );
    }
    e.failed(d.token, now);
    let m = e.metrics();
    assert_eq!(
        (m.deliveries_sent, m.deliveries_failed, m.deliveries_retried),
        (4, 4, 3)
    );
    assert_eq!(
        (m.deliveries_abandoned, m.events_dropped, m.events_queued),
        (1, 1, 0)
    );
    assert_eq!(e.next_wakeup(), None);
}

#[test]
fn an_attempt_never_reported_counts_as_failed() {
    let mut e = engine(RULE_10_60, r#""mode": "instant", "timeout_ms": 1000,"#);
    hit(&mut e, "203.0.113.7", 404, 10, T0, 0);
    let d = e.poll_delivery(T0).unwrap();
    let deadline = e.next_wakeup().unwrap();
    assert!(deadline > T0 + 1000);
    assert!(e.poll_delivery(deadline - 1).is_none());
    assert!(e.poll_delivery(deadline).is_none());
    assert_eq!(e.metrics().deliveries_failed, 1);
    // The late answer to the lost attempt is ignored; the retry goes out with the same id.
    e.delivered(d.token, deadline);
    assert_eq!(e.metrics().deliveries_succeeded, 0);
    let wake = e.next_wakeup().unwrap();
    let retry = e.poll_delivery(wake).unwrap();
    assert_eq!((retry.delivery_id, retry.attempt), (d.delivery_id, 2));
}

#[test]
fn retry_delays_grow_and_stay_within_bounds() {
    for attempt in 1..=20u32 {
        let exp = (1000u64 << (attempt - 1).min(30)).min(300_000);
        for random in [0, 1, 12345, u64::MAX] {
            let d = retry_delay_ms(attempt, random);
            assert!(d >= exp / 2 && d <= exp, "{attempt} {random} {d}");
        }
    }
}

#[test]
fn samples_are_capped_and_never_carry_credentials() {
    let json = r#"{"samples_per_event": 3, "rules": [{"id": "A", "threshold": 5}],
        "webhook": {"url": "http://127.0.0.1:9/h", "mode": "instant"}}"#;
    let mut e = Engine::new(Config::from_json_str(json).unwrap(), 1);
    let headers = [
        ("authorization", "Bearer top-secret-token"),
        ("cookie", "sid=abc123"),
        ("user-agent", "stuffer"),
    ];
    for i in 0..5u64 {
        let o = Observation {
            headers: &headers,
            ..obs("198.51.100.9", "/login?pw=hunter2", 401)
        };
        e.observe(T0 + i * 1000, &o);
    }
    let d = e.poll_delivery(T0 + 5000).unwrap();
    let body = String::from_utf8(d.body.clone()).unwrap();
    for secret in ["top-secret-token", "sid=abc123", "hunter2"] {
        assert!(!body.contains(secret), "{secret} leaked");
    }
    let p = payload(&d);
    let samples = &p.malicious_events[0].malicious_payloads_responses;
    assert_eq!(samples.len(), 3);
    assert_eq!(
        samples.iter().map(|s| s.ts).collect::<Vec<_>>(),
        vec![
            (T0 / 1000 + 2) as i64,
            (T0 / 1000 + 3) as i64,
            (T0 / 1000 + 4) as i64
        ]
    );
    let orig: serde_json::Value = serde_json::from_str(&samples[2].orig).unwrap();
    assert_eq!(orig["method"], "GET");
    assert_eq!(orig["path"], "/login");
    assert_eq!(orig["statusCode"], 401);
    assert_eq!(orig["requestHeaders"], "{\"user-agent\":\"stuffer\"}");
}

#[test]
fn memory_is_bounded_by_max_actors() {
    let json = r#"{"max_actors": 100, "rules": [{"id": "A", "threshold": 2}], "webhook": {"url": "http://127.0.0.1:9/h"}}"#;
    let mut e = Engine::new(Config::from_json_str(json).unwrap(), 1);
    for i in 0..1000u64 {
        e.observe(
            T0 + i,
            &obs(&format!("10.0.{}.{}", i / 256, i % 256), "/x", 404),
        );
    }
    let m = e.metrics();
    assert_eq!((m.actors_tracked, m.actors_evicted), (100, 900));
}

/// The same traffic, counted by one engine or by four workers' deltas merged each "tick",
/// raises the same events.
#[test]
fn worker_deltas_count_exactly_like_local_observation() {
    let cfg = Arc::new(config(
        r#"{"id": "A", "threshold": 4, "window_secs": 2, "cooldown_secs": 3}, {"id": "B", "threshold": 3, "window_secs": 5, "per": "actor_api", "statuses": [401, 403]}"#,
        INSTANT,
        r#""actor": {"sources": ["xff", "peer"], "xff_trusted_hops": 1}, "samples_per_event": 2,"#,
    ));
    let mut local = Engine::with_shared_config(Arc::clone(&cfg), 7);
    let mut merged = Engine::with_shared_config(Arc::clone(&cfg), 7);
    // Workers report every 25 responses (925 ms): hold records that long to count in order.
    merged.set_reorder_window_ms(1000);
    let mut workers: Vec<Recorder> = (0..4).map(|_| Recorder::new(Arc::clone(&cfg))).collect();
    let statuses = [404, 401, 200, 403, 404, 500];
    let mut x: u64 = 12345;
    for i in 0..3000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let now = T0 + i * 37;
        let xff = format!("6.6.6.{}, 198.51.100.{}", x % 7, (x >> 8) % 5);
        let headers = [("x-forwarded-for", xff.as_str())];
        let path = format!("/items/{}", (x >> 16) % 3);
        let o = Observation {
            headers: &headers,
            ..obs("10.0.0.1:1", &path, statuses[((x >> 24) % 6) as usize])
        };
        local.observe(now, &o);
        let w = workers.get_mut(((x >> 32) % 4) as usize).unwrap();
        w.record(now, &o);
        if i % 25 == 24 {
            for w in &mut workers {
                if let Some(delta) = w.take_delta() {
                    merged.apply_delta(now, &delta).unwrap();
                }
            }
        }
    }
    for w in &mut workers {
        if let Some(delta) = w.take_delta() {
            merged.apply_delta(T0 + 3000 * 37, &delta).unwrap();
        }
    }
    assert!(
        merged.next_wakeup().is_some(),
        "records are still held for reordering"
    );
    merged.advance(T0 + 3000 * 37 + 1000);
    let strip = |mut ds: Vec<actorwatch_core::Detection>| {
        ds.sort_by_key(|d| (d.at_ms, d.rule, d.event.actor.clone()));
        ds.into_iter()
            .map(|mut d| {
                d.event.ref_id = None;
                d
            })
            .collect::<Vec<_>>()
    };
    let a = strip(local.drain_detections());
    let b = strip(merged.drain_detections());
    assert!(a.len() > 10, "the trace should raise events: {}", a.len());
    assert_eq!(a, b);
    let (ma, mb) = (local.metrics(), merged.metrics());
    assert_eq!(
        (ma.responses, ma.matched, ma.events_raised),
        (mb.responses, mb.matched, mb.events_raised)
    );
}

#[test]
fn garbage_deltas_are_rejected_and_counted() {
    let mut e = engine(RULE_10_60, INSTANT);
    assert!(e.apply_delta(T0, b"not a delta").is_err());
    assert!(e.apply_delta(T0, b"").is_err());
    assert_eq!(e.metrics().deltas_rejected, 2);
}

#[test]
fn a_sustained_actor_gets_fresh_samples_in_each_event() {
    let json = r#"{"samples_per_event": 3, "rules": [{"id": "A", "threshold": 3, "window_secs": 10, "cooldown_secs": 30}],
        "webhook": {"url": "http://127.0.0.1:9/h", "mode": "instant"}}"#;
    let mut e = Engine::new(Config::from_json_str(json).unwrap(), 1);
    for s in 0..=40u64 {
        e.observe(T0 + s * 1000, &obs("198.51.100.10", "/x", 404));
    }
    let d = e.drain_detections();
    let times = |i: usize| -> Vec<i64> {
        d[i].event
            .malicious_payloads_responses
            .iter()
            .map(|s| s.ts)
            .collect()
    };
    assert_eq!(
        d.iter().map(|d| d.at_ms).collect::<Vec<_>>(),
        vec![T0 + 2000, T0 + 32_000]
    );
    let base = (T0 / 1000) as i64;
    assert_eq!(times(0), vec![base, base + 1, base + 2]);
    assert_eq!(times(1), vec![base + 30, base + 31, base + 32]);
}

/// The building blocks apart, as the Worker uses them: a detector counts in one place, an
/// outbox delivers in another.
#[test]
fn a_detector_and_an_outbox_apart_detect_in_one_place_and_deliver_in_another() {
    let cfg = Arc::new(config(RULE_10_60, INSTANT, ""));
    let mut detector = Detector::new(Arc::clone(&cfg), 1);
    let mut detections = Vec::new();
    for i in 0..10 {
        detector.observe(T0 + i, &obs("203.0.113.7", "/x", 404), &mut detections);
    }
    assert_eq!(detections.len(), 1);
    assert_eq!(detector.metrics().events_raised, 1);
    assert_eq!(
        detector.metrics().events_queued,
        0,
        "a detector holds no events"
    );
    let mut outbox = Outbox::new(cfg, 0, 2, 1 << 20);
    outbox.push(T0, detections[0].rule, detections[0].event.clone());
    assert_eq!(outbox.metrics().events_queued, 1);
    let delivery = outbox.poll(T0).expect("queued here, delivered here");
    assert_eq!(
        payload(&delivery).malicious_events,
        vec![detections[0].event.clone()]
    );
    assert_eq!(
        delivery.ref_ids,
        vec![detections[0].event.ref_id.clone().unwrap()]
    );
}

/// An attacker at threshold-1 hides behind a flood of fresh one-off actors (10× `max_actors`
/// natively: 1 M actors; less as wasm, to keep the suite short), then sends one more 404.
#[test]
fn a_flood_of_fresh_actors_cannot_evict_an_actor_near_its_threshold() {
    let (max_actors, flood) = if cfg!(target_arch = "wasm32") {
        (10_000u32, 100_000u32)
    } else {
        (100_000, 1_000_000)
    };
    let mut e = Engine::new(
        config(
            r#"{"id": "4XX_FILTER", "threshold": 10, "window_secs": 60}"#,
            "",
            &format!(r#""max_actors": {max_actors}, "samples_per_event": 0,"#),
        ),
        42,
    );
    assert_eq!(hit(&mut e, "198.51.100.66", 404, 9, T0, 10), 0);
    for i in 0..flood {
        let peer = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
        e.observe(T0 + 1_000 + u64::from(i) / 100, &obs(&peer, "/x", 404));
    }
    let m = e.metrics();
    assert_eq!(m.actors_tracked, u64::from(max_actors));
    assert_eq!(m.actors_evicted, u64::from(flood - max_actors + 1));
    // Still within the attacker's window: its 10th 404 flags it.
    let after = T0 + 1_000 + u64::from(flood) / 100;
    assert!(after < T0 + 60_000);
    assert_eq!(hit(&mut e, "198.51.100.66", 404, 1, after, 1), 1);
    let d = e.drain_detections();
    assert_eq!(
        d.last().map(|d| d.event.actor.as_str()),
        Some("198.51.100.66")
    );
}

/// The clock steps back by 100 s between an actor's responses: the four responses span 150 s of
/// real time (any three of them more than the 60 s window), though their reported times fit
/// twice into one window. Never flagged.
#[test]
fn a_clock_stepping_back_never_flags_responses_spread_over_more_than_the_window() {
    let rule = r#"{"id": "A", "threshold": 3, "window_secs": 60, "cooldown_secs": 0}"#;
    let mut e = engine(rule, INSTANT);
    // Real times 0 s and 50 s, reported as they are.
    assert_eq!(hit(&mut e, "203.0.113.7", 404, 2, T0, 50_000), 0);
    // Real times 100 s and 150 s, reported 100 s early (an NTP step).
    assert_eq!(hit(&mut e, "203.0.113.7", 404, 2, T0, 50_000), 0);
    assert_eq!(e.metrics().clock_steps, 1);
    // After the step the clock is trusted again: three within the window flag.
    assert_eq!(hit(&mut e, "203.0.113.7", 404, 1, T0 + 51_000, 0), 1);
}

/// A step back of less than the tolerance is a record merged late: counted at its own time.
#[test]
fn a_late_record_within_the_tolerance_counts_at_its_own_time() {
    let rule = r#"{"id": "A", "threshold": 3, "window_secs": 60, "cooldown_secs": 0}"#;
    let mut e = engine(rule, INSTANT);
    hit(&mut e, "203.0.113.7", 404, 1, T0 + 4_000, 0);
    hit(&mut e, "203.0.113.7", 404, 1, T0, 0);
    assert_eq!(e.metrics().clock_steps, 0);
    assert_eq!(hit(&mut e, "203.0.113.7", 404, 1, T0 + 4_001, 0), 1);
}

/// An actor flagged just before the clock steps back an hour alerts again only once its whole
/// cooldown has passed on the clock it was flagged by: never early, whatever the clock did.
#[test]
fn a_clock_stepping_back_never_ends_a_cooldown_early() {
    let rule = r#"{"id": "A", "threshold": 3, "window_secs": 60, "cooldown_secs": 600}"#;
    let mut e = engine(rule, INSTANT);
    let flagged_at = T0 + 2_000;
    assert_eq!(hit(&mut e, "203.0.113.7", 404, 3, T0, 1_000), 1);
    // An hour back: flagged again at once, inside the cooldown.
    let back = flagged_at - 3_600_000;
    assert_eq!(hit(&mut e, "203.0.113.7", 404, 3, back, 1_000), 0);
    // A host that passes 0: not a time at all, counted in no window.
    assert_eq!(hit(&mut e, "203.0.113.7", 404, 3, 0, 0), 0);
    assert_eq!(e.metrics().untracked_responses, 3);
    // The clock comes back: still inside the cooldown 1 ms before its end.
    assert_eq!(
        hit(&mut e, "203.0.113.7", 404, 3, flagged_at + 599_997, 1),
        0
    );
    assert_eq!(
        hit(&mut e, "203.0.113.7", 404, 1, flagged_at + 600_000, 0),
        1
    );
    let m = e.metrics();
    assert_eq!((m.clock_steps, m.events_raised), (1, 2));
}

/// Times at the ends of the range: nothing overflows, nothing panics, queued events stay
/// accounted for.
#[test]
fn absurd_times_saturate() {
    let rule = r#"{"id": "A", "threshold": 2, "window_secs": 604800, "cooldown_secs": 604800, "action": "block", "block_secs": 604800}"#;
    let mut e = engine(
        rule,
        r#""mode": "periodic", "run_every_secs": 86400, "timeout_ms": 300000,"#,
    );
    for now in [u64::MAX, 0, u64::MAX - 1, 1, u64::MAX / 2, u64::MAX] {
        hit(&mut e, "203.0.113.7", 404, 2, now, 0);
        e.advance(now);
        while let Some(d) = e.poll_delivery(now) {
            e.failed(d.token, now);
        }
        e.check_blocked(now, &actorwatch_core::ActorKey::V4([203, 0, 113, 7]));
        let _ = e.next_wakeup();
    }
    let m = e.metrics();
    assert_eq!(
        m.events_raised,
        m.events_delivered + m.events_dropped + m.events_queued
    );
    assert_eq!(m.clock_steps, 1, "u64::MAX / 2 after u64::MAX");
}

/// An aggregator that goes away mid-batch hands its events over: the successor sends the batch
/// that was in flight under its delivery id (the receiver deduplicates it) and the rest after.
#[test]
fn a_successor_resumes_delivery_under_the_same_delivery_ids() {
    let rule = r#"{"id": "A", "threshold": 1, "cooldown_secs": 0}"#;
    let webhook = r#""mode": "instant", "batch_size": 2,"#;
    let mut first = Engine::new(config(rule, webhook, ""), 1);
    for i in 0..5u64 {
        first.observe(T0 + i, &obs(&format!("198.51.100.{i}"), "/x", 404));
    }
    let in_flight = first.poll_delivery(T0 + 10).expect("a POST goes out");
    assert_eq!(in_flight.events, 2);
    let handed = first.export_outbox();
    drop(first);

    let mut second = Engine::new(config(rule, webhook, ""), 2);
    assert_eq!(second.import_outbox(T0 + 20, &handed).unwrap(), 5);
    assert_eq!(second.metrics().events_queued, 5);
    let mut ids = Vec::new();
    let mut ref_ids = Vec::new();
    while let Some(d) = second.poll_delivery(T0 + 20) {
        ids.push(d.delivery_id.clone());
        ref_ids.extend(
            payload(&d)
                .malicious_events
                .into_iter()
                .map(|e| e.ref_id.unwrap()),
        );
        assert_eq!(
            ref_ids.len(),
            ref_ids
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        );
        second.delivered(d.token, T0 + 21);
    }
    assert_eq!(
        ids.first(),
        Some(&in_flight.delivery_id),
        "the batch in flight keeps its id"
    );
    assert_eq!(ref_ids.len(), 5, "every event once");
    let m = second.metrics();
    assert_eq!(
        (m.events_delivered, m.events_queued, m.events_dropped),
        (5, 0, 0)
    );
}

/// Events of a rule the successor's configuration no longer has are dropped, counted.
#[test]
fn handed_over_events_of_a_removed_rule_are_counted_as_dropped() {
    let mut first = Engine::new(config(r#"{"id": "OLD", "threshold": 1}"#, INSTANT, ""), 1);
    hit(&mut first, "198.51.100.1", 404, 1, T0, 0);
    let handed = first.export_outbox();
    let mut second = Engine::new(config(r#"{"id": "NEW", "threshold": 1}"#, INSTANT, ""), 2);
    assert_eq!(second.import_outbox(T0, &handed).unwrap(), 0);
    assert_eq!(second.metrics().events_dropped, 1);
    assert!(second.import_outbox(T0, b"not json").is_err());
}

/// 100,000 events through a queue of 1,000 while every POST fails: exactly the overflow is
/// dropped, the newest survive, in waiting batches and in the queue alike.
#[test]
fn overflow_drops_exactly_the_oldest_waiting_events() {
    let rule = r#"{"id": "A", "threshold": 1, "cooldown_secs": 0}"#;
    let webhook =
        r#""mode": "instant", "batch_size": 10, "queue_capacity": 1000, "max_retries": 100,"#;
    let mut e = engine(rule, webhook);
    let n = 100_000u64;
    for i in 0..n {
        e.observe(
            T0,
            &obs(&std::net::Ipv4Addr::from(i as u32).to_string(), "/x", 404),
        );
        if i % 100 == 0 {
            while let Some(d) = e.poll_delivery(T0) {
                e.failed(d.token, T0);
            }
        }
    }
    let m = e.metrics();
    assert_eq!((m.events_queued, m.events_dropped), (1000, n - 1000));
    // The receiver comes back: the 1,000 held are the newest.
    let mut actors = Vec::new();
    let mut now = T0;
    while actors.len() < 1000 {
        now += 1_000;
        while let Some(d) = e.poll_delivery(now) {
            actors.extend(payload(&d).malicious_events.into_iter().map(|e| e.actor));
            e.delivered(d.token, now);
        }
        assert!(now < T0 + 3_600_000, "delivered {} of 1000", actors.len());
    }
    let min = actors
        .iter()
        .map(|a| u32::from(a.parse::<std::net::Ipv4Addr>().unwrap()))
        .min();
    assert_eq!(min, Some((n - 1000) as u32));
}

/// Worker records held for reordering stay within their share of the budget: beyond it the
/// oldest are counted at once, so nothing is lost and nothing waits unbounded.
#[test]
fn the_reorder_buffer_stays_within_its_share() {
    let cfg = Arc::new(config(RULE_10_60, INSTANT, r#""max_memory_mb": 1,"#));
    let mut e = Engine::with_shared_config(Arc::clone(&cfg), 1);
    e.set_reorder_window_ms(60_000);
    let mut worker = Recorder::new(Arc::clone(&cfg));
    let headers = [("user-agent", "x".repeat(200))];
    for i in 0..20_000u64 {
        let peer = std::net::Ipv4Addr::from(i as u32).to_string();
        let o = Observation {
            headers: &headers,
            ..obs(&peer, "/x", 404)
        };
        worker.record(T0 + i, &o);
        if i % 1000 == 999 {
            e.apply_delta(T0 + i, &worker.take_delta().unwrap())
                .unwrap();
            assert!(e.memory_bytes() <= 1 << 20, "{} bytes", e.memory_bytes());
        }
    }
    // Records beyond the share were counted early, the rest are held.
    assert!(e.metrics().actors_tracked > 0 && e.records_held() > 0);
    e.advance(u64::MAX);
    assert_eq!(e.records_held(), 0);
    // Every record was counted once: as a tracked actor or as one evicted for a newer one.
    let m = e.metrics();
    assert_eq!(m.matched, 20_000);
    assert_eq!(m.actors_tracked + m.actors_evicted, 20_000);
    assert!(m.memory_bytes <= 1 << 20);
}

/// A counting object that is evicted and restored from its snapshot counts on exactly as if it
/// had never gone: same events, same cooldowns, same blocks.
#[test]
fn a_restored_snapshot_counts_on_as_if_nothing_happened() {
    let rules = r#"{"id": "A", "threshold": 4, "window_secs": 30, "cooldown_secs": 60, "action": "block", "block_secs": 120},
                   {"id": "B", "threshold": 3, "window_secs": 10, "per": "actor_api", "cooldown_secs": 5}"#;
    let cfg = Arc::new(config(rules, INSTANT, ""));
    let peers = ["203.0.113.1", "203.0.113.2", "2001:db8::1", "198.51.100.7"];
    let paths = ["/a/1", "/a/2", "/b"];
    let trace: Vec<(u64, &str, &str)> = (0..400u64)
        .map(|i| {
            (
                T0 + i * 700,
                peers[(i * 7 % 4) as usize],
                paths[(i % 3) as usize],
            )
        })
        .collect();
    let events = |e: &mut Engine| -> Vec<(u64, String, String, String)> {
        e.drain_detections()
            .into_iter()
            .map(|d| (d.at_ms, d.event.filter_id, d.event.actor, d.event.url))
            .collect()
    };
    let mut whole = Engine::with_shared_config(Arc::clone(&cfg), 1);
    let mut first = Engine::with_shared_config(Arc::clone(&cfg), 2);
    let (mut want, mut got) = (Vec::new(), Vec::new());
    for (i, &(t, peer, path)) in trace.iter().enumerate() {
        let o = obs(peer, path, 404);
        whole.observe(t, &o);
        want.extend(events(&mut whole));
        if i == 200 {
            let snapshot = first.export_state(t);
            first = Engine::with_shared_config(Arc::clone(&cfg), 3);
            // 4 actors, and 4 actors × 2 APIs (`/a/INTEGER`, `/b`).
            assert_eq!(first.import_state(&snapshot), Ok(peers.len() + 8));
        }
        first.observe(t, &o);
        got.extend(events(&mut first));
    }
    assert!(want.len() > 10, "{want:?}");
    assert_eq!(got, want);
    let blocks = |e: &Engine| {
        let mut b: Vec<_> = e.blocklist().iter().map(|(k, b)| (k.clone(), *b)).collect();
        b.sort_by_key(|(k, b)| (k.clone(), b.until_ms));
        b
    };
    assert!(!blocks(&whole).is_empty());
    assert_eq!(blocks(&first), blocks(&whole));
}

#[test]
fn snapshots_of_other_rules_or_cut_short_are_refused() {
    let cfg = Arc::new(config(RULE_10_60, INSTANT, ""));
    let mut e = Engine::with_shared_config(Arc::clone(&cfg), 1);
    hit(&mut e, "203.0.113.7", 404, 5, T0, 1);
    let snapshot = e.export_state(T0);
    for cut in 0..snapshot.len() {
        let mut fresh = Engine::with_shared_config(Arc::clone(&cfg), 2);
        assert!(fresh.import_state(&snapshot[..cut]).is_err(), "cut {cut}");
    }
    let other = config(r#"{"id": "4XX_FILTER", "threshold": 11}"#, INSTANT, "");
    let mut fresh = Engine::new(other, 3);
    assert_eq!(fresh.import_state(&snapshot), Err(WireError::OtherConfig));
}

/// After an event the actor is quiet until its last event + cooldown - window: a response then
/// can neither raise an event nor be one of the next event's samples. Responses workers record
/// with time, status and actor alone (`record_quiet`) count exactly as full ones, and the next
/// event takes its URL and samples from full records.
#[test]
fn quiet_actors_are_listed_until_cooldown_minus_window() {
    let rule = r#"{"id": "4XX_FILTER", "threshold": 3, "window_secs": 10, "cooldown_secs": 60}"#;
    let cfg = Arc::new(config(rule, INSTANT, r#""samples_per_event": 3,"#));
    let mut e = Engine::with_shared_config(Arc::clone(&cfg), 7);
    let mut worker = Recorder::new(Arc::clone(&cfg));
    let deliver = |e: &mut Engine, worker: &mut Recorder, now: u64| {
        e.apply_delta(now, &worker.take_delta().unwrap()).unwrap();
        e.advance(now + 60_000);
    };
    for i in 0..3 {
        worker.record(T0 + i, &obs("10.0.0.1", "/first", 404));
    }
    worker.record(T0 + 3, &obs("10.0.0.2", "/other", 404));
    deliver(&mut e, &mut worker, T0 + 3);
    assert_eq!(e.drain_detections().len(), 1);
    let actor = e.resolve_actor(Some("10.0.0.1"), &NO_HEADERS).unwrap();
    let other = e.resolve_actor(Some("10.0.0.2"), &NO_HEADERS).unwrap();
    let until = T0 + 2 + 60_000 - 10_000;
    let entry = e.quiet_list().get(until - 1, &actor.key).expect("quiet");
    assert!(quiet_covers(&cfg, entry.status, 404));
    assert!(e.quiet_list().get(until, &actor.key).is_none());
    assert!(e.quiet_list().get(T0 + 3, &other.key).is_none());

    // Five quiet records up to the end: counted (the 3rd to 5th flagged and suppressed), no event.
    for t in until - 5..until {
        assert!(worker.record_if_quiet(t, 404, &actor, e.quiet_list()));
    }
    // At its end the entry no longer covers the actor: the host records the response whole.
    assert!(!worker.record_if_quiet(until, 404, &actor, e.quiet_list()));
    deliver(&mut e, &mut worker, until);
    assert!(e.drain_detections().is_empty());
    let m = e.metrics();
    assert_eq!((m.matched, m.events_suppressed), (9, 3));

    // Past the cooldown the quiet records have left the window: three full ones raise the next
    // event, with their URL and only their samples.
    let next = T0 + 2 + 60_000;
    for i in 0..3 {
        worker.record(next + i, &obs("10.0.0.1", "/second", 404));
    }
    deliver(&mut e, &mut worker, next + 3);
    let events = e.drain_detections();
    assert_eq!(events.len(), 1);
    let event = &events[0].event;
    assert_eq!((event.url.as_str(), event.count), ("/second", Some(3)));
    let samples = &event.malicious_payloads_responses;
    assert_eq!(samples.len(), 3);
    assert!(
        samples.iter().all(|s| s.orig.contains("/second")),
        "{samples:?}"
    );
}

/// A quiet entry covers only the rules that raised: a status another rule counts is recorded
/// whole until that rule has raised too.
#[test]
fn quiet_entries_cover_the_rules_that_raised() {
    let rules = r#"{"id": "NOT_FOUND", "statuses": [404], "threshold": 2, "window_secs": 10, "cooldown_secs": 60},
                   {"id": "AUTH", "statuses": [401, 404], "threshold": 3, "window_secs": 10, "cooldown_secs": 60}"#;
    let cfg = config(rules, INSTANT, "");
    let mut e = Engine::with_shared_config(Arc::new(cfg.clone()), 3);
    let actor = e.resolve_actor(Some("10.0.0.1"), &NO_HEADERS).unwrap();
    // Two 404s: NOT_FOUND raises; AUTH holds 2 of its 3.
    assert_eq!(hit(&mut e, "10.0.0.1", 404, 2, T0, 1), 1);
    let mask = e
        .quiet_list()
        .get(T0 + 3, &actor.key)
        .expect("quiet")
        .status;
    assert!(
        !quiet_covers(&cfg, mask, 404),
        "AUTH counts 404s and has not raised"
    );
    assert!(!quiet_covers(&cfg, mask, 401));
    // A status no rule counts (a success a rule watches for) is never recorded quietly.
    assert!(!quiet_covers(&cfg, mask, 418), "no rule counts 418");
    // AUTH raises on a 401 (three responses in its window): both rules are now quiet.
    assert_eq!(hit(&mut e, "10.0.0.1", 401, 1, T0 + 3, 1), 1);
    let mask = e
        .quiet_list()
        .get(T0 + 4, &actor.key)
        .expect("quiet")
        .status;
    assert!(quiet_covers(&cfg, mask, 404) && quiet_covers(&cfg, mask, 401));
}

/// Rules that need every response's path (per-API counting) keep the quiet list empty.
#[test]
fn per_api_rules_keep_every_record_whole() {
    let rule = r#"{"id": "A", "threshold": 2, "window_secs": 10, "cooldown_secs": 60, "per": "actor_api"}"#;
    let mut e = engine(rule, INSTANT);
    assert_eq!(hit(&mut e, "10.0.0.1", 404, 2, T0, 1), 1);
    assert!(e.quiet_list().is_empty());
    let mut e = engine(RULE_10_60, INSTANT);
    assert_eq!(hit(&mut e, "10.0.0.1", 404, 10, T0, 1), 1);
    assert_eq!(e.quiet_list().len(), 1);
}

/// A credential stuffer's hit: after a rule with `success_statuses` flags an actor on an API,
/// its first success there within the rule's cooldown raises a `SINGLE` event with
/// `successfulExploit: true` (severity up); an actor one failure short of the threshold, a
/// success on another API, a second success and a success after the cooldown raise nothing.
#[test]
fn a_success_after_the_flag_is_the_attack_s_hit() {
    let mut e = engine(
        r#"{"id": "LOGIN_STUFFING", "statuses": [401], "threshold": 5, "window_secs": 60,
            "per": "actor_api", "cooldown_secs": 600, "success_statuses": ["2xx"]}"#,
        r#""mode": "instant","#,
    );
    let at = |e: &mut Engine, t: u64, peer: &str, path: &str, status: u16| {
        e.observe(t, &obs(peer, path, status));
        e.drain_detections()
    };
    // One failure short of the threshold: not flagged, so its success is ordinary.
    for i in 0..4 {
        assert!(at(&mut e, T0 + i, "198.51.100.1:1", "/login", 401).is_empty());
    }
    assert!(at(&mut e, T0 + 10, "198.51.100.1:1", "/login", 200).is_empty());
    // Flagged at the fifth failure: one ordinary event.
    let mut flag = Vec::new();
    for i in 0..5 {
        flag.extend(at(&mut e, T0 + 100 + i, "198.51.100.2:1", "/login", 401));
    }
    assert_eq!(flag.len(), 1);
    assert_eq!(flag[0].event.successful_exploit, Some(false));
    // A success on another API is not the hit (the rule counts per API).
    assert!(at(&mut e, T0 + 200, "198.51.100.2:1", "/api/orders", 200).is_empty());
    let hit = at(&mut e, T0 + 300, "198.51.100.2:1", "/login", 200);
    assert_eq!(hit.len(), 1, "{hit:?}");
    let ev = &hit[0].event;
    assert_eq!(ev.filter_id, "LOGIN_STUFFING");
    assert_eq!(ev.event_type, "SINGLE");
    assert_eq!(ev.successful_exploit, Some(true));
    assert_eq!(ev.severity.as_deref(), Some("HIGH"));
    assert_eq!(ev.response_status, Some(200));
    assert_eq!(
        ev.response_statuses.as_ref().map(|m| m.get("2XX").copied()),
        Some(Some(1))
    );
    assert_eq!(ev.url, "/login");
    // Once per flag.
    assert!(at(&mut e, T0 + 400, "198.51.100.2:1", "/login", 200).is_empty());
    // A success after the watch (the cooldown) is ordinary.
    for i in 0..5 {
        at(&mut e, T0 + 1_000 + i, "198.51.100.3:1", "/login", 401);
    }
    // Flagged at T0 + 1_004: the watch ends 600 s later.
    assert!(at(
        &mut e,
        T0 + 1_004 + 600_001,
        "198.51.100.3:1",
        "/login",
        200
    )
    .is_empty());
    assert_eq!(e.inner.metrics().flagged_successes, 1);
}

#[test]
fn success_statuses_errors_name_their_key() {
    let errors = |json: &str| match Config::from_json_str(json) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
    };
    let overlap = errors(
        r#"{"rules": [{"id": "A", "statuses": ["4xx"], "success_statuses": [404]}],
            "webhook": {"url": "https://siem.example.com/akto"}}"#,
    );
    assert!(
        overlap[0].starts_with("rules[0].success_statuses: must not share a status"),
        "{overlap:?}"
    );
    // Fleet mode exists only in builds with the `fleet` feature.
    #[cfg(feature = "fleet")]
    {
        let fleet = errors(
            r#"{"rules": [{"id": "A", "success_statuses": ["2xx"]}],
                "fleet": {"mode": "redis", "url": "http://127.0.0.1:9/batch", "cluster": "fleet"},
                "webhook": {"url": "https://siem.example.com/akto"}}"#,
        );
        assert!(
            fleet[0].starts_with("rules[0].success_statuses: is not available in fleet mode"),
            "{fleet:?}"
        );
    }
}
