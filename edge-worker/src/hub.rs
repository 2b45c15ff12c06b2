//! The hub: one object that stores every event until its webhook POST succeeds, batches and
//! delivers them (alarms for periodic mode and retries), and merges the shards' blocklists.

use crate::{load_config, now_ms, seed};
use actorwatch_core::{Blocklist, Engine, MaliciousEvent};
use serde::Deserialize;
use std::cell::RefCell;
use worker::*;

#[derive(Deserialize)]
struct Incoming {
    events: Vec<Stored>,
    blocks: Option<String>,
}

#[derive(serde::Serialize, Deserialize, Clone)]
struct Stored {
    rule: usize,
    event: MaliciousEvent,
}

struct Inner {
    config_text: String,
    engine: Engine,
    blocks: Blocklist,
}

#[durable_object]
pub struct Hub {
    state: State,
    env: Env,
    inner: RefCell<Option<Inner>>,
}

fn key_of(event: &MaliciousEvent) -> String {
    format!("ev:{}", event.ref_id.clone().unwrap_or_default())
}

impl Hub {
    /// The engine, created on first use; events stored by an earlier instance are queued again
    /// (a POST that succeeded just before the object went away may be sent twice; `refId`
    /// identifies each event).
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
        let stored = self
            .state
            .storage()
            .list_with_options(ListOptions::new().prefix("ev:"))
            .await?;
        let now = now_ms();
        let mut requeued = 0;
        for value in stored.values() {
            let text = value?.as_string().unwrap_or_default();
            if let Ok(s) = serde_json::from_str::<Stored>(&text) {
                engine.enqueue_event(now, s.rule, s.event);
                requeued += 1;
            }
        }
        *self.inner.borrow_mut() = Some(Inner {
            config_text: text,
            engine,
            blocks: Blocklist::new(
                seed(),
                cfg.max_actors,
                actorwatch_core::memory::Shares::of(cfg.max_memory_bytes()).blocklist,
            ),
        });
        if requeued > 0 {
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
            }
            if (200..300).contains(&status) {
                let delivered: Vec<String> =
                    serde_json::from_slice::<actorwatch_core::WebhookPayload>(&d.body)
                        .map(|p| p.malicious_events.iter().map(key_of).collect())
                        .unwrap_or_default();
                for key in delivered {
                    self.state.storage().delete(&key).await?;
                }
            }
        }
        let (queued, wake) = match self.inner.borrow().as_ref() {
            Some(i) => (i.engine.metrics().events_queued, i.engine.next_wakeup()),
            None => (0, None),
        };
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
                let m = self
                    .inner
                    .borrow()
                    .as_ref()
                    .map(|i| i.engine.metrics())
                    .unwrap_or_default();
                Response::from_json(&m)
            }
            (Method::Post, "/events") => {
                let incoming: Incoming = req.json().await?;
                let now = now_ms();
                for s in &incoming.events {
                    let text =
                        serde_json::to_string(s).map_err(|e| Error::RustError(e.to_string()))?;
                    self.state.storage().put(&key_of(&s.event), text).await?;
                }
                if let Some(i) = self.inner.borrow_mut().as_mut() {
                    for s in incoming.events {
                        i.engine.enqueue_event(now, s.rule, s.event);
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
                self.deliver().await?;
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
