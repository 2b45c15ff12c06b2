//! Actor extraction from hostile peers, X-Forwarded-For chains (IPv4, IPv6, zones, ports,
//! quotes, garbage) and credential headers, under generated configurations.
#![no_main]

use actorwatch_core::{parse_ip, ActorKey, Config};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    sources: Vec<u8>,
    trusted_hops: u8,
    trusted_proxies: Vec<u8>,
    ipv4_prefix: u8,
    ipv6_prefix: u8,
    peer: Option<String>,
    xff: Option<String>,
    cf_connecting_ip: Option<String>,
    api_key: Option<String>,
    tenant: Option<String>,
}

const SOURCES: [&str; 5] = [
    "peer",
    "xff",
    "cf-connecting-ip",
    "header:x-api-key",
    "header:x-tenant",
];
const PROXIES: [&str; 4] = [
    "10.0.0.0/8",
    "2001:db8::/32",
    "127.0.0.1",
    "::ffff:192.0.2.0/120",
];

fuzz_target!(|input: Input| {
    let sources: Vec<&str> = input
        .sources
        .iter()
        .take(5)
        .map(|s| SOURCES[*s as usize % SOURCES.len()])
        .collect();
    let proxies: Vec<&str> = input
        .trusted_proxies
        .iter()
        .take(4)
        .map(|p| PROXIES[*p as usize % PROXIES.len()])
        .collect();
    let json = serde_json::json!({
        "actor": {
            "sources": sources,
            "xff_trusted_hops": input.trusted_hops % 4,
            "trusted_proxies": proxies,
            "ipv4_prefix": 1 + input.ipv4_prefix % 32,
            "ipv6_prefix": 1 + input.ipv6_prefix % 128,
        },
        "webhook": {"url": "https://siem.example.com/akto"},
    });
    let Ok(cfg) = Config::from_json_str(&json.to_string()) else {
        return; // e.g. no sources, or a repeated one
    };
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for (name, value) in [
        ("x-forwarded-for", &input.xff),
        ("cf-connecting-ip", &input.cf_connecting_ip),
        ("x-api-key", &input.api_key),
        ("x-tenant", &input.tenant),
    ] {
        if let Some(v) = value {
            headers.push((name, v.as_str()));
        }
    }
    let actor = &cfg.actor;
    let peer_ip = input.peer.as_deref().and_then(parse_ip);
    if let Some(xff) = &input.xff {
        if let Some(client) = actor.xff_client(peer_ip, xff) {
            // Never a proxy of ours, and only believed from a trusted peer when proxies are set.
            assert!(!proxies
                .iter()
                .any(|p| p.parse::<std::net::IpAddr>().ok() == Some(client)));
            if !proxies.is_empty() {
                assert!(peer_ip.is_some());
            }
            // Enough entries for the hops skipped.
            let entries = xff.split(',').filter(|e| !e.trim().is_empty()).count();
            assert!(entries > usize::from(input.trusted_hops % 4));
        }
    }
    let Some(resolved) = actor.resolve(input.peer.as_deref(), &headers) else {
        return;
    };
    let shown = actor.display(&resolved.key);
    match &resolved.key {
        ActorKey::Digest { .. } => {
            // A credential shows as its header name and 16 hex digits of its hash, never in clear.
            let hash = shown
                .strip_prefix("x-api-key:sha256:")
                .or_else(|| shown.strip_prefix("x-tenant:sha256:"));
            let hash = hash.unwrap_or_else(|| panic!("{shown}"));
            assert!(
                hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
                "{shown}"
            );
        }
        // A header value in clear, or a peer that is a host name, shown as its lower-cased self.
        ActorKey::Text { .. } => assert!(
            shown.starts_with("x-tenant:")
                || input.peer.as_deref().map(str::to_ascii_lowercase) == Some(shown.clone()),
            "{shown}"
        ),
        ActorKey::V4(_) | ActorKey::V6(_) => assert!(resolved.ip.is_some()),
    }
});
