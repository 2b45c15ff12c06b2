//! The counting side of a hand-off: a detector and the events it raised, held until acknowledged.

use crate::base::hash::splitmix64;
use crate::base::hex;
use crate::base::memory::{Budget, HeapSize, Shares};
use crate::base::wire::WireError;
use crate::count::detector::{Detection, Detector};
use crate::deliver::outbox::retry_delay_ms;
use crate::model::config::Config;
use crate::model::metrics::Metrics;

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use super::{
    Applied, Event, Message, Persist, Receipt, Recent, Report, Save, PRUNE_EVERY_MS, SAVE_AFTER_MS,
};

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
            self.detector.prune_lists(now_ms);
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
        self.detector.blocklist().generation() != self.published_generation
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
        let generation = self.detector.blocklist().generation();
        let blocks = (generation != self.published_generation)
            .then(|| hex::encode(&self.detector.blocklist().encode(now_ms)));
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
