//! Recorded traffic in the formats operators have: JSON lines, HAR 1.2, nginx/Apache combined
//! logs, Envoy's default text access log and the JSON access log `envoy/` recommends.

use chrono::DateTime;
use clap::ValueEnum;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line: ts_ms (or ts), method, path, status, peer, headers, country.
    Jsonl,
    /// HAR 1.2 (browsers, Burp, Postman).
    Har,
    /// nginx/Apache "combined" access log.
    Combined,
    /// Envoy's default text access log (and Istio's longer default).
    Envoy,
    /// The JSON access log format `envoy/envoy.yaml` configures.
    EnvoyJson,
}

/// One recorded request and its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub ts_ms: u64,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub peer: Option<String>,
    pub host: Option<String>,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub country: Option<String>,
}

/// A line (or HAR entry) that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
    pub reason: String,
}

/// Guesses the format from the first non-empty line.
pub fn detect(text: &str) -> Format {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if first.starts_with('{') {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(first) {
            if map.contains_key("start_time") {
                return Format::EnvoyJson;
            }
            if map.contains_key("ts_ms") || map.contains_key("ts") {
                return Format::Jsonl;
            }
        }
        // A multi-line JSON document: HAR.
        if text.trim_start().starts_with('{') && text.contains("\"log\"") {
            return Format::Har;
        }
        return Format::Jsonl;
    }
    if first.starts_with('[') {
        return Format::Envoy;
    }
    Format::Combined
}

pub fn parse(format: Format, text: &str, out: &mut Vec<Entry>, bad: &mut Vec<Malformed>) {
    match format {
        Format::Har => parse_har(text, out, bad),
        _ => {
            for (i, line) in text.lines().enumerate() {
                let line = line.trim_end_matches('\r');
                if line.trim().is_empty() || line.starts_with('#') {
                    continue;
                }
                let parsed = match format {
                    Format::Jsonl => parse_jsonl(line),
                    Format::Combined => parse_combined(line),
                    Format::Envoy => parse_envoy_text(line),
                    Format::EnvoyJson => parse_envoy_json(line),
                    Format::Har => Err("unreachable".into()),
                };
                match parsed {
                    Ok(entry) => out.push(entry),
                    Err(reason) => bad.push(Malformed {
                        line: i + 1,
                        reason,
                    }),
                }
            }
        }
    }
}

fn rfc3339_ms(s: &str) -> Result<u64, String> {
    let t = DateTime::parse_from_rfc3339(s.trim()).map_err(|e| format!("bad time {s:?}: {e}"))?;
    u64::try_from(t.timestamp_millis()).map_err(|_| format!("time before 1970: {s:?}"))
}

fn split_headers(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> (Vec<(String, String)>, Option<String>) {
    let mut host = None;
    let mut headers = Vec::new();
    for (k, v) in pairs {
        let k = k.to_ascii_lowercase();
        if k == "host" || k == ":authority" {
            host = Some(v.clone());
        }
        headers.push((k, v));
    }
    (headers, host)
}

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
}

fn parse_jsonl(line: &str) -> Result<Entry, String> {
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
    })
}

/// Splits a log line into `[bracketed]`, `"quoted"` (with `\"` escapes) and bare tokens.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    Bracketed(String),
    Quoted(String),
    Bare(String),
}

/// Appends characters up to the next blank to `out`.
fn read_bare(chars: &mut std::iter::Peekable<std::str::Chars>, out: &mut String) {
    while let Some(&c) = chars.peek() {
        if c == ' ' || c == '\t' {
            break;
        }
        out.push(c);
        chars.next();
    }
}

fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '[' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some(']') => break,
                        Some(c) => s.push(c),
                        None => return Err("unterminated [".into()),
                    }
                }
                // `[2001:db8::1]:443` is an address, not a bracketed field.
                if chars.peek().is_some_and(|c| *c != ' ' && *c != '\t') {
                    let mut bare = format!("[{s}]");
                    read_bare(&mut chars, &mut bare);
                    tokens.push(Token::Bare(bare));
                } else {
                    tokens.push(Token::Bracketed(s));
                }
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some(c) => s.push(c),
                            None => return Err("unterminated quote".into()),
                        },
                        Some('"') => break,
                        Some(c) => s.push(c),
                        None => return Err("unterminated quote".into()),
                    }
                }
                tokens.push(Token::Quoted(s));
            }
            _ => {
                let mut s = String::new();
                read_bare(&mut chars, &mut s);
                tokens.push(Token::Bare(s));
            }
        }
    }
    Ok(tokens)
}

fn present(s: &str) -> Option<String> {
    (!s.is_empty() && s != "-").then(|| s.to_string())
}

fn request_line(s: &str) -> Result<(String, String), String> {
    let mut parts = s.split(' ');
    match (parts.next(), parts.next()) {
        (Some(m), Some(p)) if !m.is_empty() && !p.is_empty() => Ok((m.to_string(), p.to_string())),
        _ => Err(format!("bad request line {s:?}")),
    }
}

fn status_of(s: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .ok()
        .filter(|s| (100..=999).contains(s))
        .ok_or_else(|| format!("bad status {s:?}"))
}

/// `203.0.113.7 - user [13/May/2025:18:51:48 +0000] "GET /p HTTP/1.1" 404 153 "referer" "agent"`
fn parse_combined(line: &str) -> Result<Entry, String> {
    let tokens = tokenize(line)?;
    let mut it = tokens.iter();
    let peer = match it.next() {
        Some(Token::Bare(ip)) => ip.clone(),
        _ => return Err("expected the client address first".into()),
    };
    let time = it
        .find_map(|t| match t {
            Token::Bracketed(s) => Some(s.clone()),
            _ => None,
        })
        .ok_or("no [time]")?;
    let ts = DateTime::parse_from_str(&time, "%d/%b/%Y:%H:%M:%S %z")
        .map_err(|e| format!("bad time {time:?}: {e}"))?;
    let (method, path) = match it.next() {
        Some(Token::Quoted(r)) => request_line(r)?,
        _ => return Err("no \"request line\"".into()),
    };
    let status = match it.next() {
        Some(Token::Bare(s)) => status_of(s)?,
        _ => return Err("no status".into()),
    };
    let _bytes = it.next();
    let mut headers = Vec::new();
    if let Some(Token::Quoted(referer)) = it.next() {
        if let Some(r) = present(referer) {
            headers.push(("referer".to_string(), r));
        }
    }
    if let Some(Token::Quoted(agent)) = it.next() {
        if let Some(a) = present(agent) {
            headers.push(("user-agent".to_string(), a));
        }
    }
    Ok(Entry {
        ts_ms: u64::try_from(ts.timestamp_millis()).map_err(|_| "time before 1970")?,
        method,
        path,
        status,
        peer: Some(peer),
        host: None,
        headers,
        country: None,
    })
}

/// Envoy's default: `[START_TIME] "METHOD PATH PROTO" CODE FLAGS ... "XFF" "UA" "REQ-ID"
/// "AUTHORITY" "UPSTREAM_HOST"`, optionally followed (Istio's default) by upstream cluster,
/// upstream local, downstream local and downstream remote addresses.
fn parse_envoy_text(line: &str) -> Result<Entry, String> {
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

fn parse_envoy_json(line: &str) -> Result<Entry, String> {
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

fn parse_har(text: &str, out: &mut Vec<Entry>, bad: &mut Vec<Malformed>) {
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            bad.push(Malformed {
                line: e.line(),
                reason: format!("not a HAR document: {e}"),
            });
            return;
        }
    };
    let Some(entries) = doc.pointer("/log/entries").and_then(Value::as_array) else {
        bad.push(Malformed {
            line: 1,
            reason: "no log.entries".into(),
        });
        return;
    };
    for (i, e) in entries.iter().enumerate() {
        match har_entry(e) {
            Ok(entry) => out.push(entry),
            // HAR has no lines that matter: report the entry number.
            Err(reason) => bad.push(Malformed {
                line: i + 1,
                reason: format!("entry {}: {reason}", i + 1),
            }),
        }
    }
}

fn har_entry(e: &Value) -> Result<Entry, String> {
    let started = e
        .get("startedDateTime")
        .and_then(Value::as_str)
        .ok_or("no startedDateTime")?;
    let method = e
        .pointer("/request/method")
        .and_then(Value::as_str)
        .ok_or("no request.method")?;
    let url = e
        .pointer("/request/url")
        .and_then(Value::as_str)
        .ok_or("no request.url")?;
    let status = e
        .pointer("/response/status")
        .and_then(Value::as_u64)
        .ok_or("no response.status")?;
    let path = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            match rest.find(['/', '?']) {
                Some(j) if rest[j..].starts_with('/') => rest[j..].to_string(),
                Some(j) => format!("/{}", &rest[j..]),
                None => "/".to_string(),
            }
        }
        None => url.to_string(),
    };
    let pairs = e
        .pointer("/request/headers")
        .and_then(Value::as_array)
        .map(|hs| {
            hs.iter()
                .filter_map(|h| {
                    Some((
                        h.get("name")?.as_str()?.to_string(),
                        h.get("value")?.as_str()?.to_string(),
                    ))
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let (headers, mut host) = split_headers(pairs);
    if host.is_none() {
        host = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', '?']).next())
            .map(str::to_string);
    }
    Ok(Entry {
        ts_ms: rfc3339_ms(started)?,
        method: method.to_string(),
        path,
        status: u16::try_from(status).map_err(|_| "bad response.status")?,
        peer: None,
        host,
        headers,
        country: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(detect(r#"{"ts_ms": 1, "method": "GET"}"#), Format::Jsonl);
        assert_eq!(
            detect("\n{\"start_time\": \"2025-01-01T00:00:00Z\"}"),
            Format::EnvoyJson
        );
        assert_eq!(detect("{\n  \"log\": {\"entries\": []}\n}"), Format::Har);
        assert_eq!(
            detect("[2025-05-13T18:51:48.123Z] \"GET / HTTP/1.1\" 200"),
            Format::Envoy
        );
        assert_eq!(
            detect("1.2.3.4 - - [13/May/2025:18:51:48 +0000] \"GET / HTTP/1.1\" 200 1"),
            Format::Combined
        );
    }

    #[test]
    fn combined_line() {
        let e = parse_combined(r#"2001:db8::7 - bob [13/May/2025:18:51:48 +0200] "GET /a?b=1 HTTP/1.1" 404 153 "-" "curl/8 \"x\"""#).unwrap();
        assert_eq!(e.ts_ms, 1_747_155_108_000);
        assert_eq!(
            (e.method.as_str(), e.path.as_str(), e.status),
            ("GET", "/a?b=1", 404)
        );
        assert_eq!(e.peer.as_deref(), Some("2001:db8::7"));
        assert_eq!(
            e.headers,
            vec![("user-agent".to_string(), "curl/8 \"x\"".to_string())]
        );
        assert!(parse_combined("garbage").is_err());
        assert!(
            parse_combined(r#"1.2.3.4 - - [13/May/2025:18:51:48 +0000] "GET /" 99 1"#).is_err()
        );
    }

    #[test]
    fn envoy_default_and_istio_lines() {
        let plain = r#"[2025-05-13T18:51:48.123Z] "POST /login HTTP/1.1" 401 - 12 0 3 2 "198.51.100.1" "py/3" "abc" "api.example.com" "10.0.0.5:8080""#;
        let e = parse_envoy_text(plain).unwrap();
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
        let e = parse_envoy_text(istio).unwrap();
        assert_eq!(e.peer.as_deref(), Some("203.0.113.7:5555"));
        let v6 = istio.replace("203.0.113.7:5555", "[2001:db8::5]:5555");
        assert_eq!(
            parse_envoy_text(&v6).unwrap().peer.as_deref(),
            Some("[2001:db8::5]:5555")
        );
        assert_eq!(
            e.headers,
            vec![("user-agent".to_string(), "curl".to_string())]
        );
    }

    #[test]
    fn jsonl_accepts_float_seconds() {
        let e = parse_jsonl(r#"{"ts": 1747162308.1234, "method": "GET", "path": "/", "status": 404, "headers": {"Host": "h"}}"#).unwrap();
        assert_eq!(e.ts_ms, 1_747_162_308_123);
        assert_eq!(e.host.as_deref(), Some("h"));
        assert!(parse_jsonl(r#"{"method": "GET", "path": "/", "status": 404}"#).is_err());
    }
}
