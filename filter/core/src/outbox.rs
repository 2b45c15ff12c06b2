//! Events waiting for delivery: a bounded queue, batches of one filter each, retries with
//! exponential backoff and jitter under a stable delivery id.

use crate::config::{Config, DeliveryMode};
use crate::hash::splitmix64;
use crate::payload::{MaliciousEvent, PayloadRef};
use crate::signature::{sign, DELIVERY_HEADER, SIGNATURE_HEADER};
use std::collections::VecDeque;
use std::sync::Arc;

/// First retry waits about this long; each further one doubles it.
pub const RETRY_BASE_MS: u64 = 1_000;
/// No retry waits longer than this.
pub const RETRY_CAP_MS: u64 = 300_000;
/// How long past `timeout_ms` an attempt the host never reported on counts as failed.
pub const LOST_ATTEMPT_GRACE_MS: u64 = 5_000;

/// The wait before retry number `attempt` (1 = first retry): exponential, capped, with "equal
/// jitter" (between half and all of the exponential value) drawn from `random`.
pub fn retry_delay_ms(attempt: u32, random: u64) -> u64 {
    let exp = RETRY_BASE_MS
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
        .min(RETRY_CAP_MS);
    let half = exp / 2;
    half + random % (exp - half + 1)
}

/// One webhook POST the host should send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Identifies this attempt when the host reports its outcome.
    pub token: u64,
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
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxMetrics {
    pub events_queued: u64,
    pub events_delivered: u64,
    pub events_dropped: u64,
    pub deliveries_sent: u64,
    pub deliveries_succeeded: u64,
    pub deliveries_failed: u64,
    pub deliveries_retried: u64,
    pub deliveries_abandoned: u64,
}

#[derive(Debug, Clone)]
struct Queued {
    rule: usize,
    event: MaliciousEvent,
}

#[derive(Debug, Clone)]
struct Batch {
    id: String,
    rule: usize,
    events: Vec<MaliciousEvent>,
    body: Vec<u8>,
    attempts: u32,
    next_attempt_ms: u64,
    /// Token and deadline of the attempt in flight.
    in_flight: Option<(u64, u64)>,
}

#[derive(Debug, Clone)]
pub struct Outbox {
    cfg: Arc<Config>,
    queue: VecDeque<Queued>,
    /// Formed batches in creation order: in flight or waiting for a retry.
    batches: VecDeque<Batch>,
    /// Events in `queue` and `batches`; bounded by `queue_capacity`.
    held: usize,
    next_flush_ms: Option<u64>,
    flushing: bool,
    rng: u64,
    instance: u64,
    batch_seq: u64,
    token_seq: u64,
    pub metrics: OutboxMetrics,
}

impl Outbox {
    pub fn new(cfg: Arc<Config>, seed: u64) -> Self {
        let mut rng = seed ^ 0x0B0C_5EED;
        let instance = splitmix64(&mut rng);
        Outbox {
            cfg,
            queue: VecDeque::new(),
            batches: VecDeque::new(),
            held: 0,
            next_flush_ms: None,
            flushing: false,
            rng,
            instance,
            batch_seq: 0,
            token_seq: 0,
            metrics: OutboxMetrics::default(),
        }
    }

    /// Events accepted and not yet delivered or dropped.
    pub fn held(&self) -> usize {
        self.held
    }

    fn in_flight(&self) -> usize {
        self.batches
            .iter()
            .filter(|b| b.in_flight.is_some())
            .count()
    }

    /// Accepts an event; when full, the oldest event not in flight makes room (counted).
    pub fn push(&mut self, now_ms: u64, rule: usize, event: MaliciousEvent) {
        if self.held >= self.cfg.webhook.queue_capacity && !self.drop_oldest() {
            // Everything held is in flight: the new event is the one that cannot be kept.
            self.metrics.events_dropped += 1;
            return;
        }
        self.queue.push_back(Queued { rule, event });
        self.held += 1;
        self.metrics.events_queued = self.held as u64;
        if self.cfg.webhook.mode == DeliveryMode::Periodic && self.next_flush_ms.is_none() {
            self.next_flush_ms =
                Some(now_ms.saturating_add(self.cfg.webhook.run_every_secs * 1000));
        }
    }

    fn drop_oldest(&mut self) -> bool {
        let waiting = self.batches.iter().position(|b| b.in_flight.is_none());
        if let Some(i) = waiting {
            let rebuild = match self.batches.get_mut(i) {
                Some(b) if b.events.len() > 1 => {
                    b.events.remove(0);
                    true
                }
                _ => false,
            };
            if rebuild {
                if let Some(b) = self.batches.get_mut(i) {
                    b.body = body_of(&self.cfg, b.rule, &b.events);
                }
            } else {
                self.batches.remove(i);
            }
        } else if self.queue.pop_front().is_none() {
            return false;
        }
        self.held -= 1;
        self.metrics.events_dropped += 1;
        true
    }

    /// The next POST to send, if one is due.
    pub fn poll(&mut self, now_ms: u64) -> Option<Delivery> {
        self.expire_lost_attempts(now_ms);
        if self.in_flight() >= self.cfg.webhook.max_in_flight {
            return None;
        }
        let retry = self
            .batches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.in_flight.is_none() && b.next_attempt_ms <= now_ms)
            .min_by_key(|(_, b)| b.next_attempt_ms)
            .map(|(i, _)| i);
        if let Some(i) = retry {
            return self.attempt(i, now_ms);
        }
        if self.queue.is_empty() {
            self.flushing = false;
            return None;
        }
        let due = match self.cfg.webhook.mode {
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
        self.form_batch(now_ms);
        let last = self.batches.len().checked_sub(1)?;
        let delivery = self.attempt(last, now_ms);
        if self.queue.is_empty() {
            self.flushing = false;
        }
        delivery
    }

    /// Sends everything queued now, whatever the mode (end of a replay, shutdown).
    pub fn flush_now(&mut self) {
        if !self.queue.is_empty() {
            self.flushing = true;
            self.next_flush_ms = None;
        }
    }

    fn form_batch(&mut self, now_ms: u64) {
        let Some(rule) = self.queue.front().map(|q| q.rule) else {
            return;
        };
        let limit = self.cfg.webhook.batch_size;
        let mut events = Vec::with_capacity(limit.min(self.queue.len()));
        let mut rest = VecDeque::with_capacity(self.queue.len());
        for q in self.queue.drain(..) {
            if q.rule == rule && events.len() < limit {
                events.push(q.event);
            } else {
                rest.push_back(q);
            }
        }
        self.queue = rest;
        self.batch_seq += 1;
        let body = body_of(&self.cfg, rule, &events);
        self.batches.push_back(Batch {
            id: format!("{:016x}-{:08x}", self.instance, self.batch_seq),
            rule,
            events,
            body,
            attempts: 0,
            next_attempt_ms: now_ms,
            in_flight: None,
        });
    }

    fn attempt(&mut self, index: usize, now_ms: u64) -> Option<Delivery> {
        self.token_seq += 1;
        let token = self.token_seq;
        let cfg = &self.cfg.webhook;
        let batch = self.batches.get_mut(index)?;
        batch.attempts += 1;
        batch.in_flight = Some((token, now_ms + cfg.timeout_ms + LOST_ATTEMPT_GRACE_MS));
        self.metrics.deliveries_sent += 1;
        if batch.attempts > 1 {
            self.metrics.deliveries_retried += 1;
        }
        let mut headers = cfg.headers.clone();
        headers.push((DELIVERY_HEADER.to_string(), batch.id.clone()));
        if let Some(secret) = &cfg.hmac_secret {
            headers.push((
                SIGNATURE_HEADER.to_string(),
                sign(secret.as_bytes(), now_ms / 1000, &batch.body),
            ));
        }
        let filter_id = self
            .cfg
            .rules
            .get(batch.rule)
            .map(|r| r.id.clone())
            .unwrap_or_default();
        Some(Delivery {
            token,
            delivery_id: batch.id.clone(),
            url: cfg.url.clone(),
            authority: cfg.authority.clone(),
            path: cfg.path.clone(),
            headers,
            body: batch.body.clone(),
            timeout_ms: cfg.timeout_ms,
            attempt: batch.attempts,
            events: batch.events.len(),
            filter_id,
        })
    }

    fn expire_lost_attempts(&mut self, now_ms: u64) {
        let lost: Vec<u64> = self
            .batches
            .iter()
            .filter_map(|b| b.in_flight)
            .filter(|(_, deadline)| *deadline <= now_ms)
            .map(|(token, _)| token)
            .collect();
        for token in lost {
            self.report(token, false, now_ms);
        }
    }

    /// The host's outcome for the attempt `token`: success (2xx) or failure (anything else,
    /// including timeouts and refused connections). Unknown or stale tokens are ignored.
    pub fn report(&mut self, token: u64, success: bool, now_ms: u64) {
        let Some(i) = self
            .batches
            .iter()
            .position(|b| b.in_flight.is_some_and(|(t, _)| t == token))
        else {
            return;
        };
        if success {
            if let Some(b) = self.batches.remove(i) {
                self.metrics.deliveries_succeeded += 1;
                self.metrics.events_delivered += b.events.len() as u64;
                self.held -= b.events.len();
            }
        } else {
            self.metrics.deliveries_failed += 1;
            let max_retries = self.cfg.webhook.max_retries;
            let random = splitmix64(&mut self.rng);
            let give_up = match self.batches.get_mut(i) {
                Some(b) if b.attempts > max_retries => true,
                Some(b) => {
                    b.in_flight = None;
                    b.next_attempt_ms = now_ms + retry_delay_ms(b.attempts, random);
                    false
                }
                None => false,
            };
            if give_up {
                if let Some(b) = self.batches.remove(i) {
                    self.metrics.deliveries_abandoned += 1;
                    self.metrics.events_dropped += b.events.len() as u64;
                    self.held -= b.events.len();
                }
            }
        }
        self.metrics.events_queued = self.held as u64;
    }

    /// When the host should call [`Outbox::poll`] next, if anything is pending.
    pub fn next_wakeup(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        let mut consider = |t: u64| next = Some(next.map_or(t, |n| n.min(t)));
        let room = self.in_flight() < self.cfg.webhook.max_in_flight;
        for b in &self.batches {
            match b.in_flight {
                Some((_, deadline)) => consider(deadline),
                None if room => consider(b.next_attempt_ms),
                None => {}
            }
        }
        if !self.queue.is_empty() && room {
            match self.cfg.webhook.mode {
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

fn body_of(cfg: &Config, rule: usize, events: &[MaliciousEvent]) -> Vec<u8> {
    let Some(rule) = cfg.rules.get(rule) else {
        return Vec::new();
    };
    let payload = PayloadRef {
        malicious_events: events,
        overview: &rule.overview,
        remediation: &rule.remediation,
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}
