//! Where events go: `webhook` (Akto's format, the sink named `akto`) and `sinks`, further
//! destinations in other formats, each with the same delivery settings (batching, retries,
//! signing, secrets from the environment) and a few of its format's own.

use super::validate::{is_token, Obj, Validator};
use super::{ConfigError, DeliveryMode, SinkFormat, WebhookConfig};
use crate::base::url::{split_url, url_for_errors};
use serde_json::Value;

/// Sinks besides `webhook`: each has an outbox and metrics of its own.
pub(crate) const MAX_SINKS: usize = 7;

/// Every key a sink may have: the delivery settings, the sink's name and format, and the
/// formats' own ([`format_of_key`]). `webhook` has the same keys, its name and format fixed.
const SINK_KEYS: &[&str] = &[
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
    "name",
    "format",
    "taxonomy",
    "token",
    "index",
    "sourcetype",
    "source",
    "routing_key",
    "resolve_after_secs",
];

/// The format a format-specific key belongs to.
fn format_of_key(key: &str) -> Option<SinkFormat> {
    Some(match key {
        "taxonomy" => SinkFormat::Akto,
        "token" | "index" | "sourcetype" | "source" => SinkFormat::SplunkHec,
        "routing_key" => SinkFormat::PagerDuty,
        "resolve_after_secs" => SinkFormat::Alertmanager,
        _ => return None,
    })
}

/// A sink name: a Prometheus label value that reads well in a query.
fn is_sink_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && s.len() <= 32
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Validator<'_> {
    /// `webhook`: Akto's format, named `akto`.
    #[inline(never)] // See `Validator::config`.
    pub(super) fn webhook(&mut self, value: &Value) -> Option<WebhookConfig> {
        let obj = self.object("webhook", value, SINK_KEYS)?;
        for key in ["name", "format"] {
            if let Some(v) = obj.get(key) {
                self.err(
                    &obj.path(key),
                    "cannot be set: `webhook` is Akto's format, named \"akto\" (add other formats under `sinks`)",
                    v,
                );
            }
        }
        self.delivery(&obj, "akto".into(), SinkFormat::Akto, "actorwatch_webhook")
    }

    /// `sinks`: at most [`MAX_SINKS`], names unique and other than `akto`.
    #[inline(never)] // See `Validator::config`.
    pub(super) fn sinks(&mut self, value: Option<&Value>) -> Vec<WebhookConfig> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Vec::new();
        };
        if !cfg!(feature = "sinks") {
            self.err(
                "sinks",
                "this build has no sinks besides `webhook` (feature \"sinks\")",
                value,
            );
            return Vec::new();
        }
        let Some(list) = value.as_array() else {
            self.err("sinks", "must be an array of sinks", value);
            return Vec::new();
        };
        if list.len() > MAX_SINKS {
            self.errors.push(ConfigError {
                path: "sinks".into(),
                message: format!("must hold at most {MAX_SINKS} sinks, got {}", list.len()),
            });
            return Vec::new();
        }
        let mut sinks: Vec<WebhookConfig> = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let path = format!("sinks[{i}]");
            let Some(obj) = self.object(&path, v, SINK_KEYS) else {
                continue;
            };
            let format = match obj.get("format") {
                None => {
                    self.errors.push(ConfigError {
                        path: obj.path("format"),
                        message: "is required (\"ocsf\", \"splunk_hec\", \"alertmanager\", \"pagerduty\", \"slack\", \"teams\" or \"akto\"), got nothing".into(),
                    });
                    continue;
                }
                Some(_) => {
                    let errors = self.errors.len();
                    let format = self.choose(&obj, "format", SinkFormat::ALL, SinkFormat::Akto);
                    if self.errors.len() > errors {
                        continue;
                    }
                    format
                }
            };
            let name = match obj.get("name") {
                None => format.as_str().to_string(),
                Some(n) => match n.as_str() {
                    Some(s) if is_sink_name(s) => s.to_string(),
                    _ => {
                        self.err(
                            &obj.path("name"),
                            "must be 1-32 characters of a-z 0-9 _, starting with a letter",
                            n,
                        );
                        continue;
                    }
                },
            };
            if name == "akto" || sinks.iter().any(|s| s.name == name) {
                self.err(
                    &obj.path("name"),
                    "must differ from every other sink's (`webhook` is \"akto\"; a sink without a name is named by its format)",
                    &Value::String(name),
                );
                continue;
            }
            let cluster = format!("actorwatch_sink_{name}");
            if let Some(sink) = self.delivery(&obj, name, format, &cluster) {
                sinks.push(sink);
            }
        }
        sinks
    }

    /// The settings of one sink, `obj` at its path.
    fn delivery(
        &mut self,
        obj: &Obj,
        name: String,
        format: SinkFormat,
        default_cluster: &str,
    ) -> Option<WebhookConfig> {
        for key in SINK_KEYS {
            if let (Some(v), Some(owner)) = (obj.get(key), format_of_key(key)) {
                if owner != format {
                    self.err(
                        &obj.path(key),
                        format_args!("is a setting of format \"{}\" only", owner.as_str()),
                        v,
                    );
                }
            }
        }
        let url = self.sink_url(obj);
        let (authority, path) = match split_url(&url) {
            Some(parts) => parts,
            None => {
                if !url.is_empty() {
                    self.err(
                        &obj.path("url"),
                        "must be an http:// or https:// URL with a host",
                        &Value::String(url_for_errors(&url)),
                    );
                }
                (String::new(), String::new())
            }
        };
        let cluster = self.nonempty_string(obj, "cluster", default_cluster);
        let mut headers = self.headers(obj);
        if !headers.iter().any(|(k, _)| k == "content-type") {
            headers.insert(
                0,
                ("content-type".to_string(), "application/json".to_string()),
            );
        }
        if format == SinkFormat::SplunkHec {
            let token = self.format_secret(obj, "token")?;
            headers.push(("authorization".into(), format!("Splunk {token}")));
        }
        let routing_key = match format {
            SinkFormat::PagerDuty => Some(self.format_secret(obj, "routing_key")?),
            _ => None,
        };
        let mode = self.choose(obj, "mode", DeliveryMode::ALL, DeliveryMode::Periodic);
        let run_every_secs = self.uint(obj, "run_every_secs", 900, 1, 86_400);
        // PagerDuty's Events API takes one event per request.
        let max_batch = if format == SinkFormat::PagerDuty {
            1
        } else {
            10_000
        };
        let batch_size = self.uint(obj, "batch_size", 20.min(max_batch), 1, max_batch) as usize;
        let timeout_ms = self.uint(obj, "timeout_ms", 5000, 100, 300_000);
        let max_retries = self.uint(obj, "max_retries", 8, 0, 100) as u32;
        let queue_capacity = self.uint(obj, "queue_capacity", 10_000, 1, 1_000_000) as usize;
        let max_in_flight = self.uint(obj, "max_in_flight", 4, 1, 64) as usize;
        let hmac_secret = self.hmac_secret(obj);
        let taxonomy = match obj.get("taxonomy") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                self.err(&obj.path("taxonomy"), "must be true or false", v);
                false
            }
        };
        let splunk_index = self.string(obj, "index");
        let splunk_sourcetype = self.nonempty_string(obj, "sourcetype", "actorwatch:event");
        let splunk_source = self.nonempty_string(obj, "source", "actorwatch");
        let resolve_after_secs = self.uint(obj, "resolve_after_secs", 3600, 60, 604_800);
        Some(WebhookConfig {
            name,
            format,
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
            taxonomy,
            splunk_index,
            splunk_sourcetype,
            splunk_source,
            routing_key,
            resolve_after_secs,
        })
    }

    /// `url`: a string, or `{"env": "NAME"}` for URLs that are credentials themselves (a Slack
    /// or Teams webhook). Never echoed whole in errors.
    fn sink_url(&mut self, obj: &Obj) -> String {
        let Some(v) = obj.get("url") else {
            self.errors.push(ConfigError {
                path: obj.path("url"),
                message: "is required, got nothing".into(),
            });
            return String::new();
        };
        self.secret(&obj.path("url"), v, "a URL or {\"env\": \"NAME\"}")
            .map(|s| s.value)
            .unwrap_or_default()
    }

    /// A format's required secret (`token`, `routing_key`).
    fn format_secret(&mut self, obj: &Obj, key: &'static str) -> Option<String> {
        let path = obj.path(key);
        let Some(v) = obj.get(key) else {
            self.errors.push(ConfigError {
                path,
                message:
                    "is required for this format (a string or {\"env\": \"NAME\"}), got nothing"
                        .into(),
            });
            return None;
        };
        let secret = self.secret(&path, v, "a string or {\"env\": \"NAME\"}")?;
        if secret.value.contains(['\r', '\n', '\0']) {
            self.errors.push(ConfigError {
                path,
                message: format!(
                    "must not contain CR, LF or NUL, got a value of {} characters{}",
                    secret.value.chars().count(),
                    secret.source()
                ),
            });
            return None;
        }
        Some(secret.value)
    }

    /// `headers`: names to strings or `{"env": "NAME"}`, lowercase names, in document order.
    fn headers(&mut self, obj: &Obj) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = Vec::new();
        let Some(v) = obj.get("headers") else {
            return headers;
        };
        let Some(map) = v.as_object() else {
            self.err(
                &obj.path("headers"),
                "must be an object of header names to string values",
                v,
            );
            return headers;
        };
        for (name, hv) in map {
            let hpath = format!("{}.{name}", obj.path("headers"));
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
            } else if let Some(s) = self.secret(&hpath, hv, "a string or {\"env\": \"NAME\"}") {
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
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    #[cfg(not(feature = "sinks"))]
    #[test]
    fn without_sinks_the_key_is_refused_with_one_error() {
        assert_eq!(
            errors_of(
                r#"{"webhook": {"url": "https://siem.example.com/akto"},
                    "sinks": [{"format": "ocsf", "url": "https://lake.example.com/"}]}"#
            ),
            [
                r#"sinks: this build has no sinks besides `webhook` (feature "sinks"), got [{"format":"ocsf","url":"https://lake.example.com/"}]"#
            ]
        );
    }

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn errors_of(json: &str) -> Vec<String> {
        match Config::from_json_str(json) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }
    #[cfg(feature = "sinks")]
    #[test]
    fn sinks_are_named_by_format_and_their_errors_name_key_and_format() {
        let c = Config::from_json_str(
            r#"{"webhook": {"url": "https://siem.example.com/akto"},
                "sinks": [{"format": "ocsf", "url": "https://lake.example.com/ocsf"},
                          {"format": "slack", "name": "oncall", "url": "https://hooks.slack.example/services/x"}]}"#,
        )
        .unwrap();
        assert_eq!(c.sink_count(), 3);
        let names: Vec<&str> = (0..3).map(|i| c.sink(i).unwrap().name.as_str()).collect();
        assert_eq!(names, ["akto", "ocsf", "oncall"]);
        assert_eq!(c.sinks[0].cluster, "actorwatch_sink_ocsf");
        assert_eq!(c.sinks[1].format, super::super::SinkFormat::Slack);
        assert!(c.sink(3).is_none());

        let sink = |body: &str| {
            errors_of(&format!(
                r#"{{"webhook": {{"url": "https://siem.example.com/akto"}}, "sinks": [{body}]}}"#
            ))
        };
        assert_eq!(
            sink(r#"{"url": "https://a.example/"}"#),
            ["sinks[0].format: is required (\"ocsf\", \"splunk_hec\", \"alertmanager\", \"pagerduty\", \"slack\", \"teams\" or \"akto\"), got nothing"]
        );
        assert_eq!(
            sink(r#"{"format": "syslog", "url": "https://a.example/"}"#),
            ["sinks[0].format: must be one of \"akto\", \"ocsf\", \"splunk_hec\", \"alertmanager\", \"pagerduty\", \"slack\", \"teams\", got \"syslog\""]
        );
        assert_eq!(
            sink(r#"{"format": "ocsf", "url": "https://a.example/", "routing_key": "k"}"#),
            ["sinks[0].routing_key: is a setting of format \"pagerduty\" only, got \"k\""]
        );
        assert_eq!(
            sink(r#"{"format": "splunk_hec", "url": "https://a.example/"}"#),
            ["sinks[0].token: is required for this format (a string or {\"env\": \"NAME\"}), got nothing"]
        );
        assert_eq!(
            sink(r#"{"format": "ocsf", "name": "Big-Name", "url": "https://a.example/"}"#),
            ["sinks[0].name: must be 1-32 characters of a-z 0-9 _, starting with a letter, got \"Big-Name\""]
        );
        assert_eq!(
            sink(r#"{"format": "ocsf", "url": "https://a.example/"}, {"format": "ocsf", "url": "https://b.example/"}"#),
            ["sinks[1].name: must differ from every other sink's (`webhook` is \"akto\"; a sink without a name is named by its format), got \"ocsf\""]
        );
        let eight = [r#"{"format": "ocsf", "url": "https://a.example/"}"#; 8].join(",");
        assert_eq!(sink(&eight), ["sinks: must hold at most 7 sinks, got 8"]);
        assert_eq!(
            errors_of(r#"{"webhook": {"url": "https://siem.example.com/akto", "format": "ocsf"}}"#),
            ["webhook.format: cannot be set: `webhook` is Akto's format, named \"akto\" (add other formats under `sinks`), got \"ocsf\""]
        );
    }

    #[cfg(feature = "sinks")]
    #[test]
    fn sink_secrets_come_from_the_environment_and_are_never_echoed() {
        let env = |name: &str| match name {
            "HEC_TOKEN" => Some("hec-s3cret".to_string()),
            "SLACK_URL" => {
                Some("https://hooks.slack.example/services/T0/B0/s3cretpath".to_string())
            }
            _ => None,
        };
        let c = Config::from_json_with_env(
            br#"{"webhook": {"url": "https://siem.example.com/akto"},
                 "sinks": [{"format": "splunk_hec", "url": "https://splunk.example:8088/services/collector/event", "token": {"env": "HEC_TOKEN"}},
                           {"format": "slack", "url": {"env": "SLACK_URL"}}]}"#,
            &env,
        )
        .unwrap();
        assert!(c.sinks[0]
            .headers
            .contains(&("authorization".into(), "Splunk hec-s3cret".into())));
        assert_eq!(c.sinks[1].path, "/services/T0/B0/s3cretpath");
        let shown = format!("{c:?}");
        for secret in ["hec-s3cret", "s3cretpath"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let refused = Config::from_json_with_env(
            br#"{"webhook": {"url": "https://siem.example.com/akto"},
                 "sinks": [{"format": "pagerduty", "url": "https://events.pagerduty.example/v2/enqueue", "routing_key": {"env": "PD_KEY"}}]}"#,
            &env,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            refused,
            "sinks[0].routing_key: environment variable PD_KEY is not set"
        );
    }
}
