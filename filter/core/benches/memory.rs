//! Bytes per tracked actor: a counting allocator measures what the engine holds after 1 M
//! distinct actors (IPv4, then IPv6) each sent 404s within one window, samples off, default rule
//! (threshold 10), with a budget large enough to hold them all.

use actorwatch_core::{Config, Engine, Observation};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ACTORS: usize = 1_000_000;

fn measure(label: &str, responses_per_actor: u64, peer: impl Fn(usize) -> String) {
    let json = r#"{"samples_per_event": 0, "max_actors": 1000000, "max_memory_mb": 1024,
        "rules": [{"id": "4XX_FILTER", "threshold": 10, "window_secs": 60, "cooldown_secs": 600}],
        "webhook": {"url": "http://127.0.0.1:9/hook", "queue_capacity": 10}}"#;
    let cfg = Config::from_json_str(json).expect("config");
    let peers: Vec<String> = (0..ACTORS).map(&peer).collect();
    let before = LIVE.load(Ordering::Relaxed);
    let mut engine = Engine::new(cfg, 7);
    let headers: [(&str, &str); 0] = [];
    let start = 1_747_162_000_000u64;
    let mut n = 0u64;
    for round in 0..responses_per_actor {
        for p in &peers {
            // Every response within the 60 s window: 1 ms per 200 responses.
            n += 1;
            let now = start + n / 200;
            let o = Observation {
                method: "GET",
                path: "/x",
                status: 404,
                peer: Some(p),
                host: None,
                headers: &headers,
                country: None,
                threats: None,
            };
            engine.observe(now, &o, &mut Vec::new());
        }
        let _ = round;
    }
    let after = LIVE.load(Ordering::Relaxed);
    let m = engine.metrics();
    assert_eq!(m.actors_tracked as usize, ACTORS);
    println!(
        "{label}: {} actors, {} responses each: {:.1} bytes/actor allocated ({:.1} by the engine's own accounting)",
        ACTORS,
        responses_per_actor,
        (after - before) as f64 / ACTORS as f64,
        engine.state_heap_bytes() as f64 / ACTORS as f64
    );
    drop(engine);
}

fn main() {
    measure("ipv4", 1, |i| {
        format!("10.{}.{}.{}:5000", (i >> 16) & 255, (i >> 8) & 255, i & 255)
    });
    measure("ipv4", 9, |i| {
        format!("10.{}.{}.{}:5000", (i >> 16) & 255, (i >> 8) & 255, i & 255)
    });
    measure("ipv6", 1, |i| {
        format!("[2001:db8:{:x}:{:x}::1]:443", i >> 16, i & 0xffff)
    });
}
