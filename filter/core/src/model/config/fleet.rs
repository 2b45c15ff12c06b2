//! The `fleet` section: where an Envoy fleet's counting rules are decided (each proxy on its
//! own, or Redis for every proxy through the `actorwatch front`), and how often and how long
//! the aggregator talks to it.

use super::validate::Validator;
use super::FleetMode;
use crate::base::url::{split_url, url_for_errors};
use serde_json::Value;

/// Why a build without the `fleet` feature refuses `fleet.mode: "redis"`.
#[cfg(not(feature = "fleet"))]
pub(super) const NO_FLEET: &str = "this build has no fleet mode (feature \"fleet\")";

/// Least and default time between two batches: the resolution windows are counted at in Redis.
pub(crate) const FLEET_BUCKET_MS: u64 = 100;

#[derive(Clone, PartialEq, Eq)]
pub struct FleetConfig {
    pub mode: FleetMode,
    /// The front's batch endpoint, e.g. `http://127.0.0.1:8080/v1/batch`.
    pub url: String,
    pub authority: String,
    pub path: String,
    /// The Envoy cluster that reaches the front.
    pub cluster: String,
    /// Time between two batches from one aggregator.
    pub flush_ms: u64,
    /// An answer slower than this puts the proxy in fallback (local counting and delivery).
    pub timeout_ms: u64,
    /// Records that reach Redis later than this after their time are counted and dropped.
    pub grace_ms: u64,
    /// Signs every batch (`x-actorwatch-signature`, as webhooks are); the front checks it.
    pub hmac_secret: Option<String>,
}

impl std::fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is never printed.
        f.debug_struct("FleetConfig")
            .field("mode", &self.mode)
            .field("url", &self.url)
            .field("cluster", &self.cluster)
            .field("flush_ms", &self.flush_ms)
            .field("timeout_ms", &self.timeout_ms)
            .field("grace_ms", &self.grace_ms)
            .field("hmac_secret", &self.hmac_secret.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            mode: FleetMode::Local,
            url: String::new(),
            authority: String::new(),
            path: String::new(),
            cluster: "actorwatch_fleet".into(),
            flush_ms: FLEET_BUCKET_MS,
            timeout_ms: 250,
            grace_ms: 2000,
            hmac_secret: None,
        }
    }
}

impl FleetConfig {
    pub fn is_redis(&self) -> bool {
        self.mode == FleetMode::Redis
    }
}

impl Validator<'_> {
    #[inline(never)] // See `config` in sections.rs.
    pub(super) fn fleet(&mut self, value: Option<&Value>) -> FleetConfig {
        const KEYS: &[&str] = &[
            "mode",
            "url",
            "cluster",
            "flush_ms",
            "timeout_ms",
            "grace_ms",
            "hmac_secret",
        ];
        let defaults = FleetConfig::default();
        let Some(value) = value else {
            return defaults;
        };
        let Some(obj) = self.object("fleet", value, KEYS) else {
            return defaults;
        };
        let mode = self.choose(&obj, "mode", FleetMode::ALL, FleetMode::Local);
        #[cfg(not(feature = "fleet"))]
        if mode == FleetMode::Redis {
            self.err("fleet.mode", NO_FLEET, &Value::String("redis".into()));
            return defaults;
        }
        let url = self.string(&obj, "url").unwrap_or_default();
        let (authority, path) = match split_url(&url) {
            Some(parts) => parts,
            None => {
                if !url.is_empty() {
                    self.err(
                        "fleet.url",
                        "must be an http:// URL of the actorwatch front's /v1/batch",
                        &Value::String(url_for_errors(&url)),
                    );
                } else if mode == FleetMode::Redis {
                    self.err(
                        "fleet.url",
                        "is required when fleet.mode is \"redis\"",
                        &Value::Null,
                    );
                }
                (String::new(), String::new())
            }
        };
        let cluster = self.nonempty_string(&obj, "cluster", &defaults.cluster);
        let flush_ms = self.uint(&obj, "flush_ms", defaults.flush_ms, FLEET_BUCKET_MS, 10_000);
        let timeout_ms = self.uint(&obj, "timeout_ms", defaults.timeout_ms, 10, 10_000);
        let grace_ms = self.uint(&obj, "grace_ms", defaults.grace_ms, 0, 60_000);
        let hmac_secret = self.hmac_secret(&obj);
        FleetConfig {
            mode,
            url,
            authority,
            path,
            cluster,
            flush_ms,
            timeout_ms,
            grace_ms,
            hmac_secret,
        }
    }
}
