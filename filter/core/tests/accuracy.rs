//! Accuracy of the request inspection module: detection per category on the CRS regression
//! corpus (outside the repo, for measuring and not for tuning) and false positives per
//! attack on benign API traffic.
#![cfg(not(target_arch = "wasm32"))]

use actorwatch_core::inspect::{inspect, Attack, Request, Scope};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Case {
    id: String,
    category: String,
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

fn load(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, l)| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1));
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let headers = v
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| {
                            (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            Case {
                id: s("case"),
                category: s("category"),
                method: s("method"),
                path: s("path"),
                headers,
                body: s("body"),
            }
        })
        .collect()
}

fn category(a: Attack) -> &'static str {
    match a {
        Attack::SqlInjection => "SQLInjection",
        Attack::Xss => "XSS",
        Attack::NoSqlInjection => "NoSQLInjection",
        Attack::OsCommandInjection => "OSCommandInjection",
        Attack::WindowsCommandInjection => "WindowsCommandInjection",
        Attack::FileInclusion => "LocalFileInclusionLFIRFI",
        Attack::Ssrf => "SSRF",
    }
}

fn run(c: &Case) -> Vec<actorwatch_core::inspect::Hit> {
    let req = Request {
        method: &c.method,
        path: &c.path,
        headers: &c.headers,
        body: c.body.as_bytes(),
    };
    let mut hits = Vec::new();
    let scope = match std::env::var("ACCURACY_ONLY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(i) => Attack::ALL
            .iter()
            .skip(i)
            .take(1)
            .fold(Scope::none(), |s, a| {
                Scope::default_parts(*a)
                    .iter()
                    .fold(s, |s, p| s.with(*a, *p))
            }),
        None => Scope::defaults(),
    };
    inspect(&req, &scope, &mut hits);
    hits
}

fn benign_files(dir: &Path) -> Vec<PathBuf> {
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

#[test]
fn accuracy() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let crs = root.join("../../../shared/attack-corpus/crs-dev.jsonl");
    assert!(
        crs.exists(),
        "the CRS corpus is missing: expected {} (it lives outside the repo on purpose; see shared/attack-corpus/README.md)",
        crs.display()
    );
    let attacks = load(&crs);
    let verbose = std::env::var_os("ACCURACY_MISSES").is_some();

    println!(
        "\nCRS regression corpus ({} cases), every attack on its default parts:",
        attacks.len()
    );
    println!("{:<26} {:>9} {:>7}", "category", "detected", "%");
    let mut failed = Vec::new();
    for a in Attack::ALL {
        let cat = category(a);
        let cases: Vec<&Case> = attacks.iter().filter(|c| c.category == cat).collect();
        let mut found = 0;
        for c in &cases {
            if run(c).iter().any(|h| h.attack == a) {
                found += 1;
            } else if verbose {
                println!(
                    "  MISS {} {} {} {:?} {:?}",
                    c.id, c.method, c.path, c.headers, c.body
                );
            }
        }
        let pct = if cases.is_empty() {
            100.0
        } else {
            100.0 * found as f64 / cases.len() as f64
        };
        println!("{:<26} {:>4}/{:<4} {:>6.1}", cat, found, cases.len(), pct);
        if pct < 90.0 {
            failed.push(format!("{cat}: {pct:.1}% < 90%"));
        }
    }

    let mut benign = Vec::new();
    let mut sources = benign_files(&root.join("../../corpus/benign"));
    sources.push(root.join("tests/fixtures/benign-seed.jsonl"));
    for f in &sources {
        benign.extend(load(f));
    }
    println!(
        "\nbenign corpus ({} requests from {} files), false positives per attack:",
        benign.len(),
        sources.len()
    );
    let mut fp: BTreeMap<Attack, usize> = BTreeMap::new();
    let started = std::time::Instant::now(); // printed only: no timed assertions
    let bytes: usize = benign.iter().map(|c| c.path.len() + c.body.len()).sum();
    for c in &benign {
        for h in run(c) {
            *fp.entry(h.attack).or_default() += 1;
            if verbose {
                println!(
                    "  FP {:?} {} {:?} {:?} in {}: {:?}",
                    h.attack, c.id, h.part, h.name, c.path, h.excerpt
                );
            }
        }
    }
    let took = started.elapsed();
    println!(
        "(inspected in {:.1} ms: {:.1} µs per request, {:.0} MB/s of path+body)",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / benign.len().max(1) as f64,
        bytes as f64 / took.as_secs_f64().max(1e-9) / 1e6
    );
    for a in Attack::ALL {
        let n = fp.get(&a).copied().unwrap_or(0);
        let pct = 100.0 * n as f64 / benign.len().max(1) as f64;
        println!("{:<26} {:>5} {:>7.3}%", category(a), n, pct);
        if pct >= 0.1 {
            failed.push(format!(
                "{}: {pct:.3}% false positives >= 0.1%",
                category(a)
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "accuracy goals not met:\n{}",
        failed.join("\n")
    );
}
