//! A counter shard: the detection engine for the actors that hash to it. Its events stay here
//! until the hub has acknowledged them (in storage too once a POST to the hub failed), and are
//! sent again with the next request or on the alarm, with backoff. Its counting state is saved
//! in batches, about a second after it first changes, and restored when the object starts, so
//! that an evicted shard's actors count on. Its counters go to the hub with every POST.

use crate::report::{self, Counters, Report};
use crate::{load_config, now_ms, seed, shard_of, store, test_switch, Detected, ToHub, HUB_NAME};
use actorwatch_core::memory::Shares;
use actorwatch_core::{hex, retry_delay_ms, Engine};
use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;
use worker::*;

/// The waits before each retry of a delta its shard did not take (ms): three attempts.
const DELTA_RETRY_MS: [u64; 2] = [100, 400];
/// The counting state is saved this long after it first changes: one batch of writes, not one
/// per request.
pub const SAVE_AFTER_MS: u64 = 1_000;
/// Delta ids a shard remembers, so that a delta sent again after a lost answer counts once.
const REMEMBERED_DELTAS: usize = 4_096;
/// Storage names (`store`) of the counting state and of the events the hub has not taken.
const STATE: &str = "state";
const PENDING: &str = "pending";
/// Test-only: a shard answers 503 to this many deltas before taking any (README).
const REFUSE_FIRST: &str = "ACTORWATCH_TEST_SHARD_REFUSE_FIRST";
const DELTA_ID_HEADER: &str = "x-actorwatch-delta";

/// Hands one worker delta to the shard that counts `actor`: up to three attempts, a short
/// backoff between them, the same delta id on each (the shard counts it once). `Err` after the
/// last failed attempt: the caller counts the delta's records as lost.
pub async fn send(env: &Env, actor: &str, delta: Vec<u8>) -> Result<()> {
    let name = format!("shard-{}", shard_of(actor));
    let id = format!("{:016x}", seed());
    let mut waits = DELTA_RETRY_MS.iter();
    loop {
        let error = match send_once(env, &name, &id, &delta).await {
            Ok(204) => return Ok(()),
            Ok(status @ 400..=499) => {
                // Malformed: the shard counted it (`deltas_rejected`); sending it again cannot help.
                console_error!("actorwatch: {name} refused a delta ({status})");
                return Ok(());
            }
            Ok(status) => Error::RustError(format!("{name} answered {status}")),
            Err(e) => e,
        };
        let Some(&wait) = waits.next() else {
            return Err(Error::RustError(format!(
                "{} attempts: {error}",
                DELTA_RETRY_MS.len() + 1
            )));
        };
        Delay::from(Duration::from_millis(wait)).await;
    }
}

async fn send_once(env: &Env, name: &str, id: &str, delta: &[u8]) -> Result<u16> {
    let stub = env
        .durable_object("COUNTERS")?
        .id_from_name(name)?
        .get_stub()?;
    let headers = Headers::new();
    headers.set(DELTA_ID_HEADER, id)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(js_sys::Uint8Array::from(delta).into()));
    let resp = stub
        .fetch_with_request(Request::new_with_init("https://shard/record", &init)?)
        .await?;
    Ok(resp.status_code())
}

/// POSTs one message to the hub; `Err` unless it answered 2xx.
async fn post_to_hub(env: &Env, body: String) -> Result<()> {
    let stub = env
        .durable_object("HUB")?
        .id_from_name(HUB_NAME)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let resp = stub
        .fetch_with_request(Request::new_with_init("https://hub/events", &init)?)
        .await?;
    match resp.status_code() {
        200..=299 => Ok(()),
        status => Err(Error::RustError(format!("hub answered {status}"))),
    }
}

/// What storage held when the object started.
#[derive(Default)]
struct Stored {
    state: Option<(store::Head, Vec<u8>)>,
    pending: Option<(store::Head, Vec<u8>)>,
}

/// What one POST to the hub carried, to forget on its acknowledgement.
struct Sent {
    ref_ids: HashSet<String>,
    generation: u64,
    version: u64,
}

/// The engine and everything that must reach the hub.
struct Shard {
    config_text: String,
    engine: Engine,
    /// Totals of this shard's earlier engines (earlier objects, earlier configurations).
    base: Counters,
    /// Events the hub has not acknowledged, oldest first, with their approximate bytes.
    pending: VecDeque<(Detected, usize)>,
    pending_bytes: usize,
    max_pending: usize,
    max_pending_bytes: usize,
    /// Bumped whenever `pending` changes.
    pending_version: u64,
    /// Events dropped because `pending` was full (counted in `events_dropped`).
    dropped: u64,
    /// Snapshots saved by this engine (`state_saves`).
    saves: u64,
    published_generation: u64,
    /// When the counting state first changed after the last save.
    dirty_since: Option<u64>,
    /// Bumped whenever the counters change; the hub has them up to `reported_version`.
    version: u64,
    reported_version: u64,
    report_seq: u64,
    /// Failed POSTs to the hub in a row, and when to try again.
    failures: u32,
    retry_at: u64,
    remembered: VecDeque<String>,
    remembered_set: HashSet<String>,
    refusals_left: u64,
}

impl Shard {
    fn new(config_text: String, engine: Engine, refusals_left: u64) -> Self {
        let cfg = engine.config();
        let max_pending = cfg.webhook.queue_capacity;
        // The share an engine that delivers would give its outbox.
        let max_pending_bytes = Shares::of(cfg.max_memory_bytes()).outbox;
        Shard {
            config_text,
            engine,
            base: Counters::new(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            max_pending,
            max_pending_bytes,
            pending_version: 0,
            dropped: 0,
            saves: 0,
            published_generation: 0,
            dirty_since: None,
            version: 0,
            reported_version: 0,
            report_seq: 0,
            failures: 0,
            retry_at: 0,
            remembered: VecDeque::new(),
            remembered_set: HashSet::new(),
            refusals_left,
        }
    }

    /// This shard's counters: the engine's, its earlier engines' totals, and its own: events
    /// dropped because `pending` was full (`events_dropped`), snapshots saved (`state_saves`),
    /// and whether the state changed since the last one (`state_unsaved`, 0 or 1).
    fn counters(&self) -> Counters {
        let mut c = report::counters_of(&self.engine.metrics());
        report::add(&mut c, &self.base);
        let mut add = |name: &str, value: u64| {
            let slot = c.entry(name.to_string()).or_insert(0);
            *slot = slot.saturating_add(value);
        };
        add("events_dropped", self.dropped);
        add("state_saves", self.saves);
        add("state_unsaved", u64::from(self.dirty_since.is_some()));
        c
    }

    /// Takes the engine's new detections into `pending`; returns how many.
    fn take_detections(&mut self) -> usize {
        let detections = self.engine.drain_detections();
        let n = detections.len();
        for d in detections {
            self.hold(Detected {
                rule: d.rule,
                event: d.event,
            });
        }
        n
    }

    /// Keeps an event for the hub; when full, the oldest one makes room (counted).
    fn hold(&mut self, d: Detected) {
        let bytes = serde_json::to_string(&d.event).map_or(0, |s| s.len()) + 64;
        while !self.pending.is_empty()
            && (self.pending.len() >= self.max_pending
                || self.pending_bytes + bytes > self.max_pending_bytes)
        {
            if let Some((_, b)) = self.pending.pop_front() {
                self.pending_bytes -= b;
            }
            self.dropped += 1;
        }
        if bytes > self.max_pending_bytes {
            self.dropped += 1;
        } else {
            self.pending.push_back((d, bytes));
            self.pending_bytes += bytes;
        }
        self.pending_version += 1;
    }

    /// Whether a delta id is new (then it is remembered).
    fn remember(&mut self, id: String) -> bool {
        if self.remembered_set.contains(&id) {
            return false;
        }
        if self.remembered.len() >= REMEMBERED_DELTAS {
            if let Some(old) = self.remembered.pop_front() {
                self.remembered_set.remove(&old);
            }
        }
        self.remembered_set.insert(id.clone());
        self.remembered.push_back(id);
        true
    }

    fn changed(&mut self, now: u64) {
        self.version += 1;
        self.dirty_since.get_or_insert(now);
    }

    fn blocks_unpublished(&self) -> bool {
        self.engine.blocklist().generation() != self.published_generation
    }

    /// Something the hub has not acknowledged: events, blocks or counters.
    fn owes_hub(&self) -> bool {
        !self.pending.is_empty()
            || self.blocks_unpublished()
            || self.version != self.reported_version
    }

    /// Whether a POST to the hub may go now (not while backing off after a failure).
    fn may_post(&self, now: u64) -> bool {
        self.failures == 0 || now >= self.retry_at
    }

    /// The next POST: every unacknowledged event, the blocklist if it changed, the counters.
    fn message(&mut self, now: u64, shard: &str) -> (String, Sent) {
        self.report_seq += 1;
        let generation = self.engine.blocklist().generation();
        let blocks = (generation != self.published_generation)
            .then(|| hex::encode(&self.engine.blocklist().encode(now)));
        let counters = self.counters();
        let events: Vec<Detected> = self.pending.iter().map(|(d, _)| d.clone()).collect();
        let sent = Sent {
            ref_ids: events
                .iter()
                .filter_map(|d| d.event.ref_id.clone())
                .collect(),
            generation,
            version: self.version,
        };
        let body = ToHub {
            shard: shard.to_string(),
            events,
            blocks,
            report: Some(Report {
                at_ms: now,
                seq: self.report_seq,
                counters,
            }),
        };
        (serde_json::to_string(&body).unwrap_or_default(), sent)
    }

    fn acknowledged(&mut self, sent: &Sent) {
        let before = self.pending.len();
        self.pending.retain(|(d, _)| {
            !d.event
                .ref_id
                .as_ref()
                .is_some_and(|id| sent.ref_ids.contains(id))
        });
        if self.pending.len() != before {
            self.pending_bytes = self.pending.iter().map(|(_, b)| b).sum();
            self.pending_version += 1;
        }
        self.published_generation = sent.generation;
        self.reported_version = self.reported_version.max(sent.version);
        self.failures = 0;
    }

    fn failed(&mut self, now: u64) {
        self.failures = self.failures.saturating_add(1);
        self.retry_at = now.saturating_add(retry_delay_ms(self.failures, seed()));
    }

    /// When the alarm should next fire: the pending save, the next retry.
    fn next_alarm(&self) -> Option<u64> {
        let save = self.dirty_since.map(|t| t + SAVE_AFTER_MS);
        let retry = (self.failures > 0 && self.owes_hub()).then_some(self.retry_at);
        match (save, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[durable_object]
pub struct CounterShard {
    state: State,
    env: Env,
    name: String,
    /// What storage held at start, taken by the first engine.
    stored: Rc<RefCell<Option<Stored>>>,
    shard: RefCell<Option<Shard>>,
    state_head: RefCell<store::Head>,
    pending_head: RefCell<store::Head>,
    /// The `pending_version` storage holds (`None`: storage holds no events).
    pending_stored: Cell<Option<u64>>,
    /// A POST to the hub failed since the last success: storage should hold the events.
    keep_pending: Cell<bool>,
    pending_saving: Cell<bool>,
    alarm_at: Cell<Option<u64>>,
}

/// A blob from storage, or nothing (logged) when it cannot be read: the shard starts afresh.
async fn load_or_log(storage: &Storage, name: &str) -> Option<(store::Head, Vec<u8>)> {
    store::load(storage, name).await.unwrap_or_else(|e| {
        console_error!("actorwatch: a counter shard could not read its {name}: {e}");
        None
    })
}

impl CounterShard {
    /// The engine for the current configuration: on first use, restored from storage; when
    /// the configuration changed, carrying the state, events and counters over.
    fn ready(&self, now: u64) -> std::result::Result<(), String> {
        let text = self
            .env
            .var("ACTORWATCH_CONFIG")
            .map(|v| v.to_string())
            .unwrap_or_default();
        let mut slot = self.shard.borrow_mut();
        if slot.as_ref().is_some_and(|s| s.config_text == text) {
            return Ok(());
        }
        let cfg = load_config(&self.env)?;
        let refusals = test_switch(&self.env, REFUSE_FIRST)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut fresh = Shard::new(text, Engine::detector_only(cfg, seed()), refusals);
        if let Some(old) = slot.take() {
            if let Err(e) = fresh.engine.import_state(&old.engine.export_state(now)) {
                console_warn!("actorwatch: new rules, counting starts afresh ({e})");
            }
            fresh.base = report::totals_only(&old.counters());
            fresh.refusals_left = old.refusals_left;
            fresh.report_seq = old.report_seq;
            fresh.version = old.version + 1;
            for (d, _) in old.pending {
                fresh.hold(d);
            }
            fresh.dirty_since = Some(now);
        } else if let Some(stored) = self.stored.borrow_mut().take() {
            if let Some((head, bytes)) = stored.state {
                if let Err(e) = fresh.engine.import_state(&bytes) {
                    console_warn!("actorwatch: saved counting state not restored, counting starts afresh ({e})");
                }
                fresh.base = head
                    .meta
                    .as_deref()
                    .and_then(|m| serde_json::from_str::<Counters>(m).ok())
                    .map(|c| report::totals_only(&c))
                    .unwrap_or_default();
                *self.state_head.borrow_mut() = head;
            }
            if let Some((head, bytes)) = stored.pending {
                let text = String::from_utf8(bytes).unwrap_or_default();
                let events: Vec<Detected> = serde_json::from_str(&text).unwrap_or_default();
                for d in events {
                    fresh.hold(d);
                }
                // Sent again at once; storage keeps them until the hub has them.
                fresh.failures = 1;
                fresh.retry_at = now;
                self.pending_stored.set(Some(fresh.pending_version));
                self.keep_pending.set(true);
                *self.pending_head.borrow_mut() = head;
            }
        }
        *slot = Some(fresh);
        Ok(())
    }

    /// Sets the alarm for the next save or retry, if that is earlier than the one set.
    async fn reschedule(&self) -> Result<()> {
        let next = self.shard.borrow().as_ref().and_then(Shard::next_alarm);
        let Some(at) = next else {
            return Ok(());
        };
        if self.alarm_at.get().is_some_and(|set| set <= at) {
            return Ok(());
        }
        let when = at.max(now_ms() + 1);
        self.state
            .storage()
            .set_alarm(ScheduledTime::new(js_sys::Date::new(&(when as f64).into())))
            .await?;
        self.alarm_at.set(Some(at));
        Ok(())
    }

    /// Saves the counting state and the counters, if the state changed at least
    /// `SAVE_AFTER_MS` ago.
    async fn save_state(&self) -> Result<()> {
        let now = now_ms();
        let job = self.shard.borrow_mut().as_mut().and_then(|s| {
            let since = s.dirty_since?;
            if since + SAVE_AFTER_MS > now {
                return None;
            }
            s.dirty_since = None;
            let mut totals = report::totals_only(&s.counters());
            *totals.entry("state_saves".into()).or_insert(0) += 1;
            let meta = serde_json::to_string(&totals).unwrap_or_default();
            Some((s.engine.export_state(now), meta, since))
        });
        let Some((bytes, meta, since)) = job else {
            return Ok(());
        };
        let head = self.state_head.borrow().clone();
        let saved = store::save(&self.state.storage(), STATE, &head, &bytes, Some(meta)).await;
        let mut slot = self.shard.borrow_mut();
        match saved {
            Ok((next, _)) => {
                *self.state_head.borrow_mut() = next;
                if let Some(s) = slot.as_mut() {
                    s.saves += 1;
                    s.version += 1;
                }
                Ok(())
            }
            Err(e) => {
                if let Some(s) = slot.as_mut() {
                    s.dirty_since = Some(s.dirty_since.map_or(since, |t| t.min(since)));
                }
                Err(e)
            }
        }
    }

    /// Brings storage in line with what it should hold: the unacknowledged events after a
    /// failed POST, nothing once the hub has them. One save at a time.
    async fn sync_pending(&self) -> Result<()> {
        if self.pending_saving.replace(true) {
            return Ok(());
        }
        let result = self.sync_pending_now().await;
        self.pending_saving.set(false);
        result
    }

    async fn sync_pending_now(&self) -> Result<()> {
        let storage = self.state.storage();
        loop {
            let job = {
                let slot = self.shard.borrow();
                let Some(s) = slot.as_ref() else {
                    return Ok(());
                };
                let wanted = self.keep_pending.get() && !s.pending.is_empty();
                if wanted && self.pending_stored.get() != Some(s.pending_version) {
                    let events: Vec<&Detected> = s.pending.iter().map(|(d, _)| d).collect();
                    let bytes = serde_json::to_vec(&events).unwrap_or_default();
                    Some((s.pending_version, bytes))
                } else if !wanted && self.pending_stored.get().is_some() {
                    None
                } else {
                    return Ok(());
                }
            };
            let head = self.pending_head.borrow().clone();
            match job {
                Some((version, bytes)) => {
                    let (next, _) = store::save(&storage, PENDING, &head, &bytes, None).await?;
                    *self.pending_head.borrow_mut() = next;
                    self.pending_stored.set(Some(version));
                }
                None => {
                    store::clear(&storage, PENDING, &head).await?;
                    *self.pending_head.borrow_mut() = store::Head::default();
                    self.pending_stored.set(None);
                }
            }
        }
    }

    /// One POST to the hub with everything it has not acknowledged.
    async fn push(&self) -> Result<()> {
        let now = now_ms();
        let message = self
            .shard
            .borrow_mut()
            .as_mut()
            .map(|s| s.message(now, &self.name));
        let Some((body, sent)) = message else {
            return Ok(());
        };
        let outcome = post_to_hub(&self.env, body).await;
        let now = now_ms();
        if let Some(s) = self.shard.borrow_mut().as_mut() {
            match &outcome {
                Ok(()) => {
                    if s.failures > 0 {
                        console_log!(
                            "actorwatch: {}: the hub took {} event(s) after {} failed POST(s)",
                            self.name,
                            sent.ref_ids.len(),
                            s.failures
                        );
                    }
                    s.acknowledged(&sent);
                    // Events that came meanwhile go with the next POST (the save alarm's at the
                    // latest); storage needs to hold them only once a POST fails.
                    self.keep_pending.set(false);
                }
                Err(e) => {
                    s.failed(now);
                    self.keep_pending.set(true);
                    console_warn!(
                        "actorwatch: {}: the hub did not take {} event(s) (held, sent again in {} ms): {e}",
                        self.name,
                        sent.ref_ids.len(),
                        s.retry_at.saturating_sub(now)
                    );
                }
            }
        }
        self.sync_pending().await?;
        self.reschedule().await
    }
}

impl DurableObject for CounterShard {
    fn new(state: State, env: Env) -> Self {
        let id = state.id();
        let name = id.name().unwrap_or_else(|| id.to_string());
        let stored = Rc::new(RefCell::new(None));
        let slot = Rc::clone(&stored);
        let storage = state.storage();
        // No request or alarm reaches the object before its storage has been read.
        let _load = state.block_concurrency_while(async move {
            let loaded = Stored {
                state: load_or_log(&storage, STATE).await,
                pending: load_or_log(&storage, PENDING).await,
            };
            *slot.borrow_mut() = Some(loaded);
            Ok(())
        });
        CounterShard {
            state,
            env,
            name,
            stored,
            shard: RefCell::new(None),
            state_head: RefCell::new(store::Head::default()),
            pending_head: RefCell::new(store::Head::default()),
            pending_stored: Cell::new(None),
            keep_pending: Cell::new(false),
            pending_saving: Cell::new(false),
            alarm_at: Cell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let id = req.headers().get(DELTA_ID_HEADER)?;
        let delta = req.bytes().await?;
        let now = now_ms();
        if let Err(e) = self.ready(now) {
            return Response::error(e, 500);
        }
        let (applied, post) = {
            let mut slot = self.shard.borrow_mut();
            let Some(s) = slot.as_mut() else {
                return Response::error("no engine", 500);
            };
            if s.refusals_left > 0 {
                s.refusals_left -= 1;
                return Response::error(format!("refused ({REFUSE_FIRST})"), 503);
            }
            if let Some(id) = id {
                if !s.remember(id) {
                    // Sent again after its answer was lost: counted already.
                    return Ok(Response::empty()?.with_status(204));
                }
            }
            let applied = s.engine.apply_delta(now, &delta);
            let new_events = s.take_detections();
            s.changed(now);
            let post = s.may_post(now)
                && (new_events > 0 || s.blocks_unpublished() || (s.failures > 0 && s.owes_hub()));
            (applied, post)
        };
        if post {
            self.push().await?;
        } else {
            // While the hub fails, new events go to storage with the ones it has not taken.
            self.sync_pending().await?;
            self.reschedule().await?;
        }
        match applied {
            Ok(_) => Ok(Response::empty()?.with_status(204)),
            Err(e) => Response::error(format!("bad delta: {e}"), 400),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(None);
        if let Err(e) = self.ready(now_ms()) {
            console_error!("actorwatch: {e}");
            return Response::empty();
        }
        self.save_state().await?;
        let now = now_ms();
        let post = self
            .shard
            .borrow()
            .as_ref()
            .is_some_and(|s| s.owes_hub() && s.may_post(now));
        if post {
            self.push().await?;
        } else {
            self.reschedule().await?;
        }
        Response::empty()
    }
}
