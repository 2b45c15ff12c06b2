//! nginx/Apache "combined" access logs, and the common log format (no referer, no agent).

use super::tokens::{push_escaped, tokenize, Token};
use super::{present, request_line, status_of, Entry};
use chrono::DateTime;

/// `203.0.113.7 - user [13/May/2025:18:51:48 +0000] "GET /p HTTP/1.1" 404 153 "referer" "agent"`
/// (the common format ends after the size). A request line with a stray quote
/// (`"GET" /x HTTP/1.0"`) throws the tokens off; the fields around it are then found from the
/// right, where they still are.
pub(super) fn parse(line: &str) -> Result<Entry, String> {
    from_the_left(line).or_else(|left| from_the_right(line).map_err(|_| left))
}

/// Whether a line has a combined log's `[13/May/2025:18:51:48 +0000]`.
pub(super) fn looks_like(line: &str) -> bool {
    prefix(line).is_ok()
}

fn apache_time(time: &str) -> Result<u64, String> {
    let ts = DateTime::parse_from_str(time, "%d/%b/%Y:%H:%M:%S %z")
        .map_err(|e| format!("bad time {time:?}: {e}"))?;
    u64::try_from(ts.timestamp_millis()).map_err(|_| "time before 1970".into())
}

/// The fields every line starts with: the client, and the time in brackets.
struct Prefix<'a> {
    peer: &'a str,
    ts_ms: u64,
    /// What follows the time.
    rest: &'a str,
}

fn prefix(line: &str) -> Result<Prefix<'_>, String> {
    let peer = line
        .split([' ', '\t'])
        .next()
        .filter(|p| !p.is_empty() && !p.starts_with(['[', '"']))
        .ok_or("expected the client address first")?;
    let (_, after_open) = line.split_once('[').ok_or("no [time]")?;
    let (time, rest) = after_open.split_once(']').ok_or("no [time]")?;
    Ok(Prefix {
        peer,
        ts_ms: apache_time(time)?,
        rest,
    })
}

fn from_the_left(line: &str) -> Result<Entry, String> {
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
    let ts_ms = apache_time(&time)?;
    let (method, path) = match it.next() {
        Some(Token::Quoted(r)) => request_line(r),
        _ => return Err("no \"request line\"".into()),
    };
    let status = match it.next() {
        Some(Token::Bare(s)) => status_of(s)?,
        _ => return Err("no status".into()),
    };
    match it.next() {
        None => {}
        Some(Token::Bare(size)) => size_of(size)?,
        Some(_) => return Err("no size after the status".into()),
    }
    let mut headers = Vec::new();
    if let Some(Token::Quoted(referer)) = it.next() {
        push_header(&mut headers, "referer", referer);
    }
    if let Some(Token::Quoted(agent)) = it.next() {
        push_header(&mut headers, "user-agent", agent);
    }
    Ok(Entry {
        ts_ms,
        method,
        path,
        status,
        peer: Some(peer),
        host: None,
        headers,
        country: None,
        body: None,
        response_body: None,
    })
}

/// `... "request" STATUS SIZE ["referer" "agent"]`, read from the end of the line: the request
/// line is whatever lies between the time and the status, quotes and all.
fn from_the_right(line: &str) -> Result<Entry, String> {
    let Prefix { peer, ts_ms, rest } = prefix(line)?;
    let mut rest = rest.trim_end();
    let mut headers = Vec::new();
    if rest.ends_with('"') {
        let (before, agent) = last_quoted(rest).ok_or("no \"user agent\"")?;
        let (before, referer) = last_quoted(before.trim_end()).ok_or("no \"referer\"")?;
        push_header(&mut headers, "referer", &referer);
        push_header(&mut headers, "user-agent", &agent);
        rest = before.trim_end();
    }
    let (before, size) = last_field(rest).ok_or("no size")?;
    size_of(size)?;
    let (before, status) = last_field(before.trim_end()).ok_or("no status")?;
    let status = status_of(status)?;
    let request = before
        .trim()
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or("no \"request line\"")?;
    let (method, path) = request_line(&unescape(request));
    Ok(Entry {
        ts_ms,
        method,
        path,
        status,
        peer: Some(peer.to_string()),
        host: None,
        headers,
        country: None,
        body: None,
        response_body: None,
    })
}

fn push_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    if let Some(v) = present(value) {
        headers.push((name.to_string(), v));
    }
}

/// The response size: bytes, or `-` for none.
fn size_of(s: &str) -> Result<(), String> {
    if s == "-" || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) {
        Ok(())
    } else {
        Err(format!("bad size {s:?}"))
    }
}

/// Splits `s` before its last blank-separated field.
fn last_field(s: &str) -> Option<(&str, &str)> {
    let (before, field) = s.rsplit_once([' ', '\t'])?;
    (!field.is_empty()).then_some((before, field))
}

/// Splits `s`, which ends with a quoted field, before that field: its opening quote is the last
/// one that starts a field (comes first or after a blank).
fn last_quoted(s: &str) -> Option<(&str, String)> {
    let inner = s.strip_suffix('"')?;
    let open = inner.char_indices().rev().find_map(|(i, c)| {
        let starts_field = inner.get(..i)?.is_empty() || inner.get(..i)?.ends_with([' ', '\t']);
        (c == '"' && starts_field).then_some(i)
    })?;
    Some((inner.get(..open)?, unescape(inner.get(open + 1..)?)))
}

/// Undoes the escaping quoted fields get (`\"`, `\\`), as the tokenizer does.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => push_escaped(&mut out, chars.next().unwrap_or('\\')),
            c => out.push(c),
        }
    }
    out
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

    fn shape(e: &Entry) -> (&str, &str, u16, Option<&str>) {
        (&e.method, &e.path, e.status, e.peer.as_deref())
    }

    #[test]
    fn clients_that_never_sent_a_request_line_count_with_method_and_path_dash() {
        // Apache: a connection left idle (408); nginx: one closed without a request (400).
        let apache = r#"45.148.10.81 - - [13/May/2025:03:14:07 +0000] "-" 408 - "-" "-""#;
        let e = parse(apache).unwrap();
        assert_eq!(shape(&e), ("-", "-", 408, Some("45.148.10.81")));
        assert_eq!(e.ts_ms, 1_747_106_047_000);
        assert_eq!(e.headers, vec![]);
        let nginx = r#"185.224.128.17 - - [13/May/2025:03:15:12 +0000] "-" 400 0 "-" "-""#;
        assert_eq!(
            shape(&parse(nginx).unwrap()),
            ("-", "-", 400, Some("185.224.128.17"))
        );
        let empty = r#"185.224.128.17 - - [13/May/2025:03:15:12 +0000] "" 400 0 "-" "-""#;
        assert_eq!(shape(&parse(empty).unwrap()).0, "-");
    }

    #[test]
    fn request_lines_with_a_stray_quote_are_read_from_the_right() {
        let nikto_ua = "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:001059)";
        let raw = r#"192.0.2.44 - - [13/May/2025:18:52:10 +0000] "GET" /hostadmin/?page=' HTTP/1.0" 404 196 "-" "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:001059)""#;
        let e = parse(raw).unwrap();
        assert_eq!(
            shape(&e),
            ("GET\"", "/hostadmin/?page='", 404, Some("192.0.2.44"))
        );
        assert_eq!(e.ts_ms, 1_747_162_330_000);
        assert_eq!(
            e.headers,
            vec![("user-agent".to_string(), nikto_ua.to_string())]
        );
        // Apache 2.4 escapes the quote: the same request, read from the left.
        let escaped = raw.replace(r#""GET" /"#, r#""GET\" /"#);
        assert!(from_the_left(&escaped).is_ok());
        assert_eq!(parse(&escaped).unwrap(), e);
        // A quote that pushes the protocol where the status belongs.
        let shifted = r#"192.0.2.44 - - [13/May/2025:18:52:11 +0000] "GET /cgi-bin/test.cgi?q=" HTTP/1.0" 404 196 "http://x/" "Nikto""#;
        let e = parse(shifted).unwrap();
        assert_eq!(
            shape(&e),
            ("GET", "/cgi-bin/test.cgi?q=\"", 404, Some("192.0.2.44"))
        );
        assert_eq!(
            e.headers[0],
            ("referer".to_string(), "http://x/".to_string())
        );
        // ... or a status-like word where the size belongs: the left reading would say 200.
        let fake = r#"192.0.2.44 - - [13/May/2025:18:52:12 +0000] "GET /a" 200 OK HTTP/1.0" 404 196 "-" "Nikto""#;
        assert_eq!(shape(&parse(fake).unwrap()).2, 404);
        // Broken on both sides (no size): still malformed, with the left reading's reason.
        let broken =
            r#"192.0.2.44 - - [13/May/2025:18:52:13 +0000] "GET" /x HTTP/1.0" 404 "-" "Nikto""#;
        assert_eq!(parse(broken), Err("bad status \"/x\"".to_string()));
    }

    #[test]
    fn request_lines_that_are_no_http_count_with_method_and_path_dash() {
        // TLS ClientHellos and a SOCKS5 greeting sent to the HTTP port, as Apache logs them
        // (bytes escaped) and answers them; nginx writes hex in capitals, a quote as \x22. And
        // an SSH client's banner, a single word.
        for line in [
            r#"45.148.10.81 - - [13/May/2025:03:14:07 +0000] "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" 400 226 "-" "-""#,
            r#"45.148.10.81 - - [13/May/2025:03:14:07 +0000] "\x05\x01\x00" 400 226 "-" "-""#,
            r#"45.148.10.81 - - [13/May/2025:03:14:07 +0000] "\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03 \x22\xB1" 400 157 "-" "-""#,
            r#"45.148.10.81 - - [13/May/2025:03:14:07 +0000] "SSH-2.0-Go" 400 226 "-" "-""#,
            r#"45.148.10.81 - - [13/May/2025:03:14:07 +0000] "\x16\x03\x01\x00\xa5" 400 226"#,
        ] {
            let e = parse(line).unwrap();
            assert_eq!(shape(&e), ("-", "-", 400, Some("45.148.10.81")), "{line}");
            assert_eq!((e.ts_ms, e.headers), (1_747_106_047_000, vec![]), "{line}");
        }
        // Escaped bytes elsewhere stay as the server wrote them, never control characters;
        // only an escaped quote or backslash stands for itself.
        let line = r#"192.0.2.7 - - [13/May/2025:03:14:07 +0000] "GET /\x00x HTTP/1.1" 404 0 "-" "zgrab\x01\n\"x\"\\""#;
        let e = parse(line).unwrap();
        assert_eq!((e.method.as_str(), e.path.as_str()), ("GET", r"/\x00x"));
        assert_eq!(
            e.headers,
            vec![("user-agent".to_string(), r#"zgrab\x01\n"x"\"#.to_string())]
        );
        // Read from the right (a stray quote), the same.
        let stray =
            r#"192.0.2.7 - - [13/May/2025:03:14:07 +0000] "\x16\x03"\x01" 400 0 "-" "a\x02""#;
        let e = parse(stray).unwrap();
        assert_eq!(shape(&e), ("-", "-", 400, Some("192.0.2.7")));
        assert_eq!(e.headers[0].1, r"a\x02");
        // A line whose structure is broken is malformed, binary or not: no status, a quote
        // never closed, no time.
        for broken in [
            r#"45.148.10.81 - - [13/May/2025:03:14:07 +0000] "\x16\x03\x01""#,
            r#"45.148.10.81 - - [13/May/2025:03:14:07 +0000] "\x16\x03\x01 400 226"#,
            r#"45.148.10.81 - - "\x16\x03\x01" 400 226 "-" "-""#,
        ] {
            assert!(parse(broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn the_common_log_format_still_reads() {
        let line = r#"198.51.100.23 - frank [13/May/2025:18:51:48 +0000] "GET /index.html HTTP/1.0" 200 2326"#;
        let e = parse(line).unwrap();
        assert_eq!(
            shape(&e),
            ("GET", "/index.html", 200, Some("198.51.100.23"))
        );
        assert_eq!((e.ts_ms, e.headers), (1_747_162_308_000, vec![]));
        let stray = r#"198.51.100.23 - - [13/May/2025:18:51:48 +0000] "GET" /x' HTTP/1.0" 404 -"#;
        assert_eq!(
            shape(&parse(stray).unwrap()),
            ("GET\"", "/x'", 404, Some("198.51.100.23"))
        );
    }

    #[test]
    fn a_host_name_is_kept_as_the_client() {
        let line = r#"crawl-66-249-66-1.googlebot.com - - [13/May/2025:18:51:48 +0000] "GET /robots.txt HTTP/1.1" 404 196 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)""#;
        assert_eq!(
            shape(&parse(line).unwrap()),
            (
                "GET",
                "/robots.txt",
                404,
                Some("crawl-66-249-66-1.googlebot.com")
            )
        );
        assert!(looks_like(line));
        assert!(!looks_like(
            "2025/05/13 18:51:48 [error] 29#29: *7 open() failed"
        ));
    }
}
