//! Threat rules through the engine: one event per actor and rule per cooldown, `SINGLE` and
//! `AGGREGATED` events in Akto's format, block decisions, object-ID enumeration at its
//! boundary, findings through worker deltas, and configuration errors naming their key.
#![cfg(feature = "inspect")]

use actorwatch_core::payload::WebhookPayload;
use actorwatch_core::Inspection;
use actorwatch_core::Inspector;
use actorwatch_core::{Config, Detection, Engine, Observation, Recorder};
use std::sync::Arc;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const T0: u64 = 1_800_000_000_000;

fn config(threat_rules: &str) -> Arc<Config> {
    let json = format!(
        r#"{{"rules": [], "threat_rules": [{threat_rules}], "webhook": {{"url": "https://siem.example.com/akto", "mode": "instant"}}}}"#
    );
    match Config::from_json_str(&json) {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("{e}\n{json}"),
    }
}

/// A JWT whose header is `{"alg":"none"}`.
const ALG_NONE_JWT: &str = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.";

/// Inspects and observes one request as a host does; returns the engine's detections.
fn request(
    engine: &mut Engine,
    inspector: &Inspector,
    now_ms: u64,
    peer: &str,
    path: &str,
    headers: &[(&str, &str)],
    status: u16,
) -> Vec<Detection> {
    let mut inspection = Inspection::default();
    let req = actorwatch_core::inspect::Request {
        method: "GET",
        path,
        headers: &headers,
        body: b"",
    };
    inspector.inspect(now_ms, &req, &mut inspection);
    let obs = Observation {
        method: "GET",
        path,
        status,
        peer: Some(peer),
        host: Some("api.example.com"),
        headers: &headers,
        country: None,
        threats: Some(&inspection),
    };
    let mut out = Vec::new();
    engine.observe(now_ms, &obs, &mut out);
    out
}

#[test]
fn a_weak_token_raises_one_single_event_per_cooldown_with_its_count() {
    let cfg = config(r#"{"id": "WeakAuthentication", "cooldown_secs": 60}"#);
    let inspector = Inspector::new(Arc::clone(&cfg));
    let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 7);
    let auth = [("authorization", ALG_NONE_JWT)];
    let first = request(
        &mut engine,
        &inspector,
        T0,
        "203.0.113.5:1",
        "/a",
        &auth,
        200,
    );
    assert_eq!(first.len(), 1);
    let event = &first[0].event;
    assert_eq!(
        (
            event.filter_id.as_str(),
            event.event_type.as_str(),
            event.sub_category.as_str(),
            event.actor.as_str(),
            event.count
        ),
        (
            "WeakAuthentication",
            "SINGLE",
            "WEAK_AUTHENTICATION",
            "203.0.113.5",
            Some(1)
        )
    );
    // The sample names the check and never the token.
    let orig = &event.malicious_payloads_responses[0].orig;
    assert!(orig.contains("JWT with alg none"), "{orig}");
    assert!(!orig.contains("eyJhbGciOiJub25lIn0"), "{orig}");
    for i in 1..10 {
        let d = request(
            &mut engine,
            &inspector,
            T0 + i * 1000,
            "203.0.113.5:1",
            "/a",
            &auth,
            200,
        );
        assert!(d.is_empty());
    }
    // 59.999 s later still inside the cooldown; at 60 s one event standing for 11 matches.
    assert!(request(
        &mut engine,
        &inspector,
        T0 + 59_999,
        "203.0.113.5:1",
        "/a",
        &auth,
        200
    )
    .is_empty());
    let again = request(
        &mut engine,
        &inspector,
        T0 + 60_000,
        "203.0.113.5:1",
        "/a",
        &auth,
        200,
    );
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].event.count, Some(11));
    let m = engine.metrics();
    assert_eq!(
        (m.threat_matches, m.threat_suppressed, m.threat_events),
        (12, 10, 2)
    );
    assert_eq!(
        (
            m.threat_weak_authentication_matches,
            m.threat_weak_authentication_suppressed,
            m.threat_weak_authentication_events,
            m.threat_sql_injection_matches
        ),
        (12, 10, 2, 0)
    );
    // A strong request raises nothing.
    assert!(request(&mut engine, &inspector, T0, "203.0.113.6:1", "/a", &[], 200).is_empty());
}

#[test]
fn threat_events_go_out_in_akto_s_payload_under_their_own_filter() {
    let cfg = config(r#"{"id": "WeakAuthentication"}"#);
    let inspector = Inspector::new(Arc::clone(&cfg));
    let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 7);
    let auth = [("authorization", ALG_NONE_JWT), ("user-agent", "t")];
    request(
        &mut engine,
        &inspector,
        T0,
        "203.0.113.5:1",
        "/users/7?x=1",
        &auth,
        404,
    );
    engine.advance(T0);
    let delivery = engine.poll_delivery(T0).expect("a POST");
    assert_eq!(delivery.filter_id, "WeakAuthentication");
    let doc: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(
        actorwatch_core::payload::shape_errors(&doc),
        Vec::<String>::new()
    );
    let payload: WebhookPayload = serde_json::from_slice(&delivery.body).unwrap();
    let event = &payload.malicious_events[0];
    assert_eq!(event.url, "/users/7");
    assert_eq!(event.category.as_deref(), Some("WEAK_AUTHENTICATION"));
    assert_eq!(event.kind, "Rule-Based");
    let orig: serde_json::Value =
        serde_json::from_str(&event.malicious_payloads_responses[0].orig).unwrap();
    assert_eq!(orig["path"], "/users/7?x=1");
    assert_eq!(orig["threat"]["part"], "headers");
    assert_eq!(payload.overview, cfg.threat_rules[0].overview);
}

#[test]
fn a_block_rule_answers_the_matching_request_and_an_alert_rule_does_not() {
    let block = config(r#"{"id": "WeakAuthentication", "action": "block", "block_status": 401}"#);
    let alert = config(r#"{"id": "WeakAuthentication"}"#);
    let auth = [("authorization", ALG_NONE_JWT)];
    let req = actorwatch_core::inspect::Request {
        method: "GET",
        path: "/",
        headers: &auth,
        body: b"",
    };
    let mut inspection = Inspection::default();
    let inspector = Inspector::new(block);
    assert!(inspector.blocks());
    inspector.inspect(T0, &req, &mut inspection);
    assert_eq!(inspector.block_status(&inspection), Some(401));
    let clean: [(&str, &str); 0] = [];
    let clean_req = actorwatch_core::inspect::Request {
        headers: &clean,
        ..req
    };
    inspector.inspect(T0, &clean_req, &mut inspection);
    assert_eq!(inspector.block_status(&inspection), None);
    let inspector = Inspector::new(alert);
    assert!(!inspector.blocks());
    inspector.inspect(T0, &req, &mut inspection);
    assert_eq!(inspector.block_status(&inspection), None);
}

#[test]
fn enumeration_is_flagged_at_the_distinct_count_and_blocks_when_configured() {
    let cfg = config(
        r#"{"id": "ParamEnumeration", "distinct": 5, "window_secs": 60, "action": "block", "block_secs": 30, "block_status": 429}"#,
    );
    let inspector = Inspector::new(Arc::clone(&cfg));
    let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 7);
    let peer = "198.51.100.1:9";
    for id in 1..=4 {
        let path = format!("/orders/{id}");
        assert!(request(&mut engine, &inspector, T0 + id, peer, &path, &[], 200).is_empty());
    }
    // A repeated id and another API do not count towards this one.
    assert!(request(&mut engine, &inspector, T0 + 5, peer, "/orders/4", &[], 200).is_empty());
    assert!(request(&mut engine, &inspector, T0 + 5, peer, "/users/99", &[], 200).is_empty());
    // Another actor's ids neither.
    assert!(request(
        &mut engine,
        &inspector,
        T0 + 5,
        "198.51.100.2:9",
        "/orders/77",
        &[],
        200
    )
    .is_empty());
    let actor = engine
        .resolve_actor(Some(peer), &Vec::<(String, String)>::new())
        .unwrap()
        .key;
    assert_eq!(engine.check_blocked(T0 + 5, &actor), None);
    let flagged = request(&mut engine, &inspector, T0 + 6, peer, "/orders/5", &[], 404);
    assert_eq!(flagged.len(), 1);
    let event = &flagged[0].event;
    assert_eq!(
        (
            event.filter_id.as_str(),
            event.event_type.as_str(),
            event.url.as_str(),
            event.count
        ),
        ("ParamEnumeration", "AGGREGATED", "/orders/INTEGER", Some(5))
    );
    // Four of the five objects were read (2XX): the enumeration worked.
    assert_eq!(event.response_status, Some(404));
    let statuses = event.response_statuses.clone().unwrap_or_default();
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        [("2XX".to_string(), 4), ("4XX".to_string(), 1)]
    );
    assert_eq!(event.successful_exploit, Some(true));
    assert_eq!(engine.check_blocked(T0 + 7, &actor), Some(429));
    assert_eq!(engine.check_blocked(T0 + 6 + 30_000, &actor), None);
}

#[test]
fn findings_travel_in_worker_deltas_and_count_once() {
    let cfg = config(r#"{"id": "WeakAuthentication"}"#);
    let inspector = Inspector::new(Arc::clone(&cfg));
    let mut recorder = Recorder::new(Arc::clone(&cfg));
    let auth = [("authorization", ALG_NONE_JWT)];
    let mut inspection = Inspection::default();
    let req = actorwatch_core::inspect::Request {
        method: "POST",
        path: "/login?next=%2F",
        headers: &auth,
        body: b"user=bob&password=hunter2",
    };
    inspector.inspect(T0, &req, &mut inspection);
    recorder.count_inspected(64, false);
    let obs = Observation {
        method: "POST",
        path: "/login?next=%2F",
        status: 200,
        peer: Some("192.0.2.1:5"),
        host: None,
        headers: &auth,
        country: None,
        threats: Some(&inspection),
    };
    assert!(recorder.record(T0, &obs));
    // A 200 without findings is not recorded: no counting rule, no enumeration.
    let plain = Observation {
        threats: None,
        ..obs
    };
    assert!(!recorder.record(T0, &plain));
    let delta = recorder.take_delta().unwrap();
    let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 1);
    engine.set_reorder_window_ms(0);
    let mut detections = engine.apply_delta(T0, &delta).unwrap();
    detections.extend(engine.advance(T0 + 1));
    assert_eq!(detections.len(), 1);
    let orig = &detections[0].event.malicious_payloads_responses[0].orig;
    assert!(orig.contains("password=[redacted]"), "{orig}");
    assert!(!orig.contains("hunter2"), "{orig}");
    let m = engine.metrics();
    assert_eq!(
        (
            m.threat_inspected,
            m.threat_bytes_inspected,
            m.matched,
            m.responses
        ),
        (1, 64, 0, 2)
    );
}

#[test]
fn threat_rule_errors_name_their_key() {
    let errors = |rules: &str| -> Vec<String> {
        let json = format!(
            r#"{{"threat_rules": [{rules}], "webhook": {{"url": "https://siem.example.com/x"}}}}"#
        );
        match Config::from_json_str(&json) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    };
    assert_eq!(errors(r#"{"id": "SQLInjection"}"#), Vec::<String>::new());
    let unknown = errors(r#"{"id": "SQLi"}"#);
    assert!(
        unknown[0].starts_with("threat_rules[0].id: must be one of \"SQLInjection\""),
        "{unknown:?}"
    );
    let key = errors(r#"{"id": "SQLInjection", "distinct": 5}"#);
    assert!(
        key[0].starts_with("threat_rules[0].distinct: unknown key"),
        "{key:?}"
    );
    let part = errors(r#"{"id": "XSS", "parts": ["query", "url"]}"#);
    assert!(
        part[0].starts_with("threat_rules[0].parts[1]: must be one of"),
        "{part:?}"
    );
    let half = errors(r#"{"id": "XSS", "threshold": 5}"#);
    assert!(
        half[0].starts_with("threat_rules[0].window_secs: is required with threshold"),
        "{half:?}"
    );
    let check = errors(r#"{"id": "WeakAuthentication", "checks": ["jwt_alg_none", "md5"]}"#);
    assert!(
        check[0].starts_with("threat_rules[0].checks[1]: must be one of"),
        "{check:?}"
    );
    let twice = errors(r#"{"id": "XSS"}, {"id": "XSS"}"#);
    assert!(
        twice[0].starts_with("threat_rules[1].id: must be unique"),
        "{twice:?}"
    );
    let distinct = errors(r#"{"id": "ParamEnumeration", "distinct": 1}"#);
    assert!(
        distinct[0].starts_with("threat_rules[0].distinct: must be >= 2"),
        "{distinct:?}"
    );
    let allowed = errors(r#"{"id": "XSS", "allowed_hosts": ["a.example"]}"#);
    assert!(
        allowed[0].starts_with("threat_rules[0].allowed_hosts: unknown key"),
        "{allowed:?}"
    );
    let host =
        errors(r#"{"id": "OpenRedirect", "allowed_hosts": ["a.example", "https://b.example/"]}"#);
    assert!(
        host[0].starts_with("threat_rules[0].allowed_hosts[1]: must be a host name"),
        "{host:?}"
    );
}

/// With `allowed_hosts`, a plain redirect to any other site is a hit; listed hosts and the
/// site itself are not.
#[test]
fn open_redirects_with_the_sites_allowed_hosts() {
    let cfg = config(r#"{"id": "OpenRedirect", "allowed_hosts": [".partner.example"]}"#);
    let inspector = Inspector::new(Arc::clone(&cfg));
    let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 7);
    let mut at = T0;
    let mut events = |path: &str, peer: &str| {
        at += 1;
        let host = [("host", "api.example.com")];
        request(&mut engine, &inspector, at, peer, path, &host, 302).len()
    };
    assert_eq!(
        events(
            "/login?next=https%3A%2F%2Fevil.example%2F",
            "198.51.100.1:9"
        ),
        1
    );
    assert_eq!(
        events(
            "/login?next=https%3A%2F%2Fsso.partner.example%2Fcb",
            "198.51.100.2:9"
        ),
        0
    );
    assert_eq!(
        events(
            "/login?next=https%3A%2F%2Fwww.example.com%2Fa",
            "198.51.100.3:9"
        ),
        0
    );
    assert_eq!(events("/login?next=%2Faccount", "198.51.100.4:9"), 0);
    // Without the setting, the plain URL is not enough.
    let plain = config(r#"{"id": "OpenRedirect"}"#);
    let inspector = Inspector::new(Arc::clone(&plain));
    let mut engine = Engine::with_shared_config(Arc::clone(&plain), 7);
    let path = "/login?next=https%3A%2F%2Fevil.example%2F";
    assert!(request(
        &mut engine,
        &inspector,
        T0,
        "198.51.100.1:9",
        path,
        &[],
        302
    )
    .is_empty());
    let path = "/login?next=%2F%5Cevil.example%2F";
    assert_eq!(
        request(
            &mut engine,
            &inspector,
            T0 + 1,
            "198.51.100.1:9",
            path,
            &[],
            302
        )
        .len(),
        1
    );
}

/// Envoy's aggregator merges deltas through a reorder window; the Worker and the tests above
/// without one. A record kept only for its findings (a status no counting rule matches) is not
/// `matched` either way: every counter is the same on both paths.
#[test]
fn a_delta_counts_the_same_with_and_without_a_reorder_window() {
    let cfg = config(r#"{"id": "WeakAuthentication"}"#);
    let inspector = Inspector::new(Arc::clone(&cfg));
    let mut recorder = Recorder::new(Arc::clone(&cfg));
    let auth = [("authorization", ALG_NONE_JWT)];
    let mut inspection = Inspection::default();
    let req = actorwatch_core::inspect::Request {
        method: "GET",
        path: "/a",
        headers: &auth,
        body: b"",
    };
    inspector.inspect(T0, &req, &mut inspection);
    for status in [200, 404] {
        let obs = Observation {
            method: "GET",
            path: "/a",
            status,
            peer: Some("192.0.2.1:5"),
            host: None,
            headers: &auth,
            country: None,
            threats: Some(&inspection),
        };
        assert!(recorder.record(T0, &obs));
    }
    let delta = recorder.take_delta().unwrap();
    let counters = |window_ms: u64| {
        let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 1);
        engine.set_reorder_window_ms(window_ms);
        engine.apply_delta(T0, &delta).unwrap();
        engine.advance(T0 + 1_000);
        engine
            .metrics()
            .fields()
            .iter()
            .filter(|f| f.kind == actorwatch_core::MetricKind::Counter)
            .map(|f| (f.name, f.value))
            .collect::<Vec<_>>()
    };
    let direct = counters(0);
    let matched = direct
        .iter()
        .find(|(name, _)| *name == "matched")
        .map(|f| f.1);
    // No counting rule here: neither response is matched.
    assert_eq!(matched, Some(0));
    assert_eq!(counters(300), direct);
}

/// An enumeration is a successful exploit when most of its distinct objects were answered 2XX:
/// 3 of 5 is, 2 of 5 is not.
#[test]
fn an_enumeration_answered_mostly_2xx_is_a_successful_exploit() {
    let cfg = config(r#"{"id": "ParamEnumeration", "distinct": 5, "window_secs": 60}"#);
    let inspector = Inspector::new(Arc::clone(&cfg));
    for (read, want) in [(2u64, false), (3, true)] {
        let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 7);
        let mut events = Vec::new();
        for id in 1..=5u64 {
            let status = if id <= read { 200 } else { 403 };
            let path = format!("/orders/{id}");
            events.extend(request(
                &mut engine,
                &inspector,
                T0 + id,
                "198.51.100.1:9",
                &path,
                &[],
                status,
            ));
        }
        assert_eq!(events.len(), 1, "{read} read");
        let e = &events[0].event;
        assert_eq!(e.successful_exploit, Some(want), "{read} of 5 read");
        let statuses = e.response_statuses.clone().unwrap_or_default();
        assert_eq!(statuses.get("2XX").copied(), Some(read));
        assert_eq!(statuses.get("4XX").copied(), Some(5 - read));
        // In the payload under Akto's name.
        let json = serde_json::to_value(e).unwrap();
        assert_eq!(json["successfulExploit"], want);
        assert_eq!(json["responseStatuses"]["2XX"], read);
    }
}

/// A payload match carries the status its request got; without reading the response its
/// success is unknown (no `successfulExploit`).
#[test]
fn a_payload_event_carries_its_response_status() {
    let cfg = config(r#"{"id": "SQLInjection"}"#);
    let inspector = Inspector::new(Arc::clone(&cfg));
    let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 7);
    let flagged = request(
        &mut engine,
        &inspector,
        T0,
        "198.51.100.1:9",
        "/orders?id=1%27%20OR%201%3D1--",
        &[],
        200,
    );
    assert_eq!(flagged.len(), 1);
    let e = &flagged[0].event;
    assert_eq!(e.response_status, Some(200));
    assert_eq!(e.successful_exploit, None);
    assert_eq!(e.response_statuses, None);
}

/// Inspects a request and its response body as a host does (the body read only when the
/// inspector asks for it); returns the engine's detections.
fn exchange(
    engine: &mut Engine,
    inspector: &Inspector,
    now_ms: u64,
    path: &str,
    status: u16,
    response_body: &str,
) -> Vec<Detection> {
    let mut inspection = Inspection::default();
    let headers: [(&str, &str); 0] = [];
    let req = actorwatch_core::inspect::Request {
        method: "GET",
        path,
        headers: &headers,
        body: b"",
    };
    inspector.inspect(now_ms, &req, &mut inspection);
    if inspector.wants_response(status, Some(&inspection)) {
        inspector.inspect_response(status, response_body.as_bytes(), &mut inspection);
    }
    let obs = Observation {
        method: "GET",
        path,
        status,
        peer: Some("198.51.100.7:9"),
        host: Some("api.example.com"),
        headers: &headers,
        country: None,
        threats: Some(&inspection),
    };
    let mut out = Vec::new();
    engine.observe(now_ms, &obs, &mut out);
    out
}

const SQLI: &str = "/orders?id=1%27%20OR%201%3D1--";
const MYSQL_ERROR: &str = "<b>Warning</b>: You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version";

/// With `inspect_response`, a match answered 2XX with the attack's effect is a successful
/// exploit (severity one level up, the evidence in the sample), one answered without it is
/// not, and a 4XX answer is never one; a success gets its own event even within the rule's
/// cooldown.
#[test]
fn a_match_whose_response_shows_its_effect_is_a_successful_exploit() {
    let cfg = config(r#"{"id": "SQLInjection", "inspect_response": true}"#);
    let inspector = Inspector::new(Arc::clone(&cfg));
    assert!(inspector.reads_responses());
    let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 7);
    let clean = exchange(&mut engine, &inspector, T0, SQLI, 200, "{\"orders\":[]}");
    assert_eq!(clean.len(), 1);
    assert_eq!(clean[0].event.successful_exploit, Some(false));
    assert_eq!(clean[0].event.severity.as_deref(), Some("MEDIUM"));
    // Within the rule's cooldown: a refused attempt raises nothing, a successful one does.
    let refused = exchange(&mut engine, &inspector, T0 + 1000, SQLI, 403, MYSQL_ERROR);
    assert!(refused.is_empty(), "{refused:?}");
    let hit = exchange(&mut engine, &inspector, T0 + 2000, SQLI, 200, MYSQL_ERROR);
    assert_eq!(hit.len(), 1, "{hit:?}");
    let e = &hit[0].event;
    assert_eq!(e.successful_exploit, Some(true));
    assert_eq!(e.severity.as_deref(), Some("HIGH"));
    assert_eq!(e.event_type, "SINGLE");
    let sample: serde_json::Value =
        serde_json::from_str(&e.malicious_payloads_responses[0].orig).unwrap();
    assert_eq!(sample["responseEvidence"][0]["leak"], "DATABASE_ERROR");
    // The exploit's own cooldown: a second success within it is suppressed.
    let again = exchange(&mut engine, &inspector, T0 + 3000, SQLI, 200, MYSQL_ERROR);
    assert!(again.is_empty(), "{again:?}");
    // Error-based injection: the database error in a 500 is the effect.
    let mut fresh = Engine::with_shared_config(Arc::clone(&cfg), 8);
    let five = exchange(&mut fresh, &inspector, T0, SQLI, 500, MYSQL_ERROR);
    assert_eq!(five[0].event.successful_exploit, Some(true));
}

/// Without `inspect_response` (the default) nothing reads responses: success stays unknown
/// even when the body shows the effect.
#[test]
fn responses_are_not_read_unless_a_rule_asks() {
    let cfg = config(r#"{"id": "SQLInjection"}"#);
    let inspector = Inspector::new(Arc::clone(&cfg));
    assert!(!inspector.reads_responses());
    let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 7);
    let out = exchange(&mut engine, &inspector, T0, SQLI, 200, MYSQL_ERROR);
    assert_eq!(out[0].event.successful_exploit, None);
    // A benign request's response is not asked for either, even with the rule reading
    // responses: the common request pays nothing.
    let reading = Inspector::new(config(
        r#"{"id": "SQLInjection", "inspect_response": true}"#,
    ));
    assert!(!reading.wants_response(200, Some(&Inspection::default())));
    assert!(!reading.wants_response(200, None));
}

/// `SecurityMisconfig` reads responses of the statuses it is given (5XX by default) and
/// raises an event when one shows a stack trace, naming what it found.
#[test]
fn a_stack_trace_in_an_error_response_is_a_security_misconfiguration() {
    let cfg = config(r#"{"id": "SecurityMisconfig"}"#);
    let inspector = Inspector::new(Arc::clone(&cfg));
    let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 7);
    let trace = "java.lang.IllegalStateException: boom\n\tat com.acme.Orders.find(Orders.java:42)";
    assert!(!inspector.wants_response(404, None));
    assert!(exchange(
        &mut engine,
        &inspector,
        T0,
        "/orders/1",
        500,
        "{\"error\":\"internal\"}"
    )
    .is_empty());
    let out = exchange(&mut engine, &inspector, T0 + 1, "/orders/1", 500, trace);
    assert_eq!(out.len(), 1);
    let e = &out[0].event;
    assert_eq!(e.filter_id, "SecurityMisconfig");
    assert_eq!(e.successful_exploit, None);
    let sample: serde_json::Value =
        serde_json::from_str(&e.malicious_payloads_responses[0].orig).unwrap();
    assert_eq!(sample["threat"]["part"], "response");
    // The first sign in the body: the exception's class name, before its frames.
    assert_eq!(sample["threat"]["name"], "STACK_TRACE");
    assert_eq!(sample["threat"]["excerpt"], "Java exception");
    let statuses = config(r#"{"id": "SecurityMisconfig", "statuses": ["4xx", 500]}"#);
    let inspector = Inspector::new(statuses);
    assert!(inspector.wants_response(404, None));
    assert!(!inspector.wants_response(503, None));
}

#[test]
fn response_rule_errors_name_their_key() {
    let errors = |rules: &str| -> Vec<String> {
        let json = format!(
            r#"{{"threat_rules": [{rules}], "webhook": {{"url": "https://siem.example.com/x"}}}}"#
        );
        match Config::from_json_str(&json) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    };
    let xss = errors(r#"{"id": "XSS", "inspect_response": true}"#);
    assert!(
        xss[0].starts_with("threat_rules[0].inspect_response: is not available for XSS"),
        "{xss:?}"
    );
    let block = errors(r#"{"id": "SecurityMisconfig", "action": "block"}"#);
    assert!(
        block[0].starts_with("threat_rules[0].action: must be \"alert\""),
        "{block:?}"
    );
    let status = errors(r#"{"id": "SecurityMisconfig", "statuses": [700]}"#);
    assert!(
        status[0].starts_with("threat_rules[0].statuses[0]: must be a status"),
        "{status:?}"
    );
    let flag = errors(r#"{"id": "SSRF", "inspect_response": "yes"}"#);
    assert!(
        flag[0].starts_with("threat_rules[0].inspect_response: must be true or false"),
        "{flag:?}"
    );
}
