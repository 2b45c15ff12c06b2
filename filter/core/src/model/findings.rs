//! What the threat rules found in one request, as hosts hand it in with the response.

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
