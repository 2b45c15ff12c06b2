//! nginx/Apache "combined" access logs.

use super::tokens::{tokenize, Token};
use super::{present, request_line, status_of, Entry};
use chrono::DateTime;

/// `203.0.113.7 - user [13/May/2025:18:51:48 +0000] "GET /p HTTP/1.1" 404 153 "referer" "agent"`
pub(super) fn parse(line: &str) -> Result<Entry, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_line() {
        let e = parse(r#"2001:db8::7 - bob [13/May/2025:18:51:48 +0200] "GET /a?b=1 HTTP/1.1" 404 153 "-" "curl/8 \"x\"""#).unwrap();
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
        assert!(parse("garbage").is_err());
        assert!(parse(r#"1.2.3.4 - - [13/May/2025:18:51:48 +0000] "GET /" 99 1"#).is_err());
    }
}
