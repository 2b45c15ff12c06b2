//! Criterion benchmarks of the threat rules' inspection per request (every payload and
//! weak-authentication rule on): a typical 1 KB GET, an 8 KB JSON body, and each with an
//! attack in it; and of reading a response body for leaks (`response/*`, per byte read: a clean
//! JSON body of 1 KB and 4 KB, and 4 KB with a stack trace at its end).

use actorwatch_core::inspect::Request;
use actorwatch_core::Config;
use actorwatch_core::Inspection;
use actorwatch_core::Inspector;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;

const T0: u64 = 1_800_000_000_000;

fn inspector() -> Inspector {
    let json = r#"{"rules": [], "threat_rules": [
        {"id": "SQLInjection"}, {"id": "XSS"}, {"id": "NoSQLInjection"}, {"id": "OSCommandInjection"},
        {"id": "WindowsCommandInjection"}, {"id": "LocalFileInclusionLFIRFI"}, {"id": "SSRF"},
        {"id": "WeakAuthentication"}],
        "webhook": {"url": "http://127.0.0.1:9/hook"}}"#;
    Inspector::new(Arc::new(Config::from_json_str(json).expect("bench config")))
}

/// A browser-like GET of about 1 KB: a query with free text, the usual headers, a JWT.
fn typical_headers() -> Vec<(&'static str, String)> {
    vec![
        (":authority", "api.example.com".into()),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36".into()),
        ("accept", "application/json, text/plain, */*;q=0.8".into()),
        ("accept-language", "en-GB,en;q=0.9,fr;q=0.7".into()),
        ("accept-encoding", "gzip, deflate, br".into()),
        ("referer", "https://app.example.com/orders?tab=open&sort=-created_at".into()),
        ("authorization", "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiZXhwIjoxODk5OTk5OTk5fQ.c2lnbmF0dXJlLWJ5dGVzLWdvLWhlcmUtYW5kLWFyZS1sb25nLWVub3VnaA".into()),
        ("cookie", "session=5f0c6a0e6a544b8e9a8b1e1f8e0f7a11; theme=dark; consent=analytics%3Dno".into()),
        ("x-request-id", "5f0c6a0e-6a54-4b8e-9a8b-1e1f8e0f7a11".into()),
        ("x-forwarded-for", "203.0.113.7, 10.0.0.2".into()),
        ("sec-ch-ua", "\"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\"".into()),
    ]
}

const TYPICAL_PATH: &str = "/v1/orders?status=open&q=O%27Brien%20kitchen%20order&page=2&per_page=50&fields=id,total,customer.name";
const ATTACK_PATH: &str =
    "/v1/orders?status=open&q=1%27%20UNION%20SELECT%20password%20FROM%20users--&page=2";

fn json_body(bytes: usize, attack: bool) -> Vec<u8> {
    let mut items = Vec::new();
    let mut size = 0;
    let mut i = 0;
    while size < bytes {
        let note = if attack && i == 20 {
            "<img src=x onerror=alert(document.domain)>".to_string()
        } else {
            format!("Please leave the parcel with the neighbour at number {i}; thanks!")
        };
        let item = format!(
            r#"{{"sku":"SKU-{i:05}","qty":{},"price":{}.99,"note":"{note}","tags":["gift","fragile"]}}"#,
            i % 7 + 1,
            i * 3 % 100
        );
        size += item.len() + 1;
        items.push(item);
        i += 1;
    }
    format!(
        r#"{{"customer":{{"id":"c_81723","name":"Jane O'Brien"}},"items":[{}]}}"#,
        items.join(",")
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let inspector = inspector();
    let headers = typical_headers();
    let header_bytes: usize = headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    let mut g = c.benchmark_group("inspect");
    let mut out = Inspection::default();
    for (name, path) in [("get_1kb", TYPICAL_PATH), ("get_1kb_sqli", ATTACK_PATH)] {
        g.throughput(Throughput::Bytes((header_bytes + path.len()) as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let req = Request {
                    method: "GET",
                    path,
                    headers: &headers,
                    body: b"",
                };
                inspector.inspect(T0, black_box(&req), &mut out);
                black_box(out.hits.len())
            })
        });
    }
    let mut json_headers = headers.clone();
    json_headers.push(("content-type", "application/json".into()));
    for (name, attack) in [("post_json_8kb", false), ("post_json_8kb_xss", true)] {
        let body = json_body(8 * 1024, attack);
        g.throughput(Throughput::Bytes((header_bytes + body.len()) as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let req = Request {
                    method: "POST",
                    path: "/v1/orders",
                    headers: &json_headers,
                    body: &body,
                };
                inspector.inspect(T0, black_box(&req), &mut out);
                black_box(out.hits.len())
            })
        });
    }
    g.finish();
    bench_responses(c);
}

/// Response bodies read by every rule that reads them (the SQL injection match's evidence and
/// `SecurityMisconfig`'s): throughput is the bytes read, so Criterion prints the cost per KB.
fn bench_responses(c: &mut Criterion) {
    let json = r#"{"rules": [], "threat_rules": [
        {"id": "SQLInjection", "inspect_response": true}, {"id": "SSRF", "inspect_response": true},
        {"id": "LocalFileInclusionLFIRFI", "inspect_response": true}, {"id": "SecurityMisconfig"}],
        "response_body_max_bytes": 16384,
        "webhook": {"url": "http://127.0.0.1:9/hook"}}"#;
    let inspector = Inspector::new(Arc::new(Config::from_json_str(json).expect("bench config")));
    let matched = |rule| Inspection {
        hits: vec![actorwatch_core::internals::ThreatHit {
            rule,
            part: "query",
            name: "q".into(),
            excerpt: "x".into(),
        }],
        ..Inspection::default()
    };
    let trace =
        "\njava.lang.IllegalStateException: closed\n\tat com.acme.Orders.find(Orders.java:42)\n";
    let mut with_trace = json_body(4 * 1024 - trace.len(), false);
    with_trace.extend_from_slice(trace.as_bytes());
    let mut g = c.benchmark_group("response");
    for (name, status, body) in [
        ("json_1kb", 200, json_body(1024, false)),
        ("json_4kb", 200, json_body(4 * 1024, false)),
        ("json_4kb_trace_500", 500, with_trace),
    ] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut inspection = matched(0);
                inspector.inspect_response(status, black_box(&body), &mut inspection);
                black_box(inspection.evidence.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
