//! Fleet mode (Envoy): an aggregator's counted records, merged per actor, rule and 100 ms
//! bucket, go to Redis in batches (through the `actorwatch front`), and Redis decides for every
//! proxy at once which actors crossed a threshold, which one proxy raises the event, and who is
//! blocked. The local [`crate::Detector`] keeps counting beside it: while Redis answers, its
//! counting-rule events are held back; when Redis does not, they go out (fallback), and the
//! cooldowns they start are claimed in Redis once it answers again, so no event goes twice.
//! A claim stays queued until a batch carrying it is answered, whatever happens to the batches
//! around it, and goes to a successor aggregator with [`Fleet::export`] / [`Fleet::import`].
//! Sans-I/O like the rest of the core: the host sends [`FleetCall`]s and reports the answers.

use crate::base::hash::SeededState;
use crate::base::template::template;
use crate::count::detector::{counting_event, samples_for, Detection};
use crate::count::sample_store::Sample;
use crate::model::actor::ActorKey;
use crate::model::config::{Config, Per, Rule, FLEET_BUCKET_MS};
use crate::model::metrics::Metrics;
use crate::model::record::{OwnedRecord, Record};
use crate::protocol::fleet::{
    actor_hex, actor_of_hex, Batch, BatchActor, BatchRule, Flag, Reply, PROTOCOL,
};
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

mod batch;
mod handover;

pub use batch::FleetCall;

/// Actors in one batch at most: a POST stays a few hundred KiB; the rest waits for the next.
const MAX_ACTORS_PER_BATCH: usize = 5_000;
/// Actors whose last record is older than every window and cooldown are forgotten this often.
const PRUNE_EVERY_MS: u64 = 10_000;
/// What one known actor and one pending entry take beside their strings, for the budget.
const KNOWN_BYTES: usize = 160;
const ENTRY_BYTES: usize = 48;
/// Claims queued at most: one per event raised in fallback; beyond, the oldest is dropped and
/// counted (`fleet_claims_dropped`).
const MAX_CLAIMS: usize = MAX_ACTORS_PER_BATCH;
/// Mixed into the seed of the known actors' map, so that its hasher differs from the pending map's.
const KNOWN_SEED: u64 = 0x6b6e_6f77_6e00_0001;

/// A record that names only an actor: what an event shows of an actor whose requests this
/// proxy did not keep.
fn key_only_record(key: &ActorKey, ts_ms: u64) -> OwnedRecord {
    let ip = match key {
        ActorKey::V4(o) => Some(std::net::IpAddr::from(*o)),
        ActorKey::V6(o) => Some(std::net::IpAddr::from(*o)),
        _ => None,
    };
    OwnedRecord {
        ts_ms,
        status: 0,
        actor: key.clone(),
        ip,
        method: String::new().into(),
        path: String::new().into(),
        host: String::new().into(),
        country: None,
        sample_headers: None,
        threats: None,
    }
}

#[derive(Default)]
struct Pending {
    entries: Vec<(u32, Arc<str>, u64, u32)>,
}

/// The cooldown of an event this proxy raised in fallback, to be set in Redis: queued until a
/// batch carrying it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claim {
    actor: ActorKey,
    rule: u32,
    api: Arc<str>,
    /// On this proxy's clock (which a successor in the same process shares).
    until_ms: u64,
}

/// What this proxy knows of an actor: what its events are built from, and the fleet's
/// cooldowns (so that a proxy in fallback does not repeat an event Redis already raised).
struct Known {
    latest: OwnedRecord,
    /// The actor's latest samples, kept here because the local detector samples only near its
    /// own threshold, which fleet-wide counting may fire long before.
    samples: VecDeque<Sample>,
    /// (rule, API, until ms on this proxy's clock).
    cooldowns: Vec<(u32, Arc<str>, u64)>,
}

struct Inflight {
    seq: u64,
    body: Vec<u8>,
    actors: Vec<ActorKey>,
    counts: u64,
    oldest_ms: u64,
    /// The claims it carries: acknowledged when it is answered.
    claims: Vec<Claim>,
    /// Waiting for the answer (else: failed, to be retried).
    sent: bool,
}

pub(crate) struct Fleet {
    cfg: Arc<Config>,
    instance: String,
    next_seq: u64,
    rules: Vec<BatchRule>,
    /// Keyed by actors an attacker chooses: hashed with the host's seed (see `base::hash`).
    pending: HashMap<ActorKey, Pending, SeededState>,
    /// Counted responses (one per rule that counts it) waiting for the next batch.
    pending_counts: u64,
    pending_oldest_ms: u64,
    inflight: Option<Inflight>,
    /// Claims not yet acknowledged by an answered batch, oldest first.
    claims: VecDeque<Claim>,
    /// Changes when what [`Fleet::export`] writes changes (a claim, a new cooldown).
    handover_version: u64,
    known: HashMap<ActorKey, Known, SeededState>,
    fallback: bool,
    next_flush_ms: u64,
    blocks_since_ms: u64,
    last_prune_ms: u64,
    counts: Metrics,
    /// Fleet mode's own memory, one eighth of `max_memory_mb` on top of the engine's: a half
    /// for samples, a quarter for pending counts, the rest for the actors' latest records.
    budget_bytes: usize,
    /// The API of per-actor rules' entries, shared rather than allocated per record.
    no_api: Arc<str>,
    known_bytes: usize,
    sample_bytes: usize,
    pending_bytes: usize,
}

impl Fleet {
    /// `instance` must differ between aggregators and between runs of one (a random value).
    pub fn new(cfg: Arc<Config>, instance: u64) -> Self {
        let rules = cfg
            .rules
            .iter()
            .map(|r| BatchRule {
                id: r.id.clone(),
                window_ms: r.window_ms(),
                threshold: r.threshold,
                cooldown_ms: r.cooldown_ms(),
                block_ms: if r.action == crate::model::config::Action::Block {
                    r.block_ms()
                } else {
                    0
                },
                block_status: r.block_status,
            })
            .collect();
        Fleet {
            instance: format!("{instance:016x}"),
            next_seq: 1,
            rules,
            pending: HashMap::with_hasher(SeededState::new(instance)),
            pending_counts: 0,
            pending_oldest_ms: u64::MAX,
            inflight: None,
            claims: VecDeque::new(),
            handover_version: 0,
            known: HashMap::with_hasher(SeededState::new(instance ^ KNOWN_SEED)),
            fallback: false,
            next_flush_ms: 0,
            blocks_since_ms: 0,
            last_prune_ms: 0,
            counts: Metrics::default(),
            budget_bytes: cfg.max_memory_bytes() / 8,
            no_api: Arc::from(""),
            known_bytes: 0,
            sample_bytes: 0,
            pending_bytes: 0,
            cfg,
        }
    }

    /// Bytes fleet mode holds: known actors, samples, pending counts, the batch in flight.
    pub fn bytes(&self) -> usize {
        self.known_bytes
            + self.sample_bytes
            + self.pending_bytes
            + self.inflight.as_ref().map_or(0, |f| f.body.len())
    }

    /// Whether this proxy counts and delivers on its own now (Redis did not answer).
    pub fn in_fallback(&self) -> bool {
        self.fallback
    }

    fn api_of(&self, rule: &Rule, rec: &Record) -> Arc<str> {
        match rule.per {
            Per::Actor => Arc::clone(&self.no_api),
            Per::ActorApi => Arc::from(format!("{} {}", rec.method, template(rec.path))),
        }
    }

    /// Adds one record the local detector counted to the next batch.
    pub fn record(&mut self, rec: &Record) {
        let cfg = Arc::clone(&self.cfg);
        let bucket = rec.ts_ms / FLEET_BUCKET_MS;
        let mut added = false;
        for (index, rule) in cfg.rules.iter().enumerate() {
            if !rule.statuses.contains(rec.status) {
                continue;
            }
            let api = self.api_of(rule, rec);
            if self.pending_bytes > self.budget_bytes / 4 {
                // Redis out of reach for long under a flood: counted, never unbounded.
                self.counts.fleet_responses_dropped += 1;
                continue;
            }
            let pending = self.pending.entry(rec.actor.clone()).or_default();
            let index = index as u32;
            // Records arrive in time order: a matching entry is among the latest few.
            let found = pending
                .entries
                .iter_mut()
                .rev()
                .take(cfg.rules.len() * 2)
                .find(|(r, a, b, _)| *r == index && *b == bucket && **a == *api);
            match found {
                Some(entry) => entry.3 = entry.3.saturating_add(1),
                None => {
                    self.pending_bytes += ENTRY_BYTES + api.len();
                    pending.entries.push((index, api, bucket, 1));
                }
            }
            self.pending_counts += 1;
            added = true;
        }
        if !added {
            return;
        }
        self.pending_oldest_ms = self.pending_oldest_ms.min(rec.ts_ms);
        self.remember(rec);
    }

    /// Keeps what an event about this actor is built from: the latest record (without its
    /// headers) and samples, within the budget.
    fn remember(&mut self, rec: &Record) {
        let keep = self.cfg.samples_per_event;
        // What an event shows of the request, without the header and findings blocks.
        let latest = OwnedRecord {
            ts_ms: rec.ts_ms,
            status: rec.status,
            actor: rec.actor.clone(),
            ip: rec.ip,
            method: rec.method.into(),
            path: rec.path.into(),
            host: rec.host.into(),
            country: rec.country,
            sample_headers: None,
            threats: None,
        };
        let latest_bytes = KNOWN_BYTES + crate::base::memory::HeapSize::heap_bytes(&latest);
        if !self.known.contains_key(&rec.actor) {
            let full = self.known.len() >= self.cfg.max_actors
                || self.known_bytes + latest_bytes > self.budget_bytes / 4;
            if full {
                // An event for an actor not kept here is built from its key alone.
                return;
            }
            self.known_bytes += latest_bytes;
            self.known.insert(
                rec.actor.clone(),
                Known {
                    latest,
                    samples: VecDeque::new(),
                    cooldowns: Vec::new(),
                },
            );
        } else if let Some(known) = self.known.get_mut(&rec.actor) {
            let old = KNOWN_BYTES + crate::base::memory::HeapSize::heap_bytes(&known.latest);
            self.known_bytes = (self.known_bytes + latest_bytes).saturating_sub(old);
            known.latest = latest;
        }
        let Some(known) = self.known.get_mut(&rec.actor) else {
            return;
        };
        // A full ring takes at most one new sample per bucket: an attacker's flood costs one
        // sample document per actor per 100 ms, not one per response.
        let fresh = known.samples.len() >= keep
            && known
                .samples
                .back()
                .is_some_and(|s| s.ts_ms / FLEET_BUCKET_MS == rec.ts_ms / FLEET_BUCKET_MS);
        if keep == 0 || fresh {
            return;
        }
        let Some(orig) = rec.sample(&self.cfg) else {
            return;
        };
        if self.sample_bytes + orig.len() > self.budget_bytes / 2 {
            self.counts.samples_skipped += 1;
            return;
        }
        if known.samples.len() >= keep {
            if let Some(old) = known.samples.pop_front() {
                self.sample_bytes = self.sample_bytes.saturating_sub(old.orig.len());
            }
        }
        self.sample_bytes += orig.len();
        known.samples.push_back(Sample {
            ts_ms: rec.ts_ms,
            status: rec.status,
            orig: orig.into(),
        });
    }

    /// Sorts the local detector's events for `rec` (from `from` on in `out`): while Redis
    /// answers it decides, so counting-rule events are held back; in fallback they go, unless
    /// the fleet's cooldown for them still runs, and their cooldowns are claimed later.
    pub fn settle_local(&mut self, rec: &Record, out: &mut Vec<Detection>, from: usize) {
        let counting = self.cfg.rules.len();
        let mut i = from;
        while i < out.len() {
            let Some(d) = out.get(i) else { break };
            let Some(rule) = self.cfg.rules.get(d.rule).filter(|_| d.rule < counting) else {
                i += 1;
                continue;
            };
            let api = self.api_of(rule, rec);
            let index = d.rule as u32;
            let cooling = self.known.get(&rec.actor).is_some_and(|k| {
                k.cooldowns
                    .iter()
                    .any(|(r, a, until)| *r == index && **a == *api && *until > rec.ts_ms)
            });
            if !self.fallback || cooling {
                out.remove(i);
                self.counts.fleet_local_events_held += 1;
                continue;
            }
            let cooldown_ms = rule.cooldown_ms();
            if let Some(known) = self.known.get_mut(&rec.actor) {
                known.cooldowns.push((
                    index,
                    Arc::clone(&api),
                    rec.ts_ms.saturating_add(cooldown_ms),
                ));
            }
            if cooldown_ms > 0 {
                self.queue_claim(Claim {
                    actor: rec.actor.clone(),
                    rule: index,
                    api,
                    until_ms: rec.ts_ms.saturating_add(cooldown_ms),
                });
            }
            i += 1;
        }
    }

    fn queue_claim(&mut self, claim: Claim) {
        if self.claims.len() >= MAX_CLAIMS {
            self.claims.pop_front();
            self.counts.fleet_claims_dropped += 1;
        }
        self.claims.push_back(claim);
        self.handover_version += 1;
    }

    /// Forgets actors with nothing in any window or cooldown any more.
    fn prune(&mut self, now_ms: u64) {
        if now_ms < self.last_prune_ms.saturating_add(PRUNE_EVERY_MS) {
            return;
        }
        self.last_prune_ms = now_ms;
        let keep_ms =
            self.rules.iter().map(|r| r.window_ms).max().unwrap_or(0) + self.cfg.fleet.grace_ms;
        self.known.retain(|_, k| {
            k.cooldowns.retain(|(_, _, until)| *until > now_ms);
            !k.cooldowns.is_empty() || k.latest.ts_ms.saturating_add(keep_ms) > now_ms
        });
        self.known_bytes = self
            .known
            .values()
            .map(|k| KNOWN_BYTES + crate::base::memory::HeapSize::heap_bytes(&k.latest))
            .sum();
        self.sample_bytes = self
            .known
            .values()
            .flat_map(|k| k.samples.iter())
            .map(|s| s.orig.len())
            .sum();
    }

    pub fn metrics(&self) -> Metrics {
        let mut m = self.counts;
        m.fleet_fallback = u64::from(self.fallback);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_keys_travel_as_hex_and_back() {
        let keys = [
            ActorKey::V4([203, 0, 113, 9]),
            ActorKey::V6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            ActorKey::Digest {
                source: 1,
                hash: [7; 16],
            },
            ActorKey::Text {
                source: 0,
                value: "tenant-{a}".into(),
            },
        ];
        for key in keys {
            assert_eq!(actor_of_hex(&actor_hex(&key)), Some(key));
        }
        assert_eq!(actor_of_hex("04cb007109ff"), None, "trailing bytes");
        assert_eq!(actor_of_hex("x"), None);
    }
}
