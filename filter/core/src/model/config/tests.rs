//! The validator at its edges: every error with its exact message, secrets never echoed.

use super::*;
use crate::model::actor::ActorSource;
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
            "bogus: unknown key (known keys: actor, rules, max_actors, max_memory_mb, samples_per_event, redact_headers, api_collection_id, country_header, webhook, sinks, threat_rules, body_max_bytes, response_body_max_bytes, envoy_hold_headers, fleet), got 1",
            "actor.sources[0]: must be \"peer\", \"xff\", \"cf-connecting-ip\", \"header:<name>\" or \"jwt:<claim>\", got \"leftmost\"",
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
    let c =
        Config::from_json_str(r#"{"webhook": {"url": "http://x/", "hmac_secret": null}}"#).unwrap();
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

#[test]
fn the_cache_parses_again_only_when_the_text_changes() {
    let mut cache = ConfigCache::default();
    let mut parses = 0;
    let mut parse = |text: &str| {
        parses += 1;
        Config::from_json_str(text)
            .map(std::sync::Arc::new)
            .map_err(|e| e.to_string())
    };
    let (first, fresh) = cache.get(MINIMAL, &mut parse);
    assert!(first.is_ok() && fresh);
    let (again, fresh) = cache.get(MINIMAL, &mut parse);
    assert!(!fresh);
    assert!(std::sync::Arc::ptr_eq(&first.unwrap(), &again.unwrap()));
    let (bad, fresh) = cache.get("{", &mut parse);
    assert!(bad.is_err() && fresh);
    let (_, fresh) = cache.get("{", &mut parse);
    assert!(!fresh, "an error is kept too, so that it is logged once");
    assert_eq!(parses, 2);
}

#[cfg(feature = "fleet")]
#[test]
fn fleet_section_defaults_bounds_and_errors_name_their_keys() {
    let c = Config::from_json_str(MINIMAL).unwrap();
    assert_eq!(c.fleet.mode, FleetMode::Local);
    let with = |fleet: &str| {
        errors_of(&format!(
            r#"{{"fleet": {fleet}, "webhook": {{"url": "https://siem.example.com/akto"}}}}"#
        ))
    };
    assert_eq!(
        with(r#"{"mode": "redis"}"#),
        vec![r#"fleet.url: is required when fleet.mode is "redis", got null"#]
    );
    assert_eq!(
        with(r#"{"mode": "cluster", "url": "http://front:8080/v1/batch"}"#),
        vec![r#"fleet.mode: must be one of "local", "redis", got "cluster""#]
    );
    // flush_ms: a batch per 100 ms bucket at most.
    assert!(with(r#"{"mode": "redis", "url": "http://f/v1/batch", "flush_ms": 100}"#).is_empty());
    assert_eq!(
        with(r#"{"mode": "redis", "url": "http://f/v1/batch", "flush_ms": 99}"#),
        vec!["fleet.flush_ms: must be >= 100, got 99"]
    );
    assert_eq!(
        with(r#"{"mode": "redis", "url": "ftp://f/v1/batch", "grace_ms": 60001}"#),
        vec![
            r#"fleet.url: must be an http:// URL of the actorwatch front's /v1/batch, got "ftp://f/...""#,
            "fleet.grace_ms: must be <= 60000, got 60001"
        ]
    );
    let short = with(r#"{"mode": "redis", "url": "http://f/v1/batch", "hmac_secret": "s3cr3t"}"#);
    assert_eq!(
        short,
        vec!["fleet.hmac_secret: must be at least 16 characters, got 6 characters"]
    );
    let c = Config::from_json_str(
        r#"{"fleet": {"mode": "redis", "url": "http://front:8080/v1/batch", "hmac_secret": "fleet-s3cret-0123456789"},
            "webhook": {"url": "https://siem.example.com/akto"}}"#,
    )
    .unwrap();
    assert_eq!(
        (c.fleet.authority.as_str(), c.fleet.path.as_str()),
        ("front:8080", "/v1/batch")
    );
    assert_eq!(
        (
            c.fleet.cluster.as_str(),
            c.fleet.flush_ms,
            c.fleet.timeout_ms,
            c.fleet.grace_ms
        ),
        ("actorwatch_fleet", 100, 250, 2000)
    );
    assert!(
        !format!("{:?}", c.fleet).contains("s3cret"),
        "the secret is never printed"
    );
}

/// A build without the `inspect` feature (the lean filter) refuses every rule that reads
/// requests with one error naming the rule, its id and the feature; enumeration only counts
/// requests and still parses.
#[cfg(not(feature = "inspect"))]
#[test]
fn without_inspect_a_rule_that_reads_requests_is_refused_by_its_id() {
    let with = |rules: &str| {
        errors_of(&format!(
            r#"{{"threat_rules": [{rules}], "webhook": {{"url": "https://siem.example.com/akto"}}}}"#
        ))
    };
    assert_eq!(
        with(r#"{"id": "XSS", "action": "block"}"#),
        vec![
            r#"threat_rules[0].id: this build has no request inspection (feature "inspect"), got "XSS""#
        ]
    );
    assert_eq!(
        with(r#"{"id": "ParamEnumeration"}, {"id": "WeakAuthentication"}"#),
        vec![
            r#"threat_rules[1].id: this build has no request inspection (feature "inspect"), got "WeakAuthentication""#
        ]
    );
    assert!(with(r#"{"id": "ParamEnumeration", "distinct": 20}"#).is_empty());
    // An id no build knows is still named as such.
    assert!(with(r#"{"id": "Nope"}"#)[0].starts_with("threat_rules[0].id: must be one of"));
}

/// A build without the `fleet` feature refuses fleet mode with one error, whatever else the
/// section holds; local counting still parses.
#[cfg(not(feature = "fleet"))]
#[test]
fn without_fleet_redis_mode_is_refused_with_one_error() {
    let with = |fleet: &str| {
        errors_of(&format!(
            r#"{{"fleet": {fleet}, "webhook": {{"url": "https://siem.example.com/akto"}}}}"#
        ))
    };
    let refused =
        vec![r#"fleet.mode: this build has no fleet mode (feature "fleet"), got "redis""#];
    assert_eq!(
        with(r#"{"mode": "redis", "url": "http://front:8080/v1/batch"}"#),
        refused
    );
    assert_eq!(with(r#"{"mode": "redis"}"#), refused);
    assert!(with(r#"{"mode": "local"}"#).is_empty());
}
