//! The hub: one object that stores every event until its webhook POST succeeds, batches and
//! delivers them (alarms for periodic mode and retries), merges the shards' blocklists, and
//! keeps the counters each shard reports for `/metrics`.

use crate::report::{self, Counters, Report};
use crate::{load_config, now_ms, seed, test_switch, Detected, ToHub};
use actorwatch_core::{Blocklist, Engine};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet, VecDeque};
use worker::*;

/// refIds of delivered events the hub remembers, so that a shard's resend of an event whose
/// acknowledgement it missed is not delivered again.
const REMEMBERED_DELIVERED: usize = 4_096;
/// Test-only: `"<n>"` refuses the first n POSTs from shards before reading them; `"<n>
/// after-storing"` takes them (stores and queues their events) and then answers 503, as if the
/// answer were lost (README).
const FAIL_FIRST: &str = "ACTORWATCH_TEST_HUB_FAIL_FIRST";

struct Inner {
    config_text: String,
    engine: Engine,
    blocks: Blocklist,
    /// refIds of the events in storage (queued, in flight, or dropped until the queue empties).
    held: HashSet<String>,
    /// refIds delivered lately, oldest first.
    delivered: VecDeque<String>,
    delivered_set: HashSet<String>,
    /// The latest counters of each shard, by shard name.
    shards: BTreeMap<String, Report>,
    /// Totals of the hub's earlier engines (earlier objects, earlier configurations), and the
    /// totals last written to storage.
    base: Counters,
    saved: Counters,
    /// Test-only fault: POSTs still to fail, and whether after taking them.
    fail_left: u64,
    fail_after_storing: bool,
}

impl Inner {
    fn is_known(&self, ref_id: &str) -> bool {
        self.held.contains(ref_id) || self.delivered_set.contains(ref_id)
    }

    fn forget_delivered(&mut self, ref_id: &str) {
        self.held.remove(ref_id);
        if self.delivered_set.insert(ref_id.to_string()) {
            self.delivered.push_back(ref_id.to_string());
        }
        while self.delivered.len() > REMEMBERED_DELIVERED {
            if let Some(old) = self.delivered.pop_front() {
                self.delivered_set.remove(&old);
            }
        }
    }

    /// `/metrics`: the hub's counters with the shards' added (under the names every host
    /// exports), then `"hub"` (the hub's alone) and `"shards"` (each shard's latest report).
    fn counters(&self) -> Counters {
        let mut c = report::counters_of(&self.engine.metrics());
        report::add(&mut c, &self.base);
        c
    }

    fn metrics(&self) -> String {
        let hub = self.counters();
        let mut total = hub.clone();
        for r in self.shards.values() {
            report::add(&mut total, &r.counters);
        }
        let json = |c: &Counters| serde_json::to_string(c).unwrap_or_else(|_| "{}".into());
        let mut doc = json(&total);
        doc.pop();
        doc.push_str(",\"hub\":");
        doc.push_str(&json(&hub));
        doc.push_str(",\"shards\":{");
        for (n, (name, r)) in self.shards.iter().enumerate() {
            if n > 0 {
                doc.push(',');
            }
            doc.push_str(&serde_json::to_string(name).unwrap_or_default());
            doc.push(':');
            doc.push_str(&json(&r.counters));
        }
        doc.push_str("}}");
        doc
    }
}

#[durable_object]
pub struct Hub {
    state: State,
    env: Env,
    inner: RefCell<Option<Inner>>,
}

fn key_of(ref_id: &str) -> String {
    format!("ev:{ref_id}")
}

/// Where the hub's totals survive the object.
const COUNTERS_KEY: &str = "hub:counters";

fn shard_key(shard: &str) -> String {
    format!("shard:{shard}")
}

impl Hub {
    /// The engine, created on first use; events stored by an earlier instance are queued again
    /// (a POST that succeeded just before the object went away may be sent twice; `refId`
    /// identifies each event), and the shards' last counters are read back.
    async fn ensure(&self) -> Result<()> {
        let text = self
            .env
            .var("ACTORWATCH_CONFIG")
            .map(|v| v.to_string())
            .unwrap_or_default();
        if self
            .inner
            .borrow()
            .as_ref()
            .is_some_and(|i| i.config_text == text)
        {
            return Ok(());
        }
        let cfg = load_config(&self.env).map_err(Error::RustError)?;
        let mut engine = Engine::with_shared_config(std::sync::Arc::clone(&cfg), seed());
        let storage = self.state.storage();
        let stored = storage
            .list_with_options(ListOptions::new().prefix("ev:"))
            .await?;
        let now = now_ms();
        let mut held = HashSet::new();
        for value in stored.values() {
            let text = value?.as_string().unwrap_or_default();
            if let Ok(s) = serde_json::from_str::<Detected>(&text) {
                held.insert(s.event.ref_id.clone().unwrap_or_default());
                engine.enqueue_event(now, s.rule, s.event);
            }
        }
        let mut shards = BTreeMap::new();
        let reports = storage
            .list_with_options(ListOptions::new().prefix("shard:"))
            .await?;
        for entry in reports.entries() {
            let pair: js_sys::Array = entry?.into();
            let key = pair.get(0).as_string().unwrap_or_default();
            let text = pair.get(1).as_string().unwrap_or_default();
            if let (Some(name), Ok(r)) = (
                key.strip_prefix("shard:"),
                serde_json::from_str::<Report>(&text),
            ) {
                shards.insert(name.to_string(), r);
            }
        }
        let previous = self.inner.borrow_mut().take();
        let base = match &previous {
            Some(p) => report::totals_only(&p.counters()),
            None => storage
                .get::<String>(COUNTERS_KEY)
                .await?
                .and_then(|t| serde_json::from_str::<Counters>(&t).ok())
                .unwrap_or_default(),
        };
        let fault = test_switch(&self.env, FAIL_FIRST).unwrap_or_default();
        let mut words = fault.split_whitespace();
        let fail_left = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let fail_after_storing = words.next() == Some("after-storing");
        let requeued = !held.is_empty();
        *self.inner.borrow_mut() = Some(Inner {
            config_text: text,
            engine,
            blocks: Blocklist::new(
                seed(),
                cfg.max_actors,
                actorwatch_core::memory::Shares::of(cfg.max_memory_bytes()).blocklist,
            ),
            held,
            delivered: previous
                .as_ref()
                .map(|p| p.delivered.clone())
                .unwrap_or_default(),
            delivered_set: previous
                .as_ref()
                .map(|p| p.delivered_set.clone())
                .unwrap_or_default(),
            shards,
            saved: base.clone(),
            base,
            fail_left,
            fail_after_storing,
        });
        if requeued {
            // Events a recycled instance left behind: schedule their delivery now.
            self.deliver().await?;
        }
        Ok(())
    }

    /// Sends every due POST, records the outcomes, forgets delivered events, sets the alarm.
    async fn deliver(&self) -> Result<()> {
        loop {
            let now = now_ms();
            let next = self
                .inner
                .borrow_mut()
                .as_mut()
                .and_then(|i| i.engine.poll_delivery(now));
            let Some(d) = next else {
                break;
            };
            let headers = Headers::new();
            for (k, v) in &d.headers {
                headers.set(k, v)?;
            }
            let mut init = RequestInit::new();
            init.with_method(Method::Post)
                .with_headers(headers)
                .with_body(Some(js_sys::Uint8Array::from(d.body.as_slice()).into()));
            // The attempt gives up after `timeout_ms`, like Envoy's, and counts as failed.
            let timeout = u32::try_from(d.timeout_ms).unwrap_or(u32::MAX);
            let signal = AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(timeout));
            let status = match Fetch::Request(Request::new_with_init(&d.url, &init)?)
                .send_with_signal(&signal)
                .await
            {
                Ok(resp) => resp.status_code(),
                Err(e) => {
                    console_warn!("actorwatch: webhook delivery failed: {e}");
                    0
                }
            };
            let now = now_ms();
            if let Some(i) = self.inner.borrow_mut().as_mut() {
                i.engine.delivery_status(d.token, status, now);
                if (200..300).contains(&status) {
                    for id in &d.ref_ids {
                        i.forget_delivered(id);
                    }
                }
            }
            if (200..300).contains(&status) {
                let keys: Vec<String> = d.ref_ids.iter().map(|id| key_of(id)).collect();
                for group in keys.chunks(crate::store::KEYS_PER_CALL) {
                    self.state.storage().delete_multiple(group.to_vec()).await?;
                }
            }
        }
        let (queued, wake, totals) = match self.inner.borrow().as_ref() {
            Some(i) => {
                let totals = report::totals_only(&i.counters());
                let changed = (totals != i.saved).then_some(totals);
                (
                    i.engine.metrics().events_queued,
                    i.engine.next_wakeup(),
                    changed,
                )
            }
            None => (0, None, None),
        };
        if let Some(totals) = totals {
            let text = serde_json::to_string(&totals).unwrap_or_default();
            self.state.storage().put(COUNTERS_KEY, text).await?;
            if let Some(i) = self.inner.borrow_mut().as_mut() {
                i.saved = totals;
            }
        }
        if queued == 0 {
            // Everything was delivered or dropped (and counted): nothing stored is still owed.
            let left = self
                .state
                .storage()
                .list_with_options(ListOptions::new().prefix("ev:"))
                .await?;
            for key in left.keys() {
                if let Some(k) = key?.as_string() {
                    self.state.storage().delete(&k).await?;
                }
            }
            if let Some(i) = self.inner.borrow_mut().as_mut() {
                if i.engine.metrics().events_queued == 0 {
                    i.held.clear();
                }
            }
        }
        match wake {
            Some(at) => {
                let at = at.max(now_ms() + 10);
                self.state
                    .storage()
                    .set_alarm(ScheduledTime::new(js_sys::Date::new(&(at as f64).into())))
                    .await?;
            }
            None => self.state.storage().delete_alarm().await?,
        }
        Ok(())
    }

    /// A shard's POST: its events (those the hub has not seen), its blocks and its counters.
    async fn take(&self, incoming: ToHub) -> Result<()> {
        let now = now_ms();
        let fresh: Vec<Detected> = {
            let slot = self.inner.borrow();
            let Some(i) = slot.as_ref() else {
                return Ok(());
            };
            let mut seen = HashSet::new();
            incoming
                .events
                .into_iter()
                .filter(|d| {
                    let id = d.event.ref_id.clone().unwrap_or_default();
                    !i.is_known(&id) && seen.insert(id)
                })
                .collect()
        };
        let storage = self.state.storage();
        for d in &fresh {
            let text = serde_json::to_string(d).map_err(|e| Error::RustError(e.to_string()))?;
            let id = d.event.ref_id.as_deref().unwrap_or_default();
            storage.put(&key_of(id), text).await?;
        }
        let report = incoming.report.filter(|r| {
            self.inner.borrow().as_ref().is_some_and(|i| {
                i.shards
                    .get(&incoming.shard)
                    .is_none_or(|old| r.is_newer_than(old))
            })
        });
        if let Some(r) = &report {
            let text = serde_json::to_string(r).map_err(|e| Error::RustError(e.to_string()))?;
            storage.put(&shard_key(&incoming.shard), text).await?;
        }
        let queued = !fresh.is_empty();
        if let Some(i) = self.inner.borrow_mut().as_mut() {
            for d in fresh {
                // Checked again: another POST may have brought it while this one was storing.
                let id = d.event.ref_id.clone().unwrap_or_default();
                if i.held.insert(id) {
                    i.engine.enqueue_event(now, d.rule, d.event);
                }
            }
            if let Some(r) = report {
                i.shards.insert(incoming.shard, r);
            }
            if let Some(list) = incoming
                .blocks
                .as_deref()
                .and_then(actorwatch_core::hex::decode)
                .and_then(|b| Blocklist::decode(&b, seed()).ok())
            {
                for (key, block) in list.iter() {
                    i.blocks.insert(key, block.until_ms, block.status);
                }
            }
        }
        if queued {
            self.deliver().await?;
        }
        Ok(())
    }

    /// Test-only fault (`ACTORWATCH_TEST_HUB_FAIL_FIRST`): whether this POST fails, and if so
    /// whether after taking it.
    fn test_fault(&self) -> Option<bool> {
        let mut slot = self.inner.borrow_mut();
        let i = slot.as_mut()?;
        if i.fail_left == 0 {
            return None;
        }
        i.fail_left -= 1;
        Some(i.fail_after_storing)
    }
}

impl DurableObject for Hub {
    fn new(state: State, env: Env) -> Self {
        Hub {
            state,
            env,
            inner: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        self.ensure().await?;
        let url = req.inner().url();
        let path = actorwatch_core::template::request_url_parts(&url).1;
        match (req.method(), path) {
            (Method::Get, "/blocklist") => {
                let bytes = self
                    .inner
                    .borrow()
                    .as_ref()
                    .map(|i| i.blocks.encode(now_ms()))
                    .unwrap_or_default();
                Response::from_bytes(bytes)
            }
            (Method::Get, "/metrics") => {
                let doc = self.inner.borrow().as_ref().map(Inner::metrics);
                let headers = Headers::new();
                headers.set("content-type", "application/json")?;
                Ok(Response::from_bytes(doc.unwrap_or_default().into_bytes())?
                    .with_headers(headers))
            }
            (Method::Post, "/events") => {
                let fault = self.test_fault();
                if fault == Some(false) {
                    return Response::error(format!("refused ({FAIL_FIRST})"), 503);
                }
                let incoming: ToHub = serde_json::from_str(&req.text().await?)
                    .map_err(|e| Error::RustError(format!("bad message: {e}")))?;
                self.take(incoming).await?;
                if fault == Some(true) {
                    return Response::error(format!("answer lost ({FAIL_FIRST})"), 503);
                }
                Ok(Response::empty()?.with_status(204))
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.ensure().await?;
        self.deliver().await?;
        Response::empty()
    }
}
