//! The host-side half of the threat rules: one request in, its findings out, and whether a
//! block rule answers it before the upstream.

use crate::base::credentials::is_credential_header;
use crate::base::template::truncate;
use crate::inspect::{inspect_with, Attack, Request, Scope, Settings};
use crate::model::config::{Action, Config};
use crate::model::findings::{Inspection, LeakSet, ThreatHit};
use crate::model::observation::Headers;
use crate::model::reply::BlockedReply;
use crate::model::threat::auth::weak_authentication;
use crate::model::threat::id::ThreatId;
use crate::model::threat::rule::SAMPLE_BODY_BYTES;
use std::sync::Arc;

/// What a configuration's threat rules inspect, prepared once per configuration.
#[derive(Debug, Clone)]
pub struct Inspector {
    cfg: Arc<Config>,
    scope: Scope,
    /// The rule index of each attack class, if configured.
    rule_of_attack: [Option<usize>; Attack::ALL.len()],
    auth_rule: Option<usize>,
    /// `SecurityMisconfig`, if configured (and responses are read at all).
    misconfig_rule: Option<usize>,
    /// Whether a payload rule reads the responses of its matches.
    reads_exploits: bool,
    wants_body: bool,
    blocks: bool,
}

impl Inspector {
    pub fn new(cfg: Arc<Config>) -> Inspector {
        let mut scope = Scope::none();
        let mut rule_of_attack = [None; Attack::ALL.len()];
        let mut auth_rule = None;
        let mut misconfig_rule = None;
        let mut reads_exploits = false;
        let mut wants_body = false;
        let mut blocks = false;
        for (i, rule) in cfg.threat_rules.iter().enumerate() {
            if let Some(attack) = rule.id.attack() {
                for part in rule.parts.iter() {
                    scope = scope.with(attack, part);
                }
                wants_body |= rule.parts.contains(crate::inspect::Part::Body);
                if let Some(slot) = rule_of_attack.get_mut(attack as usize) {
                    *slot = Some(i);
                }
            }
            if rule.id == ThreatId::WeakAuthentication {
                auth_rule = Some(i);
            }
            if rule.id == ThreatId::SecurityMisconfig && cfg.response_body_max_bytes > 0 {
                misconfig_rule = Some(i);
            }
            reads_exploits |= rule.inspect_response && cfg.response_body_max_bytes > 0;
            blocks |= rule.action == Action::Block && rule.id != ThreatId::ParamEnumeration;
        }
        Inspector {
            cfg,
            scope,
            rule_of_attack,
            auth_rule,
            misconfig_rule,
            reads_exploits,
            wants_body,
            blocks,
        }
    }

    /// Whether any rule reads response bodies: hosts that find it false never look at one.
    pub fn reads_responses(&self) -> bool {
        self.reads_exploits || self.misconfig_rule.is_some()
    }

    /// Bytes of a response body hosts keep for [`Inspector::inspect_response`].
    pub fn response_body_max_bytes(&self) -> usize {
        self.cfg.response_body_max_bytes
    }

    /// The leaks a response of `status` is read for, its request having `inspection`: the
    /// evidence of its matches' rules that read responses (only 2XX and 5XX answers can show an
    /// attack worked), and what `SecurityMisconfig` looks for at the statuses it reads.
    fn wanted_leaks(&self, status: u16, inspection: Option<&Inspection>) -> LeakSet {
        let mut wanted = LeakSet::default();
        if self.reads_exploits && matches!(status / 100, 2 | 5) {
            for hit in inspection.map_or(&[][..], |i| &i.hits[..]) {
                if let Some(rule) = self.cfg.threat_rules.get(hit.rule) {
                    if rule.inspect_response {
                        wanted = wanted.union(rule.id.evidence());
                    }
                }
            }
        }
        if let Some(rule) = self
            .misconfig_rule
            .and_then(|i| self.cfg.threat_rules.get(i))
        {
            if rule.statuses.contains(status) {
                wanted = wanted.union(rule.id.evidence());
            }
        }
        wanted
    }

    /// Whether hosts keep the body of a response of `status` (up to
    /// [`Inspector::response_body_max_bytes`]), asked when its headers arrive: the common
    /// response (no finding, a status no rule reads) is never copied.
    pub fn wants_response(&self, status: u16, inspection: Option<&Inspection>) -> bool {
        self.may_want_response(inspection) && !self.wanted_leaks(status, inspection).is_empty()
    }

    /// Whether a response to a request with `inspection` may be read at all, before its status
    /// is looked at: only when a rule of its matches reads responses, or `SecurityMisconfig`
    /// reads some statuses. Hosts ask this first, so that the common response costs no lookup.
    pub fn may_want_response(&self, inspection: Option<&Inspection>) -> bool {
        self.misconfig_rule.is_some()
            || (self.reads_exploits && inspection.is_some_and(|i| !i.hits.is_empty()))
    }

    /// Whether a body with this `content-encoding` is unreadable as it passes (compressed):
    /// hosts skip it and count it in `response_bodies_encoded`.
    pub fn is_encoded(content_encoding: Option<&str>) -> bool {
        content_encoding.is_some_and(|e| {
            let e = e.trim();
            !e.is_empty() && !e.eq_ignore_ascii_case("identity")
        })
    }

    /// Reads a response body (cut by the host at [`Inspector::response_body_max_bytes`]) for
    /// the leaks its status and its request's findings call for: the evidence goes into `out`
    /// (marked inspected), and a `SecurityMisconfig` hit when it shows what that rule looks
    /// for. Returns the bytes read.
    pub fn inspect_response(&self, status: u16, body: &[u8], out: &mut Inspection) -> u64 {
        let wanted = self.wanted_leaks(status, Some(out));
        // No bytes (HEAD, 204, an empty body): nothing was shown, and nothing is known.
        if wanted.is_empty() || body.is_empty() {
            return 0;
        }
        let body = body.get(..self.cfg.response_body_max_bytes).unwrap_or(body);
        out.response_inspected = true;
        out.evidence = crate::inspect::leaks::scan(body, wanted);
        let misconfig = self.misconfig_rule.and_then(|i| {
            let rule = self.cfg.threat_rules.get(i)?;
            let shown = out
                .evidence
                .iter()
                .find(|e| rule.statuses.contains(status) && rule.id.evidence().contains(e.leak))?;
            Some(ThreatHit {
                rule: i,
                part: "response",
                name: shown.leak.as_str().into(),
                excerpt: shown.excerpt.clone(),
            })
        });
        out.hits.extend(misconfig);
        body.len() as u64
    }

    /// Whether any rule inspects requests (payload rules or weak authentication).
    pub fn is_active(&self) -> bool {
        !self.scope.is_empty() || self.auth_rule.is_some()
    }

    /// Whether a rule inspects bodies: hosts keep up to [`Inspector::body_max_bytes`] of them.
    pub fn wants_body(&self) -> bool {
        self.wants_body
    }

    pub fn body_max_bytes(&self) -> usize {
        self.cfg.body_max_bytes
    }

    /// Of a body that has shown `seen` bytes so far, how many a host keeps for inspection, and
    /// whether it was cut: the one rule every host cuts bodies by. A body that fills
    /// `body_max_bytes` exactly is cut only once a further byte shows.
    pub fn body_cut(&self, seen: usize) -> (usize, bool) {
        let limit = self.cfg.body_max_bytes;
        (seen.min(limit), seen > limit)
    }

    /// The part of a whole body in hand that is inspected (none when no rule reads bodies),
    /// and whether it was cut ([`Inspector::body_cut`]).
    pub fn body_prefix<'a>(&self, body: &'a [u8]) -> (&'a [u8], bool) {
        if !self.wants_body {
            return (&[], false);
        }
        let (keep, cut) = self.body_cut(body.len());
        (body.get(..keep).unwrap_or(body), cut)
    }

    /// Whether a matching request may be answered before the upstream: hosts then inspect
    /// (and hold a body up to the limit) before forwarding.
    pub fn blocks(&self) -> bool {
        self.blocks
    }

    /// Whether the requests of this configuration are recorded whatever their status (object-ID
    /// enumeration counts every request).
    pub fn records_every_request(&self) -> bool {
        self.cfg.records_every_request()
    }

    /// Inspects one request (`body` cut by the host at [`Inspector::body_max_bytes`]); its
    /// findings go into `out` (cleared first). Returns the bytes it read (path, header names and
    /// values, body), as every host counts them in `threat_bytes_inspected`.
    pub fn inspect(&self, now_ms: u64, req: &Request, out: &mut Inspection) -> u64 {
        out.clear();
        if !self.scope.is_empty() {
            let mut hits = Vec::new();
            let settings = Settings {
                redirect_hosts: self.rule_of_attack[Attack::OpenRedirect as usize]
                    .and_then(|i| self.cfg.threat_rules.get(i))
                    .and_then(|r| r.allowed_hosts.as_deref()),
            };
            inspect_with(req, &self.scope, &settings, &mut hits);
            for hit in hits {
                let Some(Some(rule)) = self.rule_of_attack.get(hit.attack as usize) else {
                    continue;
                };
                out.hits.push(ThreatHit {
                    rule: *rule,
                    part: hit.part.as_str(),
                    name: hit.name,
                    excerpt: hit.excerpt,
                });
            }
        }
        if let Some(rule) = self.auth_rule {
            let checks = self.cfg.threat_rules.get(rule).map(|r| r.checks);
            if let Some(failed) = checks.and_then(|c| weak_authentication(req.headers, c, now_ms)) {
                out.hits.push(ThreatHit {
                    rule,
                    part: "headers",
                    name: "authorization".into(),
                    excerpt: failed.finding().into(),
                });
            }
        }
        if !out.hits.is_empty() {
            if let Some((_, query)) = req.path.split_once('?') {
                out.query = query.to_string();
            }
            if !req.body.is_empty() {
                out.body_head = body_for_sample(req.headers, req.body);
            }
        }
        let mut bytes = req.path.len() + req.body.len();
        req.headers
            .for_each(&mut |name, value| bytes += name.len() + value.len());
        bytes as u64
    }

    /// The status a block rule answers this request with, before the upstream, if one matched.
    pub fn block_status(&self, inspection: &Inspection) -> Option<u16> {
        inspection.hits.iter().find_map(|hit| {
            let rule = self.cfg.threat_rules.get(hit.rule)?;
            (rule.action == Action::Block).then_some(rule.block_status)
        })
    }

    /// The reply a host sends instead of forwarding the request, when a blocking rule matched.
    pub fn block_reply(&self, inspection: &Inspection) -> Option<BlockedReply> {
        self.block_status(inspection).map(BlockedReply::request)
    }
}

/// The first bytes of a body as a sample shows them: values of credential-like fields (form
/// and JSON) replaced, so that a login form's password never leaves the proxy.
fn body_for_sample(headers: &dyn Headers, body: &[u8]) -> String {
    const REDACTED: &str = "[redacted]";
    let text = String::from_utf8_lossy(body);
    let content_type = headers.get("content-type").unwrap_or("");
    if content_type.contains("json") || text.trim_start().starts_with(['{', '[']) {
        if let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(&text) {
            redact_json(&mut doc, REDACTED);
            let out = serde_json::to_string(&doc).unwrap_or_default();
            return truncate(&out, SAMPLE_BODY_BYTES).to_string();
        }
        return "[a JSON body cut at the inspection limit is not shown]".into();
    }
    if content_type.contains("x-www-form-urlencoded") || looks_like_form(&text) {
        let fields: Vec<String> = text
            .split('&')
            .map(|field| match field.split_once('=') {
                Some((k, _)) if is_credential_header(k) => format!("{k}={REDACTED}"),
                _ => field.to_string(),
            })
            .collect();
        return truncate(&fields.join("&"), SAMPLE_BODY_BYTES).to_string();
    }
    truncate(&text, SAMPLE_BODY_BYTES).to_string()
}

fn looks_like_form(text: &str) -> bool {
    !text.contains(char::is_whitespace)
        && text
            .split('&')
            .all(|f| f.split_once('=').is_some_and(|(k, _)| !k.is_empty()))
}

fn redact_json(doc: &mut serde_json::Value, redacted: &str) {
    match doc {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_credential_header(k) && !v.is_object() && !v.is_array() {
                    *v = serde_json::Value::String(redacted.into());
                } else {
                    redact_json(v, redacted);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, redacted)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn sample_bodies_never_show_credential_fields() {
        let form = [("content-type", "application/x-www-form-urlencoded")];
        let shown = body_for_sample(&form, b"user=bob&password=hunter2&q=1");
        assert_eq!(shown, "user=bob&password=[redacted]&q=1");
        let json = [("content-type", "application/json")];
        let shown = body_for_sample(&json, br#"{"user":{"name":"bob","api_key":"k1"},"q":"x"}"#);
        assert!(!shown.contains("k1"), "{shown}");
        assert!(shown.contains("bob"), "{shown}");
        let cut = body_for_sample(&json, br#"{"password":"hunter2","q":"#);
        assert!(!cut.contains("hunter2"), "{cut}");
    }
}
