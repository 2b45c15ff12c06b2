//! Counting: records in, detections out. Exact sliding windows per (actor[, API], rule),
//! cooldowns, blocks and samples, within the memory budget, on a host clock that is never
//! trusted to move forward.

use crate::base::clock::{Base, Clock, TIME_FLOOR_MS};
use crate::base::hash::{splitmix64, SeededState};
use crate::base::memory::{HeapSize, Shares};
use crate::base::template::template;
use crate::base::wire::WireError;
use crate::count::blocklist::Blocklist;
use crate::count::sample_store::{Sample, SampleStore};
use crate::count::table::{layout, Now, Protection, RuleLayout, Slot, Table};
use crate::count::window::WindowResult;
use crate::model::actor::ActorKey;
use crate::model::config::{Action, Config, Per, Recording, Rule};
use crate::model::metrics::Metrics;
use crate::model::observation::Observation;
use crate::model::payload::{MaliciousEvent, SamplePayload};
use crate::model::record::Record;
use crate::model::record::{prepare, record_of};
use crate::model::sample::sample_json;
use crate::protocol::delta::merge_delta;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

mod events;
mod group;
mod state;
mod success;
mod threats;

pub(crate) use events::{counting_event, samples_for};
use group::{quiet_until, Group};

/// One threshold crossing that passed its cooldown: an event for the webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub rule: usize,
    pub at_ms: u64,
    pub event: MaliciousEvent,
}

/// What [`Detector::observe`] made of one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// No rule counts its status.
    NotMatched,
    /// Counted, but no actor source yielded a value.
    Unattributed,
    /// Counted for this actor.
    Counted(ActorKey),
}

pub struct Detector {
    cfg: Arc<Config>,
    recording: Recording,
    api_hasher: SeededState,
    per_actor: Option<Group<ActorKey>>,
    per_api: Option<Group<(ActorKey, u64)>>,
    blocks: Blocklist,
    /// Actors deep enough into rules' cooldowns that their next responses those rules count can
    /// neither raise an event nor be one of its samples: until then, hosts may record such
    /// responses with their time, status and actor alone. Each entry's `status` is the mask of
    /// those rules (bit = rule index, see [`crate::model::config::quiet_covers`]).
    quiet: Blocklist,
    /// Whether responses may be recorded that way: only actor-wide counting rules, no rule that
    /// reads every request's path, counts kept here rather than in Redis.
    quiet_eligible: bool,
    clock: Clock,
    window_base: Base,
    cooldown_base: Base,
    instance: u64,
    event_seq: u64,
    results: Vec<(usize, RuleLayout, WindowResult)>,
    /// Cooldowns, aggregation and enumeration of the threat rules, if any are configured.
    threats: Option<crate::count::tracker::Tracker>,
    /// The `ParamEnumeration` rule's index among the threat rules: every request is recorded
    /// then, not only counted statuses.
    enumeration: Option<usize>,
    /// What this detector counts itself (the tables' tallies are added in [`Detector::metrics`]).
    counts: Metrics,
    /// Actors flagged by rules with `success_statuses`, until the end of their watch.
    watching: hashbrown::HashMap<success::WatchKey, u64, SeededState>,
    /// The statuses any rule watches for.
    success: crate::base::status::StatusSet,
}

impl Detector {
    pub fn new(cfg: Arc<Config>, seed: u64) -> Self {
        let mut s = seed;
        let actor_hasher = SeededState::new(splitmix64(&mut s));
        let api_hasher = SeededState::new(splitmix64(&mut s));
        let instance = splitmix64(&mut s);
        let shares = Shares::of(cfg.max_memory_bytes());
        let per_api_rules = cfg.rules.iter().any(|r| r.per == Per::ActorApi);
        let per_actor_rules = cfg.rules.iter().any(|r| r.per == Per::Actor);
        let threat_rules = !cfg.threat_rules.is_empty();
        let groups =
            usize::from(per_api_rules) + usize::from(per_actor_rules) + usize::from(threat_rules);
        let (tables, samples) = (
            shares.tables / groups.max(1),
            shares.samples / groups.max(1),
        );
        let recording_success = cfg.success_statuses();
        let enumeration = cfg
            .threat_rules
            .iter()
            .position(|r| r.id == crate::model::threat::ThreatId::ParamEnumeration);
        let quiet_eligible = per_actor_rules
            && !per_api_rules
            && enumeration.is_none()
            && !cfg.records_every_request()
            && cfg.success_statuses().is_empty()
            && !cfg.fleet.is_redis();
        // The quiet list takes a quarter of the blocklist's share when it can be used.
        let quiet_bytes = if quiet_eligible {
            shares.blocklist / 4
        } else {
            0
        };
        Detector {
            per_actor: Group::new(&cfg, Per::Actor, actor_hasher, tables, samples),
            per_api: Group::new(&cfg, Per::ActorApi, actor_hasher, tables, samples),
            blocks: Blocklist::new(
                splitmix64(&mut s),
                cfg.max_actors,
                shares.blocklist - quiet_bytes,
            ),
            quiet: Blocklist::new(splitmix64(&mut s), cfg.max_actors, quiet_bytes),
            quiet_eligible,
            threats: threat_rules.then(|| {
                crate::count::tracker::Tracker::new(SeededState::new(splitmix64(&mut s)), tables)
            }),
            enumeration,
            recording: cfg.recording(),
            cfg,
            api_hasher,
            clock: Clock::default(),
            window_base: Base::default(),
            cooldown_base: Base::default(),
            instance,
            event_seq: 0,
            results: Vec::new(),
            counts: Metrics::default(),
            success: recording_success,
            watching: hashbrown::HashMap::with_hasher(SeededState::new(splitmix64(&mut s))),
        }
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// Actors blocked, as workers read them.
    pub fn blocklist(&self) -> &Blocklist {
        &self.blocks
    }

    /// Actors whose responses workers may record from their source alone (its
    /// entries hold the mask of the rules they cover).
    pub fn quiet_list(&self) -> &Blocklist {
        &self.quiet
    }

    /// Blocks `key` until `until_ms` with `status` (a block decided elsewhere: Redis, a hub).
    pub fn block(&mut self, key: &ActorKey, until_ms: u64, status: u16) {
        self.blocks.insert(key, until_ms, status);
    }

    /// Forgets blocks and quiet entries that ended by `now_ms`.
    pub fn prune_lists(&mut self, now_ms: u64) {
        self.blocks.prune(now_ms);
        self.quiet.prune(now_ms);
        self.prune_watches(now_ms);
    }

    /// Which responses are recorded; those it does not want cost this lookup and
    /// [`Detector::count_unmatched`].
    #[inline]
    pub fn recording(&self) -> Recording {
        self.recording
    }

    /// Counts a response no rule counts (after [`Detector::counts_status`] said so).
    #[inline]
    pub fn count_unmatched(&mut self) {
        self.counts.responses += 1;
    }

    /// Counts one response as a host observed it; pushes any events it raises onto `out`.
    /// Responses no rule counts cost one bitmap lookup.
    pub fn observe(
        &mut self,
        now_ms: u64,
        obs: &Observation,
        out: &mut Vec<Detection>,
    ) -> Observed {
        self.counts.responses += 1;
        let findings = obs.threats.is_some_and(|t| !t.is_empty());
        let counted = self.recording.counts_status(obs.status);
        if !self.recording.wants(obs.status, findings) {
            return Observed::NotMatched;
        }
        self.counts.matched += u64::from(counted);
        self.observe_clock(now_ms);
        let Some(prepared) = prepare(&self.cfg, obs, false) else {
            self.counts.unattributed += 1;
            return Observed::Unattributed;
        };
        let record = record_of(now_ms, obs, &prepared);
        let cfg = Arc::clone(&self.cfg);
        let mut make_sample = || Some(sample_json(&cfg, now_ms, obs, prepared.resolved.ip));
        self.apply(&record, &mut make_sample, out);
        Observed::Counted(record.actor)
    }

    /// Merges a worker's delta (see [`crate::protocol::delta`]): its records are counted exactly as if
    /// observed here, at once; events go onto `out`.
    pub fn apply_delta(
        &mut self,
        now_ms: u64,
        delta: &[u8],
        out: &mut Vec<Detection>,
    ) -> Result<(), WireError> {
        self.observe_clock(now_ms);
        let cfg = Arc::clone(&self.cfg);
        let mut counts = std::mem::take(&mut self.counts);
        let matched = self.recording.matched();
        let result = merge_delta(delta, matched, &mut counts, |r| {
            self.apply(&r, &mut || r.sample(&cfg), out)
        });
        self.counts.add(&counts);
        result
    }

    /// Everything this detector counted, with its gauges (keys tracked, blocks, bytes).
    pub fn metrics(&self) -> Metrics {
        let mut m = self.counts;
        m.actors_tracked = self.tracked() as u64;
        m.actors_evicted += self.evictions();
        m.untracked_responses += self.per_actor.as_ref().map_or(0, |g| g.table.refused)
            + self.per_api.as_ref().map_or(0, |g| g.table.refused);
        m.samples_skipped += self.samples_skipped();
        m.blocks_active = self.blocks.len() as u64;
        m.memory_bytes += self.bytes() as u64;
        m.memory_budget_bytes = self.cfg.max_memory_bytes() as u64;
        m.threat_keys_evicted += self.threats.as_ref().map_or(0, |t| t.evicted);
        m
    }

    /// Tracked keys: actors for per-actor rules plus (actor, API) pairs for per-API rules.
    pub fn tracked(&self) -> usize {
        self.per_actor.as_ref().map_or(0, |g| g.table.len())
            + self.per_api.as_ref().map_or(0, |g| g.table.len())
            + self.threats.as_ref().map_or(0, |t| t.len())
    }

    pub fn evictions(&self) -> u64 {
        self.per_actor.as_ref().map_or(0, |g| g.table.evictions)
            + self.per_api.as_ref().map_or(0, |g| g.table.evictions)
    }

    pub fn samples_skipped(&self) -> u64 {
        self.per_actor.as_ref().map_or(0, |g| g.samples.skipped)
            + self.per_api.as_ref().map_or(0, |g| g.samples.skipped)
    }

    /// Bytes of the counting tables (keys, windows, cooldowns).
    pub fn table_bytes(&self) -> usize {
        self.per_actor.as_ref().map_or(0, |g| g.table.bytes())
            + self.per_api.as_ref().map_or(0, |g| g.table.bytes())
    }

    /// Bytes of everything the detector holds: tables, samples, blocklist.
    pub fn bytes(&self) -> usize {
        self.table_bytes()
            + self.per_actor.as_ref().map_or(0, |g| g.samples.bytes())
            + self.per_api.as_ref().map_or(0, |g| g.samples.bytes())
            + self.blocks.bytes()
            + self.quiet.bytes()
            + self.threats.as_ref().map_or(0, |t| t.bytes())
            + self.watch_bytes()
    }

    /// Takes note of the host's clock (every call into the engine passes it): after a step back
    /// every window starts afresh (cooldowns stay; see [`crate::base::clock`]).
    pub fn observe_clock(&mut self, now_ms: u64) {
        if !self.clock.observe(now_ms) {
            return;
        }
        self.counts.clock_steps += 1;
        if let Some(g) = &mut self.per_actor {
            g.table.clear_windows();
            g.samples.clear_all();
        }
        if let Some(g) = &mut self.per_api {
            g.table.clear_windows();
            g.samples.clear_all();
        }
    }

    /// The offsets of `ts_ms` (a record's time, at or after [`TIME_FLOOR_MS`]) for windows and
    /// cooldowns, moving stored times when a base moves.
    fn now(&mut self, ts_ms: u64) -> Now {
        self.observe_clock(ts_ms);
        let window = self.window_base.offset(ts_ms, true);
        let cooldown = self.cooldown_base.offset(ts_ms, false);
        if let Some(g) = &mut self.per_actor {
            g.shift_down(window.shift_down, cooldown.shift_down);
        }
        if let Some(g) = &mut self.per_api {
            g.shift_down(window.shift_down, cooldown.shift_down);
        }
        Now {
            window: window.value,
            cooldown: cooldown.value,
        }
    }

    /// Counts one matched response; pushes any events it raises onto `out`. `make_sample`
    /// gives the response's sample document; it is called only when the response may be one
    /// of the latest `samples_per_event` before an event (its window count is within
    /// `samples_per_event` of a threshold), so most traffic never pays for a sample.
    ///
    /// Its steps (`apply_group`, `raise`, `apply_threats` and its parts) are `#[inline(never)]`:
    /// inlined here they made one function of 17 KB, and V8 keeps compile memory that grows with
    /// the largest functions.
    pub(crate) fn apply(
        &mut self,
        rec: &Record,
        make_sample: &mut dyn FnMut() -> Option<String>,
        out: &mut Vec<Detection>,
    ) {
        if rec.ts_ms < TIME_FLOOR_MS {
            self.counts.untracked_responses += 1;
            return;
        }
        let now = self.now(rec.ts_ms);
        let cfg = Arc::clone(&self.cfg);
        let mut sample: Option<Option<Arc<str>>> = None;
        let mut sample_once = || {
            sample
                .get_or_insert_with(|| make_sample().map(Into::into))
                .clone()
        };
        if !self.watching.is_empty() && self.success.contains(rec.status) {
            self.apply_success(&cfg, rec, &mut sample_once, out);
        }
        if let Some(mut g) = self.per_actor.take() {
            self.apply_group(
                &cfg,
                &mut g,
                &rec.actor,
                rec,
                now,
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
                now,
                Some(&api),
                &mut sample_once,
                out,
            );
            self.per_api = Some(g);
        }
        if self.threats.is_some() {
            self.apply_threats(rec, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)] // See `apply`.
    fn apply_group<K: Hash + Eq + Clone + HeapSize>(
        &mut self,
        cfg: &Config,
        g: &mut Group<K>,
        key: &K,
        rec: &Record,
        now: Now,
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
        // `None`: the table cannot take a new key now (counted by the table).
        let Some(up) = g.table.upsert(key, now) else {
            return;
        };
        let slot = up.slot;
        if up.new {
            g.samples.clear(slot);
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
            let window_ms = u32::try_from(rule.window_ms()).unwrap_or(u32::MAX);
            let result = g.table.record(slot, lay, now, window_ms);
            // A sample is useful if this response can be among the latest `samples_per_event`
            // of a window that ends in an event: near the threshold, and not so deep into a
            // cooldown that it leaves the window before the next event can be raised.
            let near_threshold =
                result.count as usize + cfg.samples_per_event > rule.threshold as usize;
            let last = u64::from(g.table.last_event(slot, lay));
            let expires_in_cooldown = last != 0
                && u64::from(now.cooldown).saturating_add(rule.window_ms())
                    <= last.saturating_add(rule.cooldown_ms());
            wants_sample |= near_threshold && !expires_in_cooldown;
            results.push((rule_index, lay, result));
        }
        if wants_sample && cfg.samples_per_event > 0 {
            if let Some(orig) = sample() {
                g.samples.keep(
                    slot,
                    cfg.samples_per_event,
                    Sample {
                        ts_ms: rec.ts_ms,
                        status: rec.status,
                        orig,
                    },
                );
            }
        }
        let raised = self.raise(cfg, g, slot, rec, now, api, &results, out);
        self.results = results;
        if raised && self.quiet_eligible {
            if let Some((until_ms, rules)) = quiet_until(cfg, g, slot, now, rec.ts_ms) {
                self.quiet.insert(&rec.actor, until_ms, rules);
            }
        }
    }

    fn event(
        &mut self,
        rule: &Rule,
        rec: &Record,
        api: Option<&str>,
        samples: Vec<SamplePayload>,
        count: u32,
    ) -> MaliciousEvent {
        self.counts.events_raised += 1;
        self.event_seq += 1;
        let ref_id = format!("{:016x}-{}", self.instance, self.event_seq);
        counting_event(&self.cfg, rule, rec, api, samples, u64::from(count), ref_id)
    }
}
