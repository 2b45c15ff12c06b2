//! A counter shard: the detection engine for the actors that hash to it. Events and blocks go
//! on to the hub.

use crate::{load_config, now_ms, seed, shard_of, HUB_NAME};
use actorwatch_core::Engine;
use serde_json::json;
use std::cell::{Cell, RefCell};
use worker::*;

/// Hands one worker delta to the shard that counts `actor`.
pub async fn send(env: &Env, actor: &str, delta: Vec<u8>) -> Result<()> {
    let name = format!("shard-{}", shard_of(actor));
    let stub = env
        .durable_object("COUNTERS")?
        .id_from_name(&name)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(js_sys::Uint8Array::from(delta.as_slice()).into()));
    let resp = stub
        .fetch_with_request(Request::new_with_init("https://shard/record", &init)?)
        .await?;
    if resp.status_code() != 204 {
        return Err(Error::RustError(format!(
            "shard answered {}",
            resp.status_code()
        )));
    }
    Ok(())
}

#[durable_object]
pub struct CounterShard {
    env: Env,
    engine: RefCell<Option<(String, Engine)>>,
    published_generation: Cell<u64>,
}

impl DurableObject for CounterShard {
    fn new(_state: State, env: Env) -> Self {
        CounterShard {
            env,
            engine: RefCell::new(None),
            published_generation: Cell::new(0),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let delta = req.bytes().await?;
        let now = now_ms();
        let (events, blocks) = {
            let mut slot = self.engine.borrow_mut();
            let text = self
                .env
                .var("ACTORWATCH_CONFIG")
                .map(|v| v.to_string())
                .unwrap_or_default();
            // The configuration is parsed once per object (and again only if it changes), not
            // for every counted response.
            if slot.as_ref().is_none_or(|(t, _)| *t != text) {
                let cfg = match load_config(&self.env) {
                    Ok(c) => c,
                    Err(e) => return Response::error(e, 500),
                };
                *slot = Some((text, Engine::detector_only(cfg, seed())));
            }
            let Some((_, engine)) = slot.as_mut() else {
                return Response::error("no engine", 500);
            };
            if let Err(e) = engine.apply_delta(now, &delta) {
                return Response::error(format!("bad delta: {e}"), 400);
            }
            let events: Vec<_> = engine
                .drain_detections()
                .into_iter()
                .map(|d| json!({"rule": d.rule, "event": d.event}))
                .collect();
            let generation = engine.blocklist().generation();
            let blocks = (generation != self.published_generation.get()).then(|| {
                self.published_generation.set(generation);
                actorwatch_core::hex::encode(&engine.blocklist().encode(now))
            });
            (events, blocks)
        };
        if !events.is_empty() || blocks.is_some() {
            let body = json!({"events": events, "blocks": blocks}).to_string();
            let stub = self
                .env
                .durable_object("HUB")?
                .id_from_name(HUB_NAME)?
                .get_stub()?;
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_body(Some(body.into()));
            let resp = stub
                .fetch_with_request(Request::new_with_init("https://hub/events", &init)?)
                .await?;
            if resp.status_code() >= 300 {
                return Response::error(format!("hub answered {}", resp.status_code()), 502);
            }
        }
        Ok(Response::empty()?.with_status(204))
    }
}
