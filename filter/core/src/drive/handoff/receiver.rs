//! The delivering side of a hand-off: an outbox fed by the senders' events, each once.

use crate::base::hash::splitmix64;
use crate::base::hex;
use crate::base::memory::Shares;
use crate::count::blocklist::Blocklist;
use crate::deliver::outbox::Delivery;
use crate::deliver::sinks::Sinks;
use crate::model::config::Config;
use crate::model::metrics::Metrics;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Event, Recent, Report, PRUNE_EVERY_MS};

/// The delivering side: the sinks' outboxes ([`Sinks`]) fed by the senders' events (each once), the blocklist
/// their blocks merge into, and each sender's latest report.
pub struct Receiver {
    cfg: Arc<Config>,
    outbox: Sinks,
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
            outbox: Sinks::new(Arc::clone(&cfg), splitmix64(&mut rng), shares.outbox),
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
                self.outbox.push(now_ms, e.rule, &e.event);
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
