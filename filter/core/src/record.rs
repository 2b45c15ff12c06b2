//! What hosts observe, the normalized record the engine counts, and the compact versioned
//! delta format that carries records from proxy workers to the aggregating engine.

use crate::actor::{ActorKey, Resolved};
use crate::config::{is_credential_header, Config, StatusSet, ALWAYS_REDACTED};
use crate::template::{strip_query, truncate, MAX_URL_BYTES};
use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Request headers as a host sees them. Names are matched case-insensitively.
pub trait Headers {
    fn get(&self, name: &str) -> Option<&str>;
    fn for_each(&self, f: &mut dyn FnMut(&str, &str));
}

fn pairs_get<'a, A: AsRef<str>, B: AsRef<str>>(pairs: &'a [(A, B)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

fn pairs_for_each<A: AsRef<str>, B: AsRef<str>>(pairs: &[(A, B)], f: &mut dyn FnMut(&str, &str)) {
    for (k, v) in pairs {
        f(k.as_ref(), v.as_ref());
    }
}

impl<A: AsRef<str>, B: AsRef<str>, const N: usize> Headers for [(A, B); N] {
    fn get(&self, name: &str) -> Option<&str> {
        pairs_get(self, name)
    }
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        pairs_for_each(self, f)
    }
}

impl<A: AsRef<str>, B: AsRef<str>> Headers for Vec<(A, B)> {
    fn get(&self, name: &str) -> Option<&str> {
        pairs_get(self, name)
    }
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        pairs_for_each(self, f)
    }
}

impl<A: AsRef<str>, B: AsRef<str>> Headers for &[(A, B)] {
    fn get(&self, name: &str) -> Option<&str> {
        pairs_get(self, name)
    }
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        pairs_for_each(self, f)
    }
}

impl Headers for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        match BTreeMap::get(self, name) {
            Some(v) => Some(v.as_str()),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str()),
        }
    }
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (k, v) in self {
            f(k, v);
        }
    }
}

/// One response as the host saw it.
#[derive(Clone, Copy)]
pub struct Observation<'a> {
    pub method: &'a str,
    /// Request path, with or without query string.
    pub path: &'a str,
    pub status: u16,
    /// The connection's peer address (`1.2.3.4:5678`, `[::1]:80`, ...).
    pub peer: Option<&'a str>,
    /// The request's `:authority` / `Host`.
    pub host: Option<&'a str>,
    pub headers: &'a dyn Headers,
    /// ISO-3166 alpha-2 from the host (Cloudflare); otherwise `country_header` is read.
    pub country: Option<&'a str>,
}

impl fmt::Debug for Observation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observation")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("status", &self.status)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// A matched response, normalized: what the engine counts. Borrowed so that counting a
/// response locally or from a delta allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub ts_ms: u64,
    pub status: u16,
    pub actor: ActorKey,
    pub ip: Option<IpAddr>,
    pub method: &'a str,
    /// Path without query string, at most `MAX_URL_BYTES`.
    pub path: &'a str,
    pub host: &'a str,
    /// Upper-case ISO-3166 alpha-2, or `None`.
    pub country: Option<[u8; 2]>,
    /// The request headers a sample may show (credentials already removed), encoded as a
    /// block (see [`sample_headers_block`]), when samples are on. The sample document itself
    /// is built only if the engine keeps the sample ([`record_sample`]).
    pub sample_headers: Option<&'a [u8]>,
}

impl Record<'_> {
    pub fn country_str(&self) -> &str {
        match &self.country {
            Some(c) => std::str::from_utf8(c).unwrap_or(""),
            None => "",
        }
    }
}

/// A record that outlives the bytes it was read from (held while deltas are reordered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    pub ts_ms: u64,
    pub status: u16,
    pub actor: ActorKey,
    pub ip: Option<IpAddr>,
    pub method: Box<str>,
    pub path: Box<str>,
    pub host: Box<str>,
    pub country: Option<[u8; 2]>,
    pub sample_headers: Option<Box<[u8]>>,
}

impl crate::memory::HeapSize for OwnedRecord {
    fn heap_bytes(&self) -> usize {
        crate::memory::HeapSize::heap_bytes(&self.actor)
            + self.method.len()
            + self.path.len()
            + self.host.len()
            + self.sample_headers.as_ref().map_or(0, |h| h.len())
    }
}

impl OwnedRecord {
    pub fn of(r: &Record) -> Self {
        OwnedRecord {
            ts_ms: r.ts_ms,
            status: r.status,
            actor: r.actor.clone(),
            ip: r.ip,
            method: r.method.into(),
            path: r.path.into(),
            host: r.host.into(),
            country: r.country,
            sample_headers: r.sample_headers.map(Into::into),
        }
    }

    pub fn as_record(&self) -> Record<'_> {
        Record {
            ts_ms: self.ts_ms,
            status: self.status,
            actor: self.actor.clone(),
            ip: self.ip,
            method: &self.method,
            path: &self.path,
            host: &self.host,
            country: self.country,
            sample_headers: self.sample_headers.as_deref(),
        }
    }
}

/// Longest method kept; longer ones are cut.
const MAX_METHOD_BYTES: usize = 32;
const MAX_HOST_BYTES: usize = 256;
const MAX_SAMPLE_HEADERS: usize = 64;
const MAX_SAMPLE_HEADER_VALUE: usize = 256;

fn normalize_country(s: &str) -> Option<[u8; 2]> {
    match s.trim().as_bytes() {
        [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => None,
    }
}

/// Prepares the parts of an observation that every host computes the same way.
pub(crate) struct Prepared {
    pub resolved: Resolved,
    pub country: Option<[u8; 2]>,
    /// Gathered up front only where it must travel with the record (worker deltas).
    pub sample_headers: Option<Vec<u8>>,
}

pub(crate) fn prepare(cfg: &Config, obs: &Observation, with_sample: bool) -> Option<Prepared> {
    let resolved = cfg.actor.resolve(obs.peer, obs.headers)?;
    let country = obs
        .country
        .or_else(|| {
            cfg.country_header
                .as_deref()
                .and_then(|h| obs.headers.get(h))
        })
        .and_then(normalize_country);
    let sample_headers =
        (with_sample && cfg.samples_per_event > 0).then(|| sample_headers_block(cfg, obs));
    Some(Prepared {
        resolved,
        country,
        sample_headers,
    })
}

pub(crate) fn record_of<'a>(
    now_ms: u64,
    obs: &Observation<'a>,
    prepared: &'a Prepared,
) -> Record<'a> {
    Record {
        ts_ms: now_ms,
        status: obs.status,
        actor: prepared.resolved.key.clone(),
        ip: prepared.resolved.ip,
        method: truncate(obs.method, MAX_METHOD_BYTES),
        path: truncate(strip_query(obs.path), MAX_URL_BYTES),
        host: truncate(obs.host.unwrap_or(""), MAX_HOST_BYTES),
        country: prepared.country,
        sample_headers: prepared.sample_headers.as_deref(),
    }
}

/// Whether a header may be copied into a sample.
pub fn is_redacted(cfg: &Config, name: &str) -> bool {
    ALWAYS_REDACTED.iter().any(|h| name.eq_ignore_ascii_case(h))
        || is_credential_header(name)
        || cfg
            .redact_headers
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
}

/// The headers a sample may show, as a compact block: a varint count, then each lower-case
/// name and truncated value as varint-length strings. Credentials and pseudo-headers are left
/// out here already, so they never travel in a delta.
pub fn sample_headers_block(cfg: &Config, obs: &Observation) -> Vec<u8> {
    let mut pairs: Vec<u8> = Vec::with_capacity(256);
    let mut count = 0u64;
    obs.headers.for_each(&mut |name, value| {
        if count as usize >= MAX_SAMPLE_HEADERS || name.starts_with(':') || is_redacted(cfg, name) {
            return;
        }
        count += 1;
        put_varint(&mut pairs, name.len() as u64);
        pairs.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
        put_str(&mut pairs, truncate(value, MAX_SAMPLE_HEADER_VALUE));
    });
    let mut out = Vec::with_capacity(pairs.len() + 2);
    put_varint(&mut out, count);
    out.extend_from_slice(&pairs);
    out
}

fn decode_headers_block(block: &[u8]) -> Option<Vec<(&str, &str)>> {
    let mut r = Reader::new(block);
    let count = r.varint().ok()?;
    let mut out = Vec::with_capacity(usize::try_from(count).ok()?.min(MAX_SAMPLE_HEADERS));
    for _ in 0..count {
        out.push((r.str().ok()?, r.str().ok()?));
    }
    Some(out)
}

/// The sample document of a record from a delta (built from its header block), if it has one.
pub fn record_sample(cfg: &Config, rec: &Record) -> Option<String> {
    let headers = decode_headers_block(rec.sample_headers?)?;
    let obs = Observation {
        method: rec.method,
        path: rec.path,
        status: rec.status,
        peer: None,
        host: None,
        headers: &headers,
        country: None,
    };
    Some(sample_json(cfg, rec.ts_ms, &obs, rec.ip))
}

/// Appends `s` to `out` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut clean_from = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(clean_from..i).unwrap_or(""));
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        clean_from = i + 1;
    }
    out.push_str(s.get(clean_from..).unwrap_or(""));
    out.push('"');
}

/// The `orig` document of one sample: method, path, status, ip, time (epoch seconds) and the
/// request headers minus credentials, as Akto formats its samples (the header map is itself a
/// JSON string). Header names are lower-cased and sorted, repeated headers joined with ", ",
/// so every host writes the same bytes for the same request.
pub fn sample_json(cfg: &Config, now_ms: u64, obs: &Observation, ip: Option<IpAddr>) -> String {
    // Names and values are copied into one buffer; `spans` indexes it.
    let mut buf = String::with_capacity(256);
    let mut spans: Vec<(usize, usize, usize)> = Vec::with_capacity(16);
    obs.headers.for_each(&mut |name, value| {
        if spans.len() >= MAX_SAMPLE_HEADERS || name.starts_with(':') || is_redacted(cfg, name) {
            return;
        }
        let start = buf.len();
        buf.extend(name.chars().map(|c| c.to_ascii_lowercase()));
        let split = buf.len();
        buf.push_str(truncate(value, MAX_SAMPLE_HEADER_VALUE));
        spans.push((start, split, buf.len()));
    });
    let part = |a: usize, b: usize| buf.get(a..b).unwrap_or("");
    spans.sort_by(|x, y| part(x.0, x.1).cmp(part(y.0, y.1)));
    let mut headers = String::with_capacity(buf.len() + spans.len() * 6 + 2);
    headers.push('{');
    let mut previous: Option<&str> = None;
    for &(start, split, end) in &spans {
        let name = part(start, split);
        if previous == Some(name) {
            // Repeated header: continue the value (drop its closing quote first).
            headers.pop();
            headers.push_str(", ");
            let mut tail = String::new();
            push_json_str(&mut tail, part(split, end));
            headers.push_str(tail.get(1..).unwrap_or(""));
            continue;
        }
        if previous.is_some() {
            headers.push(',');
        }
        push_json_str(&mut headers, name);
        headers.push(':');
        push_json_str(&mut headers, part(split, end));
        previous = Some(name);
    }
    headers.push('}');

    let mut out = String::with_capacity(headers.len() * 2 + 128);
    out.push_str("{\"method\":");
    push_json_str(&mut out, truncate(obs.method, MAX_METHOD_BYTES));
    out.push_str(",\"path\":");
    push_json_str(&mut out, truncate(strip_query(obs.path), MAX_URL_BYTES));
    let _ = write!(out, ",\"statusCode\":{},\"ip\":", obs.status);
    match ip {
        Some(ip) => {
            let _ = write!(out, "\"{ip}\"");
        }
        None => out.push_str("\"\""),
    }
    let _ = write!(out, ",\"time\":{},\"requestHeaders\":", now_ms / 1000);
    push_json_str(&mut out, &headers);
    out.push('}');
    out
}

// ---------------------------------------------------------------------------------------------
// Delta format, version 2 (little-endian varints):
//   magic "AWD" version(1)
//   responses, blocked_requests, records_dropped, unattributed, record_count
//   record*: ts_ms status actor ip method path host country(2 bytes, 0 0 = none) headers
//     actor: 4 [4] | 6 [16] | 'D' source [16] | 'T' source str
//     ip:    0 | 4 [4] | 6 [16]
//     str:   len bytes (UTF-8)        headers: 0 | 2 len block (see sample_headers_block)
// ---------------------------------------------------------------------------------------------

const DELTA_MAGIC: &[u8; 3] = b"AWD";
pub const DELTA_VERSION: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaError {
    BadMagic,
    UnsupportedVersion(u8),
    Truncated,
    BadUtf8,
    BadTag(u8),
    TooLarge,
    /// A state snapshot taken under another configuration.
    OtherConfig,
}

impl fmt::Display for DeltaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeltaError::BadMagic => f.write_str("not an actorwatch delta"),
            DeltaError::UnsupportedVersion(v) => write!(f, "unsupported delta version {v}"),
            DeltaError::Truncated => f.write_str("delta is truncated"),
            DeltaError::BadUtf8 => f.write_str("delta holds a string that is not UTF-8"),
            DeltaError::BadTag(t) => write!(f, "delta holds an unknown tag {t}"),
            DeltaError::TooLarge => f.write_str("delta holds a value out of range"),
            DeltaError::OtherConfig => f.write_str("snapshot of another configuration"),
        }
    }
}

impl std::error::Error for DeltaError {}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn put_actor(out: &mut Vec<u8>, key: &ActorKey) {
    match key {
        ActorKey::V4(o) => {
            out.push(4);
            out.extend_from_slice(o);
        }
        ActorKey::V6(o) => {
            out.push(6);
            out.extend_from_slice(o);
        }
        ActorKey::Digest { source, hash } => {
            out.push(b'D');
            out.push(*source);
            out.extend_from_slice(hash);
        }
        ActorKey::Text { source, value } => {
            out.push(b'T');
            out.push(*source);
            put_str(out, value);
        }
    }
}

fn put_record(out: &mut Vec<u8>, r: &Record) {
    put_varint(out, r.ts_ms);
    put_varint(out, u64::from(r.status));
    put_actor(out, &r.actor);
    match r.ip {
        None => out.push(0),
        Some(IpAddr::V4(v4)) => {
            out.push(4);
            out.extend_from_slice(&v4.octets());
        }
        Some(IpAddr::V6(v6)) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
    }
    put_str(out, r.method);
    put_str(out, r.path);
    put_str(out, r.host);
    out.extend_from_slice(&r.country.unwrap_or([0, 0]));
    match r.sample_headers {
        None => out.push(0),
        Some(block) => {
            out.push(2);
            put_varint(out, block.len() as u64);
            out.extend_from_slice(block);
        }
    }
}

/// A bounds-checked reader over delta or blocklist bytes: never panics on any input.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    pub fn byte(&mut self) -> Result<u8, DeltaError> {
        let (&b, rest) = self.bytes.split_first().ok_or(DeltaError::Truncated)?;
        self.bytes = rest;
        Ok(b)
    }
    pub fn take<const N: usize>(&mut self) -> Result<[u8; N], DeltaError> {
        let (head, rest) = self
            .bytes
            .split_at_checked(N)
            .ok_or(DeltaError::Truncated)?;
        self.bytes = rest;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }
    pub fn varint(&mut self) -> Result<u64, DeltaError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if shift == 63 && b > 1 {
                    return Err(DeltaError::TooLarge);
                }
                return Ok(v);
            }
        }
        Err(DeltaError::TooLarge)
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], DeltaError> {
        let len = usize::try_from(self.varint()?).map_err(|_| DeltaError::TooLarge)?;
        let (head, rest) = self
            .bytes
            .split_at_checked(len)
            .ok_or(DeltaError::Truncated)?;
        self.bytes = rest;
        Ok(head)
    }
    pub fn str(&mut self) -> Result<&'a str, DeltaError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| DeltaError::BadUtf8)
    }
    pub fn actor(&mut self) -> Result<ActorKey, DeltaError> {
        Ok(match self.byte()? {
            4 => ActorKey::V4(self.take()?),
            6 => ActorKey::V6(self.take()?),
            b'D' => ActorKey::Digest {
                source: self.byte()?,
                hash: self.take()?,
            },
            b'T' => ActorKey::Text {
                source: self.byte()?,
                value: self.str()?.into(),
            },
            t => return Err(DeltaError::BadTag(t)),
        })
    }
    fn record(&mut self) -> Result<Record<'a>, DeltaError> {
        let ts_ms = self.varint()?;
        let status = u16::try_from(self.varint()?).map_err(|_| DeltaError::TooLarge)?;
        let actor = self.actor()?;
        let ip = match self.byte()? {
            0 => None,
            4 => Some(IpAddr::V4(Ipv4Addr::from(self.take::<4>()?))),
            6 => Some(IpAddr::V6(Ipv6Addr::from(self.take::<16>()?))),
            t => return Err(DeltaError::BadTag(t)),
        };
        let method = self.str()?;
        let path = self.str()?;
        let host = self.str()?;
        let country = self.take::<2>()?;
        let country = (country != [0, 0])
            .then(|| {
                std::str::from_utf8(&country)
                    .ok()
                    .and_then(normalize_country)
            })
            .flatten();
        let sample_headers = match self.byte()? {
            0 => None,
            2 => Some(self.bytes()?),
            t => return Err(DeltaError::BadTag(t)),
        };
        Ok(Record {
            ts_ms,
            status,
            actor,
            ip,
            method,
            path,
            host,
            country,
            sample_headers,
        })
    }
}

/// Counters a delta carries besides its records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeltaCounts {
    pub responses: u64,
    pub blocked_requests: u64,
    pub records_dropped: u64,
    pub unattributed: u64,
    pub records: u64,
}

/// Reads a delta: its counters, then its records one by one.
pub struct DeltaReader<'a> {
    reader: Reader<'a>,
    pub counts: DeltaCounts,
    remaining: u64,
}

impl<'a> DeltaReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, DeltaError> {
        let mut reader = Reader::new(bytes);
        if reader.take::<3>()? != *DELTA_MAGIC {
            return Err(DeltaError::BadMagic);
        }
        let version = reader.byte()?;
        if version != DELTA_VERSION {
            return Err(DeltaError::UnsupportedVersion(version));
        }
        let counts = DeltaCounts {
            responses: reader.varint()?,
            blocked_requests: reader.varint()?,
            records_dropped: reader.varint()?,
            unattributed: reader.varint()?,
            records: reader.varint()?,
        };
        Ok(DeltaReader {
            reader,
            remaining: counts.records,
            counts,
        })
    }

    /// The next record, `None` at the end; an error ends the delta.
    pub fn next_record(&mut self) -> Option<Result<Record<'a>, DeltaError>> {
        if self.remaining == 0 {
            return (!self.reader.is_empty()).then_some(Err(DeltaError::TooLarge));
        }
        self.remaining -= 1;
        let r = self.reader.record();
        if r.is_err() {
            self.remaining = 0;
            self.reader = Reader::new(&[]);
        }
        Some(r)
    }
}

/// The per-worker side of a multi-threaded host: records matched responses into a compact
/// buffer (no shared state, no hashing) and hands it over as a delta on each tick.
pub struct Recorder {
    cfg: Arc<Config>,
    matched: StatusSet,
    buf: Vec<u8>,
    counts: DeltaCounts,
    max_buffer_bytes: usize,
}

/// Default bound on a worker's unsent records; beyond it records are dropped and counted.
pub const DEFAULT_MAX_BUFFER_BYTES: usize = 4 << 20;

impl Recorder {
    pub fn new(cfg: Arc<Config>) -> Self {
        let matched = cfg.matched_statuses();
        Recorder {
            cfg,
            matched,
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

    /// Records one response; returns whether any rule counts its status.
    pub fn record(&mut self, now_ms: u64, obs: &Observation) -> bool {
        self.counts.responses += 1;
        if !self.matched.contains(obs.status) {
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

    /// Whether any rule counts `status`: hosts skip gathering a response's details otherwise.
    #[inline]
    pub fn counts_status(&self, status: u16) -> bool {
        self.matched.contains(status)
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
        let mut out = Vec::with_capacity(self.buf.len() + 32);
        out.extend_from_slice(DELTA_MAGIC);
        out.push(DELTA_VERSION);
        let c = std::mem::take(&mut self.counts);
        for v in [
            c.responses,
            c.blocked_requests,
            c.records_dropped,
            c.unattributed,
            c.records,
        ] {
            put_varint(&mut out, v);
        }
        out.append(&mut self.buf);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
                records: 2
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
            serde_json::from_str(&record_sample(rec.config(), &r1).unwrap()).unwrap();
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
            Some(DeltaError::BadMagic)
        );
        assert_eq!(
            DeltaReader::new(b"AWD\x01").err(),
            Some(DeltaError::UnsupportedVersion(1))
        );
        let mut trailing = delta.clone();
        trailing.push(0);
        let mut r = DeltaReader::new(&trailing).unwrap();
        assert!(r.next_record().unwrap().is_ok());
        assert_eq!(r.next_record(), Some(Err(DeltaError::TooLarge)));
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
        };
        for _ in 0..3 {
            rec.record(1, &obs);
        }
        let delta = rec.take_delta().unwrap();
        let r = DeltaReader::new(&delta).unwrap();
        assert_eq!((r.counts.records, r.counts.records_dropped), (1, 2));
    }

    #[test]
    fn samples_are_valid_json_whatever_the_bytes() {
        let cfg = config("");
        let nasty = "q\"u\\o\nt\u{1}e é 😀";
        let h = [("X-B", nasty), ("x-a", "1"), ("X-A", "2")];
        let obs = Observation {
            method: "GE\"T",
            path: "/p\"ath\\",
            status: 404,
            peer: None,
            host: None,
            headers: &h,
            country: None,
        };
        let doc = sample_json(&cfg, 1_000, &obs, Some("2001:db8::1".parse().unwrap()));
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["method"], "GE\"T");
        assert_eq!(v["path"], "/p\"ath\\");
        assert_eq!(v["ip"], "2001:db8::1");
        assert_eq!(v["time"], 1);
        let inner: serde_json::Value =
            serde_json::from_str(v["requestHeaders"].as_str().unwrap()).unwrap();
        assert_eq!(inner, serde_json::json!({"x-a": "1, 2", "x-b": nasty}));
        // Names come out sorted, so header order does not change the bytes.
        let reordered = [("X-A", "1"), ("X-B", nasty), ("x-a", "2")];
        let obs2 = Observation {
            headers: &reordered,
            ..obs
        };
        assert_eq!(
            sample_json(&cfg, 1_000, &obs2, Some("2001:db8::1".parse().unwrap())),
            doc
        );
    }

    #[test]
    fn samples_drop_credentials_and_configured_headers() {
        let cfg = config(r#""redact_headers": ["X-Internal"],"#);
        let h = [
            ("authorization", "Bearer a"),
            ("cookie", "c=1"),
            ("proxy-authorization", "Basic b"),
            ("x-api-key", "k"),
            ("x-internal", "secret-route"),
            ("accept", "a/b"),
            ("accept", "c/d"),
            (":authority", "h"),
        ];
        let obs = Observation {
            method: "GET",
            path: "/p?token=1",
            status: 401,
            peer: None,
            host: None,
            headers: &h,
            country: None,
        };
        let doc = sample_json(&cfg, 5_000, &obs, None);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["path"], "/p");
        assert_eq!(v["requestHeaders"], "{\"accept\":\"a/b, c/d\"}");
        for secret in ["Bearer", "c=1", "Basic", "secret-route"] {
            assert!(!doc.contains(secret), "{secret} leaked: {doc}");
        }
    }
}
