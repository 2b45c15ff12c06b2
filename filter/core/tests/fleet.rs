//! Fleet mode at the engine's edge: the batches an aggregator sends, what it makes of Redis's
//! answers (events, blocks), and its fallback when none comes. The front and Redis themselves
//! are tested in `cli/tests/front.rs` and `tests/tests/fleet.rs` (real Redis, real Envoys).
#![cfg(feature = "fleet")]

use actorwatch_core::fleet::{actor_hex, ActorReply, Batch, Flag, Reply};
use actorwatch_core::{Config, Engine, Observation, Recorder};
use std::sync::Arc;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const T0: u64 = 1_747_162_000_000;
const NO_HEADERS: [(&str, &str); 0] = [];

fn config(action: &str) -> Arc<Config> {
    let json = format!(
        r#"{{"rules": [{{"id": "r4xx", "threshold": 3, "window_secs": 60, "cooldown_secs": 300,
              "action": "{action}", "block_secs": 30}}],
            "fleet": {{"mode": "redis", "url": "http://127.0.0.1:9/v1/batch", "grace_ms": 2000}},
            "webhook": {{"url": "http://127.0.0.1:9/hook"}}}}"#
    );
    match Config::from_json_str(&json) {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("{e}"),
    }
}

fn obs(peer: &str, status: u16) -> Observation<'_> {
    Observation {
        method: "GET",
        path: "/users/17",
        status,
        peer: Some(peer),
        host: Some("api.example.com"),
        headers: &NO_HEADERS,
        country: None,
        threats: None,
    }
}

/// An aggregator in fleet mode, fed through a worker's delta like Envoy's.
fn aggregator(cfg: &Arc<Config>) -> Engine {
    let mut e = Engine::with_shared_config(Arc::clone(cfg), 7);
    e.set_reorder_window_ms(300);
    e.enable_fleet(0xfeed);
    e
}

/// Records `n` responses of `peer`, `step_ms` apart from `start`, and counts them.
fn feed(e: &mut Engine, cfg: &Arc<Config>, peer: &str, n: u64, start: u64, step_ms: u64) {
    let mut rec = Recorder::new(Arc::clone(cfg));
    for i in 0..n {
        rec.record(start + i * step_ms, &obs(peer, 404));
    }
    if let Some(delta) = rec.take_delta() {
        e.apply_delta(start, &delta).expect("delta");
    }
    e.advance(start + n * step_ms + 1_000);
}

fn batch_of(body: &[u8]) -> Batch {
    serde_json::from_slice(body).expect("batch JSON")
}

fn reply(seq: u64, actors: Vec<ActorReply>) -> Vec<u8> {
    serde_json::to_vec(&Reply {
        seq,
        actors,
        ..Reply::default()
    })
    .expect("reply JSON")
}

#[test]
fn a_batch_carries_each_actors_counts_per_bucket_once() {
    let cfg = config("alert");
    let mut e = aggregator(&cfg);
    // Five responses, 30 ms apart: buckets of 100 ms hold 4 and 1 (T0 is a bucket start).
    feed(&mut e, &cfg, "203.0.113.9", 5, T0, 30);
    let now = T0 + 2_000;
    let call = e.poll_fleet(now).expect("a batch is due");
    let batch = batch_of(&call.body);
    assert_eq!(batch.seq, 1);
    assert_eq!(batch.rules.len(), 1);
    assert_eq!(batch.rules[0].threshold, 3);
    assert_eq!(batch.actors.len(), 1);
    let actor = &batch.actors[0];
    let total: u32 = actor.entries.iter().map(|e| e.3).sum();
    assert_eq!(total, 5);
    assert_eq!(
        actor.entries.iter().map(|e| (e.2, e.3)).collect::<Vec<_>>(),
        vec![(T0 / 100, 4), (T0 / 100 + 1, 1)]
    );
    // One batch at a time: nothing more until this one is answered.
    assert!(e.poll_fleet(now + 500).is_none());
    // The local detector saw 5 >= 3 but Redis decides: nothing queued.
    assert_eq!(e.metrics().events_queued, 0);
    assert_eq!(e.metrics().fleet_local_events_held, 1);
}

#[test]
fn a_fired_flag_raises_one_event_and_a_block_reaches_the_blocklist() {
    let cfg = config("block");
    let mut e = aggregator(&cfg);
    let peer = "203.0.113.9";
    feed(&mut e, &cfg, peer, 2, T0, 10);
    let now = T0 + 2_000;
    let call = e.poll_fleet(now).expect("batch");
    let key = batch_of(&call.body).actors[0].key.clone();
    let answer = ActorReply {
        block_until_ms: now + 30_000,
        block_status: 429,
        flags: vec![Flag {
            rule: 0,
            api: String::new(),
            fired: true,
            count: 3,
            at_ms: T0,
            cooldown_left_ms: 300_000,
        }],
        ..ActorReply::default()
    };
    e.fleet_answered(now, call.seq, 200, &reply(call.seq, vec![answer]));
    let m = e.metrics();
    assert_eq!(m.fleet_events, 1);
    assert_eq!(m.events_queued, 1);
    assert_eq!(m.fleet_fallback, 0);
    assert_eq!(m.fleet_responses_sent, 2);
    assert_eq!(e.blocklist().len(), 1);
    let (blocked, _) = e.blocklist().iter().next().expect("a block");
    assert_eq!(actor_hex(blocked), key);
    // The event's payload names the actor and the fleet's count.
    e.flush();
    let d = e.poll_delivery(now).expect("a POST");
    let body = String::from_utf8(d.body).expect("utf-8");
    assert!(body.contains("\"actor\":\"203.0.113.9\""), "{body}");
    assert!(body.contains("\"count\":3"), "{body}");
}

#[test]
fn a_block_set_elsewhere_is_taken_from_the_reply() {
    let cfg = config("block");
    let mut e = aggregator(&cfg);
    let call = e
        .poll_fleet(T0)
        .expect("an empty batch still asks for blocks");
    assert!(batch_of(&call.body).actors.is_empty());
    let other = actor_hex(&actorwatch_core::ActorKey::V4([198, 51, 100, 7]));
    let body = serde_json::to_vec(&Reply {
        seq: call.seq,
        actors: vec![],
        blocks: vec![(other, T0 + 30_000, 429), ("zz".into(), T0 + 1, 429)],
        blocks_now_ms: T0 + 5,
    })
    .expect("json");
    e.fleet_answered(T0, call.seq, 200, &body);
    assert_eq!(e.blocklist().len(), 1, "the unreadable key is skipped");
    assert_eq!(e.metrics().fleet_blocks_received, 1);
    let next = e.poll_fleet(T0 + 100).expect("next batch");
    assert_eq!(batch_of(&next.body).blocks_since_ms, T0 + 5);
}

#[test]
fn no_answer_means_fallback_the_same_batch_again_then_rejoin() {
    let cfg = config("alert");
    let mut e = aggregator(&cfg);
    feed(&mut e, &cfg, "203.0.113.9", 1, T0, 10);
    let now = T0 + 1_500;
    let first = e.poll_fleet(now).expect("batch");
    e.fleet_answered(now, first.seq, 0, b"");
    assert!(e.fleet_in_fallback());
    assert_eq!(e.metrics().fleet_fallbacks, 1);
    // Not before the next flush; then the very same batch.
    assert!(e.poll_fleet(now + 50).is_none());
    let again = e.poll_fleet(now + 100).expect("retry");
    assert_eq!((again.seq, &again.body), (first.seq, &first.body));
    // A 503 or an unreadable answer is no answer either; one fallback all along.
    e.fleet_answered(now + 100, again.seq, 503, b"{}");
    assert_eq!(e.metrics().fleet_fallbacks, 1);
    assert_eq!(e.metrics().fleet_batch_failures, 2);
    let third = e.poll_fleet(now + 200).expect("retry");
    e.fleet_answered(
        now + 200,
        third.seq,
        200,
        &reply(third.seq, vec![ActorReply::default()]),
    );
    assert!(!e.fleet_in_fallback());
    assert_eq!(e.metrics().fleet_responses_sent, 1);
}

#[test]
fn a_batch_past_the_grace_period_is_given_up_and_counted() {
    let cfg = config("alert");
    let mut e = aggregator(&cfg);
    feed(&mut e, &cfg, "203.0.113.9", 2, T0, 10);
    let first = e.poll_fleet(T0 + 1_000).expect("batch");
    e.fleet_answered(T0 + 1_000, first.seq, 0, b"");
    // Records at T0 are past 2000 ms of grace (plus a bucket) at T0 + 2_200.
    let inside = e.poll_fleet(T0 + 2_050).expect("still retried");
    assert_eq!(inside.seq, first.seq);
    e.fleet_answered(T0 + 2_050, inside.seq, 0, b"");
    let next = e.poll_fleet(T0 + 2_200).expect("a new batch");
    assert_eq!(next.seq, first.seq + 1);
    assert!(batch_of(&next.body).actors.is_empty());
    assert_eq!(e.metrics().fleet_responses_dropped, 2);
}

#[test]
fn in_fallback_local_events_go_and_their_cooldown_is_claimed_on_rejoin() {
    let cfg = config("alert");
    let mut e = aggregator(&cfg);
    let call = e.poll_fleet(T0).expect("batch");
    e.fleet_answered(T0, call.seq, 0, b"");
    assert!(e.fleet_in_fallback());
    // Three responses locally reach the threshold: the event goes from here.
    feed(&mut e, &cfg, "203.0.113.9", 3, T0 + 100, 10);
    assert_eq!(e.metrics().events_queued, 1);
    assert_eq!(e.metrics().fleet_local_events_held, 0);
    // The failed batch had no counts: rebuilt rather than repeated, it carries the claim
    // (the responses go in the same batch).
    let next = e.poll_fleet(T0 + 1_500).expect("batch with the claim");
    assert_eq!(next.seq, call.seq + 1);
    let batch = batch_of(&next.body);
    let claim = batch.actors[0].claims[0].clone();
    assert_eq!((claim.0, claim.1.as_str()), (0, ""));
    // The cooldown left: 300 s from the event's time (T0 + 120), as of T0 + 1_500.
    assert_eq!(claim.2, 300_000 - (1_500 - 120));
    e.fleet_answered(
        T0 + 1_500,
        next.seq,
        200,
        &reply(next.seq, vec![ActorReply::default()]),
    );
    assert_eq!(e.metrics().fleet_claims_sent, 1);
    // Acknowledged: no later batch carries it again.
    let after = e.poll_fleet(T0 + 1_600).expect("batch");
    assert!(batch_of(&after.body).actors.is_empty());
}

/// The claims of the batch `call`, as (actor hex, rule, cooldown left).
fn claims_of(call: &actorwatch_core::fleet::FleetCall) -> Vec<(String, u32, u64)> {
    batch_of(&call.body)
        .actors
        .iter()
        .flat_map(|a| a.claims.iter().map(|c| (a.key.clone(), c.0, c.2)))
        .collect()
}

/// Falls back (an empty batch unanswered), then raises the local event for `peer` at T0 + 100.
fn event_in_fallback(e: &mut Engine, cfg: &Arc<Config>, peer: &str) {
    let call = e.poll_fleet(T0).expect("batch");
    e.fleet_answered(T0, call.seq, 0, b"");
    assert!(e.fleet_in_fallback());
    feed(e, cfg, peer, 3, T0 + 100, 10);
    assert_eq!(e.metrics().events_queued, 1);
}

#[test]
fn a_claim_outlives_batches_given_up_past_the_grace_period() {
    let cfg = config("alert");
    let mut e = aggregator(&cfg);
    let peer = "203.0.113.9";
    let key = actor_hex(&actorwatch_core::ActorKey::V4([203, 0, 113, 9]));
    event_in_fallback(&mut e, &cfg, peer);
    // Other traffic keeps coming while Redis is out of reach: every batch has counts, fails,
    // is retried until past the grace period (2 s) and given up; a new one takes its place.
    let mut now = T0 + 1_500;
    let mut seqs = Vec::new();
    while now < T0 + 9_000 {
        // A new client each time: none of them reaches the threshold.
        let other = format!("198.51.{}.{}", now / 25_600 % 256, now / 100 % 256);
        feed(&mut e, &cfg, &other, 1, now - 1_000, 10);
        if let Some(call) = e.poll_fleet(now) {
            if !seqs.contains(&call.seq) {
                seqs.push(call.seq);
                assert_eq!(
                    claims_of(&call).iter().map(|c| &c.0).collect::<Vec<_>>(),
                    vec![&key],
                    "every new batch carries the claim"
                );
            }
            e.fleet_answered(now, call.seq, 0, b"");
        }
        now += 100;
    }
    assert!(seqs.len() >= 3, "batches given up: {seqs:?}");
    assert!(e.metrics().fleet_responses_dropped > 0);
    assert_eq!(e.metrics().fleet_claims_sent, 0);
    // Redis answers again: the claim goes with the cooldown left as of when its batch was
    // built (a retry repeats its body: at most the grace period and a bucket earlier), once.
    let call = e.poll_fleet(now).expect("batch");
    let claims = claims_of(&call);
    assert_eq!(claims.len(), 1);
    let left_now = 300_000 - (now - (T0 + 120));
    assert!(
        (left_now..=left_now + 2_100).contains(&claims[0].2),
        "{} left, {left_now} as of now",
        claims[0].2
    );
    let answers = vec![ActorReply::default(); batch_of(&call.body).actors.len()];
    e.fleet_answered(now, call.seq, 200, &reply(call.seq, answers));
    assert_eq!(e.metrics().fleet_claims_sent, 1);
    let next = e.poll_fleet(now + 100).expect("batch");
    assert!(claims_of(&next).is_empty());
}

#[test]
fn a_claim_an_unreadable_answer_left_unacknowledged_goes_again() {
    let cfg = config("alert");
    let mut e = aggregator(&cfg);
    event_in_fallback(&mut e, &cfg, "203.0.113.9");
    let first = e.poll_fleet(T0 + 1_500).expect("batch");
    assert_eq!(claims_of(&first).len(), 1);
    // A 200 whose body is not the answer to this batch acknowledges nothing.
    e.fleet_answered(T0 + 1_500, first.seq, 200, b"{\"seq\": 1}");
    assert_eq!(e.metrics().fleet_claims_sent, 0);
    let again = e.poll_fleet(T0 + 1_600).expect("batch");
    assert_eq!(claims_of(&again).len(), 1);
}

#[test]
fn a_successor_aggregator_takes_over_claims_and_the_fleets_cooldowns() {
    let cfg = config("alert");
    let mut old = aggregator(&cfg);
    // One actor in the fleet's cooldown (another proxy raised it), one claim of this one.
    let cooled = "198.51.100.7";
    feed(&mut old, &cfg, cooled, 1, T0 - 1_000, 10);
    let call = old.poll_fleet(T0 - 500).expect("batch");
    let in_cooldown = ActorReply {
        flags: vec![Flag {
            rule: 0,
            fired: false,
            count: 9,
            at_ms: T0 - 1_000,
            cooldown_left_ms: 200_000,
            ..Flag::default()
        }],
        ..ActorReply::default()
    };
    old.fleet_answered(T0 - 500, call.seq, 200, &reply(call.seq, vec![in_cooldown]));
    let version = old.fleet_handover_version();
    event_in_fallback(&mut old, &cfg, "203.0.113.9");
    assert_ne!(old.fleet_handover_version(), version, "a claim changes it");
    let handed = old.export_fleet().expect("fleet mode");

    let mut new = Engine::with_shared_config(Arc::clone(&cfg), 8);
    new.set_reorder_window_ms(300);
    new.enable_fleet(0xbeef);
    assert_eq!(new.import_fleet(T0 + 1_000, &handed).expect("readable"), 1);
    // Still in fallback: the fleet's cooldown holds the cooled actor's local event back.
    let call = new.poll_fleet(T0 + 1_000).expect("batch");
    let key = actor_hex(&actorwatch_core::ActorKey::V4([203, 0, 113, 9]));
    assert_eq!(
        claims_of(&call).iter().map(|c| &c.0).collect::<Vec<_>>(),
        vec![&key]
    );
    new.fleet_answered(T0 + 1_000, call.seq, 0, b"");
    feed(&mut new, &cfg, cooled, 3, T0 + 1_100, 10);
    assert_eq!(new.metrics().events_queued, 0);
    assert_eq!(new.metrics().fleet_local_events_held, 1);
    // Past its end a claim is not taken over.
    let mut late = Engine::with_shared_config(Arc::clone(&cfg), 9);
    late.enable_fleet(0xcafe);
    assert_eq!(
        late.import_fleet(T0 + 400_000, &handed).expect("readable"),
        0
    );
    assert!(late.import_fleet(T0, b"not json").is_err());
}

#[test]
fn in_fallback_the_fleets_cooldown_holds_local_events_back() {
    let cfg = config("alert");
    let mut e = aggregator(&cfg);
    let peer = "203.0.113.9";
    feed(&mut e, &cfg, peer, 1, T0, 10);
    let call = e.poll_fleet(T0 + 1_500).expect("batch");
    let in_cooldown = ActorReply {
        flags: vec![Flag {
            rule: 0,
            fired: false,
            count: 9,
            at_ms: T0,
            cooldown_left_ms: 200_000,
            ..Flag::default()
        }],
        ..ActorReply::default()
    };
    e.fleet_answered(
        T0 + 1_500,
        call.seq,
        200,
        &reply(call.seq, vec![in_cooldown]),
    );
    assert_eq!(e.metrics().events_queued, 0, "another proxy raised it");
    let lost = e.poll_fleet(T0 + 1_600).expect("batch");
    e.fleet_answered(T0 + 1_600, lost.seq, 0, b"");
    feed(&mut e, &cfg, peer, 3, T0 + 2_000, 10);
    assert_eq!(e.metrics().events_queued, 0);
    assert_eq!(e.metrics().fleet_local_events_held, 1);
}

#[test]
fn without_fleet_mode_nothing_changes() {
    let json =
        r#"{"rules": [{"id": "r", "threshold": 3}], "webhook": {"url": "http://127.0.0.1:9/h"}}"#;
    let cfg = Arc::new(Config::from_json_str(json).expect("config"));
    let mut e = Engine::with_shared_config(Arc::clone(&cfg), 7);
    e.set_reorder_window_ms(300);
    e.enable_fleet(1);
    assert!(e.poll_fleet(T0).is_none());
    feed(&mut e, &cfg, "203.0.113.9", 3, T0, 10);
    assert_eq!(e.metrics().events_queued, 1);
}

#[test]
fn an_actor_the_budget_could_not_keep_is_still_counted_and_its_event_raised() {
    // max_actors 1: the second actor's latest record and samples are not kept here.
    let json = r#"{"rules": [{"id": "r4xx", "threshold": 3}], "max_actors": 1,
        "fleet": {"mode": "redis", "url": "http://127.0.0.1:9/v1/batch"},
        "webhook": {"url": "http://127.0.0.1:9/hook"}}"#;
    let cfg = Arc::new(Config::from_json_str(json).expect("config"));
    let mut e = aggregator(&cfg);
    feed(&mut e, &cfg, "203.0.113.9", 1, T0, 10);
    feed(&mut e, &cfg, "198.51.100.7", 2, T0 + 10, 10);
    let call = e.poll_fleet(T0 + 1_500).expect("batch");
    let batch = batch_of(&call.body);
    let second = actor_hex(&actorwatch_core::ActorKey::V4([198, 51, 100, 7]));
    let index = batch
        .actors
        .iter()
        .position(|a| a.key == second)
        .expect("its counts go to Redis");
    assert_eq!(
        batch.actors[index].entries.iter().map(|e| e.3).sum::<u32>(),
        2
    );
    let mut answers = vec![ActorReply::default(); batch.actors.len()];
    answers[index].flags = vec![Flag {
        rule: 0,
        fired: true,
        count: 3,
        at_ms: T0 + 20,
        cooldown_left_ms: 600_000,
        ..Flag::default()
    }];
    e.fleet_answered(T0 + 1_500, call.seq, 200, &reply(call.seq, answers));
    e.flush();
    let d = e.poll_delivery(T0 + 1_500).expect("a POST");
    let body = String::from_utf8(d.body).expect("utf-8");
    assert!(body.contains("\"actor\":\"198.51.100.7\""), "{body}");
    assert!(body.contains("\"count\":3"), "{body}");
    assert!(e.memory_bytes() > 0);
}

#[test]
fn a_flag_fired_for_an_event_raised_in_fallback_raises_nothing_more() {
    let cfg = config("alert");
    let mut e = aggregator(&cfg);
    // In fallback, three responses raise the event here.
    event_in_fallback(&mut e, &cfg, "203.0.113.9");
    // The batch carrying them reaches Redis, which fires for this proxy, but the answer comes
    // too late; the retry is answered with the first answer's flag.
    let call = e.poll_fleet(T0 + 1_500).expect("batch");
    e.fleet_answered(T0 + 1_500, call.seq, 0, b"");
    let again = e.poll_fleet(T0 + 1_600).expect("the same batch again");
    assert_eq!(again.seq, call.seq);
    let fired = ActorReply {
        dup: true,
        flags: vec![Flag {
            rule: 0,
            fired: true,
            count: 3,
            at_ms: T0 + 120,
            cooldown_left_ms: 298_000,
            ..Flag::default()
        }],
        ..ActorReply::default()
    };
    e.fleet_answered(T0 + 1_600, again.seq, 200, &reply(again.seq, vec![fired]));
    assert_eq!(e.metrics().events_queued, 1, "one event for one cooldown");
    assert_eq!(e.metrics().fleet_events_suppressed, 1);
    assert!(!e.fleet_in_fallback());
}

#[test]
fn a_full_batch_takes_the_actors_with_the_oldest_counts_and_the_next_one_the_rest() {
    let cfg = config("alert");
    let mut e = aggregator(&cfg);
    // 5,000 actors (a full batch) counted at T0, one more 1.5 s later.
    let mut rec = Recorder::new(Arc::clone(&cfg));
    let peers: Vec<String> = (0..5_000u32)
        .map(|i| format!("10.{}.{}.{}", i >> 16, (i >> 8) & 0xff, i & 0xff))
        .collect();
    for peer in &peers {
        rec.record(T0, &obs(peer, 404));
    }
    rec.record(T0 + 1_500, &obs("203.0.113.250", 404));
    let delta = rec.take_delta().expect("a delta");
    e.apply_delta(T0, &delta).expect("delta");
    e.advance(T0 + 1_900);
    let late = actor_hex(&actorwatch_core::ActorKey::V4([203, 0, 113, 250]));
    let call = e.poll_fleet(T0 + 2_000).expect("a batch is due");
    let first = batch_of(&call.body);
    assert_eq!(first.actors.len(), 5_000);
    assert!(
        first.actors.iter().all(|a| a.key != late),
        "the newest actor waits for the next batch"
    );
    let answers = vec![ActorReply::default(); first.actors.len()];
    e.fleet_answered(T0 + 2_010, first.seq, 200, &reply(first.seq, answers));
    // The next flush, within the grace period of the remaining count.
    let call = (1..=10)
        .find_map(|i| e.poll_fleet(T0 + 2_010 + i * 100))
        .expect("the rest is due");
    let second = batch_of(&call.body);
    assert_eq!(
        second
            .actors
            .iter()
            .map(|a| a.key.as_str())
            .collect::<Vec<_>>(),
        vec![late.as_str()]
    );
}
