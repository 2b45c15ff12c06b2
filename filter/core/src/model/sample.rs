//! Samples: the `orig` document of a counted request as Akto formats it, built from the
//! request headers a sample may show (credentials and configured headers removed), and the
//! compact header block that carries them in a worker delta.

use crate::base::credentials::{is_credential_header, ALWAYS_REDACTED};
use crate::base::template::{strip_query, truncate, MAX_URL_BYTES};
use crate::base::wire::{put_str, put_varint, Reader};
use crate::model::config::Config;
use crate::model::observation::Observation;
use serde::Serialize;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Longest method kept; longer ones are cut.
pub(crate) const MAX_METHOD_BYTES: usize = 32;
const MAX_SAMPLE_HEADERS: usize = 64;
const MAX_SAMPLE_HEADER_VALUE: usize = 256;

/// Whether a header may be copied into a sample.
pub(crate) fn is_redacted(cfg: &Config, name: &str) -> bool {
    ALWAYS_REDACTED.iter().any(|h| name.eq_ignore_ascii_case(h))
        || is_credential_header(name)
        || cfg
            .redact_headers
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
}

/// The headers a sample may show, as a compact block: a varint count, then each lower-case
/// name and truncated value as varint-length strings. Credentials and pseudo-headers are left
/// out here already, so they never travel in a delta.
pub(crate) fn sample_headers_block(cfg: &Config, obs: &Observation) -> Vec<u8> {
    let mut pairs: Vec<u8> = Vec::with_capacity(256);
    let mut count = 0u64;
    obs.headers.for_each(&mut |name, value| {
        if count as usize >= MAX_SAMPLE_HEADERS || name.starts_with(':') || is_redacted(cfg, name) {
            return;
        }
        count += 1;
        put_varint(&mut pairs, name.len() as u64);
        pairs.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
        put_str(&mut pairs, truncate(value, MAX_SAMPLE_HEADER_VALUE));
    });
    let mut out = Vec::with_capacity(pairs.len() + 2);
    put_varint(&mut out, count);
    out.extend_from_slice(&pairs);
    out
}

fn decode_headers_block(block: &[u8]) -> Option<Vec<(&str, &str)>> {
    let mut r = Reader::new(block);
    let count = r.varint().ok()?;
    let mut out = Vec::with_capacity(usize::try_from(count).ok()?.min(MAX_SAMPLE_HEADERS));
    for _ in 0..count {
        out.push((r.str().ok()?, r.str().ok()?));
    }
    Some(out)
}

/// The sample document of a request whose headers travelled as a block (see
/// [`sample_headers_block`]); `None` if the block is malformed.
pub(crate) fn block_sample(
    cfg: &Config,
    block: &[u8],
    ts_ms: u64,
    request: (&str, &str, u16),
    ip: Option<IpAddr>,
) -> Option<String> {
    let headers = decode_headers_block(block)?;
    let (method, path, status) = request;
    let obs = Observation {
        method,
        path,
        status,
        peer: None,
        host: None,
        headers: &headers,
        country: None,
        threats: None,
    };
    Some(sample_json(cfg, ts_ms, &obs, ip))
}

/// The `orig` document of one sample: method, path, status, ip, time (epoch seconds) and the
/// request headers minus credentials, as Akto formats its samples (the header map is itself a
/// JSON string). Header names are lower-cased and sorted, repeated headers joined with ", ",
/// so every host writes the same bytes for the same request.
pub(crate) fn sample_json(
    cfg: &Config,
    now_ms: u64,
    obs: &Observation,
    ip: Option<IpAddr>,
) -> String {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut kept = 0;
    obs.headers.for_each(&mut |name, value| {
        if kept >= MAX_SAMPLE_HEADERS || name.starts_with(':') || is_redacted(cfg, name) {
            return;
        }
        kept += 1;
        let value = truncate(value, MAX_SAMPLE_HEADER_VALUE);
        match headers.entry(name.to_ascii_lowercase()) {
            Entry::Vacant(e) => {
                e.insert(value.to_string());
            }
            Entry::Occupied(mut e) => {
                let joined = e.get_mut();
                joined.push_str(", ");
                joined.push_str(value);
            }
        }
    });
    let doc = SampleDoc {
        method: truncate(obs.method, MAX_METHOD_BYTES),
        path: truncate(strip_query(obs.path), MAX_URL_BYTES),
        status_code: obs.status,
        ip: ip.map(|ip| ip.to_string()).unwrap_or_default(),
        time: now_ms / 1000,
        request_headers: serde_json::to_string(&headers).unwrap_or_default(),
    };
    serde_json::to_string(&doc).unwrap_or_default()
}

/// The fields of a sample document, in Akto's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SampleDoc<'a> {
    method: &'a str,
    path: &'a str,
    status_code: u16,
    ip: String,
    time: u64,
    /// The header map, itself a JSON string.
    request_headers: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use std::sync::Arc;

    fn config(extra: &str) -> Arc<Config> {
        let json = format!(r#"{{{extra} "webhook": {{"url": "http://127.0.0.1/hook"}}}}"#);
        Arc::new(Config::from_json_str(&json).unwrap())
    }

    #[test]
    fn samples_are_valid_json_whatever_the_bytes() {
        let cfg = config("");
        let nasty = "q\"u\\o\nt\u{1}e é 😀";
        let h = [("X-B", nasty), ("x-a", "1"), ("X-A", "2")];
        let obs = Observation {
            method: "GE\"T",
            path: "/p\"ath\\",
            status: 404,
            peer: None,
            host: None,
            headers: &h,
            country: None,
            threats: None,
        };
        let doc = sample_json(&cfg, 1_000, &obs, Some("2001:db8::1".parse().unwrap()));
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["method"], "GE\"T");
        assert_eq!(v["path"], "/p\"ath\\");
        assert_eq!(v["ip"], "2001:db8::1");
        assert_eq!(v["time"], 1);
        let inner: serde_json::Value =
            serde_json::from_str(v["requestHeaders"].as_str().unwrap()).unwrap();
        assert_eq!(inner, serde_json::json!({"x-a": "1, 2", "x-b": nasty}));
        // Names come out sorted, so header order does not change the bytes.
        let reordered = [("X-A", "1"), ("X-B", nasty), ("x-a", "2")];
        let obs2 = Observation {
            headers: &reordered,
            ..obs
        };
        assert_eq!(
            sample_json(&cfg, 1_000, &obs2, Some("2001:db8::1".parse().unwrap())),
            doc
        );
    }

    #[test]
    fn samples_drop_credentials_and_configured_headers() {
        let cfg = config(r#""redact_headers": ["X-Internal"],"#);
        let h = [
            ("authorization", "Bearer a"),
            ("cookie", "c=1"),
            ("proxy-authorization", "Basic b"),
            ("x-api-key", "k"),
            ("x-internal", "secret-route"),
            ("accept", "a/b"),
            ("accept", "c/d"),
            (":authority", "h"),
        ];
        let obs = Observation {
            method: "GET",
            path: "/p?token=1",
            status: 401,
            peer: None,
            host: None,
            headers: &h,
            country: None,
            threats: None,
        };
        let doc = sample_json(&cfg, 5_000, &obs, None);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["path"], "/p");
        assert_eq!(v["requestHeaders"], "{\"accept\":\"a/b, c/d\"}");
        for secret in ["Bearer", "c=1", "Basic", "secret-route"] {
            assert!(!doc.contains(secret), "{secret} leaked: {doc}");
        }
    }
}
