//! Threat-rule inspection of arbitrary requests: every rule on every part, weak authentication
//! included. It must never panic, and the findings it reports must travel through a record
//! block and back unchanged.
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
}

fn inspector() -> &'static Inspector {
    static INSPECTOR: OnceLock<Inspector> = OnceLock::new();
    INSPECTOR.get_or_init(|| {
        let json = r#"{"rules": [], "threat_rules": [
            {"id": "SQLInjection", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "XSS", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "NoSQLInjection", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "OSCommandInjection", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "WindowsCommandInjection", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "LocalFileInclusionLFIRFI", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "SSRF", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "SSTI", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "XXE", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "JNDIInjection", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "OpenRedirect", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "SensitivePathProbe", "parts": ["path", "query", "headers", "cookies", "body"]},
            {"id": "WeakAuthentication", "checks": ["duplicate_header", "control_characters", "oversized",
              "malformed_bearer", "short_bearer", "basic", "jwt_alg_none", "jwt_hs256", "jwt_expired"]}],
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
    let block = encode(&out);
    let findings = decode(&block).expect("a block written by encode reads back");
    assert_eq!(findings.hits.len(), out.hits.len());
    for (read, hit) in findings.hits.iter().zip(&out.hits) {
        assert_eq!((read.rule, read.part), (hit.rule, hit.part));
    }
});
