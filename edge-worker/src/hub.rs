//! The hub: the one Durable Object that delivers. The core's `handoff::Receiver` decides which
//! of the shards' events are new (by `refId`), batches and schedules their webhook POSTs, merges
//! the shards' blocklists and keeps each shard's latest counters. This object translates: the
//! shards' POSTs in, each event in storage until a webhook POST carrying it succeeds, the
//! webhook fetches, the alarm, `/blocklist` and `/metrics`.

use crate::{cached_config, now_ms, seed, store, test_switch};
use actorwatch_core::handoff::{Event, Message, Receiver, Report};
use actorwatch_core::ConfigCache;
use actorwatch_core::Metrics;
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use worker::*;

/// Test-only: `"<n>"` refuses the first n POSTs from shards before reading them; `"<n>
/// after-storing"` takes them (stores and queues their events) and then answers 503, as if the
/// answer were lost (README).
const FAIL_FIRST: &str = "ACTORWATCH_TEST_HUB_FAIL_FIRST";
/// Where the hub's totals survive the object.
const COUNTERS_KEY: &str = "hub:counters";
const EVENT_PREFIX: &str = "ev:";
const SHARD_PREFIX: &str = "shard:";

fn event_key(event: &Event) -> String {
    format!(
        "{EVENT_PREFIX}{}",
        event.event.ref_id.as_deref().unwrap_or_default()
    )
}

#[durable_object]
pub struct Hub {
    state: State,
    env: Env,
    config: RefCell<ConfigCache>,
    receiver: RefCell<Option<Receiver>>,
    /// Test-only fault: POSTs still to fail, and whether after taking them.
    fail_left: Cell<u64>,
    fail_after_storing: bool,
}

/// `/metrics`: every counter as the hub's plus every shard's, then `"hub"` (the hub's alone) and
/// `"shards"` (each shard's latest report, by name).
fn metrics_document(r: &Receiver) -> String {
    let value = |m: &Metrics| serde_json::to_value(m).unwrap_or_default();
    let mut doc = value(&r.total());
    if let Some(fields) = doc.as_object_mut() {
        fields.insert("hub".into(), value(&r.metrics()));
        let mut shards = serde_json::Map::new();
        for (name, report) in r.reports() {
            shards.insert(name.clone(), value(&report.metrics));
        }
        fields.insert("shards".into(), shards.into());
    }
    doc.to_string()
}

impl Hub {
    /// The receiver for the current configuration, created on first use: events stored by an
    /// earlier instance are queued again (a POST that succeeded just before the object went
    /// away may be sent twice; `refId` identifies each event), the shards' last counters and
    /// the hub's totals are read back.
    async fn ensure(&self) -> Result<()> {
        let (cfg, _) = cached_config(&mut self.config.borrow_mut(), &self.env);
        let cfg = cfg.map_err(Error::RustError)?;
        let (current, had) = match self.receiver.borrow().as_ref() {
            Some(r) => (Arc::ptr_eq(r.config(), &cfg), true),
            None => (false, false),
        };
        if current {
            return Ok(());
        }
        let storage = self.state.storage();
        let stored = storage
            .list_with_options(ListOptions::new().prefix(EVENT_PREFIX))
            .await?;
        let mut events = Vec::new();
        for value in stored.values() {
            let text = value?.as_string().unwrap_or_default();
            if let Ok(e) = serde_json::from_str::<Event>(&text) {
                events.push(e);
            }
        }
        // A predecessor in this object hands over its totals and reports; otherwise storage does.
        let mut totals = None;
        let mut reports = Vec::new();
        if !had {
            totals = storage
                .get::<String>(COUNTERS_KEY)
                .await?
                .and_then(|t| serde_json::from_str::<Metrics>(&t).ok());
            let stored = storage
                .list_with_options(ListOptions::new().prefix(SHARD_PREFIX))
                .await?;
            for entry in stored.entries() {
                let pair: js_sys::Array = entry?.into();
                let key = pair.get(0).as_string().unwrap_or_default();
                let text = pair.get(1).as_string().unwrap_or_default();
                if let (Some(name), Ok(r)) = (
                    key.strip_prefix(SHARD_PREFIX),
                    serde_json::from_str::<Report>(&text),
                ) {
                    reports.push((name.to_string(), r));
                }
            }
        }
        let mut receiver = Receiver::new(cfg, seed());
        if let Some(old) = self.receiver.borrow_mut().take() {
            receiver.take_over(old);
        }
        if let Some(totals) = totals {
            receiver.restore_totals(&totals);
        }
        for (name, report) in reports {
            receiver.keep_report(&name, report);
        }
        let requeued = receiver.queue(now_ms(), events) > 0;
        *self.receiver.borrow_mut() = Some(receiver);
        if requeued {
            // Events a recycled instance left behind: schedule their delivery now.
            self.deliver().await?;
        }
        Ok(())
    }

    /// Sends every due POST, reports the outcomes, deletes delivered events, saves the totals,
    /// sets the alarm.
    async fn deliver(&self) -> Result<()> {
        let storage = self.state.storage();
        loop {
            let now = now_ms();
            let next = self
                .receiver
                .borrow_mut()
                .as_mut()
                .and_then(|r| r.poll_delivery(now));
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
            if let Some(r) = self.receiver.borrow_mut().as_mut() {
                r.delivery_status(&d, status, now_ms());
            }
            if (200..300).contains(&status) {
                let keys: Vec<String> = d
                    .ref_ids
                    .iter()
                    .map(|id| format!("{EVENT_PREFIX}{id}"))
                    .collect();
                for group in keys.chunks(store::KEYS_PER_CALL) {
                    storage.delete_multiple(group.to_vec()).await?;
                }
            }
        }
        let Some((idle, wake, totals)) = self
            .receiver
            .borrow()
            .as_ref()
            .map(|r| (r.is_idle(), r.next_wakeup(), r.totals_to_save()))
        else {
            return Ok(());
        };
        if let Some(totals) = totals {
            let text = serde_json::to_string(&totals).unwrap_or_default();
            storage.put(COUNTERS_KEY, text).await?;
            if let Some(r) = self.receiver.borrow_mut().as_mut() {
                r.totals_saved(totals);
            }
        }
        if idle {
            // Everything was delivered or dropped (and counted): nothing stored is still owed.
            let left = storage
                .list_with_options(ListOptions::new().prefix(EVENT_PREFIX))
                .await?;
            let mut keys = Vec::new();
            for key in left.keys() {
                keys.extend(key?.as_string());
            }
            for group in keys.chunks(store::KEYS_PER_CALL) {
                storage.delete_multiple(group.to_vec()).await?;
            }
            if let Some(r) = self.receiver.borrow_mut().as_mut() {
                r.forget_stored();
            }
        }
        match wake {
            Some(at) => {
                let at = at.max(now_ms() + 10);
                storage
                    .set_alarm(ScheduledTime::new(js_sys::Date::new(&(at as f64).into())))
                    .await?;
            }
            None => storage.delete_alarm().await?,
        }
        Ok(())
    }

    /// A shard's POST: its events the hub has not seen (stored, then queued), its blocks, its
    /// counters.
    async fn take(&self, message: Message) -> Result<()> {
        let Message {
            from,
            events,
            blocks,
            report,
        } = message;
        let Some(fresh) = self.receiver.borrow().as_ref().map(|r| r.unknown(events)) else {
            return Ok(());
        };
        let storage = self.state.storage();
        for e in &fresh {
            let text = serde_json::to_string(e).map_err(|e| Error::RustError(e.to_string()))?;
            storage.put(&event_key(e), text).await?;
        }
        let (queued, kept) = {
            let mut slot = self.receiver.borrow_mut();
            let Some(r) = slot.as_mut() else {
                return Ok(());
            };
            // Checked again: another POST may have brought them while this one was storing.
            let queued = r.queue(now_ms(), fresh) > 0;
            if let Some(blocks) = blocks {
                r.merge_blocks(&blocks);
            }
            // A report older than the one kept (they can arrive out of order) is not stored.
            let kept = match report {
                Some(report) if r.keep_report(&from, report.clone()) => Some(report),
                _ => None,
            };
            (queued, kept)
        };
        if let Some(report) = kept {
            let text =
                serde_json::to_string(&report).map_err(|e| Error::RustError(e.to_string()))?;
            storage.put(&format!("{SHARD_PREFIX}{from}"), text).await?;
        }
        if queued {
            self.deliver().await?;
        }
        Ok(())
    }

    /// Test-only fault (`ACTORWATCH_TEST_HUB_FAIL_FIRST`): whether this POST fails, and if so
    /// whether after taking it.
    fn test_fault(&self) -> Option<bool> {
        let left = self.fail_left.get();
        if left == 0 {
            return None;
        }
        self.fail_left.set(left - 1);
        Some(self.fail_after_storing)
    }
}

impl DurableObject for Hub {
    fn new(state: State, env: Env) -> Self {
        let fault = test_switch(&env, FAIL_FIRST).unwrap_or_default();
        let mut words = fault.split_whitespace();
        let fail_left = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let fail_after_storing = words.next() == Some("after-storing");
        Hub {
            state,
            env,
            config: RefCell::new(ConfigCache::default()),
            receiver: RefCell::new(None),
            fail_left: Cell::new(fail_left),
            fail_after_storing,
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        self.ensure().await?;
        let url = req.inner().url();
        let path = actorwatch_core::request_url_parts(&url).1;
        match (req.method(), path) {
            (Method::Get, "/blocklist") => {
                let bytes = self
                    .receiver
                    .borrow()
                    .as_ref()
                    .map(|r| r.blocklist().encode(now_ms()))
                    .unwrap_or_default();
                Response::from_bytes(bytes)
            }
            (Method::Get, "/metrics") => {
                let doc = self.receiver.borrow().as_ref().map(metrics_document);
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
                let message: Message = serde_json::from_str(&req.text().await?)
                    .map_err(|e| Error::RustError(format!("bad message: {e}")))?;
                self.take(message).await?;
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
