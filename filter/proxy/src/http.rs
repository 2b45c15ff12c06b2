//! Per request: answer blocked actors before the upstream; record matched responses when the
//! stream ends.

use crate::host;
use actorwatch_core::Observation;
use actorwatch_core::{Blocklist, Config, Recorder};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// What a worker VM's HTTP contexts share with its root.
pub struct Worker {
    pub cfg: Arc<Config>,
    pub recorder: Recorder,
    pub blocklist: Blocklist,
    /// When this VM first saw a request (0: never).
    pub first_traffic_ms: u64,
}

pub struct HttpFilter {
    worker: Rc<RefCell<Worker>>,
    /// This request was answered from the blocklist: its reply is not a response to count.
    answered_locally: bool,
}

impl HttpFilter {
    pub fn new(worker: Rc<RefCell<Worker>>) -> Self {
        HttpFilter {
            worker,
            answered_locally: false,
        }
    }
}

fn peer() -> Option<String> {
    host::property(&["source", "address"])
}

impl Context for HttpFilter {}

impl HttpContext for HttpFilter {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        #[cfg(all(feature = "fault-injection", target_arch = "wasm32"))]
        if host::header(MapType::HttpRequestHeaders, "x-actorwatch-test-trap").is_some() {
            core::arch::wasm32::unreachable();
        }
        let Ok(mut w) = self.worker.try_borrow_mut() else {
            return Action::Continue;
        };
        if w.first_traffic_ms == 0 {
            w.first_traffic_ms = host::now_ms();
        }
        if w.blocklist.is_empty() {
            return Action::Continue;
        }
        // Only the headers the actor sources read.
        let wanted: Vec<(&str, String)> = w
            .cfg
            .actor
            .header_names()
            .filter_map(|name| Some((name, host::header(MapType::HttpRequestHeaders, name)?)))
            .collect();
        let peer = peer();
        let now = host::now_ms();
        let Some(actor) = w.cfg.actor.resolve(peer.as_deref(), &wanted) else {
            return Action::Continue;
        };
        let Some(block) = w.blocklist.get(now, &actor.key) else {
            return Action::Continue;
        };
        w.recorder.count_blocked();
        drop(w);
        let reply = block.reply(now);
        let headers = reply.headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let sent =
            host::send_local_response(u32::from(reply.status), &headers, reply.body().as_bytes());
        if !sent {
            return Action::Continue;
        }
        self.answered_locally = true;
        Action::Pause
    }

    fn on_log(&mut self) {
        // Counted at the end of the stream: Envoy keeps both header maps for the access-log
        // phase, so a response no rule counts costs one host call and nothing is copied at
        // request time.
        if self.answered_locally {
            return;
        }
        let status = host::header(MapType::HttpResponseHeaders, ":status")
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        let Ok(mut w) = self.worker.try_borrow_mut() else {
            return;
        };
        if !w.recorder.counts_status(status) {
            w.recorder.count_unmatched();
            return;
        }
        let raw = host::raw_headers(MapType::HttpRequestHeaders).unwrap_or_default();
        let owned;
        let headers: Vec<(&str, &str)> = match host::borrow_pairs(&raw) {
            Some(pairs) => pairs,
            None => {
                owned = host::decode_pairs(&raw);
                owned
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect()
            }
        };
        let find = |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let peer = peer();
        let obs = Observation {
            method: find(":method").unwrap_or(""),
            path: find(":path").unwrap_or(""),
            status,
            peer: peer.as_deref(),
            host: find(":authority"),
            headers: &headers,
            country: None,
            threats: None,
        };
        w.recorder.record(host::now_ms(), &obs);
    }
}
