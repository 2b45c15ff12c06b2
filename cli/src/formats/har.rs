//! HAR 1.2 documents from browsers, Burp or Postman.

use super::{rfc3339_ms, split_headers, Entry, Malformed};
use serde_json::Value;

pub(super) fn parse(text: &str, out: &mut Vec<Entry>, bad: &mut Vec<Malformed>) {
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
        body: e
            .pointer("/request/postData/text")
            .and_then(Value::as_str)
            .map(str::to_string),
        // Base64 contents (binary responses) are not text a rule reads.
        response_body: e
            .pointer("/response/content")
            .filter(|c| c.get("encoding").is_none())
            .and_then(|c| c.get("text"))
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response's text is read as its body; a base64 one (binary) is not text to read.
    #[test]
    fn response_text_is_the_response_body_unless_base64() {
        let doc = |content: &str| {
            format!(
                r#"{{"log": {{"entries": [{{"startedDateTime": "2025-05-13T18:51:48.120Z",
                "request": {{"method": "GET", "url": "https://api.example.com/a?q=1", "headers": []}},
                "response": {{"status": 500, "content": {content}}}}}]}}}}"#
            )
        };
        let read = |content: &str| {
            let (mut out, mut bad) = (Vec::new(), Vec::new());
            parse(&doc(content), &mut out, &mut bad);
            assert!(bad.is_empty(), "{bad:?}");
            out.remove(0).response_body
        };
        assert_eq!(
            read(r#"{"mimeType": "text/plain", "text": "Traceback (most recent call last):"}"#),
            Some("Traceback (most recent call last):".to_string())
        );
        assert_eq!(
            read(r#"{"mimeType": "image/png", "text": "iVBORw0KGgo=", "encoding": "base64"}"#),
            None
        );
        assert_eq!(read(r#"{"mimeType": "text/plain", "size": 0}"#), None);
    }
}
