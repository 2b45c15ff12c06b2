//! The engine a single host drives: a [`Detector`] (observations or worker deltas in,
//! detections out) feeding every sink's outbox ([`Sinks`]: deliveries and wake-ups out), with the reorder buffer
//! that merges several workers' records in time order. Hosts that count and deliver in
//! different places (the Worker's Durable Objects) use the two building blocks directly.

use crate::base::memory::Shares;
use crate::base::wire::WireError;
use crate::count::blocklist::Blocklist;
use crate::count::detector::{Detection, Detector, Observed};
use crate::deliver::outbox::Delivery;
use crate::deliver::sinks::Sinks;
#[cfg(feature = "fleet")]
use crate::drive::fleet::{Fleet, FleetCall};
use crate::drive::reorder::Reorder;
use crate::model::actor::{ActorKey, Resolved};
use crate::model::config::Config;
use crate::model::metrics::Metrics;
use crate::model::observation::{Headers, Observation};
use crate::model::record::{OwnedRecord, Record};
use crate::protocol::delta::merge_delta;
use std::sync::Arc;

/// Expired blocks are forgotten at most this often.
const PRUNE_EVERY_MS: u64 = 1_000;

/// A build without the `fleet` feature has no fleet mode (validation refuses
/// `fleet.mode: "redis"`): an engine's `fleet` is always `None`, and this empty stand-in lets
/// the paths that would feed it compile away.
#[cfg(not(feature = "fleet"))]
enum Fleet {}

#[cfg(not(feature = "fleet"))]
impl Fleet {
    fn record(&mut self, _: &Record) {
        match *self {}
    }

    fn settle_local(&mut self, _: &Record, _: &mut [Detection], _: usize) {
        match *self {}
    }

    fn metrics(&self) -> Metrics {
        match *self {}
    }

    fn bytes(&self) -> usize {
        match *self {}
    }
}

/// What the engine concluded about one observation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verdict {
    /// A rule counts this response's status.
    pub matched: bool,
    /// Events this response raised (queued for delivery, and pushed onto the caller's list).
    pub events: u32,
    /// The actor is blocked from now on, answered with this status.
    pub blocked_status: Option<u16>,
}

/// The sans-I/O engine. The host passes time (ms since the Unix epoch) into every call.
pub struct Engine {
    cfg: Arc<Config>,
    detector: Detector,
    outbox: Sinks,
    reorder: Reorder,
    /// What the engine counts itself: blocked requests, merged deltas held for reordering,
    /// records lost with a predecessor.
    counts: Metrics,
    last_prune_ms: u64,
    /// Fleet mode (Envoy aggregators with `fleet.mode: "redis"`): Redis decides the counting
    /// rules for every proxy; see [`crate::drive::fleet`].
    fleet: Option<Fleet>,
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
            detector: Detector::new(Arc::clone(&cfg), seed),
            outbox: Sinks::new(Arc::clone(&cfg), seed, shares.outbox),
            reorder: Reorder::new(shares.reorder),
            cfg,
            counts: Metrics::default(),
            last_prune_ms: 0,
            fleet: None,
        }
    }

    /// Turns fleet mode on (the configuration says `fleet.mode: "redis"`; only Envoy's
    /// aggregator does this). `instance` must be random per aggregator run.
    #[cfg(feature = "fleet")]
    pub fn enable_fleet(&mut self, instance: u64) {
        if self.cfg.fleet.is_redis() {
            self.fleet = Some(Fleet::new(Arc::clone(&self.cfg), instance));
        }
    }

    /// The batch to POST to the fleet's front now, if one is due (fleet mode only).
    #[cfg(feature = "fleet")]
    pub fn poll_fleet(&mut self, now_ms: u64) -> Option<FleetCall> {
        self.fleet.as_mut()?.poll(now_ms)
    }

    /// The front's answer to batch `seq` (`status` 0: none came). Events Redis chose this
    /// proxy for are queued; blocks it reports are added to the blocklist.
    #[cfg(feature = "fleet")]
    pub fn fleet_answered(&mut self, now_ms: u64, seq: u64, status: u16, body: &[u8]) {
        let Some(fleet) = self.fleet.as_mut() else {
            return;
        };
        let answer = fleet.answered(now_ms, seq, status, body);
        for (key, until_ms, status) in &answer.blocks {
            self.detector.block(key, *until_ms, *status);
        }
        self.queue(now_ms, &answer.detections);
    }

    /// Fleet mode: the claims and cooldowns a successor aggregator takes over
    /// ([`Engine::import_fleet`]); `None` without fleet mode.
    #[cfg(feature = "fleet")]
    pub fn export_fleet(&self) -> Option<Vec<u8>> {
        self.fleet.as_ref().map(Fleet::export)
    }

    /// Fleet mode: takes over a predecessor's claims and cooldowns ([`Engine::export_fleet`]);
    /// returns the claims taken (0 without fleet mode).
    #[cfg(feature = "fleet")]
    pub fn import_fleet(&mut self, now_ms: u64, bytes: &[u8]) -> Result<usize, serde_json::Error> {
        match self.fleet.as_mut() {
            Some(fleet) => fleet.import(now_ms, bytes),
            None => Ok(0),
        }
    }

    /// Changes whenever what [`Engine::export_fleet`] writes changes.
    #[cfg(feature = "fleet")]
    pub fn fleet_handover_version(&self) -> Option<u64> {
        self.fleet.as_ref().map(Fleet::handover_version)
    }

    /// Whether fleet mode is on and Redis did not answer the last batch.
    #[cfg(feature = "fleet")]
    pub fn fleet_in_fallback(&self) -> bool {
        self.fleet.as_ref().is_some_and(Fleet::in_fallback)
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// The actor of a request, for a blocklist check before it reaches the upstream.
    pub fn resolve_actor(&self, peer: Option<&str>, headers: &dyn Headers) -> Option<Resolved> {
        self.cfg.actor.resolve(peer, headers)
    }

    /// The status to answer with if `actor` is blocked now; counts the blocked request.
    pub fn check_blocked(&mut self, now_ms: u64, actor: &ActorKey) -> Option<u16> {
        let status = self.detector.blocklist().check(now_ms, actor)?;
        self.counts.blocked_requests += 1;
        Some(status)
    }

    pub fn blocklist(&self) -> &Blocklist {
        self.detector.blocklist()
    }

    /// Actors whose responses workers may record with their time, status and actor alone
    /// ([`crate::Recorder::record_quiet`]), until each entry's end; published like the blocklist.
    pub fn quiet_list(&self) -> &Blocklist {
        self.detector.quiet_list()
    }

    /// Counts one request the threat rules inspected (hosts without a [`crate::Recorder`]).
    pub fn count_inspected(&mut self, bytes: u64, body_truncated: bool) {
        self.detector.count_inspected(bytes, body_truncated);
    }

    /// Counts a response body read for leaks (`bytes` of it).
    pub fn count_response_inspected(&mut self, bytes: u64) {
        self.detector.count_response_inspected(bytes);
    }

    /// Counts a response body a rule wanted that was compressed (`content-encoding`).
    pub fn count_response_encoded(&mut self) {
        self.detector.count_response_encoded();
    }

    /// Counts a request a blocking threat rule answered before the upstream.
    pub fn count_threat_blocked(&mut self) {
        self.detector.count_threat_blocked();
    }

    /// Counts one response; the events it raises are queued for delivery and pushed onto
    /// `detections` (for tools that show them). Responses no rule counts cost one bitmap lookup.
    pub fn observe(
        &mut self,
        now_ms: u64,
        obs: &Observation,
        detections: &mut Vec<Detection>,
    ) -> Verdict {
        let findings = obs.threats.is_some_and(|t| !t.is_empty());
        if !self.detector.recording().wants(obs.status, findings) {
            self.detector.count_unmatched();
            return Verdict::default();
        }
        let before = detections.len();
        let actor = match self.detector.observe(now_ms, obs, detections) {
            Observed::NotMatched => return Verdict::default(),
            Observed::Unattributed => None,
            Observed::Counted(actor) => Some(actor),
        };
        let raised = detections.get(before..).unwrap_or(&[]);
        for d in raised {
            self.outbox.push(now_ms, d.rule, &d.event);
        }
        Verdict {
            matched: true,
            events: raised.len() as u32,
            blocked_status: actor.and_then(|a| self.detector.blocklist().check(now_ms, &a)),
        }
    }

    fn queue(&mut self, now_ms: u64, detections: &[Detection]) {
        for d in detections {
            self.outbox.push(now_ms, d.rule, &d.event);
        }
    }

    /// Holds delta records for `ms` before counting them, so that records from several
    /// workers are counted in timestamp order (exact windows need that). Hosts that merge
    /// deltas set it to at least the longest delay between a response and its delta's arrival
    /// (for Envoy: two tick periods). 0 (the default) counts records as they arrive.
    pub fn set_reorder_window_ms(&mut self, ms: u64) {
        self.reorder.set_window_ms(ms);
    }

    /// Merges a worker's delta: its records are counted exactly as if observed here. With a
    /// reorder window they are held, and counted by the next [`Engine::advance`] once older than
    /// the window: merge every delta at hand first, then advance, so records of all workers are
    /// counted in time order. Returns the events raised now (none with a reorder window). A
    /// malformed delta is rejected from the first bad record on (counted in `deltas_rejected`);
    /// records before it still count.
    pub fn apply_delta(&mut self, now_ms: u64, delta: &[u8]) -> Result<Vec<Detection>, WireError> {
        let mut detections = Vec::new();
        self.detector.observe_clock(now_ms);
        let matched = self.detector.recording().matched();
        let cfg = Arc::clone(&self.cfg);
        let (detector, fleet, reorder) = (&mut self.detector, &mut self.fleet, &mut self.reorder);
        // One path whatever the reorder window: every record is merged and counted the same
        // way; a window only holds records back before they reach `count_record`.
        let result = merge_delta(delta, matched, &mut self.counts, |r| {
            if reorder.window_ms() == 0 {
                count_record(detector, fleet, &cfg, &r, &mut detections);
            } else {
                reorder.hold(OwnedRecord::of(&r), &mut |held: OwnedRecord| {
                    count_record(detector, fleet, &cfg, &held.as_record(), &mut detections);
                });
            }
        });
        self.queue(now_ms, &detections);
        result.map(|()| detections)
    }

    /// Counts held delta records older than the reorder window, in timestamp order. Hosts call
    /// it on every wake-up, before [`Engine::poll_delivery`]. Returns the events raised.
    pub fn advance(&mut self, now_ms: u64) -> Vec<Detection> {
        self.detector.observe_clock(now_ms);
        let mut detections = Vec::new();
        let (detector, fleet) = (&mut self.detector, &mut self.fleet);
        let cfg = Arc::clone(&self.cfg);
        self.reorder.release(now_ms, &mut |r: OwnedRecord| {
            count_record(detector, fleet, &cfg, &r.as_record(), &mut detections);
        });
        self.queue(now_ms, &detections);
        detections
    }

    /// The next webhook POST to send, if one is due. Call until it returns `None`.
    pub fn poll_delivery(&mut self, now_ms: u64) -> Option<Delivery> {
        if now_ms >= self.last_prune_ms.saturating_add(PRUNE_EVERY_MS)
            || now_ms < self.last_prune_ms
        {
            self.detector.prune_lists(now_ms);
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

    /// When the host should next call [`Engine::advance`] and [`Engine::poll_delivery`]
    /// (absolute ms), if ever.
    pub fn next_wakeup(&self) -> Option<u64> {
        match (self.outbox.next_wakeup(), self.reorder.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn metrics(&self) -> Metrics {
        let mut m = self.detector.metrics();
        m.add(&self.outbox.metrics());
        m.add(&self.counts);
        if let Some(fleet) = &self.fleet {
            m.add(&fleet.metrics());
            m.memory_bytes += fleet.bytes() as u64;
        }
        m.memory_bytes += self.reorder.bytes() as u64;
        m.records_held = self.reorder.len() as u64;
        m
    }

    /// Each sink's name and its own metrics (its outbox's events and deliveries), in the
    /// configuration's order: `webhook` first.
    pub fn sink_metrics(&self) -> impl Iterator<Item = (&str, Metrics)> + '_ {
        self.outbox.per_sink()
    }

    /// The events each filter (rule, in the configuration's order) sent to the sinks.
    pub fn filter_events(&self) -> &[u64] {
        self.outbox.filter_events()
    }

    /// Bytes of the counting tables (keys, windows, cooldowns): the bytes-per-actor figure.
    pub fn state_heap_bytes(&self) -> usize {
        self.detector.table_bytes()
    }

    /// Bytes the engine holds by its own accounting: tables, samples, blocklist, outbox and
    /// reorder buffer, at most `max_memory_mb`; in fleet mode up to an eighth more (`Fleet`).
    pub fn memory_bytes(&self) -> usize {
        self.detector.bytes()
            + self.outbox.bytes()
            + self.reorder.bytes()
            + self.fleet.as_ref().map_or(0, Fleet::bytes)
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
        self.reorder.len()
    }
}

/// Counts one merged record: in the detector, and in fleet mode in the next batch too, where
/// Redis decides what the detector's counting rules would have raised.
fn count_record(
    detector: &mut Detector,
    fleet: &mut Option<Fleet>,
    cfg: &Config,
    r: &Record,
    detections: &mut Vec<Detection>,
) {
    let from = detections.len();
    detector.apply(r, &mut || r.sample(cfg), detections);
    if let Some(fleet) = fleet {
        fleet.record(r);
        fleet.settle_local(r, detections, from);
    }
}
