//! The native module's entry points, as Envoy would call them, through a host of the target's
//! own: arbitrary requests on arbitrary worker threads (any headers and bytes, bodies in chunks,
//! trailers, resets, answers before the upstream), ticks and callout answers of any status and
//! body. The barrier would turn a panic into a fail-open answer in Envoy; here it is a crash.
#![no_main]

use actorwatch_core::MetricKind;
use actorwatch_native::aggregator::{Level, Outbound};
use actorwatch_native::filter::{StreamFilter, StreamHost};
use actorwatch_native::shared::Shared;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::cell::{Cell, RefCell};

#[derive(Debug, Arbitrary)]
struct Request {
    worker: u8,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    peer: Option<String>,
    chunks: Vec<Vec<u8>>,
    trailers: bool,
    /// The stream ends before its body does.
    reset_after: Option<u8>,
    status: u16,
    logged: bool,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Request(Request),
    Tick {
        dt_ms: u16,
    },
    Answer {
        index: u8,
        status: u16,
        body: Vec<u8>,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    config: u8,
    workers: u8,
    ops: Vec<Op>,
}

const CONFIGS: [&str; 3] = [
    // Block mode: an actor blocklist and blocking threat rules that hold bodies.
    r#"{"actor": {"sources": ["header:x-api-key", "xff", "peer"], "xff_trusted_hops": 1},
        "rules": [{"id": "4XX_FILTER", "threshold": 2, "window_secs": 60, "cooldown_secs": 1,
                   "action": "block", "block_secs": 1}],
        "threat_rules": [{"id": "SQLInjection", "action": "block"}, {"id": "XSS"},
                         {"id": "WeakAuthentication"}],
        "body_max_bytes": 32,
        "webhook": {"url": "http://hook.test/akto", "mode": "instant", "batch_size": 1,
                    "queue_capacity": 4, "max_in_flight": 2}}"#,
    // Alert mode with a quiet list: long cooldowns.
    r#"{"actor": {"sources": ["peer"]},
        "rules": [{"id": "4XX_FILTER", "threshold": 1, "window_secs": 5, "cooldown_secs": 600}],
        "webhook": {"url": "http://hook.test/akto", "mode": "periodic", "run_every_secs": 1}}"#,
    // Alert-only body rules (bodies copied as they stream) and fleet mode.
    r#"{"actor": {"sources": ["xff", "peer"]},
        "rules": [{"id": "4XX_FILTER", "threshold": 3}],
        "threat_rules": [{"id": "OSCommandInjection"}, {"id": "SSRF"}],
        "body_max_bytes": 16,
        "fleet": {"mode": "redis", "url": "http://front.test/batch", "cluster": "fleet",
                  "flush_ms": 100},
        "webhook": {"url": "http://hook.test/akto", "mode": "instant"}}"#,
];

struct Host<'a> {
    worker: usize,
    headers: Vec<(String, String)>,
    peer: Option<String>,
    status: u16,
    buffered: &'a RefCell<Vec<u8>>,
    chunk: &'a [u8],
    now: u64,
}

impl StreamHost for Host<'_> {
    fn worker_index(&self) -> usize {
        self.worker
    }
    fn request_header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
    fn with_request_headers<R>(&self, f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
        let pairs: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        f(&pairs)
    }
    fn response_status(&self) -> u16 {
        self.status
    }
    fn peer(&self) -> Option<String> {
        self.peer.clone()
    }
    fn request_body(&self, max: usize) -> Vec<u8> {
        let mut body = self.buffered.borrow().clone();
        body.extend_from_slice(self.chunk);
        body.truncate(max);
        body
    }
    fn request_body_size(&self) -> usize {
        self.buffered.borrow().len() + self.chunk.len()
    }
    fn received_chunk(&self, max: usize, out: &mut Vec<u8>) {
        let room = max.saturating_sub(out.len());
        out.extend_from_slice(&self.chunk[..room.min(self.chunk.len())]);
    }
    fn send_response(&self, status: u16, _headers: &[(&str, &str)], body: &[u8]) {
        assert!((400..600).contains(&status), "a local answer of {status}");
        assert!(!body.is_empty());
    }
    fn now_ms(&self) -> u64 {
        self.now
    }
}

#[derive(Default)]
struct Envoy {
    next_id: Cell<u64>,
    calls: RefCell<Vec<u64>>,
}

impl Outbound for Envoy {
    fn callout(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        _timeout_ms: u64,
    ) -> Result<u64, u32> {
        assert!(!cluster.is_empty());
        for required in [":method", ":path", ":authority", "content-length"] {
            assert!(headers.iter().any(|(k, _)| *k == required), "{required}");
        }
        assert!(!body.is_empty());
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        // Every fourth call cannot start (no healthy host, say).
        if id % 4 == 0 {
            return Err(4);
        }
        self.calls.borrow_mut().push(id);
        Ok(id)
    }
    fn define_metric(&self, _name: &str, _kind: MetricKind) -> Option<usize> {
        Some(1)
    }
    fn increment_counter(&self, _id: usize, _by: u64) {}
    fn define_labeled(&self, _name: &str, _kind: MetricKind, _label: &str) -> Option<usize> {
        Some(2)
    }
    fn increment_labeled_counter(&self, _id: usize, value: &str, _by: u64) {
        assert!(!value.is_empty());
    }
    fn set_gauge(&self, _id: usize, _value: u64) {}
    fn set_labeled_gauge(&self, _id: usize, value: &str, _value: u64) {
        assert!(!value.is_empty());
    }
    fn log(&self, _level: Level, _message: &str) {}
}

fuzz_target!(|input: Input| {
    let text = CONFIGS[input.config as usize % CONFIGS.len()];
    let envoy = Envoy::default();
    let workers = usize::from(input.workers % 4) + 1;
    let Some(shared) = Shared::start(text.as_bytes(), workers, 7, &envoy) else {
        panic!("the target's configurations are valid");
    };
    let mut now = 1_700_000_000_000u64;
    for op in input.ops.into_iter().take(256) {
        match op {
            Op::Tick { dt_ms } => {
                now += u64::from(dt_ms);
                shared.tick(now, &envoy);
            }
            Op::Answer {
                index,
                status,
                body,
            } => {
                let id = {
                    let mut calls = envoy.calls.borrow_mut();
                    if calls.is_empty() {
                        continue;
                    }
                    let i = usize::from(index) % calls.len();
                    calls.remove(i)
                };
                shared.answered(now, id, status, &body, &envoy);
            }
            Op::Request(r) => {
                now += 1;
                let mut headers = vec![
                    (":method".to_string(), r.method),
                    (":path".to_string(), r.path),
                ];
                headers.extend(r.headers.into_iter().take(16));
                let buffered = RefCell::new(Vec::new());
                macro_rules! host {
                    ($chunk:expr) => {
                        Host {
                            // Past the last worker: the spare slot.
                            worker: usize::from(r.worker % 6),
                            headers: headers.clone(),
                            peer: r.peer.clone(),
                            status: r.status,
                            buffered: &buffered,
                            chunk: $chunk,
                            now,
                        }
                    };
                }
                if r.logged {
                    StreamFilter::logged(&shared, &host!(b""));
                    continue;
                }
                let mut filter = StreamFilter::default();
                let chunks: Vec<Vec<u8>> = r.chunks.into_iter().take(8).collect();
                let body = !chunks.is_empty();
                let verdict = filter.request_headers(&shared, &host!(b""), !body && !r.trailers);
                let mut held = verdict == actorwatch_native::filter::Verdict::Hold;
                for (i, chunk) in chunks.iter().enumerate() {
                    if r.reset_after.is_some_and(|n| usize::from(n) == i) {
                        break;
                    }
                    let last = i + 1 == chunks.len() && !r.trailers;
                    let v = filter.request_body(&shared, &host!(chunk), last);
                    if held || v == actorwatch_native::filter::Verdict::Hold {
                        // Envoy keeps what a held body delivered.
                        buffered.borrow_mut().extend_from_slice(chunk);
                    }
                    held = v == actorwatch_native::filter::Verdict::Hold;
                }
                if r.trailers && r.reset_after.is_none() {
                    filter.request_trailers(&shared, &host!(b""));
                }
                filter.complete(&shared, &host!(b""));
            }
        }
    }
});
