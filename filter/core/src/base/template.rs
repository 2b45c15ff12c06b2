//! Akto-style API path templates: `/orders/123` → `/orders/INTEGER`.

/// Longest path kept in events and samples; longer ones are cut at a character boundary.
pub const MAX_URL_BYTES: usize = 2048;

/// The path without query string or fragment.
pub fn strip_query(path: &str) -> &str {
    match path.find(['?', '#']) {
        Some(i) => path.get(..i).unwrap_or(path),
        None => path,
    }
}

/// The host (without port or user info) and the path with its query of an absolute request URL
/// as runtimes serialize it (`https://host:port/path?query#fragment`). Hosts that hand over a
/// URL string (Workers) use it instead of a URL parser and its IDNA tables.
pub fn request_url_parts(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.rsplit_once(':') {
        // A colon inside brackets belongs to an IPv6 address, not a port.
        Some((host, port)) if !port.contains(']') => host,
        _ => host_port,
    };
    (host, if path.is_empty() { "/" } else { path })
}

/// Cuts `s` to at most `max` bytes at a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.get(..cut).unwrap_or("")
}

/// The template of a path: integer segments become `INTEGER`, 24-hex ids `OBJECT_ID`, UUIDs
/// and long alphanumeric ids (at least 6 characters, 3 digits and a letter) `STRING`.
pub fn template(path: &str) -> String {
    let path = truncate(strip_query(path), MAX_URL_BYTES);
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(segment_template(segment).unwrap_or(segment));
    }
    if out.len() > MAX_URL_BYTES {
        // Replacements can grow a path ("1" → "INTEGER"): keep whole segments within the cap,
        // so that a template is its own template.
        let cut = out
            .get(..=MAX_URL_BYTES)
            .and_then(|head| head.rfind('/'))
            .unwrap_or(0);
        out.truncate(cut);
    }
    out
}

fn segment_template(s: &str) -> Option<&'static str> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    if b.iter().all(u8::is_ascii_digit) {
        return Some("INTEGER");
    }
    if b.len() == 24 && b.iter().all(u8::is_ascii_hexdigit) {
        return Some("OBJECT_ID");
    }
    if is_uuid(b) {
        return Some("STRING");
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let letters = b.iter().filter(|c| c.is_ascii_alphabetic()).count();
    let id_like = b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_');
    if id_like && b.len() >= 6 && digits >= 3 && letters >= 1 {
        return Some("STRING");
    }
    None
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn templates_stay_within_the_cap_in_whole_segments() {
        let path = "/1".repeat(MAX_URL_BYTES / 2);
        let t = template(&path);
        assert!(t.len() <= MAX_URL_BYTES, "{}", t.len());
        assert!(t.ends_with("/INTEGER"));
        assert_eq!(template(&t), t);
        let short = "/orders/1";
        assert_eq!(template(short), "/orders/INTEGER");
    }

    #[test]
    fn request_urls_split_into_host_and_path_with_query() {
        for (url, host, path) in [
            ("https://api.test/scan/2?x=1", "api.test", "/scan/2?x=1"),
            ("https://api.test:8443/a#frag", "api.test", "/a"),
            ("http://user:pw@api.test/", "api.test", "/"),
            ("http://[2001:db8::1]:8080/v1?q", "[2001:db8::1]", "/v1?q"),
            ("http://[2001:db8::1]/v1", "[2001:db8::1]", "/v1"),
            ("https://api.test", "api.test", "/"),
            ("https://api.test?q=1", "api.test", "?q=1"),
            ("not a url", "not a url", "/"),
            ("", "", "/"),
        ] {
            assert_eq!(request_url_parts(url), (host, path), "{url}");
        }
    }

    #[test]
    fn templates() {
        let cases = [
            ("/orders/123", "/orders/INTEGER"),
            ("/orders/123?expand=1", "/orders/INTEGER"),
            (
                "/users/550e8400-e29b-41d4-a716-446655440000/cart",
                "/users/STRING/cart",
            ),
            ("/items/507f1f77bcf86cd799439011", "/items/OBJECT_ID"),
            ("/items/507f1f77bcf86cd79943901", "/items/STRING"),
            ("/tokens/ab12c3", "/tokens/STRING"),
            ("/tokens/ab12c", "/tokens/ab12c"),
            ("/tokens/abc12d", "/tokens/abc12d"),
            ("/v1/api/test/orders", "/v1/api/test/orders"),
            ("/v2", "/v2"),
            ("/", "/"),
            ("", ""),
            ("/a//b/", "/a//b/"),
            ("/files/report-2024.pdf", "/files/report-2024.pdf"),
            ("/ünï/42", "/ünï/INTEGER"),
        ];
        for (path, want) in cases {
            assert_eq!(template(path), want, "{path}");
        }
    }

    #[test]
    fn long_paths_are_cut_on_char_boundaries() {
        let path = format!("/{}", "é".repeat(5000));
        let t = template(&path);
        assert!(t.len() <= MAX_URL_BYTES && t.len() >= MAX_URL_BYTES - 1);
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("é", 1), "");
    }
}
