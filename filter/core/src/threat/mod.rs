//! Payload threat rules: which rules exist (Akto's policy ids), what each is configured with,
//! and what a host found in one request ([`Inspection`]), carried to the detector that raises
//! their events.

use crate::config::{Action, Severity};
use crate::inspect::{Attack, Part};
use crate::payload::{Overview, Remediation};

pub mod auth;
mod inspector;
mod texts;
pub(crate) mod tracker;

pub use auth::{AuthCheck, AuthChecks};
pub use inspector::Inspector;

/// Requests bodies are inspected up to this many bytes unless `body_max_bytes` says otherwise
/// (as AWS WAF's managed rules do).
pub const DEFAULT_BODY_MAX_BYTES: usize = 8192;
/// Largest `body_max_bytes` accepted.
pub const MAX_BODY_MAX_BYTES: usize = 1 << 20;
/// Bytes of the body a sample shows.
pub const SAMPLE_BODY_BYTES: usize = 512;

macro_rules! threat_ids {
    ($($variant:ident = $id:literal, $sub:literal, $severity:ident;)+) => {
        /// A built-in threat rule, named as Akto's threat policies are.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ThreatId { $($variant),+ }

        impl ThreatId {
            pub const ALL: &'static [ThreatId] = &[$(ThreatId::$variant),+];

            /// The rule's id: the event's `filterId`.
            pub fn as_str(self) -> &'static str {
                match self { $(ThreatId::$variant => $id),+ }
            }

            /// The event's `subCategory` (and `category`), as Akto names it.
            pub fn sub_category(self) -> &'static str {
                match self { $(ThreatId::$variant => $sub),+ }
            }

            pub fn default_severity(self) -> Severity {
                match self { $(ThreatId::$variant => Severity::$severity),+ }
            }

            pub fn parse(s: &str) -> Option<ThreatId> {
                ThreatId::ALL.iter().copied().find(|t| t.as_str() == s)
            }
        }
    };
}

threat_ids! {
    SqlInjection = "SQLInjection", "SQL_INJECTION", Medium;
    Xss = "XSS", "XSS", Medium;
    NoSqlInjection = "NoSQLInjection", "NOSQL_INJECTION", Medium;
    OsCommandInjection = "OSCommandInjection", "OS_COMMAND_INJECTION", High;
    WindowsCommandInjection = "WindowsCommandInjection", "COMMAND_INJECTION", High;
    FileInclusion = "LocalFileInclusionLFIRFI", "LFI_RFI", High;
    Ssrf = "SSRF", "SSRF", High;
    WeakAuthentication = "WeakAuthentication", "WEAK_AUTHENTICATION", Medium;
    ParamEnumeration = "ParamEnumeration", "PARAM_ENUMERATION", Medium;
}

impl ThreatId {
    /// The attack class a payload rule matches; `None` for the rules that are not payload
    /// matchers (weak authentication, enumeration).
    pub fn attack(self) -> Option<Attack> {
        Some(match self {
            ThreatId::SqlInjection => Attack::SqlInjection,
            ThreatId::Xss => Attack::Xss,
            ThreatId::NoSqlInjection => Attack::NoSqlInjection,
            ThreatId::OsCommandInjection => Attack::OsCommandInjection,
            ThreatId::WindowsCommandInjection => Attack::WindowsCommandInjection,
            ThreatId::FileInclusion => Attack::FileInclusion,
            ThreatId::Ssrf => Attack::Ssrf,
            ThreatId::WeakAuthentication | ThreatId::ParamEnumeration => return None,
        })
    }

    pub fn overview(self) -> Overview {
        texts::overview(self)
    }

    pub fn remediation(self) -> Remediation {
        texts::remediation(self)
    }
}

/// Request parts a payload rule inspects, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartSet(u8);

impl PartSet {
    pub const NAMES: [(Part, &'static str); 5] = [
        (Part::Path, "path"),
        (Part::Query, "query"),
        (Part::Headers, "headers"),
        (Part::Cookies, "cookies"),
        (Part::Body, "body"),
    ];

    pub fn of(parts: &[Part]) -> PartSet {
        PartSet(parts.iter().fold(0, |acc, p| acc | (1 << (*p as u8))))
    }
    pub fn with(self, part: Part) -> PartSet {
        PartSet(self.0 | (1 << (part as u8)))
    }
    pub fn contains(self, part: Part) -> bool {
        self.0 & (1 << (part as u8)) != 0
    }
    pub fn iter(self) -> impl Iterator<Item = Part> {
        PartSet::NAMES
            .into_iter()
            .map(|(p, _)| p)
            .filter(move |p| self.contains(*p))
    }
}

/// Aggregation of a payload rule: `threshold` matches of one actor within `window_secs` raise
/// an `AGGREGATED` event (instead of one `SINGLE` event per cooldown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregation {
    pub threshold: u32,
    pub window_secs: u64,
}

/// One configured threat rule.
#[derive(Debug, Clone)]
pub struct ThreatRule {
    pub id: ThreatId,
    pub action: Action,
    pub block_status: u16,
    pub severity: Severity,
    pub cooldown_secs: u64,
    /// Parts a payload rule inspects.
    pub parts: PartSet,
    pub aggregation: Option<Aggregation>,
    /// ParamEnumeration: distinct values of a path parameter of one API...
    pub distinct: u32,
    /// ...within this window.
    pub window_secs: u64,
    /// ParamEnumeration with `action: block`: how long the actor stays blocked.
    pub block_secs: u64,
    /// WeakAuthentication: the checks applied.
    pub checks: AuthChecks,
    pub overview: Overview,
    pub remediation: Remediation,
}

impl ThreatRule {
    /// The rule with its built-in settings.
    pub fn new(id: ThreatId) -> ThreatRule {
        let parts = match id.attack() {
            Some(a) => PartSet::of(crate::inspect::Scope::default_parts(a)),
            None => PartSet::default(),
        };
        ThreatRule {
            id,
            action: Action::Alert,
            block_status: if id == ThreatId::ParamEnumeration {
                429
            } else {
                403
            },
            severity: id.default_severity(),
            cooldown_secs: 60,
            parts,
            aggregation: None,
            distinct: 50,
            window_secs: 300,
            block_secs: 600,
            checks: AuthChecks::DEFAULT,
            overview: id.overview(),
            remediation: id.remediation(),
        }
    }

    pub fn cooldown_ms(&self) -> u64 {
        self.cooldown_secs.saturating_mul(1000)
    }
}

/// One finding in one request: the rule (its index among `threat_rules`), the part and name
/// where it matched, and an excerpt of the decoded text around the match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreatHit {
    pub rule: usize,
    pub part: &'static str,
    pub name: String,
    pub excerpt: String,
}

/// What a host found in one request: the hits, and the first bytes of its body for the sample.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspection {
    pub hits: Vec<ThreatHit>,
    /// The request's query string (without `?`), for the sample.
    pub query: String,
    pub body_head: String,
}

impl Inspection {
    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }
}

const MAX_NAME_BYTES: usize = 128;
const MAX_EXCERPT_BYTES: usize = 160;
const MAX_QUERY_BYTES: usize = 1024;

/// The hits as a compact block for records and deltas: varint count, then per hit its rule,
/// part and name and excerpt (varint-length strings), then the body head.
pub fn encode(inspection: &Inspection) -> Vec<u8> {
    use crate::template::truncate;
    use crate::wire::{put_str, put_varint};
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

/// A block read back: the hits, the query string and the body head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings<'a> {
    pub hits: Vec<HitRef<'a>>,
    pub query: &'a str,
    pub body_head: &'a str,
}

/// Reads a block written by [`encode`], `None` if malformed.
pub fn decode(block: &[u8]) -> Option<Findings<'_>> {
    let mut r = crate::wire::Reader::new(block);
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
    r.is_empty().then_some(Findings {
        hits,
        query,
        body_head,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
        };
        let block = encode(&inspection);
        let Findings {
            hits,
            query,
            body_head: body,
        } = decode(&block).unwrap();
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
    fn every_id_parses_back_and_names_its_sub_category() {
        for id in ThreatId::ALL {
            assert_eq!(ThreatId::parse(id.as_str()), Some(*id));
            assert!(!id.sub_category().is_empty());
        }
        assert_eq!(ThreatId::parse("sqlinjection"), None);
    }
}
