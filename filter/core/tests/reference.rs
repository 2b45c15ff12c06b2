//! Property test: random traces through the engine and through a naive reference model (a plain
//! list of timestamps per key) must raise identical events, whether the engine observes
//! responses itself or merges them from several workers' deltas.
#![cfg(not(target_arch = "wasm32"))]

use actorwatch_core::{Config, Detection, Engine, Observation, Recorder};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// (peer address as a proxy reports it, actor as the event must name it)
const ACTORS: [(&str, &str); 5] = [
    ("203.0.113.1:4000", "203.0.113.1"),
    ("203.0.113.2", "203.0.113.2"),
    ("[2001:db8:0:1::5]:443", "2001:db8:0:1::/64"),
    ("[2001:db8:0:1::9]:443", "2001:db8:0:1::/64"),
    ("2001:db8:0:2::1", "2001:db8:0:2::/64"),
];
/// (path, its API template)
const PATHS: [(&str, &str); 4] = [
    ("/a/1", "/a/INTEGER"),
    ("/a/22?q=1", "/a/INTEGER"),
    ("/b", "/b"),
    ("/a/x", "/a/x"),
];
const METHODS: [&str; 2] = ["GET", "POST"];
const STATUSES: [u16; 5] = [200, 401, 403, 404, 500];

#[derive(Debug, Clone)]
struct RuleSpec {
    threshold: u32,
    window_secs: u64,
    cooldown_secs: u64,
    per_api: bool,
    /// Which of 401, 403, 404 the rule counts (at least one).
    statuses: Vec<u16>,
}

#[derive(Debug, Clone)]
struct Step {
    gap_ms: u64,
    actor: usize,
    path: usize,
    method: usize,
    status: usize,
    worker: usize,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        1u32..6,
        1u64..6,
        0u64..9,
        any::<bool>(),
        proptest::sample::subsequence(vec![401u16, 403, 404], 1..=3),
    )
        .prop_map(
            |(threshold, window_secs, cooldown_secs, per_api, statuses)| RuleSpec {
                threshold,
                window_secs,
                cooldown_secs,
                per_api,
                statuses,
            },
        )
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![Just(0u64), 0u64..400, 0u64..3000],
        0..ACTORS.len(),
        0..PATHS.len(),
        0..METHODS.len(),
        0..STATUSES.len(),
        0usize..3,
    )
        .prop_map(|(gap_ms, actor, path, method, status, worker)| Step {
            gap_ms,
            actor,
            path,
            method,
            status,
            worker,
        })
}

fn config_json(rules: &[RuleSpec]) -> String {
    let rules: Vec<String> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                r#"{{"id": "R{i}", "threshold": {}, "window_secs": {}, "cooldown_secs": {}, "per": "{}", "statuses": {:?}}}"#,
                r.threshold,
                r.window_secs,
                r.cooldown_secs,
                if r.per_api { "actor_api" } else { "actor" },
                r.statuses
            )
        })
        .collect();
    format!(
        r#"{{"rules": [{}], "samples_per_event": 0, "webhook": {{"url": "http://127.0.0.1:9/hook", "mode": "instant"}}}}"#,
        rules.join(",")
    )
}

/// (time, rule id, actor, url)
type Event = (u64, String, String, String);

/// The obvious implementation: every timestamp kept, counted by filtering.
fn reference(rules: &[RuleSpec], trace: &[(u64, &Step)]) -> Vec<Event> {
    let mut times: HashMap<(usize, String, Option<String>), Vec<u64>> = HashMap::new();
    let mut last_event: HashMap<(usize, String, Option<String>), u64> = HashMap::new();
    let mut events = Vec::new();
    for (t, s) in trace {
        let status = STATUSES[s.status];
        let actor = ACTORS[s.actor].1.to_string();
        for (i, r) in rules.iter().enumerate() {
            if !r.statuses.contains(&status) {
                continue;
            }
            let api = r
                .per_api
                .then(|| format!("{} {}", METHODS[s.method], PATHS[s.path].1));
            let key = (i, actor.clone(), api);
            let list = times.entry(key.clone()).or_default();
            list.push(*t);
            let window_ms = r.window_secs * 1000;
            // The trace's times never decrease: the list is sorted.
            let count = list.len() - list.partition_point(|&x| x + window_ms <= *t);
            if count < r.threshold as usize {
                continue;
            }
            let cooled = match last_event.get(&key) {
                None => true,
                Some(&last) => *t - last >= r.cooldown_secs * 1000,
            };
            if cooled {
                last_event.insert(key, *t);
                let url = if r.per_api {
                    PATHS[s.path].1
                } else {
                    PATHS[s.path].0.split('?').next().unwrap_or("")
                };
                events.push((*t, format!("R{i}"), actor.clone(), url.to_string()));
            }
        }
    }
    events.sort();
    events
}

fn observation(s: &Step) -> Observation<'static> {
    Observation {
        method: METHODS[s.method],
        path: PATHS[s.path].0,
        status: STATUSES[s.status],
        peer: Some(ACTORS[s.actor].0),
        host: None,
        headers: &[("user-agent", "proptest")],
        country: None,
        threats: None,
    }
}

/// Events in one list and not the other, for a readable failure.
fn diff(got: &[Event], want: &[Event]) -> String {
    let extra: Vec<_> = got.iter().filter(|e| !want.contains(e)).collect();
    let missing: Vec<_> = want.iter().filter(|e| !got.contains(e)).collect();
    format!("extra: {extra:?}\nmissing: {missing:?}")
}

fn events_of(detections: Vec<Detection>) -> Vec<Event> {
    let mut out: Vec<Event> = detections
        .into_iter()
        .map(|d| (d.at_ms, d.event.filter_id, d.event.actor, d.event.url))
        .collect();
    out.sort();
    out
}

/// Rules with thresholds in the thousands, and steps that repeat (bursts), so that windows hold
/// thousands of times.
fn large_rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        500u32..2500,
        1u64..6,
        0u64..5,
        any::<bool>(),
        proptest::sample::subsequence(vec![401u16, 403, 404], 1..=3),
    )
        .prop_map(
            |(threshold, window_secs, cooldown_secs, per_api, statuses)| RuleSpec {
                threshold,
                window_secs,
                cooldown_secs,
                per_api,
                statuses,
            },
        )
}

fn burst() -> impl Strategy<Value = Vec<Step>> {
    (
        prop_oneof![Just(0u64), 0u64..3, 0u64..1500],
        0..2usize,
        0..PATHS.len(),
        0..METHODS.len(),
        2..4usize,
        0usize..3,
        1usize..500,
    )
        .prop_map(|(gap_ms, actor, path, method, status, worker, repeat)| {
            (0..repeat)
                .map(|i| Step {
                    gap_ms: if i == 0 { gap_ms } else { gap_ms.min(1) },
                    actor,
                    path,
                    method,
                    status,
                    worker,
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_reference_model(
        rules in proptest::collection::vec(rule_spec(), 1..4),
        steps in proptest::collection::vec(step(), 1..400),
        seed in any::<u64>(),
    ) {
        check(&rules, &steps, seed)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_reference_model_with_thresholds_in_the_thousands(
        rules in proptest::collection::vec(large_rule_spec(), 1..3),
        bursts in proptest::collection::vec(burst(), 1..60),
        seed in any::<u64>(),
    ) {
        let steps: Vec<Step> = bursts.into_iter().flatten().collect();
        check(&rules, &steps, seed)?;
    }
}

fn check(rules: &[RuleSpec], steps: &[Step], seed: u64) -> Result<(), TestCaseError> {
    {
        let rules = rules.to_vec();
        let cfg = Arc::new(Config::from_json_str(&config_json(&rules)).unwrap());
        let mut t = 1_747_000_000_000u64;
        let trace: Vec<(u64, &Step)> = steps
            .iter()
            .map(|s| {
                t += s.gap_ms;
                (t, s)
            })
            .collect();
        let want = reference(&rules, &trace);

        let mut local = Engine::with_shared_config(Arc::clone(&cfg), seed);
        let mut seen = Vec::new();
        for (t, s) in &trace {
            local.observe(*t, &observation(s), &mut seen);
        }
        let got = events_of(seen);
        prop_assert!(got == want, "local engine: {}", diff(&got, &want));

        // Three workers, flushed every 10 responses; the aggregator holds records long enough
        // to count them in time order.
        let mut merged = Engine::with_shared_config(Arc::clone(&cfg), seed ^ 1);
        let mut seen = Vec::new();
        merged.set_reorder_window_ms(60_000);
        let mut workers: Vec<Recorder> = (0..3).map(|_| Recorder::new(Arc::clone(&cfg))).collect();
        for (i, (t, s)) in trace.iter().enumerate() {
            workers[s.worker].record(*t, &observation(s));
            if i % 10 == 9 {
                for w in &mut workers {
                    if let Some(d) = w.take_delta() {
                        seen.extend(merged.apply_delta(*t, &d).unwrap());
                    }
                }
            }
        }
        for w in &mut workers {
            if let Some(d) = w.take_delta() {
                seen.extend(merged.apply_delta(t, &d).unwrap());
            }
        }
        seen.extend(merged.advance(u64::MAX));
        // Responses of one millisecond on different workers have no order: which of them
        // triggered an event (its url) may differ, when and for whom may not.
        let strip = |events: &[Event]| -> Vec<Event> {
            events
                .iter()
                .map(|(t, r, a, _)| (*t, r.clone(), a.clone(), String::new()))
                .collect()
        };
        let (got, want) = (strip(&events_of(seen)), strip(&want));
        prop_assert!(got == want, "merged engine: {}", diff(&got, &want));
        prop_assert_eq!(merged.metrics().responses, trace.len() as u64);
    }
    Ok(())
}
