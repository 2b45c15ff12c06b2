//! The lean alert-only filter (`make build-lean`: the core without its `inspect`, `fleet` and
//! `handoff` features, opt-level "z", binaryen -Oz) in a real Envoy: a 4XX flood from one actor
//! reaches the receiver as Akto's payload at the threshold and not before, and a configuration
//! that needs what the build lacks stops Envoy with the key, the value and the feature in its
//! log.

mod common;

use actorwatch_core::Config;
use actorwatch_e2e::*;
use common::*;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// The lean build `make build-lean` writes; ACTORWATCH_LEAN_WASM: another build of it.
fn lean_wasm() -> PathBuf {
    std::env::var_os("ACTORWATCH_LEAN_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/wasm32-wasip1/lean/actorwatch_filter.wasm"))
}

fn lean(cfg: &str, upstream_port: u16, webhook_port: u16) -> EnvoySetup {
    let mut setup = EnvoySetup::new(cfg, upstream_port, webhook_port);
    setup.wasm = Some(lean_wasm());
    setup
}

#[test]
fn lean_filter_alerts_on_a_4xx_flood_at_the_threshold_and_not_before() {
    wasm_only!("the lean alert-only filter is a Wasm build");
    // The module went through the post-link step, as `make build`'s does.
    let bytes = std::fs::read(lean_wasm()).expect("make build-lean");
    let mut custom = HashSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let wasmparser::Payload::CustomSection(section) = payload.unwrap() {
            custom.insert(section.name().to_string());
        }
    }
    assert!(custom.contains("actorwatch-postlink"), "{custom:?}");

    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 5, "window_secs": 60, "cooldown_secs": 600}"#,
        r#""mode": "instant""#,
        "",
    );
    let envoy = start(&lean(&cfg, api.port, rx.port));
    let mut c = envoy.client();
    assert_eq!(c.get("/api/orders"), 200);
    for i in 0..4 {
        assert_eq!(c.get(&format!("/scan/{i}")), 404);
    }
    // Threshold - 1: the four 404s merged and counted (none held for reordering), no event.
    wait_for(WAIT, || {
        (envoy.metric("matched") == 4 && envoy.metric("records_held") == 0).then_some(())
    })
    .expect("four 404s counted");
    assert_eq!(envoy.metric("events_raised"), 0);
    assert!(rx.all().is_empty(), "no POST below the threshold");

    let fifth_sent = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(c.get("/scan/4"), 404);
    let events =
        wait_for(WAIT, || Some(rx.events()).filter(|e| !e.is_empty())).expect("an event arrives");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (
            e["actor"].as_str(),
            e["count"].as_u64(),
            e["filterId"].as_str(),
            e["url"].as_str(),
            e["method"].as_str()
        ),
        (
            Some("127.0.0.1"),
            Some(5),
            Some("4XX_FILTER"),
            Some("/scan/4"),
            Some("GET")
        )
    );
    assert!(e["timestamp"].as_i64().unwrap() >= fifth_sent);

    // The POST: Akto's shape, signed.
    let post = &rx.accepted()[0];
    assert_akto_shaped_and_signed(post);
    assert_eq!(envoy.metric("events_raised"), 1);
}

/// What the lean build lacks is refused when Envoy loads the configuration, with the key, the
/// value and the feature in Envoy's log; the full build takes the same configurations.
#[test]
fn lean_filter_refuses_threat_rules_and_fleet_mode_by_name() {
    wasm_only!("the lean alert-only filter is a Wasm build");
    let cases = [
        (
            config(
                r#"{"id": "4XX_FILTER", "threshold": 5}"#,
                r#""mode": "instant""#,
                r#""threat_rules": [{"id": "XSS", "parts": ["query"]}],"#,
            ),
            r#"threat_rules[0].id: this build has no request inspection (feature "inspect"), got "XSS""#,
        ),
        (
            config(
                r#"{"id": "4XX_FILTER", "threshold": 5}"#,
                r#""mode": "instant""#,
                r#""fleet": {"mode": "redis", "url": "http://127.0.0.1:9/v1/batch"},"#,
            ),
            r#"fleet.mode: this build has no fleet mode (feature "fleet"), got "redis""#,
        ),
    ];
    for (cfg, error) in cases {
        assert!(
            Config::from_json_str(&cfg).is_ok(),
            "the full build takes {cfg}"
        );
        let err = Envoy::start(&lean(&cfg, 9, 9))
            .err()
            .expect("Envoy refuses the config");
        assert!(err.log.contains(error), "{error} not in\n{}", err.log);
    }
}
