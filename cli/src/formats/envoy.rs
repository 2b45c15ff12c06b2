//! Envoy's default text access log (and Istio's longer default) and the JSON access log
//! `envoy/envoy.yaml` configures.

use super::tokens::{tokenize, Token};
use super::{present, request_line, rfc3339_ms, status_of, Entry};
use serde_json::Value;

/// Envoy's default: `[START_TIME] "METHOD PATH PROTO" CODE FLAGS ... "XFF" "UA" "REQ-ID"
/// "AUTHORITY" "UPSTREAM_HOST"`, optionally followed (Istio's default) by upstream cluster,
/// upstream local, downstream local and downstream remote addresses.
pub(super) fn parse_text(line: &str) -> Result<Entry, String> {
    let tokens = tokenize(line)?;
    let time = match tokens.first() {
        Some(Token::Bracketed(t)) => t,
        _ => return Err("expected [START_TIME] first".into()),
    };
    let ts_ms = rfc3339_ms(time)?;
    let (method, path) = match tokens.get(1) {
        Some(Token::Quoted(r)) => request_line(r)?,
        _ => return Err("no \"request line\"".into()),
    };
    let status = match tokens.get(2) {
        Some(Token::Bare(s)) => status_of(s)?,
        _ => return Err("no status".into()),
    };
    let quoted: Vec<(usize, &String)> = tokens
        .iter()
        .enumerate()
        .skip(3)
        .filter_map(|(i, t)| match t {
            Token::Quoted(s) => Some((i, s)),
            _ => None,
        })
        .collect();
    if quoted.len() < 5 {
        return Err(
            "expected the quoted XFF, user agent, request id, authority and upstream host".into(),
        );
    }
    let last5 = &quoted[quoted.len() - 5..];
    let mut headers = Vec::new();
    if let Some(xff) = present(last5[0].1) {
        headers.push(("x-forwarded-for".to_string(), xff));
    }
    if let Some(ua) = present(last5[1].1) {
        headers.push(("user-agent".to_string(), ua));
    }
    let host = present(last5[3].1);
    // Istio's format: cluster, upstream local, downstream local, downstream remote, ...
    let after: Vec<&String> = tokens
        .iter()
        .skip(last5[4].0 + 1)
        .filter_map(|t| match t {
            Token::Bare(s) => Some(s),
            _ => None,
        })
        .collect();
    let peer = after
        .get(3)
        .and_then(|s| present(s))
        .filter(|s| actorwatch_core::parse_ip(s).is_some());
    Ok(Entry {
        ts_ms,
        method,
        path,
        status,
        peer,
        host,
        headers,
        country: None,
    })
}

fn json_str(map: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => present(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn parse_json(line: &str) -> Result<Entry, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let map = v.as_object().ok_or("not a JSON object")?;
    let ts_ms = rfc3339_ms(&json_str(map, "start_time").ok_or("no start_time")?)?;
    let status = status_of(&json_str(map, "status").ok_or("no status")?)?;
    let mut headers = Vec::new();
    for (key, header) in [
        ("x_forwarded_for", "x-forwarded-for"),
        ("user_agent", "user-agent"),
        ("country", "x-country"),
    ] {
        if let Some(v) = json_str(map, key) {
            headers.push((header.to_string(), v));
        }
    }
    Ok(Entry {
        ts_ms,
        method: json_str(map, "method").ok_or("no method")?,
        path: json_str(map, "path").ok_or("no path")?,
        status,
        peer: json_str(map, "peer"),
        host: json_str(map, "authority"),
        headers,
        country: json_str(map, "country"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_default_and_istio_lines() {
        let plain = r#"[2025-05-13T18:51:48.123Z] "POST /login HTTP/1.1" 401 - 12 0 3 2 "198.51.100.1" "py/3" "abc" "api.example.com" "10.0.0.5:8080""#;
        let e = parse_text(plain).unwrap();
        assert_eq!(e.ts_ms, 1_747_162_308_123);
        assert_eq!(
            (
                e.method.as_str(),
                e.status,
                e.peer.as_deref(),
                e.host.as_deref()
            ),
            ("POST", 401, None, Some("api.example.com"))
        );
        assert_eq!(
            e.headers[0],
            ("x-forwarded-for".to_string(), "198.51.100.1".to_string())
        );
        let istio = r#"[2025-05-13T18:51:48.123Z] "GET /x HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "-" "curl" "id" "h" "-" - - 10.0.0.9:8080 203.0.113.7:5555 - -"#;
        let e = parse_text(istio).unwrap();
        assert_eq!(e.peer.as_deref(), Some("203.0.113.7:5555"));
        let v6 = istio.replace("203.0.113.7:5555", "[2001:db8::5]:5555");
        assert_eq!(
            parse_text(&v6).unwrap().peer.as_deref(),
            Some("[2001:db8::5]:5555")
        );
        assert_eq!(
            e.headers,
            vec![("user-agent".to_string(), "curl".to_string())]
        );
    }
}
