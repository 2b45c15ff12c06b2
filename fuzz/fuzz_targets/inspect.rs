//! Threat-rule inspection of arbitrary requests and their responses: every rule on every part,
//! weak authentication included, every rule that can read responses reading them, and
//! SecurityMisconfig on every status. It must never panic, and the findings it reports must
//! travel through a record block and back unchanged.
#![no_main]

use actorwatch_core::inspect::Request;
use actorwatch_core::internals::{decode, encode};
use actorwatch_core::Config;
use actorwatch_core::Inspection;
use actorwatch_core::Inspector;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

#[derive(arbitrary::Arbitrary, Debug)]
struct Input {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    now_secs: u32,
    status: u16,
    response: Vec<u8>,
}

fn inspector() -> &'static Inspector {
    static INSPECTOR: OnceLock<Inspector> = OnceLock::new();
    INSPECTOR.get_or_init(|| {
        let json = r#"{"rules": [], "threat_rules": [
            {"id": "SQLInjection", "parts": ["path", "query", "headers", "cookies", "body"], "inspect_response": true},
            {"id": "XSS", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "NoSQLInjection", "parts": ["path", "query", "headers", "cookies", "body"], "inspect_response": true},
            {"id": "OSCommandInjection", "parts": ["path", "query", "headers", "cookies", "body"], "inspect_response": true},
            {"id": "WindowsCommandInjection", "parts": ["path", "query", "headers", "cookies", "body"], "inspect_response": true},
            {"id": "LocalFileInclusionLFIRFI", "parts": ["path", "query", "headers", "cookies", "body"], "inspect_response": true},
            {"id": "SSRF", "parts": ["path", "query", "headers", "cookies", "body"], "inspect_response": true},
            {"id": "SSTI", "parts": ["path", "query", "headers", "cookies", "body"], "inspect_response": true},
            {"id": "XXE", "parts": ["path", "query", "headers", "cookies", "body"], "inspect_response": true},
            {"id": "JNDIInjection", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "OpenRedirect", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "SensitivePathProbe", "parts": ["path", "query", "headers", "cookies", "body"], "inspect_response": true},
            {"id": "WeakAuthentication", "checks": ["duplicate_header", "control_characters", "oversized",
              "malformed_bearer", "short_bearer", "basic", "jwt_alg_none", "jwt_hs256", "jwt_expired"]},
            {"id": "SecurityMisconfig", "statuses": ["100-599"]}],
            "response_body_max_bytes": 65536,
            "webhook": {"url": "http://127.0.0.1:9/hook"}}"#;
        Inspector::new(Arc::new(Config::from_json_str(json).expect("fuzz config")))
    })
}

fuzz_target!(|input: Input| {
    let req = Request {
        method: &input.method,
        path: &input.path,
        headers: &input.headers,
        body: &input.body,
    };
    let mut out = Inspection::default();
    inspector().inspect(u64::from(input.now_secs) * 1000, &req, &mut out);
    if inspector().wants_response(input.status, Some(&out)) {
        inspector().inspect_response(input.status, &input.response, &mut out);
        // An empty body shows nothing and leaves the outcome unknown.
        assert_eq!(out.response_inspected, !input.response.is_empty());
    }
    let block = encode(&out);
    let findings = decode(&block).expect("a block written by encode reads back");
    assert_eq!(findings.hits.len(), out.hits.len());
    assert_eq!(findings.evidence.is_some(), out.response_inspected);
    assert_eq!(findings.leaks(), out.leaks());
    for (read, hit) in findings.hits.iter().zip(&out.hits) {
        assert_eq!((read.rule, read.part), (hit.rule, hit.part));
    }
});
