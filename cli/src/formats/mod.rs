//! Recorded traffic in the formats operators have: JSON lines, HAR 1.2, nginx/Apache combined
//! logs, Envoy's default text access log and the JSON access log `envoy/` recommends.

mod combined;
mod envoy;
mod har;
mod jsonl;
mod tokens;

use chrono::DateTime;
use clap::ValueEnum;
use serde_json::Value;

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
        Format::Har => har::parse(text, out, bad),
        _ => {
            for (i, line) in text.lines().enumerate() {
                let line = line.trim_end_matches('\r');
                if line.trim().is_empty() || line.starts_with('#') {
                    continue;
                }
                let parsed = match format {
                    Format::Jsonl => jsonl::parse(line),
                    Format::Combined => combined::parse(line),
                    Format::Envoy => envoy::parse_text(line),
                    Format::EnvoyJson => envoy::parse_json(line),
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
}
