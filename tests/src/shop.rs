//! A small web shop for attack tools to scan: an HTML home page with links and forms, a login, a
//! product page, comments, a JSON order API, file and template endpoints, a URL "preview" and a
//! "ping" tool. Nothing in it reads files, runs commands or fetches URLs: every answer is made up
//! from the request. Every request it receives is recorded, in memory and as one JSON line of a
//! log file, in the shape of `../shared/attack-corpus/crs-dev.jsonl` (see [`ShopRequest`]).
//!
//! | route | answers |
//! |---|---|
//! | `GET /` | 200, the home page (links and forms below) |
//! | `GET /search?q=` | 200, the results page (`q` HTML-escaped) |
//! | `GET /login` | 200, the login form; with HTTP Basic credentials, as `POST /login` |
//! | `POST /login` | form `user`, `password`, or HTTP Basic credentials: 200 for the one right pair, else 401 |
//! | `GET /products` | 200, the list; `?id=1..=50` 200, another number 404, not a number 400 |
//! | `POST /comments` | form `name`, `comment`: 201 |
//! | `GET /api/orders` | 200; `POST` a JSON object with a string `item` (and optional `qty`, `note`): 201, else 400 |
//! | `GET /download?file=` | 200 for `report.pdf` and `invoice.pdf`, else 404 |
//! | `GET /page?template=` | 200 for `home`, `about`, `contact`, else 404 |
//! | `GET /preview?url=` | 200, says that previews are off: the URL is never fetched |
//! | `GET /tools/ping?host=` | 200 for a host name or address, 400 for anything else: nothing is run |
//! | anything else | 404 (405 for another method on a known path) |

use serde_json::{json, Map, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The one pair [`Shop`] accepts at `POST /login` (in no tool's word list).
pub const SHOP_USER: &str = "shop-admin";
pub const SHOP_PASSWORD: &str = "correct-horse-battery-staple-7";

/// The header naming the tool (the actor) that sent a request.
pub const TOOL_HEADER: &str = "x-actor";

/// Bodies are recorded up to this many bytes.
const MAX_BODY: usize = 1 << 20;

/// One received request, as recorded: the fields of a `crs-dev.jsonl` line that describe the
/// request, and the sending tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopRequest {
    /// `shop-<n>`, n counting the shop's requests from 1.
    pub case: String,
    pub method: String,
    /// The request target as received, query string included, not decoded.
    pub path: String,
    /// Names in lower case, in arrival order; a repeated name's values joined with `, `.
    pub headers: Vec<(String, String)>,
    /// The body (its first MiB) as UTF-8, invalid sequences replaced with U+FFFD.
    pub body: String,
    /// The `x-actor` header's value, `""` without one.
    pub tool: String,
}

impl ShopRequest {
    /// The path without its query string.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    /// The raw query string (`""` without one).
    pub fn query(&self) -> &str {
        self.path.split_once('?').map_or("", |(_, q)| q)
    }

    /// A `crs-dev.jsonl`-shaped line: `case`, `category` (given), `method`, `path`, `headers` (an
    /// object), `body`, then `tool`.
    pub fn to_json(&self, case: &str, category: &str) -> Map<String, Value> {
        let mut headers = Map::new();
        for (k, v) in &self.headers {
            headers.insert(k.clone(), Value::String(v.clone()));
        }
        let mut line = Map::new();
        line.insert("case".into(), json!(case));
        line.insert("category".into(), json!(category));
        line.insert("method".into(), json!(self.method));
        line.insert("path".into(), json!(self.path));
        line.insert("headers".into(), Value::Object(headers));
        line.insert("body".into(), json!(self.body));
        line.insert("tool".into(), json!(self.tool));
        line
    }
}

/// The shop, on `127.0.0.1` and an ephemeral port; stops accepting connections when dropped
/// (a connection's thread ends when its peer closes it, or after a minute without a request).
///
/// A plain HTTP/1.1 server on std, a thread per connection: with `tiny_http`, a request on one
/// of Envoy's many keep-alive upstream connections sometimes waited, unread, until another
/// connection closed (10 s, the tool's timeout, under wfuzz).
pub struct Shop {
    pub port: u16,
    pub log_path: PathBuf,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<ShopRequest>>>,
}

impl Shop {
    /// Starts the shop; every request is also appended to `log_path` (JSON lines, `category`
    /// empty: the shop cannot know it).
    pub fn start(log_path: &Path) -> Shop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the shop listens");
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let log = Arc::new(Mutex::new(
            File::create(log_path).unwrap_or_else(|e| panic!("{}: {e}", log_path.display())),
        ));
        let requests: Arc<Mutex<Vec<ShopRequest>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, requests2, stop2) = (Arc::clone(&log), Arc::clone(&requests), Arc::clone(&stop));
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (log, requests) = (Arc::clone(&log2), Arc::clone(&requests2));
                thread::spawn(move || serve(conn, &log, &requests));
            }
        });
        Shop {
            port,
            log_path: log_path.to_path_buf(),
            stop,
            requests,
        }
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<ShopRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many requests were received so far.
    pub fn count(&self) -> usize {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread up so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One request as read from the connection.
struct Raw {
    method: String,
    target: String,
    /// HTTP/1.0 without `connection: keep-alive`, or `connection: close`.
    close: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Serves the requests of one connection in order until the peer closes it, sends something
/// that is not HTTP/1.x, or stays silent for a minute.
fn serve(conn: TcpStream, log: &Mutex<File>, requests: &Mutex<Vec<ShopRequest>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    while let Some(raw) = read_request(&mut reader) {
        let recorded = record(&raw, log, requests);
        let (status, content_type, body) = answer(&recorded);
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
            reason(status),
            body.len()
        );
        if status == 401 && recorded.headers.iter().any(|(k, _)| k == "authorization") {
            head.push_str("www-authenticate: Basic realm=\"shop\"\r\n");
        }
        if raw.close {
            head.push_str("connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if raw.method != "HEAD" {
            bytes.extend_from_slice(body.as_bytes());
        }
        if out.write_all(&bytes).and_then(|()| out.flush()).is_err() || raw.close {
            return;
        }
    }
}

fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    let n = reader.take(64 * 1024).read_until(b'\n', &mut line).ok()?;
    if n == 0 || line.last() != Some(&b'\n') {
        return None;
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Some(String::from_utf8_lossy(&line).into_owned())
}

/// The next request, its body read by `content-length` or chunked encoding; `None` at the end
/// of the connection or on anything unexpected.
fn read_request(reader: &mut impl BufRead) -> Option<Raw> {
    let mut line = read_line(reader)?;
    while line.is_empty() {
        line = read_line(reader)?;
    }
    let mut parts = line.splitn(3, ' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match headers.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(value);
            }
            None => headers.push((name, value.to_string())),
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let connection = header("connection").unwrap_or_default();
    let close = connection.contains("close")
        || (version == "HTTP/1.0" && !connection.contains("keep-alive"));
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let size = read_line(reader)?;
            let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !read_line(reader)?.is_empty() {}
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).ok()?;
            read_line(reader)?;
        }
    } else if let Some(length) = header("content-length") {
        let length: u64 = length.trim().parse().ok()?;
        reader.take(length).read_to_end(&mut body).ok()?;
        if body.len() as u64 != length {
            return None;
        }
    }
    body.truncate(MAX_BODY);
    Some(Raw {
        method: method.to_string(),
        target: target.to_string(),
        close,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Other",
    }
}

fn record(raw: &Raw, log: &Mutex<File>, requests: &Mutex<Vec<ShopRequest>>) -> ShopRequest {
    let tool = raw
        .headers
        .iter()
        .find(|(k, _)| k == TOOL_HEADER)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut list = requests.lock().unwrap_or_else(|p| p.into_inner());
    let recorded = ShopRequest {
        case: format!("shop-{}", list.len() + 1),
        method: raw.method.clone(),
        path: raw.target.clone(),
        headers: raw.headers.clone(),
        body: String::from_utf8_lossy(&raw.body).into_owned(),
        tool,
    };
    // Written while the list is locked, so the file's order is the list's.
    let line = Value::Object(recorded.to_json(&recorded.case, "")).to_string();
    let _ = writeln!(log.lock().unwrap_or_else(|p| p.into_inner()), "{line}");
    list.push(recorded.clone());
    recorded
}

const HOME: &str = r#"<!doctype html>
<html><head><title>Shop</title></head><body>
<h1>Shop</h1>
<ul>
  <li><a href="/products?id=1">Blue mug</a></li>
  <li><a href="/products?id=2">Red scarf</a></li>
  <li><a href="/download?file=report.pdf">Annual report</a></li>
  <li><a href="/page?template=home">About this shop</a></li>
  <li><a href="/preview?url=https://example.com">Link preview</a></li>
  <li><a href="/tools/ping?host=localhost">Status</a></li>
  <li><a href="/login">Sign in</a></li>
</ul>
<form action="/search" method="get">
  <input type="text" name="q" value="mug"><input type="submit" value="Search">
</form>
<form action="/login" method="post">
  <input type="text" name="user"><input type="password" name="password">
  <input type="submit" value="Sign in">
</form>
<form action="/comments" method="post">
  <input type="text" name="name" value="guest"><textarea name="comment">Nice shop</textarea>
  <input type="submit" value="Comment">
</form>
</body></html>
"#;

const LOGIN: &str = r#"<!doctype html>
<html><head><title>Sign in</title></head><body>
<form action="/login" method="post">
  <input type="text" name="user"><input type="password" name="password">
  <input type="submit" value="Sign in">
</form>
</body></html>
"#;

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// Status, content type and body for a request.
fn answer(r: &ShopRequest) -> (u16, &'static str, String) {
    let query = form(r.query());
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let get = r.method == "GET" || r.method == "HEAD";
    match (r.route(), get) {
        ("/", true) => (200, HTML, HOME.into()),
        ("/search", true) => {
            let q = escape(param("q").unwrap_or(""));
            (
                200,
                HTML,
                page("Search", &format!("No products match <b>{q}</b>.")),
            )
        }
        ("/login", true) if !r.headers.iter().any(|(k, _)| k == "authorization") => {
            (200, HTML, LOGIN.into())
        }
        ("/login", _) if get || r.method == "POST" => {
            if login_ok(r) {
                (200, HTML, page("Welcome", "Signed in."))
            } else {
                (401, HTML, page("Sign in", "Invalid user name or password."))
            }
        }
        ("/products", true) => match param("id") {
            None => (200, HTML, page("Products", "Blue mug, Red scarf")),
            Some(id) => match id.parse::<u32>() {
                Ok(n) if (1..=50).contains(&n) => {
                    (200, HTML, page(&format!("Product {n}"), "In stock."))
                }
                Ok(_) => (404, HTML, page("Products", "No such product.")),
                Err(_) => (400, HTML, page("Products", "The id is a number.")),
            },
        },
        ("/comments", false) if r.method == "POST" => {
            let fields = form(&r.body);
            let name = fields.iter().find(|(k, _)| k == "name").map(|(_, v)| v);
            let text = escape(name.map_or("guest", |s| s.as_str()));
            (201, HTML, page("Thanks", &format!("Thanks, {text}.")))
        }
        ("/api/orders", true) => (200, JSON, r#"{"orders": []}"#.into()),
        ("/api/orders", false) if r.method == "POST" => {
            let order: Option<Value> = serde_json::from_str(&r.body).ok();
            match order
                .as_ref()
                .and_then(|o| o.get("item"))
                .and_then(Value::as_str)
            {
                Some(_) => (201, JSON, r#"{"id": 1001, "status": "created"}"#.into()),
                None => (400, JSON, r#"{"error": "an order needs an item"}"#.into()),
            }
        }
        ("/download", true) => match param("file") {
            Some("report.pdf" | "invoice.pdf") => (200, "application/pdf", "%PDF-1.4\n".into()),
            _ => (404, TEXT, "no such file".into()),
        },
        ("/page", true) => match param("template") {
            Some(t @ ("home" | "about" | "contact")) => {
                (200, HTML, page(t, "Welcome to the shop."))
            }
            _ => (404, TEXT, "no such template".into()),
        },
        ("/preview", true) => {
            let url = escape(param("url").unwrap_or(""));
            (
                200,
                HTML,
                page(
                    "Preview",
                    &format!("Previews are off: {url} was not fetched."),
                ),
            )
        }
        ("/tools/ping", true) => {
            let host = param("host").unwrap_or("");
            let valid = !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b));
            if valid {
                (200, TEXT, format!("{host} is up (not pinged)"))
            } else {
                (400, TEXT, "invalid host".into())
            }
        }
        ("/" | "/search" | "/login" | "/products" | "/comments" | "/api/orders", _)
        | ("/download" | "/page" | "/preview" | "/tools/ping", _) => {
            (405, TEXT, "method not allowed".into())
        }
        _ => (404, TEXT, "not found".into()),
    }
}

fn login_ok(r: &ShopRequest) -> bool {
    let fields = form(&r.body);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("user") == Some(SHOP_USER) && field("password") == Some(SHOP_PASSWORD) {
        return true;
    }
    let basic = r
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .and_then(|(_, v)| v.strip_prefix("Basic "))
        .and_then(|b64| decode_base64(b64.trim()));
    basic.is_some_and(|pair| pair == format!("{SHOP_USER}:{SHOP_PASSWORD}").as_bytes())
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><title>{}</title></head><body><p>{body}</p><a href=\"/\">Home</a></body></html>\n",
        escape(title)
    )
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `application/x-www-form-urlencoded` pairs, decoded (`+` is a space, bad escapes kept).
fn form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::new();
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len().max(1)]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms_and_basic_credentials() {
        assert_eq!(
            form("q=a+b%27&x=%zz&y"),
            vec![
                ("q".into(), "a b'".into()),
                ("x".into(), "%zz".into()),
                ("y".into(), "".into())
            ]
        );
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(decode_base64("YWRtaW46Yg==").unwrap(), b"admin:b");
        assert_eq!(decode_base64("cm9vdDph").unwrap(), b"root:a");
    }
}
