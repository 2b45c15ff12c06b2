//! The configuration README.md shows is valid, and documents every key the validator knows.
//! README.md documents the full build (its examples use threat rules and fleet mode).
#![cfg(all(feature = "inspect", feature = "fleet"))]

use actorwatch_core::Config;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const README: &str = include_str!("../../../README.md");

fn json_blocks() -> Vec<&'static str> {
    README
        .split("```json\n")
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        .collect()
}

#[test]
fn readme_config_example_is_valid() {
    let blocks = json_blocks();
    assert!(!blocks.is_empty());
    // The examples name their secrets ({"env": "NAME"}): give every name a value of its kind.
    let env = |name: &str| {
        Some(if name.ends_with("_URL") {
            "https://hooks.example.com/services/T0/B0/x".to_string()
        } else {
            "example-secret-0123456789".to_string()
        })
    };
    for block in blocks {
        if let Err(e) = Config::from_json_with_env(block.as_bytes(), &env) {
            panic!("README example does not validate: {e}\n{block}");
        }
    }
}

#[test]
fn readme_documents_every_key() {
    // Unknown keys are reported with the list of known ones: collect them per object.
    let probes = [
        r#"{"zz": 1, "webhook": {"url": "http://h/"}}"#,
        r#"{"actor": {"zz": 1}, "webhook": {"url": "http://h/"}}"#,
        r#"{"rules": [{"id": "a", "zz": 1}], "webhook": {"url": "http://h/"}}"#,
        r#"{"webhook": {"url": "http://h/", "zz": 1}}"#,
        r#"{"threat_rules": [{"id": "XSS", "zz": 1}], "webhook": {"url": "http://h/"}}"#,
        r#"{"threat_rules": [{"id": "WeakAuthentication", "zz": 1}], "webhook": {"url": "http://h/"}}"#,
        r#"{"threat_rules": [{"id": "ParamEnumeration", "zz": 1}], "webhook": {"url": "http://h/"}}"#,
        r#"{"fleet": {"zz": 1}, "webhook": {"url": "http://h/"}}"#,
    ];
    for probe in probes {
        let errors = Config::from_json_str(probe).unwrap_err().to_string();
        let known = errors
            .split("known keys: ")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .unwrap_or_else(|| panic!("no key list in {errors}"));
        for key in known.split(", ") {
            let row = format!("| `{key}` |");
            let section = format!("### `{key}`");
            assert!(
                README.contains(&row) || README.contains(&section),
                "README.md documents no `{key}`"
            );
        }
    }
}
