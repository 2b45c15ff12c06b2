//! Splitting a request into named values: the path, query parameters, headers worth
//! inspecting, cookies, and the body by its content type (form, JSON, XML, text).
use super::{Meter, Part, Request, Scope};
use crate::base::credentials::is_credential_header;

/// One named value of a request, still raw (the caller decodes it).
pub(crate) struct Value<'a> {
    pub part: Part,
    pub name: &'a str,
    pub value: &'a str,
    /// `+` means a space (query strings and forms).
    pub plus: bool,
    /// A header that may carry a URL the server fetches (SSRF looks only at those).
    pub header_urls: bool,
}

/// Headers a proxy or browser fills with structured values (content negotiation, caching,
/// connection management, fetch metadata, tracing). They are parsed, not reflected or
/// passed to a database or shell, and their syntax (`;q=0.9`, `*/*`) looks like attack text.
/// Sorted (binary search).
#[rustfmt::skip]
pub(crate) const SKIPPED_HEADERS: &[&str] = &[
    "accept", "accept-charset", "accept-encoding", "accept-language",
    "access-control-request-headers", "access-control-request-method", "cache-control",
    "connection", "content-encoding", "content-length", "content-type", "host", "if-match",
    "if-modified-since", "if-none-match", "keep-alive", "pragma", "priority", "proxy-connection",
    "te", "traceparent", "tracestate", "transfer-encoding", "upgrade-insecure-requests",
];

/// Headers whose URL is the browser's own page, not a fetch target: never SSRF evidence
/// (a developer's `referer: http://localhost:3000/` is normal).
pub(crate) fn header_may_carry_fetch_url(name: &str) -> bool {
    !(name.eq_ignore_ascii_case("referer")
        || name.eq_ignore_ascii_case("origin")
        || name.eq_ignore_ascii_case("user-agent"))
}

fn header_inspected(name: &str) -> bool {
    !(name.starts_with(':')
        || is_credential_header(name)
        || name.len() > 64
        || super::lex::in_table(name.as_bytes(), SKIPPED_HEADERS)
        || name
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("sec-")))
}

/// Calls `f` for each value the scope could want; stops when `f` returns false.
pub(crate) fn for_each_value(
    req: &Request,
    scope: &Scope,
    meter: &mut Meter,
    f: &mut dyn FnMut(Value, &mut Meter) -> bool,
) {
    let wants = |p: Part| super::Attack::ALL.iter().any(|a| scope.wants(*a, p));
    let (path, query) = match req.path.find('?') {
        Some(i) => (&req.path[..i], &req.path[i + 1..]),
        None => (req.path, ""),
    };
    let path = path.split('#').next().unwrap_or(path);
    let mut go = true;
    if wants(Part::Path) {
        go = f(value(Part::Path, "", path, false), meter);
    }
    if go && wants(Part::Query) && !query.is_empty() {
        go = form(Part::Query, query, meter, f);
    }
    if go && wants(Part::Headers) {
        req.headers.for_each(&mut |name, v| {
            if go && header_inspected(name) {
                let mut val = value(Part::Headers, name, v, false);
                val.header_urls = header_may_carry_fetch_url(name);
                go = f(val, meter);
            }
        });
    }
    if go && wants(Part::Cookies) {
        if let Some(c) = req.headers.get("cookie") {
            meter.add(c.len());
            for pair in c.split(';') {
                let pair = pair.trim_start();
                let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
                if go && !(n.is_empty() && v.is_empty()) {
                    go = f(value(Part::Cookies, n, v, false), meter);
                }
            }
        }
    }
    if go && wants(Part::Body) && !req.body.is_empty() {
        let body = String::from_utf8_lossy(req.body);
        body_values(req, &body, meter, f);
    }
}

fn value<'a>(part: Part, name: &'a str, value: &'a str, plus: bool) -> Value<'a> {
    Value {
        part,
        name,
        value,
        plus,
        header_urls: false,
    }
}

/// `a=1&b=2` (also `;`-free: only `&` separates, as browsers send it).
fn form(
    part: Part,
    s: &str,
    meter: &mut Meter,
    f: &mut dyn FnMut(Value, &mut Meter) -> bool,
) -> bool {
    meter.add(s.len());
    for pair in s.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        if !f(value(part, n, v, true), meter) {
            return false;
        }
    }
    true
}

#[derive(PartialEq)]
enum Kind {
    Form,
    Json,
    Xml,
    Multipart,
    Text,
    /// Media, archives, protobuf: bytes no application parses as text.
    Binary,
}

/// Content types whose bodies are not text (their bytes would only produce false positives).
const BINARY_TYPES: [&str; 10] = [
    "image/",
    "audio/",
    "video/",
    "font/",
    "application/octet-stream",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/grpc",
    "application/x-protobuf",
];

fn body_kind(req: &Request, body: &str) -> Kind {
    let ct = req
        .headers
        .get("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let has = |w: &str| ct.contains(w);
    if BINARY_TYPES.iter().any(|t| ct.trim_start().starts_with(t)) {
        Kind::Binary
    } else if has("json") {
        Kind::Json
    } else if has("x-www-form-urlencoded") {
        Kind::Form
    } else if has("xml") {
        Kind::Xml
    } else if has("multipart/") {
        Kind::Multipart
    } else if !ct.trim().is_empty() {
        Kind::Text
    } else {
        // No content type: sniff.
        match body.trim_start().as_bytes().first() {
            Some(b'{' | b'[') => Kind::Json,
            Some(b'<') => Kind::Xml,
            // What a form-handling framework would do with it (`+` is a space).
            _ => Kind::Form,
        }
    }
}

/// Not inlined: with the JSON, XML and multipart walkers, `inspect` was one function of 8.5 KB,
/// and V8 keeps compile memory that grows with the largest functions.
#[inline(never)]
fn body_values(
    req: &Request,
    body: &str,
    meter: &mut Meter,
    f: &mut dyn FnMut(Value, &mut Meter) -> bool,
) {
    match body_kind(req, body) {
        Kind::Form => {
            form(Part::Body, body, meter, f);
        }
        Kind::Json => {
            if !json(body, meter, f) {
                f(value(Part::Body, "", body, false), meter);
            }
        }
        Kind::Xml => xml(body, meter, f),
        Kind::Multipart => multipart(req, body, meter, f),
        Kind::Text => {
            f(value(Part::Body, "", body, false), meter);
        }
        Kind::Binary => {}
    }
}

/// Walks JSON flatly: each string (key or value) is a value named by the last key.
/// Returns false, having called `f` for nothing, if the text is not JSON (the caller then
/// scans it as text). A string cut by the body limit still counts.
fn json(body: &str, meter: &mut Meter, f: &mut dyn FnMut(Value, &mut Meter) -> bool) -> bool {
    let s = body.as_bytes();
    meter.add(s.len() * 2);
    // Pass 1: validate the token shape, so a non-JSON body is scanned as text.
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' => i = string_end(s, i + 1),
            b'{' | b'}' | b'[' | b']' | b',' | b':' | b' ' | b'\n' | b'\r' | b'\t' => i += 1,
            b'-' | b'+' | b'.' | b'0'..=b'9' | b'e' | b'E' => i += 1,
            b't' | b'f' | b'n' => {
                let w = [&b"true"[..], b"false", b"null"];
                match w.iter().find(|w| s[i..].starts_with(w)) {
                    Some(w) => i += w.len(),
                    None => return false,
                }
            }
            _ => return false,
        }
    }
    // Pass 2: emit strings.
    let mut key: &str = "";
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'"' {
            // Straight to the next string.
            i = s[i..]
                .iter()
                .position(|c| *c == b'"')
                .map_or(s.len(), |p| i + p);
            continue;
        }
        let end = string_end(s, i + 1);
        let closed = end > i + 1 && s.get(end - 1) == Some(&b'"');
        let text = if closed {
            body.get(i + 1..end - 1)
        } else {
            body.get(i + 1..)
        };
        let text = text.unwrap_or("");
        let mut j = end;
        while j < s.len() && matches!(s[j], b' ' | b'\n' | b'\r' | b'\t') {
            j += 1;
        }
        let is_key = s.get(j) == Some(&b':');
        if is_key {
            key = text;
            // Keys are values too: `{"$where": ..}`, `{";aptitude": ..}`.
            if !f(value(Part::Body, text, "", false), meter) {
                return true;
            }
        } else if !f(value(Part::Body, key, text, false), meter) {
            return true;
        }
        i = end.max(i + 1);
    }
    true
}

/// Index just past the closing quote of the string whose content starts at `i`.
fn string_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

/// XML: attribute values and text between tags are values (named by the attribute or the
/// enclosing tag); markup itself is not (`xmlns`, `<!DOCTYPE` are XML, not an attack).
fn xml(body: &str, meter: &mut Meter, f: &mut dyn FnMut(Value, &mut Meter) -> bool) {
    let s = body.as_bytes();
    meter.add(s.len());
    let mut i = 0;
    let mut tag: &str = "";
    while i < s.len() {
        if s[i] != b'<' {
            let end = s[i..]
                .iter()
                .position(|b| *b == b'<')
                .map_or(s.len(), |p| i + p);
            let text = body.get(i..end).unwrap_or("");
            if !text.trim().is_empty() && !f(value(Part::Body, tag, text, false), meter) {
                return;
            }
            i = end;
            continue;
        }
        if body.get(i..).is_some_and(|r| r.starts_with("<![CDATA[")) {
            let start = i + 9;
            let end = body
                .get(start..)
                .and_then(|r| r.find("]]>"))
                .map_or(s.len(), |p| start + p);
            if !f(
                value(Part::Body, tag, body.get(start..end).unwrap_or(""), false),
                meter,
            ) {
                return;
            }
            i = end + 3;
            continue;
        }
        // Markup declarations (`<!DOCTYPE .. [ .. ]>`, `<!ENTITY ..>`) are one value each, for
        // the XXE rule; comments are skipped.
        if s.get(i + 1) == Some(&b'!') {
            let end = declaration_end(s, i);
            let decl = body.get(i..end).unwrap_or("");
            if !decl.starts_with("<!--") && !f(value(Part::Body, "!DOCTYPE", decl, false), meter) {
                return;
            }
            i = end;
            continue;
        }
        // A tag: name, then name="value" pairs until `>`.
        let name_start = i + 1;
        let mut j = name_start;
        while j < s.len() && !matches!(s[j], b' ' | b'>' | b'/' | b'\n' | b'\t' | b'\r') {
            j += 1;
        }
        tag = body.get(name_start..j).unwrap_or("");
        // An XInclude element is passed whole, for the XXE rule.
        if tag.len() > 8
            && tag
                .get(tag.len() - 8..)
                .is_some_and(|t| t.eq_ignore_ascii_case(":include"))
        {
            let end = s[i..]
                .iter()
                .position(|b| *b == b'>')
                .map_or(s.len(), |p| i + p + 1);
            if !f(
                value(Part::Body, tag, body.get(i..end).unwrap_or(""), false),
                meter,
            ) {
                return;
            }
        }
        let mut attr: &str = "";
        while j < s.len() && s[j] != b'>' {
            match s[j] {
                b'"' | b'\'' => {
                    let q = s[j];
                    let end = s[j + 1..]
                        .iter()
                        .position(|b| *b == q)
                        .map_or(s.len(), |p| j + 1 + p);
                    if !f(
                        value(Part::Body, attr, body.get(j + 1..end).unwrap_or(""), false),
                        meter,
                    ) {
                        return;
                    }
                    j = end + 1;
                }
                c if super::lex::is_word(c) => {
                    let e = super::lex::word_end(s, j, b":-.");
                    attr = body.get(j..e).unwrap_or("");
                    j = e;
                }
                _ => j += 1,
            }
        }
        i = j + 1;
    }
}

/// Index just past the markup declaration or comment starting at `s[i]` (`<!`): a comment
/// ends at `-->`, a declaration at the `>` outside quotes and outside its `[...]` subset.
pub(crate) fn declaration_end(s: &[u8], i: usize) -> usize {
    if s[i..].starts_with(b"<!--") {
        return s[i + 4..]
            .windows(3)
            .position(|w| w == b"-->")
            .map_or(s.len(), |p| i + 4 + p + 3);
    }
    let mut quote = 0u8;
    let mut depth = 0usize;
    for (k, c) in s.iter().enumerate().skip(i + 2) {
        match *c {
            q @ (b'"' | b'\'') if quote == 0 => quote = q,
            q if quote != 0 && q == quote => quote = 0,
            _ if quote != 0 => {}
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b'>' if depth == 0 => return k + 1,
            _ => {}
        }
    }
    s.len()
}

/// `multipart/form-data`: each part's file name and content, named by the part's `name`.
/// Without a usable boundary the body is scanned as text.
fn multipart(
    req: &Request,
    body: &str,
    meter: &mut Meter,
    f: &mut dyn FnMut(Value, &mut Meter) -> bool,
) {
    let ct = req.headers.get("content-type").unwrap_or("");
    let boundary = ct
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty());
    let Some(boundary) = boundary else {
        f(value(Part::Body, "", body, false), meter);
        return;
    };
    meter.add(body.len() * 2);
    for part in body.split(boundary).skip(1) {
        let (head, content) = match part
            .find("\r\n\r\n")
            .map(|i| (i, 4))
            .or_else(|| part.find("\n\n").map(|i| (i, 2)))
        {
            Some((i, n)) => (&part[..i], part.get(i + n..).unwrap_or("")),
            None => continue,
        };
        let name = disposition(head, "name").unwrap_or("");
        if let Some(file) = disposition(head, "filename") {
            if !f(value(Part::Body, "filename", file, false), meter) {
                return;
            }
        }
        // The content ends where the next boundary's `--` begins.
        let content = content.strip_suffix("--").unwrap_or(content).trim_end();
        if !content.is_empty() && !f(value(Part::Body, name, content, false), meter) {
            return;
        }
    }
}

/// `name="x"` in a part's headers (`filename=` is not `name=`).
fn disposition<'a>(head: &'a str, key: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(p) = head.get(from..)?.find(key) {
        let at = from + p;
        let before = head[..at].bytes().last();
        let rest = head.get(at + key.len()..)?;
        if matches!(before, Some(b' ' | b';')) && rest.starts_with("=\"") {
            let v = &rest[2..];
            return Some(&v[..v.find('"').unwrap_or(v.len())]);
        }
        from = at + key.len();
    }
    None
}
