//! The filter in a real Envoy: a sample API behind it, webhooks to a real receiver.

mod common;

use actorwatch_core::Config;
use actorwatch_e2e::*;
use common::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[test]
fn threshold_boundary_cooldown_and_the_payload() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 5, "window_secs": 60, "cooldown_secs": 600}"#,
        r#""mode": "instant""#,
        "",
    );
    let envoy = start(&EnvoySetup::new(&cfg, api.port, rx.port));
    if host() == Host::Native {
        // Envoy checks the module's ABI version: a mismatch is only a warning in its log.
        assert!(
            envoy
                .log()
                .contains("Dynamic module ABI version v0.2.0 matched"),
            "{}",
            envoy.log()
        );
    }
    let mut c = envoy.client();
    assert_eq!(c.get("/api/orders"), 200);
    for i in 0..4 {
        assert_eq!(c.get(&format!("/scan/{i}")), 404);
    }
    let fifth_sent = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(c.get("/scan/4"), 404);
    let events =
        wait_for(WAIT, || Some(rx.events()).filter(|e| !e.is_empty())).expect("an event arrives");
    // Had the 4th response flagged, the cooldown would have kept the 5th from raising this one.
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e["actor"].as_str(), e["ip"].as_str(), e["count"].as_u64()),
        (Some("127.0.0.1"), Some("127.0.0.1"), Some(5))
    );
    assert_eq!(
        (
            e["url"].as_str(),
            e["method"].as_str(),
            e["filterId"].as_str()
        ),
        (Some("/scan/4"), Some("GET"), Some("4XX_FILTER"))
    );
    let received = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((fifth_sent..=received).contains(&e["timestamp"].as_i64().unwrap()));

    // The POST: Akto's shape, signed, with a delivery id.
    let post = &rx.accepted()[0];
    assert_akto_shaped_and_signed(post);
    assert!(post
        .header("x-actorwatch-delivery")
        .is_some_and(|d| !d.is_empty()));
    assert_eq!(post.header("content-type"), Some("application/json"));
    // Field by field, the example's JSON types.
    let example: Value = serde_json::from_slice(
        &std::fs::read(repo().join("filter/core/tests/fixtures/akto-webhook-example.json"))
            .unwrap(),
    )
    .unwrap();
    let ours = post.json();
    for (key, value) in example["maliciousEvents"][0].as_object().unwrap() {
        let mine = &ours["maliciousEvents"][0][key];
        let same_type = std::mem::discriminant(value) == std::mem::discriminant(mine);
        assert!(same_type, "{key}: {mine} vs the example's {value}");
    }

    // Cooldown: three more 404s are flagged again but raise no event.
    for i in 5..8 {
        assert_eq!(c.get(&format!("/scan/{i}")), 404);
    }
    wait_for(WAIT, || {
        (envoy.metric("events_suppressed") == 3).then_some(())
    })
    .expect("suppressed responses counted");
    assert_eq!(envoy.metric("events_raised"), 1);
    assert_eq!(rx.events().len(), 1);
}

/// The module `make build` ships went through the post-link step: it exports only the callbacks
/// the filter implements (Envoy enters the VM for no other), and binaryen optimized it.
#[test]
fn the_built_filter_exports_only_the_callbacks_it_implements() {
    let bytes = std::fs::read(filter_wasm()).unwrap();
    let mut exports = HashSet::new();
    let mut custom = HashSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.unwrap() {
            wasmparser::Payload::ExportSection(reader) => {
                for export in reader {
                    exports.insert(export.unwrap().name.to_string());
                }
            }
            wasmparser::Payload::CustomSection(section) => {
                custom.insert(section.name().to_string());
            }
            _ => {}
        }
    }
    assert!(custom.contains("actorwatch-postlink"), "{custom:?}");
    let implemented = [
        "proxy_on_vm_start",
        "proxy_on_configure",
        "proxy_on_tick",
        "proxy_on_http_call_response",
        "proxy_on_context_create",
        "proxy_on_request_headers",
        "proxy_on_request_body",
        "proxy_on_log",
        "proxy_on_delete",
        "proxy_on_memory_allocate",
    ];
    for name in implemented {
        assert!(exports.contains(name), "{name} missing from {exports:?}");
    }
    let callbacks: Vec<&String> = exports
        .iter()
        .filter(|e| e.starts_with("proxy_on_"))
        .collect();
    assert_eq!(callbacks.len(), implemented.len(), "{callbacks:?}");
}

/// The same module as a Wasm access logger behind Envoy's own status filter: responses the
/// filter leaves out never reach the VM, and the threshold boundary holds as with the HTTP filter.
#[test]
fn access_logger_counts_what_envoy_lets_through() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 5, "window_secs": 60, "cooldown_secs": 600}"#,
        r#""mode": "instant""#,
        "",
    );
    let mut setup = EnvoySetup::new(&cfg, api.port, rx.port);
    let status = |op: &str, value: u32, key: &str| {
        serde_json::json!({"status_code_filter": {"comparison": {"op": op,
            "value": {"default_value": value, "runtime_key": key}}}})
    };
    setup.access_logger = Some(serde_json::json!({"and_filter": {"filters": [
        status("GE", 400, "aw.min"), status("LE", 499, "aw.max")]}}));
    let envoy = start(&setup);
    let mut c = envoy.client();
    for _ in 0..3 {
        assert_eq!(c.get("/api/orders"), 200);
    }
    for i in 0..4 {
        assert_eq!(c.get(&format!("/scan/{i}")), 404);
    }
    // Threshold - 1: every 404 is merged, none of the 200s entered the VM, nothing is raised.
    wait_for(WAIT, || (envoy.metric("matched") == 4).then_some(())).expect("the 404s are counted");
    assert_eq!(envoy.metric("responses"), 4);
    assert_eq!(envoy.metric("events_raised"), 0);
    assert_eq!(c.get("/scan/4"), 404);
    let events =
        wait_for(WAIT, || Some(rx.events()).filter(|e| !e.is_empty())).expect("an event arrives");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e["actor"].as_str(), e["count"].as_u64(), e["url"].as_str()),
        (Some("127.0.0.1"), Some(5), Some("/scan/4"))
    );
    assert_eq!(envoy.metric("responses"), 5);
    // Deep in the cooldown (the aggregator lists the actor as quiet), further 404s are counted
    // from their status and source alone: exactly, and without a second event.
    for i in 5..25 {
        assert_eq!(c.get(&format!("/scan/{i}")), 404);
    }
    wait_for(WAIT, || {
        (envoy.metric("events_suppressed") == 20).then_some(())
    })
    .expect("every 404 is counted");
    assert_eq!(envoy.metric("matched"), 25);
    assert_eq!(envoy.metric("events_raised"), 1);
    assert!(api.hits() >= 28, "every request reached the API");
}

/// The symbols `nm -D` lists for `file`: defined ones, or the ones it needs from elsewhere.
fn dynamic_symbols(file: &std::path::Path, defined: bool) -> HashSet<String> {
    let which = if defined {
        "--defined-only"
    } else {
        "--undefined-only"
    };
    let out = std::process::Command::new("nm")
        .args(["-D", which])
        .arg(file)
        .output()
        .expect("nm (binutils) runs");
    assert!(out.status.success(), "nm {}", file.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .collect()
}

/// Envoy resolves the module's callbacks lazily: one this Envoy lacks would abort it at its
/// first call. Every callback the module needs is one Envoy 1.40 exports, and the module exports
/// every hook Envoy requires of an HTTP filter, an access logger and a bootstrap extension.
#[test]
fn the_native_module_binds_only_callbacks_this_envoy_exports() {
    let module = native_module();
    assert!(
        module.exists(),
        "{} is built by make test",
        module.display()
    );
    let envoy_exports = dynamic_symbols(&envoy_bin(), true);
    let needed: Vec<String> = dynamic_symbols(&module, false)
        .into_iter()
        .filter(|s| s.starts_with("envoy_dynamic_module_callback_"))
        .collect();
    assert!(needed.len() >= 20, "{needed:?}");
    let missing: Vec<&String> = needed
        .iter()
        .filter(|s| !envoy_exports.contains(*s))
        .collect();
    assert!(missing.is_empty(), "Envoy does not export {missing:?}");
    let hooks = dynamic_symbols(&module, true);
    let http = [
        "config_new",
        "config_destroy",
        "new",
        "request_headers",
        "request_body",
        "request_trailers",
        "response_headers",
        "response_body",
        "response_trailers",
        "stream_complete",
        "destroy",
        "http_callout_done",
        "http_stream_headers",
        "http_stream_data",
        "http_stream_trailers",
        "http_stream_complete",
        "http_stream_reset",
        "scheduled",
        "downstream_above_write_buffer_high_watermark",
        "downstream_below_write_buffer_low_watermark",
        "config_scheduled",
        "config_http_callout_done",
    ]
    .map(|h| format!("envoy_dynamic_module_on_http_filter_{h}"));
    let logger = [
        "config_new",
        "config_destroy",
        "new",
        "log",
        "destroy",
        "flush",
    ]
    .map(|h| format!("envoy_dynamic_module_on_access_logger_{h}"));
    let bootstrap = [
        "config_new",
        "config_destroy",
        "new",
        "server_initialized",
        "worker_thread_initialized",
        "destroy",
        "drain_started",
        "shutdown",
        "config_scheduled",
        "http_callout_done",
        "timer_fired",
        "file_changed",
        "admin_request",
        "cluster_add_or_update",
        "cluster_removal",
        "listener_add_or_update",
        "listener_removal",
    ]
    .map(|h| format!("envoy_dynamic_module_on_bootstrap_extension_{h}"));
    for hook in http
        .iter()
        .chain(&logger)
        .chain(&bootstrap)
        .map(String::as_str)
        .chain(["envoy_dynamic_module_on_program_init"])
    {
        assert!(hooks.contains(hook), "the module does not export {hook}");
    }
}

/// The native access logger has no timer or callout of its own: it records into the native
/// bootstrap extension, and without one Envoy refuses it, saying what is missing.
#[test]
fn the_native_access_logger_needs_its_bootstrap_extension() {
    native_only!("the Wasm access logger aggregates in its own VMs");
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 5}"#,
        r#""mode": "instant""#,
        "",
    );
    let mut setup = EnvoySetup::new(&cfg, api.port, rx.port);
    setup.access_logger = Some(Value::Null);
    let mut without = bootstrap(&setup);
    without
        .as_object_mut()
        .unwrap()
        .remove("bootstrap_extensions");
    let dir = scratch_dir("envoy-logger-alone");
    let refused = Envoy::start_with(&without, 1, &dir, &[])
        .err()
        .expect("Envoy refuses the logger without the extension");
    assert!(
        refused.log.contains(
            "the actorwatch access logger records into the actorwatch bootstrap extension"
        ),
        "{}",
        refused.log
    );
}

/// 20 actors send exactly `threshold` 404s and 20 send `threshold - 1`, spread over four
/// connections so that Envoy's four workers each see only part of every actor's traffic.
fn exact_counts_across_workers(singleton: bool) {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 10, "window_secs": 600, "cooldown_secs": 600}"#,
        r#""mode": "instant", "batch_size": 100"#,
        XFF_ACTORS,
    );
    let mut setup = EnvoySetup::new(&cfg, api.port, rx.port);
    setup.concurrency = 4;
    setup.singleton = singleton;
    let envoy = start(&setup);
    let listener = envoy.listener;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::new(listener);
                let mut statuses = HashMap::new();
                for round in 0..10 {
                    for actor in 0..40 {
                        // Actor `actor`'s round `round` goes to thread (actor + round) % 4.
                        if (actor + round) % 4 != t || (actor >= 20 && round == 9) {
                            continue;
                        }
                        let s = get_as(
                            &mut c,
                            &format!("/probe/{actor}/{round}"),
                            &format!("198.51.100.{actor}"),
                        );
                        *statuses.entry(s).or_insert(0u64) += 1;
                        let ok = get_as(&mut c, "/api/orders", &format!("198.51.100.{actor}"));
                        *statuses.entry(ok).or_insert(0u64) += 1;
                    }
                }
                statuses
            })
        })
        .collect();
    let mut sent: HashMap<u16, u64> = HashMap::new();
    for t in threads {
        for (s, n) in t.join().unwrap() {
            *sent.entry(s).or_default() += n;
        }
    }
    assert_eq!(sent.get(&404), Some(&(20 * 10 + 20 * 9)));
    let total = sent.values().sum::<u64>();
    let counted = wait_for(WAIT, || {
        let s = envoy.stats();
        let rq_4xx = s.get("http.api.downstream_rq_4xx").copied().unwrap_or(0);
        let matched = s.get(&metric_stat("matched")).copied().unwrap_or(0);
        let responses = s.get(&metric_stat("responses")).copied().unwrap_or(0);
        (rq_4xx == 380 && matched == rq_4xx && responses == total)
            .then_some((rq_4xx, matched, responses))
    });
    let s = envoy.stats();
    assert!(
        counted.is_some(),
        "Envoy 4xx {:?}, actorwatch matched {:?}, responses {:?} of {total}",
        s.get("http.api.downstream_rq_4xx"),
        s.get(&metric_stat("matched")),
        s.get(&metric_stat("responses"))
    );
    // Settled: Envoy delivered 20 events, holds none and has no POST in flight. The receiver
    // stores a POST before it answers, so it now has every POST Envoy sent: an event raised
    // late or a POST sent twice would show below.
    let settled = wait_for(WAIT, || {
        let s = envoy.stats();
        let m = |name: &str| s.get(&metric_stat(name)).copied().unwrap_or(0);
        (m("events_delivered") >= 20
            && m("events_queued") == 0
            && m("deliveries_sent") == m("deliveries_succeeded") + m("deliveries_failed"))
        .then_some(())
    });
    if settled.is_none() {
        let log = envoy.log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("wasm log") || l.contains("[dynamic_modules]"))
            .collect();
        panic!(
            "{} events of 20, {} POSTs; {:?}; log:\n{}",
            rx.events().len(),
            rx.all().len(),
            envoy
                .stats()
                .iter()
                .filter(|(k, _)| k.contains("actorwatch."))
                .collect::<Vec<_>>(),
            lines.join("\n")
        );
    }
    let events = rx.events();
    let actors: HashSet<String> = events
        .iter()
        .map(|e| e["actor"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events.len(), 20, "{actors:?}");
    assert_eq!(
        actors,
        (0..20)
            .map(|a| format!("198.51.100.{a}"))
            .collect::<HashSet<_>>()
    );
    assert_eq!(envoy.metric("events_raised"), 20);
    assert_eq!(envoy.metric("events_delivered"), 20);
    // One POST stream per Envoy: every POST it sent arrived, every delivery id once.
    let ids: Vec<String> = rx
        .all()
        .iter()
        .map(|r| r.header("x-actorwatch-delivery").unwrap().to_string())
        .collect();
    assert_eq!(ids.len() as u64, envoy.metric("deliveries_sent"));
    assert_eq!(ids.len(), ids.iter().collect::<HashSet<_>>().len());
}

#[test]
fn counts_are_exact_across_four_workers_with_the_singleton() {
    exact_counts_across_workers(true);
}

#[test]
fn counts_are_exact_across_four_workers_without_a_singleton() {
    exact_counts_across_workers(false);
}

#[test]
fn periodic_mode_batches_and_instant_mode_is_prompt() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 2, "window_secs": 60}"#,
        r#""mode": "periodic", "run_every_secs": 3, "batch_size": 2"#,
        XFF_ACTORS,
    );
    let envoy = start(&EnvoySetup::new(&cfg, api.port, rx.port));
    let mut c = envoy.client();
    let first = Instant::now();
    flag_actors(&mut c, 3, 2);
    wait_for(WAIT, || (envoy.metric("events_raised") == 3).then_some(())).expect("3 events raised");
    // All three delivered, nothing in flight: the receiver has every POST.
    wait_for(WAIT, || {
        (envoy.metric("events_delivered") == 3
            && envoy.metric("deliveries_sent") == envoy.metric("deliveries_succeeded"))
        .then_some(())
    })
    .expect("3 events delivered");
    let posts = rx.all();
    assert_eq!(posts.len(), 2, "two batches of at most 2");
    let earliest = posts.iter().map(|p| p.at).min().expect("two posts");
    let waited = earliest.duration_since(first);
    assert!(
        waited >= Duration::from_millis(2900),
        "sent after {waited:?}, before run_every_secs"
    );
    // One flush sends both batches at once, so they may reach the receiver in either order.
    let mut sizes: Vec<usize> = posts
        .iter()
        .map(|p| p.json()["maliciousEvents"].as_array().unwrap().len())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![1, 2]);

    // Instant: within a second of the response that crossed the threshold.
    let rx2 = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 2}"#,
        r#""mode": "instant""#,
        "",
    );
    let envoy2 = start(&EnvoySetup::new(&cfg, api.port, rx2.port));
    let mut c = envoy2.client();
    assert_eq!(c.get("/nope/1"), 404);
    assert_eq!(c.get("/nope/2"), 404);
    let crossed = Instant::now();
    let post = wait_for(WAIT, || rx2.accepted().into_iter().next()).expect("instant POST");
    let latency = post.at.duration_since(crossed);
    assert!(
        latency < Duration::from_secs(1),
        "instant delivery took {latency:?}"
    );
}

#[test]
fn block_mode_answers_the_actor_until_block_secs_pass() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 3, "action": "block", "block_secs": 3, "block_status": 429}"#,
        r#""mode": "instant""#,
        XFF_ACTORS,
    );
    let envoy = start(&EnvoySetup::new(&cfg, api.port, rx.port));
    let mut c = envoy.client();
    for _ in 0..3 {
        assert_eq!(get_as(&mut c, "/admin", "203.0.113.66"), 404);
    }
    // Every 429 this test gets, to compare with the filter's count.
    let mut answered_429 = 0;
    let blocked_at = wait_for(WAIT, || {
        let s = get_as(&mut c, "/api/orders", "203.0.113.66");
        answered_429 += u64::from(s == 429);
        (s == 429).then(Instant::now)
    })
    .expect("the actor gets blocked");
    // Others pass.
    assert_eq!(get_as(&mut c, "/api/orders", "203.0.113.67"), 200);
    let (status, body) = c
        .request(
            "GET",
            "/api/orders",
            &[("x-forwarded-for", "203.0.113.66")],
            b"",
        )
        .unwrap();
    assert_eq!(status, 429);
    answered_429 += 1;
    assert!(String::from_utf8_lossy(&body).contains("retry_after_secs"));
    let released = wait_for(WAIT, || {
        let s = get_as(&mut c, "/api/orders", "203.0.113.66");
        answered_429 += u64::from(s == 429);
        (s == 200).then(Instant::now)
    })
    .expect("the block expires");
    let held = released.duration_since(blocked_at);
    assert!(
        held >= Duration::from_millis(1500) && held <= Duration::from_secs(5),
        "blocked for {held:?}"
    );
    wait_for(WAIT, || {
        (envoy.metric("blocked_requests") == answered_429).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "{} blocked requests counted, {answered_429} answered 429",
            envoy.metric("blocked_requests")
        )
    });
}

#[test]
fn ipv6_clients_and_forwarded_chains() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    // An IPv6 listener: the client is ::1, counted as its /64.
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 3}"#,
        r#""mode": "instant""#,
        "",
    );
    let mut setup = EnvoySetup::new(&cfg, api.port, rx.port);
    setup.listen = "::1".into();
    let envoy = start(&setup);
    assert!(envoy.listener.is_ipv6());
    let mut c = envoy.client();
    for i in 0..3 {
        assert_eq!(c.get(&format!("/v6/{i}")), 404);
    }
    let events =
        wait_for(WAIT, || Some(rx.events()).filter(|e| !e.is_empty())).expect("an IPv6 event");
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0]["actor"].as_str(), events[0]["ip"].as_str()),
        (Some("::/64"), Some("::1"))
    );

    // X-Forwarded-For with one trusted hop: the client rotates a forged leftmost entry; the
    // entry our load balancer wrote (second from the right) is the actor.
    let rx2 = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 3}"#,
        r#""mode": "instant""#,
        r#""actor": {"sources": ["xff", "peer"], "xff_trusted_hops": 1},"#,
    );
    let envoy2 = start(&EnvoySetup::new(&cfg, api.port, rx2.port));
    let mut c = envoy2.client();
    for i in 0..3 {
        let chain = format!("6.6.6.{i}, 203.0.113.7, 10.0.0.1");
        assert_eq!(
            c.request("GET", "/x", &[("x-forwarded-for", &chain)], b"")
                .unwrap()
                .0,
            404
        );
    }
    let events =
        wait_for(WAIT, || Some(rx2.events()).filter(|e| !e.is_empty())).expect("an XFF event");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"].as_str(), Some("203.0.113.7"));
}

#[test]
fn a_bad_config_stops_envoy_with_the_key_path_in_its_log() {
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 0}"#,
        r#""mode": "instant""#,
        "",
    );
    let err = Envoy::start(&EnvoySetup::new(&cfg, 9, 9))
        .err()
        .expect("Envoy refuses the config");
    assert!(
        err.log.contains("rules[0].threshold: must be >= 1, got 0"),
        "{}",
        err.log
    );
}

#[test]
fn shipped_configs_pass_envoy_validate_and_actorwatch_validate() {
    for file in [
        "envoy/envoy.yaml",
        "envoy/envoy-fleet.yaml",
        "envoy/envoy-access-log.yaml",
        "envoy/envoy-native.yaml",
        "envoy/envoy-native-access-log.yaml",
    ] {
        let shipped = repo().join(file);
        if let Err(log) = envoy_validate(&shipped, &ENV_SECRETS) {
            panic!("envoy --mode validate {}:\n{log}", shipped.display());
        }
        // Without the variables the filter refuses the shipped configuration and names each one.
        let log = envoy_validate(&shipped, &[]).expect_err("the secrets come from the environment");
        let text = std::fs::read_to_string(&shipped).unwrap();
        for (name, _) in ENV_SECRETS.iter().filter(|(name, _)| text.contains(name)) {
            assert!(
                log.contains(&format!("environment variable {name} is not set")),
                "{log}"
            );
        }
    }
    // Every actorwatch configuration embedded in the shipped YAML (Envoy and Istio) validates,
    // with its secrets read from the environment (an inline value would differ from it).
    let env = |name: &str| {
        ENV_SECRETS
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    for file in [
        "envoy/envoy.yaml",
        "envoy/envoy-fleet.yaml",
        "envoy/envoy-access-log.yaml",
        "envoy/envoy-native.yaml",
        "envoy/envoy-native-access-log.yaml",
        "envoy/istio/wasmplugin.yaml",
        "envoy/istio/fleet.yaml",
    ] {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        let configs = embedded_configs(&text);
        assert!(!configs.is_empty(), "{file} embeds no actorwatch config");
        for json in configs {
            let config = match Config::from_json_with_env(json.as_bytes(), &env) {
                Ok(c) => c,
                Err(e) => panic!("{file}: {e}\n{json}"),
            };
            assert_eq!(
                config.webhook.hmac_secret.as_deref(),
                Some(ENV_SECRETS[0].1),
                "{file}"
            );
            assert!(
                config
                    .webhook
                    .headers
                    .contains(&("authorization".into(), ENV_SECRETS[1].1.into())),
                "{file}"
            );
            // The fleet examples count in Redis and sign their batches; the others count in
            // each proxy.
            assert_eq!(config.fleet.is_redis(), file.contains("fleet"), "{file}");
            if config.fleet.is_redis() {
                assert_eq!(
                    config.fleet.hmac_secret.as_deref(),
                    Some(ENV_SECRETS[2].1),
                    "{file}"
                );
            }
        }
    }
}

/// The JSON documents between `# actorwatch-config-begin` and `# actorwatch-config-end` markers
/// (from the first line that opens a JSON object).
fn embedded_configs(text: &str) -> Vec<String> {
    text.split("# actorwatch-config-begin")
        .skip(1)
        .filter_map(|rest| rest.split("# actorwatch-config-end").next())
        .map(|block| {
            block
                .lines()
                .skip_while(|l| !l.trim_start().starts_with('{'))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// An HS256 JWT over `claims`, signed with `secret` (written here, not by the filter).
fn hs256_token(claims: &str, secret: &str) -> String {
    use hmac::{Hmac, Mac};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let b64 = |bytes: &[u8]| {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    };
    let signed = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(claims.as_bytes())
    );
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    format!("{signed}.{}", b64(&mac.finalize().into_bytes()))
}

#[test]
fn a_verified_jwt_subject_is_the_actor_and_a_forged_one_is_not() {
    let secret = "jwt-secret-0123456789abcdef-0123456789";
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = format!(
        r#"{{"actor": {{"sources": ["jwt:sub", "peer"], "jwt_hs256_secret": "{secret}"}},
            "rules": [{{"id": "4XX_FILTER", "threshold": 3, "window_secs": 60}}],
            "webhook": {{"url": "http://webhook.test/akto", "hmac_secret": "{SECRET}", "mode": "instant"}}}}"#
    );
    let envoy = start(&EnvoySetup::new(&cfg, api.port, rx.port));
    let mut c = envoy.client();
    let alice = format!("Bearer {}", hs256_token(r#"{"sub":"alice"}"#, secret));
    let bob = format!("Bearer {}", hs256_token(r#"{"sub":"bob"}"#, secret));
    // Alice's claims under a key the filter does not know: not Alice, the peer.
    let forged = format!(
        "Bearer {}",
        hs256_token(r#"{"sub":"alice"}"#, "another-secret-0123456789abcdef-0123")
    );
    let fail = |c: &mut Client, auth: &str| {
        c.request("GET", "/scan/x", &[("authorization", auth)], b"")
            .map_or(0, |r| r.0)
    };
    // Two failures each for Alice, Bob and the forged token: below the threshold of 3.
    for auth in [&alice, &bob, &forged, &alice, &bob, &forged] {
        assert_eq!(fail(&mut c, auth), 404);
    }
    assert_eq!(envoy.metric("events_raised"), 0);
    assert!(rx.events().is_empty());
    // Alice's third: one event, for her subject, wherever her requests came from.
    assert_eq!(fail(&mut c, &alice), 404);
    let events =
        wait_for(WAIT, || Some(rx.events()).filter(|e| !e.is_empty())).expect("Alice's event");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"], "jwt:sub:alice");
    assert_eq!(events[0]["ip"], "127.0.0.1");
    // The token itself never leaves the filter.
    let posted: String = rx
        .all()
        .iter()
        .map(|p| String::from_utf8_lossy(&p.body).into_owned())
        .collect();
    assert!(!posted.contains(alice.trim_start_matches("Bearer ")));
}
