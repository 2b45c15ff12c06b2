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
use crate::count::detector::{counting_event, Detection};
use crate::model::actor::ActorKey;
use crate::model::config::{Config, Per, Rule, FLEET_BUCKET_MS};
use crate::model::metrics::Metrics;
use crate::model::payload::SamplePayload;
use crate::model::record::{OwnedRecord, Record};
use crate::protocol::fleet::{
    actor_hex, actor_of_hex, Batch, BatchActor, BatchRule, Flag, Reply, PROTOCOL,
};
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

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

/// A batch to POST to the front: where, with which headers, and the body, like a webhook
/// [`crate::Delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetCall {
    pub seq: u64,
    /// `fleet.cluster`: the Envoy cluster of the front.
    pub cluster: String,
    pub authority: String,
    pub path: String,
    /// `content-type` and, when `fleet.hmac_secret` is set, `x-actorwatch-signature`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: u64,
}

impl FleetCall {
    fn new(cfg: &Config, seq: u64, body: Vec<u8>, now_ms: u64) -> Self {
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if let Some(secret) = &cfg.fleet.hmac_secret {
            let signature =
                crate::deliver::signature::sign(secret.as_bytes(), now_ms / 1000, &body);
            headers.push((
                crate::deliver::signature::SIGNATURE_HEADER.to_string(),
                signature,
            ));
        }
        FleetCall {
            seq,
            cluster: cfg.fleet.cluster.clone(),
            authority: cfg.fleet.authority.clone(),
            path: cfg.fleet.path.clone(),
            headers,
            body,
            timeout_ms: cfg.fleet.timeout_ms,
        }
    }
}

/// What an answer brought: events this proxy raises, and blocks for every actor named.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub detections: Vec<Detection>,
    pub blocks: Vec<(ActorKey, u64, u16)>,
}

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

/// What a successor aggregator takes over: queued claims and the fleet's cooldowns this proxy
/// knows of. JSON; actors in hex, rules by id, times on the proxy's clock.
#[derive(Default, Serialize, Deserialize)]
struct Handover {
    claims: Vec<HandedCooldown>,
    cooldowns: Vec<HandedCooldown>,
}

#[derive(Serialize, Deserialize)]
struct HandedCooldown {
    actor: String,
    rule: String,
    api: String,
    until_ms: u64,
}

/// What this proxy knows of an actor: what its events are built from, and the fleet's
/// cooldowns (so that a proxy in fallback does not repeat an event Redis already raised).
struct Known {
    latest: OwnedRecord,
    samples: VecDeque<(u64, u16, Arc<str>)>,
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
                .is_some_and(|(ts, _, _)| ts / FLEET_BUCKET_MS == rec.ts_ms / FLEET_BUCKET_MS);
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
            if let Some((_, _, old)) = known.samples.pop_front() {
                self.sample_bytes = self.sample_bytes.saturating_sub(old.len());
            }
        }
        self.sample_bytes += orig.len();
        known
            .samples
            .push_back((rec.ts_ms, rec.status, orig.into()));
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

    /// The batch to send now, if one is due: every `flush_ms`, one at a time; a batch that
    /// failed goes again under its sequence number until its records are past the grace period.
    /// A failed batch without counts is rebuilt instead: its claims go with their cooldown
    /// left as of now, and nothing can be counted twice.
    pub fn poll(&mut self, now_ms: u64) -> Option<FleetCall> {
        let cfg = Arc::clone(&self.cfg);
        let fleet = &cfg.fleet;
        if now_ms < self.next_flush_ms
            && now_ms.saturating_add(fleet.flush_ms) >= self.next_flush_ms
        {
            return None;
        }
        if self.inflight.as_ref().is_some_and(|f| f.sent) {
            return None;
        }
        self.next_flush_ms = now_ms.saturating_add(fleet.flush_ms);
        self.prune(now_ms);
        let grace_floor = now_ms.saturating_sub(fleet.grace_ms + FLEET_BUCKET_MS);
        if let Some(inflight) = &mut self.inflight {
            if inflight.counts > 0 && inflight.oldest_ms >= grace_floor {
                inflight.sent = true;
                let (seq, body) = (inflight.seq, inflight.body.clone());
                return Some(FleetCall::new(&cfg, seq, body, now_ms));
            }
            // Too late for Redis to count: given up, counted. Its claims stay queued.
            self.counts.fleet_responses_dropped += inflight.counts;
            self.inflight = None;
        }
        if self.pending_oldest_ms < grace_floor {
            self.drop_late_pending(grace_floor);
        }
        let (batch, actors, claims, counts, oldest_ms) = self.take_batch(now_ms);
        let body = serde_json::to_vec(&batch).ok()?;
        let seq = batch.seq;
        self.inflight = Some(Inflight {
            seq,
            body: body.clone(),
            actors,
            counts,
            oldest_ms,
            claims,
            sent: true,
        });
        Some(FleetCall::new(&cfg, seq, body, now_ms))
    }

    fn drop_late_pending(&mut self, floor_ms: u64) {
        let floor_bucket = floor_ms / FLEET_BUCKET_MS;
        let mut dropped = 0u64;
        let mut oldest = u64::MAX;
        for pending in self.pending.values_mut() {
            pending.entries.retain(|(_, _, bucket, count)| {
                let keep = *bucket >= floor_bucket;
                if keep {
                    oldest = oldest.min(bucket * FLEET_BUCKET_MS);
                } else {
                    dropped += u64::from(*count);
                }
                keep
            });
        }
        self.pending.retain(|_, p| !p.entries.is_empty());
        self.pending_bytes = self
            .pending
            .values()
            .flat_map(|p| p.entries.iter())
            .map(|e| ENTRY_BYTES + e.1.len())
            .sum();
        self.counts.fleet_responses_dropped += dropped;
        self.pending_counts = self.pending_counts.saturating_sub(dropped);
        self.pending_oldest_ms = oldest;
    }

    /// The next batch from what is pending and the claims queued: the batch, its actors' keys
    /// in order, the claims it carries, the counts it carries and its oldest record's time.
    fn take_batch(&mut self, now_ms: u64) -> (Batch, Vec<ActorKey>, Vec<Claim>, u64, u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut actors = Vec::new();
        let mut keys = Vec::new();
        // A full batch takes the actors whose counts are oldest, the nearest to arriving
        // later than the grace period; the rest wait for the next one.
        let mut taken: Vec<(u64, &ActorKey)> = self
            .pending
            .iter()
            .map(|(key, p)| (p.entries.iter().map(|e| e.2).min().unwrap_or(0), key))
            .collect();
        if taken.len() > MAX_ACTORS_PER_BATCH {
            taken.select_nth_unstable_by_key(MAX_ACTORS_PER_BATCH, |(oldest, _)| *oldest);
            taken.truncate(MAX_ACTORS_PER_BATCH);
        }
        let taken: Vec<ActorKey> = taken.into_iter().map(|(_, key)| key.clone()).collect();
        let mut oldest = u64::MAX;
        let mut counts = 0u64;
        for key in taken {
            let Some(p) = self.pending.remove(&key) else {
                continue;
            };
            for (_, api, bucket, count) in &p.entries {
                oldest = oldest.min(bucket * FLEET_BUCKET_MS);
                counts += u64::from(*count);
                self.pending_bytes = self.pending_bytes.saturating_sub(ENTRY_BYTES + api.len());
            }
            actors.push(BatchActor {
                key: actor_hex(&key),
                entries: p
                    .entries
                    .into_iter()
                    .map(|(r, a, b, c)| (r, a.to_string(), b, c))
                    .collect(),
                claims: Vec::new(),
            });
            keys.push(key);
        }
        let before = self.claims.len();
        self.claims.retain(|c| c.until_ms > now_ms);
        if self.claims.len() != before {
            self.handover_version += 1;
        }
        let mut carried = Vec::new();
        let mut slots: HashMap<ActorKey, usize, SeededState> =
            HashMap::with_hasher(*self.pending.hasher());
        if !self.claims.is_empty() {
            slots.extend(keys.iter().cloned().zip(0..));
        }
        for claim in &self.claims {
            let slot = match slots.get(&claim.actor) {
                Some(slot) => *slot,
                None if actors.len() < MAX_ACTORS_PER_BATCH => {
                    actors.push(BatchActor {
                        key: actor_hex(&claim.actor),
                        entries: Vec::new(),
                        claims: Vec::new(),
                    });
                    keys.push(claim.actor.clone());
                    slots.insert(claim.actor.clone(), actors.len() - 1);
                    actors.len() - 1
                }
                // The next batch takes it.
                None => continue,
            };
            if let Some(actor) = actors.get_mut(slot) {
                // Claims travel as the cooldown left: clocks of proxy and Redis may differ.
                actor
                    .claims
                    .push((claim.rule, claim.api.to_string(), claim.until_ms - now_ms));
                carried.push(claim.clone());
            }
        }
        self.pending_counts = self.pending_counts.saturating_sub(counts);
        if self.pending.is_empty() {
            self.pending_oldest_ms = u64::MAX;
        }
        let batch = Batch {
            v: PROTOCOL,
            instance: self.instance.clone(),
            seq,
            grace_ms: self.cfg.fleet.grace_ms,
            bucket_ms: FLEET_BUCKET_MS,
            blocks_since_ms: self.blocks_since_ms,
            rules: self.rules.clone(),
            actors,
        };
        (batch, keys, carried, counts, oldest)
    }

    /// The front's answer to batch `seq`: `status` 0 when there was none (refused, timed out).
    /// Anything but a readable 2xx answer puts the proxy in fallback; the batch is retried.
    pub fn answered(&mut self, now_ms: u64, seq: u64, status: u16, body: &[u8]) -> Answer {
        let mut answer = Answer::default();
        let Some(inflight) = self.inflight.as_mut().filter(|f| f.seq == seq) else {
            return answer;
        };
        inflight.sent = false;
        let reply = (200..300)
            .contains(&status)
            .then(|| serde_json::from_slice::<Reply>(body).ok())
            .flatten()
            .filter(|r| r.seq == seq && r.actors.len() == inflight.actors.len());
        let Some(reply) = reply else {
            self.counts.fleet_batch_failures += 1;
            if !self.fallback {
                self.fallback = true;
                self.counts.fleet_fallbacks += 1;
            }
            // Retry on the next flush, not at once.
            self.next_flush_ms = now_ms.saturating_add(self.cfg.fleet.flush_ms);
            return answer;
        };
        let Some(inflight) = self.inflight.take() else {
            return answer;
        };
        self.fallback = false;
        if !inflight.claims.is_empty() {
            self.claims.retain(|c| !inflight.claims.contains(c));
            self.counts.fleet_claims_sent += inflight.claims.len() as u64;
            self.handover_version += 1;
        }
        self.counts.fleet_batches += 1;
        self.counts.fleet_responses_sent += inflight.counts;
        self.blocks_since_ms = reply.blocks_now_ms.max(self.blocks_since_ms);
        for (key, actor) in inflight.actors.iter().zip(&reply.actors) {
            self.counts.fleet_responses_late += actor.late;
            if actor.block_until_ms > 0 {
                answer
                    .blocks
                    .push((key.clone(), actor.block_until_ms, actor.block_status));
            }
            for flag in &actor.flags {
                self.apply_flag(now_ms, key, flag, &mut answer.detections);
            }
        }
        for (hex, until_ms, status) in &reply.blocks {
            if let Some(key) = actor_of_hex(hex) {
                self.counts.fleet_blocks_received += 1;
                answer.blocks.push((key, *until_ms, *status));
            }
        }
        answer
    }

    fn apply_flag(&mut self, now_ms: u64, key: &ActorKey, flag: &Flag, out: &mut Vec<Detection>) {
        let cfg = Arc::clone(&self.cfg);
        let Some(rule) = cfg.rules.get(flag.rule as usize) else {
            return;
        };
        let Some(known) = self.known.get_mut(key) else {
            let claimed = self.claims.iter().any(|c| {
                c.actor == *key && c.rule == flag.rule && *c.api == *flag.api && c.until_ms > now_ms
            });
            if flag.fired && claimed {
                self.counts.fleet_events_suppressed += 1;
            } else if flag.fired {
                let event = self.event_of_key(&cfg, rule, key, flag);
                out.push(event);
            }
            return;
        };
        let api: Arc<str> = Arc::from(flag.api.as_str());
        known.cooldowns.retain(|(_, _, until)| *until > now_ms);
        // This proxy raised the event already (in fallback) or knows the fleet did: an answer
        // that fires it again (a batch Redis applied whose answer came too late, repeated to
        // the retry; a Redis restarted empty) raises nothing within that cooldown.
        let cooling = known
            .cooldowns
            .iter()
            .any(|(r, a, _)| *r == flag.rule && **a == *api);
        if flag.cooldown_left_ms > 0 {
            let until = now_ms.saturating_add(flag.cooldown_left_ms);
            match known
                .cooldowns
                .iter_mut()
                .find(|(r, a, _)| *r == flag.rule && **a == *api)
            {
                Some(c) => c.2 = c.2.max(until),
                None => {
                    known.cooldowns.push((flag.rule, api, until));
                    self.handover_version += 1;
                }
            }
        }
        if !flag.fired {
            return;
        }
        if cooling {
            self.counts.fleet_events_suppressed += 1;
            return;
        }
        let rec = known.latest.as_record();
        let at_ms = rec.ts_ms;
        let lower = at_ms.saturating_sub(rule.window_ms());
        let samples = known
            .samples
            .iter()
            .filter(|(ts, status, _)| rule.statuses.contains(*status) && *ts > lower)
            .map(|(ts, _, orig)| SamplePayload {
                orig: orig.to_string(),
                ts: i64::try_from(ts / 1000).unwrap_or(i64::MAX),
            })
            .collect();
        self.counts.events_raised += 1;
        self.counts.fleet_events += 1;
        let api = (rule.per == Per::ActorApi).then(|| template(rec.path));
        let ref_id = format!("{}-{}", self.instance, self.counts.fleet_events);
        let event = counting_event(
            &cfg,
            rule,
            &rec,
            api.as_deref(),
            samples,
            flag.count,
            ref_id,
        );
        out.push(Detection {
            rule: flag.rule as usize,
            at_ms,
            event,
        });
    }

    /// The event for an actor this proxy did not keep (its budget was full): what the key and
    /// the flag say, no request details.
    fn event_of_key(
        &mut self,
        cfg: &Config,
        rule: &Rule,
        key: &ActorKey,
        flag: &Flag,
    ) -> Detection {
        self.counts.events_raised += 1;
        self.counts.fleet_events += 1;
        let (method, url) = flag.api.split_once(' ').unwrap_or(("", ""));
        // What the key and the flag say stand in for the request the proxy did not keep.
        let key_only = key_only_record(key, flag.at_ms);
        let rec = Record {
            method,
            path: url,
            ..key_only.as_record()
        };
        let ref_id = format!("{}-{}", self.instance, self.counts.fleet_events);
        Detection {
            rule: flag.rule as usize,
            at_ms: flag.at_ms,
            event: counting_event(cfg, rule, &rec, None, Vec::new(), flag.count, ref_id),
        }
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
            .map(|(_, _, orig)| orig.len())
            .sum();
    }

    /// Changes whenever what [`Fleet::export`] writes changes.
    pub fn handover_version(&self) -> u64 {
        self.handover_version
    }

    /// What a successor aggregator needs so that no event goes twice: the claims not yet
    /// acknowledged and the fleet's cooldowns this proxy knows of.
    pub fn export(&self) -> Vec<u8> {
        let rule_id = |rule: u32| self.cfg.rules.get(rule as usize).map(|r| r.id.clone());
        let claims = self
            .claims
            .iter()
            .filter_map(|c| {
                Some(HandedCooldown {
                    actor: actor_hex(&c.actor),
                    rule: rule_id(c.rule)?,
                    api: c.api.to_string(),
                    until_ms: c.until_ms,
                })
            })
            .collect();
        let mut cooldowns: Vec<HandedCooldown> = self
            .known
            .iter()
            .flat_map(|(key, known)| {
                known
                    .cooldowns
                    .iter()
                    .filter_map(move |(rule, api, until)| {
                        Some(HandedCooldown {
                            actor: actor_hex(key),
                            rule: rule_id(*rule)?,
                            api: api.to_string(),
                            until_ms: *until,
                        })
                    })
            })
            .collect();
        cooldowns.sort_by(|a, b| (&a.actor, &a.rule, &a.api).cmp(&(&b.actor, &b.rule, &b.api)));
        serde_json::to_vec(&Handover { claims, cooldowns }).unwrap_or_default()
    }

    /// Takes over what a predecessor exported: its claims queue here (sent with the next
    /// batch), its cooldowns hold this proxy's fallback events back. Entries of rules this
    /// configuration no longer has, or already over, are left out. Returns the claims taken.
    pub fn import(&mut self, now_ms: u64, bytes: &[u8]) -> Result<usize, serde_json::Error> {
        let doc: Handover = serde_json::from_slice(bytes)?;
        let cfg = Arc::clone(&self.cfg);
        let resolve = |c: &HandedCooldown| {
            let rule = cfg.rules.iter().position(|r| r.id == c.rule)?;
            let actor = actor_of_hex(&c.actor)?;
            (c.until_ms > now_ms).then_some((actor, rule as u32, Arc::<str>::from(c.api.as_str())))
        };
        let mut taken = 0;
        for c in &doc.claims {
            if let Some((actor, rule, api)) = resolve(c) {
                self.queue_claim(Claim {
                    actor,
                    rule,
                    api,
                    until_ms: c.until_ms,
                });
                taken += 1;
            }
        }
        for c in &doc.cooldowns {
            let Some((actor, rule, api)) = resolve(c) else {
                continue;
            };
            if !self.known.contains_key(&actor) {
                if self.known.len() >= cfg.max_actors {
                    continue;
                }
                // Until the actor's next record, its event is built from the key alone.
                let latest = key_only_record(&actor, now_ms);
                self.known_bytes +=
                    KNOWN_BYTES + crate::base::memory::HeapSize::heap_bytes(&latest);
                self.known.insert(
                    actor.clone(),
                    Known {
                        latest,
                        samples: VecDeque::new(),
                        cooldowns: Vec::new(),
                    },
                );
            }
            if let Some(known) = self.known.get_mut(&actor) {
                known.cooldowns.push((rule, api, c.until_ms));
            }
        }
        self.handover_version += 1;
        Ok(taken)
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
