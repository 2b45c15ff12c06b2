//! `make bench`: a flood of one-off actors with one attacker among them, through real Envoy with
//! the filter; prints one JSON line with Envoy's resident memory before and after, the engine's
//! own `memory_bytes`, what it tracked and whether the attacker was flagged.
//!
//! Usage: actorwatch-flood CONFIG.json ACTORS ATTACK_EVERY
//! (actors come from X-Forwarded-For; the attacker sends one 404 every ATTACK_EVERY one-offs).

use actorwatch_e2e::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const THREADS: u32 = 4;
const ATTACKER: &str = "198.51.100.66";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(config), Some(actors), Some(every)) = (
        args.get(1),
        args.get(2).and_then(|n| n.parse::<u32>().ok()),
        args.get(3).and_then(|n| n.parse::<u32>().ok()),
    ) else {
        eprintln!("usage: actorwatch-flood CONFIG.json ACTORS ATTACK_EVERY");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(config).expect("read the config");
    let mut cfg: Value = serde_json::from_str(&text).expect("the config is JSON");
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    cfg["actor"] = json!({"sources": ["xff", "peer"]});
    cfg["webhook"]["url"] = json!("http://webhook.test/akto");
    cfg["webhook"]["mode"] = json!("instant");
    let envoy = Envoy::start(&EnvoySetup::new(&cfg.to_string(), api.port, rx.port))
        .unwrap_or_else(|e| panic!("Envoy did not start:\n{}", e.log));
    let addr = envoy.listener;
    let rss_before = rss_kib(envoy.pid());
    let started = Instant::now();
    let attacks: u32 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut c = Client::new(addr);
                    let mut attacks = 0;
                    for i in (t..actors).step_by(THREADS as usize) {
                        let one_off = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
                        let _ = c.request(
                            "GET",
                            "/direct/flood",
                            &[("x-forwarded-for", &one_off)],
                            b"",
                        );
                        if i % every.max(1) == 0 {
                            let _ = c.request(
                                "GET",
                                "/direct/probe",
                                &[("x-forwarded-for", ATTACKER)],
                                b"",
                            );
                            attacks += 1;
                        }
                    }
                    attacks
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    let seconds = started.elapsed().as_secs_f64();
    let expected = u64::from(actors + attacks);
    wait_for(Duration::from_secs(60), || {
        (envoy.metric("matched") == expected).then_some(())
    });
    // The aggregator publishes its gauges on its next ticks.
    wait_for(Duration::from_secs(5), || {
        let e = rx.events();
        e.iter().any(|e| e["actor"] == ATTACKER).then_some(())
    });
    let flagged = rx
        .events()
        .iter()
        .filter(|e| e["actor"] == ATTACKER)
        .count();
    let out = json!({
        "actors": actors,
        "attacker_requests": attacks,
        "seconds": seconds,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_kib(envoy.pid()),
        "memory_bytes": envoy.metric("memory_bytes"),
        "max_memory_mb": cfg.get("max_memory_mb").and_then(Value::as_u64).unwrap_or(64),
        "actors_tracked": envoy.metric("actors_tracked"),
        "actors_evicted": envoy.metric("actors_evicted"),
        "matched": envoy.metric("matched"),
        "attacker_events": flagged,
    });
    println!("{out}");
}
