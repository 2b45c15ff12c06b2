//! The per-thread side of a multi-threaded host: each worker records the responses a rule wants
//! into its own buffer (no hashing, no shared state per request) and hands it over as a delta
//! ([`crate::protocol::delta`]) on each tick.

use crate::count::blocklist::Blocklist;
use crate::model::actor::Resolved;
use crate::model::config::{quiet_covers, Config, Recording};
use crate::model::observation::Observation;
use crate::model::record::{prepare, record_of, Record};
use crate::protocol::delta::{encode_delta, put_record, DeltaCounts, DeltaReader};
use std::sync::Arc;

/// The per-worker side of a multi-threaded host: records matched responses into a compact
/// buffer (no shared state, no hashing) and hands it over as a delta on each tick.
pub struct Recorder {
    cfg: Arc<Config>,
    recording: Recording,
    buf: Vec<u8>,
    counts: DeltaCounts,
    max_buffer_bytes: usize,
}

/// Default bound on a worker's unsent records; beyond it records are dropped and counted.
pub(crate) const DEFAULT_MAX_BUFFER_BYTES: usize = 4 << 20;

impl Recorder {
    pub fn new(cfg: Arc<Config>) -> Self {
        Recorder {
            recording: cfg.recording(),
            cfg,
            buf: Vec::new(),
            counts: DeltaCounts::default(),
            max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES,
        }
    }

    pub fn with_max_buffer_bytes(mut self, bytes: usize) -> Self {
        self.max_buffer_bytes = bytes;
        self
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// Records one response; returns whether a rule wants it (its status is counted, the
    /// threat rules found something in it, or every request is counted).
    pub fn record(&mut self, now_ms: u64, obs: &Observation) -> bool {
        self.counts.responses += 1;
        if !self.wants(obs.status, obs.threats.is_some_and(|t| !t.is_empty())) {
            return false;
        }
        let Some(prepared) = prepare(&self.cfg, obs, true) else {
            self.counts.unattributed += 1;
            return true;
        };
        if self.buf.len() >= self.max_buffer_bytes {
            self.counts.records_dropped += 1;
            return true;
        }
        put_record(&mut self.buf, &record_of(now_ms, obs, &prepared));
        self.counts.records += 1;
        true
    }

    /// Records a counted response of `actor` from its time, status and actor alone if `quiet`
    /// (the aggregator's quiet list) covers every rule counting `status`; returns whether it did.
    /// Otherwise the host records the response whole.
    pub fn record_if_quiet(
        &mut self,
        now_ms: u64,
        status: u16,
        actor: &Resolved,
        quiet: &Blocklist,
    ) -> bool {
        let covered = quiet
            .get(now_ms, &actor.key)
            .is_some_and(|q| quiet_covers(&self.cfg, q.status, status));
        if covered {
            self.record_quiet(now_ms, status, actor);
        }
        covered
    }

    /// Records a counted response of an actor on the aggregator's quiet list (deep in every
    /// rule's cooldown): its time, status and actor are all the detector will read, so the
    /// host need not gather the request's method, path and headers.
    pub fn record_quiet(&mut self, now_ms: u64, status: u16, actor: &Resolved) {
        self.counts.responses += 1;
        if self.buf.len() >= self.max_buffer_bytes {
            self.counts.records_dropped += 1;
            return;
        }
        let record = Record {
            ts_ms: now_ms,
            status,
            actor: actor.key.clone(),
            ip: actor.ip,
            method: "",
            path: "",
            host: "",
            country: None,
            sample_headers: None,
            threats: None,
        };
        put_record(&mut self.buf, &record);
        self.counts.records += 1;
    }

    /// Whether any rule counts `status`: hosts skip gathering a response's details otherwise.
    #[inline]
    pub fn counts_status(&self, status: u16) -> bool {
        self.recording.counts_status(status)
    }

    /// Whether a response is recorded: its status is counted, its request has threat
    /// findings, or every request is (object-ID enumeration).
    #[inline]
    pub fn wants(&self, status: u16, has_findings: bool) -> bool {
        self.recording.wants(status, has_findings)
    }

    /// Counts one request the threat rules inspected: its bytes, and whether its body was cut.
    pub fn count_inspected(&mut self, bytes: u64, body_truncated: bool) {
        self.counts.inspected += 1;
        self.counts.inspected_bytes += bytes;
        self.counts.bodies_truncated += u64::from(body_truncated);
    }

    /// Counts a response body read for leaks (`bytes` of it), or skipped as compressed.
    pub fn count_response_inspected(&mut self, bytes: u64) {
        // An empty body was not read.
        if bytes == 0 {
            return;
        }
        self.counts.responses_inspected += 1;
        self.counts.response_bytes_inspected += bytes;
    }

    /// Counts a response body a rule wanted that was compressed (`content-encoding`).
    pub fn count_response_encoded(&mut self) {
        self.counts.response_bodies_encoded += 1;
    }

    /// Counts a response no rule counts (after [`Recorder::counts_status`] said so).
    #[inline]
    pub fn count_unmatched(&mut self) {
        self.counts.responses += 1;
    }

    /// Counts records the host lost after taking them (a delta it could not hand over).
    pub fn count_lost(&mut self, records: u64) {
        self.counts.records_dropped += records;
    }

    /// Counts the records of a delta the host took and then lost (see [`Recorder::count_lost`]).
    pub fn count_lost_delta(&mut self, delta: &[u8]) {
        if let Ok(reader) = DeltaReader::new(delta) {
            self.count_lost(reader.counts.records);
        }
    }

    /// Counts a body found longer than `body_max_bytes` after it was inspected.
    pub fn count_body_truncated(&mut self) {
        self.counts.bodies_truncated += 1;
    }

    /// Counts a request a blocking threat rule answered before the upstream.
    pub fn count_threat_blocked(&mut self) {
        self.counts.threat_blocked += 1;
    }

    /// Counts a request answered from the blocklist.
    pub fn count_blocked(&mut self) {
        self.counts.blocked_requests += 1;
    }

    pub fn pending_records(&self) -> u64 {
        self.counts.records
    }

    /// The delta accumulated since the last call, or `None` if nothing happened.
    pub fn take_delta(&mut self) -> Option<Vec<u8>> {
        if self.counts == DeltaCounts::default() {
            return None;
        }
        let counts = std::mem::take(&mut self.counts);
        let out = encode_delta(&counts, &mut self.buf);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::wire::WireError;
    use crate::model::actor::ActorKey;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config(extra: &str) -> Arc<Config> {
        let json = format!(r#"{{{extra} "webhook": {{"url": "http://127.0.0.1/hook"}}}}"#);
        Arc::new(Config::from_json_str(&json).unwrap())
    }

    #[test]
    fn delta_round_trips_every_field() {
        let cfg = config(
            r#""actor": {"sources": ["header:x-tenant", "peer"]}, "country_header": "x-country","#,
        );
        let mut rec = Recorder::new(cfg);
        let h1 = [
            ("x-country", "in"),
            ("authorization", "Bearer sekret"),
            ("user-agent", "scan/1"),
        ];
        let obs = Observation {
            method: "POST",
            path: "/v1/orders/7?x=1",
            status: 404,
            peer: Some("[2001:db8::7]:5000"),
            host: Some("api.example.com"),
            headers: &h1,
            country: None,
            threats: None,
        };
        assert!(rec.record(1_747_162_308_123, &obs));
        let h2 = [("x-tenant", "acme")];
        let obs2 = Observation {
            status: 200,
            headers: &h2,
            ..obs
        };
        assert!(!rec.record(1_747_162_308_124, &obs2));
        let obs3 = Observation {
            status: 401,
            headers: &h2,
            peer: None,
            host: None,
            ..obs
        };
        assert!(rec.record(1_747_162_308_125, &obs3));
        rec.count_blocked();
        let delta = rec.take_delta().unwrap();
        assert_eq!(rec.take_delta(), None);
        let mut reader = DeltaReader::new(&delta).unwrap();
        assert_eq!(
            reader.counts,
            DeltaCounts {
                responses: 3,
                blocked_requests: 1,
                records_dropped: 0,
                unattributed: 0,
                records: 2,
                ..DeltaCounts::default()
            }
        );
        let r1 = reader.next_record().unwrap().unwrap();
        assert_eq!(r1.ts_ms, 1_747_162_308_123);
        assert_eq!(r1.status, 404);
        assert_eq!(
            r1.actor,
            ActorKey::V6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(r1.ip, Some("2001:db8::7".parse().unwrap()));
        assert_eq!(
            (r1.method, r1.path, r1.host, r1.country_str()),
            ("POST", "/v1/orders/7", "api.example.com", "IN")
        );
        let sample: serde_json::Value =
            serde_json::from_str(&r1.sample(rec.config()).unwrap()).unwrap();
        assert_eq!(sample["statusCode"], 404);
        assert_eq!(sample["time"], 1_747_162_308);
        assert_eq!(sample["ip"], "2001:db8::7");
        let headers: serde_json::Value =
            serde_json::from_str(sample["requestHeaders"].as_str().unwrap()).unwrap();
        assert_eq!(
            headers,
            serde_json::json!({"x-country": "in", "user-agent": "scan/1"})
        );
        let r2 = reader.next_record().unwrap().unwrap();
        assert_eq!(
            r2.actor,
            ActorKey::Text {
                source: 0,
                value: "acme".into()
            }
        );
        assert_eq!((r2.ip, r2.host, r2.country), (None, "", None));
        assert!(reader.next_record().is_none());
    }

    #[test]
    fn truncated_or_foreign_deltas_are_errors_not_panics() {
        let cfg = config("");
        let mut rec = Recorder::new(cfg);
        let h = [("a", "b")];
        let obs = Observation {
            method: "GET",
            path: "/",
            status: 404,
            peer: Some("1.2.3.4"),
            host: None,
            headers: &h,
            country: None,
            threats: None,
        };
        rec.record(1, &obs);
        let delta = rec.take_delta().unwrap();
        for cut in 0..delta.len() {
            let part = &delta[..cut];
            let ok = match DeltaReader::new(part) {
                Err(_) => true,
                Ok(mut r) => matches!(r.next_record(), Some(Err(_))),
            };
            assert!(ok, "cut at {cut} was accepted");
        }
        assert_eq!(
            DeltaReader::new(b"XYZ\x01").err(),
            Some(WireError::BadMagic)
        );
        assert_eq!(
            DeltaReader::new(b"AWD\x01").err(),
            Some(WireError::UnsupportedVersion(1))
        );
        let mut trailing = delta.clone();
        trailing.push(0);
        let mut r = DeltaReader::new(&trailing).unwrap();
        assert!(r.next_record().unwrap().is_ok());
        assert_eq!(r.next_record(), Some(Err(WireError::TooLarge)));
    }

    #[test]
    fn full_worker_buffer_counts_drops() {
        let mut rec = Recorder::new(config("")).with_max_buffer_bytes(1);
        let h = [("a", "b")];
        let obs = Observation {
            method: "GET",
            path: "/",
            status: 404,
            peer: Some("1.2.3.4"),
            host: None,
            headers: &h,
            country: None,
            threats: None,
        };
        for _ in 0..3 {
            rec.record(1, &obs);
        }
        let delta = rec.take_delta().unwrap();
        let r = DeltaReader::new(&delta).unwrap();
        assert_eq!((r.counts.records, r.counts.records_dropped), (1, 2));
    }
}
