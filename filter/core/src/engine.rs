//! The engine a host drives: observations (or worker deltas) in, deliveries and wake-ups out.

use crate::actor::{ActorKey, Resolved};
use crate::blocklist::Blocklist;
use crate::config::Config;
use crate::delta::DeltaReader;
use crate::detector::{Detection, Detector, CLOCK_STEP_MS};
use crate::memory::{Budget, HeapSize, Shares};
use crate::observation::{Headers, Observation};
use crate::outbox::{Delivery, Outbox};
use crate::payload::MaliciousEvent;
use crate::record::{prepare, record_of, OwnedRecord};
use crate::sample::{record_sample, sample_json};
use crate::status::StatusSet;
use crate::wire::WireError;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

/// Expired blocks are forgotten at most this often.
const PRUNE_EVERY_MS: u64 = 1_000;

/// A delta record held for reordering, ordered by (time, arrival).
struct Pending {
    ts_ms: u64,
    seq: u64,
    record: OwnedRecord,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.ts_ms, self.seq) == (other.ts_ms, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ts_ms, self.seq).cmp(&(other.ts_ms, other.seq))
    }
}

/// Bytes a held record costs beyond its place in the heap.
fn pending_bytes(r: &OwnedRecord) -> usize {
    r.heap_bytes()
}

/// What the engine concluded about one observation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verdict {
    /// A rule counts this response's status.
    pub matched: bool,
    /// Events this response raised.
    pub events: u32,
    /// The actor is blocked from now on, answered with this status.
    pub blocked_status: Option<u16>,
}

/// Every counter a user would graph. Gauges: `actors_tracked`, `events_queued`, `blocks_active`,
/// `memory_bytes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Metrics {
    pub responses: u64,
    pub matched: u64,
    pub unattributed: u64,
    pub actors_tracked: u64,
    pub actors_evicted: u64,
    pub untracked_responses: u64,
    pub events_raised: u64,
    pub events_suppressed: u64,
    pub events_queued: u64,
    pub events_delivered: u64,
    pub events_dropped: u64,
    pub deliveries_sent: u64,
    pub deliveries_succeeded: u64,
    pub deliveries_failed: u64,
    pub deliveries_retried: u64,
    pub deliveries_abandoned: u64,
    pub blocks_active: u64,
    pub blocked_requests: u64,
    pub records_dropped: u64,
    pub deltas_rejected: u64,
    pub samples_skipped: u64,
    pub clock_steps: u64,
    pub memory_bytes: u64,
}

impl Metrics {
    /// Name and value of every counter, names as hosts export them (`actorwatch.<name>`).
    pub fn fields(&self) -> [(&'static str, u64); 23] {
        [
            ("responses", self.responses),
            ("matched", self.matched),
            ("unattributed", self.unattributed),
            ("actors_tracked", self.actors_tracked),
            ("actors_evicted", self.actors_evicted),
            ("untracked_responses", self.untracked_responses),
            ("events_raised", self.events_raised),
            ("events_suppressed", self.events_suppressed),
            ("events_queued", self.events_queued),
            ("events_delivered", self.events_delivered),
            ("events_dropped", self.events_dropped),
            ("deliveries_sent", self.deliveries_sent),
            ("deliveries_succeeded", self.deliveries_succeeded),
            ("deliveries_failed", self.deliveries_failed),
            ("deliveries_retried", self.deliveries_retried),
            ("deliveries_abandoned", self.deliveries_abandoned),
            ("blocks_active", self.blocks_active),
            ("blocked_requests", self.blocked_requests),
            ("records_dropped", self.records_dropped),
            ("deltas_rejected", self.deltas_rejected),
            ("samples_skipped", self.samples_skipped),
            ("clock_steps", self.clock_steps),
            ("memory_bytes", self.memory_bytes),
        ]
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    responses: u64,
    matched: u64,
    unattributed: u64,
    blocked_requests: u64,
    records_dropped: u64,
    deltas_rejected: u64,
}

/// The sans-I/O engine. The host passes time (ms since the Unix epoch) into every call.
pub struct Engine {
    cfg: Arc<Config>,
    matched: StatusSet,
    detector: Detector,
    outbox: Outbox,
    scratch: Vec<Detection>,
    kept: Option<Vec<Detection>>,
    counts: Counts,
    last_prune_ms: u64,
    reorder_ms: u64,
    /// Events go to the delivery queue (false: only kept, for hosts that deliver elsewhere).
    forward: bool,
    /// Delta records waiting until every worker has reported up to their time, oldest first.
    pending: BinaryHeap<Reverse<Pending>>,
    pending_seq: u64,
    /// Bytes of `pending`; when full, its oldest records are counted at once.
    pending_budget: Budget,
}

impl Engine {
    /// `seed` should come from the host's randomness: it keys the actor hash maps and the
    /// retry jitter, and makes delivery ids unique per instance.
    pub fn new(cfg: Config, seed: u64) -> Self {
        Engine::with_shared_config(Arc::new(cfg), seed)
    }

    pub fn with_shared_config(cfg: Arc<Config>, seed: u64) -> Self {
        let shares = Shares::of(cfg.max_memory_bytes());
        Engine {
            matched: cfg.matched_statuses(),
            detector: Detector::new(Arc::clone(&cfg), seed),
            outbox: Outbox::new(Arc::clone(&cfg), seed, shares.outbox),
            cfg,
            scratch: Vec::new(),
            kept: None,
            counts: Counts::default(),
            last_prune_ms: 0,
            reorder_ms: 0,
            forward: true,
            pending: BinaryHeap::new(),
            pending_seq: 0,
            pending_budget: Budget::new(shares.reorder),
        }
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// An engine that only detects: its events are kept for [`Engine::drain_detections`] and
    /// never queued for delivery (a host that counts in one place and delivers in another,
    /// like the Worker's Durable Objects).
    pub fn detector_only(cfg: Arc<Config>, seed: u64) -> Self {
        let mut engine = Engine::with_shared_config(cfg, seed);
        engine.forward = false;
        engine.keep_detections(true);
        engine
    }

    /// Queues an event detected elsewhere for delivery (see [`Engine::detector_only`]).
    pub fn enqueue_event(&mut self, now_ms: u64, rule: usize, event: MaliciousEvent) {
        self.outbox.push(now_ms, rule, event);
    }

    /// Keeps a copy of every detection for [`Engine::drain_detections`] (tools and tests).
    pub fn keep_detections(&mut self, keep: bool) {
        self.kept = keep.then(Vec::new);
    }

    pub fn drain_detections(&mut self) -> Vec<Detection> {
        self.kept.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The actor of a request, for a blocklist check before it reaches the upstream.
    pub fn resolve_actor(&self, peer: Option<&str>, headers: &dyn Headers) -> Option<Resolved> {
        self.cfg.actor.resolve(peer, headers)
    }

    /// The status to answer with if `actor` is blocked now; counts the blocked request.
    pub fn check_blocked(&mut self, now_ms: u64, actor: &ActorKey) -> Option<u16> {
        let status = self.detector.blocks.check(now_ms, actor)?;
        self.counts.blocked_requests += 1;
        Some(status)
    }

    pub fn blocklist(&self) -> &Blocklist {
        &self.detector.blocks
    }

    /// Counts one response. Responses no rule counts cost one bitmap lookup.
    pub fn observe(&mut self, now_ms: u64, obs: &Observation) -> Verdict {
        self.counts.responses += 1;
        if !self.matched.contains(obs.status) {
            return Verdict::default();
        }
        self.counts.matched += 1;
        self.detector.observe_clock(now_ms);
        let Some(prepared) = prepare(&self.cfg, obs, false) else {
            self.counts.unattributed += 1;
            return Verdict {
                matched: true,
                ..Verdict::default()
            };
        };
        let record = record_of(now_ms, obs, &prepared);
        self.scratch.clear();
        let mut scratch = std::mem::take(&mut self.scratch);
        let cfg = Arc::clone(&self.cfg);
        let mut make_sample = || Some(sample_json(&cfg, now_ms, obs, prepared.resolved.ip));
        self.detector.apply(&record, &mut make_sample, &mut scratch);
        let events = self.queue(now_ms, &mut scratch);
        self.scratch = scratch;
        Verdict {
            matched: true,
            events,
            blocked_status: self.detector.blocks.check(now_ms, &record.actor),
        }
    }

    fn queue(&mut self, now_ms: u64, detections: &mut Vec<Detection>) -> u32 {
        let n = detections.len() as u32;
        for d in detections.drain(..) {
            if !self.forward {
                if let Some(kept) = &mut self.kept {
                    kept.push(d);
                }
                continue;
            }
            if let Some(kept) = &mut self.kept {
                kept.push(d.clone());
            }
            self.outbox.push(now_ms, d.rule, d.event);
        }
        n
    }

    /// Holds delta records for `ms` before counting them, so that records from several
    /// workers are counted in timestamp order (exact windows need that). Hosts that merge
    /// deltas set it to at least the longest delay between a response and its delta's arrival
    /// (for Envoy: two tick periods). 0 (the default) counts records as they arrive.
    pub fn set_reorder_window_ms(&mut self, ms: u64) {
        self.reorder_ms = ms;
    }

    /// Merges a worker's delta: its records are counted exactly as if observed here. With a
    /// reorder window they are held, and counted by the next [`Engine::advance`] (or
    /// [`Engine::poll_delivery`]) once older than the window: merge every delta at hand first,
    /// then advance, so records of all workers are counted in time order. Returns the number of
    /// events raised now (always 0 with a reorder window). A
    /// malformed delta is rejected from the first bad record on (counted in
    /// `deltas_rejected`); records before it still count.
    pub fn apply_delta(&mut self, now_ms: u64, delta: &[u8]) -> Result<u32, WireError> {
        let mut reader = match DeltaReader::new(delta) {
            Ok(r) => r,
            Err(e) => {
                self.counts.deltas_rejected += 1;
                return Err(e);
            }
        };
        self.detector.observe_clock(now_ms);
        let c = reader.counts;
        self.counts.responses += c.responses;
        self.counts.matched += c.records + c.records_dropped + c.unattributed;
        self.counts.unattributed += c.unattributed;
        self.counts.blocked_requests += c.blocked_requests;
        self.counts.records_dropped += c.records_dropped;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let mut result = Ok(());
        let cfg = Arc::clone(&self.cfg);
        while let Some(record) = reader.next_record() {
            match record {
                Ok(r) if self.reorder_ms == 0 => {
                    self.detector
                        .apply(&r, &mut || record_sample(&cfg, &r), &mut scratch)
                }
                Ok(r) => self.hold(OwnedRecord::of(&r), &mut scratch),
                Err(e) => {
                    self.counts.deltas_rejected += 1;
                    result = Err(e);
                }
            }
        }
        let events = self.queue(now_ms, &mut scratch);
        self.scratch = scratch;
        result.map(|_| events)
    }

    /// Holds a delta record for reordering; when the reorder buffer's share of the budget is
    /// full, its oldest records are counted now to make room.
    fn hold(&mut self, record: OwnedRecord, out: &mut Vec<Detection>) {
        let bytes = pending_bytes(&record);
        let slot = size_of::<Reverse<Pending>>();
        loop {
            let growth = if self.pending.len() < self.pending.capacity() {
                0
            } else {
                (self.pending.capacity() * 2).max(4) * slot
            };
            if self.pending_budget.fits(bytes + growth) || self.pending.is_empty() {
                break;
            }
            self.count_oldest(out);
        }
        if !self.pending_budget.fits(bytes + slot) {
            // Larger than the whole buffer: counted at once.
            let r = record.as_record();
            let cfg = Arc::clone(&self.cfg);
            self.detector
                .apply(&r, &mut || record_sample(&cfg, &r), out);
            return;
        }
        let before = self.pending.capacity();
        self.pending_seq += 1;
        self.pending.push(Reverse(Pending {
            ts_ms: record.ts_ms,
            seq: self.pending_seq,
            record,
        }));
        self.pending_budget
            .resize(before * slot, self.pending.capacity() * slot);
        self.pending_budget.charge(bytes);
    }

    /// Counts the oldest held record.
    fn count_oldest(&mut self, out: &mut Vec<Detection>) {
        let Some(Reverse(p)) = self.pending.pop() else {
            return;
        };
        self.pending_budget.release(pending_bytes(&p.record));
        let r = p.record.as_record();
        let cfg = Arc::clone(&self.cfg);
        self.detector
            .apply(&r, &mut || record_sample(&cfg, &r), out);
    }

    /// Counts held delta records older than the reorder window, in timestamp order, and any
    /// from further ahead than the clock (the host clock stepped back: holding them would delay
    /// them by the step). Returns the number of events raised.
    pub fn advance(&mut self, now_ms: u64) -> u32 {
        self.detector.observe_clock(now_ms);
        if self.pending.is_empty() {
            return 0;
        }
        let cutoff = now_ms.saturating_sub(self.reorder_ms);
        let ahead = now_ms
            .saturating_add(self.reorder_ms)
            .saturating_add(CLOCK_STEP_MS);
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        while let Some(Reverse(p)) = self.pending.peek() {
            if p.ts_ms > cutoff && p.ts_ms <= ahead {
                break;
            }
            self.count_oldest(&mut scratch);
        }
        let events = self.queue(now_ms, &mut scratch);
        self.scratch = scratch;
        events
    }

    /// The next webhook POST to send, if one is due. Call until it returns `None`.
    pub fn poll_delivery(&mut self, now_ms: u64) -> Option<Delivery> {
        self.advance(now_ms);
        if now_ms >= self.last_prune_ms.saturating_add(PRUNE_EVERY_MS)
            || now_ms < self.last_prune_ms
        {
            self.detector.blocks.prune(now_ms);
            self.last_prune_ms = now_ms;
        }
        self.outbox.poll(now_ms)
    }

    /// The receiver answered the attempt `token` with a 2xx.
    pub fn delivered(&mut self, token: u64, now_ms: u64) {
        self.outbox.report(token, true, now_ms);
    }

    /// The attempt `token` failed: non-2xx, timeout, refused or reset connection.
    pub fn failed(&mut self, token: u64, now_ms: u64) {
        self.outbox.report(token, false, now_ms);
    }

    /// Reports an HTTP status for the attempt `token` (2xx succeeds, anything else fails).
    pub fn delivery_status(&mut self, token: u64, status: u16, now_ms: u64) {
        self.outbox
            .report(token, (200..300).contains(&status), now_ms);
    }

    /// Queued events go out on the next polls whatever the mode (end of input, shutdown).
    pub fn flush(&mut self) {
        self.outbox.flush_now();
    }

    /// When the host should next call [`Engine::poll_delivery`] (absolute ms), if ever.
    pub fn next_wakeup(&self) -> Option<u64> {
        let held = self
            .pending
            .peek()
            .map(|Reverse(p)| p.ts_ms.saturating_add(self.reorder_ms));
        match (self.outbox.next_wakeup(), held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn metrics(&self) -> Metrics {
        let d = &self.detector.metrics;
        let memory = self.memory_bytes();
        let o = &self.outbox.metrics;
        Metrics {
            responses: self.counts.responses,
            matched: self.counts.matched,
            unattributed: self.counts.unattributed,
            actors_tracked: self.detector.tracked() as u64,
            actors_evicted: self.detector.evictions(),
            untracked_responses: self.detector.untracked(),
            events_raised: d.events_raised,
            events_suppressed: d.events_suppressed,
            events_queued: self.outbox.held() as u64,
            events_delivered: o.events_delivered,
            events_dropped: o.events_dropped,
            deliveries_sent: o.deliveries_sent,
            deliveries_succeeded: o.deliveries_succeeded,
            deliveries_failed: o.deliveries_failed,
            deliveries_retried: o.deliveries_retried,
            deliveries_abandoned: o.deliveries_abandoned,
            blocks_active: self.detector.blocks.len() as u64,
            blocked_requests: self.counts.blocked_requests,
            records_dropped: self.counts.records_dropped,
            deltas_rejected: self.counts.deltas_rejected,
            samples_skipped: self.detector.samples_skipped(),
            clock_steps: d.clock_steps,
            memory_bytes: memory as u64,
        }
    }

    /// Bytes of the counting tables (keys, windows, cooldowns): the bytes-per-actor figure.
    pub fn state_heap_bytes(&self) -> usize {
        self.detector.table_bytes()
    }

    /// Bytes the engine holds by its own accounting: tables, samples, blocklist, outbox and
    /// reorder buffer; at most `max_memory_mb`.
    pub fn memory_bytes(&self) -> usize {
        self.detector.bytes() + self.outbox.bytes() + self.pending_budget.used
    }

    /// The counting state (windows, cooldowns, blocks; not samples), for a host whose engine
    /// can be evicted and must not forget its actors ([`Engine::import_state`]).
    pub fn export_state(&self, now_ms: u64) -> Vec<u8> {
        self.detector.export_state(now_ms)
    }

    /// Restores [`Engine::export_state`] into an engine that has counted nothing yet; returns
    /// the keys restored. A snapshot of other rules is refused and the engine starts afresh.
    pub fn import_state(&mut self, bytes: &[u8]) -> Result<usize, WireError> {
        self.detector.import_state(bytes)
    }

    /// The events waiting for delivery, for a successor ([`Engine::import_outbox`]).
    pub fn export_outbox(&self) -> Vec<u8> {
        self.outbox.export()
    }

    /// Takes over a predecessor's events ([`Engine::export_outbox`]); returns how many.
    pub fn import_outbox(&mut self, now_ms: u64, bytes: &[u8]) -> Result<usize, serde_json::Error> {
        self.outbox.import(now_ms, bytes)
    }

    /// Changes whenever the events held for delivery change (see [`Engine::export_outbox`]).
    pub fn outbox_version(&self) -> u64 {
        self.outbox.version()
    }

    /// Counts records a host lost after they were merged (an aggregator that went away holding
    /// them) in `records_dropped`; they are in `matched` already, where they were merged.
    pub fn count_records_lost(&mut self, records: u64) {
        self.counts.records_dropped += records;
    }

    /// Delta records merged and not yet counted (held for reordering).
    pub fn records_held(&self) -> usize {
        self.pending.len()
    }
}
