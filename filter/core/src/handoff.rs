//! Events and counters a counting object hands to the one that delivers, held until
//! acknowledged. A host that counts in many objects and delivers from one (the Worker's counter
//! shards and hub, Durable Objects that can go away at any moment) keeps a [`Sender`] where it
//! counts and a [`Receiver`] where it delivers. Sans-I/O: the host passes the time, carries each
//! [`Message`] and reports whether it was taken, writes what is due to be saved, and sets its
//! alarm to [`Sender::next_wakeup`] / [`Receiver::next_wakeup`].
//!
//! - A sender counts with its [`Detector`] and applies a delta whose id it has seen lately once.
//!   It holds the events it raised until a message carrying them is acknowledged, bounded like
//!   an outbox (`queue_capacity`, the outbox's share of `max_memory_mb`: the oldest make room,
//!   counted in `events_dropped`), and after a failed message waits out the webhook's backoff.
//!   Once a message failed, storage should hold its events too ([`Sender::poll_persist`]) until
//!   one is acknowledged. Its counting state is due to be saved [`SAVE_AFTER_MS`] after it first
//!   changed ([`Sender::poll_save`]); its counters go with every message, alone once saved.
//! - A receiver queues each event once (by `refId`: held, or among the last [`REMEMBERED_IDS`]
//!   delivered) in its [`Outbox`], merges the senders' blocklists, and keeps each sender's
//!   latest [`Report`].

use crate::blocklist::Blocklist;
use crate::config::Config;
use crate::detector::{Detection, Detector};
use crate::hash::splitmix64;
use crate::hex;
use crate::memory::{Budget, HeapSize, Shares};
use crate::metrics::Metrics;
use crate::outbox::{retry_delay_ms, Delivery, Outbox};
use crate::payload::MaliciousEvent;
use crate::wire::WireError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// The counting state is due to be saved this long after it first changes: one batch of
/// writes, not one per delta.
pub const SAVE_AFTER_MS: u64 = 1_000;
/// Ids a side remembers: delta ids a sender applied, `refId`s a receiver delivered.
pub const REMEMBERED_IDS: usize = 4_096;
/// Expired blocks are forgotten at most this often.
const PRUNE_EVERY_MS: u64 = 1_000;

/// An event on its way from a sender to the receiver, and in their storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub rule: usize,
    pub event: MaliciousEvent,
}

impl Event {
    fn ref_id(&self) -> &str {
        self.event.ref_id.as_deref().unwrap_or_default()
    }
}

/// One sender's counters at one moment. Reports can arrive out of order: the receiver keeps the
/// latest by `(at_ms, seq)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub at_ms: u64,
    pub seq: u64,
    #[serde(rename = "counters")]
    pub metrics: Metrics,
}

impl Report {
    pub fn is_newer_than(&self, other: &Report) -> bool {
        (self.at_ms, self.seq) > (other.at_ms, other.seq)
    }
}

/// What a sender hands to the receiver: every event not yet acknowledged, its blocklist when it
/// changed since the last acknowledged message, and its counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Message {
    /// The sender's name: the receiver keeps one report per name.
    pub from: String,
    pub events: Vec<Event>,
    /// [`Blocklist::encode`], hex.
    pub blocks: Option<String>,
    pub report: Option<Report>,
}

/// What one message carried, for [`Sender::acknowledged`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    ref_ids: BTreeSet<String>,
    generation: u64,
    version: u64,
}

impl Receipt {
    /// Events the message carried.
    pub fn events(&self) -> usize {
        self.ref_ids.len()
    }
}

/// The counting state to write, due [`SAVE_AFTER_MS`] after it first changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Save {
    /// [`Detector::export_state`].
    pub state: Vec<u8>,
    /// The sender's counters with this save counted (gauges 0): saved with the state, given
    /// back to [`Sender::restore`].
    pub totals: Metrics,
    since_ms: u64,
}

/// What storage should do with the held events ([`Sender::poll_persist`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Persist {
    /// Write these bytes (JSON, a list of [`Event`]s) in place of what it holds.
    Write { version: u64, bytes: Vec<u8> },
    /// Hold none any more.
    Delete,
}

/// What became of a delta ([`Sender::apply_delta`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Counted; it raised this many events.
    Counted(usize),
    /// Its id was applied lately (sent again after a lost answer): nothing done.
    Repeated,
    /// Malformed from some record on: the records before it counted (and raised this many
    /// events), the rest did not; counted in `deltas_rejected`.
    Malformed(WireError, usize),
}

/// Ids seen lately, the oldest forgotten first.
#[derive(Debug, Clone, Default)]
struct Recent {
    order: VecDeque<String>,
    set: BTreeSet<String>,
}

impl Recent {
    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    /// Remembers `id`; false if it was remembered already.
    fn insert(&mut self, id: &str) -> bool {
        if !self.set.insert(id.to_string()) {
            return false;
        }
        self.order.push_back(id.to_string());
        while self.order.len() > REMEMBERED_IDS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// Bytes an event costs while a sender holds it.
fn held_bytes(e: &Event) -> usize {
    size_of::<Event>() + e.event.heap_bytes()
}

/// The counting side: a [`Detector`], the events it raised that the receiver has not
/// acknowledged, and what is due: a message, a save, a write of the held events.
pub struct Sender {
    detector: Detector,
    held: VecDeque<Event>,
    capacity: usize,
    budget: Budget,
    /// Events were raised since the last message.
    fresh: bool,
    /// Bumped whenever `held` changes.
    held_version: u64,
    /// The `held_version` storage holds (`None`: none).
    persisted: Option<u64>,
    /// A message failed since the last acknowledged one: storage should hold the events.
    persist: bool,
    /// Totals of earlier detectors (a restored object, an earlier configuration), events
    /// dropped from `held`, saves.
    counts: Metrics,
    /// When the counting state first changed after the last save.
    dirty_since: Option<u64>,
    /// Bumped whenever the counters change; the receiver has them up to `reported_version`.
    version: u64,
    reported_version: u64,
    report_seq: u64,
    published_generation: u64,
    /// Failed messages in a row, and when the next may go.
    failures: u32,
    retry_at: u64,
    rng: u64,
    deltas: Recent,
    last_prune_ms: u64,
}

impl Sender {
    /// `seed` from the host's randomness: it keys the detector and the retry jitter.
    pub fn new(cfg: Arc<Config>, seed: u64) -> Self {
        let mut rng = seed ^ 0x5E4D_E75E;
        let detector = Detector::new(Arc::clone(&cfg), splitmix64(&mut rng));
        Sender {
            detector,
            held: VecDeque::new(),
            capacity: cfg.webhook.queue_capacity,
            budget: Budget::new(Shares::of(cfg.max_memory_bytes()).outbox),
            fresh: false,
            held_version: 0,
            persisted: None,
            persist: false,
            counts: Metrics::default(),
            dirty_since: None,
            version: 0,
            reported_version: 0,
            report_seq: 0,
            published_generation: 0,
            failures: 0,
            retry_at: 0,
            rng,
            deltas: Recent::default(),
            last_prune_ms: 0,
        }
    }

    pub fn config(&self) -> &Arc<Config> {
        self.detector.config()
    }

    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Restores what a predecessor saved ([`Save`]): its counting state and its totals. A
    /// snapshot of other rules is refused (counting starts afresh); the totals count anyway.
    pub fn restore(&mut self, state: &[u8], totals: &Metrics) -> Result<usize, WireError> {
        self.counts.add(&totals.counters());
        self.detector.import_state(state)
    }

    /// Takes back the events a predecessor had in storage ([`Persist::Write`]): they go with the
    /// next message, at once, and storage keeps them until one is acknowledged (bytes that are
    /// not such a list are deleted).
    pub fn restore_held(&mut self, now_ms: u64, bytes: &[u8]) -> Result<usize, serde_json::Error> {
        // As text: the Worker's code holds one JSON reader, not one per input type.
        let text = std::str::from_utf8(bytes).unwrap_or_default();
        let restored = serde_json::from_str::<Vec<Event>>(text).map(|events| {
            let n = events.len();
            events.into_iter().for_each(|e| self.hold(e));
            n
        });
        self.failures = self.failures.max(1);
        self.retry_at = now_ms;
        self.persist = true;
        self.persisted = Some(self.held_version);
        restored
    }

    /// Counts on under a new configuration: the counting state carries over (refused if the
    /// rules changed), as do the totals and the held events (within the new bounds).
    pub fn reconfigure(&mut self, cfg: Arc<Config>, now_ms: u64) -> Result<usize, WireError> {
        let mut detector = Detector::new(Arc::clone(&cfg), splitmix64(&mut self.rng));
        let restored = detector.import_state(&self.detector.export_state(now_ms));
        let old = std::mem::replace(&mut self.detector, detector);
        self.counts.add(&old.metrics().counters());
        self.capacity = cfg.webhook.queue_capacity;
        self.budget = Budget::new(Shares::of(cfg.max_memory_bytes()).outbox);
        for e in std::mem::take(&mut self.held) {
            self.hold(e);
        }
        // The new detector's blocks are published afresh.
        self.published_generation = 0;
        self.changed(now_ms);
        restored
    }

    /// Counts a delta, once per `id` (a delta sent again after a lost answer carries the same).
    pub fn apply_delta(&mut self, now_ms: u64, id: Option<&str>, delta: &[u8]) -> Applied {
        if let Some(id) = id {
            if !self.deltas.insert(id) {
                return Applied::Repeated;
            }
        }
        let mut raised: Vec<Detection> = Vec::new();
        let result = self.detector.apply_delta(now_ms, delta, &mut raised);
        let n = raised.len();
        self.fresh |= n > 0;
        for d in raised {
            self.hold(Event {
                rule: d.rule,
                event: d.event,
            });
        }
        if now_ms >= self.last_prune_ms.saturating_add(PRUNE_EVERY_MS)
            || now_ms < self.last_prune_ms
        {
            self.detector.blocks.prune(now_ms);
            self.last_prune_ms = now_ms;
        }
        self.changed(now_ms);
        match result {
            Ok(()) => Applied::Counted(n),
            Err(e) => Applied::Malformed(e, n),
        }
    }

    /// Keeps an event for the receiver; when full, the oldest make room (counted).
    fn hold(&mut self, e: Event) {
        let bytes = held_bytes(&e);
        while !self.held.is_empty()
            && (self.held.len() >= self.capacity || !self.budget.fits(bytes))
        {
            if let Some(old) = self.held.pop_front() {
                self.budget.release(held_bytes(&old));
            }
            self.counts.events_dropped += 1;
        }
        if bytes > self.budget.limit {
            self.counts.events_dropped += 1;
        } else {
            self.held.push_back(e);
            self.budget.charge(bytes);
        }
        self.held_version += 1;
    }

    fn changed(&mut self, now_ms: u64) {
        self.version += 1;
        self.dirty_since.get_or_insert(now_ms);
    }

    fn blocks_unpublished(&self) -> bool {
        self.detector.blocks.generation() != self.published_generation
    }

    /// Something the receiver has not acknowledged: events, blocks or counters.
    fn owes(&self) -> bool {
        !self.held.is_empty() || self.blocks_unpublished() || self.version != self.reported_version
    }

    /// The next message, if one is due: new events or blocks at once; after a failure, what is
    /// owed once the backoff allows; the counters alone once the state was saved since they
    /// changed. The host sends it, then reports [`Sender::acknowledged`] or
    /// [`Sender::failed`] with the receipt.
    pub fn poll_message(&mut self, now_ms: u64, from: &str) -> Option<(Message, Receipt)> {
        if self.failures > 0 && now_ms < self.retry_at {
            return None;
        }
        let due = self.fresh
            || self.blocks_unpublished()
            || (self.failures > 0 && self.owes())
            || (self.dirty_since.is_none() && self.version != self.reported_version);
        if !due {
            return None;
        }
        self.fresh = false;
        self.report_seq += 1;
        let generation = self.detector.blocks.generation();
        let blocks = (generation != self.published_generation)
            .then(|| hex::encode(&self.detector.blocks.encode(now_ms)));
        let mut ref_ids = BTreeSet::new();
        for e in &self.held {
            ref_ids.insert(e.ref_id().to_string());
        }
        let receipt = Receipt {
            ref_ids,
            generation,
            version: self.version,
        };
        let message = Message {
            from: from.to_string(),
            events: self.held.iter().cloned().collect(),
            blocks,
            report: Some(Report {
                at_ms: now_ms,
                seq: self.report_seq,
                metrics: self.metrics(),
            }),
        };
        Some((message, receipt))
    }

    /// The receiver took the message: its events are no longer held here.
    pub fn acknowledged(&mut self, receipt: &Receipt) {
        let before = self.held.len();
        self.held.retain(|e| !receipt.ref_ids.contains(e.ref_id()));
        if self.held.len() != before {
            self.budget.used = self.held.iter().map(held_bytes).sum();
            self.held_version += 1;
        }
        self.published_generation = receipt.generation;
        self.reported_version = self.reported_version.max(receipt.version);
        self.failures = 0;
        self.persist = false;
    }

    /// The message did not reach the receiver, or its answer did not come back: everything it
    /// carried is held and goes again after the backoff; storage should hold the events.
    pub fn failed(&mut self, now_ms: u64) {
        self.failures = self.failures.saturating_add(1);
        self.retry_at =
            now_ms.saturating_add(retry_delay_ms(self.failures, splitmix64(&mut self.rng)));
        self.persist = true;
    }

    /// Failed messages in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the next message may go after a failure.
    pub fn retry_at(&self) -> u64 {
        self.retry_at
    }

    /// The counting state to write, if it changed [`SAVE_AFTER_MS`] ago or more. The host
    /// writes it and reports [`Sender::saved`].
    pub fn poll_save(&mut self, now_ms: u64) -> Option<Save> {
        let since_ms = self.dirty_since?;
        if since_ms.saturating_add(SAVE_AFTER_MS) > now_ms {
            return None;
        }
        self.dirty_since = None;
        let mut totals = self.metrics().counters();
        totals.state_saves += 1;
        Some(Save {
            state: self.detector.export_state(now_ms),
            totals,
            since_ms,
        })
    }

    /// The outcome of writing `save`: counted, or due again (from when the state first changed).
    pub fn saved(&mut self, save: &Save, ok: bool) {
        if ok {
            self.counts.state_saves += 1;
            self.version += 1;
        } else {
            self.dirty_since = Some(
                self.dirty_since
                    .map_or(save.since_ms, |t| t.min(save.since_ms)),
            );
        }
    }

    /// What storage should do with the held events now, if anything: hold them once a message
    /// failed, until one is acknowledged. The host does it and reports [`Sender::persisted`].
    pub fn poll_persist(&self) -> Option<Persist> {
        let wanted = self.persist && !self.held.is_empty();
        if wanted && self.persisted != Some(self.held_version) {
            let bytes = serde_json::to_vec(&self.held).unwrap_or_default();
            return Some(Persist::Write {
                version: self.held_version,
                bytes,
            });
        }
        (!wanted && self.persisted.is_some()).then_some(Persist::Delete)
    }

    /// Storage did what [`Sender::poll_persist`] asked.
    pub fn persisted(&mut self, done: &Persist) {
        self.persisted = match done {
            Persist::Write { version, .. } => Some(*version),
            Persist::Delete => None,
        };
    }

    /// When the host should call again (absolute ms): the save, the next retry.
    pub fn next_wakeup(&self) -> Option<u64> {
        let save = self.dirty_since.map(|t| t.saturating_add(SAVE_AFTER_MS));
        let retry = (self.failures > 0 && self.owes()).then_some(self.retry_at);
        match (save, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Everything this sender counted, with its predecessors' totals, the events dropped from
    /// what it holds, its saves, and whether its state changed since the last one
    /// (`state_unsaved`, 0 or 1). `events_queued` stays the receiver's: held events are copies
    /// on their way.
    pub fn metrics(&self) -> Metrics {
        let mut m = self.detector.metrics();
        m.add(&self.counts);
        m.state_unsaved = u64::from(self.dirty_since.is_some());
        m.memory_bytes += self.budget.used as u64;
        m
    }
}

/// The delivering side: an [`Outbox`] fed by the senders' events (each once), the blocklist
/// their blocks merge into, and each sender's latest report.
pub struct Receiver {
    cfg: Arc<Config>,
    outbox: Outbox,
    blocks: Blocklist,
    /// refIds of the events taken and not delivered (queued, in flight, or dropped until the
    /// outbox is empty): storage holds them.
    held: BTreeSet<String>,
    delivered: Recent,
    reports: BTreeMap<String, Report>,
    /// Totals of earlier receivers (a restored object, an earlier configuration).
    counts: Metrics,
    /// The totals last saved.
    saved: Metrics,
    rng: u64,
    last_prune_ms: u64,
}

impl Receiver {
    pub fn new(cfg: Arc<Config>, seed: u64) -> Self {
        let mut rng = seed ^ 0x4EC_E17E;
        let shares = Shares::of(cfg.max_memory_bytes());
        Receiver {
            blocks: Blocklist::new(splitmix64(&mut rng), cfg.max_actors, shares.blocklist),
            outbox: Outbox::new(Arc::clone(&cfg), splitmix64(&mut rng), shares.outbox),
            cfg,
            held: BTreeSet::new(),
            delivered: Recent::default(),
            reports: BTreeMap::new(),
            counts: Metrics::default(),
            saved: Metrics::default(),
            rng,
            last_prune_ms: 0,
        }
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// Takes over from a receiver of an earlier configuration: its totals, the refIds it
    /// delivered lately and the senders' reports. Its events are the host's to queue again
    /// (from storage); senders publish their blocks again after their own change.
    pub fn take_over(&mut self, old: Receiver) {
        self.counts.add(&old.metrics().counters());
        self.saved = self.counts;
        self.delivered = old.delivered;
        self.reports = old.reports;
    }

    /// Restores the totals a predecessor saved ([`Receiver::totals_to_save`]).
    pub fn restore_totals(&mut self, totals: &Metrics) {
        self.counts.add(&totals.counters());
        self.saved = self.counts;
    }

    /// The events of a message not held here or delivered lately, each once: the host stores
    /// them, then passes them to [`Receiver::queue`].
    pub fn unknown(&self, events: Vec<Event>) -> Vec<Event> {
        let mut seen = BTreeSet::new();
        events
            .into_iter()
            .filter(|e| {
                let id = e.ref_id();
                !self.held.contains(id)
                    && !self.delivered.contains(id)
                    && seen.insert(id.to_string())
            })
            .collect()
    }

    /// Queues events for delivery (stored by the host), each refId once; returns how many.
    pub fn queue(&mut self, now_ms: u64, events: Vec<Event>) -> usize {
        let mut n = 0;
        for e in events {
            if !self.delivered.contains(e.ref_id()) && self.held.insert(e.ref_id().to_string()) {
                self.outbox.push(now_ms, e.rule, e.event);
                n += 1;
            }
        }
        n
    }

    /// Keeps `report` as `from`'s if it is newer than the one kept; returns whether it was
    /// (the host stores it).
    pub fn keep_report(&mut self, from: &str, report: Report) -> bool {
        if self
            .reports
            .get(from)
            .is_some_and(|old| !report.is_newer_than(old))
        {
            return false;
        }
        self.reports.insert(from.to_string(), report);
        true
    }

    /// Merges a sender's blocklist ([`Message::blocks`]); a malformed one is ignored.
    pub fn merge_blocks(&mut self, encoded: &str) {
        let Some(list) = hex::decode(encoded)
            .and_then(|b| Blocklist::decode(&b, splitmix64(&mut self.rng)).ok())
        else {
            return;
        };
        for (key, block) in list.iter() {
            self.blocks.insert(key, block.until_ms, block.status);
        }
    }

    /// Every sender's blocks merged.
    pub fn blocklist(&self) -> &Blocklist {
        &self.blocks
    }

    /// The next webhook POST to send, if one is due. Call until it returns `None`.
    pub fn poll_delivery(&mut self, now_ms: u64) -> Option<Delivery> {
        if now_ms >= self.last_prune_ms.saturating_add(PRUNE_EVERY_MS)
            || now_ms < self.last_prune_ms
        {
            self.blocks.prune(now_ms);
            self.last_prune_ms = now_ms;
        }
        self.outbox.poll(now_ms)
    }

    /// The receiver's HTTP status for `delivery` (2xx succeeds; 0 for no answer): delivered
    /// events are remembered by refId, so that a sender's resend is not delivered again. The
    /// host deletes them from storage.
    pub fn delivery_status(&mut self, delivery: &Delivery, status: u16, now_ms: u64) {
        let ok = (200..300).contains(&status);
        self.outbox.report(delivery.token, ok, now_ms);
        if ok {
            for id in &delivery.ref_ids {
                self.held.remove(id);
                self.delivered.insert(id);
            }
        }
    }

    /// Every event taken was delivered or dropped (and counted): storage owes nothing.
    pub fn is_idle(&self) -> bool {
        self.outbox.held() == 0
    }

    /// Forgets the events taken, once [`Receiver::is_idle`] and the host deleted them all from
    /// storage.
    pub fn forget_stored(&mut self) {
        if self.is_idle() {
            self.held.clear();
        }
    }

    /// When the host should call [`Receiver::poll_delivery`] next (absolute ms), if ever.
    pub fn next_wakeup(&self) -> Option<u64> {
        self.outbox.next_wakeup()
    }

    /// The totals to save when they changed since the last save (gauges 0); the host writes
    /// them and reports [`Receiver::totals_saved`].
    pub fn totals_to_save(&self) -> Option<Metrics> {
        let totals = self.metrics().counters();
        (totals != self.saved).then_some(totals)
    }

    pub fn totals_saved(&mut self, totals: Metrics) {
        self.saved = totals;
    }

    /// The receiver's own metrics: its outbox's, its predecessors' totals, the merged blocks'
    /// bytes.
    pub fn metrics(&self) -> Metrics {
        let mut m = self.outbox.metrics();
        m.add(&self.counts);
        m.memory_bytes += self.blocks.bytes() as u64;
        m
    }

    /// Each sender's latest report, by name.
    pub fn reports(&self) -> &BTreeMap<String, Report> {
        &self.reports
    }

    /// The receiver's metrics with every sender's latest added: what all of them count and hold.
    pub fn total(&self) -> Metrics {
        let mut m = self.metrics();
        for r in self.reports.values() {
            m.add(&r.metrics);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::Recorder;
    use crate::observation::Observation;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const T: u64 = 1_747_162_000_000;

    /// Every 404 flags its actor (one event per actor: the cooldown).
    fn config(webhook: &str) -> Arc<Config> {
        let json = format!(
            r#"{{"rules": [{{"id": "4XX_FILTER", "threshold": 1}}], "webhook": {{"url": "https://siem.example.com/hook", "mode": "instant" {webhook}}}}}"#
        );
        Arc::new(Config::from_json_str(&json).unwrap())
    }

    /// A delta with one 404 from each of `ips` at `now`.
    fn delta(cfg: &Arc<Config>, now: u64, ips: &[&str]) -> Vec<u8> {
        let mut rec = Recorder::new(Arc::clone(cfg));
        let headers: [(&str, &str); 0] = [];
        for ip in ips {
            rec.record(
                now,
                &Observation {
                    method: "GET",
                    path: "/scan",
                    status: 404,
                    peer: Some(ip),
                    host: None,
                    headers: &headers,
                    country: None,
                },
            );
        }
        rec.count_unmatched();
        rec.take_delta().unwrap()
    }

    fn actors(m: &Message) -> Vec<&str> {
        m.events.iter().map(|e| e.event.actor.as_str()).collect()
    }

    #[test]
    fn a_delta_id_seen_twice_is_applied_once() {
        let cfg = config("");
        let mut s = Sender::new(Arc::clone(&cfg), 1);
        let d = delta(&cfg, T, &["203.0.113.1"]);
        assert_eq!(s.apply_delta(T, Some("a"), &d), Applied::Counted(1));
        assert_eq!(s.apply_delta(T + 1, Some("a"), &d), Applied::Repeated);
        assert_eq!((s.metrics().matched, s.metrics().responses), (1, 2));
        // Without an id nothing tells a resend apart: it counts.
        let d2 = delta(&cfg, T, &["203.0.113.2"]);
        assert_eq!(s.apply_delta(T + 2, None, &d2), Applied::Counted(1));
        assert_eq!(s.apply_delta(T + 3, None, &d2), Applied::Counted(0));
        assert_eq!(s.metrics().matched, 3);
        // The memory is bounded: after REMEMBERED_IDS newer ids, the first is forgotten.
        let empty = {
            let mut rec = Recorder::new(Arc::clone(&cfg));
            rec.count_unmatched();
            rec.take_delta().unwrap()
        };
        for i in 1..REMEMBERED_IDS {
            s.apply_delta(T + 4, Some(&i.to_string()), &empty);
        }
        assert_eq!(s.apply_delta(T + 5, Some("a"), &d), Applied::Repeated);
        s.apply_delta(T + 6, Some("one more"), &empty);
        assert_eq!(s.apply_delta(T + 7, Some("a"), &d), Applied::Counted(0));
    }

    #[test]
    fn a_malformed_delta_counts_up_to_its_first_bad_record() {
        let cfg = config("");
        let mut s = Sender::new(Arc::clone(&cfg), 1);
        let mut d = delta(&cfg, T, &["203.0.113.1", "203.0.113.2"]);
        d.truncate(d.len() - 3);
        let Applied::Malformed(_, raised) = s.apply_delta(T, Some("x"), &d) else {
            panic!("a truncated delta is malformed");
        };
        assert_eq!(raised, 1);
        assert_eq!(s.metrics().deltas_rejected, 1);
        let (m, _) = s.poll_message(T, "shard-1").expect("its event goes");
        assert_eq!(actors(&m), ["203.0.113.1"]);
    }

    #[test]
    fn an_acknowledgement_releases_only_the_events_its_message_carried() {
        let cfg = config("");
        let mut s = Sender::new(Arc::clone(&cfg), 1);
        s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1", "203.0.113.2"]));
        let (m1, r1) = s.poll_message(T, "shard-1").expect("new events go at once");
        assert_eq!(actors(&m1), ["203.0.113.1", "203.0.113.2"]);
        assert_eq!((m1.from.as_str(), r1.events()), ("shard-1", 2));
        assert_eq!(s.poll_message(T, "shard-1"), None, "nothing new");
        // An event raised while m1 is on its way goes in a message of its own.
        s.apply_delta(T + 10, None, &delta(&cfg, T + 10, &["203.0.113.3"]));
        s.acknowledged(&r1);
        let (m2, r2) = s.poll_message(T + 20, "shard-1").expect("the new event");
        assert_eq!(actors(&m2), ["203.0.113.3"]);
        s.acknowledged(&r2);
        assert_eq!(s.poll_message(T + 30, "shard-1"), None);
        assert_eq!(s.metrics().events_dropped, 0);
    }

    #[test]
    fn a_lost_answer_sends_the_same_events_again_and_the_receiver_queues_them_once() {
        let cfg = config("");
        let mut s = Sender::new(Arc::clone(&cfg), 1);
        let mut r = Receiver::new(Arc::clone(&cfg), 2);
        s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
        let (m1, r1) = s.poll_message(T, "shard-1").unwrap();
        // The receiver takes it; the answer is lost.
        let fresh = r.unknown(m1.events.clone());
        assert_eq!(r.queue(T, fresh), 1);
        s.failed(T);
        let again = s.retry_at();
        assert_eq!(s.next_wakeup().map(|t| t.min(again)), Some(again));
        assert_eq!(s.poll_message(again - 1, "shard-1"), None, "backing off");
        let (m2, r2) = s.poll_message(again, "shard-1").expect("sent again");
        assert_eq!(m2.events, m1.events, "the same events, the same refIds");
        assert_eq!(r.unknown(m2.events.clone()), vec![], "held already");
        s.acknowledged(&r2);
        assert_eq!(s.failures(), 0);
        // The receiver delivers it; a late resend (a sender that missed the answer again) is
        // not queued a second time.
        let d = r.poll_delivery(T + 1).expect("instant mode");
        assert_eq!(d.events, 1);
        r.delivery_status(&d, 200, T + 2);
        assert!(r.is_idle());
        assert_eq!(r.unknown(m1.events.clone()), vec![], "delivered lately");
        assert_eq!(r.queue(T + 3, m1.events.clone()), 0);
        s.acknowledged(&r1);
        assert_eq!(s.poll_message(T + 4, "shard-1"), None);
        // Within one message, an event twice is one.
        let twice = vec![m1.events[0].clone(), m1.events[0].clone()];
        let other = Receiver::new(Arc::clone(&cfg), 3);
        assert_eq!(other.unknown(twice).len(), 1);
    }

    #[test]
    fn a_full_sender_drops_its_oldest_events_and_counts_them() {
        let cfg = config(r#", "queue_capacity": 3"#);
        let mut s = Sender::new(Arc::clone(&cfg), 1);
        let ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
        assert_eq!(
            s.apply_delta(T, None, &delta(&cfg, T, &ips)),
            Applied::Counted(5)
        );
        assert_eq!(s.metrics().events_dropped, 2);
        assert_eq!(s.metrics().events_raised, 5);
        let (m, _) = s.poll_message(T, "shard-1").unwrap();
        assert_eq!(actors(&m), ["10.0.0.3", "10.0.0.4", "10.0.0.5"]);
        assert_eq!(m.report.unwrap().metrics.events_dropped, 2);
        assert_eq!(
            s.metrics().events_queued,
            0,
            "held events are the receiver's to count"
        );
    }

    #[test]
    fn after_a_failure_the_wait_doubles_from_half_a_second_to_five_minutes() {
        let cfg = config("");
        let mut s = Sender::new(Arc::clone(&cfg), 7);
        s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
        let mut now = T;
        for n in 1..=12u32 {
            assert!(
                s.poll_message(now, "shard-1").is_some(),
                "due after the wait"
            );
            s.failed(now);
            assert_eq!(s.failures(), n);
            let exp = (1_000u64 << (n - 1)).min(300_000);
            let wait = s.retry_at() - now;
            assert!(wait >= exp / 2 && wait <= exp, "failure {n}: {wait} ms");
            assert_eq!(s.poll_message(s.retry_at() - 1, "shard-1"), None);
            now = s.retry_at();
        }
        let (_, receipt) = s.poll_message(now, "shard-1").unwrap();
        s.acknowledged(&receipt);
        assert_eq!(s.failures(), 0);
        // The next failure starts from the first wait again.
        s.apply_delta(now, None, &delta(&cfg, now, &["203.0.113.2"]));
        s.poll_message(now, "shard-1").unwrap();
        s.failed(now);
        assert!(s.retry_at() - now <= 1_000);
    }

    #[test]
    fn the_save_is_due_exactly_a_second_after_the_first_change() {
        let cfg = config("");
        let mut s = Sender::new(Arc::clone(&cfg), 1);
        assert_eq!((s.next_wakeup(), s.poll_save(T + 5_000)), (None, None));
        s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
        let (_, receipt) = s.poll_message(T, "shard-1").unwrap();
        s.acknowledged(&receipt);
        // A later change does not postpone it.
        s.apply_delta(T + 500, None, &delta(&cfg, T + 500, &[]));
        assert_eq!(s.next_wakeup(), Some(T + SAVE_AFTER_MS));
        assert_eq!(s.metrics().state_unsaved, 1);
        // Counters alone do not make a message before the save.
        assert_eq!(s.poll_message(T + 500, "shard-1"), None);
        assert_eq!(s.poll_save(T + SAVE_AFTER_MS - 1), None);
        let save = s.poll_save(T + SAVE_AFTER_MS).expect("due");
        assert_eq!(save.totals.state_saves, 1);
        assert_eq!(save.totals.matched, 1);
        assert_eq!(save.totals.state_unsaved, 0, "gauges are not saved");
        // A failed write is due again, from the first change.
        s.saved(&save, false);
        assert_eq!(s.next_wakeup(), Some(T + SAVE_AFTER_MS));
        let save = s.poll_save(T + 1_200).unwrap();
        s.saved(&save, true);
        assert_eq!((s.metrics().state_saves, s.metrics().state_unsaved), (1, 0));
        assert_eq!(s.next_wakeup(), None);
        // Once saved, the counters go alone; then nothing is owed.
        let (m, receipt) = s.poll_message(T + 1_200, "shard-1").expect("the report");
        assert!(m.events.is_empty() && m.blocks.is_none());
        assert_eq!(m.report.as_ref().map(|r| r.metrics.state_saves), Some(1));
        s.acknowledged(&receipt);
        assert_eq!(s.poll_message(T + 1_300, "shard-1"), None);
    }

    #[test]
    fn held_events_are_in_storage_from_a_failure_until_an_acknowledgement() {
        let cfg = config("");
        let mut s = Sender::new(Arc::clone(&cfg), 1);
        s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
        let (_, _lost) = s.poll_message(T, "shard-1").unwrap();
        assert_eq!(s.poll_persist(), None, "no failure yet: memory is enough");
        s.failed(T);
        let write = s.poll_persist().expect("held events to storage");
        let Persist::Write { bytes, .. } = &write else {
            panic!("{write:?}");
        };
        let stored = bytes.clone();
        s.persisted(&write);
        assert_eq!(s.poll_persist(), None);
        // A new event while the receiver fails: written again with it.
        s.apply_delta(T + 10, None, &delta(&cfg, T + 10, &["203.0.113.2"]));
        let write = s.poll_persist().expect("rewritten");
        s.persisted(&write);

        // A successor (the object went away) restores them and sends them at once.
        let mut next = Sender::new(Arc::clone(&cfg), 2);
        assert_eq!(next.restore_held(T + 50, &stored).unwrap(), 1);
        assert_eq!(next.poll_persist(), None, "storage holds them already");
        let (m, receipt) = next.poll_message(T + 50, "shard-1").expect("sent at once");
        assert_eq!(actors(&m), ["203.0.113.1"]);
        next.acknowledged(&receipt);
        assert_eq!(next.poll_persist(), Some(Persist::Delete));
        next.persisted(&Persist::Delete);
        assert_eq!(next.poll_persist(), None);
        // Bytes that are no list of events are deleted.
        let mut broken = Sender::new(Arc::clone(&cfg), 3);
        assert!(broken.restore_held(T, b"{").is_err());
        assert_eq!(broken.poll_persist(), Some(Persist::Delete));
    }

    #[test]
    fn state_and_totals_survive_a_restart_and_a_new_configuration() {
        let cfg = Arc::new(
            Config::from_json_str(
                r#"{"rules": [{"id": "4XX_FILTER", "threshold": 2}], "webhook": {"url": "https://siem.example.com/hook"}}"#,
            )
            .unwrap(),
        );
        let mut s = Sender::new(Arc::clone(&cfg), 1);
        s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
        let save = s.poll_save(T + SAVE_AFTER_MS).unwrap();
        s.saved(&save, true);
        // A new object: one more response flags the actor at threshold - 1.
        let mut next = Sender::new(Arc::clone(&cfg), 2);
        assert_eq!(next.restore(&save.state, &save.totals), Ok(1));
        let t = T + 2_000;
        assert_eq!(
            next.apply_delta(t, None, &delta(&cfg, t, &["203.0.113.1"])),
            Applied::Counted(1)
        );
        let m = next.metrics();
        assert_eq!((m.matched, m.state_saves, m.events_raised), (2, 1, 1));
        // A new configuration of the same rules counts on, with the held event and the totals.
        let same = Arc::new(Config::clone(&cfg));
        assert_eq!(next.reconfigure(same, t + 1), Ok(1));
        let m = next.metrics();
        assert_eq!((m.matched, m.events_raised, m.actors_tracked), (2, 1, 1));
        let (msg, _) = next.poll_message(t + 1, "shard-1").unwrap();
        assert_eq!(actors(&msg), ["203.0.113.1"]);
        // Other rules refuse the state; the totals still count.
        assert!(next.reconfigure(config(""), t + 2).is_err());
        let m = next.metrics();
        assert_eq!((m.matched, m.actors_tracked), (2, 0));
    }

    #[test]
    fn blocks_go_to_the_receiver_until_acknowledged() {
        let cfg = Arc::new(
            Config::from_json_str(
                r#"{"rules": [{"id": "4XX_FILTER", "threshold": 1, "action": "block", "block_secs": 60, "block_status": 429}], "webhook": {"url": "https://siem.example.com/hook"}}"#,
            )
            .unwrap(),
        );
        let mut s = Sender::new(Arc::clone(&cfg), 1);
        let mut r = Receiver::new(Arc::clone(&cfg), 2);
        s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.9"]));
        let (m, receipt) = s.poll_message(T, "shard-1").unwrap();
        r.merge_blocks(m.blocks.as_deref().expect("the new block"));
        s.acknowledged(&receipt);
        let key = cfg
            .actor
            .resolve(Some("203.0.113.9"), &Vec::<(String, String)>::new())
            .unwrap()
            .key;
        let block = r.blocklist().get(T + 1, &key).expect("merged");
        assert_eq!(block.reply(T + 1).retry_after_secs, 60);
        // Published: the next message for a new event carries no blocks.
        s.apply_delta(T + 5, None, &delta(&cfg, T + 5, &[]));
        assert_eq!(s.poll_message(T + 5, "shard-1"), None);
        // Expired blocks are pruned on the receiver's next round.
        r.poll_delivery(T + 61_000);
        assert!(r.blocklist().is_empty());
    }

    #[test]
    fn the_receiver_keeps_each_senders_latest_report_and_totals_them() {
        let cfg = config("");
        let mut r = Receiver::new(Arc::clone(&cfg), 2);
        let report = |at_ms, seq, matched| Report {
            at_ms,
            seq,
            metrics: Metrics {
                matched,
                ..Metrics::default()
            },
        };
        assert!(r.keep_report("shard-1", report(T, 1, 5)));
        assert!(!r.keep_report("shard-1", report(T, 1, 4)), "not newer");
        assert!(
            !r.keep_report("shard-1", report(T - 1, 9, 3)),
            "older, arriving late"
        );
        assert!(r.keep_report("shard-1", report(T, 2, 6)));
        assert!(r.keep_report("shard-2", report(T - 5, 1, 1)));
        assert_eq!(r.total().matched, 7);
        assert_eq!(r.reports().len(), 2);
        // Totals survive the object and a new configuration; gauges do not.
        assert_eq!(r.totals_to_save(), None, "nothing counted yet");
        let mut s = Sender::new(Arc::clone(&cfg), 1);
        s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
        let (m, _) = s.poll_message(T, "shard-1").unwrap();
        r.queue(T, r.unknown(m.events.clone()));
        let d = r.poll_delivery(T).unwrap();
        r.delivery_status(&d, 200, T + 1);
        let totals = r.totals_to_save().expect("changed");
        assert_eq!(
            (totals.events_delivered, totals.deliveries_succeeded),
            (1, 1)
        );
        r.totals_saved(totals);
        assert_eq!(r.totals_to_save(), None);
        let mut next = Receiver::new(Arc::clone(&cfg), 3);
        next.restore_totals(&totals);
        assert_eq!(next.metrics().events_delivered, 1);
        let mut newer = Receiver::new(config(r#", "batch_size": 5"#), 4);
        newer.take_over(r);
        assert_eq!(newer.metrics().events_delivered, 1);
        assert_eq!(newer.total().matched, 7, "the reports carry over");
        assert_eq!(
            newer.unknown(m.events),
            vec![],
            "as do the refIds delivered"
        );
    }

    #[test]
    fn messages_and_reports_read_back_what_was_written() {
        let cfg = config("");
        let mut s = Sender::new(Arc::clone(&cfg), 1);
        s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
        let (m, _) = s.poll_message(T, "shard-3").unwrap();
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Message>(&text).unwrap(), m);
        // A report as stored before Metrics had these fields reads with the others 0.
        let r: Report = serde_json::from_str(
            r#"{"at_ms": 5, "seq": 2, "counters": {"matched": 3, "gone": 1}}"#,
        )
        .unwrap();
        assert_eq!((r.metrics.matched, r.metrics.responses), (3, 0));
    }
}
