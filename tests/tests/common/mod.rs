//! Helpers shared by the Envoy suites.
#![allow(dead_code)]

use actorwatch_e2e::*;
use std::time::Duration;

pub const SECRET: &str = "e2e-secret-0123456789";

/// Panics unless `post` is in Akto's payload shape and signed with [`SECRET`] within the
/// last minute.
pub fn assert_akto_shaped_and_signed(post: &Received) {
    assert_eq!(
        actorwatch_core::payload::shape_errors(&post.json()),
        Vec::<String>::new()
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(
        actorwatch_core::signature::verify(
            SECRET.as_bytes(),
            post.header("x-actorwatch-signature").unwrap(),
            &post.body,
            now,
            60
        ),
        Ok(())
    );
}

/// The variables the shipped configurations name, with values only the environment holds.
pub const ENV_SECRETS: [(&str, &str); 3] = [
    ("ACTORWATCH_HMAC_SECRET", "env-hmac-s3cret-7c1d9e2f40"),
    (
        "ACTORWATCH_WEBHOOK_AUTHORIZATION",
        "Bearer env-siem-t0ken-4b8a",
    ),
    // Signs fleet-mode batches (the fleet examples only).
    ("ACTORWATCH_FLEET_SECRET", "env-fleet-s3cret-51a0c9d2e7"),
];

/// [`ENV_SECRETS`] as an Envoy process environment.
pub fn env_secrets() -> Vec<(String, String)> {
    ENV_SECRETS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Panics if any `(name, text)` holds any of `secrets`.
pub fn assert_no_secret_in(haystacks: &[(String, String)], secrets: &[&str]) {
    for (name, text) in haystacks {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{name} contains the secret {secret:?}"
            );
        }
    }
}

/// The admin `/config_dump`, with and without endpoints, as (name, text).
pub fn config_dumps(envoy: &Envoy) -> Vec<(String, String)> {
    ["/config_dump", "/config_dump?include_eds"]
        .iter()
        .map(|path| {
            let (status, body) = http(envoy.admin, "GET", path, &[], b"").expect(path);
            assert_eq!(status, 200, "{path}");
            (
                path.to_string(),
                String::from_utf8_lossy(&body).into_owned(),
            )
        })
        .collect()
}
pub const WAIT: Duration = Duration::from_secs(20);

pub fn config(rules: &str, webhook: &str, extra: &str) -> String {
    format!(
        r#"{{"rules": [{rules}], {extra} "webhook": {{"url": "http://webhook.test/akto", "hmac_secret": "{SECRET}", {webhook}}}}}"#
    )
}

pub fn start(setup: &EnvoySetup) -> Envoy {
    match Envoy::start(setup) {
        Ok(e) => e,
        Err(e) => panic!("Envoy did not start:\n{}", e.log),
    }
}

pub fn xff(client: &str) -> [(&'static str, String); 1] {
    [("x-forwarded-for", client.to_string())]
}

pub fn get_as(c: &mut Client, path: &str, client_ip: &str) -> u16 {
    let h = xff(client_ip);
    let headers: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.request("GET", path, &headers, b"")
        .map(|(s, _)| s)
        .unwrap_or(0)
}

pub const XFF_ACTORS: &str = r#""actor": {"sources": ["xff", "peer"]},"#;

/// `responses` 404s from each of `actors` clients (`203.0.113.<n>` in X-Forwarded-For).
pub fn flag_actors(c: &mut Client, actors: u32, responses: u32) {
    for actor in 0..actors {
        for _ in 0..responses {
            assert_eq!(get_as(c, "/nope", &format!("203.0.113.{actor}")), 404);
        }
    }
}

/// Fleet mode: waits until every proxy has had `more` batches answered beyond what it had now:
/// what it counted by now has been through Redis and back.
pub fn settle_batches(envoys: &[Envoy], more: u64) {
    let each = || -> Vec<u64> { envoys.iter().map(|e| e.metric("fleet_batches")).collect() };
    let before = each();
    let done = wait_for(WAIT, || {
        each()
            .iter()
            .zip(&before)
            .all(|(n, b)| *n >= b + more)
            .then_some(())
    });
    assert!(done.is_some(), "batches stalled: {:?}", each());
}

/// Fleet mode: an IPv4 actor's key as Redis names it (the delta encoding, in hex).
pub fn redis_actor(dotted: &str) -> String {
    let mut hex = String::from("04");
    for part in dotted.split('.') {
        let byte: u8 = part.parse().expect("an IPv4 address");
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}
