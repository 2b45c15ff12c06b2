//! `make bench` (fleet): P simulated Envoy aggregators POSTing their batches to `actorwatch
//! front`, as fleet mode does. Counted responses arrive at a fixed rate across the fleet, each
//! from an actor drawn uniformly over N (or mostly from a hot set); every proxy merges them per
//! actor and 100 ms bucket, and every flush sends one batch, one in flight at a time. Bounded by
//! --secs; prints one JSON object (batches, round trips, achieved rate, flags, errors).
//!
//! Usage: actorwatch-fleet-load --front ADDR [--proxies 10] [--actors 1000] [--rate 1000]
//!        [--secs 10] [--warm 0] [--hot ACTORS:SHARE]
//! --warm 62: figures count from 62 s on (windows full); --hot 100:0.9: 90% from 100 actors.
//! Batches are signed as proxies sign them when ACTORWATCH_FLEET_SECRET is set (as for the front).

use actorwatch_core::fleet::{actor_hex, Batch, BatchActor, BatchRule, Reply, PROTOCOL};
use actorwatch_core::signature::{sign, SIGNATURE_HEADER};
use actorwatch_core::ActorKey;
use actorwatch_e2e::Client;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

// The aggregator's defaults (fleet config and `filter/core/src/drive/fleet/`).
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
    warm: f64,
    hot: Option<(u32, f64)>,
    secret: Option<Vec<u8>>,
}

/// One proxy's figures (responses are counted responses; late: counted too late by Redis).
#[derive(Default)]
struct Tally {
    sent: u64,
    /// The first failed batch's error (failed: sent but not answered).
    error: Option<String>,
    rtt_us: Vec<u64>,
    /// Per fired flag: from the start of the bucket where the count crossed, to the answer.
    flag_age_ms: Vec<u64>,
    offered: u64,
    answered: u64,
    late: u64,
    dropped: u64,
    batch_actors: u64,
}

/// A batch actor's entries: (rule 0, API "", bucket, count).
type Entries = Vec<(u32, String, u64, u32)>;

fn total(entries: &Entries) -> u64 {
    entries.iter().map(|e| u64::from(e.3)).sum()
}

fn now_ms() -> u64 {
    UNIX_EPOCH.elapsed().map_or(0, |d| d.as_millis() as u64)
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

fn proxy(o: &Opts, index: u32, touched: &[AtomicU64], from: Instant, end: Instant) -> Tally {
    // Proxies' flush timers are not aligned: spread them over the interval. (bench/fleet.py
    // measures proxies that all start at the same instant.)
    let phase_ms = FLUSH_MS * u64::from(index) / u64::from(o.proxies);
    std::thread::sleep(Duration::from_millis(phase_ms));
    let (mut t, mut warm) = (Tally::default(), Some(from));
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
    let (per_ms, mut carry) = (o.rate / f64::from(o.proxies) / 1000.0, 0.0);
    // Per actor, counts per bucket, merged as the aggregator merges its records.
    let mut pending: HashMap<u32, Entries> = HashMap::new();
    let mut client = Client::new(o.front);
    let (mut seq, mut blocks_since_ms, mut gen_ms) = (0u64, 0u64, now_ms());
    loop {
        if warm.take_if(|from| Instant::now() >= *from).is_some() {
            t = Tally::default();
        }
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
                    Some(e) if e.2 == bucket => e.3 += 1,
                    _ => entries.push((0, String::new(), bucket, 1)),
                }
            }
            t.offered += n;
            gen_ms = seg_end;
        }
        if Instant::now() >= end {
            return t;
        }
        // What is past the grace period is dropped before it is sent, as the aggregator does.
        let floor = now.saturating_sub(GRACE_MS + BUCKET_MS) / BUCKET_MS;
        for entries in pending.values_mut() {
            entries.retain(|e| {
                let keep = e.2 >= floor;
                t.dropped += if keep { 0 } else { u64::from(e.3) };
                keep
            });
        }
        pending.retain(|_, e| !e.is_empty());
        let taken: Vec<u32> = pending.keys().take(MAX_ACTORS_PER_BATCH).copied().collect();
        let (mut counts, mut actors) = (0u64, Vec::with_capacity(taken.len()));
        for a in taken {
            let entries = pending.remove(&a).unwrap_or_default();
            counts += total(&entries);
            touched[a as usize / 64].fetch_or(1 << (a % 64), Ordering::Relaxed);
            // Actors are IPv4 addresses from 10.0.0.0 on, keyed as the filter keys them.
            let key = actor_hex(&ActorKey::V4((0x0a00_0000 + a).to_be_bytes()));
            let claims = Vec::new();
            actors.push(BatchActor {
                key,
                entries,
                claims,
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
        let sig = o.secret.as_ref().map(|k| sign(k, now / 1000, &body));
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(sig.as_deref().map(|v| (SIGNATURE_HEADER, v)));
        let started = Instant::now();
        let answer = client.request("POST", "/v1/batch", &headers, &body);
        let rtt = started.elapsed();
        let reply = match answer {
            Ok((200, text)) => serde_json::from_slice::<Reply>(&text).map_err(|e| e.to_string()),
            Ok((status, text)) => Err(format!("{status}: {}", String::from_utf8_lossy(&text))),
            Err(e) => Err(e),
        };
        let fits = |r: &Reply| r.seq == seq && r.actors.len() == batch.actors.len();
        match reply.and_then(|r| fits(&r).then_some(r).ok_or("answer does not match".into())) {
            Ok(r) => {
                let at = now_ms();
                t.rtt_us.push(rtt.as_micros() as u64);
                blocks_since_ms = r.blocks_now_ms.max(blocks_since_ms);
                let late: u64 = r.actors.iter().map(|a| a.late).sum();
                t.late += late;
                t.answered += counts.saturating_sub(late);
                let flags = r.actors.iter().filter(|a| !a.dup).flat_map(|a| &a.flags);
                for f in flags.filter(|f| f.fired) {
                    t.flag_age_ms.push(at.saturating_sub(f.at_ms));
                }
            }
            // Not retried: the responses it carried are lost and the error is reported.
            Err(e) => t.error = t.error.take().or(Some(e)),
        }
        // The aggregator's timer: the next flush one interval after this one started.
        let due = (started + Duration::from_millis(FLUSH_MS)).min(end);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
}

fn quantile(sorted: &[u64], q: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied().unwrap_or(0)
}

fn value<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("bad {flag} {text}"))
}

fn parse() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        front: SocketAddr::from(([127, 0, 0, 1], 8080)),
        proxies: 10,
        actors: 1000,
        rate: 1000.0,
        secs: 10.0,
        warm: 0.0,
        hot: None,
        secret: std::env::var("ACTORWATCH_FLEET_SECRET")
            .ok()
            .map(String::into_bytes),
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
            "--warm" => o.warm = value(flag, v)?,
            "--hot" => {
                let (n, share) = v
                    .split_once(':')
                    .ok_or(format!("--hot {v}: ACTORS:SHARE"))?;
                o.hot = Some((value(flag, n)?, value(flag, share)?));
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let ok = o.proxies > 0 && o.actors > 0 && o.rate >= 0.0 && o.secs + o.warm <= 3600.0;
    ok.then_some(o).ok_or_else(|| "out of range".into())
}

fn main() {
    let o = parse().unwrap_or_else(|e| {
        eprintln!("actorwatch-fleet-load: {e}\nusage: actorwatch-fleet-load --front ADDR [--proxies P] [--actors N] [--rate R] [--secs S] [--warm S] [--hot ACTORS:SHARE]");
        std::process::exit(2);
    });
    let touched: Vec<AtomicU64> = (0..o.actors / 64 + 1).map(|_| AtomicU64::new(0)).collect();
    let started = Instant::now() + Duration::from_secs_f64(o.warm);
    let end = started + Duration::from_secs_f64(o.secs);
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let (o, touched) = (&o, &touched);
        let handles: Vec<_> = (0..o.proxies)
            .map(|i| s.spawn(move || proxy(o, i, touched, started, end)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let sum = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    let sorted = |f: fn(&Tally) -> &Vec<u64>| {
        let mut all: Vec<u64> = tallies.iter().flat_map(f).copied().collect();
        all.sort_unstable();
        all
    };
    let (rtt_us, flag_age_ms) = (sorted(|t| &t.rtt_us), sorted(|t| &t.flag_age_ms));
    let bits = |w: &AtomicU64| u64::from(w.load(Ordering::Relaxed).count_ones());
    let ms = |us: u64| us as f64 / 1000.0;
    let out = json!({
        "proxies": o.proxies, "actors": o.actors, "offered_rate": o.rate, "secs": secs, "warm": o.warm,
        "hot": o.hot.map(|(n, s)| json!({"actors": n, "share": s})),
        "batches_sent": sum(|t| t.sent), "batches_answered": rtt_us.len(),
        "errors": sum(|t| t.sent) - rtt_us.len() as u64,
        "error_samples": tallies.iter().filter_map(|t| t.error.clone()).take(3).collect::<Vec<_>>(),
        "rtt_ms": {"p50": ms(quantile(&rtt_us, 0.5)), "p99": ms(quantile(&rtt_us, 0.99)),
                   "max": ms(rtt_us.last().copied().unwrap_or(0))},
        "responses_offered": sum(|t| t.offered), "responses_answered": sum(|t| t.answered),
        "responses_late": sum(|t| t.late), "responses_dropped": sum(|t| t.dropped),
        "achieved_rate": sum(|t| t.answered) as f64 / secs.max(1e-9),
        "actors_per_batch": sum(|t| t.batch_actors) as f64 / sum(|t| t.sent).max(1) as f64,
        "actors_touched": touched.iter().map(bits).sum::<u64>(),
        "fired": flag_age_ms.len(),
        "fired_flag_age_ms": {"p50": quantile(&flag_age_ms, 0.5),
                              "p99": quantile(&flag_age_ms, 0.99)},
    });
    println!("{out}");
}
