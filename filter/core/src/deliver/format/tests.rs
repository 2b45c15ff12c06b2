use super::*;
use crate::model::payload::{SamplePayload, WebhookPayload};
use serde_json::Value;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn config(sinks: &str) -> Config {
    Config::from_json_str(&format!(
        r#"{{"rules": [{{"id": "4XX_FILTER", "statuses": ["400-499"], "threshold": 5, "window_secs": 60}}],
            "threat_rules": [{{"id": "SQLInjection"}}, {{"id": "OSCommandInjection"}}],
            "webhook": {{"url": "http://siem.test/akto"}},
            "sinks": {sinks}}}"#
    ))
    .unwrap()
}

fn event(filter_id: &str, event_type: &str, url: &str) -> Box<MaliciousEvent> {
    Box::new(MaliciousEvent {
        actor: "203.0.113.9".into(),
        api_collection_id: 0,
        country: "".into(),
        event_type: event_type.into(),
        filter_id: filter_id.into(),
        ip: "203.0.113.9".into(),
        method: "GET".into(),
        sub_category: "SQL_INJECTION".into(),
        timestamp: 1_747_162_308,
        kind: "Rule-Based".into(),
        url: url.into(),
        malicious_payloads_responses: vec![SamplePayload {
            orig: "{}".into(),
            ts: 1_747_162_308,
        }],
        severity: Some("HIGH".into()),
        category: None,
        host: Some("api.example.com".into()),
        ref_id: Some("ref-1".into()),
        count: Some(5),
        response_status: Some(200),
        response_statuses: None,
        successful_exploit: Some(false),
    })
}

/// The body `sink` of `cfg` writes for `events` of filter `rule`, as JSON.
fn written(cfg: &Config, sink: usize, rule: usize, events: &[Box<MaliciousEvent>]) -> Vec<u8> {
    let events: VecDeque<Box<MaliciousEvent>> = events.iter().cloned().collect();
    body(cfg, cfg.sink(sink).unwrap(), rule, &events)
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn akto_is_its_payload_byte_for_byte_and_taxonomy_only_when_asked() {
    let cfg = config("[]");
    let events = [event("SQLInjection", "SINGLE", "/api/orders")];
    let (_, overview, remediation) = cfg.filter(1).unwrap();
    let expected = serde_json::to_vec(&WebhookPayload {
        malicious_events: events.iter().map(|e| (**e).clone()).collect(),
        overview: overview.clone(),
        remediation: remediation.clone(),
    })
    .unwrap();
    assert_eq!(written(&cfg, 0, 1, &events), expected);

    let with = Config::from_json_str(
        r#"{"rules": [], "threat_rules": [{"id": "SQLInjection"}],
            "webhook": {"url": "http://siem.test/akto", "taxonomy": true}}"#,
    )
    .unwrap();
    let doc = json(&written(&with, 0, 0, &events));
    let e = &doc["maliciousEvents"][0];
    assert_eq!(e["mitreAttackTechniques"], serde_json::json!(["T1190"]));
    assert_eq!(e["owaspApiCategories"], serde_json::json!(["API8:2023"]));
    // Akto's fields are all there, unchanged.
    let plain = json(&expected);
    for (key, value) in plain["maliciousEvents"][0].as_object().unwrap() {
        assert_eq!(&e[key], value, "{key}");
    }
    assert_eq!(
        crate::model::payload::shape_errors(&doc),
        Vec::<String>::new()
    );
}

#[test]
fn splunk_hec_writes_one_envelope_per_event_concatenated() {
    let cfg = config(
        r#"[{"format": "splunk_hec", "url": "http://splunk.test:8088/services/collector/event",
             "token": "hec-token-1", "index": "security"}]"#,
    );
    assert!(cfg.sinks[0].headers.contains(&(
        "authorization".to_string(),
        "Splunk hec-token-1".to_string()
    )));
    let events = [
        event("SQLInjection", "SINGLE", "/a"),
        event("SQLInjection", "SINGLE", "/b"),
    ];
    let body = written(&cfg, 1, 1, &events);
    let text = String::from_utf8(body).unwrap();
    let envelopes: Vec<Value> = serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(envelopes.len(), 2);
    assert!(!text.trim_start().starts_with('['), "not a JSON array");
    let first = &envelopes[0];
    assert_eq!(first["time"], 1_747_162_308);
    assert_eq!(first["index"], "security");
    assert_eq!(first["sourcetype"], "actorwatch:event");
    assert_eq!(first["host"], "api.example.com");
    assert_eq!(first["event"]["filterId"], "SQLInjection");
    assert_eq!(first["event"]["mitreAttackTechniques"][0], "T1190");
    assert_eq!(first["fields"]["severity"], "HIGH");
    assert_eq!(envelopes[1]["event"]["url"], "/b");
}

#[test]
fn alertmanager_alerts_are_identified_by_rule_and_actor_and_resolve_later() {
    let cfg = config(
        r#"[{"format": "alertmanager", "url": "http://am.test:9093/api/v2/alerts", "resolve_after_secs": 600}]"#,
    );
    let doc = json(&written(
        &cfg,
        1,
        0,
        &[event("4XX_FILTER", "AGGREGATED", "/x")],
    ));
    let alert = &doc[0];
    assert_eq!(alert["labels"]["alertname"], "ActorwatchEvent");
    assert_eq!(alert["labels"]["rule"], "4XX_FILTER");
    assert_eq!(alert["labels"]["actor"], "203.0.113.9");
    assert_eq!(alert["labels"]["severity"], "high");
    assert_eq!(alert["labels"]["mitre_technique"], "T1595.003");
    assert_eq!(alert["startsAt"], "2025-05-13T18:51:48Z");
    assert_eq!(alert["endsAt"], "2025-05-13T19:01:48Z");
    assert_eq!(alert["annotations"]["count"], "5");
    // Label names as Alertmanager 0.25 takes them.
    for name in alert["labels"].as_object().unwrap().keys() {
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{name}"
        );
    }
}

#[test]
fn pagerduty_sends_one_event_deduplicated_per_rule_and_actor() {
    let cfg = config(
        r#"[{"format": "pagerduty", "url": "https://events.pagerduty.test/v2/enqueue", "routing_key": "R0UT1NGKEY"}]"#,
    );
    assert_eq!(cfg.sinks[0].batch_size, 1);
    let doc = json(&written(
        &cfg,
        1,
        2,
        &[event("OSCommandInjection", "SINGLE", "/run")],
    ));
    assert_eq!(doc["routing_key"], "R0UT1NGKEY");
    assert_eq!(doc["event_action"], "trigger");
    assert_eq!(
        doc["dedup_key"],
        "actorwatch:OSCommandInjection:203.0.113.9"
    );
    assert_eq!(doc["payload"]["severity"], "error");
    assert_eq!(doc["payload"]["timestamp"], "2025-05-13T18:51:48Z");
    assert_eq!(
        doc["payload"]["custom_details"]["mitreAttackTechniques"],
        serde_json::json!(["T1190", "T1059.004"])
    );
    let refused = Config::from_json_str(
        r#"{"rules": [], "threat_rules": [{"id": "XSS"}], "webhook": {"url": "http://a.test/"},
            "sinks": [{"format": "pagerduty", "url": "https://pd.test/v2/enqueue", "routing_key": "k", "batch_size": 2}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("sinks[0].batch_size: must be <= 1"),
        "{refused}"
    );
}

#[test]
fn chat_messages_render_no_markup_from_the_request() {
    let cfg = config(
        r#"[{"format": "slack", "url": "https://hooks.slack.test/services/T0/B0/x"},
            {"format": "teams", "url": "https://teams.test/workflows/1"}]"#,
    );
    let hostile = event(
        "SQLInjection",
        "SINGLE",
        "/<!channel>/[click](https://evil.test)/*bold*",
    );
    for sink in [1, 2] {
        let text =
            String::from_utf8(written(&cfg, sink, 1, std::slice::from_ref(&hostile))).unwrap();
        for markup in ["<!channel>", "[click]", "(https", "*bold*"] {
            assert!(!text.contains(markup), "sink {sink}: {markup} in {text}");
        }
        assert!(text.contains("%3C%21channel%3E"), "{text}");
    }
    let slack = json(&written(&cfg, 1, 1, std::slice::from_ref(&hostile)));
    assert!(slack["blocks"].as_array().unwrap().len() <= 50);
    let teams = json(&written(&cfg, 2, 1, &[hostile]));
    assert_eq!(
        teams["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    // A large batch lists 20 events and counts the rest, within Slack's 50 blocks.
    let many: Vec<Box<MaliciousEvent>> = (0..30)
        .map(|i| event("SQLInjection", "SINGLE", &format!("/{i}")))
        .collect();
    let slack = json(&written(&cfg, 1, 1, &many));
    let blocks = slack["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50);
    assert!(blocks.iter().any(|b| b["text"]["text"] == "and 10 more"));
}

#[test]
fn ocsf_findings_carry_attacks_with_sub_techniques_and_milliseconds() {
    let cfg = config(r#"[{"format": "ocsf", "url": "http://lake.test/ingest"}]"#);
    let doc = json(&written(
        &cfg,
        1,
        2,
        &[event("OSCommandInjection", "SINGLE", "/run")],
    ));
    let finding = &doc[0];
    assert_eq!(finding["class_uid"], 2004);
    assert_eq!(finding["type_uid"], 200_401);
    assert_eq!(finding["time"], 1_747_162_308_000i64);
    assert_eq!(finding["severity_id"], 4);
    assert_eq!(finding["metadata"]["version"], "1.6.0");
    let attacks = finding["finding_info"]["attacks"].as_array().unwrap();
    assert_eq!(attacks[0]["technique"]["uid"], "T1190");
    assert_eq!(attacks[1]["technique"]["uid"], "T1059");
    assert_eq!(attacks[1]["sub_technique"]["uid"], "T1059.004");
    assert_eq!(attacks[1]["sub_technique"]["name"], "Unix Shell");
    assert_eq!(
        finding["finding_info"]["analytic"]["category"],
        "API8:2023 Security Misconfiguration"
    );
    assert_eq!(finding["evidences"][0]["src_endpoint"]["ip"], "203.0.113.9");
    assert_eq!(
        finding["evidences"][0]["http_request"]["http_method"],
        "GET"
    );
}
