//! The filter in a real Envoy under attack and under faults: hostile requests, a flood of
//! one-off actors, a misbehaving receiver, a full queue, and secrets that must never leak.

mod common;

use actorwatch_core::signature::verify;
use actorwatch_e2e::*;
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Larger request limits than Envoy's defaults (60 KiB of headers, 100 headers), so that the
/// hostile requests reach the filter instead of being refused by Envoy's codec.
fn large_limits() -> Value {
    json!({
        "max_request_headers_kb": 4096,
        "common_http_protocol_options": {"max_headers_count": 10000},
    })
}

fn status(addr: std::net::SocketAddr, path: &str, headers: &[(&str, &str)]) -> u16 {
    http(addr, "GET", path, headers, b"").map_or(0, |(s, _)| s)
}

fn actors_of(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e["actor"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn hostile_requests_keep_envoy_serving_and_the_filter_counting() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 3}"#,
        r#""mode": "instant""#,
        r#""actor": {"sources": ["xff", "peer"]}, "max_actors": 200,"#,
    );
    // A server that accepts requests and never answers them.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut setup = EnvoySetup::new(&cfg, api.port, rx.port);
    setup.hcm_extra = large_limits();
    setup.hang_port = Some(hang.local_addr().unwrap().port());
    setup.wasm = std::env::var_os("ACTORWATCH_HOSTILE_WASM").map(Into::into);
    let envoy = start(&setup);
    let addr = envoy.listener;
    let rss_before = rss_kib(envoy.pid());
    let mut statuses: HashMap<&str, Vec<u16>> = HashMap::new();
    let serving = |after: &str| {
        assert_eq!(
            status(addr, "/healthz", &[]),
            200,
            "Envoy serves after {after}"
        );
    };

    // A 10,000-entry X-Forwarded-For: the rightmost entry is the client; three flag it.
    let mut chain: Vec<String> = (0..9_999u32)
        .map(|i| format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255))
        .collect();
    chain.push("198.51.100.10".into());
    let chain = chain.join(", ");
    for _ in 0..3 {
        let s = status(addr, "/direct/long-xff", &[("x-forwarded-for", &chain)]);
        statuses.entry("long xff").or_default().push(s);
    }
    serving("a 10,000-entry X-Forwarded-For");

    // A 64 KiB path.
    let path = format!("/direct/{}", "a".repeat(64 * 1024));
    let s = status(addr, &path, &[("x-forwarded-for", "198.51.100.11")]);
    statuses.entry("64 KiB path").or_default().push(s);
    serving("a 64 KiB path");

    // Bytes that are not UTF-8 in a header value and in the path, raw on the wire.
    let raw = b"GET /direct/\xff\xfe%ff HTTP/1.1\r\nhost: api\r\nx-forwarded-for: 198.51.100.12\r\nx-junk: \xc3\x28\xa0\xa1\r\n\r\n";
    let s = raw_request(addr, raw).unwrap_or(0);
    statuses.entry("non-UTF-8 path").or_default().push(s);
    let raw = b"GET /direct/bytes HTTP/1.1\r\nhost: api\r\nx-forwarded-for: 198.51.100.13\r\nx-junk: \xc3\x28\xa0\xa1\xff\r\n\r\n";
    let s = raw_request(addr, raw).unwrap_or(0);
    statuses.entry("non-UTF-8 header").or_default().push(s);
    serving("bytes that are not UTF-8");

    // 5,000 headers.
    let many: Vec<(String, String)> = (0..5_000)
        .map(|i| (format!("x-h-{i}"), format!("v{i}")))
        .collect();
    let mut headers: Vec<(&str, &str)> =
        many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    headers.push(("x-forwarded-for", "198.51.100.14"));
    let s = status(addr, "/direct/many-headers", &headers);
    statuses.entry("5,000 headers").or_default().push(s);
    serving("5,000 headers");

    // Clients that reset their stream before any response exists: the filter must not trap
    // when the response headers are missing at the end of the stream.
    for _ in 0..3 {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        std::io::Write::write_all(
            &mut s,
            b"GET /hang/x HTTP/1.1\r\nhost: api\r\nx-forwarded-for: 198.51.100.15\r\n\r\n",
        )
        .unwrap();
        let (_held, _) = hang.accept().unwrap();
        drop(s);
    }
    serving("clients that reset before a response");

    // An attacker at threshold-1 hides behind 1,000 one-off actors (5 times max_actors), then
    // sends one more 404.
    let mut c = envoy.client();
    for _ in 0..2 {
        assert_eq!(get_as(&mut c, "/direct/probe", "198.51.100.66"), 404);
    }
    for i in 0..1_000u32 {
        let one_off = format!("10.200.{}.{}", i >> 8, i & 255);
        assert_eq!(get_as(&mut c, "/direct/flood", &one_off), 404);
    }
    assert_eq!(get_as(&mut c, "/direct/probe", "198.51.100.66"), 404);
    serving("a flood of one-off actors");

    eprintln!("hostile request statuses: {statuses:?}");
    // With the larger limits every hostile request reaches the route (and the filter); only the
    // path that is not UTF-8 is refused, by Envoy's codec.
    let expected_statuses: HashMap<&str, Vec<u16>> = [
        ("long xff", vec![404; 3]),
        ("64 KiB path", vec![404]),
        ("non-UTF-8 path", vec![400]),
        ("non-UTF-8 header", vec![404]),
        ("5,000 headers", vec![404]),
    ]
    .into_iter()
    .collect();
    assert_eq!(statuses, expected_statuses);
    // Every 4XX was counted: the hostile requests' (Envoy's own 400 for a path it refuses
    // included), and the 1,003 404s of the flood and the attacker.
    let hostile_4xx = statuses
        .values()
        .flatten()
        .filter(|&&s| (400..500).contains(&s))
        .count() as u64;
    let expected = hostile_4xx + 1_003;
    wait_for(WAIT, || (envoy.metric("matched") == expected).then_some(()))
        .unwrap_or_else(|| panic!("matched {} of {expected}", envoy.metric("matched")));
    // The long chain's client and the hidden attacker are both flagged.
    let events = wait_for(WAIT, || {
        let e = rx.events();
        let actors = actors_of(&e);
        (actors.iter().any(|a| a == "198.51.100.10") && actors.iter().any(|a| a == "198.51.100.66"))
            .then_some(e)
    })
    .unwrap_or_else(|| {
        panic!(
            "events for the long chain and the attacker: {:?}",
            actors_of(&rx.events())
        )
    });
    assert!(events
        .iter()
        .all(|e| e["url"].as_str().is_some_and(|u| u.len() <= 2048)));
    // Memory stays within max_actors; the flood was evicted, not the attacker.
    assert!(envoy.metric("actors_tracked") <= 200);
    assert!(envoy.metric("actors_evicted") >= 800);
    let grown_kib = rss_kib(envoy.pid()).saturating_sub(rss_before);
    assert!(grown_kib < 64 * 1024, "Envoy grew by {grown_kib} KiB");
    // The filter never trapped: no VM was reloaded.
    let log = envoy.log();
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(reloads(&envoy), 0, "{}", metrics_of(&envoy));
}

/// Every event once and nothing else in flight: Envoy delivered `events`, holds none, and every
/// attempt it sent has its outcome.
fn settled(envoy: &Envoy, events: u64) -> bool {
    let s = envoy.stats();
    let m = |name: &str| s.get(&metric_stat(name)).copied().unwrap_or(0);
    m("events_delivered") == events
        && m("events_queued") == 0
        && m("deliveries_sent") == m("deliveries_succeeded") + m("deliveries_failed")
}

/// A receiver that refuses connections, then answers 500, answers after the timeout, cuts its
/// response and answers 503: every event arrives exactly once after deduplication, and every
/// attempt of a batch carries its delivery id and its events. Then a batch answered 500 three
/// times: its retries wait as the exponential backoff says, under one delivery id.
#[test]
fn delivery_faults_still_deliver_every_event_exactly_once() {
    let api = SampleApi::start();
    // The receiver is down at first: its port refuses connections.
    let port = free_port();
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 2}"#,
        r#""mode": "instant", "batch_size": 1, "timeout_ms": 1000, "max_retries": 12"#,
        XFF_ACTORS,
    );
    let envoy = start(&EnvoySetup::new(&cfg, api.port, port));
    let mut c = envoy.client();
    flag_actors(&mut c, 4, 2);
    wait_for(WAIT, || {
        (envoy.metric("deliveries_failed") >= 4).then_some(())
    })
    .expect("deliveries fail while the receiver refuses connections");
    // Back, but misbehaving: 500, an answer after the timeout, a response cut halfway, 503; then
    // 200 to the four POSTs those faults cost, and 500 to the next three.
    let mut script = vec![
        Answer::Status(500),
        Answer::OkAfterMs(2_500),
        Answer::CloseMidResponse,
        Answer::Status(503),
    ];
    script.extend([Answer::Ok; 4]);
    script.extend([Answer::Status(500); 3]);
    let rx = ScriptedReceiver::start_on(port, script);
    let done = wait_for(Duration::from_secs(60), || settled(&envoy, 4).then_some(()));
    let events = rx.events_deduplicated();
    assert!(
        done.is_some() && events.len() == 4,
        "every event delivered; {} answers {:?} deduplicated events {}",
        metrics_of(&envoy),
        rx.all().iter().map(|r| r.answered).collect::<Vec<_>>(),
        events.len()
    );
    // Each event once, after deduplication by delivery id, although some POSTs arrived twice.
    let mut ref_ids: Vec<&str> = events.iter().filter_map(|e| e["refId"].as_str()).collect();
    ref_ids.sort_unstable();
    let before = ref_ids.len();
    ref_ids.dedup();
    assert_eq!((before, ref_ids.len()), (4, 4), "{events:?}");
    assert_eq!(
        envoy.metric("deliveries_succeeded"),
        4,
        "one success per batch"
    );
    assert_eq!(envoy.metric("deliveries_abandoned"), 0);
    assert_eq!(envoy.metric("events_dropped"), 0);
    // Each fault cost exactly one more POST: 4 faulty answers and 4 accepted POSTs. One delivery
    // id per batch (batch_size 1): every attempt of a batch, whatever its answer, carries that
    // id and the same event, and every id was finally accepted.
    let all = rx.all();
    assert_eq!(
        all.len(),
        8,
        "{:?}",
        all.iter().map(|r| r.answered).collect::<Vec<_>>()
    );
    let attempts = attempts_by_delivery_id(&all);
    assert_eq!(attempts.len(), 4, "{:?}", attempts.keys());
    for (id, posts) in &attempts {
        assert!(posts.iter().any(|p| p.answered == 200), "{id} accepted");
        let refs: Vec<Vec<Value>> = posts.iter().map(|p| ref_ids_of(p)).collect();
        assert!(
            refs.iter().all(|r| r.len() == 1 && *r == refs[0]),
            "{id}: {refs:?}"
        );
    }

    // One more batch, answered 500 three times: retry n waits between half and all of
    // 2^(n-1) s after the attempt before it failed (plus up to a tick and the POST's own time).
    for _ in 0..2 {
        assert_eq!(get_as(&mut c, "/nope", "203.0.113.9"), 404);
    }
    wait_for(Duration::from_secs(30), || settled(&envoy, 5).then_some(()))
        .unwrap_or_else(|| panic!("the fifth event delivered; {}", metrics_of(&envoy)));
    let later: Vec<Received> = rx.all().into_iter().skip(8).collect();
    let attempts = attempts_by_delivery_id(&later);
    assert_eq!(attempts.len(), 1, "one delivery id: {:?}", attempts.keys());
    let posts = attempts.values().next().unwrap();
    assert_eq!(
        posts.iter().map(|p| p.answered).collect::<Vec<_>>(),
        vec![500, 500, 500, 200]
    );
    assert!(posts.iter().all(|p| ref_ids_of(p) == ref_ids_of(posts[0])));
    for (n, pair) in posts.windows(2).enumerate() {
        let gap = pair[1].at.duration_since(pair[0].at);
        let exp = Duration::from_millis(1_000 << n);
        // Envoy's clock and the test's may differ by a few milliseconds.
        let (low, high) = (
            exp / 2 - Duration::from_millis(20),
            exp + Duration::from_millis(500),
        );
        assert!(
            gap >= low && gap <= high,
            "retry {} after {gap:?}, outside {low:?}..{high:?}",
            n + 1
        );
    }
    assert_eq!(
        envoy.metric("deliveries_retried"),
        envoy.metric("deliveries_failed")
    );
    assert_eq!(envoy.metric("events_dropped"), 0);
}

/// The POSTs of each delivery id, in the order they arrived.
fn attempts_by_delivery_id(posts: &[Received]) -> HashMap<String, Vec<&Received>> {
    let mut by_id: HashMap<String, Vec<&Received>> = HashMap::new();
    for post in posts {
        let id = post.header("x-actorwatch-delivery").expect("a delivery id");
        by_id.entry(id.to_string()).or_default().push(post);
    }
    for posts in by_id.values_mut() {
        posts.sort_by_key(|p| p.at);
    }
    by_id
}

/// The `refId` of every event in a POST.
fn ref_ids_of(post: &Received) -> Vec<Value> {
    post.json()["maliciousEvents"]
        .as_array()
        .map(|events| events.iter().map(|e| e["refId"].clone()).collect())
        .unwrap_or_default()
}

#[test]
fn a_full_queue_drops_exactly_the_overflow_and_reports_it() {
    let api = SampleApi::start();
    let port = free_port();
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 2}"#,
        r#""mode": "instant", "batch_size": 1, "timeout_ms": 1000, "max_retries": 20, "queue_capacity": 3"#,
        XFF_ACTORS,
    );
    let envoy = start(&EnvoySetup::new(&cfg, api.port, port));
    let mut c = envoy.client();
    flag_actors(&mut c, 5, 2);
    wait_for(WAIT, || (envoy.metric("events_raised") == 5).then_some(())).expect("5 events");
    wait_for(WAIT, || (envoy.metric("events_dropped") == 2).then_some(()))
        .unwrap_or_else(|| panic!("2 dropped; {}", metrics_of(&envoy)));
    let rx = ScriptedReceiver::start_on(port, Vec::new());
    // The receiver stores a POST before it answers: once Envoy counts 3 delivered, all 3 are in.
    let events = wait_for(Duration::from_secs(60), || {
        (envoy.metric("events_delivered") == 3).then(|| rx.events_deduplicated())
    })
    .unwrap_or_else(|| panic!("3 delivered; metrics {:?}", envoy.stats()));
    assert_eq!(events.len(), 3);
    assert_eq!(envoy.metric("events_dropped"), 2, "exactly the overflow");
    assert_eq!(envoy.metric("events_queued"), 0);
}

#[test]
fn secrets_never_reach_logs_or_payloads() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let token = "siem-token-8f3a0c1e2b";
    let api_key = "ak_live_5b7e9d1f3a2c4e6b";
    let password_cookie = "session=s3ss10n-c00k1e-77";
    let bearer = "Bearer eyJhbGciOi.user-bearer-91";
    let cfg = format!(
        r#"{{"actor": {{"sources": ["header:x-api-key", "peer"]}}, "rules": [{{"id": "4XX_FILTER", "threshold": 3}}],
            "samples_per_event": 5,
            "webhook": {{"url": "http://webhook.test/akto", "hmac_secret": "{SECRET}", "mode": "instant",
                        "headers": {{"authorization": "Bearer {token}"}}}}}}"#
    );
    let envoy = start(&EnvoySetup::new(&cfg, api.port, rx.port));
    let mut c = envoy.client();
    for i in 0..4 {
        let (s, _) = c
            .request(
                "POST",
                &format!("/login?attempt={i}"),
                &[
                    ("x-api-key", api_key),
                    ("authorization", bearer),
                    ("cookie", password_cookie),
                    ("x-tenant", "acme"),
                ],
                b"{\"user\": \"a\", \"password\": \"guess\"}",
            )
            .expect("request");
        assert_eq!(s, 401);
    }
    let events = wait_for(WAIT, || Some(rx.events()).filter(|e| !e.is_empty())).expect("an event");
    assert!(events[0]["actor"]
        .as_str()
        .is_some_and(|a| a.starts_with("x-api-key:sha256:")));
    // The receiver gets the SIEM token in its request headers, as configured, and nothing else.
    let posts = rx.all();
    let expected = format!("Bearer {token}");
    assert!(posts
        .iter()
        .all(|p| p.header("authorization") == Some(expected.as_str())));
    // A config push with secrets in invalid values: the errors must not echo them.
    let bad = format!(
        r#"{{"webhook": {{"url": "https://user:{token}@hooks.example.com/{token}", "hmac_secret": "sh0rt-x",
                        "headers": {{"authorization": "Bearer {token}\n"}}}}}}"#
    );
    let refused = Envoy::start(&EnvoySetup::new(&bad, api.port, rx.port))
        .err()
        .expect("Envoy refuses the invalid config");
    assert!(
        refused.log.contains("webhook.headers.authorization"),
        "{}",
        refused.log
    );

    let mut haystacks: Vec<(String, String)> = vec![
        ("Envoy log".into(), envoy.log()),
        ("Envoy log of the refused config".into(), refused.log),
        ("stats".into(), format!("{:?}", envoy.stats())),
    ];
    for (i, p) in posts.iter().enumerate() {
        haystacks.push((
            format!("payload {i}"),
            String::from_utf8_lossy(&p.body).into_owned(),
        ));
    }
    // Every other Envoy log the suites left in the scratch directory as well.
    for log in scratch_logs() {
        haystacks.push((
            log.display().to_string(),
            std::fs::read_to_string(&log).unwrap_or_default(),
        ));
    }
    let secrets = [
        SECRET,
        token,
        api_key,
        "s3ss10n-c00k1e-77",
        "user-bearer-91",
        "sh0rt-x",
        ENV_SECRETS[0].1,
        ENV_SECRETS[1].1,
    ];
    assert_no_secret_in(&haystacks, &secrets);
}

/// The configuration of the shipped setups: the HMAC secret and the SIEM's token named, not
/// written.
const FROM_ENV: &str = r#"{"rules": [{"id": "4XX_FILTER", "threshold": 3}],
    "webhook": {"url": "http://webhook.test/akto", "mode": "instant",
                "hmac_secret": {"env": "ACTORWATCH_HMAC_SECRET"},
                "headers": {"authorization": {"env": "ACTORWATCH_WEBHOOK_AUTHORIZATION"}}}}"#;

#[test]
fn secrets_from_the_environment_sign_and_authorize_and_stay_out_of_the_config_dump() {
    let (hmac_secret, token) = (ENV_SECRETS[0].1, ENV_SECRETS[1].1);
    // With the singleton aggregating (plain Envoy), and without (Istio: a worker VM sends).
    for singleton in [true, false] {
        let api = SampleApi::start();
        let rx = Receiver::start(0);
        let mut setup = EnvoySetup::new(FROM_ENV, api.port, rx.port);
        setup.singleton = singleton;
        setup.env = env_secrets();
        let envoy = start(&setup);
        let mut c = envoy.client();
        for i in 0..3 {
            assert_eq!(c.get(&format!("/scan/{i}")), 404);
        }
        let posts = wait_for(WAIT, || Some(rx.accepted()).filter(|p| !p.is_empty()))
            .unwrap_or_else(|| panic!("a POST (singleton: {singleton}); log:\n{}", envoy.log()));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        for post in &posts {
            let signature = post.header("x-actorwatch-signature").expect("signed");
            assert_eq!(
                verify(hmac_secret.as_bytes(), signature, &post.body, now, 60),
                Ok(()),
                "signed with the secret from the environment (singleton: {singleton})"
            );
            assert_eq!(post.header("authorization"), Some(token));
        }
        // The dump holds the plugin configuration and the variables' names, not their values.
        let mut haystacks = config_dumps(&envoy);
        for (path, dump) in &haystacks {
            for name in ["ACTORWATCH_HMAC_SECRET", "ACTORWATCH_WEBHOOK_AUTHORIZATION"] {
                assert!(
                    dump.contains(&format!(r#"\"env\": \"{name}\""#)),
                    "{path} shows the configuration naming {name}"
                );
            }
            // The Wasm VMs are given the variables by name; the native module reads Envoy's.
            if host() == Host::Wasm {
                assert!(dump.contains("host_env_keys"), "{path}");
            }
        }
        haystacks.push(("Envoy log".into(), envoy.log()));
        haystacks.push(("stats".into(), format!("{:?}", envoy.stats())));
        for (i, p) in posts.iter().enumerate() {
            let body = String::from_utf8_lossy(&p.body).into_owned();
            haystacks.push((format!("payload {i}"), body));
        }
        assert_no_secret_in(&haystacks, &[hmac_secret, "env-siem-t0ken-4b8a"]);
    }
}

#[test]
fn a_vm_without_the_variables_refuses_its_configuration_and_names_them() {
    wasm_only!("Wasm VMs see only the variables their vm_config passes; the native module reads Envoy's own environment");
    // Envoy has the variables, but the singleton's vm_config does not pass them: its VM sees
    // none, and Envoy refuses to start. Each VM needs the list in its own vm_config.
    let api = SampleApi::start();
    let mut setup = EnvoySetup::new(FROM_ENV, api.port, 9);
    setup.env = env_secrets();
    let mut bootstrap = bootstrap(&setup);
    let names: Vec<&str> = ENV_SECRETS.iter().map(|(name, _)| *name).collect();
    let keys = json!({ "host_env_keys": names });
    let filter_vm = "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters/0/typed_config/config/vm_config";
    let singleton_vm = "/bootstrap_extensions/0/typed_config/config/vm_config";
    for vm in [filter_vm, singleton_vm] {
        assert_eq!(
            bootstrap.pointer(&format!("{vm}/environment_variables")),
            Some(&keys),
            "{vm}"
        );
    }
    bootstrap
        .pointer_mut(singleton_vm)
        .and_then(Value::as_object_mut)
        .and_then(|vm| vm.remove("environment_variables"))
        .expect("the singleton's variables");
    let dir = scratch_dir("envoy-no-env");
    let refused = Envoy::start_with(&bootstrap, 2, &dir, &setup.env)
        .err()
        .expect("Envoy refuses a singleton without its variables");
    assert!(
        refused.log.contains(
            "wasm log actorwatch_singleton actorwatch: invalid configuration: \
             webhook.headers.authorization: environment variable ACTORWATCH_WEBHOOK_AUTHORIZATION is not set; \
             webhook.hmac_secret: environment variable ACTORWATCH_HMAC_SECRET is not set"
        ),
        "{}",
        refused.log
    );
    assert_no_secret_in(
        &[("Envoy log".into(), refused.log)],
        &[ENV_SECRETS[0].1, ENV_SECRETS[1].1],
    );
}

#[test]
fn the_shipped_envoy_yaml_keeps_its_secrets_out_of_the_config_dump() {
    // envoy/envoy.yaml as shipped, on ephemeral ports: both its VMs (the singleton's and the
    // filter's) must read the variables, or Envoy would not start. With the native module,
    // envoy/envoy-native.yaml: the module reads them from Envoy's environment.
    let (file, aggregator) = match host() {
        Host::Wasm => ("envoy/envoy.yaml", "actorwatch_singleton"),
        Host::Native => ("envoy/envoy-native.yaml", "DynamicModuleFilter"),
    };
    let text = std::fs::read_to_string(repo().join(file)).unwrap();
    let ephemeral = text
        .replace("port_value: 9901", "port_value: 0")
        .replace("port_value: 10000", "port_value: 0");
    assert_eq!(ephemeral.matches("port_value: 0").count(), 2);
    let dir = scratch_dir("envoy-shipped");
    let path = dir.join("envoy.yaml");
    std::fs::write(&path, ephemeral).unwrap();
    let envoy = match Envoy::start_with_file(&path, 2, &dir, &env_secrets()) {
        Ok(e) => e,
        Err(e) => panic!("the shipped {file} did not start:\n{}", e.log),
    };
    let mut haystacks = config_dumps(&envoy);
    for (path, dump) in &haystacks {
        assert!(
            dump.contains(aggregator) && dump.contains("ACTORWATCH_HMAC_SECRET"),
            "{path} shows {aggregator} and the variables' names"
        );
    }
    haystacks.push(("Envoy log".into(), envoy.log()));
    assert_no_secret_in(&haystacks, &[ENV_SECRETS[0].1, ENV_SECRETS[1].1]);
}

/// The filter's metrics and Envoy's Wasm VM counters, for failure messages.
fn metrics_of(envoy: &Envoy) -> String {
    let mut m: Vec<(String, u64)> = envoy
        .stats()
        .into_iter()
        .filter(|(k, _)| k.starts_with("wasm") || k.starts_with("actorwatch."))
        .collect();
    m.sort();
    format!("{m:?}")
}

/// Sum of Envoy's Wasm VM reload counters (`..._reload_...`): how often a VM was replaced.
fn reloads(envoy: &Envoy) -> u64 {
    envoy
        .stats()
        .iter()
        .filter(|(k, _)| k.starts_with("wasm") && k.contains("reload") && k.contains("success"))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn a_trapped_vm_reloads_and_traffic_keeps_flowing() {
    wasm_only!("a trapped VM and FAIL_RELOAD belong to the Wasm runtime (the native module's panic barrier: a_panic_in_a_hook_fails_open_and_is_counted)");
    let wasm = repo().join("target/wasm32-wasip1/fault-injection/actorwatch_filter.wasm");
    assert!(wasm.exists(), "{} is built by make test", wasm.display());
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 3}"#,
        r#""mode": "instant""#,
        XFF_ACTORS,
    );
    let mut setup = EnvoySetup::new(&cfg, api.port, rx.port);
    setup.wasm = Some(wasm);
    setup.concurrency = 1;
    let envoy = start(&setup);
    let addr = envoy.listener;
    assert_eq!(status(addr, "/api/orders", &[]), 200);
    assert_eq!(reloads(&envoy), 0);
    // The trap: this request fails, the VM is replaced.
    let trapped = status(addr, "/api/orders", &[("x-actorwatch-test-trap", "1")]);
    assert_eq!(trapped, 503, "Envoy answers the trapped request itself");
    // The next requests reload the VM and are served.
    wait_for(WAIT, || {
        (status(addr, "/api/orders", &[]) == 200).then_some(())
    })
    .expect("requests succeed after the trap");
    assert!(reloads(&envoy) >= 1, "{}", metrics_of(&envoy));
    // The reloaded filter counts and alerts.
    let mut c = envoy.client();
    for _ in 0..3 {
        assert_eq!(get_as(&mut c, "/nope", "198.51.100.77"), 404);
    }
    let events = wait_for(WAIT, || Some(rx.events()).filter(|e| !e.is_empty()))
        .expect("an event after the reload");
    assert_eq!(actors_of(&events), vec!["198.51.100.77".to_string()]);
}

#[test]
fn a_config_push_that_fails_validation_leaves_traffic_flowing() {
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let good = config(
        r#"{"id": "4XX_FILTER", "threshold": 3}"#,
        r#""mode": "instant""#,
        XFF_ACTORS,
    );
    let mut setup = EnvoySetup::new(&good, api.port, rx.port);
    setup.singleton = false;
    let dir = scratch_dir("envoy-lds");
    write_json(&dir.join("lds.json"), &lds_resources(&setup));
    let envoy = match Envoy::start_with(&bootstrap_lds(&setup, &dir), 2, &dir, &[]) {
        Ok(e) => e,
        Err(e) => panic!("Envoy did not start:\n{}", e.log),
    };
    // A push: the whole file replaced at once (written aside, then renamed into place).
    let push = |config_json: &str| {
        let mut s = EnvoySetup::new(config_json, api.port, rx.port);
        s.singleton = false;
        let tmp = dir.join("lds.json.tmp");
        write_json(&tmp, &lds_resources(&s));
        std::fs::rename(&tmp, dir.join("lds.json")).unwrap();
    };
    let mut c = envoy.client();
    assert_eq!(get_as(&mut c, "/nope", "198.51.100.1"), 404);
    // An invalid configuration: Envoy rejects the update and keeps the running listener.
    push(&config(
        r#"{"id": "4XX_FILTER", "threshold": 0}"#,
        r#""mode": "instant""#,
        XFF_ACTORS,
    ));
    wait_for(WAIT, || {
        (envoy.stat("listener_manager.lds.update_rejected") >= 1).then_some(())
    })
    .unwrap_or_else(|| panic!("the push is rejected; log:\n{}", envoy.log()));
    assert!(envoy
        .log()
        .contains("rules[0].threshold: must be >= 1, got 0"));
    // Traffic flows and the old configuration still counts: 2 more 404s complete 3.
    let mut c = envoy.client();
    assert_eq!(status(envoy.listener, "/api/orders", &[]), 200);
    for _ in 0..2 {
        assert_eq!(get_as(&mut c, "/nope", "198.51.100.1"), 404);
    }
    let events = wait_for(WAIT, || Some(rx.events()).filter(|e| !e.is_empty()))
        .expect("the running configuration still alerts");
    assert_eq!(actors_of(&events), vec!["198.51.100.1".to_string()]);
}

/// The aggregating VM traps while a POST is in flight and more events wait behind it. The VM
/// that replaces it takes the events over from shared data and sends them under the same
/// delivery ids: every event arrives once after deduplication, none is dropped.
#[test]
fn an_aggregator_killed_mid_batch_hands_its_events_to_its_successor() {
    wasm_only!("the native aggregator runs on Envoy's main thread and is never killed alone (its hand-over: a_replaced_configuration_hands_its_events_to_the_next)");
    let wasm = repo().join("target/wasm32-wasip1/fault-injection/actorwatch_filter.wasm");
    assert!(wasm.exists(), "{} is built by make test", wasm.display());
    let api = SampleApi::start();
    let port = free_port();
    // The receiver keeps the first POST and answers it only after the aggregator is gone.
    let rx = ScriptedReceiver::start_on(port, vec![Answer::OkAfterMs(4_000)]);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 2}"#,
        r#""mode": "instant", "batch_size": 2, "max_in_flight": 1, "timeout_ms": 10000"#,
        XFF_ACTORS,
    );
    let mut setup = EnvoySetup::new(&cfg, api.port, port);
    setup.wasm = Some(wasm);
    setup.singleton = false;
    setup.concurrency = 1;
    let envoy = start(&setup);
    let addr = envoy.listener;
    // The only worker VM aggregates once it has seen traffic for 2 s.
    let mut c = envoy.client();
    wait_for(WAIT, || {
        assert_eq!(c.get("/api/orders"), 200);
        log_says(&envoy, "aggregating in a worker VM").then_some(())
    })
    .expect("a worker VM aggregates");
    // One 404 for each actor, then their four crossing 404s at once: the aggregator's next tick
    // raises all four events, and its first POST carries a full batch.
    for actor in 0..4 {
        assert_eq!(
            get_as(&mut c, "/direct/nope", &format!("203.0.113.{actor}")),
            404
        );
    }
    let crossing: Vec<String> = (0..4)
        .map(|actor| {
            format!("GET /direct/nope HTTP/1.1\r\nhost: api\r\nx-forwarded-for: 203.0.113.{actor}\r\n\r\n")
        })
        .collect();
    let crossing: Vec<&[u8]> = crossing.iter().map(|r| r.as_bytes()).collect();
    assert_eq!(requests_at_once(addr, &crossing), vec![Some(404); 4]);
    let first = wait_for(WAIT, || rx.all().first().cloned()).expect("a first POST in flight");
    let first_id = first
        .header("x-actorwatch-delivery")
        .unwrap_or("")
        .to_string();
    assert_eq!(
        first.json()["maliciousEvents"].as_array().map(Vec::len),
        Some(2)
    );
    // The trap: the aggregating VM dies holding one batch in flight and two events behind it.
    assert_eq!(
        status(addr, "/api/orders", &[("x-actorwatch-test-trap", "1")]),
        503
    );
    let events = wait_for(Duration::from_secs(60), || {
        let _ = status(addr, "/healthz", &[]);
        let events = rx.events_deduplicated();
        (events.len() >= 4).then_some(events)
    })
    .unwrap_or_else(|| panic!("every event after the trap; {}", metrics_of(&envoy)));
    assert!(reloads(&envoy) >= 1, "{}", metrics_of(&envoy));
    assert!(log_says(&envoy, "took over 4 events"), "{}", envoy.log());
    let mut actors = actors_of(&events);
    actors.sort();
    assert_eq!(
        actors,
        (0..4).map(|i| format!("203.0.113.{i}")).collect::<Vec<_>>(),
        "each event once after deduplication"
    );
    // The batch in flight went out again under its delivery id.
    let resent = rx
        .all()
        .iter()
        .filter(|p| p.header("x-actorwatch-delivery") == Some(first_id.as_str()))
        .count();
    assert!(resent >= 2, "the first batch was sent {resent} times");
    wait_for(WAIT, || (envoy.metric("events_queued") == 0).then_some(()))
        .unwrap_or_else(|| panic!("{}", metrics_of(&envoy)));
    assert_eq!(envoy.metric("events_dropped"), 0);
    assert_eq!(envoy.metric("events_raised"), 4);
    assert_eq!(envoy.metric("matched"), 8);
}

fn log_says(envoy: &Envoy, text: &str) -> bool {
    envoy.log().contains(text)
}

/// 1 M one-off actors with an attacker hidden among them, through a rule whose threshold of
/// 10,000 used to cost 40 KB per tracked actor, with `max_actors` at its largest: the engine
/// stays within its 64 MiB budget, Envoy serves every request, every 404 is counted, and the
/// attacker is flagged once.
#[test]
fn a_million_one_off_actors_stay_within_the_memory_budget() {
    const FLOOD: u32 = 1_000_000;
    const THRESHOLD: u32 = 10_000;
    const THREADS: u32 = 4;
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = config(
        &format!(
            r#"{{"id": "SLOW_SCAN", "threshold": {THRESHOLD}, "window_secs": 3600, "cooldown_secs": 3600}}"#
        ),
        r#""mode": "instant""#,
        r#""actor": {"sources": ["xff", "peer"]}, "max_actors": 50000000,"#,
    );
    let envoy = start(&EnvoySetup::new(&cfg, api.port, rx.port));
    let addr = envoy.listener;
    let rss_before = rss_kib(envoy.pid());
    let attacker = "198.51.100.66";
    let started = std::time::Instant::now();
    let sent: Vec<(u32, u32)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut c = Client::new(addr);
                    let (mut ok, mut attacks) = (0u32, 0u32);
                    for i in (t..FLOOD).step_by(THREADS as usize) {
                        let one_off = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
                        ok += u32::from(get_as(&mut c, "/direct/flood", &one_off) == 404);
                        if i % (FLOOD / THRESHOLD) == 0 {
                            ok += u32::from(get_as(&mut c, "/direct/probe", attacker) == 404);
                            attacks += 1;
                        }
                    }
                    (ok, attacks)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    let ok: u32 = sent.iter().map(|(ok, _)| ok).sum();
    let attacks: u32 = sent.iter().map(|(_, a)| a).sum();
    eprintln!(
        "sent {ok} requests in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(attacks, THRESHOLD);
    assert_eq!(ok, FLOOD + THRESHOLD, "Envoy answered every request");
    assert_eq!(status(addr, "/healthz", &[]), 200);
    let expected = u64::from(FLOOD + THRESHOLD);
    wait_for(Duration::from_secs(60), || {
        (envoy.metric("matched") == expected).then_some(())
    })
    .unwrap_or_else(|| panic!("matched {} of {expected}", envoy.metric("matched")));
    let events = wait_for(WAIT, || {
        let e = rx.events();
        actors_of(&e).iter().any(|a| a == attacker).then_some(e)
    })
    .unwrap_or_else(|| panic!("the attacker is flagged; {}", metrics_of(&envoy)));
    assert_eq!(
        actors_of(&events),
        vec![attacker.to_string()],
        "one event, the attacker's"
    );
    let memory = envoy.metric("memory_bytes");
    let tracked = envoy.metric("actors_tracked");
    let grown_kib = rss_kib(envoy.pid()).saturating_sub(rss_before);
    eprintln!("memory_bytes {memory}, actors_tracked {tracked}, Envoy grew by {grown_kib} KiB");
    assert!(memory <= 64 << 20, "{memory} bytes");
    assert!(
        tracked < u64::from(FLOOD) && tracked > 100_000,
        "{tracked} tracked"
    );
    assert_eq!(envoy.metric("untracked_responses"), 0);
    assert_eq!(envoy.metric("records_dropped"), 0);
    assert_eq!(reloads(&envoy), 0, "{}", metrics_of(&envoy));
}

/// A panic inside a hook of the native module: the barrier catches it, the request goes on to
/// the upstream (fail open), Envoy keeps serving, the panic is counted and logged, and the
/// filter goes on counting.
#[test]
fn a_panic_in_a_hook_fails_open_and_is_counted() {
    native_only!("the Wasm filter traps instead (a_trapped_vm_reloads_and_traffic_keeps_flowing)");
    let module = native_fault_module();
    assert!(
        module.exists(),
        "{} is built by make test",
        module.display()
    );
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let cfg = config(
        r#"{"id": "4XX_FILTER", "threshold": 3}"#,
        r#""mode": "instant""#,
        XFF_ACTORS,
    );
    let mut setup = EnvoySetup::new(&cfg, api.port, rx.port);
    setup.native = Some(module);
    setup.concurrency = 1;
    let envoy = start(&setup);
    let addr = envoy.listener;
    assert_eq!(status(addr, "/api/orders", &[]), 200);
    let hits = api.hits();
    // The panic: the request is served by the upstream all the same.
    let panicked = status(addr, "/api/orders", &[("x-actorwatch-test-panic", "1")]);
    assert_eq!(panicked, 200, "the request fails open");
    assert_eq!(api.hits(), hits + 1);
    wait_for(WAIT, || (envoy.metric("native_panics") == 1).then_some(()))
        .unwrap_or_else(|| panic!("the panic is counted; {}", metrics_of(&envoy)));
    assert!(
        log_says(&envoy, "1 panics caught and failed open"),
        "{}",
        envoy.log()
    );
    // Envoy and the filter go on: three 404s of one actor raise its event.
    let mut c = envoy.client();
    for _ in 0..3 {
        assert_eq!(get_as(&mut c, "/nope", "198.51.100.78"), 404);
    }
    let events = wait_for(WAIT, || Some(rx.events()).filter(|e| !e.is_empty()))
        .expect("an event after the panic");
    assert_eq!(actors_of(&events), vec!["198.51.100.78".to_string()]);
    assert_eq!(envoy.metric("native_panics"), 1);
}

/// A configuration push replaces the native module's configuration while its events cannot be
/// delivered: when Envoy drops the old configuration, its aggregator leaves the events to the
/// new one, which delivers them under their delivery ids once the receiver is back.
#[test]
fn a_replaced_configuration_hands_its_events_to_the_next() {
    native_only!("the Wasm filter hands over through shared data (an_aggregator_killed_mid_batch_hands_its_events_to_its_successor)");
    let api = SampleApi::start();
    // Nothing listens here until the end: every POST fails and the events wait.
    let port = free_port();
    let cfg = |threshold: u32| {
        config(
            &format!(r#"{{"id": "4XX_FILTER", "threshold": {threshold}}}"#),
            r#""mode": "instant", "batch_size": 1"#,
            XFF_ACTORS,
        )
    };
    let setup = EnvoySetup::new(&cfg(2), api.port, port);
    let dir = scratch_dir("envoy-lds");
    write_json(&dir.join("lds.json"), &lds_resources(&setup));
    let envoy = match Envoy::start_with(&bootstrap_lds(&setup, &dir), 2, &dir, &[]) {
        Ok(e) => e,
        Err(e) => panic!("Envoy did not start:\n{}", e.log),
    };
    let mut c = envoy.client();
    for actor in 0..2 {
        for _ in 0..2 {
            assert_eq!(get_as(&mut c, "/nope", &format!("203.0.113.{actor}")), 404);
        }
    }
    wait_for(WAIT, || {
        (envoy.metric("deliveries_failed") >= 2).then_some(())
    })
    .unwrap_or_else(|| panic!("the POSTs fail; {}", metrics_of(&envoy)));
    drop(c);
    // The push: a new configuration; the old one goes once its listener has drained.
    let tmp = dir.join("lds.json.tmp");
    write_json(
        &tmp,
        &lds_resources(&EnvoySetup::new(&cfg(3), api.port, port)),
    );
    std::fs::rename(&tmp, dir.join("lds.json")).unwrap();
    wait_for(Duration::from_secs(30), || {
        log_says(&envoy, "took over 2 events of the replaced configuration").then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "the new configuration takes the events over; log:\n{}",
            envoy.log()
        )
    });
    let rx = Receiver::start_on(port, 0);
    let events = wait_for(WAIT, || Some(rx.events()).filter(|e| e.len() >= 2))
        .unwrap_or_else(|| panic!("both events; {}", metrics_of(&envoy)));
    let mut actors = actors_of(&events);
    actors.sort();
    assert_eq!(
        actors,
        vec!["203.0.113.0".to_string(), "203.0.113.1".to_string()]
    );
    assert_eq!(envoy.metric("events_dropped"), 0);
}
