//! `make bench` (fleet): P simulated Envoy aggregators POSTing their batches to `actorwatch
//! front`, as fleet mode does. Counted responses arrive at a fixed rate across the fleet, each
//! from an actor drawn uniformly over N (or mostly from a hot set); every proxy merges them per
//! actor and 100 ms bucket, and every flush sends one batch, one in flight at a time. Bounded by
//! --secs; prints one JSON object (batches, round trips, achieved rate, flags, errors).
//!
//! Usage: actorwatch-fleet-load --front ADDR [--proxies 10] [--actors 1000] [--rate 1000]
//!        [--secs 10] [--hot ACTORS:SHARE]   (e.g. --hot 100:0.9: 90% of responses from 100)

use actorwatch_core::fleet::{actor_hex, Batch, BatchActor, BatchRule, Reply, PROTOCOL};
use actorwatch_core::ActorKey;
use actorwatch_e2e::Client;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// The aggregator's defaults (fleet config and `filter/core/src/fleet.rs`).
const FLUSH_MS: u64 = 100;
const BUCKET_MS: u64 = 100;
const GRACE_MS: u64 = 2000;
const MAX_ACTORS_PER_BATCH: usize = 5_000;

struct Opts {
    front: SocketAddr,
    proxies: u32,
    actors: u32,
    rate: f64,
    secs: f64,
    hot: Option<(u32, f64)>,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    answered: u64,
    errors: u64,
    error_samples: Vec<String>,
    rtt_us: Vec<u64>,
    /// Time from the start of the bucket where a fired flag's count crossed, to its answer.
    flag_age_ms: Vec<u64>,
    offered: u64,
    answered_responses: u64,
    late: u64,
    dropped: u64,
    unsent: u64,
    fired: u64,
    batch_actors: u64,
    body_bytes: u64,
    touched: Vec<u64>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// splitmix64: enough randomness for picking actors, without a dependency.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn pick(o: &Opts, rng: &mut u64) -> u32 {
    let r = next(rng);
    match o.hot {
        Some((n, share)) if ((r >> 11) as f64 / (1u64 << 53) as f64) < share => {
            (next(rng) % u64::from(n.max(1))) as u32
        }
        _ => (next(rng) % u64::from(o.actors)) as u32,
    }
}

fn proxy(o: &Opts, index: u32, end: Instant) -> Tally {
    let mut t = Tally {
        touched: vec![0; o.actors as usize / 64 + 1],
        ..Tally::default()
    };
    // A unique instance per aggregator run, as the filter draws one.
    let mut rng = (now_ms() << 20) ^ (u64::from(index) << 8) ^ u64::from(std::process::id());
    let instance = format!("{:016x}", next(&mut rng));
    let rules = vec![BatchRule {
        id: "BENCH_4XX".into(),
        window_ms: 60_000,
        threshold: 50,
        cooldown_ms: 600_000,
        block_ms: 0,
        block_status: 0,
    }];
    let per_ms = o.rate / f64::from(o.proxies) / 1000.0;
    let mut carry = 0.0;
    // actor -> (bucket, count), merged as the aggregator merges its records.
    let mut pending: HashMap<u32, Vec<(u64, u32)>> = HashMap::new();
    let mut client = Client::new(o.front);
    let (mut seq, mut blocks_since_ms, mut gen_ms) = (0u64, 0u64, now_ms());
    loop {
        // The responses this proxy counted since the last flush, bucket by bucket.
        let now = now_ms();
        while gen_ms < now {
            let bucket = gen_ms / BUCKET_MS;
            let seg_end = ((bucket + 1) * BUCKET_MS).min(now);
            carry += per_ms * (seg_end - gen_ms) as f64;
            let n = carry as u64;
            carry -= n as f64;
            for _ in 0..n {
                let actor = pick(o, &mut rng);
                let entries = pending.entry(actor).or_default();
                match entries.last_mut() {
                    Some(e) if e.0 == bucket => e.1 += 1,
                    _ => entries.push((bucket, 1)),
                }
            }
            t.offered += n;
            gen_ms = seg_end;
        }
        if Instant::now() >= end {
            t.unsent += pending.values().flatten().map(|e| u64::from(e.1)).sum::<u64>();
            return t;
        }
        // What is past the grace period is dropped before it is sent, as the aggregator does.
        let floor = now.saturating_sub(GRACE_MS + BUCKET_MS) / BUCKET_MS;
        for entries in pending.values_mut() {
            entries.retain(|e| {
                let keep = e.0 >= floor;
                t.dropped += if keep { 0 } else { u64::from(e.1) };
                keep
            });
        }
        pending.retain(|_, e| !e.is_empty());
        let taken: Vec<u32> = pending.keys().take(MAX_ACTORS_PER_BATCH).copied().collect();
        let mut counts = 0u64;
        let mut actors = Vec::with_capacity(taken.len());
        for a in taken {
            let entries = pending.remove(&a).unwrap_or_default();
            counts += entries.iter().map(|e| u64::from(e.1)).sum::<u64>();
            t.touched[a as usize / 64] |= 1 << (a % 64);
            actors.push(BatchActor {
                key: actor_hex(&ActorKey::V4((0x0a00_0000 + a).to_be_bytes())),
                entries: entries.iter().map(|e| (0, String::new(), e.0, e.1)).collect(),
                claims: Vec::new(),
            });
        }
        seq += 1;
        let batch = Batch {
            v: PROTOCOL,
            instance: instance.clone(),
            seq,
            grace_ms: GRACE_MS,
            bucket_ms: BUCKET_MS,
            blocks_since_ms,
            rules: rules.clone(),
            actors,
        };
        let body = serde_json::to_vec(&batch).unwrap_or_default();
        t.sent += 1;
        t.batch_actors += batch.actors.len() as u64;
        t.body_bytes += body.len() as u64;
        let started = Instant::now();
        let answer = client.request(
            "POST",
            "/v1/batch",
            &[("content-type", "application/json")],
            &body,
        );
        let rtt = started.elapsed();
        let reply = match answer {
            Ok((200, text)) => serde_json::from_slice::<Reply>(&text)
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    let ok = r.seq == seq && r.actors.len() == batch.actors.len();
                    ok.then_some(r).ok_or_else(|| "answer does not match".into())
                }),
            Ok((status, text)) => Err(format!("{status}: {}", String::from_utf8_lossy(&text))),
            Err(e) => Err(e),
        };
        match reply {
            Ok(r) => {
                let at = now_ms();
                t.answered += 1;
                t.rtt_us.push(rtt.as_micros() as u64);
                blocks_since_ms = r.blocks_now_ms.max(blocks_since_ms);
                let late: u64 = r.actors.iter().map(|a| a.late).sum();
                t.late += late;
                t.answered_responses += counts.saturating_sub(late);
                for f in r.actors.iter().filter(|a| !a.dup).flat_map(|a| &a.flags) {
                    if f.fired {
                        t.fired += 1;
                        t.flag_age_ms.push(at.saturating_sub(f.at_ms));
                    }
                }
            }
            // Not retried: the responses it carried are lost and the error is reported.
            Err(e) => {
                t.errors += 1;
                if t.error_samples.len() < 3 {
                    t.error_samples.push(e);
                }
            }
        }
        // The aggregator's timer: the next flush one interval after this one started.
        let due = started + Duration::from_millis(FLUSH_MS);
        let wait = due.saturating_duration_since(Instant::now());
        std::thread::sleep(wait.min(end.saturating_duration_since(Instant::now())));
    }
}

fn quantile(sorted: &[u64], q: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied().unwrap_or(0)
}

fn value<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{flag} {text}: not understood"))
}

fn parse() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        front: SocketAddr::from(([127, 0, 0, 1], 8080)),
        proxies: 10,
        actors: 1000,
        rate: 1000.0,
        secs: 10.0,
        hot: None,
    };
    for pair in args.chunks(2) {
        let [flag, v] = pair else {
            return Err(format!("{} needs a value", pair[0]));
        };
        match flag.as_str() {
            "--front" => o.front = value(flag, v)?,
            "--proxies" => o.proxies = value(flag, v)?,
            "--actors" => o.actors = value(flag, v)?,
            "--rate" => o.rate = value(flag, v)?,
            "--secs" => o.secs = value(flag, v)?,
            "--hot" => {
                let (n, share) = v.split_once(':').ok_or(format!("--hot {v}: ACTORS:SHARE"))?;
                o.hot = Some((value(flag, n)?, value(flag, share)?));
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let ok = o.proxies > 0 && o.actors > 0 && o.rate >= 0.0 && (0.0..=3600.0).contains(&o.secs);
    ok.then_some(o).ok_or_else(|| "out of range".into())
}

fn main() {
    let o = parse().unwrap_or_else(|e| {
        eprintln!("actorwatch-fleet-load: {e}\nusage: actorwatch-fleet-load --front ADDR [--proxies P] [--actors N] [--rate R] [--secs S] [--hot ACTORS:SHARE]");
        std::process::exit(2);
    });
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(o.secs);
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let o = &o;
        let handles: Vec<_> = (0..o.proxies)
            .map(|i| s.spawn(move || proxy(o, i, end)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let mut all = Tally::default();
    let mut touched = vec![0u64; o.actors as usize / 64 + 1];
    for t in tallies {
        all.sent += t.sent;
        all.answered += t.answered;
        all.errors += t.errors;
        all.error_samples.extend(t.error_samples);
        all.rtt_us.extend(t.rtt_us);
        all.flag_age_ms.extend(t.flag_age_ms);
        all.offered += t.offered;
        all.answered_responses += t.answered_responses;
        all.late += t.late;
        all.dropped += t.dropped;
        all.unsent += t.unsent;
        all.fired += t.fired;
        all.batch_actors += t.batch_actors;
        all.body_bytes += t.body_bytes;
        touched.iter_mut().zip(&t.touched).for_each(|(a, b)| *a |= b);
    }
    all.rtt_us.sort_unstable();
    all.flag_age_ms.sort_unstable();
    let ms = |us: u64| us as f64 / 1000.0;
    let out = json!({
        "proxies": o.proxies, "actors": o.actors, "offered_rate": o.rate, "secs": secs,
        "hot": o.hot.map(|(n, s)| json!({"actors": n, "share": s})),
        "batches_sent": all.sent, "batches_answered": all.answered, "errors": all.errors,
        "error_samples": all.error_samples,
        "rtt_ms": {"p50": ms(quantile(&all.rtt_us, 0.5)), "p99": ms(quantile(&all.rtt_us, 0.99)),
                   "max": ms(all.rtt_us.last().copied().unwrap_or(0))},
        "responses_offered": all.offered, "responses_answered": all.answered_responses,
        "responses_late": all.late, "responses_dropped": all.dropped,
        "responses_unsent": all.unsent,
        "achieved_rate": all.answered_responses as f64 / secs.max(1e-9),
        "actors_per_batch": all.batch_actors as f64 / (all.sent.max(1)) as f64,
        "actors_touched": touched.iter().map(|w| u64::from(w.count_ones())).sum::<u64>(),
        "body_bytes": all.body_bytes,
        "fired": all.fired,
        "fired_flag_age_ms": {"p50": quantile(&all.flag_age_ms, 0.5),
                              "p99": quantile(&all.flag_age_ms, 0.99)},
    });
    println!("{out}");
}
