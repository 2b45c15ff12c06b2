//! The whole engine under arbitrary sequences of responses, clock moves (forward, back, a host
//! that passes 0) and delivery outcomes: no panic or overflow, at most `max_actors` tracked, at
//! most one event per actor and rule per cooldown (on the host's clock, or in real time when the
//! clock went back after a cooldown ended and its actor was forgotten), every event
//! backed by `threshold` responses within the window in real time (to within the clock-step
//! tolerance, a host that calls the engine periodically as Envoy's ticks do), the queue within
//! its capacity, and every accepted event delivered, dropped or
//! still held.
#![no_main]

use actorwatch_core::internals::template;
use actorwatch_core::internals::CLOCK_STEP_MS;
use actorwatch_core::{Config, Engine, Observation};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

#[derive(Debug, Arbitrary)]
enum Op {
    Response {
        actor: u8,
        status: u16,
        dt_ms: u16,
        api: u8,
    },
    Forwarded {
        xff: String,
        status: u16,
    },
    Advance {
        dt_secs: u8,
    },
    Poll,
    Outcome {
        index: u8,
        status: u16,
    },
    Lost {
        index: u8,
    },
    /// The host clock steps back (an NTP step).
    ClockBack {
        secs: u16,
    },
    /// The host hands the next response a time of 0.
    ClockZero,
    /// The host clock is right again.
    ClockRestore,
}

#[derive(Debug, Arbitrary)]
struct Input {
    threshold: u8,
    window_secs: u8,
    cooldown_secs: u8,
    max_actors: u8,
    queue_capacity: u8,
    per_api: bool,
    block: bool,
    ops: Vec<Op>,
}

const MAX_OPS: usize = 2_000;

fuzz_target!(|input: Input| {
    let cooldown_secs = u64::from(input.cooldown_secs % 30);
    let json = serde_json::json!({
        "actor": {"sources": ["xff", "peer"]},
        "rules": [{
            "id": "R", "threshold": 1 + input.threshold % 12, "window_secs": 1 + input.window_secs % 20,
            "cooldown_secs": cooldown_secs, "per": if input.per_api { "actor_api" } else { "actor" },
            "action": if input.block { "block" } else { "alert" }, "block_secs": 5,
        }],
        "max_actors": 1 + input.max_actors % 16,
        "samples_per_event": 2,
        "webhook": {"url": "https://siem.example.com/akto", "mode": "instant", "batch_size": 3,
                    "queue_capacity": 1 + input.queue_capacity % 20, "max_retries": 2, "timeout_ms": 1000},
    });
    let cfg = Config::from_json_str(&json.to_string()).expect("generated configs are valid");
    let max_actors = cfg.max_actors as u64;
    let queue_capacity = cfg.webhook.queue_capacity as u64;
    let mut engine = Engine::new(cfg, 11);
    let threshold = u64::from(1 + input.threshold % 12);
    let window_ms = u64::from(1 + input.window_secs % 20) * 1000;
    let mut clock = HostClock {
        real: 1_747_162_000_000,
        skew: 0,
        zero_next: false,
    };
    let mut in_flight: Vec<u64> = Vec::new();
    // The last event of each key: (time on the host's clock, real time).
    let mut last_event: HashMap<(String, String), (u64, u64)> = HashMap::new();
    // Real times of every counted response, per (actor, API) as events name them.
    let mut counted: HashMap<(String, String), Vec<u64>> = HashMap::new();
    const PATHS: [&str; 3] = ["/a/1", "/b/22", "/c"];
    for op in input.ops.into_iter().take(MAX_OPS) {
        let now = clock.real.saturating_sub(clock.skew);
        let mut observed: Option<(String, String)> = None;
        let mut detections = Vec::new();
        match op {
            Op::Response {
                actor,
                status,
                dt_ms,
                api,
            } => {
                clock.real += u64::from(dt_ms);
                let now = clock.reported();
                let peer = format!("10.0.0.{actor}:4000");
                let obs = Observation {
                    method: "GET",
                    path: PATHS[api as usize % PATHS.len()],
                    status,
                    peer: Some(&peer),
                    host: None,
                    headers: &[("user-agent", "fuzz")],
                    country: None,
                    threats: None,
                };
                observed = model_key(&engine, &obs, input.per_api);
                engine.observe(now, &obs, &mut detections);
            }
            Op::Forwarded { xff, status } => {
                let headers = [("x-forwarded-for", xff.as_str())];
                let obs = Observation {
                    method: "POST",
                    path: "/login",
                    status,
                    peer: Some("203.0.113.1"),
                    host: Some("api"),
                    headers: &headers,
                    country: None,
                    threats: None,
                };
                observed = model_key(&engine, &obs, input.per_api);
                engine.observe(clock.reported(), &obs, &mut detections);
            }
            Op::Advance { dt_secs } => {
                clock.real += u64::from(dt_secs) * 1000;
                detections.extend(engine.advance(clock.reported()));
            }
            Op::ClockBack { secs } => {
                clock.skew = clock.skew.saturating_add(u64::from(secs) * 1000);
                // Hosts call the engine periodically (Envoy every tick): the step shows.
                detections.extend(engine.advance(clock.reported()));
            }
            Op::ClockZero => clock.zero_next = true,
            Op::ClockRestore => clock.skew = 0,
            Op::Poll => {
                if let Some(d) = engine.poll_delivery(now) {
                    assert!(d.events >= 1 && d.events <= 3);
                    in_flight.push(d.token);
                }
            }
            Op::Outcome { index, status } => {
                if !in_flight.is_empty() {
                    let token = in_flight.remove(index as usize % in_flight.len());
                    engine.delivery_status(token, status, now);
                }
            }
            Op::Lost { index } => {
                if !in_flight.is_empty() {
                    in_flight.remove(index as usize % in_flight.len());
                }
            }
        }
        let real = clock.real;
        if let Some(key) = observed {
            counted.entry(key).or_default().push(real);
        }
        for d in detections {
            let key = (
                d.event.actor.clone(),
                format!("{} {}", d.event.method, d.event.url),
            );
            let key = if input.per_api {
                key
            } else {
                (key.0, String::new())
            };
            // Backed by `threshold` responses within the window, in real time.
            let support = counted.get(&key).map_or(0, |times| {
                let lower = real.saturating_sub(window_ms + CLOCK_STEP_MS);
                times.iter().filter(|&&t| t > lower && t <= real).count() as u64
            });
            assert!(
                support >= threshold,
                "{key:?} flagged with {support} responses in the last {window_ms} ms (+{CLOCK_STEP_MS}) of real time"
            );
            let prev = last_event.insert(key, (d.at_ms, real));
            if let Some((at, was)) = prev.filter(|_| cooldown_secs > 0) {
                // Never early on both clocks: on the host's (a clock that went back reads as
                // earlier), unless the cooldown had ended in real time (the actor was then
                // forgotten, and the clock went back after it).
                let cooldown_ms = cooldown_secs * 1000;
                assert!(
                    d.at_ms >= at + cooldown_ms || real >= was + cooldown_ms,
                    "two events {} ms apart on the host's clock, {} ms in real time, within a {cooldown_secs} s cooldown; {:?}",
                    d.at_ms.saturating_sub(at),
                    real - was,
                    engine.metrics()
                );
            }
        }
        let m = engine.metrics();
        assert!(m.actors_tracked <= max_actors, "{m:?}");
        assert!(m.events_queued <= queue_capacity, "{m:?}");
        assert_eq!(
            m.events_raised,
            m.events_delivered + m.events_dropped + m.events_queued,
            "{m:?}"
        );
    }
});

/// Real time, and the time the host reports: `skew` ms late, or 0 once.
struct HostClock {
    real: u64,
    skew: u64,
    zero_next: bool,
}

impl HostClock {
    fn reported(&mut self) -> u64 {
        if std::mem::take(&mut self.zero_next) {
            0
        } else {
            self.real.saturating_sub(self.skew)
        }
    }
}

/// The key an event for this observation would carry, if a rule counts it (statuses 400-499).
fn model_key(engine: &Engine, obs: &Observation, per_api: bool) -> Option<(String, String)> {
    if !(400..500).contains(&obs.status) {
        return None;
    }
    let resolved = engine.resolve_actor(obs.peer, obs.headers)?;
    let actor = engine.config().actor.display(&resolved.key);
    let api = if per_api {
        format!("{} {}", obs.method, template(obs.path))
    } else {
        String::new()
    };
    Some((actor, api))
}
