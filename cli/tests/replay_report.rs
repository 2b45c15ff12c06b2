//! `actorwatch replay --sweep` and `--report`: the sweep's rows against separate replays of each
//! combination, and the report's charts against counts worked out here from the trace.

mod common;

use common::tempdir;
use std::path::Path;
use std::process::Command;

const T0: u64 = 1_764_600_000_000;

fn replay(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_actorwatch"))
        .arg("replay")
        .args(args)
        .output()
        .expect("actorwatch runs");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn config(dir: &Path, name: &str, threshold: u32, window_secs: u32, cooldown_secs: u32) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            r#"{{"rules": [{{"id": "4XX_FILTER", "threshold": {threshold}, "window_secs": {window_secs}, "cooldown_secs": {cooldown_secs}}}],
                "webhook": {{"url": "http://127.0.0.1:9/hook", "mode": "instant"}}}}"#
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// (time, peer, status) as JSON lines, in time order.
fn write_trace(dir: &Path, trace: &[(u64, String, u16)]) -> String {
    let path = dir.join("trace.jsonl");
    let lines: Vec<String> = trace
        .iter()
        .map(|(ts, peer, status)| {
            format!(
                r#"{{"ts_ms": {ts}, "method": "GET", "path": "/p/{ts}", "status": {status}, "peer": "{peer}"}}"#
            )
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.display().to_string()
}

/// A scanner (`203.0.113.7`, a 404 every 2 s for 80 s), a slow prober (`203.0.113.9`, a 404
/// every 9 s), and 20 ordinary clients with a 200 and one or two 404s each.
fn trace() -> Vec<(u64, String, u16)> {
    let mut t = Vec::new();
    for i in 0..40 {
        t.push((T0 + i * 2_000, "203.0.113.7".to_string(), 404));
    }
    for i in 0..20 {
        t.push((T0 + 500 + i * 9_000, "203.0.113.9".to_string(), 404));
    }
    for c in 1..=20u64 {
        let peer = format!("198.51.100.{c}");
        t.push((T0 + c * 3_001, peer.clone(), 200));
        t.push((T0 + c * 3_001 + 7, peer.clone(), 404));
        if c % 2 == 0 {
            t.push((T0 + c * 3_001 + 20_000, peer, 404));
        }
    }
    t.sort();
    t
}

/// What the engine should make of `trace` for one rule, worked out directly: each actor's peak
/// count of 404s in `(t - window, t]`, and the events (flagged, and the cooldown passed since the
/// actor's last event).
fn reference(
    trace: &[(u64, String, u16)],
    threshold: usize,
    window_ms: u64,
    cooldown_ms: u64,
) -> (
    std::collections::BTreeMap<String, usize>,
    std::collections::BTreeMap<String, usize>,
) {
    let mut peaks = std::collections::BTreeMap::new();
    let mut events = std::collections::BTreeMap::new();
    let mut last_event: std::collections::HashMap<String, u64> = Default::default();
    for (i, (t, peer, status)) in trace.iter().enumerate() {
        if *status != 404 {
            continue;
        }
        let count = trace[..=i]
            .iter()
            .filter(|(u, p, s)| p == peer && *s == 404 && *u + window_ms > *t)
            .count();
        let peak = peaks.entry(peer.clone()).or_insert(0);
        *peak = (*peak).max(count);
        let cooled = last_event.get(peer).is_none_or(|l| t - l >= cooldown_ms);
        if count >= threshold && cooled {
            last_event.insert(peer.clone(), *t);
            *events.entry(peer.clone()).or_insert(0) += 1;
        }
    }
    (peaks, events)
}

/// The value of `name="..."` in `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// Every element `<svg ...>...</svg>` of `class`.
fn svgs<'a>(html: &'a str, class: &str) -> Vec<&'a str> {
    let open = format!("<svg class=\"{class}\"");
    html.match_indices(&open)
        .map(|(at, _)| {
            let end = html[at..].find("</svg>").expect("closed") + at;
            &html[at..end]
        })
        .collect()
}

#[test]
fn the_report_holds_the_flagged_actors_and_their_counts() {
    let dir = tempdir("report");
    let trace = trace();
    let input = write_trace(&dir, &trace);
    let cfg = config(&dir, "c.json", 10, 60, 30);
    let out = dir.join("report.html");
    replay(&["--config", &cfg, "--report", out.to_str().unwrap(), &input]);
    let html = std::fs::read_to_string(&out).unwrap();
    let (peaks, events) = reference(&trace, 10, 60_000, 30_000);
    assert_eq!(events.keys().collect::<Vec<_>>(), ["203.0.113.7"]);

    // The top actors' charts: peaks and events as worked out, the threshold drawn.
    let charts = svgs(&html, "actor");
    assert_eq!(charts.len(), 5, "five top actors");
    let mut by_actor = std::collections::BTreeMap::new();
    for chart in &charts {
        let actor = attr(chart, "data-actor").unwrap();
        let peak: usize = attr(chart, "data-peak").unwrap().parse().unwrap();
        assert_eq!(peaks.get(actor), Some(&peak), "{actor}");
        let marks = chart.matches("<circle class=\"event\"").count();
        assert_eq!(attr(chart, "data-events"), Some(marks.to_string().as_str()));
        assert_eq!(marks, events.get(actor).copied().unwrap_or(0), "{actor}");
        assert!(chart.contains("class=\"threshold\" data-value=\"10\""));
        // Responses on 100 ms ticks: the line reaches the peak exactly, and never exceeds it.
        let line = chart.split("<polyline").nth(1).unwrap();
        let values: Vec<usize> = attr(line, "data-values")
            .unwrap()
            .split(' ')
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(values.iter().max(), Some(&peak), "{actor}");
        by_actor.insert(actor.to_string(), peak);
    }
    // The two probers lead, biggest first.
    assert_eq!(attr(charts[0], "data-actor"), Some("203.0.113.7"));
    assert_eq!(attr(charts[1], "data-actor"), Some("203.0.113.9"));

    // The distribution of peaks: every actor in its power-of-two bin.
    let hist = svgs(&html, "peaks");
    assert_eq!(hist.len(), 1);
    let mut expected = std::collections::BTreeMap::<u64, usize>::new();
    for &p in peaks.values() {
        *expected
            .entry(1 << (63 - (p as u64).leading_zeros()))
            .or_default() += 1;
    }
    for bin in hist[0].split("<rect class=\"bin\"").skip(1) {
        let lo: u64 = attr(bin, "data-lo").unwrap().parse().unwrap();
        let actors: usize = attr(bin, "data-actors").unwrap().parse().unwrap();
        assert_eq!(actors, expected.get(&lo).copied().unwrap_or(0), "bin {lo}");
    }

    // The text summary is on the page; nothing on it reaches out.
    assert!(html.contains("4XX_FILTER") && html.contains("    203.0.113.7"));
    let without_xmlns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for outward in [
        "http:", "https:", "<script", "<link", "src=", "url(", "@import",
    ] {
        assert!(!without_xmlns.contains(outward), "{outward}");
    }
}

#[test]
fn events_are_not_scaled_to_a_day_from_less_than_an_hour() {
    let dir = tempdir("short");
    let mut trace = trace();
    trace.push((T0 + 3_599_000, "192.0.2.1".to_string(), 200));
    let input = write_trace(&dir, &trace);
    let base = config(&dir, "base.json", 5, 30, 20);
    let report = dir.join("report.html");
    let out = replay(&[
        "--config",
        &base,
        "--sweep",
        "threshold=3,6",
        "--report",
        report.to_str().unwrap(),
        &input,
    ]);
    let rows = sweep_rows(&out);
    assert_eq!(rows.len(), 2, "{out}");
    for (label, (_, events, per_day)) in &rows {
        assert_eq!(per_day, "-", "{label}");
        assert!(
            *events > 0,
            "{label}: the rows still count what the input holds"
        );
    }
    let note = "events per day: not scaled from 3599.0 s of input";
    assert!(out.contains(note), "{out}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains(note), "the report says it too");
}

/// Parses the sweep table: combination (its `key=value` columns) -> (actors flagged, events,
/// events per day as printed).
fn sweep_rows(out: &str) -> std::collections::BTreeMap<String, (usize, u64, String)> {
    let table = out.split_once("combination").expect("a sweep table").1;
    table
        .lines()
        .skip(1)
        .filter(|l| l.contains('='))
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let keys = cols.iter().take_while(|c| c.contains('=')).count();
            (
                cols[..keys].join(" "),
                (
                    cols[keys].parse().unwrap(),
                    cols[keys + 1].parse().unwrap(),
                    cols[keys + 2].to_string(),
                ),
            )
        })
        .collect()
}

/// The summary's 4XX_FILTER row: (actors flagged, events).
fn summary_row(out: &str) -> (usize, u64) {
    let line = out
        .lines()
        .find(|l| l.starts_with("4XX_FILTER"))
        .expect("the rule's row");
    let cols: Vec<&str> = line.split_whitespace().collect();
    (cols[2].parse().unwrap(), cols[3].parse().unwrap())
}

#[test]
fn sweep_rows_equal_separate_replays() {
    let dir = tempdir("report");
    let mut trace = trace();
    // An hour of input, the least that events are scaled to a day from (a 200 counts nowhere).
    trace.push((T0 + 3_600_000, "192.0.2.1".to_string(), 200));
    let input = write_trace(&dir, &trace);
    let base = config(&dir, "base.json", 5, 30, 20);
    let out = replay(&[
        "--config",
        &base,
        "--sweep",
        "threshold=3,6,12;window_secs=10,60",
        &input,
    ]);
    assert!(!out.contains("not scaled"), "{out}");
    let rows = sweep_rows(&out);
    assert_eq!(rows.len(), 6, "{out}");
    let span_ms = trace.last().unwrap().0 - trace[0].0;
    for threshold in [3u32, 6, 12] {
        for window in [10u32, 60] {
            let label = format!("threshold={threshold} window_secs={window}");
            let single = config(
                &dir,
                &format!("{threshold}-{window}.json"),
                threshold,
                window,
                20,
            );
            let alone = summary_row(&replay(&["--config", &single, &input]));
            let (actors, events, per_day) = rows[&label].clone();
            assert_eq!((actors, events), alone, "{label}");
            let (_, reference_events) =
                reference(&trace, threshold as usize, u64::from(window) * 1000, 20_000);
            assert_eq!(
                events,
                reference_events.values().sum::<usize>() as u64,
                "{label}"
            );
            assert_eq!(span_ms, 3_600_000);
            assert_eq!(per_day, format!("{}.0", events * 24), "{label}");
        }
    }
    // Nobody flagged at 12 within 10 s: the scanner holds at most 5 there.
    assert_eq!(rows["threshold=12 window_secs=10"].0, 0);
}

/// Chromium: Debian's `chromium` (`make setup-report`), or `ACTORWATCH_CHROMIUM`.
fn chromium() -> String {
    let bin = std::env::var("ACTORWATCH_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{bin} not found: `make setup-report` installs Debian's chromium"
    );
    bin
}

/// A loopback HTTP proxy that answers 502 to everything and keeps each request's first line:
/// Chromium's only way out.
struct Proxy {
    port: u16,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    fn start() -> Proxy {
        use std::io::{BufRead, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, stopped) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                        let mut line = String::new();
                        let _ = std::io::BufReader::new(&conn).read_line(&mut line);
                        seen.lock().unwrap().push(line.trim().to_string());
                        let _ = conn
                            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        });
        Proxy {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// Requests other than the browser's own background calls to Google's services: its
    /// `*.google.com` services and its component updater (`update.googleapis.com`, downloads
    /// from `*.gvt1.com`), which it calls even with `--disable-component-update`. A page's
    /// fetch of another Google host (`fonts.googleapis.com`) still counts.
    fn page_requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                let host = r.split_whitespace().nth(1).unwrap_or("");
                let host = host.trim_start_matches("http://").split([':', '/']).next();
                !host.is_some_and(|h| {
                    h == "google.com"
                        || h.ends_with(".google.com")
                        || h == "update.googleapis.com"
                        || h.ends_with(".gvt1.com")
                })
            })
            .cloned()
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const WINDOW: (u32, u32) = (1000, 1600);

/// Opens `page` in headless Chromium through `proxy`, screenshots it to `png`; returns stderr.
fn screenshot(page: &Path, png: &Path, proxy: &Proxy, profile: &Path) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--proxy-server=http://127.0.0.1:{}", proxy.port))
        .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chromium runs");
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut text);
        text
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let text = reader.join().unwrap();
    assert!(status.success(), "chromium: {status}\n{text}");
    text
}

/// Width and height from a PNG's header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The report of the demo's traffic (its Envoy access log, `tests/fixtures/demo-access.jsonl`)
/// in headless Chromium: it renders, logs no console message (a fetch the page's
/// Content-Security-Policy blocks would log one), and asks the network for nothing. Chromium's
/// only way out is a loopback proxy that keeps what it is asked; a control page with one remote
/// image shows that the proxy would see a fetch. The screenshot is the README's picture
/// (`docs/report.png`: `make screenshot` refreshes it from this run).
#[test]
fn the_report_renders_in_headless_chromium_and_fetches_nothing() {
    let dir = tempdir("report");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let page = dir.join("report.html");
    let out = replay(&[
        "--config",
        fixtures.join("demo-config.json").to_str().unwrap(),
        "--format",
        "envoy-json",
        "--sweep",
        "threshold=5,10,20",
        "--report",
        page.to_str().unwrap(),
        fixtures.join("demo-access.jsonl").to_str().unwrap(),
    ]);
    assert!(out.contains("203.0.113.66"), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    // The injector's SQL injection and XSS, one match each, in the threat rules' chart.
    let threats = svgs(&html, "threats");
    assert_eq!(threats.len(), 1);
    for rule in ["SQLInjection", "XSS"] {
        let line = threats[0]
            .split("<polyline")
            .find(|l| attr(l, "data-label") == Some(rule))
            .unwrap_or_else(|| panic!("{rule} drawn"));
        let total: f64 = attr(line, "data-values")
            .unwrap()
            .split(' ')
            .map(|v| v.parse::<f64>().unwrap())
            .sum();
        assert_eq!(total, 1.0, "{rule}");
    }
    // The sweep's rows on the page are the ones printed.
    let printed = sweep_rows(&out);
    for (label, (actors, events, _)) in &printed {
        let row = html
            .split(&format!("<tr data-combination=\"{label}\">"))
            .nth(1)
            .unwrap_or_else(|| panic!("{label} on the page"));
        let cells: Vec<&str> = row
            .split("<td>")
            .skip(2)
            .take(2)
            .map(|c| c.split('<').next().unwrap())
            .collect();
        assert_eq!(cells, [actors.to_string(), events.to_string()], "{label}");
    }
    assert_eq!(printed.len(), 3);

    let proxy = Proxy::start();
    let png = dir.join("report.png");
    let log = screenshot(&page, &png, &proxy, &dir.join("profile"));
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "{console:#?}");
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(png_size(&bytes), WINDOW);

    // Control: a blank page, and a page that loads a remote image, in the same browser setup.
    let blank = dir.join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank_png = dir.join("blank.png");
    screenshot(&blank, &blank_png, &proxy, &dir.join("profile-blank"));
    let blank_bytes = std::fs::metadata(&blank_png).unwrap().len();
    assert!(
        bytes.len() as u64 > 4 * blank_bytes,
        "the report's screenshot ({} bytes) holds more than a blank page's ({blank_bytes})",
        bytes.len()
    );
    assert_eq!(proxy.page_requests(), Vec::<String>::new());
    let remote = dir.join("remote.html");
    std::fs::write(
        &remote,
        "<!DOCTYPE html><html><body><img src=\"http://actorwatch-control.invalid/x.png\"></body></html>",
    )
    .unwrap();
    screenshot(
        &remote,
        &dir.join("remote.png"),
        &proxy,
        &dir.join("profile-remote"),
    );
    let seen = proxy.page_requests();
    assert!(
        seen.iter()
            .any(|r| r.contains("actorwatch-control.invalid")),
        "{seen:?}"
    );

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/report.png");
    let _ = std::fs::copy(&png, &target);
    if std::env::var_os("ACTORWATCH_UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.png");
        std::fs::create_dir_all(docs.parent().unwrap()).unwrap();
        std::fs::copy(&png, docs).unwrap();
    }
}
