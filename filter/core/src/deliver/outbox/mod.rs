//! Events waiting for delivery: a queue bounded in events and in bytes, batches of one filter
//! each, retries with exponential backoff and jitter under a stable delivery id. Every
//! operation costs O(log n) in the events held (O(rules) to pick the next batch's filter).
//! The state can be handed to a successor ([`Outbox::export`], [`Outbox::import`]) so that a
//! new aggregator resumes delivery under the same delivery ids.

use crate::base::hash::splitmix64;
use crate::base::memory::{Budget, HeapSize};
use crate::deliver::format;
use crate::deliver::signature::{sign, DELIVERY_HEADER, SIGNATURE_HEADER};
use crate::model::config::{Config, DeliveryMode, WebhookConfig};
use crate::model::metrics::Metrics;
use crate::model::payload::MaliciousEvent;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

mod takeover;

/// First retry waits about this long; each further one doubles it.
pub(crate) const RETRY_BASE_MS: u64 = 1_000;
/// No retry waits longer than this.
pub(crate) const RETRY_CAP_MS: u64 = 300_000;
/// How long past `timeout_ms` an attempt the host never reported on counts as failed.
pub(crate) const LOST_ATTEMPT_GRACE_MS: u64 = 5_000;

/// The wait before retry number `attempt` (1 = first retry): exponential, capped, with "equal
/// jitter" (between half and all of the exponential value) drawn from `random`.
pub fn retry_delay_ms(attempt: u32, random: u64) -> u64 {
    let exp = RETRY_BASE_MS
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
        .min(RETRY_CAP_MS);
    let half = exp / 2;
    half + random % (exp - half + 1)
}

/// Attempt tokens are `sequence * TOKEN_STRIDE + sink`: a report finds its sink's outbox.
pub(crate) const TOKEN_STRIDE: u64 = 8;

/// One POST the host should send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Identifies this attempt when the host reports its outcome.
    pub token: u64,
    /// The sink's name (`akto` for `webhook`) and the Envoy cluster that reaches it.
    pub sink: String,
    pub cluster: String,
    /// Stable across retries: receivers deduplicate on it (`x-actorwatch-delivery`).
    pub delivery_id: String,
    pub url: String,
    pub authority: String,
    pub path: String,
    /// Configured headers plus the delivery id and, with a secret, the signature.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: u64,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub events: usize,
    pub filter_id: String,
    /// The `refId` of every event in the body, in order.
    pub ref_ids: Vec<String>,
}

type Event = Box<MaliciousEvent>;

#[derive(Debug, Clone)]
struct Batch {
    id: String,
    rule: usize,
    events: VecDeque<Event>,
    attempts: u32,
    next_attempt_ms: u64,
    /// Token and deadline of the attempt in flight.
    in_flight: Option<(u64, u64)>,
}

/// Bytes an event costs while held: its fields and samples, and its box's place in a batch
/// (queue slots are charged with their queue's capacity).
fn event_bytes(event: &MaliciousEvent) -> usize {
    size_of::<MaliciousEvent>() + event.heap_bytes() + size_of::<Event>()
}

/// One sink's outbox.
#[derive(Debug, Clone)]
pub struct Outbox {
    cfg: Arc<Config>,
    /// Which sink of `cfg` this outbox delivers to.
    sink: usize,
    /// Events not yet in a batch, per rule, oldest first, with their arrival number.
    queues: Vec<VecDeque<(u64, Event)>>,
    queued: usize,
    arrivals: u64,
    /// Formed batches by creation number: in flight or waiting for an attempt.
    batches: BTreeMap<u64, Batch>,
    /// Batches not in flight, by creation number (the oldest events are in the first).
    waiting: BTreeSet<u64>,
    /// Batches not in flight, by next attempt time.
    due: BTreeSet<(u64, u64)>,
    /// Attempts in flight by deadline: (deadline, token) -> batch number.
    deadlines: BTreeMap<(u64, u64), u64>,
    /// Token -> deadline, for reports.
    tokens: BTreeMap<u64, u64>,
    /// Events in the queues and in batches; bounded by `queue_capacity` and the budget.
    held: usize,
    budget: Budget,
    next_flush_ms: Option<u64>,
    flushing: bool,
    rng: u64,
    instance: u64,
    batch_seq: u64,
    /// Batches' keys in `batches`, in creation order (imported ones included).
    batch_numbers: u64,
    token_seq: u64,
    /// Changes whenever the set of held events or their batches changes.
    version: u64,
    /// What this outbox counts (events and deliveries); see [`Outbox::metrics`].
    counts: Metrics,
}

impl Outbox {
    /// An outbox of sink `sink` (0: `webhook`) holding at most `budget_bytes` of events.
    pub fn new(cfg: Arc<Config>, sink: usize, seed: u64, budget_bytes: usize) -> Self {
        let mut rng = seed ^ 0x0B0C_5EED;
        let instance = splitmix64(&mut rng);
        Outbox {
            queues: vec![VecDeque::new(); cfg.filter_count()],
            cfg,
            sink,
            queued: 0,
            arrivals: 0,
            batches: BTreeMap::new(),
            waiting: BTreeSet::new(),
            due: BTreeSet::new(),
            deadlines: BTreeMap::new(),
            tokens: BTreeMap::new(),
            held: 0,
            budget: Budget::new(budget_bytes),
            next_flush_ms: None,
            flushing: false,
            rng,
            instance,
            batch_seq: 0,
            batch_numbers: 0,
            token_seq: 0,
            version: 0,
            counts: Metrics::default(),
        }
    }

    /// The sink's settings.
    pub fn sink(&self) -> &WebhookConfig {
        sink_of(&self.cfg, self.sink)
    }

    /// Events accepted and not yet delivered or dropped.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Bytes of the events held.
    pub fn bytes(&self) -> usize {
        self.budget.used
    }

    /// What this outbox counted, with the events it holds and their bytes.
    pub fn metrics(&self) -> Metrics {
        let mut m = self.counts;
        m.events_queued = self.held as u64;
        m.memory_bytes = self.bytes() as u64;
        m
    }

    /// Changes whenever held events or their batches change: what [`Outbox::export`] writes.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Accepts an event; when full (`queue_capacity` events or the byte budget), the oldest
    /// event not in flight makes room (counted). An event larger than the whole budget, or one
    /// that finds everything held in flight, is the one dropped (counted).
    pub fn push(&mut self, now_ms: u64, rule: usize, event: MaliciousEvent) {
        let bytes = event_bytes(&event);
        let Some(queue_growth) = self.queues.get(rule).map(growth_bytes) else {
            self.counts.events_dropped += 1;
            return;
        };
        while self.held >= self.sink().queue_capacity || !self.budget.fits(bytes + queue_growth) {
            if !self.drop_oldest() {
                self.counts.events_dropped += 1;
                return;
            }
        }
        self.arrivals += 1;
        if let Some(q) = self.queues.get_mut(rule) {
            let before = q.capacity();
            q.push_back((self.arrivals, Box::new(event)));
            let slot = size_of::<(u64, Event)>();
            self.budget.resize(before * slot, q.capacity() * slot);
        }
        self.budget.charge(bytes);
        self.queued += 1;
        self.held += 1;
        self.version += 1;
        if self.sink().mode == DeliveryMode::Periodic && self.next_flush_ms.is_none() {
            self.next_flush_ms =
                Some(now_ms.saturating_add(self.sink().run_every_secs.saturating_mul(1000)));
        }
    }

    /// Drops the oldest held event not in flight: the first of the oldest waiting batch, else
    /// the oldest queued one. O(log n).
    fn drop_oldest(&mut self) -> bool {
        if let Some(&seq) = self.waiting.first() {
            let Some(batch) = self.batches.get_mut(&seq) else {
                self.waiting.remove(&seq);
                return true;
            };
            let event = batch.events.pop_front();
            let (empty, next) = (batch.events.is_empty(), batch.next_attempt_ms);
            if let Some(event) = event {
                self.release(&event);
            }
            if empty {
                self.batches.remove(&seq);
                self.waiting.remove(&seq);
                self.due.remove(&(next, seq));
            }
            self.counts.events_dropped += 1;
            return true;
        }
        let oldest = self
            .queues
            .iter()
            .enumerate()
            .filter_map(|(rule, q)| q.front().map(|(arrival, _)| (*arrival, rule)))
            .min();
        let Some((_, rule)) = oldest else {
            return false;
        };
        if let Some((_, event)) = self.queues.get_mut(rule).and_then(VecDeque::pop_front) {
            self.queued -= 1;
            self.release(&event);
            self.counts.events_dropped += 1;
            return true;
        }
        false
    }

    /// Forgets one held event's bytes (its queue slot stays with the queue's capacity).
    fn release(&mut self, event: &MaliciousEvent) {
        self.version += 1;
        self.held -= 1;
        self.budget.release(event_bytes(event));
    }

    /// The next POST to send, if one is due.
    pub fn poll(&mut self, now_ms: u64) -> Option<Delivery> {
        self.expire_lost_attempts(now_ms);
        if self.tokens.len() >= self.sink().max_in_flight {
            return None;
        }
        if let Some(&(at, seq)) = self.due.first() {
            if at <= now_ms {
                return self.attempt(seq, now_ms);
            }
        }
        if self.queued == 0 {
            self.flushing = false;
            return None;
        }
        let due = match self.sink().mode {
            DeliveryMode::Instant => true,
            DeliveryMode::Periodic => {
                self.flushing || self.next_flush_ms.is_some_and(|t| t <= now_ms)
            }
        };
        if !due {
            return None;
        }
        if !self.flushing {
            self.flushing = true;
            self.next_flush_ms = None;
        }
        let seq = self.form_batch(now_ms)?;
        let delivery = self.attempt(seq, now_ms);
        if self.queued == 0 {
            self.flushing = false;
        }
        delivery
    }

    /// Sends everything queued now, whatever the mode (end of a replay, shutdown).
    pub fn flush_now(&mut self) {
        if self.queued > 0 {
            self.flushing = true;
            self.next_flush_ms = None;
        }
    }

    /// A batch of up to `batch_size` events of the rule whose queued event is oldest.
    fn form_batch(&mut self, now_ms: u64) -> Option<u64> {
        let (_, rule) = self
            .queues
            .iter()
            .enumerate()
            .filter_map(|(rule, q)| q.front().map(|(arrival, _)| (*arrival, rule)))
            .min()?;
        let batch_size = self.sink().batch_size;
        let queue = self.queues.get_mut(rule)?;
        let take = batch_size.min(queue.len());
        let events: VecDeque<Event> = queue.drain(..take).map(|(_, e)| e).collect();
        self.queued -= events.len();
        self.batch_seq += 1;
        let id = format!("{:016x}-{:08x}", self.instance, self.batch_seq);
        Some(self.add_batch(id, rule, events, now_ms))
    }

    fn add_batch(&mut self, id: String, rule: usize, events: VecDeque<Event>, now_ms: u64) -> u64 {
        self.batch_numbers += 1;
        self.version += 1;
        let seq = self.batch_numbers;
        self.batches.insert(
            seq,
            Batch {
                id,
                rule,
                events,
                attempts: 0,
                next_attempt_ms: now_ms,
                in_flight: None,
            },
        );
        self.waiting.insert(seq);
        self.due.insert((now_ms, seq));
        seq
    }

    fn attempt(&mut self, seq: u64, now_ms: u64) -> Option<Delivery> {
        self.token_seq += 1;
        let token = self.token_seq * TOKEN_STRIDE + self.sink as u64;
        let cfg = sink_of(&self.cfg, self.sink);
        let batch = self.batches.get_mut(&seq)?;
        let deadline = now_ms
            .saturating_add(cfg.timeout_ms)
            .saturating_add(LOST_ATTEMPT_GRACE_MS);
        self.due.remove(&(batch.next_attempt_ms, seq));
        self.waiting.remove(&seq);
        batch.attempts += 1;
        batch.in_flight = Some((token, deadline));
        self.deadlines.insert((deadline, token), seq);
        self.tokens.insert(token, deadline);
        self.counts.deliveries_sent += 1;
        if batch.attempts > 1 {
            self.counts.deliveries_retried += 1;
        }
        let filter = self.cfg.filter(batch.rule);
        let body = format::body(&self.cfg, cfg, batch.rule, &batch.events);
        let mut headers = cfg.headers.clone();
        headers.push((DELIVERY_HEADER.to_string(), batch.id.clone()));
        if let Some(secret) = &cfg.hmac_secret {
            headers.push((
                SIGNATURE_HEADER.to_string(),
                sign(secret.as_bytes(), now_ms / 1000, &body),
            ));
        }
        Some(Delivery {
            token,
            sink: cfg.name.clone(),
            cluster: cfg.cluster.clone(),
            delivery_id: batch.id.clone(),
            url: cfg.url.clone(),
            authority: cfg.authority.clone(),
            path: cfg.path.clone(),
            headers,
            body,
            timeout_ms: cfg.timeout_ms,
            attempt: batch.attempts,
            events: batch.events.len(),
            filter_id: filter.map(|(id, _, _)| id.to_string()).unwrap_or_default(),
            ref_ids: batch
                .events
                .iter()
                .map(|e| e.ref_id.clone().unwrap_or_default())
                .collect(),
        })
    }

    fn expire_lost_attempts(&mut self, now_ms: u64) {
        while let Some((&(deadline, token), _)) = self.deadlines.first_key_value() {
            if deadline > now_ms {
                break;
            }
            self.report(token, false, now_ms);
        }
    }

    /// The host's outcome for the attempt `token`: success (2xx) or failure (anything else,
    /// including timeouts and refused connections). Unknown or stale tokens are ignored.
    pub fn report(&mut self, token: u64, success: bool, now_ms: u64) {
        let Some(deadline) = self.tokens.remove(&token) else {
            return;
        };
        let Some(seq) = self.deadlines.remove(&(deadline, token)) else {
            return;
        };
        if success {
            if let Some(b) = self.batches.remove(&seq) {
                self.counts.deliveries_succeeded += 1;
                self.counts.events_delivered += b.events.len() as u64;
                b.events.iter().for_each(|e| self.release(e));
            }
            return;
        }
        self.counts.deliveries_failed += 1;
        let max_retries = self.sink().max_retries;
        let random = splitmix64(&mut self.rng);
        let Some(b) = self.batches.get_mut(&seq) else {
            return;
        };
        if b.attempts > max_retries {
            if let Some(b) = self.batches.remove(&seq) {
                self.counts.deliveries_abandoned += 1;
                self.counts.events_dropped += b.events.len() as u64;
                b.events.iter().for_each(|e| self.release(e));
            }
            return;
        }
        b.in_flight = None;
        b.next_attempt_ms = now_ms.saturating_add(retry_delay_ms(b.attempts, random));
        self.due.insert((b.next_attempt_ms, seq));
        self.waiting.insert(seq);
    }

    /// When the host should call [`Outbox::poll`] next, if anything is pending.
    pub fn next_wakeup(&self) -> Option<u64> {
        let mut next = self.deadlines.first_key_value().map(|(&(d, _), _)| d);
        let mut consider = |t: u64| next = Some(next.map_or(t, |n| n.min(t)));
        if self.tokens.len() >= self.sink().max_in_flight {
            return next;
        }
        if let Some(&(at, _)) = self.due.first() {
            consider(at);
        }
        if self.queued > 0 {
            match self.sink().mode {
                DeliveryMode::Instant => consider(0),
                DeliveryMode::Periodic if self.flushing => consider(0),
                DeliveryMode::Periodic => {
                    if let Some(t) = self.next_flush_ms {
                        consider(t)
                    }
                }
            }
        }
        next
    }
}

/// Bytes a queue's next push allocates beside its current storage, if it must grow.
fn growth_bytes(q: &VecDeque<(u64, Event)>) -> usize {
    if q.len() < q.capacity() {
        0
    } else {
        (q.capacity() * 2).max(4) * size_of::<(u64, Event)>()
    }
}

/// Sink `index` of `cfg` (`webhook` if it has no such sink: outboxes are only made for sinks).
fn sink_of(cfg: &Config, index: usize) -> &WebhookConfig {
    cfg.sink(index).unwrap_or(&cfg.webhook)
}
