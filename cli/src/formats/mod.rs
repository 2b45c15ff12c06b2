//! Recorded traffic in the formats operators have: JSON lines, HAR 1.2, nginx/Apache combined
//! logs, Envoy's default text access log and the JSON access log `envoy/` recommends, as files
//! or as node logs (`/var/log/containers/*.log`, each line wrapped by the container runtime).
//!
//! The text formats are decoded by hand, leniently, rather than by a strict parser: real logs
//! hold what one refuses (a scanner's stray quotes, `-` for fields, a client logged by host
//! name, a line cut short, application output between the access-log lines, a request split
//! over two node-log records), and a replay counts and skips what it cannot read instead of
//! stopping. JSON itself is serde_json's, dates are chrono's.

mod combined;
mod envoy;
mod har;
mod jsonl;
mod tokens;
mod wrappers;

use chrono::DateTime;
use clap::ValueEnum;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{BufRead, Cursor, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line: ts_ms (or ts), method, path, status, peer, headers, country,
    /// body.
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
    /// The request body, where the format records it (JSON lines' `body`, HAR's
    /// `postData.text`).
    pub body: Option<String>,
    /// The response body, where the format records it (JSON lines' `response_body`, HAR's
    /// `response.content.text`): what rules that read responses look at.
    pub response_body: Option<String>,
}

/// A line (or HAR entry) that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
    pub reason: String,
}

/// Guesses the format of a plain (unwrapped) file from its first non-empty line.
pub fn detect(text: &str) -> Format {
    detect_first(first_line(text)).unwrap_or(if text.contains(HAR_MARK) {
        Format::Har
    } else {
        Format::Jsonl
    })
}

/// What HAR documents hold at their top (`{"log": {...}}`).
const HAR_MARK: &str = "\"log\"";

/// The first non-empty line of `text`, trimmed.
fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// The format a plain file's first non-empty line says, or `None` for a JSON object of no line
/// format, or no whole object: HAR (a document spread over lines) if the file mentions `"log"`,
/// else JSON lines.
fn detect_first(first: &str) -> Option<Format> {
    if first.starts_with('{') {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(first) {
            if map.contains_key("start_time") {
                return Some(Format::EnvoyJson);
            }
            if map.contains_key("ts_ms") || map.contains_key("ts") {
                return Some(Format::Jsonl);
            }
        }
        return None;
    }
    if first.starts_with('[') {
        return Some(Format::Envoy);
    }
    Some(Format::Combined)
}

/// What an access-log line holds.
// Returned per line and taken apart at once: boxing the entry would allocate per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// A request and the response it got.
    Http(Entry),
    /// A connection that got no HTTP response: Envoy's TCP proxy lines (status `0`, request
    /// `- - -`), and HTTP requests the client gave up on before any response (status `0`).
    NotHttp,
}

/// What a file yields, in the order it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A request and its response, with the line it starts on (a HAR entry's number).
    Record { line: usize, entry: Entry },
    /// A line (or HAR entry) that could not be read.
    Malformed(Malformed),
}

/// Lines a file holds that are not replayed and not malformed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Passed {
    /// Lines with no HTTP response (see [`Line::NotHttp`]).
    pub not_http: usize,
    /// Lines of a node log (CRI or Docker) that are not access-log lines: the application's
    /// own output, mixed into the same stream.
    pub not_access_log: usize,
}

/// How much of a plain file is read ahead, at most, to tell HAR from JSON lines whose first
/// line is not a record.
const HEAD_LIMIT: usize = 1 << 20;
/// How much of a node log's lines are held, at most, while none looks like an access-log line
/// yet (its format is not known): past it, the oldest are passed over as not access log.
const WAITING_LIMIT: usize = 8 << 20;

/// One file's records, read as they come: HAR, or lines of `forced` (else the detected) format,
/// plain or inside a CRI or Docker wrapper (always detected). A HAR document is read whole and
/// its entries handed out in time order; every other format is read a line at a time.
pub struct Records {
    kind: Kind,
    passed: Passed,
}

enum Kind {
    Plain {
        lines: RawLines,
        format: Format,
    },
    Wrapped {
        lines: RawLines,
        node: NodeLog,
    },
    /// Everything already read (HAR), `bytes` long.
    Read {
        items: VecDeque<Item>,
        bytes: u64,
    },
}

impl Records {
    /// Reads as much of `input` as telling its format takes (the first non-empty line, a HAR
    /// document whole).
    pub fn open(forced: Option<Format>, mut input: Box<dyn BufRead>) -> std::io::Result<Records> {
        // The first non-empty line tells, but for a JSON object of no line format: HAR (a
        // document spread over lines) if the file mentions "log" early on, else JSON lines.
        let mut head = Vec::new();
        let mut open = false;
        loop {
            let start = head.len();
            if input.read_until(b'\n', &mut head)? == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&head[start..]);
            let line = line.trim();
            if open {
                if line.contains(HAR_MARK) || head.len() >= HEAD_LIMIT {
                    break;
                }
            } else if !line.is_empty() {
                open = forced.is_none()
                    && wrappers::detect(line).is_none()
                    && detect_first(line).is_none()
                    && !line.contains(HAR_MARK);
                if !open {
                    break;
                }
            }
        }
        let head_text = String::from_utf8_lossy(&head);
        let wrapper = match forced {
            Some(Format::Har) => None,
            _ => wrappers::detect(&head_text),
        };
        let kind = match wrapper {
            Some(wrapper) => Kind::Wrapped {
                lines: RawLines::new(Box::new(Cursor::new(head).chain(input))),
                node: NodeLog {
                    unwrapper: wrappers::Unwrapper::new(wrapper),
                    format: forced,
                    waiting: VecDeque::new(),
                    waiting_bytes: 0,
                    ready: VecDeque::new(),
                    done: false,
                },
            },
            None => match forced.unwrap_or_else(|| detect(&head_text)) {
                Format::Har => {
                    input.read_to_end(&mut head)?;
                    Kind::Read {
                        items: har_items(&String::from_utf8_lossy(&head)),
                        bytes: head.len() as u64,
                    }
                }
                format => Kind::Plain {
                    lines: RawLines::new(Box::new(Cursor::new(head).chain(input))),
                    format,
                },
            },
        };
        Ok(Records {
            kind,
            passed: Passed::default(),
        })
    }

    /// The next record or malformed line; `None` at the end of the file.
    pub fn next_item(&mut self) -> std::io::Result<Option<Item>> {
        let passed = &mut self.passed;
        match &mut self.kind {
            Kind::Read { items, .. } => Ok(items.pop_front()),
            Kind::Plain { lines, format } => {
                while let Some((number, line)) = lines.next_line()? {
                    if let Some(item) = classify(*format, number, &line, false, passed) {
                        return Ok(Some(item));
                    }
                }
                Ok(None)
            }
            Kind::Wrapped { lines, node } => loop {
                if let Some(item) = node.ready.pop_front() {
                    return Ok(Some(item));
                }
                if node.done {
                    return Ok(None);
                }
                match lines.next_line()? {
                    Some((number, raw)) => match node.unwrapper.push(number, &raw) {
                        Ok(Some((start, line))) => node.take(start, line, passed),
                        Ok(None) => {}
                        Err(m) => return Ok(Some(Item::Malformed(m))),
                    },
                    None => node.finish(passed),
                }
            },
        }
    }

    /// The lines passed over so far.
    pub fn passed(&self) -> Passed {
        self.passed
    }

    /// Bytes of the file read so far (all of it for HAR).
    pub fn bytes_read(&self) -> u64 {
        match &self.kind {
            Kind::Plain { lines, .. } | Kind::Wrapped { lines, .. } => lines.bytes,
            Kind::Read { bytes, .. } => *bytes,
        }
    }
}

/// A HAR document's malformed entries, then its records in time order (stable: entries of one
/// millisecond keep their order).
fn har_items(text: &str) -> VecDeque<Item> {
    let (mut entries, mut bad) = (Vec::new(), Vec::new());
    har::parse(text, &mut entries, &mut bad);
    let mut records: Vec<(usize, Entry)> = entries.into_iter().enumerate().collect();
    records.sort_by_key(|(_, e)| e.ts_ms);
    bad.into_iter()
        .map(Item::Malformed)
        .chain(
            records
                .into_iter()
                .map(|(i, entry)| Item::Record { line: i + 1, entry }),
        )
        .collect()
}

/// A file's lines as they are read, numbered from 1, without their line endings; bytes that
/// are not UTF-8 are replaced rather than the line refused.
struct RawLines {
    input: Box<dyn BufRead>,
    buf: Vec<u8>,
    number: usize,
    bytes: u64,
}

impl RawLines {
    fn new(input: Box<dyn BufRead>) -> Self {
        RawLines {
            input,
            buf: Vec::new(),
            number: 0,
            bytes: 0,
        }
    }

    fn next_line(&mut self) -> std::io::Result<Option<(usize, Cow<'_, str>)>> {
        self.buf.clear();
        let n = self.input.read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.bytes += n as u64;
        self.number += 1;
        // As `str::lines`: `\n` or `\r\n`.
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        // `from_utf8_lossy` checks byte by byte: the common case first.
        let line = match std::str::from_utf8(&self.buf) {
            Ok(line) => Cow::Borrowed(line),
            Err(_) => String::from_utf8_lossy(&self.buf),
        };
        Ok(Some((self.number, line)))
    }
}

/// The lines inside a node log's wrapper, on their way to being parsed.
struct NodeLog {
    unwrapper: wrappers::Unwrapper,
    /// Given, or detected from the first line that looks like an access-log line (a
    /// container's own output often comes first).
    format: Option<Format>,
    /// Lines before the format is known.
    waiting: VecDeque<(usize, String)>,
    waiting_bytes: usize,
    ready: VecDeque<Item>,
    done: bool,
}

impl NodeLog {
    /// A line inside the wrapper, starting on record `number`.
    fn take(&mut self, number: usize, line: Cow<str>, passed: &mut Passed) {
        if self.format.is_none() {
            match sniff(&line) {
                Some(format) => {
                    self.format = Some(format);
                    while let Some((n, waiting)) = self.waiting.pop_front() {
                        self.parse(format, n, &waiting, passed);
                    }
                }
                None => {
                    self.waiting_bytes += line.len();
                    self.waiting.push_back((number, line.into_owned()));
                    while self.waiting_bytes > WAITING_LIMIT {
                        let Some((n, oldest)) = self.waiting.pop_front() else {
                            break;
                        };
                        self.waiting_bytes -= oldest.len();
                        // It looked like no access-log line: parsed as combined (the format when
                        // none is found), it is passed over as not access log.
                        self.parse(Format::Combined, n, &oldest, passed);
                    }
                    return;
                }
            }
        }
        let format = self.format.unwrap_or(Format::Combined);
        self.parse(format, number, &line, passed);
    }

    fn parse(&mut self, format: Format, number: usize, line: &str, passed: &mut Passed) {
        if let Some(item) = classify(format, number, line, true, passed) {
            self.ready.push_back(item);
        }
    }

    /// The end of the log: parts never completed, and lines still waiting for a format (none
    /// looked like an access-log line: combined, whose parse says why not).
    fn finish(&mut self, passed: &mut Passed) {
        self.done = true;
        for (n, line) in self.unwrapper.finish() {
            self.take(n, Cow::Owned(line), passed);
        }
        let format = self.format.unwrap_or(Format::Combined);
        while let Some((n, line)) = self.waiting.pop_front() {
            self.parse(format, n, &line, passed);
        }
        self.waiting_bytes = 0;
    }
}

/// Reads one whole file as [`Records`] does, appending its records to `out` in line order.
#[cfg(test)]
pub fn read(forced: Option<Format>, text: &str, out: &mut Vec<Entry>) -> Skipped {
    let input: Box<dyn BufRead> = Box::new(Cursor::new(text.as_bytes().to_vec()));
    let mut records = Records::open(forced, input).expect("reading memory");
    let (mut read, mut malformed) = (Vec::new(), Vec::new());
    while let Some(item) = records.next_item().expect("reading memory") {
        match item {
            Item::Record { line, entry } => read.push((line, entry)),
            Item::Malformed(m) => malformed.push(m),
        }
    }
    // A joined line goes where it started.
    read.sort_by_key(|(n, _)| *n);
    malformed.sort_by_key(|m| m.line);
    out.extend(read.into_iter().map(|(_, e)| e));
    let Passed {
        not_http,
        not_access_log,
    } = records.passed();
    Skipped {
        malformed,
        not_http,
        not_access_log,
    }
}

/// The lines of a file that are not replayed.
#[cfg(test)]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    pub malformed: Vec<Malformed>,
    pub not_http: usize,
    pub not_access_log: usize,
}

/// The line-based format a line looks like, if any: enough to tell access-log lines from
/// other output, not a check that it parses.
fn sniff(line: &str) -> Option<Format> {
    let line = line.trim();
    if line.starts_with('{') {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line) else {
            return None;
        };
        return if map.contains_key("start_time") {
            Some(Format::EnvoyJson)
        } else if map.contains_key("ts_ms") || map.contains_key("ts") {
            Some(Format::Jsonl)
        } else {
            None
        };
    }
    if envoy::looks_like(line) {
        return Some(Format::Envoy);
    }
    combined::looks_like(line).then_some(Format::Combined)
}

/// Parses line `number` of one format: a record, a malformed line, or nothing (blank lines,
/// comments, lines passed over). In a node log (`wrapped`), a line that does not even look like
/// the format is the application's output, not a malformed access-log line.
fn classify(
    format: Format,
    number: usize,
    line: &str,
    wrapped: bool,
    passed: &mut Passed,
) -> Option<Item> {
    let line = line.trim_end_matches('\r');
    if line.trim().is_empty() || line.starts_with('#') {
        return None;
    }
    match parse_line(format, line) {
        Ok(Line::Http(entry)) => Some(Item::Record {
            line: number,
            entry,
        }),
        Ok(Line::NotHttp) => {
            passed.not_http += 1;
            None
        }
        Err(_) if wrapped && sniff(line) != Some(format) => {
            passed.not_access_log += 1;
            None
        }
        Err(reason) => Some(Item::Malformed(Malformed {
            line: number,
            reason,
        })),
    }
}

fn parse_line(format: Format, line: &str) -> Result<Line, String> {
    match format {
        Format::Jsonl => jsonl::parse(line).map(Line::Http),
        Format::Combined => combined::parse(line).map(Line::Http),
        Format::Envoy => envoy::parse_text(line),
        Format::EnvoyJson => envoy::parse_json(line),
        Format::Har => Err("HAR is a document, not lines".into()),
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

/// `METHOD TARGET [PROTOCOL]`. A client that never sent a request line (Apache's `"-" 408`
/// for a connection left idle), or sent one that is no HTTP (a TLS or SOCKS handshake to the
/// HTTP port, logged as escaped bytes, `"\x16\x03\x01..."`, and answered 400; a word such as
/// `SSH-2.0-Go`) got a response all the same: it is counted with method and path `-`.
fn request_line(s: &str) -> (String, String) {
    let mut parts = s.split(' ');
    match (parts.next(), parts.next()) {
        (Some(m), Some(p)) if is_method(m) && !p.is_empty() => (m.to_string(), p.to_string()),
        _ => ("-".to_string(), "-".to_string()),
    }
}

/// Whether `m` can be a request's method: printable ASCII (a stray quote, read from the right,
/// included) with no escaped bytes (`\x16`).
fn is_method(m: &str) -> bool {
    !m.is_empty() && m.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
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

    const ISTIO_READY: &str =
        "2025-05-13T18:51:47.001234567Z stderr F 2025-05-13T18:51:47.001100Z\tinfo\tEnvoy proxy is ready";
    const ISTIO_404: &str = r#"[2025-05-13T18:51:48.120Z] "GET /admin HTTP/1.1" 404 - via_upstream - "-" 0 153 2 1 "-" "curl/8.5.0" "6f1c0a52-4a8e-4c1e-9b0e-2f7a3b9c8d10" "api.example.com" "10.244.1.7:8080" inbound|8080|| 127.0.0.6:43211 10.244.1.7:8080 203.0.113.7:40001 outbound_.8080_._.api.default.svc.cluster.local default"#;
    const ISTIO_TCP: &str = r#"[2025-05-13T18:51:50.412Z] "- - -" 0 - - - "-" 1250 4389 2003 - "-" "-" "-" "-" "10.244.2.9:5432" outbound|5432||postgres.db.svc.cluster.local 10.244.1.7:52212 10.96.14.3:5432 10.244.1.7:52210 - -"#;

    /// containerd splits lines longer than 16 KiB into `P` records and a final `F` one.
    fn istio_cri_log() -> String {
        let long = format!(
            r#"[2025-05-13T18:51:51.000Z] "GET /search?q={} HTTP/1.1" 404 - via_upstream - "-" 0 153 2 1 "-" "python-requests/2.31.0" "0d9b7c1e-3f2a-4e55-8c6d-7a1b2c3d4e5f" "api.example.com" "10.244.1.7:8080" inbound|8080|| 127.0.0.6:43211 10.244.1.7:8080 198.51.100.20:50500 outbound_.8080_._.api.default.svc.cluster.local default"#,
            "a".repeat(16_400)
        );
        let (head, tail) = long.split_at(16_384);
        [
            ISTIO_READY.to_string(),
            format!("2025-05-13T18:51:48.123456789Z stdout F {ISTIO_404}"),
            format!("2025-05-13T18:51:50.412345678Z stdout F {ISTIO_TCP}"),
            format!("2025-05-13T18:51:51.000000001Z stdout P {head}"),
            format!("2025-05-13T18:51:51.000000002Z stdout F {tail}"),
            r#"2025-05-13T18:51:52.000000000Z stdout F [2025-05-13T18:51:52.000Z] "GET /x HTTP/1.1" 404 - via_upstream"#.to_string(),
            "2025-05-13T18:51:53.000000000Z stderr F 2025-05-13T18:51:53.000000Z\twarning\tenvoy config external/envoy/source/extensions/config_subscription/grpc/grpc_stream.h:193\tStreamAggregatedResources gRPC config stream to xds-grpc closed since 41s ago: 14, connection error\tthread=15".to_string(),
        ]
        .join("\n")
    }

    fn facts(entries: &[Entry]) -> Vec<(u64, &str, u16, Option<&str>)> {
        entries
            .iter()
            .map(|e| (e.ts_ms, e.path.as_str(), e.status, e.peer.as_deref()))
            .collect()
    }

    #[test]
    fn reads_istio_access_lines_through_cri_wrappers() {
        let text = istio_cri_log();
        let mut entries = Vec::new();
        let skipped = read(None, &text, &mut entries);
        let search = format!("/search?q={}", "a".repeat(16_400));
        assert_eq!(
            facts(&entries),
            vec![
                (1_747_162_308_120, "/admin", 404, Some("203.0.113.7:40001")),
                (
                    1_747_162_311_000,
                    search.as_str(),
                    404,
                    Some("198.51.100.20:50500")
                ),
            ]
        );
        assert_eq!(entries[1].host.as_deref(), Some("api.example.com"));
        assert_eq!(
            (skipped.not_http, skipped.not_access_log),
            (1, 2),
            "the TCP line; Istio's and Envoy's own output"
        );
        assert_eq!(
            skipped.malformed,
            vec![Malformed {
                line: 6,
                reason:
                    "expected the quoted XFF, user agent, request id, authority and upstream host"
                        .into()
            }]
        );
        // `--format envoy` names the format inside the wrapper.
        let mut forced = Vec::new();
        assert_eq!(read(Some(Format::Envoy), &text, &mut forced), skipped);
        assert_eq!(forced, entries);
    }

    #[test]
    fn reads_combined_lines_through_docker_json_wrappers() {
        let text = r#"{"log":"/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration\n","stream":"stdout","time":"2025-05-13T18:51:40.101318911Z"}
{"log":"/docker-entrypoint.sh: Configuration complete; ready for start up\n","stream":"stdout","time":"2025-05-13T18:51:40.118244379Z"}
{"log":"203.0.113.7 - - [13/May/2025:18:51:48 +0000] \"GET /.env HTTP/1.1\" 404 153 \"-\" \"Mozilla/5.0 zgrab/0.x\"\n","stream":"stdout","time":"2025-05-13T18:51:48.123456789Z"}
{"log":"2025/05/13 18:51:48 [error] 29#29: *7 open() \"/usr/share/nginx/html/.env\" failed (2: No such file or directory), client: 203.0.113.7, server: localhost, request: \"GET /.env HTTP/1.1\", host: \"api.example.com\"\n","stream":"stderr","time":"2025-05-13T18:51:48.123500000Z"}
{"log":"45.148.10.81 - - [13/May/2025:18:51:50 +0000] \"-\" 400 0 \"-\" \"-\"\n","stream":"stdout","time":"2025-05-13T18:51:50.000123000Z"}
{"log":"45.148.10.81 - - [13/May/2025:18:51:51 +0000] \"GET / HTTP/1.1\" 4O4 0 \"-\" \"-\"\n","stream":"stdout","time":"2025-05-13T18:51:51.000123000Z"}"#;
        let mut entries = Vec::new();
        let skipped = read(None, text, &mut entries);
        assert_eq!(
            facts(&entries),
            vec![
                (1_747_162_308_000, "/.env", 404, Some("203.0.113.7")),
                (1_747_162_310_000, "-", 400, Some("45.148.10.81")),
            ]
        );
        assert_eq!((skipped.not_http, skipped.not_access_log), (0, 3));
        assert_eq!(
            skipped.malformed,
            vec![Malformed {
                line: 6,
                reason: "bad status \"4O4\"".into()
            }]
        );
    }

    #[test]
    fn a_handshake_to_the_http_port_inside_a_wrapper_is_counted_not_passed_over() {
        // nginx in a container: a TLS ClientHello on port 80 (hex in capitals), answered 400.
        let text = r#"{"log":"/docker-entrypoint.sh: Configuration complete; ready for start up\n","stream":"stdout","time":"2025-05-13T18:51:40.118244379Z"}
{"log":"45.148.10.81 - - [13/May/2025:18:51:50 +0000] \"\\x16\\x03\\x01\\x00\\xA5\\x01\\x00\\x00\\xA1\\x03\\x03\" 400 157 \"-\" \"-\"\n","stream":"stdout","time":"2025-05-13T18:51:50.000123000Z"}"#;
        let mut entries = Vec::new();
        let skipped = read(None, text, &mut entries);
        assert_eq!(
            facts(&entries),
            vec![(1_747_162_310_000, "-", 400, Some("45.148.10.81"))]
        );
        assert_eq!(entries[0].method, "-");
        assert_eq!(
            (skipped.malformed, skipped.not_http, skipped.not_access_log),
            (vec![], 0, 1)
        );
    }

    #[test]
    fn envoy_json_lines_inside_a_wrapper_are_detected() {
        let text = r#"2025-05-13T18:51:47.001234567Z stderr F 2025-05-13T18:51:47.001100Z	info	Envoy proxy is ready
2025-05-13T18:51:48.123456789Z stdout F {"start_time": "2025-05-13T18:51:48.120Z", "method": "GET", "path": "/admin", "status": 404, "peer": "203.0.113.7:40001", "authority": "api.example.com", "x_forwarded_for": null, "user_agent": "curl/8.5.0"}
2025-05-13T18:51:48.223456789Z stdout F {"start_time": "2025-05-13T18:51:48.220Z", "method": "GET", "path": "/slow", "status": 0, "peer": "203.0.113.7:40002", "authority": "api.example.com", "x_forwarded_for": null, "user_agent": "curl/8.5.0"}"#;
        let mut entries = Vec::new();
        let skipped = read(None, text, &mut entries);
        assert_eq!(
            facts(&entries),
            vec![(1_747_162_308_120, "/admin", 404, Some("203.0.113.7:40001"))]
        );
        assert_eq!((skipped.not_http, skipped.not_access_log), (1, 1));
    }

    #[test]
    fn in_a_plain_file_every_unreadable_line_is_malformed() {
        let text =
            "1.2.3.4 - - [13/May/2025:18:51:48 +0000] \"GET / HTTP/1.1\" 404 1\nhello world\n";
        let mut entries = Vec::new();
        let skipped = read(None, text, &mut entries);
        assert_eq!(entries.len(), 1);
        assert_eq!((skipped.malformed.len(), skipped.not_access_log), (1, 0));
        assert_eq!(skipped.malformed[0].line, 2);
    }
}
