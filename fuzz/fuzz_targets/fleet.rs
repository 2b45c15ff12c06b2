//! Fleet mode's aggregator side under arbitrary records, clocks and answers from the front
//! (well-formed replies naming any actor, rule and times, and arbitrary bytes): no panic or
//! overflow, at most one batch in flight, a retried batch identical to the first attempt,
//! fleet memory within its eighth of `max_memory_mb`, and no local counting-rule event while
//! Redis answers.
#![no_main]

use actorwatch_core::fleet::{actor_hex, ActorReply, Batch, Flag, Reply};
use actorwatch_core::{ActorKey, Config, Engine, Observation, Recorder};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

#[derive(Debug, Arbitrary)]
enum Op {
    Responses {
        actor: u8,
        n: u8,
        dt_ms: u16,
    },
    Advance {
        dt_ms: u16,
    },
    Answer {
        ok: bool,
        fired: bool,
        rule: u8,
        cooldown_ms: u32,
        block_until: u64,
        stranger: u8,
    },
    Garbage {
        status: u16,
        body: Vec<u8>,
    },
    ClockBack {
        secs: u16,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    threshold: u8,
    per_api: bool,
    block: bool,
    grace_ms: u16,
    ops: Vec<Op>,
}

const T0: u64 = 1_747_162_000_000;
const NO_HEADERS: [(&str, &str); 0] = [];

fuzz_target!(|input: Input| {
    let json = format!(
        r#"{{"rules": [{{"id": "r", "threshold": {}, "window_secs": 10, "cooldown_secs": 30,
            "per": "{}", "action": "{}"}}], "max_memory_mb": 1, "max_actors": 64,
            "fleet": {{"mode": "redis", "url": "http://f/v1/batch", "grace_ms": {}}},
            "webhook": {{"url": "http://h/", "mode": "instant"}}}}"#,
        u32::from(input.threshold).max(1),
        if input.per_api { "actor_api" } else { "actor" },
        if input.block { "block" } else { "alert" },
        input.grace_ms.min(60_000),
    );
    let Ok(cfg) = Config::from_json_str(&json) else {
        return;
    };
    let cfg = Arc::new(cfg);
    let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 3);
    engine.set_reorder_window_ms(300);
    engine.enable_fleet(9);
    let mut now = T0;
    let mut inflight: Option<(u64, Vec<u8>)> = None;
    let mut last_sent: Option<(u64, Vec<u8>)> = None;
    let budget = cfg.max_memory_bytes() / 8;
    for op in input.ops {
        match op {
            Op::Responses { actor, n, dt_ms } => {
                let mut rec = Recorder::new(Arc::clone(&cfg));
                let peer = format!("198.51.100.{actor}");
                let path = format!("/items/{}", actor % 4);
                for i in 0..u64::from(n % 32) {
                    let obs = Observation {
                        method: "GET",
                        path: &path,
                        status: 404,
                        peer: Some(&peer),
                        host: None,
                        headers: &NO_HEADERS,
                        country: None,
                        threats: None,
                    };
                    rec.record(now + i, &obs);
                }
                if let Some(delta) = rec.take_delta() {
                    let _ = engine.apply_delta(now, &delta);
                }
                now += u64::from(dt_ms);
            }
            Op::Advance { dt_ms } => now += u64::from(dt_ms),
            Op::ClockBack { secs } => now = now.saturating_sub(u64::from(secs) * 1000),
            Op::Answer {
                ok,
                fired,
                rule,
                cooldown_ms,
                block_until,
                stranger,
            } => {
                let Some((seq, body)) = inflight.take() else {
                    continue;
                };
                let batch: Batch = serde_json::from_slice(&body).expect("a batch is JSON");
                let mut actors: Vec<ActorReply> = batch
                    .actors
                    .iter()
                    .map(|_| ActorReply {
                        block_until_ms: block_until,
                        block_status: 429,
                        flags: vec![Flag {
                            rule: u32::from(rule % 3),
                            fired,
                            cooldown_left_ms: u64::from(cooldown_ms),
                            at_ms: now,
                            count: 7,
                            ..Flag::default()
                        }],
                        ..ActorReply::default()
                    })
                    .collect();
                if stranger % 4 == 0 {
                    actors.pop();
                }
                let reply = Reply {
                    seq,
                    actors,
                    blocks: vec![(
                        actor_hex(&ActorKey::V4([203, 0, 113, stranger])),
                        block_until,
                        429,
                    )],
                    blocks_now_ms: block_until,
                };
                let bytes = serde_json::to_vec(&reply).expect("JSON");
                engine.fleet_answered(now, seq, if ok { 200 } else { 503 }, &bytes);
            }
            Op::Garbage { status, body } => {
                let Some((seq, _)) = inflight.take() else {
                    continue;
                };
                engine.fleet_answered(now, seq, status, &body);
            }
        }
        engine.advance(now);
        if let Some(call) = engine.poll_fleet(now) {
            assert!(inflight.is_none(), "two batches in flight");
            if let Some((seq, body)) = &last_sent {
                // A batch sent again goes under its number, unchanged; a new one gets the next.
                assert!(call.seq == *seq && call.body == *body || call.seq > *seq);
            }
            last_sent = Some((call.seq, call.body.clone()));
            inflight = Some((call.seq, call.body));
        }
        while engine.poll_delivery(now).is_some() {}
        let m = engine.metrics();
        if !engine.fleet_in_fallback() {
            assert_eq!(m.fleet_fallback, 0);
        }
        assert!(m.memory_bytes as usize <= cfg.max_memory_bytes() + budget + (64 << 10));
    }
});
