//! Worker deltas: the compact versioned format a worker's recorder writes
//! ([`crate::drive::recorder`]) and the engine that aggregates reads back record by record.

use crate::base::status::StatusSet;
use crate::base::wire::{put_str, put_varint, Reader, WireError};
use crate::model::actor::ActorKey;
use crate::model::metrics::Metrics;
use crate::model::record::{normalize_country, Record};
use crate::protocol::actor_wire::ActorWire;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

// ---------------------------------------------------------------------------------------------
// Delta format, version 4 (little-endian varints):
//   magic "AWD" version(1)
//   responses, blocked_requests, records_dropped, unattributed, record_count,
//   inspected, inspected_bytes, bodies_truncated, threat_blocked,
//   responses_inspected, response_bytes_inspected, response_bodies_encoded
//   record*: ts_ms status actor ip method path host country(2 bytes, 0 0 = none) headers threats
//     actor: 4 [4] | 6 [16] | 'D' source [16] | 'T' source str
//     ip:    0 | 4 [4] | 6 [16]
//     str:   len bytes (UTF-8)        headers: 0 | 2 len block (see sample_headers_block)
//     threats: 0 | 3 len block (see threat::encode)
// ---------------------------------------------------------------------------------------------

const DELTA_MAGIC: &[u8; 3] = b"AWD";
pub(crate) const DELTA_VERSION: u8 = 4;

pub(crate) fn put_record(out: &mut Vec<u8>, r: &Record) {
    put_varint(out, r.ts_ms);
    put_varint(out, u64::from(r.status));
    r.actor.encode(out);
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
    match r.threats {
        None => out.push(0),
        Some(block) => {
            out.push(3);
            put_varint(out, block.len() as u64);
            out.extend_from_slice(block);
        }
    }
}

/// One record of a delta (see the format above).
fn read_record<'a>(r: &mut Reader<'a>) -> Result<Record<'a>, WireError> {
    let ts_ms = r.varint()?;
    let status = u16::try_from(r.varint()?).map_err(|_| WireError::TooLarge)?;
    let actor = ActorKey::decode(r)?;
    let ip = match r.byte()? {
        0 => None,
        4 => Some(IpAddr::V4(Ipv4Addr::from(r.take::<4>()?))),
        6 => Some(IpAddr::V6(Ipv6Addr::from(r.take::<16>()?))),
        t => return Err(WireError::BadTag(t)),
    };
    let method = r.str()?;
    let path = r.str()?;
    let host = r.str()?;
    let country = r.take::<2>()?;
    let country = (country != [0, 0])
        .then(|| {
            std::str::from_utf8(&country)
                .ok()
                .and_then(normalize_country)
        })
        .flatten();
    let sample_headers = match r.byte()? {
        0 => None,
        2 => Some(r.bytes()?),
        t => return Err(WireError::BadTag(t)),
    };
    let threats = match r.byte()? {
        0 => None,
        3 => Some(r.bytes()?),
        t => return Err(WireError::BadTag(t)),
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
        threats,
    })
}

/// Counters a delta carries besides its records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeltaCounts {
    pub responses: u64,
    pub blocked_requests: u64,
    pub records_dropped: u64,
    pub unattributed: u64,
    pub records: u64,
    /// Requests the threat rules inspected, their bytes, and bodies cut at `body_max_bytes`.
    pub inspected: u64,
    pub inspected_bytes: u64,
    pub bodies_truncated: u64,
    /// Requests a blocking threat rule answered before the upstream.
    pub threat_blocked: u64,
    /// Response bodies read, their bytes, and bodies skipped as compressed.
    pub responses_inspected: u64,
    pub response_bytes_inspected: u64,
    pub response_bodies_encoded: u64,
}

/// Reads a delta: its counters, then its records one by one.
pub struct DeltaReader<'a> {
    reader: Reader<'a>,
    pub counts: DeltaCounts,
    remaining: u64,
}

impl<'a> DeltaReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, WireError> {
        let mut reader = Reader::new(bytes);
        if reader.take::<3>()? != *DELTA_MAGIC {
            return Err(WireError::BadMagic);
        }
        let version = reader.byte()?;
        if version != DELTA_VERSION {
            return Err(WireError::UnsupportedVersion(version));
        }
        let counts = DeltaCounts {
            responses: reader.varint()?,
            blocked_requests: reader.varint()?,
            records_dropped: reader.varint()?,
            unattributed: reader.varint()?,
            records: reader.varint()?,
            inspected: reader.varint()?,
            inspected_bytes: reader.varint()?,
            bodies_truncated: reader.varint()?,
            threat_blocked: reader.varint()?,
            responses_inspected: reader.varint()?,
            response_bytes_inspected: reader.varint()?,
            response_bodies_encoded: reader.varint()?,
        };
        Ok(DeltaReader {
            reader,
            remaining: counts.records,
            counts,
        })
    }

    /// The next record, `None` at the end; an error ends the delta.
    pub fn next_record(&mut self) -> Option<Result<Record<'a>, WireError>> {
        if self.remaining == 0 {
            return (!self.reader.is_empty()).then_some(Err(WireError::TooLarge));
        }
        self.remaining -= 1;
        let r = read_record(&mut self.reader);
        if r.is_err() {
            self.remaining = 0;
            self.reader = Reader::new(&[]);
        }
        Some(r)
    }
}

/// Reads a whole delta: counts its counters into `metrics` and hands each record to `each`.
/// A record whose status is not in `matched` (the counting rules' statuses) was kept only for
/// its threat findings or for enumeration, and is not `matched`: every host that merges deltas
/// counts it here, the same way. A malformed delta is rejected from the first bad record on
/// (counted in `deltas_rejected`); records before it still count.
pub(crate) fn merge_delta<'a>(
    delta: &'a [u8],
    matched: StatusSet,
    metrics: &mut Metrics,
    mut each: impl FnMut(Record<'a>),
) -> Result<(), WireError> {
    let mut reader = match DeltaReader::new(delta) {
        Ok(r) => r,
        Err(e) => {
            metrics.deltas_rejected += 1;
            return Err(e);
        }
    };
    let c = reader.counts;
    metrics.responses += c.responses;
    metrics.matched += c.records + c.records_dropped + c.unattributed;
    metrics.unattributed += c.unattributed;
    metrics.blocked_requests += c.blocked_requests;
    metrics.records_dropped += c.records_dropped;
    metrics.threat_inspected += c.inspected;
    metrics.threat_bytes_inspected += c.inspected_bytes;
    metrics.bodies_truncated += c.bodies_truncated;
    metrics.threat_blocked += c.threat_blocked;
    metrics.responses_inspected += c.responses_inspected;
    metrics.response_bytes_inspected += c.response_bytes_inspected;
    metrics.response_bodies_encoded += c.response_bodies_encoded;
    let mut result = Ok(());
    while let Some(record) = reader.next_record() {
        match record {
            Ok(r) => {
                if !matched.contains(r.status) {
                    metrics.matched = metrics.matched.saturating_sub(1);
                }
                each(r)
            }
            Err(e) => {
                metrics.deltas_rejected += 1;
                result = Err(e);
            }
        }
    }
    result
}

/// A whole delta: the header with `counts`, then the encoded records, which `records` gives up.
pub(crate) fn encode_delta(counts: &DeltaCounts, records: &mut Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() + 32);
    out.extend_from_slice(DELTA_MAGIC);
    out.push(DELTA_VERSION);
    let c = counts;
    for v in [
        c.responses,
        c.blocked_requests,
        c.records_dropped,
        c.unattributed,
        c.records,
        c.inspected,
        c.inspected_bytes,
        c.bodies_truncated,
        c.threat_blocked,
        c.responses_inspected,
        c.response_bytes_inspected,
        c.response_bodies_encoded,
    ] {
        put_varint(&mut out, v);
    }
    out.append(records);
    out
}
