//! JSON lines: one object per line with ts_ms (or ts), method, path, status, peer, headers,
//! country and optional request and response bodies (`body`, `response_body`).

use super::{split_headers, Entry};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct JsonlLine {
    ts_ms: Option<u64>,
    ts: Option<f64>,
    method: String,
    path: String,
    status: u16,
    peer: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    country: Option<String>,
    body: Option<String>,
    response_body: Option<String>,
}

pub(super) fn parse(line: &str) -> Result<Entry, String> {
    let l: JsonlLine = serde_json::from_str(line).map_err(|e| format!("not a record: {e}"))?;
    let ts_ms = match (l.ts_ms, l.ts) {
        (Some(ms), _) => ms,
        (None, Some(secs)) if secs.is_finite() && secs >= 0.0 => (secs * 1000.0).round() as u64,
        _ => return Err("needs \"ts_ms\" (integer ms) or \"ts\" (seconds)".into()),
    };
    let (headers, host) = split_headers(l.headers);
    Ok(Entry {
        ts_ms,
        method: l.method,
        path: l.path,
        status: l.status,
        peer: l.peer,
        host,
        headers,
        country: l.country,
        body: l.body,
        response_body: l.response_body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_accepts_float_seconds() {
        let e = parse(r#"{"ts": 1747162308.1234, "method": "GET", "path": "/", "status": 404, "headers": {"Host": "h"}}"#).unwrap();
        assert_eq!(e.ts_ms, 1_747_162_308_123);
        assert_eq!(e.host.as_deref(), Some("h"));
        assert!(parse(r#"{"method": "GET", "path": "/", "status": 404}"#).is_err());
    }
}
