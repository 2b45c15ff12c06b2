//! Envoy's default text access log (and Istio's longer default) and the JSON access log
//! `envoy/envoy.yaml` configures.

use super::tokens::{tokenize, Token};
use super::{present, request_line, rfc3339_ms, status_of, Entry, Line};
use serde_json::Value;

/// Request headers, authority and peer.
type TextFields = (Vec<(String, String)>, Option<String>, Option<String>);

/// Whether a line starts like one of Envoy's: `[<RFC 3339 time>]`.
pub(super) fn looks_like(line: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .is_some_and(|(time, _)| rfc3339_ms(time).is_ok())
}

/// Envoy's default: `[START_TIME] "METHOD PATH PROTO" CODE FLAGS ... "XFF" "UA" "REQ-ID"
/// "AUTHORITY" "UPSTREAM_HOST"`, optionally followed (Istio's default) by upstream cluster,
/// upstream local, downstream local and downstream remote addresses. TCP proxy lines
/// (`"- - -" 0`) and requests that got no response (status `0`) are not HTTP.
pub(super) fn parse_text(line: &str) -> Result<Line, String> {
    let tokens = tokenize(line)?;
    let time = match tokens.first() {
        Some(Token::Bracketed(t)) => t,
        _ => return Err("expected [START_TIME] first".into()),
    };
    let ts_ms = rfc3339_ms(time)?;
    let request = match tokens.get(1) {
        Some(Token::Quoted(r)) => r,
        _ => return Err("no \"request line\"".into()),
    };
    let status = match tokens.get(2) {
        Some(Token::Bare(s)) => s,
        _ => return Err("no status".into()),
    };
    if status == "0" {
        return Ok(Line::NotHttp);
    }
    let status = status_of(status)?;
    if request.split(' ').all(|part| part == "-") {
        return Ok(Line::NotHttp);
    }
    let (method, path) = request_line(request);
    let (headers, host, peer) = text_fields(&tokens)?;
    Ok(Line::Http(Entry {
        ts_ms,
        method,
        path,
        status,
        peer,
        host,
        headers,
        country: None,
        body: None,
        response_body: None,
    }))
}

/// The request headers, authority and (Istio) peer of a text line: the last five quoted fields
/// after the status, and the fourth bare field after them.
fn text_fields(tokens: &[Token]) -> Result<TextFields, String> {
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
    Ok((headers, host, peer))
}

fn json_str(map: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => present(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One line of the JSON access log. Status `0` is not HTTP, as in the text format; a request
/// Envoy could not read (a 400 for bytes that are no HTTP) has method and path `-`.
pub(super) fn parse_json(line: &str) -> Result<Line, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let map = v.as_object().ok_or("not a JSON object")?;
    let ts_ms = rfc3339_ms(&json_str(map, "start_time").ok_or("no start_time")?)?;
    let status = json_str(map, "status").ok_or("no status")?;
    if status == "0" {
        return Ok(Line::NotHttp);
    }
    let status = status_of(&status)?;
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
    Ok(Line::Http(Entry {
        ts_ms,
        method: json_str(map, "method").unwrap_or_else(|| "-".to_string()),
        path: json_str(map, "path").unwrap_or_else(|| "-".to_string()),
        status,
        peer: json_str(map, "peer"),
        host: json_str(map, "authority"),
        headers,
        country: json_str(map, "country"),
        body: None,
        response_body: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(line: Result<Line, String>) -> Entry {
        match line {
            Ok(Line::Http(e)) => e,
            other => panic!("not an HTTP line: {other:?}"),
        }
    }

    #[test]
    fn envoy_default_and_istio_lines() {
        let plain = r#"[2025-05-13T18:51:48.123Z] "POST /login HTTP/1.1" 401 - 12 0 3 2 "198.51.100.1" "py/3" "abc" "api.example.com" "10.0.0.5:8080""#;
        let e = http(parse_text(plain));
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
        let e = http(parse_text(istio));
        assert_eq!(e.peer.as_deref(), Some("203.0.113.7:5555"));
        let v6 = istio.replace("203.0.113.7:5555", "[2001:db8::5]:5555");
        assert_eq!(
            http(parse_text(&v6)).peer.as_deref(),
            Some("[2001:db8::5]:5555")
        );
        assert_eq!(
            e.headers,
            vec![("user-agent".to_string(), "curl".to_string())]
        );
    }

    #[test]
    fn tcp_lines_and_requests_without_a_response_are_not_http() {
        for line in [
            // Envoy's default format on a TCP proxy.
            r#"[2025-05-13T18:51:50.412Z] "- - -" 0 - 1250 4389 2003 - "-" "-" "-" "-" "10.244.2.9:5432""#,
            // Istio's, for a TCP service, and for one whose upstream refused the connection.
            r#"[2025-05-13T18:51:50.412Z] "- - -" 0 - - - "-" 1250 4389 2003 - "-" "-" "-" "-" "10.244.2.9:5432" outbound|5432||postgres.db.svc.cluster.local 10.244.1.7:52212 10.96.14.3:5432 10.244.1.7:52210 - -"#,
            r#"[2025-05-13T18:51:51.000Z] "- - -" 0 UF,URX - - "-" 0 0 10 - "-" "-" "-" "-" "10.244.2.9:5432" outbound|5432||postgres.db.svc.cluster.local - 10.96.14.3:5432 10.244.1.7:52214 - -"#,
            // An HTTP client that hung up before the response (DC): nothing was answered.
            r#"[2025-05-13T18:51:52.000Z] "GET /slow HTTP/1.1" 0 DC downstream_remote_disconnect - "-" 0 0 3001 - "-" "curl/8.5.0" "5c1e7d2a-0b7e-4f57-9d8e-3b1f2a9c0d11" "api.example.com" "10.244.1.7:8080" inbound|8080|| 127.0.0.6:43211 10.244.1.7:8080 203.0.113.7:40001 - default"#,
        ] {
            assert_eq!(parse_text(line), Ok(Line::NotHttp), "{line}");
        }
        let json = r#"{"start_time": "2025-05-13T18:51:52.000Z", "method": "GET", "path": "/slow", "status": 0, "peer": "203.0.113.7:40001", "authority": "api.example.com", "x_forwarded_for": null, "user_agent": "curl/8.5.0"}"#;
        assert_eq!(parse_json(json), Ok(Line::NotHttp));
        // A status that is no number is still malformed.
        assert!(parse_text(
            r#"[2025-05-13T18:51:50.412Z] "- - -" x - 0 0 0 - "-" "-" "-" "-" "-""#
        )
        .is_err());
    }

    #[test]
    fn a_request_envoy_could_not_read_is_counted_with_method_and_path_dash() {
        // Bytes that are no HTTP method: Envoy answers 400 (DPE) and logs no method or path.
        let line = r#"[2025-05-13T18:51:53.000Z] "- - HTTP/1.1" 400 DPE http1.codec_error:HPE_INVALID_METHOD - "-" 0 11 0 - "-" "-" "-" "-" "-" - - 10.244.1.7:8080 203.0.113.9:5566 - -"#;
        let e = http(parse_text(line));
        assert_eq!(
            (
                e.method.as_str(),
                e.path.as_str(),
                e.status,
                e.peer.as_deref()
            ),
            ("-", "-", 400, Some("203.0.113.9:5566"))
        );
        let json = r#"{"start_time": "2025-05-13T18:51:53.000Z", "method": null, "path": null, "status": 400, "peer": "203.0.113.9:5566", "authority": null, "x_forwarded_for": null, "user_agent": null}"#;
        let e = http(parse_json(json));
        assert_eq!(
            (e.method.as_str(), e.path.as_str(), e.status, e.host),
            ("-", "-", 400, None)
        );
    }
}
