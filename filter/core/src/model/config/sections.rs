//! The document's sections read one by one (root, actor, rules; webhook and sinks in
//! `sinks.rs`) into the checked
//! configuration; everything wrong is reported with its key path.
//!
//! One file of about 510 lines: the sections' readers side by side, so that the known keys of
//! each object and the order errors are reported in stay in one place.

use super::validate::{is_token, Obj, Validator};
use super::{
    default_rule, minimum_memory_mb, Action, Config, ConfigError, Per, Rule, RuleKind, Severity,
    MAX_DURATION_SECS, MAX_THRESHOLD,
};
use super::{DEFAULT_MAX_MEMORY_MB, MAX_MEMORY_MB};
use crate::base::address::parse_cidr;
use crate::base::credentials::is_credential_header;
use crate::base::status::StatusSet;
use crate::model::actor::{ActorConfig, ActorSource};
use crate::model::payload::{Overview, Remediation, RemediationStep};
use crate::model::texts;
use serde_json::{Map, Value};

impl Validator<'_> {
    /// The sections' readers are `#[inline(never)]`: inlined here they made one function of 32 KB,
    /// and a Wasm engine's optimizing compiler needs memory that grows with a function's size.
    /// `statuses`: statuses and ranges (`404`, `"400-499"`, `"4xx"`); `default` when absent.
    pub(super) fn statuses(&mut self, obj: &Obj, default: (u16, u16)) -> StatusSet {
        let mut statuses = self.status_list(obj, "statuses");
        if obj.get("statuses").is_none() {
            statuses.insert_range(default.0, default.1);
        }
        statuses
    }

    /// A list of statuses and ranges under `key` (empty when absent).
    pub(super) fn status_list(&mut self, obj: &Obj, key: &'static str) -> StatusSet {
        let mut statuses = StatusSet::default();
        let Some(list) = self.array(obj, key) else {
            return statuses;
        };
        if list.is_empty() {
            self.err(
                &obj.path(key),
                "must list at least one status or range",
                &Value::Array(vec![]),
            );
        }
        for (i, v) in list.iter().enumerate() {
            match parse_status_range(v) {
                Some((lo, hi)) => statuses.insert_range(lo, hi),
                None => self.err(
                    &format!("{}[{i}]", obj.path(key)),
                    "must be a status 100-599, a range such as \"400-499\", or \"4xx\"",
                    v,
                ),
            }
        }
        statuses
    }

    pub(super) fn config(&mut self, value: &Value) -> Option<Config> {
        const KEYS: &[&str] = &[
            "actor",
            "rules",
            "max_actors",
            "max_memory_mb",
            "samples_per_event",
            "redact_headers",
            "api_collection_id",
            "country_header",
            "webhook",
            "sinks",
            "threat_rules",
            "body_max_bytes",
            "response_body_max_bytes",
            "envoy_hold_headers",
            "fleet",
        ];
        let root = self.object("", value, KEYS)?;
        let actor = self.actor(root.get("actor"));
        let threat_rules = self.threat_rules(root.get("threat_rules"));
        let rules = self.rules(&root, !threat_rules.is_empty());
        let body_max_bytes = self.body_max_bytes(&root);
        let response_body_max_bytes = self.response_body_max_bytes(&root);
        let envoy_hold_headers = self.envoy_hold_headers(&root);
        let fleet = self.fleet(root.get("fleet"));
        if fleet.is_redis() {
            for (i, rule) in rules.iter().enumerate() {
                if !rule.success_statuses.is_empty() {
                    self.err(
                        &format!("rules[{i}].success_statuses"),
                        "is not available in fleet mode (Redis counts the failures; the success would be seen by one proxy only)",
                        &Value::String(rule.id.clone()),
                    );
                }
            }
        }
        let max_actors = self.uint(&root, "max_actors", 100_000, 1, 50_000_000) as usize;
        let max_memory_mb = self.uint(
            &root,
            "max_memory_mb",
            DEFAULT_MAX_MEMORY_MB,
            1,
            MAX_MEMORY_MB,
        ) as usize;
        let samples_per_event = self.uint(&root, "samples_per_event", 10, 0, 100) as usize;
        let mut redact_headers = Vec::new();
        if let Some(list) = self.array(&root, "redact_headers") {
            for (i, v) in list.iter().enumerate() {
                if let Some(name) = self.header_name(&format!("redact_headers[{i}]"), v) {
                    redact_headers.push(name);
                }
            }
        }
        let api_collection_id = match root.get("api_collection_id") {
            None => 0,
            Some(v) => match v.as_i64() {
                Some(n) => n,
                None => {
                    self.err("api_collection_id", "must be an integer", v);
                    0
                }
            },
        };
        let country_header = root
            .get("country_header")
            .and_then(|v| self.header_name("country_header", v));
        let sinks = self.sinks(root.get("sinks"));
        let webhook = match root.get("webhook") {
            Some(v) => self.webhook(v),
            None => {
                self.errors.push(ConfigError {
                    path: "webhook".into(),
                    message: "is required (an object with at least \"url\"), got nothing".into(),
                });
                None
            }
        };
        if let Some(need) = minimum_memory_mb(&rules, samples_per_event) {
            if need > max_memory_mb as u64 && root.get("max_memory_mb").is_some() {
                self.errors.push(ConfigError {
                    path: "max_memory_mb".into(),
                    message: format!(
                        "must be at least {need} to hold one actor at every rule's threshold and one event with its samples, got {max_memory_mb}"
                    ),
                });
            } else if need > max_memory_mb as u64 {
                self.errors.push(ConfigError {
                    path: "max_memory_mb".into(),
                    message: format!(
                        "must be at least {need} to hold one actor at every rule's threshold and one event with its samples (set it), got the default {max_memory_mb}"
                    ),
                });
            }
        }
        Some(Config {
            actor: actor?,
            rules,
            max_actors,
            max_memory_mb,
            samples_per_event,
            redact_headers,
            api_collection_id,
            country_header,
            webhook: webhook?,
            sinks,
            threat_rules,
            body_max_bytes,
            response_body_max_bytes,
            envoy_hold_headers,
            fleet,
        })
    }

    #[inline(never)] // See `config`.
    pub(super) fn actor(&mut self, value: Option<&Value>) -> Option<ActorConfig> {
        const KEYS: &[&str] = &[
            "sources",
            "xff_trusted_hops",
            "trusted_proxies",
            "ipv6_prefix",
            "ipv4_prefix",
            "jwt_hs256_secret",
        ];
        let default_value = Value::Object(Map::new());
        let obj = self.object("actor", value.unwrap_or(&default_value), KEYS)?;
        let mut sources = Vec::new();
        match self.array(&obj, "sources") {
            None => sources.push(ActorSource::Peer),
            Some(list) if list.is_empty() => {
                self.err(
                    "actor.sources",
                    "must list at least one source",
                    &Value::Array(vec![]),
                );
            }
            Some(list) => {
                for (i, v) in list.iter().enumerate() {
                    let path = format!("actor.sources[{i}]");
                    match v.as_str().map(parse_source) {
                        Some(Some(s)) => sources.push(s),
                        _ => self.err(
                            &path,
                            "must be \"peer\", \"xff\", \"cf-connecting-ip\", \"header:<name>\" or \"jwt:<claim>\"",
                            v,
                        ),
                    }
                }
            }
        }
        let xff_trusted_hops = self.uint(&obj, "xff_trusted_hops", 0, 0, 64) as usize;
        let mut trusted_proxies = Vec::new();
        if let Some(list) = self.array(&obj, "trusted_proxies") {
            for (i, v) in list.iter().enumerate() {
                match v.as_str().and_then(parse_cidr) {
                    Some(c) => trusted_proxies.push(c),
                    None => self.err(
                        &format!("actor.trusted_proxies[{i}]"),
                        "must be an IP address or CIDR such as \"10.0.0.0/8\" or \"2001:db8::/32\"",
                        v,
                    ),
                }
            }
        }
        let ipv6_prefix = self.uint(&obj, "ipv6_prefix", 64, 1, 128) as u8;
        let ipv4_prefix = self.uint(&obj, "ipv4_prefix", 32, 1, 32) as u8;
        let jwt_hs256_secret = self.jwt_hs256_secret(&obj, &sources);
        Some(ActorConfig {
            sources,
            xff_trusted_hops,
            trusted_proxies,
            ipv6_prefix,
            ipv4_prefix,
            jwt_hs256_secret,
        })
    }

    /// The counting rules; with threat rules configured, an empty list is allowed.
    #[inline(never)] // See `config`.
    pub(super) fn rules(&mut self, root: &Obj, threat_rules: bool) -> Vec<Rule> {
        let Some(v) = root.get("rules") else {
            return vec![default_rule()];
        };
        let Some(list) = v.as_array() else {
            self.err("rules", "must be an array of rule objects", v);
            return Vec::new();
        };
        if list.is_empty() && !threat_rules {
            self.err("rules", "must hold at least one rule (or threat_rules)", v);
        }
        if list.len() > 64 {
            self.err(
                "rules",
                "must hold at most 64 rules",
                &Value::from(list.len()),
            );
        }
        let mut rules: Vec<Rule> = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let path = format!("rules[{i}]");
            if let Some(rule) = self.rule(&path, v) {
                if rules.iter().any(|r| r.id == rule.id) {
                    self.err(
                        &format!("{path}.id"),
                        "must be unique among rules",
                        &Value::String(rule.id.clone()),
                    );
                }
                rules.push(rule);
            }
        }
        rules
    }

    #[inline(never)] // See `config`.
    pub(super) fn rule(&mut self, path: &str, value: &Value) -> Option<Rule> {
        const KEYS: &[&str] = &[
            "id",
            "statuses",
            "threshold",
            "window_secs",
            "per",
            "cooldown_secs",
            "action",
            "block_secs",
            "block_status",
            "severity",
            "sub_category",
            "type",
            "overview",
            "remediation",
            "success_statuses",
        ];
        let obj = self.object(path, value, KEYS)?;
        let id = match obj.get("id") {
            None => {
                self.errors.push(ConfigError {
                    path: obj.path("id"),
                    message: "is required, got nothing".into(),
                });
                String::new()
            }
            Some(v) => match v.as_str() {
                Some(s) if is_rule_id(s) => s.to_string(),
                _ => {
                    self.err(
                        &obj.path("id"),
                        "must be 1-64 characters of A-Z a-z 0-9 _ - .",
                        v,
                    );
                    String::new()
                }
            },
        };
        let statuses = self.statuses(&obj, (400, 499));
        let success_statuses = self.status_list(&obj, "success_statuses");
        if !success_statuses.intersect(&statuses).is_empty() {
            self.err(
                &obj.path("success_statuses"),
                "must not share a status with statuses (a response cannot both fail and succeed)",
                obj.get("success_statuses").unwrap_or(&Value::Null),
            );
        }
        let threshold = self.uint(&obj, "threshold", 10, 1, MAX_THRESHOLD) as u32;
        let window_secs = self.uint(&obj, "window_secs", 60, 1, MAX_DURATION_SECS);
        let per = self.choose(&obj, "per", Per::ALL, Per::Actor);
        let cooldown_secs = self.uint(&obj, "cooldown_secs", 600, 0, MAX_DURATION_SECS);
        let action = self.choose(&obj, "action", Action::ALL, Action::Alert);
        let block_secs = self.uint(&obj, "block_secs", 600, 1, MAX_DURATION_SECS);
        let block_status = self.uint(&obj, "block_status", 429, 200, 599) as u16;
        let severity = self.choose(&obj, "severity", Severity::ALL, Severity::Medium);
        let sub_category = self.nonempty_string(&obj, "sub_category", "API_LEVEL_RATE_LIMITING");
        let kind = self.choose(&obj, "type", RuleKind::ALL, RuleKind::RuleBased);
        let overview = match obj.get("overview") {
            None => texts::overview_4xx(),
            Some(v) => self
                .overview(&obj.path("overview"), v)
                .unwrap_or_else(texts::overview_4xx),
        };
        let remediation = match obj.get("remediation") {
            None => texts::remediation_4xx(),
            Some(v) => self
                .remediation(&obj.path("remediation"), v)
                .unwrap_or_else(texts::remediation_4xx),
        };
        Some(Rule {
            id,
            statuses,
            success_statuses,
            threshold,
            window_secs,
            per,
            cooldown_secs,
            action,
            block_secs,
            block_status,
            severity,
            sub_category,
            kind,
            overview,
            remediation,
        })
    }

    pub(super) fn overview(&mut self, path: &str, value: &Value) -> Option<Overview> {
        let obj = self.object(path, value, &["description", "details", "impact"])?;
        Some(Overview {
            description: self.required_string(&obj, "description"),
            details: self.required_string(&obj, "details"),
            impact: self.required_string(&obj, "impact"),
        })
    }

    pub(super) fn remediation(&mut self, path: &str, value: &Value) -> Option<Remediation> {
        let obj = self.object(path, value, &["title", "steps"])?;
        let title = self.required_string(&obj, "title");
        let mut steps = Vec::new();
        if let Some(list) = self.array(&obj, "steps") {
            for (i, v) in list.iter().enumerate() {
                let step_path = format!("{path}.steps[{i}]");
                if let Some(step) = self.object(&step_path, v, &["title", "text"]) {
                    steps.push(RemediationStep {
                        title: self.required_string(&step, "title"),
                        text: self.required_string(&step, "text"),
                    });
                }
            }
        }
        Some(Remediation { title, steps })
    }
}

impl Validator<'_> {
    /// `hmac_secret` of `obj`: a string of 16+ characters, `{"env": "NAME"}` or null. The value
    /// itself is never echoed: it is a secret.
    pub(super) fn hmac_secret(&mut self, obj: &Obj) -> Option<String> {
        let v = obj.get("hmac_secret")?;
        let path = obj.path("hmac_secret");
        let s = self.secret(&path, v, "a string, {\"env\": \"NAME\"} or null")?;
        if s.value.len() >= 16 {
            return Some(s.value);
        }
        self.errors.push(ConfigError {
            path,
            message: format!(
                "must be at least 16 characters, got {} characters{}",
                s.value.len(),
                s.source()
            ),
        });
        None
    }
}

impl Validator<'_> {
    /// `actor.jwt_hs256_secret`: the key `jwt:` sources verify HS256 tokens with (32+ bytes, as
    /// RFC 7518 section 3.2 requires), a string or `{"env": "NAME"}`; only with a `jwt:` source.
    fn jwt_hs256_secret(
        &mut self,
        obj: &Obj,
        sources: &[ActorSource],
    ) -> Option<crate::model::jwt::Hs256Key> {
        let v = obj.get("jwt_hs256_secret")?;
        let path = obj.path("jwt_hs256_secret");
        let s = self.secret(&path, v, "a string or {\"env\": \"NAME\"}")?;
        if !sources.iter().any(|s| matches!(s, ActorSource::Jwt { .. })) {
            self.errors.push(ConfigError {
                path,
                message: "is set, but no actor source is \"jwt:<claim>\"".to_string(),
            });
            return None;
        }
        if s.value.len() < 32 {
            self.errors.push(ConfigError {
                path,
                message: format!(
                    "must be at least 32 bytes (RFC 7518 section 3.2), got {} bytes{}",
                    s.value.len(),
                    s.source()
                ),
            });
            return None;
        }
        Some(crate::model::jwt::Hs256Key(
            s.value.into_bytes().into_boxed_slice(),
        ))
    }
}

fn parse_source(s: &str) -> Option<ActorSource> {
    match s {
        "peer" => Some(ActorSource::Peer),
        "xff" => Some(ActorSource::Xff),
        "cf-connecting-ip" => Some(ActorSource::CfConnectingIp),
        _ if s.starts_with("jwt:") => {
            let claim = &s[4..];
            let valid = !claim.is_empty()
                && claim.len() <= 64
                && claim
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
            valid.then(|| ActorSource::Jwt {
                claim: claim.to_string(),
            })
        }
        _ => {
            let name = s.strip_prefix("header:")?;
            if !is_token(name) {
                return None;
            }
            Some(ActorSource::Header {
                name: name.to_ascii_lowercase(),
                hashed: is_credential_header(name),
            })
        }
    }
}

fn is_rule_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

fn parse_status_range(v: &Value) -> Option<(u16, u16)> {
    let valid = |n: u64| (100..=599).contains(&n);
    if let Some(n) = v.as_u64() {
        return valid(n).then_some((n as u16, n as u16));
    }
    let s = v.as_str()?.trim();
    if s.len() == 3 && s.ends_with("xx") || s.ends_with("XX") && s.len() == 3 {
        let class = s.get(..1)?.parse::<u64>().ok()?;
        let lo = class * 100;
        return valid(lo).then_some((lo as u16, (lo + 99) as u16));
    }
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?),
        None => {
            let n = s.parse::<u64>().ok()?;
            (n, n)
        }
    };
    (valid(lo) && valid(hi) && lo <= hi).then_some((lo as u16, hi as u16))
}
