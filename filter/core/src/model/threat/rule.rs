//! What a threat rule is configured with: its action, severity, cooldown, the request parts it
//! inspects, its aggregation, and the settings of weak authentication and enumeration.

use super::auth::AuthChecks;
use super::id::ThreatId;
use super::texts;
use crate::model::attack::Part;
use crate::model::choices::{Action, Severity};
use crate::model::payload::{Overview, Remediation};

/// Requests bodies are inspected up to this many bytes unless `body_max_bytes` says otherwise
/// (as AWS WAF's managed rules do).
pub(crate) const DEFAULT_BODY_MAX_BYTES: usize = 8192;
/// Largest `body_max_bytes` accepted.
pub(crate) const MAX_BODY_MAX_BYTES: usize = 1 << 20;
/// Response bodies are inspected up to this many bytes unless `response_body_max_bytes` says
/// otherwise: error messages, stack traces and leaked file lines start near the top.
pub(crate) const DEFAULT_RESPONSE_BODY_MAX_BYTES: usize = 4096;
/// Bytes of the body a sample shows.
pub(crate) const SAMPLE_BODY_BYTES: usize = 512;

/// Request parts a payload rule inspects, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PartSet(u8);

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
pub(crate) struct Aggregation {
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
    pub(crate) parts: PartSet,
    pub(crate) aggregation: Option<Aggregation>,
    /// ParamEnumeration: distinct values of a path parameter of one API...
    pub distinct: u32,
    /// ...within this window.
    pub window_secs: u64,
    /// ParamEnumeration with `action: block`: how long the actor stays blocked.
    pub block_secs: u64,
    /// WeakAuthentication: the checks applied.
    pub(crate) checks: AuthChecks,
    /// OpenRedirect: the hosts redirects may lead to besides the request's own site (lower
    /// case; `.example.com` also allows its subdomains). Set, any other host is a hit.
    pub(crate) allowed_hosts: Option<Vec<String>>,
    /// Payload rules: whether the responses of matching requests are read for the attack's
    /// effect (`successfulExploit`).
    pub inspect_response: bool,
    /// SecurityMisconfig: the statuses whose responses it reads.
    pub statuses: crate::base::status::StatusSet,
    pub overview: Overview,
    pub remediation: Remediation,
}

impl ThreatRule {
    /// The rule with its built-in settings.
    pub fn new(id: ThreatId) -> ThreatRule {
        let parts = match id.attack() {
            Some(a) => PartSet::of(crate::model::attack::Scope::default_parts(a)),
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
            allowed_hosts: None,
            inspect_response: false,
            statuses: {
                let mut statuses = crate::base::status::StatusSet::default();
                statuses.insert_range(500, 599);
                statuses
            },
            overview: texts::overview(id),
            remediation: texts::remediation(id),
        }
    }

    pub fn cooldown_ms(&self) -> u64 {
        self.cooldown_secs.saturating_mul(1000)
    }
}
