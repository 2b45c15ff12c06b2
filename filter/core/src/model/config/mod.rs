//! The one configuration document every host reads, validated once into a checked [`Config`].
//!
//! Validation walks the JSON itself (not serde's derive) so that every error can name its key
//! path and the offending value, and so that all errors are reported at once.

use crate::base::status::StatusSet;
use crate::model::actor::ActorConfig;
use crate::model::payload::{Overview, Remediation};
use crate::model::texts;
use crate::model::threat::rule::ThreatRule;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use validate::Validator;

/// Longest value accepted for window, cooldown and block durations (7 days). The engine stores
/// times as 32-bit offsets and relies on this bound when it re-bases them.
pub(crate) const MAX_DURATION_SECS: u64 = 7 * 24 * 3600;
/// Largest accepted threshold: the exact window keeps one timestamp per counted response.
pub(crate) const MAX_THRESHOLD: u64 = 10_000;
/// The default memory budget: comfortable inside a Wasm VM (4 GiB address space at most).
pub(crate) const DEFAULT_MAX_MEMORY_MB: u64 = 64;
pub(crate) const MAX_MEMORY_MB: u64 = 1024;
/// What one sample is assumed to take when checking that a budget can hold an event's samples
/// (a typical request's headers; larger ones are skipped and counted at run time).
const SAMPLE_BYTES_FOR_MINIMUM: usize = 2048;
/// What one event takes apart from its samples, for the same check.
const EVENT_BYTES_FOR_MINIMUM: usize = 2048;

/// The least `max_memory_mb` that holds one actor at every rule's threshold (per key shape),
/// one sample ring and one event with its samples, each in its share of the budget.
fn minimum_memory_mb(rules: &[Rule], samples_per_event: usize) -> Option<u64> {
    use crate::base::memory::Shares;
    let thresholds = |per: Per| -> Vec<u32> {
        rules
            .iter()
            .filter(|r| r.per == per)
            .map(|r| r.threshold)
            .collect()
    };
    let (actor, api) = (thresholds(Per::Actor), thresholds(Per::ActorApi));
    let groups = usize::from(!actor.is_empty()) + usize::from(!api.is_empty());
    let tables = crate::base::sizes::minimum_bytes::<crate::model::actor::ActorKey>(&actor).max(
        crate::base::sizes::minimum_bytes::<(crate::model::actor::ActorKey, u64)>(&api),
    );
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

pub(crate) use crate::model::choices::{
    Action, DeliveryMode, FleetMode, Per, RuleKind, Severity, SinkFormat,
};
pub(crate) use fleet::FleetConfig;
#[cfg(feature = "fleet")]
pub(crate) use fleet::FLEET_BUCKET_MS;

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub statuses: StatusSet,
    /// Statuses of a response that succeeded: one from an actor this rule flagged, within its
    /// cooldown, is the attack's hit (a credential stuffer's login that worked).
    pub success_statuses: StatusSet,
    pub threshold: u32,
    pub window_secs: u64,
    pub per: Per,
    pub cooldown_secs: u64,
    pub action: Action,
    pub block_secs: u64,
    pub block_status: u16,
    pub severity: Severity,
    pub sub_category: String,
    pub kind: RuleKind,
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

/// Where and how events are delivered: `webhook` (Akto's format, the sink named `akto`) or one
/// of `sinks`. Each sink has its own outbox: its own batches, retries and metrics.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The sink's name: its metrics' `sink` label.
    pub name: String,
    pub format: SinkFormat,
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
    /// Akto's format: the taxonomy fields on each event (off by default: Akto's bytes).
    pub taxonomy: bool,
    /// Splunk HEC: the events' `index` (else the token's default), `sourcetype` and `source`.
    pub splunk_index: Option<String>,
    pub splunk_sourcetype: String,
    pub splunk_source: String,
    /// PagerDuty Events v2: the integration's routing key (a secret).
    pub routing_key: Option<String>,
    /// Alertmanager: when a pushed alert resolves unless pushed again (its `endsAt`).
    pub resolve_after_secs: u64,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("format", &self.format)
            // A chat webhook's path is its credential.
            .field("url", &crate::base::url::url_for_errors(&self.url))
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
            .field("taxonomy", &self.taxonomy)
            .field("splunk_index", &self.splunk_index)
            .field(
                "routing_key",
                &self.routing_key.as_ref().map(|_| "<redacted>"),
            )
            .field("resolve_after_secs", &self.resolve_after_secs)
            .finish()
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub actor: ActorConfig,
    pub rules: Vec<Rule>,
    pub max_actors: usize,
    /// The engine's memory budget (see [`crate::base::memory`]).
    pub max_memory_mb: usize,
    pub samples_per_event: usize,
    /// Lowercase header names removed from samples, on top of the built-in credential headers.
    pub redact_headers: Vec<String>,
    pub api_collection_id: i64,
    pub country_header: Option<String>,
    pub webhook: WebhookConfig,
    /// Further sinks, each fed every event (`webhook` is sink 0, these follow).
    pub sinks: Vec<WebhookConfig>,
    /// Payload threat rules (see [`crate::model::threat`]), after the counting rules in event order.
    pub threat_rules: Vec<ThreatRule>,
    /// Bytes of a request body the threat rules inspect.
    pub body_max_bytes: usize,
    /// Bytes of a response body inspected where a rule reads responses.
    pub response_body_max_bytes: usize,
    /// Envoy only: the filter's plugin config sets `allow_on_headers_stop_iteration`, so a
    /// request can be held whole (headers too) while a blocking rule reads its body.
    pub envoy_hold_headers: bool,
    /// Envoy only: where counting rules are decided for a fleet of proxies.
    pub fleet: FleetConfig,
}

/// How a host looks up an environment variable by name: `None` when it is not set. The core
/// never reads the environment itself; each host passes its own (the filter: the variables Envoy
/// gives the VM; the CLI: its process environment; the Worker: its secrets and vars).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The lookup of a host without an environment: every `{"env": ...}` reference is unset.
pub(crate) fn no_env(_name: &str) -> Option<String> {
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

    /// The ATT&CK techniques and OWASP API categories of filter `index`'s events.
    pub fn taxonomy(&self, index: usize) -> Option<crate::model::taxonomy::Taxonomy> {
        use crate::model::taxonomy;
        match self.rules.get(index) {
            Some(r) => Some(taxonomy::of_counting_rule(&r.statuses)),
            None => {
                let t = self.threat_rules.get(index - self.rules.len())?;
                Some(taxonomy::of_threat(t.id))
            }
        }
    }

    /// How many sinks events go to: `webhook` and `sinks`.
    pub fn sink_count(&self) -> usize {
        1 + self.sinks.len()
    }

    /// The sinks' names, `akto` (`webhook`) first.
    pub fn sink_names(&self) -> impl Iterator<Item = &str> + Clone {
        std::iter::once(&self.webhook)
            .chain(&self.sinks)
            .map(|s| s.name.as_str())
    }

    /// Sink `index`: 0 is `webhook`, then `sinks` in order.
    pub fn sink(&self, index: usize) -> Option<&WebhookConfig> {
        match index {
            0 => Some(&self.webhook),
            i => self.sinks.get(i - 1),
        }
    }

    pub fn max_memory_bytes(&self) -> usize {
        self.max_memory_mb << 20
    }

    /// How many filters events are raised for: the counting rules, then the threat rules. An
    /// event's filter index is its position in that order.
    pub fn filter_count(&self) -> usize {
        self.rules.len() + self.threat_rules.len()
    }

    /// The id (`filterId`), overview and remediation of filter `index`.
    pub fn filter(&self, index: usize) -> Option<(&str, &Overview, &Remediation)> {
        match self.rules.get(index) {
            Some(r) => Some((r.id.as_str(), &r.overview, &r.remediation)),
            None => {
                let t = self.threat_rules.get(index - self.rules.len())?;
                Some((t.id.as_str(), &t.overview, &t.remediation))
            }
        }
    }

    /// The index of the filter named `id`.
    pub fn filter_index(&self, id: &str) -> Option<usize> {
        (0..self.filter_count()).find(|&i| self.filter(i).is_some_and(|(fid, _, _)| fid == id))
    }

    /// Whether a rule blocks actors (hosts then check the blocklist on each request).
    pub fn blocks_actors(&self) -> bool {
        self.rules.iter().any(|r| r.action == Action::Block)
            || self.threat_rules.iter().any(|r| {
                r.id == crate::model::threat::id::ThreatId::ParamEnumeration
                    && r.action == Action::Block
            })
    }

    /// Whether a rule reads response bodies (a payload rule with `inspect_response`, or
    /// `SecurityMisconfig`).
    pub fn reads_responses(&self) -> bool {
        self.response_body_max_bytes > 0
            && self.threat_rules.iter().any(|r| {
                r.inspect_response || r.id == crate::model::threat::id::ThreatId::SecurityMisconfig
            })
    }

    /// Whether every request is recorded, whatever its status (object-ID enumeration).
    pub fn records_every_request(&self) -> bool {
        self.threat_rules
            .iter()
            .any(|r| r.id == crate::model::threat::id::ThreatId::ParamEnumeration)
    }

    /// The statuses any rule counts: responses outside it cost nothing more than this lookup.
    pub fn matched_statuses(&self) -> StatusSet {
        self.rules
            .iter()
            .fold(StatusSet::default(), |acc, r| acc.union(&r.statuses))
    }

    /// The statuses any rule watches for after flagging an actor (`success_statuses`).
    pub fn success_statuses(&self) -> StatusSet {
        self.rules.iter().fold(StatusSet::default(), |acc, r| {
            acc.union(&r.success_statuses)
        })
    }

    /// Which responses are recorded ([`Recording`]).
    pub fn recording(&self) -> Recording {
        Recording {
            matched: self.matched_statuses(),
            success: self.success_statuses(),
            every_request: self.records_every_request(),
        }
    }
}

/// Which responses are recorded: a status a counting rule counts or watches for after flagging
/// (`success_statuses`), a request with threat findings, or every request (object-ID
/// enumeration). The one rule recorders, detectors and
/// the engine apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recording {
    matched: StatusSet,
    /// Statuses recorded for rules' `success_statuses` (not counted: looked up).
    success: StatusSet,
    every_request: bool,
}

impl Recording {
    /// Whether a counting rule counts `status`.
    #[inline]
    pub fn counts_status(&self, status: u16) -> bool {
        self.matched.contains(status)
    }

    /// Whether a response of `status` is recorded, its request having threat findings or not.
    #[inline]
    pub fn wants(&self, status: u16, has_findings: bool) -> bool {
        has_findings
            || self.every_request
            || self.matched.contains(status)
            || self.success.contains(status)
    }

    /// The statuses counting rules count.
    pub fn matched(&self) -> StatusSet {
        self.matched
    }
}

/// A configuration parsed from its text, parsed again only when the text changes: hosts that
/// read their configuration afresh on every call (the Worker's isolates and Durable Objects)
/// keep one.
#[derive(Default)]
pub struct ConfigCache {
    text: Option<String>,
    parsed: Option<Result<Arc<Config>, String>>,
}

impl ConfigCache {
    /// The configuration of `text`, parsed by `parse` only when `text` differs from the last
    /// one; `true` alongside when it was parsed now (a host logs a new error once).
    pub fn get(
        &mut self,
        text: &str,
        parse: impl FnOnce(&str) -> Result<Arc<Config>, String>,
    ) -> (Result<Arc<Config>, String>, bool) {
        if self.text.as_deref() == Some(text) {
            if let Some(parsed) = &self.parsed {
                return (parsed.clone(), false);
            }
        }
        let parsed = parse(text);
        self.text = Some(text.to_string());
        self.parsed = Some(parsed.clone());
        (parsed, true)
    }
}

/// The rule used when a config has no `rules` key: Akto's 4XX filter, 10 in 60 s.
pub(crate) fn default_rule() -> Rule {
    let mut statuses = StatusSet::default();
    statuses.insert_range(400, 499);
    Rule {
        id: "4XX_FILTER".into(),
        statuses,
        success_statuses: StatusSet::default(),
        threshold: 10,
        window_secs: 60,
        per: Per::Actor,
        cooldown_secs: 600,
        action: Action::Alert,
        block_secs: 600,
        block_status: 429,
        severity: Severity::Medium,
        sub_category: "API_LEVEL_RATE_LIMITING".into(),
        kind: RuleKind::RuleBased,
        overview: texts::overview_4xx(),
        remediation: texts::remediation_4xx(),
    }
}

mod fleet;
mod sections;
mod sinks;
mod threats;
mod validate;

#[cfg(test)]
mod tests;

/// Whether a quiet entry's rule mask (bit = counting rule index) covers every rule that counts
/// `status`: then a response with that status, recorded with time, status and actor alone, is
/// counted exactly. Here, beside the rules, so that the recorder and the detector both ask it
/// without importing each other.
pub fn quiet_covers(cfg: &Config, rules: u16, status: u16) -> bool {
    // A status no rule counts (a success a rule watches for) is never recorded quietly: it is
    // looked up by its path.
    cfg.rules.iter().any(|rule| rule.statuses.contains(status))
        && cfg.rules.iter().enumerate().all(|(i, rule)| {
            !rule.statuses.contains(status)
                || 1u16
                    .checked_shl(i as u32)
                    .is_some_and(|bit| rules & bit != 0)
        })
}
