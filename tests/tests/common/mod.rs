//! Helpers shared by the Envoy suites.
#![allow(dead_code)]

use actorwatch_e2e::*;
use std::time::Duration;

pub const SECRET: &str = "e2e-secret-0123456789";
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
