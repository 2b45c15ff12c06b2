//! Payload threat rules: which rules exist (Akto's policy ids), what each is configured with,
//! what a host found in one request ([`Inspection`]) and how those findings travel in records
//! and deltas to the detector that raises their events.

use crate::base::template::truncate;
use crate::base::wire::{put_str, put_varint, Reader};

pub(crate) mod auth;
pub(crate) mod id;
pub(crate) mod rule;
mod texts;

pub(crate) use crate::model::findings::Inspection;
use crate::model::findings::{Leak, LeakSet};
pub(crate) use id::ThreatId;
pub(crate) use rule::{ThreatRule, SAMPLE_BODY_BYTES};

const MAX_NAME_BYTES: usize = 128;
const MAX_EXCERPT_BYTES: usize = 160;
const MAX_QUERY_BYTES: usize = 1024;

/// The hits as a compact block for records and deltas: varint count, then per hit its rule,
/// part and name and excerpt (varint-length strings), then the query and the body head; then,
/// when the response body was inspected, a varint count of evidence and per evidence its leak
/// (one byte) and excerpt.
pub fn encode(inspection: &Inspection) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + inspection.body_head.len());
    put_varint(&mut out, inspection.hits.len() as u64);
    for hit in &inspection.hits {
        put_varint(&mut out, hit.rule as u64);
        put_str(&mut out, hit.part);
        put_str(&mut out, truncate(&hit.name, MAX_NAME_BYTES));
        put_str(&mut out, truncate(&hit.excerpt, MAX_EXCERPT_BYTES));
    }
    put_str(&mut out, truncate(&inspection.query, MAX_QUERY_BYTES));
    put_str(&mut out, truncate(&inspection.body_head, SAMPLE_BODY_BYTES));
    if inspection.response_inspected {
        put_varint(&mut out, inspection.evidence.len() as u64);
        for e in &inspection.evidence {
            out.push(e.leak as u8);
            put_str(&mut out, truncate(&e.excerpt, MAX_NAME_BYTES));
        }
    }
    out
}

/// A hit read back from a block, borrowing its strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HitRef<'a> {
    pub rule: usize,
    pub part: &'a str,
    pub name: &'a str,
    pub excerpt: &'a str,
}

/// A block read back: the hits, the query string, the body head and what the response showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings<'a> {
    pub hits: Vec<HitRef<'a>>,
    pub query: &'a str,
    pub body_head: &'a str,
    /// `None` when the response body was not inspected.
    pub evidence: Option<Vec<(Leak, &'a str)>>,
}

impl Findings<'_> {
    /// The leaks the response showed (none if it was not inspected).
    pub fn leaks(&self) -> LeakSet {
        self.evidence
            .iter()
            .flatten()
            .fold(LeakSet::default(), |s, (l, _)| s.with(*l))
    }
}

/// Reads a block written by [`encode`], `None` if malformed.
pub fn decode(block: &[u8]) -> Option<Findings<'_>> {
    let mut r = Reader::new(block);
    let count = r.varint().ok()?;
    let mut hits = Vec::with_capacity(usize::try_from(count).ok()?.min(16));
    for _ in 0..count {
        hits.push(HitRef {
            rule: usize::try_from(r.varint().ok()?).ok()?,
            part: r.str().ok()?,
            name: r.str().ok()?,
            excerpt: r.str().ok()?,
        });
    }
    let query = r.str().ok()?;
    let body_head = r.str().ok()?;
    let evidence = if r.is_empty() {
        None
    } else {
        let count = r.varint().ok()?;
        let mut evidence = Vec::with_capacity(usize::try_from(count).ok()?.min(Leak::ALL.len()));
        for _ in 0..count {
            let leak = Leak::from_index(r.byte().ok()?)?;
            evidence.push((leak, r.str().ok()?));
        }
        Some(evidence)
    };
    r.is_empty().then_some(Findings {
        hits,
        query,
        body_head,
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::ThreatHit;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn hits_round_trip_through_their_block() {
        let inspection = Inspection {
            hits: vec![ThreatHit {
                rule: 3,
                part: "query",
                name: "q".into(),
                excerpt: "' or 1=1--".into(),
            }],
            query: "q=%27+or+1%3D1--".into(),
            body_head: "{\"a\":1}".into(),
            ..Inspection::default()
        };
        let block = encode(&inspection);
        let Findings {
            hits,
            query,
            body_head: body,
            evidence,
        } = decode(&block).unwrap();
        assert_eq!(evidence, None);
        assert_eq!(query, "q=%27+or+1%3D1--");
        assert_eq!(hits.len(), 1);
        assert_eq!(
            (hits[0].rule, hits[0].part, hits[0].name, hits[0].excerpt),
            (3, "query", "q", "' or 1=1--")
        );
        assert_eq!(body, "{\"a\":1}");
        assert!(decode(&block[..block.len() - 1]).is_none());
    }

    #[test]
    fn response_evidence_round_trips_and_an_inspected_clean_response_is_not_uninspected() {
        let mut inspection = Inspection {
            response_inspected: true,
            ..Inspection::default()
        };
        assert_eq!(decode(&encode(&inspection)).unwrap().evidence, Some(vec![]));
        inspection.evidence.push(crate::model::findings::Evidence {
            leak: Leak::DatabaseError,
            excerpt: "ORA-".into(),
        });
        let block = encode(&inspection);
        let findings = decode(&block).unwrap();
        assert_eq!(findings.evidence, Some(vec![(Leak::DatabaseError, "ORA-")]));
        assert_eq!(findings.leaks(), LeakSet::of(&[Leak::DatabaseError]));
        assert!(decode(&block[..block.len() - 1]).is_none());
    }

    #[test]
    fn every_id_parses_back_and_names_its_sub_category() {
        for id in ThreatId::ALL {
            assert_eq!(ThreatId::parse(id.as_str()), Some(*id));
            assert!(!id.sub_category().is_empty());
        }
        assert_eq!(ThreatId::parse("sqlinjection"), None);
    }
}
