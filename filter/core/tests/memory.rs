//! The memory budget holds against a flood: a counting allocator watches every byte the engine
//! allocates while 1 M one-off actors and one hidden attacker go through it, with a rule whose
//! threshold (10,000) used to cost 40 KB per actor, and with the default rule.
#![cfg(not(target_arch = "wasm32"))]

use actorwatch_core::{Config, Engine, Observation};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(by: isize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A reallocation may hold both blocks at once: count the new one before the old goes.
        grew(new_size as isize);
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const T0: u64 = 1_747_162_000_000;
const FLOOD: u32 = 1_000_000;
const ATTACKER: &str = "198.51.100.66";

struct Run {
    peak_bytes: usize,
    accounted_bytes: usize,
    attacker_events: usize,
    tracked: u64,
    evicted: u64,
}

/// 1 M one-off actors (one 404 each) with the attacker's `threshold` 404s spread evenly among
/// them, all within `window_secs`.
fn flood(rule: &str, threshold: u32, window_ms: u64) -> Run {
    let json = format!(
        r#"{{"max_actors": 50000000, "rules": [{rule}],
            "webhook": {{"url": "http://127.0.0.1:9/hook", "mode": "instant"}}}}"#
    );
    let cfg = Config::from_json_str(&json).expect("config");
    let budget = cfg.max_memory_bytes();
    let peers: Vec<String> = (0..FLOOD)
        .map(|i| Ipv4Addr::from(0x0a00_0000 + i).to_string())
        .collect();
    let every = (FLOOD / threshold).max(1);
    let step_ms = (window_ms / 2) as f64 / f64::from(FLOOD);
    let headers = [("user-agent", "flood/1.0"), ("accept", "*/*")];
    let obs = |peer| Observation {
        method: "GET",
        path: "/api/orders/1",
        status: 404,
        peer: Some(peer),
        host: Some("api.example.com"),
        headers: &headers,
        country: None,
        threats: None,
    };
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut engine = Engine::new(cfg, 42);
    let mut attacker_events = 0;
    let mut sent = 0;
    for (i, peer) in peers.iter().enumerate() {
        let now = T0 + (i as f64 * step_ms) as u64;
        let mut detections = Vec::new();
        engine.observe(now, &obs(peer.as_str()), &mut detections);
        if i as u32 % every == every - 1 && sent < threshold {
            sent += 1;
            engine.observe(now, &obs(ATTACKER), &mut detections);
        }
        for d in detections {
            attacker_events += usize::from(d.event.actor == ATTACKER);
        }
    }
    assert_eq!(sent, threshold, "the attacker sent exactly its threshold");
    let m = engine.metrics();
    let run = Run {
        peak_bytes: (PEAK.load(Ordering::Relaxed) - before) as usize,
        accounted_bytes: engine.memory_bytes(),
        attacker_events,
        tracked: m.actors_tracked,
        evicted: m.actors_evicted,
    };
    assert!(
        run.peak_bytes <= budget,
        "peak {} bytes over the {budget}-byte budget",
        run.peak_bytes
    );
    assert_eq!(m.memory_bytes as usize, run.accounted_bytes);
    drop(engine);
    run
}

#[test]
fn a_million_one_off_actors_stay_within_the_budget_and_the_attacker_is_flagged() {
    // A threshold of 10,000 in an hour: one-off actors cost the same as with a threshold of 10.
    let high = flood(
        r#"{"id": "SLOW_SCAN", "threshold": 10000, "window_secs": 3600, "cooldown_secs": 3600}"#,
        10_000,
        3_600_000,
    );
    eprintln!(
        "threshold 10,000: peak {} bytes, accounted {}, {} tracked, {} evicted",
        high.peak_bytes, high.accounted_bytes, high.tracked, high.evicted
    );
    assert_eq!(
        high.attacker_events, 1,
        "the hidden attacker is flagged once"
    );
    assert!(high.tracked >= 300_000, "{} tracked", high.tracked);
    assert_eq!(high.tracked + high.evicted, u64::from(FLOOD) + 1);
    // The accounting is the allocator's truth, within what a call allocates for a moment.
    let live_gap = high.peak_bytes.abs_diff(high.accounted_bytes);
    assert!(
        live_gap < high.accounted_bytes / 10,
        "accounted {} vs peak {}",
        high.accounted_bytes,
        high.peak_bytes
    );

    // The default rule (10 in 60 s, samples on): every one-off actor is near its threshold,
    // so samples fill their share and are skipped, counted.
    let default = flood(
        r#"{"id": "4XX_FILTER", "threshold": 10, "window_secs": 60}"#,
        10,
        60_000,
    );
    eprintln!(
        "default rule: peak {} bytes, accounted {}, {} tracked, {} evicted",
        default.peak_bytes, default.accounted_bytes, default.tracked, default.evicted
    );
    assert_eq!(default.attacker_events, 1);
}
