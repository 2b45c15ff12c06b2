//! Criterion benchmarks of the per-response path: `Engine::observe` for responses no rule
//! counts and for matched ones (1 actor, 100k actors), the worker-side `Recorder::record`,
//! and merging a worker delta.

use actorwatch_core::{Config, Engine, Observation, Recorder};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;

const T0: u64 = 1_747_162_000_000;
const HEADERS: [(&str, &str); 4] = [
    ("user-agent", "curl/8.5.0"),
    ("accept", "*/*"),
    ("authorization", "Bearer abc"),
    ("x-request-id", "5f0c6a0e-6a54-4b8e-9a8b-1e1f8e0f7a11"),
];

fn config(samples: usize) -> Arc<Config> {
    let json = format!(
        r#"{{"samples_per_event": {samples}, "max_actors": 1000000,
            "rules": [{{"id": "4XX_FILTER", "threshold": 10, "window_secs": 60, "cooldown_secs": 600}}],
            "webhook": {{"url": "http://127.0.0.1:9/hook", "mode": "periodic", "queue_capacity": 1000000}}}}"#
    );
    Arc::new(Config::from_json_str(&json).expect("bench config"))
}

fn obs<'a>(peer: &'a str, status: u16) -> Observation<'a> {
    Observation {
        method: "GET",
        path: "/v1/orders/7?expand=items",
        status,
        peer: Some(peer),
        host: Some("api.example.com"),
        headers: &HEADERS,
        country: None,
        threats: None,
    }
}

fn peers(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "10.{}.{}.{}:{}",
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255,
                40000 + i % 20000
            )
        })
        .collect()
}

fn observe(c: &mut Criterion) {
    let mut g = c.benchmark_group("observe");
    g.throughput(Throughput::Elements(1));

    // Events raised during a run (one per cooldown) land here.
    let mut raised = Vec::new();
    let mut e = Engine::with_shared_config(config(0), 1);
    let mut now = T0;
    g.bench_function("non_matching_200", |b| {
        b.iter(|| {
            now += 1;
            black_box(e.observe(now, black_box(&obs("203.0.113.7:5000", 200)), &mut raised))
        })
    });

    for (name, samples) in [
        ("matching_404_1_actor", 0),
        ("matching_404_1_actor_samples_10", 10),
    ] {
        let mut e = Engine::with_shared_config(config(samples), 1);
        let mut now = T0;
        g.bench_function(name, |b| {
            b.iter(|| {
                now += 1;
                raised.clear();
                black_box(e.observe(now, black_box(&obs("203.0.113.7:5000", 404)), &mut raised))
            })
        });
    }

    let many = peers(100_000);
    let mut e = Engine::with_shared_config(config(0), 1);
    let mut i = 0usize;
    let mut now = T0;
    // Warm: every actor tracked before measuring.
    for p in &many {
        now += 1;
        e.observe(now, &obs(p, 404), &mut raised);
    }
    g.bench_function("matching_404_100k_actors", |b| {
        b.iter(|| {
            now += 1;
            i = (i + 1) % many.len();
            raised.clear();
            black_box(e.observe(now, black_box(&obs(&many[i], 404)), &mut raised))
        })
    });
    g.finish();
}

fn worker(c: &mut Criterion) {
    let mut g = c.benchmark_group("worker");
    g.throughput(Throughput::Elements(1));
    let mut r = Recorder::new(config(0));
    let mut now = T0;
    g.bench_function("record_non_matching_200", |b| {
        b.iter(|| {
            now += 1;
            black_box(r.record(now, black_box(&obs("203.0.113.7:5000", 200))))
        })
    });
    let mut r = Recorder::new(config(0));
    g.bench_function("record_matching_404", |b| {
        b.iter(|| {
            now += 1;
            let matched = r.record(now, black_box(&obs("203.0.113.7:5000", 404)));
            if r.pending_records() >= 1000 {
                black_box(r.take_delta());
            }
            black_box(matched)
        })
    });
    // Merging: one delta of 1000 records from 1000 actors, per record.
    let cfg = config(0);
    let many = peers(1000);
    let mut r = Recorder::new(Arc::clone(&cfg));
    for (i, p) in many.iter().enumerate() {
        r.record(T0 + i as u64, &obs(p, 404));
    }
    let delta = r.take_delta().expect("delta");
    g.throughput(Throughput::Elements(1000));
    let mut e = Engine::with_shared_config(cfg, 1);
    g.bench_function("apply_delta_1000_records", |b| {
        b.iter_batched(
            || delta.clone(),
            |d| black_box(e.apply_delta(T0, &d)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, observe, worker);
criterion_main!(benches);
