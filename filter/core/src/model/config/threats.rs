//! The `threat_rules` section: built-in payload, weak-authentication and enumeration rules,
//! each with its own keys.

use super::validate::{Obj, Validator};
use super::{Action, Severity, MAX_DURATION_SECS, MAX_THRESHOLD};
use crate::model::threat::auth::{AuthCheck, AuthChecks};
use crate::model::threat::id::ThreatId;
use crate::model::threat::rule::{
    Aggregation, PartSet, ThreatRule, DEFAULT_BODY_MAX_BYTES, DEFAULT_RESPONSE_BODY_MAX_BYTES,
    MAX_BODY_MAX_BYTES,
};
use serde_json::Value;

/// Why a build without the `inspect` feature refuses a rule that reads requests.
#[cfg(not(feature = "inspect"))]
pub(super) const NO_INSPECTION: &str = "this build has no request inspection (feature \"inspect\")";

const PAYLOAD_KEYS: &[&str] = &[
    "id",
    "action",
    "block_status",
    "severity",
    "cooldown_secs",
    "parts",
    "threshold",
    "window_secs",
    "overview",
    "remediation",
    "inspect_response",
];
const MISCONFIG_KEYS: &[&str] = &[
    "id",
    "action",
    "severity",
    "cooldown_secs",
    "statuses",
    "threshold",
    "window_secs",
    "overview",
    "remediation",
];
const REDIRECT_KEYS: &[&str] = &[
    "id",
    "action",
    "block_status",
    "severity",
    "cooldown_secs",
    "parts",
    "threshold",
    "window_secs",
    "overview",
    "remediation",
    "allowed_hosts",
    "inspect_response",
];
const AUTH_KEYS: &[&str] = &[
    "id",
    "action",
    "block_status",
    "severity",
    "cooldown_secs",
    "checks",
    "threshold",
    "window_secs",
    "overview",
    "remediation",
];
const ENUMERATION_KEYS: &[&str] = &[
    "id",
    "action",
    "block_secs",
    "block_status",
    "severity",
    "cooldown_secs",
    "distinct",
    "window_secs",
    "overview",
    "remediation",
];

impl Validator<'_> {
    #[inline(never)] // See `config` in sections.rs.
    pub(super) fn threat_rules(&mut self, list: Option<&Value>) -> Vec<ThreatRule> {
        let Some(v) = list else {
            return Vec::new();
        };
        let Some(list) = v.as_array() else {
            self.err("threat_rules", "must be an array of rule objects", v);
            return Vec::new();
        };
        let mut rules: Vec<ThreatRule> = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let path = format!("threat_rules[{i}]");
            if let Some(rule) = self.threat_rule(&path, v) {
                if rules.iter().any(|r| r.id == rule.id) {
                    self.err(
                        &format!("{path}.id"),
                        "must be unique among threat_rules",
                        &Value::String(rule.id.as_str().into()),
                    );
                }
                rules.push(rule);
            }
        }
        rules
    }

    pub(super) fn body_max_bytes(&mut self, root: &Obj) -> usize {
        self.uint(
            root,
            "body_max_bytes",
            DEFAULT_BODY_MAX_BYTES as u64,
            0,
            MAX_BODY_MAX_BYTES as u64,
        ) as usize
    }

    pub(super) fn response_body_max_bytes(&mut self, root: &Obj) -> usize {
        self.uint(
            root,
            "response_body_max_bytes",
            DEFAULT_RESPONSE_BODY_MAX_BYTES as u64,
            0,
            MAX_BODY_MAX_BYTES as u64,
        ) as usize
    }

    /// `envoy_hold_headers`: a boolean, `false` when absent.
    pub(super) fn envoy_hold_headers(&mut self, root: &Obj) -> bool {
        match root.get("envoy_hold_headers") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                self.err("envoy_hold_headers", "must be true or false", v);
                false
            }
        }
    }

    #[inline(never)] // See `config` in sections.rs.
    fn threat_rule(&mut self, path: &str, value: &Value) -> Option<ThreatRule> {
        let id_value = value.get("id");
        let id = match id_value.and_then(Value::as_str).and_then(ThreatId::parse) {
            Some(id) => id,
            None => {
                let names: Vec<String> = ThreatId::ALL
                    .iter()
                    .map(|t| format!("\"{}\"", t.as_str()))
                    .collect();
                let got = id_value.cloned().unwrap_or(Value::Null);
                if value.is_object() {
                    self.err(
                        &format!("{path}.id"),
                        format_args!("must be one of {}", names.join(", ")),
                        &got,
                    );
                } else {
                    self.err(path, "must be an object", value);
                }
                return None;
            }
        };
        // Payload and weak-authentication rules read requests; enumeration only counts them.
        #[cfg(not(feature = "inspect"))]
        if id != ThreatId::ParamEnumeration {
            self.err(
                &format!("{path}.id"),
                NO_INSPECTION,
                &Value::String(id.as_str().into()),
            );
            return None;
        }
        let keys = match id {
            ThreatId::WeakAuthentication => AUTH_KEYS,
            ThreatId::ParamEnumeration => ENUMERATION_KEYS,
            ThreatId::OpenRedirect => REDIRECT_KEYS,
            ThreatId::SecurityMisconfig => MISCONFIG_KEYS,
            _ => PAYLOAD_KEYS,
        };
        let obj = self.object(path, value, keys)?;
        let mut rule = ThreatRule::new(id);
        rule.action = self.choose(&obj, "action", Action::ALL, Action::Alert);
        if id == ThreatId::SecurityMisconfig && rule.action == Action::Block {
            self.err(
                &obj.path("action"),
                "must be \"alert\": SecurityMisconfig reads responses, which have left by then",
                &Value::String("block".into()),
            );
        }
        if id != ThreatId::SecurityMisconfig {
            rule.block_status =
                self.uint(&obj, "block_status", rule.block_status.into(), 200, 599) as u16;
        }
        rule.severity = self.choose(&obj, "severity", Severity::ALL, rule.severity);
        rule.cooldown_secs = self.uint(&obj, "cooldown_secs", 60, 0, MAX_DURATION_SECS);
        if let Some(v) = obj.get("overview") {
            if let Some(o) = self.overview(&obj.path("overview"), v) {
                rule.overview = o;
            }
        }
        if let Some(v) = obj.get("remediation") {
            if let Some(r) = self.remediation(&obj.path("remediation"), v) {
                rule.remediation = r;
            }
        }
        match id {
            ThreatId::ParamEnumeration => {
                rule.distinct = self.uint(&obj, "distinct", 50, 2, MAX_THRESHOLD) as u32;
                rule.window_secs = self.uint(&obj, "window_secs", 300, 1, MAX_DURATION_SECS);
                rule.block_secs = self.uint(&obj, "block_secs", 600, 1, MAX_DURATION_SECS);
            }
            _ => {
                rule.aggregation = self.aggregation(&obj);
                if id == ThreatId::WeakAuthentication {
                    rule.checks = self.auth_checks(&obj);
                } else if id == ThreatId::SecurityMisconfig {
                    rule.statuses = self.statuses(&obj, (500, 599));
                } else if let Some(parts) = self.parts(&obj) {
                    rule.parts = parts;
                }
                if id == ThreatId::OpenRedirect {
                    rule.allowed_hosts = self.allowed_hosts(&obj);
                }
                if id.attack().is_some() {
                    rule.inspect_response = self.inspect_response(&obj, id);
                }
            }
        }
        Some(rule)
    }

    /// `inspect_response`: a boolean, `false` when absent; refused for rules whose attack no
    /// response body shows.
    fn inspect_response(&mut self, obj: &Obj, id: ThreatId) -> bool {
        match obj.get("inspect_response") {
            None => false,
            Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) if id.evidence().is_empty() => {
                self.err(
                    &obj.path("inspect_response"),
                    format_args!(
                        "is not available for {}: no response body shows whether it worked",
                        id.as_str()
                    ),
                    &Value::Bool(true),
                );
                false
            }
            Some(Value::Bool(true)) => true,
            Some(v) => {
                self.err(&obj.path("inspect_response"), "must be true or false", v);
                false
            }
        }
    }

    fn aggregation(&mut self, obj: &Obj) -> Option<Aggregation> {
        let threshold = obj.get("threshold");
        let window = obj.get("window_secs");
        if threshold.is_none() && window.is_none() {
            return None;
        }
        if threshold.is_none() || window.is_none() {
            let (missing, given) = if threshold.is_none() {
                ("threshold", "window_secs")
            } else {
                ("window_secs", "threshold")
            };
            self.err(
                &obj.path(missing),
                format_args!("is required with {given} (both make an aggregating rule)"),
                &Value::Null,
            );
            return None;
        }
        Some(Aggregation {
            threshold: self.uint(obj, "threshold", 10, 1, MAX_THRESHOLD) as u32,
            window_secs: self.uint(obj, "window_secs", 60, 1, MAX_DURATION_SECS),
        })
    }

    /// `allowed_hosts`: host names (`app.example.com`), or `.example.com` for a domain and its
    /// subdomains; at most 64.
    fn allowed_hosts(&mut self, obj: &Obj) -> Option<Vec<String>> {
        let list = self.array(obj, "allowed_hosts")?;
        if list.len() > 64 {
            self.err(
                &obj.path("allowed_hosts"),
                "must list at most 64 hosts",
                &Value::from(list.len()),
            );
            return None;
        }
        let mut hosts = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let name = v.as_str().map(|s| s.trim().to_ascii_lowercase());
            let valid = name.as_deref().is_some_and(|n| {
                crate::model::actor::is_host_name(n.strip_prefix('.').unwrap_or(n))
            });
            match name {
                Some(n) if valid => hosts.push(n),
                _ => self.err(
                    &format!("{}[{i}]", obj.path("allowed_hosts")),
                    "must be a host name such as \"app.example.com\", or \".example.com\" for a domain and its subdomains",
                    v,
                ),
            }
        }
        Some(hosts)
    }

    fn parts(&mut self, obj: &Obj) -> Option<PartSet> {
        let list = self.array(obj, "parts")?;
        if list.is_empty() {
            self.err(
                &obj.path("parts"),
                "must list at least one part",
                &Value::Array(vec![]),
            );
            return None;
        }
        let mut parts = PartSet::default();
        for (i, v) in list.iter().enumerate() {
            match PartSet::NAMES.iter().find(|(_, n)| v.as_str() == Some(*n)) {
                Some((part, _)) => parts = parts.with(*part),
                None => self.err(
                    &format!("{}[{i}]", obj.path("parts")),
                    "must be one of \"path\", \"query\", \"headers\", \"cookies\", \"body\"",
                    v,
                ),
            }
        }
        Some(parts)
    }

    fn auth_checks(&mut self, obj: &Obj) -> AuthChecks {
        let Some(list) = self.array(obj, "checks") else {
            return AuthChecks::DEFAULT;
        };
        let mut checks = AuthChecks::none();
        for (i, v) in list.iter().enumerate() {
            match v.as_str().and_then(AuthCheck::parse) {
                Some(c) => checks = checks.with(c),
                None => {
                    let names: Vec<String> = AuthCheck::ALL
                        .iter()
                        .map(|c| format!("\"{}\"", c.as_str()))
                        .collect();
                    self.err(
                        &format!("{}[{i}]", obj.path("checks")),
                        format_args!("must be one of {}", names.join(", ")),
                        v,
                    );
                }
            }
        }
        checks
    }
}
