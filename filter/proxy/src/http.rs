//! Per request: answer blocked actors before the upstream; inspect the request when threat
//! rules are configured (answering it when a blocking rule matches); record matched responses
//! and findings when the stream ends.

use crate::host;
use crate::inspection::{Inspector, Request};
use actorwatch_core::Inspection;
use actorwatch_core::Resolved;
use actorwatch_core::{BlockedReply, Blocklist, Config, Recorder};
use actorwatch_core::{Headers, Observation};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, MapType};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// What a worker VM's HTTP contexts share with its root.
pub struct Worker {
    pub cfg: Arc<Config>,
    pub recorder: Recorder,
    pub blocklist: Blocklist,
    /// Actors whose counted responses are recorded with time, status and actor alone.
    pub quiet: Blocklist,
    pub inspector: Inspector,
    /// When this VM first saw a request (0: never).
    pub first_traffic_ms: u64,
    /// Whether this VM said that its module cannot read responses (once).
    pub told_no_response_callbacks: bool,
}

/// Where a request's body inspection stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyWait {
    /// Nothing to wait for (no body rule, no body, or already inspected).
    No,
    /// Alert-only rules: chunks are copied as they stream past, never held.
    Copying,
    /// A blocking rule: the request is held until its body ends or reaches the limit.
    Holding,
}

pub struct HttpFilter {
    worker: Rc<RefCell<Worker>>,
    /// This request was answered from the blocklist: its reply is not a response to count.
    answered_locally: bool,
    /// A blocking threat rule answered it: its reply is not a response to read.
    answered_by_rule: bool,
    /// The threat rules' findings, once the request was inspected.
    inspection: Option<Inspection>,
    body_wait: BodyWait,
    /// Body bytes copied so far (alert-only rules), at most `body_max_bytes`.
    body: Vec<u8>,
    /// The body reached the limit exactly before its end: more bytes after it mean it was cut.
    watch_overflow: bool,
    /// The request's source, once read for the blocklist: not read again when it is counted.
    source: Option<Source>,
    /// A rule reads this response's body: its first bytes are copied as they stream past.
    response_wanted: bool,
    /// Response body bytes copied so far, at most `response_body_max_bytes`.
    response_body: Vec<u8>,
    /// Envoy delivered the response headers: this module exports the response callbacks.
    response_headers_seen: bool,
    /// The status the response's headers gave, when its body is read.
    response_status: u16,
}

/// What a request's actor was resolved from.
pub struct Source {
    pub peer: Option<String>,
    pub actor: Option<Resolved>,
}

impl HttpFilter {
    pub fn new(worker: Rc<RefCell<Worker>>) -> Self {
        HttpFilter {
            worker,
            answered_locally: false,
            answered_by_rule: false,
            inspection: None,
            body_wait: BodyWait::No,
            body: Vec::new(),
            watch_overflow: false,
            source: None,
            response_wanted: false,
            response_body: Vec::new(),
            response_headers_seen: false,
            response_status: 0,
        }
    }

    /// Inspects the request with `body` (cut at the limit); answers it when a blocking rule
    /// matched. Returns whether it was answered.
    fn inspect(&mut self, w: &mut Worker, body: &[u8], body_truncated: bool) -> bool {
        self.body_wait = BodyWait::No;
        let mut inspection = self.inspection.take().unwrap_or_default();
        inspect_request(w, body, body_truncated, &mut inspection);
        let reply = w.inspector.block_reply(&inspection);
        self.inspection = Some(inspection);
        let Some(reply) = reply else {
            return false;
        };
        let sent = send_reply(&reply);
        if sent {
            w.recorder.count_threat_blocked();
            self.answered_by_rule = true;
        }
        sent
    }
}

/// Answers the request before the upstream with the core's reply.
fn send_reply(reply: &BlockedReply) -> bool {
    let headers = reply.headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    host::send_local_response(u32::from(reply.status), &headers, reply.body().as_bytes())
}

/// The request's actor, from the headers its sources read (only those) and `peer`.
fn resolve_from_sources(w: &Worker, peer: Option<&str>) -> Option<Resolved> {
    let wanted: Vec<(&str, String)> = w
        .cfg
        .actor
        .header_names()
        .filter_map(|name| Some((name, host::header(MapType::HttpRequestHeaders, name)?)))
        .collect();
    w.cfg.actor.resolve(peer, &wanted)
}

fn peer() -> Option<String> {
    host::property(&["source", "address"])
}

impl Context for HttpFilter {}

impl HttpContext for HttpFilter {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        #[cfg(all(feature = "fault-injection", target_arch = "wasm32"))]
        if host::header(MapType::HttpRequestHeaders, "x-actorwatch-test-trap").is_some() {
            core::arch::wasm32::unreachable();
        }
        let worker = Rc::clone(&self.worker);
        let Ok(mut w) = worker.try_borrow_mut() else {
            return Action::Continue;
        };
        if w.first_traffic_ms == 0 {
            w.first_traffic_ms = host::now_ms();
        }
        if !w.blocklist.is_empty() && self.answer_blocked(&mut w) {
            return Action::Pause;
        }
        if !w.inspector.is_active() {
            return Action::Continue;
        }
        let body_follows =
            w.inspector.wants_body() && !end_of_stream && w.inspector.body_max_bytes() > 0;
        if !body_follows {
            return if self.inspect(&mut w, b"", false) {
                Action::Pause
            } else {
                Action::Continue
            };
        }
        if !w.inspector.blocks() {
            self.body_wait = BodyWait::Copying;
            return Action::Continue;
        }
        // A blocking rule may match the headers alone: answer without waiting for the body.
        if self.inspect(&mut w, b"", false) {
            return Action::Pause;
        }
        self.body_wait = BodyWait::Holding;
        // Pausing the headers holds them from the upstream only where the plugin config allows
        // it (`allow_on_headers_stop_iteration`, Envoy 1.35+); elsewhere Envoy would stop
        // delivering the body and the request would hang, so the headers go on and the body
        // is held (a blocked request is reset before its body reaches the upstream).
        if w.cfg.envoy_hold_headers {
            Action::Pause
        } else {
            Action::Continue
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if self.body_wait == BodyWait::No {
            if self.watch_overflow && body_size > 0 {
                self.watch_overflow = false;
                if let Ok(mut w) = self.worker.try_borrow_mut() {
                    w.recorder.count_body_truncated();
                }
            }
            return Action::Continue;
        }
        let worker = Rc::clone(&self.worker);
        let Ok(mut w) = worker.try_borrow_mut() else {
            self.body_wait = BodyWait::No;
            return Action::Continue;
        };
        let limit = w.inspector.body_max_bytes();
        if self.body_wait == BodyWait::Holding {
            if !end_of_stream && body_size < limit {
                return Action::Pause;
            }
            let (keep, truncated) = w.inspector.body_cut(body_size);
            let body = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, keep)
                .ok()
                .flatten()
                .unwrap_or_default();
            // Exactly at the limit before the end: cut only if more bytes follow.
            self.watch_overflow = !end_of_stream && body_size == limit;
            return if self.inspect(&mut w, &body, truncated) {
                Action::Pause
            } else {
                Action::Continue
            };
        }
        // Copying: this call's buffer is the chunk that just arrived.
        let (keep, truncated) = w.inspector.body_cut(self.body.len() + body_size);
        let room = keep.saturating_sub(self.body.len());
        if room > 0 && body_size > 0 {
            if let Ok(Some(chunk)) =
                hostcalls::get_buffer(BufferType::HttpRequestBody, 0, body_size.min(room))
            {
                self.body.extend_from_slice(&chunk);
            }
        }
        let full = self.body.len() >= limit;
        if end_of_stream || full {
            let body = std::mem::take(&mut self.body);
            // A body that filled the limit exactly is cut only if more bytes follow.
            self.watch_overflow = full && !truncated && !end_of_stream;
            self.inspect(&mut w, &body, truncated);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.response_headers_seen = true;
        let Ok(mut w) = self.worker.try_borrow_mut() else {
            return Action::Continue;
        };
        if self.answered_locally
            || self.answered_by_rule
            || !w.inspector.may_want_response(self.inspection.as_ref())
        {
            return Action::Continue;
        }
        let status = response_status();
        self.response_status = status;
        if !w.inspector.wants_response(status, self.inspection.as_ref()) {
            return Action::Continue;
        }
        let encoding = host::header(MapType::HttpResponseHeaders, "content-encoding");
        if Inspector::is_encoded(encoding.as_deref()) {
            w.recorder.count_response_encoded();
            return Action::Continue;
        }
        self.response_wanted = true;
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, _end_of_stream: bool) -> Action {
        if !self.response_wanted || body_size == 0 {
            return Action::Continue;
        }
        let Ok(w) = self.worker.try_borrow() else {
            return Action::Continue;
        };
        // Streamed: this call's buffer is the chunk that just arrived; nothing is held.
        let room = w
            .inspector
            .response_body_max_bytes()
            .saturating_sub(self.response_body.len());
        if room > 0 {
            if let Ok(Some(chunk)) =
                hostcalls::get_buffer(BufferType::HttpResponseBody, 0, body_size.min(room))
            {
                self.response_body.extend_from_slice(&chunk);
            }
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        // Counted at the end of the stream: Envoy keeps both header maps for the access-log
        // phase, so a response no rule counts costs one host call and nothing is copied at
        // request time.
        if self.answered_locally {
            return;
        }
        let worker = Rc::clone(&self.worker);
        let Ok(mut w) = worker.try_borrow_mut() else {
            return;
        };
        if self.body_wait != BodyWait::No {
            // The stream ended before its body did: inspect what arrived.
            let body = std::mem::take(&mut self.body);
            self.inspect(&mut w, &body, false);
        }
        if !self.response_headers_seen
            && !w.told_no_response_callbacks
            && w.inspector.reads_responses()
        {
            w.told_no_response_callbacks = true;
            host::log(
                proxy_wasm::types::LogLevel::Warn,
                "actorwatch: threat rules read responses (inspect_response, SecurityMisconfig) but \
                 this module leaves out the response callbacks: load \
                 actorwatch_filter_responses.wasm to read them",
            );
        }
        if self.response_wanted {
            let mut inspection = self.inspection.take().unwrap_or_default();
            let bytes = w.inspector.inspect_response(
                self.response_status,
                &self.response_body,
                &mut inspection,
            );
            w.recorder.count_response_inspected(bytes);
            self.inspection = Some(inspection);
        }
        record_response(&mut w, self.inspection.as_ref(), self.source.take());
    }
}

/// Runs the threat rules over the request (its headers from the host, `body` as given).
pub fn inspect_request(
    w: &mut Worker,
    body: &[u8],
    body_truncated: bool,
    inspection: &mut Inspection,
) {
    let bytes = host::with_request_headers(|headers| {
        let request = Request {
            method: Headers::get(&headers, ":method").unwrap_or(""),
            path: Headers::get(&headers, ":path").unwrap_or(""),
            headers: &headers,
            body,
        };
        w.inspector.inspect(host::now_ms(), &request, inspection)
    });
    w.recorder.count_inspected(bytes, body_truncated);
}

fn response_status() -> u16 {
    host::header(MapType::HttpResponseHeaders, ":status")
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0)
}

/// Records the response whose stream is ending (or being logged) if a rule wants it.
/// `source`: the request's, if already read.
pub fn record_response(w: &mut Worker, inspection: Option<&Inspection>, source: Option<Source>) {
    let status = response_status();
    let findings = inspection.is_some_and(|i| !i.is_empty());
    if !w.recorder.wants(status, findings) {
        w.recorder.count_unmatched();
        return;
    }
    let (peer, actor) = match source {
        Some(Source { peer, actor }) => (peer, Some(actor)),
        None => (peer(), None),
    };
    if !w.quiet.is_empty() && !findings {
        // Deep in its cooldown, an actor's response only counts: read its source alone.
        let now = host::now_ms();
        if let Some(actor) = actor.unwrap_or_else(|| resolve_from_sources(w, peer.as_deref())) {
            if w.recorder.record_if_quiet(now, status, &actor, &w.quiet) {
                return;
            }
        }
    }
    host::with_request_headers(|headers| {
        let obs = Observation {
            method: Headers::get(&headers, ":method").unwrap_or(""),
            path: Headers::get(&headers, ":path").unwrap_or(""),
            status,
            peer: peer.as_deref(),
            host: Headers::get(&headers, ":authority"),
            headers: &headers,
            country: None,
            threats: inspection,
        };
        w.recorder.record(host::now_ms(), &obs);
    });
}

impl HttpFilter {
    /// Answers the request from the blocklist if its actor is blocked; returns whether it did.
    fn answer_blocked(&mut self, w: &mut Worker) -> bool {
        let peer = peer();
        let now = host::now_ms();
        let actor = resolve_from_sources(w, peer.as_deref());
        let block = actor.as_ref().and_then(|a| w.blocklist.get(now, &a.key));
        self.source = Some(Source { peer, actor });
        let Some(block) = block else {
            return false;
        };
        w.recorder.count_blocked();
        let sent = send_reply(&block.reply(now));
        self.answered_locally = sent;
        sent
    }
}
