//! Who is the actor: peer addresses, X-Forwarded-For, header identities, IPv6 prefixes.

use crate::base::address::{mask_v4, mask_v6, parse_ip, Cidr};
use crate::model::observation::Headers;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Header values longer than this are always reported as a hash, never in clear.
const MAX_CLEAR_HEADER_ACTOR: usize = 64;

/// The identity that is counted. IP actors are already masked to their configured prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActorKey {
    V4([u8; 4]),
    V6([u8; 16]),
    /// SHA-256 (first 16 bytes) of a header value; `source` indexes `actor.sources`.
    Digest {
        source: u8,
        hash: [u8; 16],
    },
    /// A non-credential header value in clear.
    Text {
        source: u8,
        value: Box<str>,
    },
}

impl crate::base::memory::HeapSize for ActorKey {
    fn heap_bytes(&self) -> usize {
        match self {
            ActorKey::Text { value, .. } => value.len(),
            _ => 0,
        }
    }
}

/// Where an actor's identity comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ActorSource {
    /// The connection's peer address.
    Peer,
    /// X-Forwarded-For, walked from the right past trusted hops and trusted proxies.
    Xff,
    /// A request header's value; `hashed` when the header carries credentials.
    Header { name: String, hashed: bool },
    /// Cloudflare's `CF-Connecting-IP`.
    CfConnectingIp,
    /// A claim of the JWT in `Authorization: Bearer` (`jwt:sub`): unverified unless
    /// `jwt_hs256_secret` is set, when only tokens with a valid HS256 signature count.
    Jwt { claim: String },
}

#[derive(Debug, Clone)]
pub struct ActorConfig {
    pub(crate) sources: Vec<ActorSource>,
    pub xff_trusted_hops: usize,
    pub(crate) trusted_proxies: Vec<Cidr>,
    pub ipv6_prefix: u8,
    pub ipv4_prefix: u8,
    /// The HS256 key `jwt:` sources verify tokens with (`actor.jwt_hs256_secret`).
    pub(crate) jwt_hs256_secret: Option<crate::model::jwt::Hs256Key>,
}

/// An actor as resolved from one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub key: ActorKey,
    /// The client IP seen for this request (reported as the event's `ip`).
    pub ip: Option<IpAddr>,
}

impl ActorConfig {
    /// The request headers the actor sources read, in source order: all a host must fetch to
    /// resolve an actor (`peer` reads none).
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().filter_map(|source| match source {
            ActorSource::Peer => None,
            ActorSource::Xff => Some("x-forwarded-for"),
            ActorSource::CfConnectingIp => Some("cf-connecting-ip"),
            ActorSource::Header { name, .. } => Some(name.as_str()),
            ActorSource::Jwt { .. } => Some("authorization"),
        })
    }

    /// The key an IP is counted under: IPv4 masked to `ipv4_prefix`, IPv6 to `ipv6_prefix`.
    pub fn ip_key(&self, ip: IpAddr) -> ActorKey {
        match ip {
            IpAddr::V4(v4) => ActorKey::V4(mask_v4(v4.octets(), self.ipv4_prefix)),
            IpAddr::V6(v6) => ActorKey::V6(mask_v6(v6.octets(), self.ipv6_prefix)),
        }
    }

    fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }

    /// Whether a forwarding header (X-Forwarded-For, CF-Connecting-IP) from this peer is
    /// believed: always without `trusted_proxies`, else only from one of them.
    fn believes_forwarding_from(&self, peer: Option<IpAddr>) -> bool {
        self.trusted_proxies.is_empty() || peer.is_some_and(|p| self.is_trusted_proxy(p))
    }

    /// The client address X-Forwarded-For names, walked from the right: `xff_trusted_hops`
    /// entries are skipped, then any entry inside `trusted_proxies`; the next one is the client.
    /// When `trusted_proxies` is set and the peer is not one of them, the header came from the
    /// client itself and is ignored.
    pub fn xff_client(&self, peer: Option<IpAddr>, xff: &str) -> Option<IpAddr> {
        if !self.believes_forwarding_from(peer) {
            return None;
        }
        let mut entries = xff.rsplit(',').map(str::trim).filter(|e| !e.is_empty());
        for _ in 0..self.xff_trusted_hops {
            entries.next()?;
        }
        for entry in entries {
            let ip = parse_ip(entry)?;
            if !self.is_trusted_proxy(ip) {
                return Some(ip);
            }
        }
        None
    }

    fn source_ip(
        &self,
        source: &ActorSource,
        peer: Option<IpAddr>,
        headers: &dyn Headers,
    ) -> Option<IpAddr> {
        match source {
            ActorSource::Peer => peer,
            ActorSource::Xff => self.xff_client(peer, headers.get("x-forwarded-for")?),
            // Like X-Forwarded-For: with `trusted_proxies` set (Cloudflare's ranges), a client
            // reaching the origin directly cannot forge it.
            ActorSource::CfConnectingIp if self.believes_forwarding_from(peer) => {
                parse_ip(headers.get("cf-connecting-ip")?)
            }
            ActorSource::CfConnectingIp => None,
            ActorSource::Header { .. } | ActorSource::Jwt { .. } => None,
        }
    }

    /// Resolves the actor of a request: the first source that yields a value wins.
    pub fn resolve(&self, peer: Option<&str>, headers: &dyn Headers) -> Option<Resolved> {
        let peer_ip = peer.and_then(parse_ip);
        let mut key = None;
        let mut ip = None;
        for (index, source) in self.sources.iter().enumerate() {
            if let ActorSource::Header { name, hashed } = source {
                if key.is_none() {
                    key = headers
                        .get(name)
                        .and_then(|value| header_key(index, *hashed, value));
                }
            } else if let ActorSource::Jwt { claim } = source {
                if key.is_none() {
                    key = headers
                        .get("authorization")
                        .and_then(|value| {
                            crate::model::jwt::claim(
                                value,
                                claim,
                                self.jwt_hs256_secret.as_ref().map(|k| &*k.0),
                            )
                        })
                        .and_then(|value| header_key(index, false, &value));
                }
            } else if let Some(found) = self.source_ip(source, peer_ip, headers) {
                ip = Some(found);
                if key.is_none() {
                    key = Some(self.ip_key(found));
                }
                break;
            } else if matches!(source, ActorSource::Peer) && key.is_none() {
                // Envoy and the Worker always pass an address as the peer, so this never
                // applies to them; access logs written with `HostnameLookups On` name the
                // client instead (`actorwatch replay`).
                key = peer.and_then(|p| host_name_key(index, p));
            }
            if key.is_some() && ip.is_some() {
                break;
            }
        }
        // A header identity still reports where the request came from.
        let ip = ip.or(peer_ip);
        Some(Resolved { key: key?, ip })
    }

    /// How an actor is written in events: an address, a prefix (`2001:db8:1:2::/64`), a peer
    /// host name, or `header:value` / `header:sha256:<16 hex>`.
    pub fn display(&self, key: &ActorKey) -> String {
        match key {
            ActorKey::V4(o) => {
                let ip = Ipv4Addr::from(*o);
                if self.ipv4_prefix < 32 {
                    format!("{ip}/{}", self.ipv4_prefix)
                } else {
                    ip.to_string()
                }
            }
            ActorKey::V6(o) => {
                let ip = Ipv6Addr::from(*o);
                if self.ipv6_prefix < 128 {
                    format!("{ip}/{}", self.ipv6_prefix)
                } else {
                    ip.to_string()
                }
            }
            ActorKey::Digest { source, hash } => {
                let mut out = format!("{}:sha256:", self.source_name(*source));
                crate::base::hex::encode_into(&mut out, hash.get(..8).unwrap_or(hash));
                out
            }
            ActorKey::Text { source, value } => match self.sources.get(usize::from(*source)) {
                Some(ActorSource::Peer) => value.to_string(),
                _ => format!("{}:{value}", self.source_name(*source)),
            },
        }
    }

    fn source_name(&self, source: u8) -> String {
        match self.sources.get(usize::from(source)) {
            Some(ActorSource::Header { name, .. }) => name.clone(),
            Some(ActorSource::Jwt { claim }) => format!("jwt:{claim}"),
            _ => "header".to_string(),
        }
    }
}

/// Whether `s` is a DNS host name: dot-separated labels of 1-63 letters, digits and inner
/// hyphens, at most 253 characters in all, with at least one letter (`1.2.3` is no name).
pub(crate) fn is_host_name(s: &str) -> bool {
    s.len() <= 253
        && s.bytes().any(|b| b.is_ascii_alphabetic())
        && s.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A peer that is a host name rather than an address: counted under its lower-cased name.
fn host_name_key(index: usize, peer: &str) -> Option<ActorKey> {
    if !is_host_name(peer) {
        return None;
    }
    Some(ActorKey::Text {
        source: u8::try_from(index).ok()?,
        value: peer.to_ascii_lowercase().into(),
    })
}

fn header_key(index: usize, hashed: bool, value: &str) -> Option<ActorKey> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let source = u8::try_from(index).ok()?;
    let clear_ok = !hashed
        && value.len() <= MAX_CLEAR_HEADER_ACTOR
        && value.bytes().all(|b| (0x21..0x7f).contains(&b));
    if clear_ok {
        return Some(ActorKey::Text {
            source,
            value: value.into(),
        });
    }
    let digest = Sha256::digest(value.as_bytes());
    let mut hash = [0u8; 16];
    hash.copy_from_slice(digest.get(..16)?);
    Some(ActorKey::Digest { source, hash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn actor_config(actor_json: &str) -> ActorConfig {
        let json =
            format!(r#"{{"actor": {actor_json}, "webhook": {{"url": "http://127.0.0.1/"}}}}"#);
        Config::from_json_str(&json).unwrap().actor
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn header_names_are_what_the_sources_read_in_order() {
        let a =
            actor_config(r#"{"sources": ["header:X-Api-Key", "peer", "xff", "cf-connecting-ip"]}"#);
        assert_eq!(
            a.header_names().collect::<Vec<_>>(),
            vec!["x-api-key", "x-forwarded-for", "cf-connecting-ip"]
        );
        assert_eq!(
            actor_config("{}").header_names().count(),
            0,
            "peer reads no header"
        );
    }

    #[test]
    fn ipv6_actors_aggregate_to_their_prefix() {
        let c = actor_config(r#"{}"#);
        let a = c.ip_key(ip("2001:db8:1:2:aaaa::1"));
        let b = c.ip_key(ip("2001:db8:1:2:ffff:1:2:3"));
        let other = c.ip_key(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(c.display(&a), "2001:db8:1:2::/64");
        let exact = actor_config(r#"{"ipv6_prefix": 128}"#);
        assert_eq!(
            exact.display(&exact.ip_key(ip("2001:db8::1"))),
            "2001:db8::1"
        );
        let v4 = c.ip_key(ip("198.51.100.9"));
        assert_eq!(c.display(&v4), "198.51.100.9");
        let v4_24 = actor_config(r#"{"ipv4_prefix": 24}"#);
        assert_eq!(
            v4_24.display(&v4_24.ip_key(ip("198.51.100.9"))),
            "198.51.100.0/24"
        );
    }

    #[test]
    fn default_ignores_forwarded_headers() {
        let c = actor_config(r#"{}"#);
        let headers = [
            ("x-forwarded-for", "1.1.1.1"),
            ("cf-connecting-ip", "2.2.2.2"),
        ];
        let r = c.resolve(Some("198.51.100.9:4000"), &headers).unwrap();
        assert_eq!(r.key, ActorKey::V4([198, 51, 100, 9]));
        assert_eq!(r.ip, Some(ip("198.51.100.9")));
    }

    #[test]
    fn xff_is_walked_from_the_right() {
        let hops0 = actor_config(r#"{"sources": ["xff", "peer"]}"#);
        let hops1 = actor_config(r#"{"sources": ["xff", "peer"], "xff_trusted_hops": 1}"#);
        // The client forged the leftmost entry; the proxy appended the real client on the right.
        let xff = "6.6.6.6, 203.0.113.7, 10.0.0.2";
        assert_eq!(hops0.xff_client(None, xff), Some(ip("10.0.0.2")));
        assert_eq!(hops1.xff_client(None, xff), Some(ip("203.0.113.7")));
        // Too few entries: the source yields nothing and the next source (peer) wins.
        let r = hops1
            .resolve(Some("10.0.0.1:1"), &[("x-forwarded-for", "203.0.113.7")])
            .unwrap();
        assert_eq!(r.key, ActorKey::V4([10, 0, 0, 1]));
    }

    #[test]
    fn trusted_proxies_are_skipped_and_required() {
        let c = actor_config(
            r#"{"sources": ["xff", "peer"], "trusted_proxies": ["10.0.0.0/8", "2001:db8:ffff::/48"]}"#,
        );
        let xff = "6.6.6.6, [2001:db8:1::5]:1234, 10.1.1.1, 2001:db8:ffff::9";
        assert_eq!(
            c.xff_client(Some(ip("10.9.9.9")), xff),
            Some(ip("2001:db8:1::5"))
        );
        // The peer is not a trusted proxy: the header is the client's own, and ignored.
        assert_eq!(c.xff_client(Some(ip("203.0.113.50")), xff), None);
        let r = c
            .resolve(Some("203.0.113.50:1"), &[("x-forwarded-for", xff)])
            .unwrap();
        assert_eq!(r.key, ActorKey::V4([203, 0, 113, 50]));
        // Only trusted entries: no client found.
        assert_eq!(
            c.xff_client(Some(ip("10.9.9.9")), "10.1.1.1, 10.2.2.2"),
            None
        );
        // Garbage where the client should be: nothing, never a guess.
        assert_eq!(
            c.xff_client(Some(ip("10.9.9.9")), "1.2.3.4, garbage, 10.2.2.2"),
            None
        );
    }

    #[test]
    fn header_actors_hash_credentials() {
        let c = actor_config(r#"{"sources": ["header:x-api-key", "header:x-tenant", "peer"]}"#);
        let h = [("x-api-key", "sk_live_abcdef123456"), ("x-tenant", "acme")];
        let r = c.resolve(Some("198.51.100.9:1"), &h).unwrap();
        let shown = c.display(&r.key);
        let digest = Sha256::digest(b"sk_live_abcdef123456");
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        assert_eq!(shown, format!("x-api-key:sha256:{hex}"));
        assert!(!shown.contains("sk_live"));
        assert_eq!(r.ip, Some(ip("198.51.100.9")));
        let r = c
            .resolve(Some("198.51.100.9:1"), &[("x-tenant", "acme")])
            .unwrap();
        assert_eq!(c.display(&r.key), "x-tenant:acme");
        let long = "x".repeat(65);
        let r = c.resolve(None, &[("x-tenant", long.as_str())]).unwrap();
        assert!(c.display(&r.key).starts_with("x-tenant:sha256:"));
        // No header, no peer: no actor.
        assert_eq!(c.resolve(None, &Vec::<(&str, &str)>::new()), None);
    }

    #[test]
    fn a_peer_host_name_is_the_actor() {
        let c = actor_config(r#"{"sources": ["header:x-tenant", "peer"]}"#);
        let no_headers = Vec::<(&str, &str)>::new();
        let r = c
            .resolve(Some("Crawl-66-249-66-1.GoogleBot.com"), &no_headers)
            .unwrap();
        assert_eq!(
            r,
            Resolved {
                key: ActorKey::Text {
                    source: 1,
                    value: "crawl-66-249-66-1.googlebot.com".into()
                },
                ip: None,
            }
        );
        // Shown as the bare name, not `peer:...` or `header:...`.
        assert_eq!(c.display(&r.key), "crawl-66-249-66-1.googlebot.com");
        // A header identity before the peer still wins, and shows its header name.
        let r = c
            .resolve(Some("scanner.example.net"), &[("x-tenant", "acme")])
            .unwrap();
        assert_eq!(c.display(&r.key), "x-tenant:acme");
        // An address is still an address.
        let r = c.resolve(Some("198.51.100.9:4000"), &no_headers).unwrap();
        assert_eq!(r.key, ActorKey::V4([198, 51, 100, 9]));
        assert_eq!(r.ip, Some(ip("198.51.100.9")));
        // Neither an address nor a name: no actor.
        for bad in [
            "1.2.3",
            "-",
            "",
            "host.example.com:443",
            "a..b",
            "-a.example",
            "a-.example",
            "under_score.example",
            "example.com.",
            "caf\u{e9}.example",
        ] {
            assert_eq!(c.resolve(Some(bad), &no_headers), None, "{bad}");
        }
    }

    #[test]
    fn host_names_are_checked_label_by_label() {
        let label63 = "a".repeat(63);
        assert!(is_host_name(&label63));
        assert!(!is_host_name(&"a".repeat(64)));
        // 4 × 63 + 3 dots = 255 > 253; 3 × 63 + 61 + 3 dots = 253.
        let long = [label63.as_str(); 4].join(".");
        assert!(!is_host_name(&long));
        let fits = format!("{}.{}", [label63.as_str(); 3].join("."), "b".repeat(61));
        assert_eq!(fits.len(), 253);
        assert!(is_host_name(&fits));
        assert!(is_host_name("localhost"));
        assert!(is_host_name("1.2.3.a"));
        assert!(!is_host_name("1.2.3.4"));
        assert!(!is_host_name("2001:db8::1"));
    }

    #[test]
    fn cf_connecting_ip() {
        let c = actor_config(r#"{"sources": ["cf-connecting-ip", "peer"]}"#);
        let r = c
            .resolve(Some("10.0.0.1"), &[("cf-connecting-ip", "2001:db8::77")])
            .unwrap();
        assert_eq!(c.display(&r.key), "2001:db8::/64");
        assert_eq!(r.ip, Some(ip("2001:db8::77")));
        // Behind Cloudflare with its ranges as trusted proxies: a direct client cannot forge it.
        let c = actor_config(
            r#"{"sources": ["cf-connecting-ip", "peer"], "trusted_proxies": ["173.245.48.0/20"]}"#,
        );
        let headers = [("cf-connecting-ip", "192.0.2.9")];
        let via_cloudflare = c.resolve(Some("173.245.48.7:443"), &headers).unwrap();
        assert_eq!(c.display(&via_cloudflare.key), "192.0.2.9");
        let direct = c.resolve(Some("198.51.100.4:5555"), &headers).unwrap();
        assert_eq!(c.display(&direct.key), "198.51.100.4");
    }
}
