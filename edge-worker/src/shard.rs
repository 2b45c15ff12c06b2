//! A counter shard: the Durable Object that counts the actors that hash to it. The core's
//! `handoff::Sender` decides everything: the delta ids counted once, the events held until the
//! hub acknowledges them, when a POST to the hub is due and the backoff after a failed one, when
//! the counting state is due to be saved, when storage should hold the events too. This object
//! translates: deltas in, storage reads and writes, POSTs to the hub, the alarm.

use crate::{cached_config, now_ms, seed, shard_of, store, test_switch, HUB_NAME};
use actorwatch_core::handoff::{Applied, Message, Persist, Sender};
use actorwatch_core::ConfigCache;
use actorwatch_core::Metrics;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use worker::*;

/// The waits before each retry of a delta its shard did not take (ms): three attempts.
const DELTA_RETRY_MS: [u64; 2] = [100, 400];
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
async fn post_to_hub(env: &Env, message: &Message) -> Result<()> {
    let body = serde_json::to_string(message).map_err(|e| Error::RustError(e.to_string()))?;
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

#[durable_object]
pub struct CounterShard {
    state: State,
    env: Env,
    name: String,
    /// What storage held at start, taken by the first sender.
    stored: Rc<RefCell<Option<Stored>>>,
    config: RefCell<ConfigCache>,
    sender: RefCell<Option<Sender>>,
    state_head: RefCell<store::Head>,
    pending_head: RefCell<store::Head>,
    /// Test-only: deltas still to refuse (README).
    refusals_left: Cell<u64>,
    /// A write of the held events is under way (one at a time).
    persisting: Cell<bool>,
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
    /// The sender for the current configuration: on first use, restored from storage; when
    /// the configuration changed, counting on under the new one.
    fn ready(&self, now: u64) -> std::result::Result<(), String> {
        let (cfg, _) = cached_config(&mut self.config.borrow_mut(), &self.env);
        let cfg = cfg?;
        let mut slot = self.sender.borrow_mut();
        if let Some(sender) = slot.as_mut() {
            if !Arc::ptr_eq(sender.config(), &cfg) {
                if let Err(e) = sender.reconfigure(cfg, now) {
                    console_warn!("actorwatch: new rules, counting starts afresh ({e})");
                }
            }
            return Ok(());
        }
        let mut sender = Sender::new(cfg, seed());
        if let Some(stored) = self.stored.borrow_mut().take() {
            if let Some((head, bytes)) = stored.state {
                let totals: Metrics = head
                    .meta
                    .as_deref()
                    .and_then(|m| serde_json::from_str(m).ok())
                    .unwrap_or_default();
                if let Err(e) = sender.restore(&bytes, &totals) {
                    console_warn!("actorwatch: saved counting state not restored, counting starts afresh ({e})");
                }
                *self.state_head.borrow_mut() = head;
            }
            if let Some((head, bytes)) = stored.pending {
                // Sent again at once; storage keeps them until the hub has them.
                if let Err(e) = sender.restore_held(now, &bytes) {
                    console_error!("actorwatch: {}: stored events unreadable ({e})", self.name);
                }
                *self.pending_head.borrow_mut() = head;
            }
        }
        *slot = Some(sender);
        Ok(())
    }

    /// Sets the alarm for the sender's next wake-up, if that is earlier than the one set.
    async fn reschedule(&self) -> Result<()> {
        let next = self.sender.borrow().as_ref().and_then(Sender::next_wakeup);
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

    /// Writes the counting state and the counters, if a save is due.
    async fn save_state(&self) -> Result<()> {
        let save = self
            .sender
            .borrow_mut()
            .as_mut()
            .and_then(|s| s.poll_save(now_ms()));
        let Some(save) = save else {
            return Ok(());
        };
        let meta = serde_json::to_string(&save.totals).unwrap_or_default();
        let head = self.state_head.borrow().clone();
        let written =
            store::save(&self.state.storage(), STATE, &head, &save.state, Some(meta)).await;
        if let Ok((next, _)) = &written {
            *self.state_head.borrow_mut() = next.clone();
        }
        if let Some(s) = self.sender.borrow_mut().as_mut() {
            s.saved(&save, written.is_ok());
        }
        written.map(|_| ())
    }

    /// Brings storage in line with what the sender wants it to hold of its events. One write
    /// at a time.
    async fn persist(&self) -> Result<()> {
        if self.persisting.replace(true) {
            return Ok(());
        }
        let result = self.persist_now().await;
        self.persisting.set(false);
        result
    }

    async fn persist_now(&self) -> Result<()> {
        let storage = self.state.storage();
        loop {
            let job = self.sender.borrow().as_ref().and_then(Sender::poll_persist);
            let Some(job) = job else {
                return Ok(());
            };
            let head = self.pending_head.borrow().clone();
            let next = match &job {
                Persist::Write { bytes, .. } => {
                    store::save(&storage, PENDING, &head, bytes, None).await?.0
                }
                Persist::Delete => {
                    store::clear(&storage, PENDING, &head).await?;
                    store::Head::default()
                }
            };
            *self.pending_head.borrow_mut() = next;
            if let Some(s) = self.sender.borrow_mut().as_mut() {
                s.persisted(&job);
            }
        }
    }

    /// Sends the hub what is due (if anything), brings storage in line, sets the alarm.
    async fn flush(&self) -> Result<()> {
        let now = now_ms();
        let message = self
            .sender
            .borrow_mut()
            .as_mut()
            .and_then(|s| s.poll_message(now, &self.name));
        if let Some((message, receipt)) = message {
            let outcome = post_to_hub(&self.env, &message).await;
            let now = now_ms();
            if let Some(s) = self.sender.borrow_mut().as_mut() {
                match &outcome {
                    Ok(()) => {
                        if s.failures() > 0 {
                            console_log!(
                                "actorwatch: {}: the hub took {} event(s) after {} failed POST(s)",
                                self.name,
                                receipt.events(),
                                s.failures()
                            );
                        }
                        s.acknowledged(&receipt);
                    }
                    Err(e) => {
                        s.failed(now);
                        console_warn!(
                            "actorwatch: {}: the hub did not take {} event(s) (held, sent again in {} ms): {e}",
                            self.name,
                            receipt.events(),
                            s.retry_at().saturating_sub(now)
                        );
                    }
                }
            }
        }
        self.persist().await?;
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
        let refusals = test_switch(&env, REFUSE_FIRST)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        CounterShard {
            state,
            env,
            name,
            stored,
            config: RefCell::new(ConfigCache::default()),
            sender: RefCell::new(None),
            state_head: RefCell::new(store::Head::default()),
            pending_head: RefCell::new(store::Head::default()),
            refusals_left: Cell::new(refusals),
            persisting: Cell::new(false),
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
        if self.refusals_left.get() > 0 {
            self.refusals_left.set(self.refusals_left.get() - 1);
            return Response::error(format!("refused ({REFUSE_FIRST})"), 503);
        }
        let applied = match self.sender.borrow_mut().as_mut() {
            Some(s) => s.apply_delta(now, id.as_deref(), &delta),
            None => return Response::error("no sender", 500),
        };
        match applied {
            // Sent again after its answer was lost: counted already.
            Applied::Repeated => Ok(Response::empty()?.with_status(204)),
            Applied::Counted(_) => {
                self.flush().await?;
                Ok(Response::empty()?.with_status(204))
            }
            Applied::Malformed(e, _) => {
                self.flush().await?;
                Response::error(format!("bad delta: {e}"), 400)
            }
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(None);
        if let Err(e) = self.ready(now_ms()) {
            console_error!("actorwatch: {e}");
            return Response::empty();
        }
        self.save_state().await?;
        self.flush().await?;
        Response::empty()
    }
}
