//! Per request, on the stream's worker thread: answer blocked actors before the upstream; inspect
//! the request when threat rules are configured (answering it when a blocking rule matches);
//! record matched responses and findings when the stream completes. The same steps as the Wasm
//! filter's, over [`StreamHost`], which Envoy's ABI implements (and the fuzz target fakes).

use crate::shared::{Shared, Worker};
use actorwatch_core::inspect::Request;
use actorwatch_core::{BlockedReply, Headers, Inspection, Inspector, Observation, Resolved};

/// What a stream's hooks read from and do to Envoy.
pub trait StreamHost {
    fn worker_index(&self) -> usize;
    fn request_header(&self, name: &str) -> Option<String>;
    /// Calls `f` with the request's headers.
    fn with_request_headers<R>(&self, f: impl FnOnce(&[(&str, &str)]) -> R) -> R;
    /// 0 when the stream has no response (reset before one).
    fn response_status(&self) -> u16;
    /// `ip:port` of the downstream peer.
    fn peer(&self) -> Option<String>;
    /// Up to `max` bytes of the request body buffered so far (with the chunk just received).
    fn request_body(&self, max: usize) -> Vec<u8>;
    /// Bytes of the request body buffered so far (with the chunk just received).
    fn request_body_size(&self) -> usize;
    /// Appends up to `max - out.len()` bytes of the chunk just received.
    fn received_chunk(&self, max: usize, out: &mut Vec<u8>);
    fn send_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]);
    fn now_ms(&self) -> u64;
    /// A response header, in the response hooks (`None` where there is no response to read,
    /// as in an access-log entry).
    fn response_header(&self, _name: &str) -> Option<String> {
        None
    }
    /// Appends up to `max - out.len()` bytes of the response chunk just received (nothing where
    /// the response body is gone, as in an access-log entry).
    fn received_response_chunk(&self, _max: usize, _out: &mut Vec<u8>) {}
}

/// What a hook tells Envoy to do with the request's headers or body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    /// Hold (headers: stop iteration; body: buffer) until the body is complete.
    Hold,
    /// Answered locally: stop, nothing more goes upstream.
    Answered,
}

/// Where a request's body inspection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum BodyWait {
    #[default]
    No,
    /// Alert-only rules: chunks are copied as they stream past, never held.
    Copying,
    /// A blocking rule: the request is held until its body ends or reaches the limit.
    Holding,
}

/// One request's state between its hooks.
#[derive(Default)]
pub struct StreamFilter {
    /// Answered from the blocklist: its reply is not a response to count.
    answered_locally: bool,
    /// A blocking threat rule answered it: its reply is not a response to read.
    answered_by_rule: bool,
    inspection: Option<Inspection>,
    body_wait: BodyWait,
    /// Body bytes copied so far (alert-only rules), at most the rules' limit.
    body: Vec<u8>,
    /// The body reached the limit exactly before its end: more bytes mean it was cut.
    watch_overflow: bool,
    /// The request's source, once read for the blocklist: not read again when it is counted.
    source: Option<Source>,
    /// A rule reads this response's body: its first bytes are copied as they stream past.
    response_wanted: bool,
    /// Response body bytes copied so far, at most `response_body_max_bytes`.
    response_body: Vec<u8>,
    /// The status the response's headers gave, when its body is read.
    response_status: u16,
}

struct Source {
    peer: Option<String>,
    actor: Option<Resolved>,
}

impl StreamFilter {
    pub fn request_headers(
        &mut self,
        shared: &Shared,
        host: &impl StreamHost,
        end_of_stream: bool,
    ) -> Verdict {
        #[cfg(feature = "fault-injection")]
        if host.request_header("x-actorwatch-test-panic").is_some() {
            fault_injection_panic();
        }
        let mut w = shared.worker(host.worker_index());
        if !w.blocklist.is_empty() && self.answer_blocked(&mut w, host) {
            return Verdict::Answered;
        }
        if !w.inspector.is_active() {
            return Verdict::Continue;
        }
        let body_follows =
            w.inspector.wants_body() && !end_of_stream && w.inspector.body_max_bytes() > 0;
        if !body_follows {
            return self.inspect(&mut w, host, b"", false);
        }
        if !w.inspector.blocks() {
            self.body_wait = BodyWait::Copying;
            return Verdict::Continue;
        }
        // A blocking rule may match the headers alone: answer without waiting for the body.
        if self.inspect(&mut w, host, b"", false) == Verdict::Answered {
            return Verdict::Answered;
        }
        self.body_wait = BodyWait::Holding;
        Verdict::Hold
    }

    pub fn request_body(
        &mut self,
        shared: &Shared,
        host: &impl StreamHost,
        end_of_stream: bool,
    ) -> Verdict {
        if self.body_wait == BodyWait::No {
            if self.watch_overflow && host.request_body_size() > 0 {
                self.watch_overflow = false;
                shared
                    .worker(host.worker_index())
                    .recorder
                    .count_body_truncated();
            }
            return Verdict::Continue;
        }
        let mut w = shared.worker(host.worker_index());
        let limit = w.inspector.body_max_bytes();
        if self.body_wait == BodyWait::Holding {
            let size = host.request_body_size();
            if !end_of_stream && size < limit {
                return Verdict::Hold;
            }
            let (keep, truncated) = w.inspector.body_cut(size);
            let body = host.request_body(keep);
            // Exactly at the limit before the end: cut only if more bytes follow.
            self.watch_overflow = !end_of_stream && size == limit;
            return self.inspect(&mut w, host, &body, truncated);
        }
        // Copying: nothing is buffered, so the body Envoy holds is the chunk that just arrived.
        let chunk = host.request_body_size();
        let (keep, truncated) = w.inspector.body_cut(self.body.len() + chunk);
        if chunk > 0 && self.body.len() < keep {
            host.received_chunk(keep, &mut self.body);
        }
        let full = self.body.len() >= limit;
        if end_of_stream || full {
            let body = std::mem::take(&mut self.body);
            // A body that filled the limit exactly is cut only if more bytes follow.
            self.watch_overflow = full && !truncated && !end_of_stream;
            self.inspect(&mut w, host, &body, truncated);
        }
        Verdict::Continue
    }

    /// Trailers end the request: a held body is inspected now.
    pub fn request_trailers(&mut self, shared: &Shared, host: &impl StreamHost) -> Verdict {
        if self.body_wait == BodyWait::No {
            return Verdict::Continue;
        }
        self.request_body(shared, host, true)
    }

    /// The response's headers: whether a rule reads its body (asked only when one reads
    /// responses at all).
    pub fn response_headers(&mut self, shared: &Shared, host: &impl StreamHost) {
        // Checked before the worker's lock: the common configuration reads no response.
        if self.answered_locally || self.answered_by_rule || !shared.cfg.reads_responses() {
            return;
        }
        let mut w = shared.worker(host.worker_index());
        if !w.inspector.may_want_response(self.inspection.as_ref()) {
            return;
        }
        let status = response_status(host);
        if !w.inspector.wants_response(status, self.inspection.as_ref()) {
            return;
        }
        self.response_status = status;
        if Inspector::is_encoded(host.response_header("content-encoding").as_deref()) {
            w.recorder.count_response_encoded();
            return;
        }
        self.response_wanted = true;
    }

    /// A response chunk: its bytes copied up to the limit as it streams past, never held.
    pub fn response_body(&mut self, shared: &Shared, host: &impl StreamHost) {
        if !self.response_wanted {
            return;
        }
        let limit = shared
            .worker(host.worker_index())
            .inspector
            .response_body_max_bytes();
        if self.response_body.len() < limit {
            host.received_response_chunk(limit, &mut self.response_body);
        }
    }

    /// The stream ends: record its response if a rule wants it.
    pub fn complete(&mut self, shared: &Shared, host: &impl StreamHost) {
        if self.answered_locally {
            return;
        }
        let mut w = shared.worker(host.worker_index());
        if self.body_wait != BodyWait::No {
            // The stream ended before its body did: inspect what arrived.
            let body = std::mem::take(&mut self.body);
            self.inspect(&mut w, host, &body, false);
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
        record_response(&mut w, host, self.inspection.as_ref(), self.source.take());
    }

    /// An access-log entry: the request's headers (its body is gone) and the response, after
    /// the fact. Threat rules run on the headers; nothing can be answered any more.
    pub fn logged(shared: &Shared, host: &impl StreamHost) {
        let mut w = shared.worker(host.worker_index());
        let mut inspection = Inspection::default();
        if w.inspector.is_active() {
            run_rules(&mut w, host, b"", false, &mut inspection);
        }
        record_response(&mut w, host, Some(&inspection), None);
    }

    /// Runs the threat rules over the request; answers it when a blocking rule matched.
    fn inspect(
        &mut self,
        w: &mut Worker,
        host: &impl StreamHost,
        body: &[u8],
        body_truncated: bool,
    ) -> Verdict {
        self.body_wait = BodyWait::No;
        let mut inspection = self.inspection.take().unwrap_or_default();
        run_rules(w, host, body, body_truncated, &mut inspection);
        let reply = w.inspector.block_reply(&inspection);
        self.inspection = Some(inspection);
        let Some(reply) = reply else {
            return Verdict::Continue;
        };
        send_reply(host, &reply);
        w.recorder.count_threat_blocked();
        self.answered_by_rule = true;
        // Still recorded when the stream completes: the finding raises its event.
        Verdict::Answered
    }

    /// Answers the request from the blocklist if its actor is blocked; returns whether it did.
    fn answer_blocked(&mut self, w: &mut Worker, host: &impl StreamHost) -> bool {
        let peer = host.peer();
        let now = host.now_ms();
        let actor = resolve_from_sources(w, host, peer.as_deref());
        let block = actor.as_ref().and_then(|a| w.blocklist.get(now, &a.key));
        self.source = Some(Source { peer, actor });
        let Some(block) = block else {
            return false;
        };
        w.recorder.count_blocked();
        send_reply(host, &block.reply(now));
        self.answered_locally = true;
        true
    }
}

/// Runs the threat rules over the request (its headers from the host, `body` as given).
fn run_rules(
    w: &mut Worker,
    host: &impl StreamHost,
    body: &[u8],
    body_truncated: bool,
    inspection: &mut Inspection,
) {
    let now = host.now_ms();
    let bytes = host.with_request_headers(|headers| {
        let request = Request {
            method: Headers::get(&headers, ":method").unwrap_or(""),
            path: Headers::get(&headers, ":path").unwrap_or(""),
            headers: &headers,
            body,
        };
        w.inspector.inspect(now, &request, inspection)
    });
    w.recorder.count_inspected(bytes, body_truncated);
}

/// The response's status from its `:status` header (the stream's response code may not be set
/// yet when its headers pass).
fn response_status(host: &impl StreamHost) -> u16 {
    host.response_header(":status")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| host.response_status())
}

fn send_reply(host: &impl StreamHost, reply: &BlockedReply) {
    let headers = reply.headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    host.send_response(reply.status, &headers, reply.body().as_bytes());
}

/// The request's actor, from the headers its sources read (only those) and `peer`.
fn resolve_from_sources(
    w: &Worker,
    host: &impl StreamHost,
    peer: Option<&str>,
) -> Option<Resolved> {
    let wanted: Vec<(&str, String)> = w
        .cfg
        .actor
        .header_names()
        .filter_map(|name| Some((name, host.request_header(name)?)))
        .collect();
    w.cfg.actor.resolve(peer, &wanted)
}

/// Records the stream's response if a rule wants it. `source`: the request's, if already read.
fn record_response(
    w: &mut Worker,
    host: &impl StreamHost,
    inspection: Option<&Inspection>,
    source: Option<Source>,
) {
    let status = host.response_status();
    let findings = inspection.is_some_and(|i| !i.is_empty());
    if !w.recorder.wants(status, findings) {
        w.recorder.count_unmatched();
        return;
    }
    let (peer, actor) = match source {
        Some(Source { peer, actor }) => (peer, Some(actor)),
        None => (host.peer(), None),
    };
    let now = host.now_ms();
    if !w.quiet.is_empty() && !findings {
        // Deep in its cooldown, an actor's response only counts: read its source alone.
        if let Some(actor) = actor.unwrap_or_else(|| resolve_from_sources(w, host, peer.as_deref()))
        {
            if w.recorder.record_if_quiet(now, status, &actor, &w.quiet) {
                return;
            }
        }
    }
    host.with_request_headers(|headers| {
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
        w.recorder.record(now, &obs);
    });
}

#[cfg(feature = "fault-injection")]
#[allow(clippy::panic)]
fn fault_injection_panic() {
    panic!("x-actorwatch-test-panic");
}
