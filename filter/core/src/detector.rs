//! Counting: records in, detections out. Exact sliding windows per (actor[, API], rule),
//! cooldowns, blocks, samples.

use crate::actor::ActorKey;
use crate::blocklist::Blocklist;
use crate::config::{Action, Config, Per, Rule};
use crate::hash::{splitmix64, SeededState};
use crate::payload::{MaliciousEvent, SamplePayload};
use crate::record::Record;
use crate::table::{layout, Protection, RuleLayout, Slot, Table, WindowResult};
use crate::template::template;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

/// Stored times are u32 milliseconds after a base this far behind the first record, so
/// records slightly older than the first (other workers, replays) still count.
const BASE_SLACK_MS: u64 = 8 * 24 * 3600 * 1000;
/// Re-base once offsets pass this (u32 holds about 49.7 days).
const REBASE_AT_MS: u64 = 40 * 24 * 3600 * 1000;
/// Bound on the bytes of samples held across all actors; beyond it samples are skipped (counted).
pub const SAMPLE_BUDGET_BYTES: usize = 16 << 20;

/// One threshold crossing that passed its cooldown: an event for the webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub rule: usize,
    pub at_ms: u64,
    pub event: MaliciousEvent,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectorMetrics {
    pub records: u64,
    pub flagged: u64,
    pub events_raised: u64,
    pub events_suppressed: u64,
    pub blocks_added: u64,
    pub samples_skipped: u64,
}

struct Sample {
    ts_ms: u64,
    status: u16,
    orig: Arc<str>,
}

/// Rules that share a key shape, and their table.
struct Group<K> {
    rules: Vec<usize>,
    layouts: Vec<RuleLayout>,
    table: Table<K>,
    /// Per slot, the latest samples (only when samples are on).
    samples: Vec<VecDeque<Sample>>,
}

impl<K: Hash + Eq + Clone> Group<K> {
    fn new(cfg: &Config, per: Per, hasher: SeededState) -> Option<Self> {
        let rules: Vec<usize> = (0..cfg.rules.len())
            .filter(|&i| cfg.rules.get(i).is_some_and(|r| r.per == per))
            .collect();
        if rules.is_empty() {
            return None;
        }
        let thresholds: Vec<u32> = rules
            .iter()
            .filter_map(|&i| cfg.rules.get(i).map(|r| r.threshold))
            .collect();
        let (layouts, stride) = layout(&thresholds);
        let protections: Vec<Protection> = rules
            .iter()
            .zip(&layouts)
            .filter_map(|(&i, &rule)| {
                let r = cfg.rules.get(i)?;
                Some(Protection {
                    rule,
                    window_ms: u32::try_from(r.window_ms()).unwrap_or(u32::MAX),
                    cooldown_ms: u32::try_from(r.cooldown_ms()).unwrap_or(u32::MAX),
                })
            })
            .collect();
        Some(Group {
            rules,
            layouts,
            table: Table::new(hasher, stride, cfg.max_actors).with_protections(protections),
            samples: Vec::new(),
        })
    }
}

pub struct Detector {
    cfg: Arc<Config>,
    api_hasher: SeededState,
    per_actor: Option<Group<ActorKey>>,
    per_api: Option<Group<(ActorKey, u64)>>,
    pub blocks: Blocklist,
    base_ms: Option<u64>,
    instance: u64,
    event_seq: u64,
    sample_bytes: usize,
    results: Vec<(usize, RuleLayout, WindowResult)>,
    pub metrics: DetectorMetrics,
}

impl Detector {
    pub fn new(cfg: Arc<Config>, seed: u64) -> Self {
        let mut s = seed;
        let actor_hasher = SeededState::new(splitmix64(&mut s));
        let api_hasher = SeededState::new(splitmix64(&mut s));
        let instance = splitmix64(&mut s);
        Detector {
            per_actor: Group::new(&cfg, Per::Actor, actor_hasher),
            per_api: Group::new(&cfg, Per::ActorApi, actor_hasher),
            blocks: Blocklist::new(splitmix64(&mut s), cfg.max_actors),
            cfg,
            api_hasher,
            base_ms: None,
            instance,
            event_seq: 0,
            sample_bytes: 0,
            results: Vec::new(),
            metrics: DetectorMetrics::default(),
        }
    }

    /// Tracked keys: actors for per-actor rules plus (actor, API) pairs for per-API rules.
    pub fn tracked(&self) -> usize {
        self.per_actor.as_ref().map_or(0, |g| g.table.len())
            + self.per_api.as_ref().map_or(0, |g| g.table.len())
    }

    pub fn evictions(&self) -> u64 {
        self.per_actor.as_ref().map_or(0, |g| g.table.evictions)
            + self.per_api.as_ref().map_or(0, |g| g.table.evictions)
    }

    /// Counted responses of new actors left untracked: `max_actors` was full of actors in a
    /// cooldown (evicting one would let it alert again).
    pub fn untracked(&self) -> u64 {
        self.per_actor.as_ref().map_or(0, |g| g.table.refused)
            + self.per_api.as_ref().map_or(0, |g| g.table.refused)
    }

    /// Heap bytes of the counting state (tables, samples excluded), for measurements.
    pub fn heap_bytes(&self) -> usize {
        self.per_actor.as_ref().map_or(0, |g| g.table.heap_bytes())
            + self.per_api.as_ref().map_or(0, |g| g.table.heap_bytes())
    }

    pub fn sample_bytes(&self) -> usize {
        self.sample_bytes
    }

    /// The 32-bit offset of `ts_ms` (>= 1), re-basing every stored time when needed.
    fn offset(&mut self, ts_ms: u64) -> u32 {
        let base = *self
            .base_ms
            .get_or_insert(ts_ms.saturating_sub(BASE_SLACK_MS));
        if ts_ms < base {
            return 1;
        }
        if ts_ms - base > REBASE_AT_MS {
            let new_base = ts_ms - BASE_SLACK_MS;
            let shift = u32::try_from(new_base - base).unwrap_or(u32::MAX);
            if let Some(g) = &mut self.per_actor {
                g.table.rebase(&g.layouts, shift);
            }
            if let Some(g) = &mut self.per_api {
                g.table.rebase(&g.layouts, shift);
            }
            self.base_ms = Some(new_base);
            return (ts_ms - new_base + 1) as u32;
        }
        (ts_ms - base + 1) as u32
    }

    /// Counts one matched response; pushes any events it raises onto `out`. `make_sample`
    /// gives the response's sample document; it is called only when the response may be one
    /// of the latest `samples_per_event` before an event (its window count is within
    /// `samples_per_event` of a threshold), so most traffic never pays for a sample.
    pub fn apply(
        &mut self,
        rec: &Record,
        make_sample: &mut dyn FnMut() -> Option<String>,
        out: &mut Vec<Detection>,
    ) {
        self.metrics.records += 1;
        let t = self.offset(rec.ts_ms);
        let cfg = Arc::clone(&self.cfg);
        let mut sample: Option<Option<Arc<str>>> = None;
        let mut sample_once = || {
            sample
                .get_or_insert_with(|| make_sample().map(Into::into))
                .clone()
        };
        if let Some(mut g) = self.per_actor.take() {
            self.apply_group(
                &cfg,
                &mut g,
                &rec.actor,
                rec,
                t,
                None,
                &mut sample_once,
                out,
            );
            self.per_actor = Some(g);
        }
        if let Some(mut g) = self.per_api.take() {
            let api = template(rec.path);
            let api_hash = self.api_hasher.hash_one((rec.method, api.as_str()));
            let key = (rec.actor.clone(), api_hash);
            self.apply_group(
                &cfg,
                &mut g,
                &key,
                rec,
                t,
                Some(&api),
                &mut sample_once,
                out,
            );
            self.per_api = Some(g);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_group<K: Hash + Eq + Clone>(
        &mut self,
        cfg: &Config,
        g: &mut Group<K>,
        key: &K,
        rec: &Record,
        t: u32,
        api: Option<&str>,
        sample: &mut dyn FnMut() -> Option<Arc<str>>,
        out: &mut Vec<Detection>,
    ) {
        let counted = |i: &usize| {
            cfg.rules
                .get(*i)
                .is_some_and(|r| r.statuses.contains(rec.status))
        };
        if !g.rules.iter().any(counted) {
            return;
        }
        // `None`: `max_actors` is full of actors in a cooldown (counted by the table).
        let Some(up) = g.table.upsert(key, t) else {
            return;
        };
        let slot = up.slot;
        if up.new {
            self.clear_samples(g, slot);
        }
        let mut results = std::mem::take(&mut self.results);
        results.clear();
        let mut wants_sample = false;
        for (&rule_index, &lay) in g.rules.iter().zip(g.layouts.iter()) {
            let Some(rule) = cfg.rules.get(rule_index) else {
                continue;
            };
            if !rule.statuses.contains(rec.status) {
                continue;
            }
            let result = g.table.record(slot, lay, t, rule.window_ms() as u32);
            // A sample is useful if this response can be among the latest `samples_per_event`
            // of a window that ends in an event: near the threshold, and not so deep into a
            // cooldown that it leaves the window before the next event can be raised.
            let near_threshold =
                result.count as usize + cfg.samples_per_event > rule.threshold as usize;
            let last = u64::from(g.table.last_event(slot, lay));
            let expires_in_cooldown =
                last != 0 && u64::from(t) + rule.window_ms() <= last + rule.cooldown_ms();
            wants_sample |= near_threshold && !expires_in_cooldown;
            results.push((rule_index, lay, result));
        }
        if wants_sample && cfg.samples_per_event > 0 {
            if let Some(orig) = sample() {
                self.keep_sample(cfg, g, slot, rec, orig);
            }
        }
        for &(rule_index, lay, result) in &results {
            let Some(rule) = cfg.rules.get(rule_index) else {
                continue;
            };
            if !result.flagged {
                continue;
            }
            self.metrics.flagged += 1;
            if rule.action == Action::Block {
                self.blocks.insert(
                    &rec.actor,
                    rec.ts_ms.saturating_add(rule.block_ms()),
                    rule.block_status,
                );
                self.metrics.blocks_added += 1;
            }
            let last = g.table.last_event(slot, lay);
            let cooled =
                last == 0 || u64::from(t.saturating_sub(last)) >= rule.cooldown_ms() && t >= last;
            if !cooled {
                self.metrics.events_suppressed += 1;
                continue;
            }
            g.table.set_last_event(slot, lay, t);
            let samples = match g.samples.get(slot as usize) {
                Some(ring) => samples_for(rule, ring, rec.ts_ms),
                None => Vec::new(),
            };
            let event = self.event(rule, rec, api, samples, result.count);
            out.push(Detection {
                rule: rule_index,
                at_ms: rec.ts_ms,
                event,
            });
        }
        self.results = results;
    }

    fn clear_samples<K>(&mut self, g: &mut Group<K>, slot: Slot) {
        if let Some(ring) = g.samples.get_mut(slot as usize) {
            self.sample_bytes -= ring.iter().map(|s| s.orig.len()).sum::<usize>();
            ring.clear();
        }
    }

    fn keep_sample<K>(
        &mut self,
        cfg: &Config,
        g: &mut Group<K>,
        slot: Slot,
        rec: &Record,
        orig: Arc<str>,
    ) {
        let index = slot as usize;
        if g.samples.len() <= index {
            g.samples.resize_with(index + 1, VecDeque::new);
        }
        let Some(ring) = g.samples.get_mut(index) else {
            return;
        };
        if ring.len() >= cfg.samples_per_event {
            if let Some(old) = ring.pop_front() {
                self.sample_bytes -= old.orig.len();
            }
        }
        if self.sample_bytes + orig.len() > SAMPLE_BUDGET_BYTES {
            self.metrics.samples_skipped += 1;
            return;
        }
        self.sample_bytes += orig.len();
        ring.push_back(Sample {
            ts_ms: rec.ts_ms,
            status: rec.status,
            orig,
        });
    }

    fn event(
        &mut self,
        rule: &Rule,
        rec: &Record,
        api: Option<&str>,
        samples: Vec<SamplePayload>,
        count: u32,
    ) -> MaliciousEvent {
        self.metrics.events_raised += 1;
        self.event_seq += 1;
        MaliciousEvent {
            actor: self.cfg.actor.display(&rec.actor),
            api_collection_id: self.cfg.api_collection_id,
            country: rec.country_str().to_string(),
            event_type: "AGGREGATED".into(),
            filter_id: rule.id.clone(),
            ip: rec.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            method: rec.method.to_string(),
            sub_category: rule.sub_category.clone(),
            timestamp: (rec.ts_ms / 1000) as i64,
            kind: rule.kind.clone(),
            url: api.unwrap_or(rec.path).to_string(),
            malicious_payloads_responses: samples,
            severity: Some(rule.severity.clone()),
            host: (!rec.host.is_empty()).then(|| rec.host.to_string()),
            ref_id: Some(format!("{:016x}-{}", self.instance, self.event_seq)),
            count: Some(u64::from(count)),
        }
    }
}

/// The latest samples counted by `rule` within its window ending at `at_ms`, oldest first.
fn samples_for(rule: &Rule, ring: &VecDeque<Sample>, at_ms: u64) -> Vec<SamplePayload> {
    let lower = at_ms.saturating_sub(rule.window_ms());
    ring.iter()
        .filter(|s| rule.statuses.contains(s.status) && s.ts_ms > lower && s.ts_ms <= at_ms)
        .map(|s| SamplePayload {
            orig: s.orig.to_string(),
            ts: (s.ts_ms / 1000) as i64,
        })
        .collect()
}
