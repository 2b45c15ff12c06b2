//! The one configuration document every host reads, validated once into a checked [`Config`].
//!
//! Validation walks the JSON itself (not serde's derive) so that every error can name its key
//! path and the offending value, and so that all errors are reported at once.

use crate::actor::{parse_cidr, ActorConfig, ActorSource};
use crate::credentials::is_credential_header;
use crate::payload::{Overview, Remediation, RemediationStep};
use crate::status::StatusSet;
use crate::texts;
use crate::url::{split_url, url_for_errors};
use serde_json::{Map, Value};
use std::fmt;

/// Longest value accepted for window, cooldown and block durations (7 days). The engine stores
/// times as 32-bit offsets and relies on this bound when it re-bases them.
pub const MAX_DURATION_SECS: u64 = 7 * 24 * 3600;
/// Largest accepted threshold: the exact window keeps one timestamp per counted response.
pub const MAX_THRESHOLD: u64 = 10_000;
/// The default memory budget: comfortable inside a Wasm VM (4 GiB address space at most).
pub const DEFAULT_MAX_MEMORY_MB: u64 = 64;
pub const MAX_MEMORY_MB: u64 = 1024;
/// What one sample is assumed to take when checking that a budget can hold an event's samples
/// (a typical request's headers; larger ones are skipped and counted at run time).
const SAMPLE_BYTES_FOR_MINIMUM: usize = 2048;
/// What one event takes apart from its samples, for the same check.
const EVENT_BYTES_FOR_MINIMUM: usize = 2048;

/// The least `max_memory_mb` that holds one actor at every rule's threshold (per key shape),
/// one sample ring and one event with its samples, each in its share of the budget.
fn minimum_memory_mb(rules: &[Rule], samples_per_event: usize) -> Option<u64> {
    use crate::memory::Shares;
    let thresholds = |per: Per| -> Vec<u32> {
        rules
            .iter()
            .filter(|r| r.per == per)
            .map(|r| r.threshold)
            .collect()
    };
    let (actor, api) = (thresholds(Per::Actor), thresholds(Per::ActorApi));
    let groups = usize::from(!actor.is_empty()) + usize::from(!api.is_empty());
    let tables = crate::table::minimum_bytes::<crate::actor::ActorKey>(&actor)
        .max(crate::table::minimum_bytes::<(crate::actor::ActorKey, u64)>(&api));
    let samples = samples_per_event * (SAMPLE_BYTES_FOR_MINIMUM + 64) + (16 << 10);
    let event = EVENT_BYTES_FOR_MINIMUM + samples_per_event * SAMPLE_BYTES_FOR_MINIMUM;
    let one = Shares::of(1 << 20);
    let mb_for = |need: usize, share_per_mb: usize| need.div_ceil(share_per_mb.max(1)) as u64;
    let need = [
        mb_for(tables * groups.max(1), one.tables),
        mb_for(samples * groups.max(1), one.samples),
        mb_for(event, one.outbox),
    ]
    .into_iter()
    .max()?;
    Some(need.max(1))
}

/// One validation error: the key path, what is wrong, and the value that was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every error found in one document, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Actor,
    ActorApi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Alert,
    Block,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub statuses: StatusSet,
    pub threshold: u32,
    pub window_secs: u64,
    pub per: Per,
    pub cooldown_secs: u64,
    pub action: Action,
    pub block_secs: u64,
    pub block_status: u16,
    pub severity: String,
    pub sub_category: String,
    pub kind: String,
    pub overview: Overview,
    pub remediation: Remediation,
}

impl Rule {
    pub fn window_ms(&self) -> u64 {
        self.window_secs * 1000
    }
    pub fn cooldown_ms(&self) -> u64 {
        self.cooldown_secs * 1000
    }
    pub fn block_ms(&self) -> u64 {
        self.block_secs * 1000
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMode {
    Periodic,
    Instant,
}

#[derive(Clone)]
pub struct WebhookConfig {
    pub url: String,
    /// `host[:port]` of `url`, for hosts that need `:authority`.
    pub authority: String,
    /// Path and query of `url`, for hosts that need `:path`.
    pub path: String,
    pub cluster: String,
    /// Extra headers, lowercase names, in document order.
    pub headers: Vec<(String, String)>,
    pub mode: DeliveryMode,
    pub run_every_secs: u64,
    pub batch_size: usize,
    pub timeout_ms: u64,
    pub max_retries: u32,
    pub queue_capacity: usize,
    pub max_in_flight: usize,
    pub hmac_secret: Option<String>,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("cluster", &self.cluster)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("mode", &self.mode)
            .field("run_every_secs", &self.run_every_secs)
            .field("batch_size", &self.batch_size)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_retries", &self.max_retries)
            .field("queue_capacity", &self.queue_capacity)
            .field("max_in_flight", &self.max_in_flight)
            .field(
                "hmac_secret",
                &self.hmac_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub actor: ActorConfig,
    pub rules: Vec<Rule>,
    pub max_actors: usize,
    /// The engine's memory budget (see [`crate::memory`]).
    pub max_memory_mb: usize,
    pub samples_per_event: usize,
    /// Lowercase header names removed from samples, on top of the built-in credential headers.
    pub redact_headers: Vec<String>,
    pub api_collection_id: i64,
    pub country_header: Option<String>,
    pub webhook: WebhookConfig,
}

/// How a host looks up an environment variable by name: `None` when it is not set. The core
/// never reads the environment itself; each host passes its own (the filter: the variables Envoy
/// gives the VM; the CLI: its process environment; the Worker: its secrets and vars).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The lookup of a host without an environment: every `{"env": ...}` reference is unset.
pub fn no_env(_name: &str) -> Option<String> {
    None
}

impl Config {
    /// Parses and validates a JSON document. `{"env": "NAME"}` references find nothing.
    pub fn from_json(json: &[u8]) -> Result<Config, ConfigErrors> {
        Config::from_json_with_env(json, &no_env)
    }

    /// Parses and validates a JSON document; secrets given as `{"env": "NAME"}` are read
    /// through `env`.
    pub fn from_json_with_env(json: &[u8], env: EnvLookup) -> Result<Config, ConfigErrors> {
        let value: Value = serde_json::from_slice(json).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: "(document)".into(),
                message: format!("invalid JSON: {e}"),
            }])
        })?;
        Config::from_value_with_env(&value, env)
    }

    pub fn from_json_str(json: &str) -> Result<Config, ConfigErrors> {
        Config::from_json(json.as_bytes())
    }

    pub fn from_value(value: &Value) -> Result<Config, ConfigErrors> {
        Config::from_value_with_env(value, &no_env)
    }

    pub fn from_value_with_env(value: &Value, env: EnvLookup) -> Result<Config, ConfigErrors> {
        let mut v = Validator {
            errors: Vec::new(),
            env,
        };
        let config = v.config(value);
        match config {
            Some(c) if v.errors.is_empty() => Ok(c),
            _ => Err(ConfigErrors(v.errors)),
        }
    }

    pub fn max_memory_bytes(&self) -> usize {
        self.max_memory_mb << 20
    }

    /// The statuses any rule counts: responses outside it cost nothing more than this lookup.
    pub fn matched_statuses(&self) -> StatusSet {
        self.rules
            .iter()
            .fold(StatusSet::default(), |acc, r| acc.union(&r.statuses))
    }
}

struct Validator<'e> {
    errors: Vec<ConfigError>,
    env: EnvLookup<'e>,
}

/// A secret as the configuration gave it: its value, and the environment variable it was read
/// from (`None`: written in the configuration itself).
struct Secret {
    value: String,
    from_env: Option<String>,
}

impl Secret {
    /// How an error about the value names where it came from (never the value itself).
    fn source(&self) -> String {
        match &self.from_env {
            Some(name) => format!(" (from environment variable {name})"),
            None => String::new(),
        }
    }
}

/// A portable environment variable name: 1-128 characters of `A-Z 0-9 _`, not starting with a
/// digit. Lower case is refused so that a secret pasted where its name belongs (API tokens are
/// mostly mixed case) is an invalid name, which errors never echo, rather than a valid one.
fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn show(value: &Value) -> String {
    let mut s = value.to_string();
    if s.len() > 80 {
        let mut cut = 77;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// An object being read: remembers which keys were used so the rest can be reported as unknown.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    known: &'static [&'static str],
}

impl<'a> Obj<'a> {
    /// The value at `key`; an explicit `null` counts as absent (the default applies).
    fn get(&self, key: &'static str) -> Option<&'a Value> {
        debug_assert!(self.known.contains(&key));
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

impl Validator<'_> {
    fn err(&mut self, path: &str, message: impl fmt::Display, got: &Value) {
        self.errors.push(ConfigError {
            path: path.to_string(),
            message: format!("{message}, got {}", show(got)),
        });
    }

    fn object<'a>(
        &mut self,
        path: &str,
        value: &'a Value,
        known: &'static [&'static str],
    ) -> Option<Obj<'a>> {
        let Some(map) = value.as_object() else {
            self.err(path_or_root(path), "must be an object", value);
            return None;
        };
        for (key, v) in map {
            if !known.contains(&key.as_str()) {
                self.errors.push(ConfigError {
                    path: join(path, key),
                    message: format!(
                        "unknown key (known keys: {}), got {}",
                        known.join(", "),
                        show(v)
                    ),
                });
            }
        }
        Some(Obj {
            path: path.to_string(),
            map,
            known,
        })
    }

    fn uint(&mut self, obj: &Obj, key: &'static str, default: u64, min: u64, max: u64) -> u64 {
        let Some(v) = obj.get(key) else {
            return default;
        };
        let path = obj.path(key);
        match v.as_u64() {
            Some(n) if n < min => {
                self.err(&path, format_args!("must be >= {min}"), v);
                default
            }
            Some(n) if n > max => {
                self.err(&path, format_args!("must be <= {max}"), v);
                default
            }
            Some(n) => n,
            None => {
                self.err(
                    &path,
                    format_args!("must be an integer in {min}..={max}"),
                    v,
                );
                default
            }
        }
    }

    fn string(&mut self, obj: &Obj, key: &'static str) -> Option<String> {
        let v = obj.get(key)?;
        match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.err(&obj.path(key), "must be a string", v);
                None
            }
        }
    }

    fn nonempty_string(&mut self, obj: &Obj, key: &'static str, default: &str) -> String {
        match self.string(obj, key) {
            Some(s) if s.trim().is_empty() => {
                self.err(&obj.path(key), "must not be empty", &Value::String(s));
                default.to_string()
            }
            Some(s) => s,
            None => default.to_string(),
        }
    }

    fn choice(
        &mut self,
        obj: &Obj,
        key: &'static str,
        choices: &[&'static str],
        default: usize,
    ) -> usize {
        let Some(v) = obj.get(key) else {
            return default;
        };
        match v
            .as_str()
            .and_then(|s| choices.iter().position(|c| *c == s))
        {
            Some(i) => i,
            None => {
                let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
                self.err(
                    &obj.path(key),
                    format_args!("must be one of {}", quoted.join(", ")),
                    v,
                );
                default
            }
        }
    }

    fn array<'a>(&mut self, obj: &Obj<'a>, key: &'static str) -> Option<&'a Vec<Value>> {
        let v = obj.get(key)?;
        match v.as_array() {
            Some(a) => Some(a),
            None => {
                self.err(&obj.path(key), "must be an array", v);
                None
            }
        }
    }

    /// A secret string: written inline, or `{"env": "NAME"}` read through the host's lookup.
    /// `expected` says what the key accepts. Errors name the key path and the variable, never a
    /// value: anything written where a secret belongs may be one.
    fn secret(&mut self, path: &str, value: &Value, expected: &str) -> Option<Secret> {
        if let Some(s) = value.as_str() {
            return Some(Secret {
                value: s.to_string(),
                from_env: None,
            });
        }
        let Some(map) = value.as_object() else {
            self.errors.push(ConfigError {
                path: path.to_string(),
                message: format!("must be {expected}, got a non-string value"),
            });
            return None;
        };
        for key in map.keys().filter(|k| *k != "env") {
            self.errors.push(ConfigError {
                path: join(path, key),
                message: "unknown key (known keys: env), its value is not shown".into(),
            });
        }
        let env_path = join(path, "env");
        let name = match map.get("env") {
            None | Some(Value::Null) => {
                self.errors.push(ConfigError {
                    path: env_path,
                    message: "is required, got nothing".into(),
                });
                return None;
            }
            Some(Value::String(name)) if is_env_name(name) => name,
            Some(v) => {
                let got = match v.as_str() {
                    Some(s) => format!("a string of {} characters", s.chars().count()),
                    None => "a non-string value".into(),
                };
                self.errors.push(ConfigError {
                    path: env_path,
                    message: format!(
                        "must be an environment variable name (1-128 characters of A-Z 0-9 _, not starting with a digit), got {got}"
                    ),
                });
                return None;
            }
        };
        let problem = match (self.env)(name) {
            Some(value) if !value.is_empty() => {
                return Some(Secret {
                    value,
                    from_env: Some(name.clone()),
                })
            }
            Some(_) => "is empty",
            None => "is not set",
        };
        self.errors.push(ConfigError {
            path: path.to_string(),
            message: format!("environment variable {name} {problem}"),
        });
        None
    }

    fn header_name(&mut self, path: &str, v: &Value) -> Option<String> {
        match v.as_str() {
            Some(s) if is_token(s) => Some(s.to_ascii_lowercase()),
            _ => {
                self.err(path, "must be an HTTP header name", v);
                None
            }
        }
    }

    fn config(&mut self, value: &Value) -> Option<Config> {
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
        ];
        let root = self.object("", value, KEYS)?;
        let actor = self.actor(root.get("actor"));
        let rules = self.rules(&root);
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
        })
    }

    fn actor(&mut self, value: Option<&Value>) -> Option<ActorConfig> {
        const KEYS: &[&str] = &[
            "sources",
            "xff_trusted_hops",
            "trusted_proxies",
            "ipv6_prefix",
            "ipv4_prefix",
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
                            "must be \"peer\", \"xff\", \"cf-connecting-ip\" or \"header:<name>\"",
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
        Some(ActorConfig {
            sources,
            xff_trusted_hops,
            trusted_proxies,
            ipv6_prefix,
            ipv4_prefix,
        })
    }

    fn rules(&mut self, root: &Obj) -> Vec<Rule> {
        let Some(v) = root.get("rules") else {
            return vec![default_rule()];
        };
        let Some(list) = v.as_array() else {
            self.err("rules", "must be an array of rule objects", v);
            return Vec::new();
        };
        if list.is_empty() {
            self.err("rules", "must hold at least one rule", v);
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

    fn rule(&mut self, path: &str, value: &Value) -> Option<Rule> {
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
        let mut statuses = StatusSet::default();
        match self.array(&obj, "statuses") {
            None => statuses.insert_range(400, 499),
            Some(list) => {
                if list.is_empty() {
                    self.err(
                        &obj.path("statuses"),
                        "must list at least one status or range",
                        &Value::Array(vec![]),
                    );
                }
                for (i, v) in list.iter().enumerate() {
                    match parse_status_range(v) {
                        Some((lo, hi)) => statuses.insert_range(lo, hi),
                        None => self.err(
                            &format!("{path}.statuses[{i}]"),
                            "must be a status 100-599, a range such as \"400-499\", or \"4xx\"",
                            v,
                        ),
                    }
                }
            }
        }
        let threshold = self.uint(&obj, "threshold", 10, 1, MAX_THRESHOLD) as u32;
        let window_secs = self.uint(&obj, "window_secs", 60, 1, MAX_DURATION_SECS);
        let per = match self.choice(&obj, "per", &["actor", "actor_api"], 0) {
            0 => Per::Actor,
            _ => Per::ActorApi,
        };
        let cooldown_secs = self.uint(&obj, "cooldown_secs", 600, 0, MAX_DURATION_SECS);
        let action = match self.choice(&obj, "action", &["alert", "block"], 0) {
            0 => Action::Alert,
            _ => Action::Block,
        };
        let block_secs = self.uint(&obj, "block_secs", 600, 1, MAX_DURATION_SECS);
        let block_status = self.uint(&obj, "block_status", 429, 200, 599) as u16;
        let severity = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
            [self.choice(&obj, "severity", &["LOW", "MEDIUM", "HIGH", "CRITICAL"], 1)]
        .to_string();
        let sub_category = self.nonempty_string(&obj, "sub_category", "API_LEVEL_RATE_LIMITING");
        let kind = ["Rule-Based", "Anomaly"]
            [self.choice(&obj, "type", &["Rule-Based", "Anomaly"], 0)]
        .to_string();
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

    fn required_string(&mut self, obj: &Obj, key: &'static str) -> String {
        match obj.get(key) {
            None => {
                self.errors.push(ConfigError {
                    path: obj.path(key),
                    message: "is required, got nothing".into(),
                });
                String::new()
            }
            Some(_) => self.string(obj, key).unwrap_or_default(),
        }
    }

    fn overview(&mut self, path: &str, value: &Value) -> Option<Overview> {
        let obj = self.object(path, value, &["description", "details", "impact"])?;
        Some(Overview {
            description: self.required_string(&obj, "description"),
            details: self.required_string(&obj, "details"),
            impact: self.required_string(&obj, "impact"),
        })
    }

    fn remediation(&mut self, path: &str, value: &Value) -> Option<Remediation> {
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

    fn webhook(&mut self, value: &Value) -> Option<WebhookConfig> {
        const KEYS: &[&str] = &[
            "url",
            "cluster",
            "headers",
            "mode",
            "run_every_secs",
            "batch_size",
            "timeout_ms",
            "max_retries",
            "queue_capacity",
            "max_in_flight",
            "hmac_secret",
        ];
        let obj = self.object("webhook", value, KEYS)?;
        let url = self.required_string(&obj, "url");
        let (authority, path) = match split_url(&url) {
            Some(parts) => parts,
            None => {
                if !url.is_empty() {
                    self.err(
                        "webhook.url",
                        "must be an http:// or https:// URL with a host",
                        &Value::String(url_for_errors(&url)),
                    );
                }
                (String::new(), String::new())
            }
        };
        let cluster = self.nonempty_string(&obj, "cluster", "actorwatch_webhook");
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(v) = obj.get("headers") {
            match v.as_object() {
                None => self.err(
                    "webhook.headers",
                    "must be an object of header names to string values",
                    v,
                ),
                Some(map) => {
                    for (name, hv) in map {
                        let hpath = format!("webhook.headers.{name}");
                        let lower = name.to_ascii_lowercase();
                        if !is_token(name) {
                            self.err(&hpath, "must be named by an HTTP header name", hv);
                        } else if lower.starts_with("x-actorwatch-")
                            || ["content-length", "host", "transfer-encoding", "connection"]
                                .contains(&lower.as_str())
                        {
                            self.err(
                                &hpath,
                                "is set by actorwatch itself and cannot be configured",
                                hv,
                            );
                        } else if let Some(s) =
                            self.secret(&hpath, hv, "a string or {\"env\": \"NAME\"}")
                        {
                            if s.value.contains(['\r', '\n', '\0']) {
                                // Header values are often credentials: never echoed.
                                self.errors.push(ConfigError {
                                    path: hpath,
                                    message: format!(
                                        "must not contain CR, LF or NUL, got a value of {} characters{}",
                                        s.value.chars().count(),
                                        s.source()
                                    ),
                                });
                            } else {
                                headers.push((lower, s.value));
                            }
                        }
                    }
                }
            }
        }
        if !headers.iter().any(|(k, _)| k == "content-type") {
            headers.insert(
                0,
                ("content-type".to_string(), "application/json".to_string()),
            );
        }
        let mode = match self.choice(&obj, "mode", &["periodic", "instant"], 0) {
            0 => DeliveryMode::Periodic,
            _ => DeliveryMode::Instant,
        };
        let run_every_secs = self.uint(&obj, "run_every_secs", 900, 1, 86_400);
        let batch_size = self.uint(&obj, "batch_size", 20, 1, 10_000) as usize;
        let timeout_ms = self.uint(&obj, "timeout_ms", 5000, 100, 300_000);
        let max_retries = self.uint(&obj, "max_retries", 8, 0, 100) as u32;
        let queue_capacity = self.uint(&obj, "queue_capacity", 10_000, 1, 1_000_000) as usize;
        let max_in_flight = self.uint(&obj, "max_in_flight", 4, 1, 64) as usize;
        let hmac_secret = obj.get("hmac_secret").and_then(|v| {
            let path = "webhook.hmac_secret";
            let s = self.secret(path, v, "a string, {\"env\": \"NAME\"} or null")?;
            if s.value.len() >= 16 {
                return Some(s.value);
            }
            // The value itself is never echoed: it is a secret.
            self.errors.push(ConfigError {
                path: path.into(),
                message: format!(
                    "must be at least 16 characters, got {} characters{}",
                    s.value.len(),
                    s.source()
                ),
            });
            None
        });
        Some(WebhookConfig {
            url,
            authority,
            path,
            cluster,
            headers,
            mode,
            run_every_secs,
            batch_size,
            timeout_ms,
            max_retries,
            queue_capacity,
            max_in_flight,
            hmac_secret,
        })
    }
}

fn path_or_root(path: &str) -> &str {
    if path.is_empty() {
        "(document)"
    } else {
        path
    }
}

/// The rule used when a config has no `rules` key: Akto's 4XX filter, 10 in 60 s.
pub fn default_rule() -> Rule {
    let mut statuses = StatusSet::default();
    statuses.insert_range(400, 499);
    Rule {
        id: "4XX_FILTER".into(),
        statuses,
        threshold: 10,
        window_secs: 60,
        per: Per::Actor,
        cooldown_secs: 600,
        action: Action::Alert,
        block_secs: 600,
        block_status: 429,
        severity: "MEDIUM".into(),
        sub_category: "API_LEVEL_RATE_LIMITING".into(),
        kind: "Rule-Based".into(),
        overview: texts::overview_4xx(),
        remediation: texts::remediation_4xx(),
    }
}

fn parse_source(s: &str) -> Option<ActorSource> {
    match s {
        "peer" => Some(ActorSource::Peer),
        "xff" => Some(ActorSource::Xff),
        "cf-connecting-ip" => Some(ActorSource::CfConnectingIp),
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

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
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

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const MINIMAL: &str = r#"{"webhook": {"url": "https://siem.example.com/akto"}}"#;

    fn errors_of(json: &str) -> Vec<String> {
        match Config::from_json_str(json) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn minimal_config_gets_secure_defaults() {
        let c = Config::from_json_str(MINIMAL).unwrap();
        assert_eq!(c.actor.sources, vec![ActorSource::Peer]);
        assert_eq!(c.actor.ipv6_prefix, 64);
        assert_eq!(c.rules.len(), 1);
        let r = &c.rules[0];
        assert_eq!(
            (r.id.as_str(), r.threshold, r.window_secs, r.cooldown_secs),
            ("4XX_FILTER", 10, 60, 600)
        );
        assert!(r.statuses.contains(400) && r.statuses.contains(499));
        assert!(!r.statuses.contains(399) && !r.statuses.contains(500));
        assert_eq!(c.webhook.authority, "siem.example.com");
        assert_eq!(c.webhook.path, "/akto");
        assert_eq!(c.webhook.mode, DeliveryMode::Periodic);
        assert_eq!(
            c.webhook.headers,
            vec![("content-type".into(), "application/json".into())]
        );
    }

    #[test]
    fn issue_example_config_is_valid() {
        let json = r#"{
          "actor": {"sources": ["peer"], "xff_trusted_hops": 0, "trusted_proxies": [], "ipv6_prefix": 64},
          "rules": [{
            "id": "4XX_FILTER", "statuses": ["400-499"], "threshold": 10, "window_secs": 60,
            "per": "actor", "cooldown_secs": 600, "action": "alert", "block_secs": 600, "block_status": 429,
            "severity": "MEDIUM", "sub_category": "API_LEVEL_RATE_LIMITING", "type": "Rule-Based"
          }],
          "max_actors": 100000, "samples_per_event": 10, "redact_headers": [], "api_collection_id": 0,
          "country_header": null,
          "webhook": {
            "url": "https://siem.example.com/akto", "cluster": "actorwatch_webhook",
            "headers": {"content-type": "application/json"},
            "mode": "periodic", "run_every_secs": 900, "batch_size": 20,
            "timeout_ms": 5000, "max_retries": 8, "queue_capacity": 10000, "hmac_secret": null
          }
        }"#;
        assert_eq!(errors_of(json), Vec::<String>::new());
    }

    #[test]
    fn threshold_zero_names_key_and_value() {
        let e = errors_of(r#"{"rules":[{"id":"A","threshold":0}],"webhook":{"url":"http://x/"}}"#);
        assert_eq!(e, vec!["rules[0].threshold: must be >= 1, got 0"]);
    }

    #[test]
    fn every_error_is_reported_with_its_path() {
        let e = errors_of(
            r#"{"bogus": 1, "actor": {"sources": ["leftmost"], "ipv6_prefix": 129, "trusted_proxies": ["10.0.0.0/33"]},
                "rules": [{"id": "A", "statuses": ["600"], "per": "api"}, {"id": "A", "window_secs": "60"}],
                "webhook": {"url": "ftp://x", "batch_size": 0, "headers": {"x-actorwatch-delivery": "1"}}}"#,
        );
        assert_eq!(
            e,
            vec![
                "bogus: unknown key (known keys: actor, rules, max_actors, max_memory_mb, samples_per_event, redact_headers, api_collection_id, country_header, webhook), got 1",
                "actor.sources[0]: must be \"peer\", \"xff\", \"cf-connecting-ip\" or \"header:<name>\", got \"leftmost\"",
                "actor.trusted_proxies[0]: must be an IP address or CIDR such as \"10.0.0.0/8\" or \"2001:db8::/32\", got \"10.0.0.0/33\"",
                "actor.ipv6_prefix: must be <= 128, got 129",
                "rules[0].statuses[0]: must be a status 100-599, a range such as \"400-499\", or \"4xx\", got \"600\"",
                "rules[0].per: must be one of \"actor\", \"actor_api\", got \"api\"",
                "rules[1].window_secs: must be an integer in 1..=604800, got \"60\"",
                "rules[1].id: must be unique among rules, got \"A\"",
                "webhook.url: must be an http:// or https:// URL with a host, got \"ftp://x\"",
                "webhook.headers.x-actorwatch-delivery: is set by actorwatch itself and cannot be configured, got \"1\"",
                "webhook.batch_size: must be >= 1, got 0",
            ]
        );
    }

    #[test]
    fn missing_webhook_and_bad_json_are_errors() {
        assert_eq!(
            errors_of("{}"),
            vec!["webhook: is required (an object with at least \"url\"), got nothing"]
        );
        let e = errors_of("{\"webhook\": ");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("(document): invalid JSON: "), "{e:?}");
        assert_eq!(
            errors_of("[]"),
            vec!["(document): must be an object, got []"]
        );
    }

    /// 64 rules of threshold 10,000 need about 2.5 MB of windows for one actor at every
    /// threshold: a 1 MiB budget cannot hold that; the smallest budget that can is accepted.
    #[test]
    fn a_budget_below_the_configuration_s_own_minimum_is_refused_at_the_boundary() {
        let rules: Vec<String> = (0..64)
            .map(|i| format!(r#"{{"id": "R{i}", "threshold": 10000}}"#))
            .collect();
        let json = |mb: u64| {
            format!(
                r#"{{"rules": [{}], "max_memory_mb": {mb}, "webhook": {{"url": "http://x/"}}}}"#,
                rules.join(",")
            )
        };
        let errors = errors_of(&json(1));
        assert_eq!(errors.len(), 1, "{errors:?}");
        let need: u64 = errors[0]
            .strip_prefix("max_memory_mb: must be at least ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{errors:?}"));
        assert!(errors[0].ends_with("got 1"), "{errors:?}");
        // 64 windows of 10,000 4-byte times are 2.56 MB, within the 3/8 share of the tables.
        assert!((7..=16).contains(&need), "{need}");
        assert_eq!(errors_of(&json(need - 1)).len(), 1);
        assert_eq!(errors_of(&json(need)), Vec::<String>::new());
        // The default budget holds it; a config without the key names the default.
        let default = errors_of(&format!(
            r#"{{"rules": [{}], "samples_per_event": 100, "webhook": {{"url": "http://x/"}}}}"#,
            rules.join(",")
        ));
        assert_eq!(default, Vec::<String>::new());
    }

    #[test]
    fn hmac_secret_is_never_echoed() {
        let e = errors_of(r#"{"webhook":{"url":"http://x/","hmac_secret":"tooshort-s3cret"}}"#);
        assert_eq!(
            e,
            vec!["webhook.hmac_secret: must be at least 16 characters, got 15 characters"]
        );
        let c = Config::from_json_str(
            r#"{"webhook":{"url":"http://x/","hmac_secret":"0123456789abcdef-secret"}}"#,
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("0123456789abcdef-secret"));
    }

    #[test]
    fn webhook_header_values_and_url_secrets_are_never_echoed() {
        let e = errors_of(
            r#"{"webhook":{"url":"http://x/","headers":{"authorization":"Bearer tok-s3cret\n"}}}"#,
        );
        assert_eq!(
            e,
            vec!["webhook.headers.authorization: must not contain CR, LF or NUL, got a value of 18 characters"]
        );
        let e = errors_of(
            r#"{"webhook":{"url":"https://user:pw-s3cret@hooks.example.com/T0/tok-s3cret"}}"#,
        );
        assert_eq!(
            e,
            vec!["webhook.url: must be an http:// or https:// URL with a host, got \"https://hooks.example.com/...\""]
        );
        let e = errors_of(r#"{"webhook":{"url":"ftp://x"}}"#);
        assert_eq!(
            e,
            vec!["webhook.url: must be an http:// or https:// URL with a host, got \"ftp://x\""]
        );
    }

    /// A host environment holding `vars`, recording every name looked up.
    fn env_of<'a>(
        vars: &'a [(&'a str, &'a str)],
        asked: &'a std::cell::RefCell<Vec<String>>,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        move |name: &str| {
            asked.borrow_mut().push(name.to_string());
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn errors_with_env(json: &str, vars: &[(&str, &str)]) -> Vec<String> {
        let asked = std::cell::RefCell::default();
        let env = env_of(vars, &asked);
        match Config::from_json_with_env(json.as_bytes(), &env) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    const FROM_ENV: &str = r#"{"webhook": {"url": "http://x/",
        "headers": {"authorization": {"env": "ACTORWATCH_SIEM_AUTHORIZATION"}, "x-team": "blue"},
        "hmac_secret": {"env": "ACTORWATCH_HMAC_SECRET"}}}"#;

    #[test]
    fn secrets_are_read_from_the_environment_by_name() {
        let vars = [
            ("ACTORWATCH_HMAC_SECRET", "env-hmac-s3cret-0123456789"),
            ("ACTORWATCH_SIEM_AUTHORIZATION", "Bearer env-tok-s3cret"),
            ("UNRELATED", "x"),
        ];
        let asked = std::cell::RefCell::default();
        let c = Config::from_json_with_env(FROM_ENV.as_bytes(), &env_of(&vars, &asked)).unwrap();
        assert_eq!(
            c.webhook.hmac_secret.as_deref(),
            Some("env-hmac-s3cret-0123456789")
        );
        assert_eq!(
            c.webhook.headers,
            vec![
                ("content-type".into(), "application/json".into()),
                ("authorization".into(), "Bearer env-tok-s3cret".into()),
                ("x-team".into(), "blue".into()),
            ]
        );
        // Only the variables the configuration names are read.
        let mut asked = asked.take();
        asked.sort();
        assert_eq!(
            asked,
            vec!["ACTORWATCH_HMAC_SECRET", "ACTORWATCH_SIEM_AUTHORIZATION"]
        );
        let debug = format!("{c:?}");
        assert!(debug.contains("authorization") && debug.contains("<redacted>"));
        assert!(!debug.contains("s3cret"), "{debug}");
        // Without a lookup (from_json), the same document names what is missing.
        assert_eq!(
            errors_of(FROM_ENV),
            vec![
                "webhook.headers.authorization: environment variable ACTORWATCH_SIEM_AUTHORIZATION is not set",
                "webhook.hmac_secret: environment variable ACTORWATCH_HMAC_SECRET is not set",
            ]
        );
    }

    #[test]
    fn a_missing_or_empty_variable_names_the_key_and_the_variable() {
        let e = errors_with_env(
            FROM_ENV,
            &[
                ("ACTORWATCH_HMAC_SECRET", ""),
                ("ACTORWATCH_SIEM_AUTHORIZATION_", "Bearer near-miss"),
            ],
        );
        assert_eq!(
            e,
            vec![
                "webhook.headers.authorization: environment variable ACTORWATCH_SIEM_AUTHORIZATION is not set",
                "webhook.hmac_secret: environment variable ACTORWATCH_HMAC_SECRET is empty",
            ]
        );
    }

    #[test]
    fn values_read_from_the_environment_are_checked_and_never_echoed() {
        let e = errors_with_env(
            FROM_ENV,
            &[
                ("ACTORWATCH_HMAC_SECRET", "short-s3cret-15"),
                (
                    "ACTORWATCH_SIEM_AUTHORIZATION",
                    "Bearer tok-s3cret\r\nx-evil: 1",
                ),
            ],
        );
        assert_eq!(
            e,
            vec![
                "webhook.headers.authorization: must not contain CR, LF or NUL, got a value of 28 characters (from environment variable ACTORWATCH_SIEM_AUTHORIZATION)",
                "webhook.hmac_secret: must be at least 16 characters, got 15 characters (from environment variable ACTORWATCH_HMAC_SECRET)",
            ]
        );
        assert!(e
            .iter()
            .all(|e| !e.contains("s3cret") && !e.contains("evil")));
    }

    #[test]
    fn bad_env_references_are_errors_that_show_no_value() {
        let e = errors_of(
            r#"{"webhook": {"url": "http://x/",
                "headers": {"a": {"env": "A_OK", "value": "inline-s3cret"}, "b": {}, "c": {"env": "tok-s3cret-lower"},
                            "d": {"env": 5}, "e": {"env": "9LIVES"}, "f": true},
                "hmac_secret": 1234567890123456}}"#,
        );
        assert_eq!(
            e,
            vec![
                "webhook.headers.a.value: unknown key (known keys: env), its value is not shown",
                "webhook.headers.a: environment variable A_OK is not set",
                "webhook.headers.b.env: is required, got nothing",
                "webhook.headers.c.env: must be an environment variable name (1-128 characters of A-Z 0-9 _, not starting with a digit), got a string of 16 characters",
                "webhook.headers.d.env: must be an environment variable name (1-128 characters of A-Z 0-9 _, not starting with a digit), got a non-string value",
                "webhook.headers.e.env: must be an environment variable name (1-128 characters of A-Z 0-9 _, not starting with a digit), got a string of 6 characters",
                "webhook.headers.f: must be a string or {\"env\": \"NAME\"}, got a non-string value",
                "webhook.hmac_secret: must be a string, {\"env\": \"NAME\"} or null, got a non-string value",
            ]
        );
        assert!(e
            .iter()
            .all(|e| !e.contains("s3cret") && !e.contains("123456")));
        // `null` still means "no secret".
        let c = Config::from_json_str(r#"{"webhook": {"url": "http://x/", "hmac_secret": null}}"#)
            .unwrap();
        assert_eq!(c.webhook.hmac_secret, None);
    }

    #[test]
    fn status_forms() {
        let c = Config::from_json_str(
            r#"{"rules":[{"id":"A","statuses":[401, "403", "5xx", "410-411"]}],"webhook":{"url":"http://h:8080"}}"#,
        )
        .unwrap();
        let s = &c.rules[0].statuses;
        for yes in [401, 403, 500, 599, 410, 411] {
            assert!(s.contains(yes), "{yes}");
        }
        for no in [400, 402, 404, 409, 412, 499, 600] {
            assert!(!s.contains(no), "{no}");
        }
        assert_eq!(
            format!("{s:?}"),
            "[\"401-401\", \"403-403\", \"410-411\", \"500-599\"]".replace('"', "")
        );
        assert_eq!(c.webhook.authority, "h:8080");
        assert_eq!(c.webhook.path, "/");
    }

    #[test]
    fn header_sources_know_credentials() {
        let c = Config::from_json_str(
            r#"{"actor":{"sources":["header:X-API-Key","header:x-tenant","peer"]},"webhook":{"url":"http://h/p?q=1"}}"#,
        )
        .unwrap();
        assert_eq!(
            c.actor.sources,
            vec![
                ActorSource::Header {
                    name: "x-api-key".into(),
                    hashed: true
                },
                ActorSource::Header {
                    name: "x-tenant".into(),
                    hashed: false
                },
                ActorSource::Peer
            ]
        );
        assert_eq!(c.webhook.path, "/p?q=1");
    }
}
