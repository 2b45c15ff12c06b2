//! Attacks and their benign twins (`fixtures/twins.tsv`): each attack raises its class, each
//! twin raises nothing. Runs natively and as wasm, so the vocabularies load in both.
#![cfg(feature = "inspect")]
use actorwatch_core::inspect::{inspect, Request, Scope};
use std::collections::BTreeMap;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const TWINS: &str = include_str!("fixtures/twins.tsv");

#[test]
fn attacks_raise_their_class_and_twins_raise_nothing() {
    let mut wrong = Vec::new();
    let mut lines = 0;
    for line in TWINS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.splitn(4, '\t').collect();
        let [class, place, expect, text] = cols[..] else {
            panic!("bad line: {line:?}");
        };
        lines += 1;
        // The fixture writes a JSON string's `\n` as two characters; JSON bodies decode it.
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        headers.insert("host".into(), "shop.example.com".into());
        let (path, body) = match place {
            "query" => (format!("/search?q={}", encode(text)), String::new()),
            "ua" => {
                headers.insert("user-agent".into(), text.into());
                ("/search?q=shoes".into(), String::new())
            }
            "json" => {
                headers.insert("content-type".into(), "application/json".into());
                ("/api/posts".into(), format!("{{\"text\":\"{text}\"}}"))
            }
            other => panic!("unknown placement {other}"),
        };
        let req = Request {
            method: if body.is_empty() { "GET" } else { "POST" },
            path: &path,
            headers: &headers,
            body: body.as_bytes(),
        };
        let mut hits = Vec::new();
        inspect(&req, &Scope::defaults(), &mut hits);
        let raised: Vec<&str> = hits.iter().map(|h| h.attack.filter_id()).collect();
        let ok = match expect {
            "attack" => raised.contains(&class),
            "benign" => raised.is_empty(),
            other => panic!("unknown expectation {other}"),
        };
        if !ok {
            wrong.push(format!(
                "{class} {place} {expect} {text:?}: raised {raised:?}"
            ));
        }
    }
    assert!(lines > 50, "{lines} lines");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Percent-encodes all but unreserved bytes, so the text arrives as written.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
