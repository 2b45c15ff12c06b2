//! The normalized record the engine counts: what every host computes the same way from an
//! observation (the actor, the country, cut lengths), borrowed or owned.

use crate::base::template::{strip_query, truncate, MAX_URL_BYTES};
use crate::model::actor::{ActorKey, Resolved};
use crate::model::config::Config;
use crate::model::observation::Observation;
use crate::model::sample::{block_sample, sample_headers_block, MAX_METHOD_BYTES};
use std::net::IpAddr;

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
    /// is built only if the engine keeps the sample ([`Record::sample`]).
    pub sample_headers: Option<&'a [u8]>,
    /// The threat rules' findings in the request, as a block (see [`crate::model::threat::encode`]).
    pub threats: Option<&'a [u8]>,
}

impl Record<'_> {
    /// The sample document of a record from a delta (built from its header block), if it
    /// carries one.
    pub fn sample(&self, cfg: &Config) -> Option<String> {
        let request = (self.method, self.path, self.status);
        block_sample(cfg, self.sample_headers?, self.ts_ms, request, self.ip)
    }

    pub fn country_str(&self) -> &str {
        match &self.country {
            Some(c) => std::str::from_utf8(c).unwrap_or(""),
            None => "",
        }
    }
}

/// A record that outlives the bytes it was read from (held while deltas are reordered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnedRecord {
    pub ts_ms: u64,
    pub status: u16,
    pub actor: ActorKey,
    pub ip: Option<IpAddr>,
    pub method: Box<str>,
    pub path: Box<str>,
    pub host: Box<str>,
    pub country: Option<[u8; 2]>,
    pub sample_headers: Option<Box<[u8]>>,
    pub threats: Option<Box<[u8]>>,
}

impl crate::base::memory::HeapSize for OwnedRecord {
    fn heap_bytes(&self) -> usize {
        crate::base::memory::HeapSize::heap_bytes(&self.actor)
            + self.method.len()
            + self.path.len()
            + self.host.len()
            + self.sample_headers.as_ref().map_or(0, |h| h.len())
            + self.threats.as_ref().map_or(0, |h| h.len())
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
            threats: r.threats.map(Into::into),
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
            threats: self.threats.as_deref(),
        }
    }
}

const MAX_HOST_BYTES: usize = 256;

pub(crate) fn normalize_country(s: &str) -> Option<[u8; 2]> {
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
    /// The request's threat findings as a block, when it has any.
    pub threats: Option<Vec<u8>>,
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
    let threats = obs
        .threats
        .filter(|t| !t.is_empty())
        .map(crate::model::threat::encode);
    // A threat event's sample is built from the header block wherever it is raised.
    let sample_headers = ((with_sample || threats.is_some()) && cfg.samples_per_event > 0)
        .then(|| sample_headers_block(cfg, obs));
    Some(Prepared {
        resolved,
        country,
        sample_headers,
        threats,
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
        threats: prepared.threats.as_deref(),
    }
}
