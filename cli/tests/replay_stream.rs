//! `actorwatch replay` reading its inputs as a stream: merged by time across files, reordered
//! within `--reorder-secs`, from files and from standard input.

mod common;

use common::tempdir;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn replay(args: &[&str], stdin: &[u8]) -> Output {
    let config = fixture("config.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_actorwatch"))
        .arg("replay")
        .arg("--config")
        .arg(&config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("actorwatch runs");
    let mut input = child.stdin.take().unwrap();
    // The replay may be done (and its end of the pipe closed) before all is written.
    let _ = input.write_all(stdin);
    drop(input);
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, lines: &[String]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.display().to_string()
}

/// The fixture traffic: 14 JSON lines in time order over 7 s, two actors flagged.
fn traffic() -> Vec<String> {
    std::fs::read_to_string(fixture("traffic.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `--emit events` of the fixture traffic as it is: the reference.
fn sorted_events() -> String {
    let o = replay(
        &[
            "--emit",
            "events",
            fixture("traffic.jsonl").to_str().unwrap(),
        ],
        b"",
    );
    let events = stdout(&o);
    assert_eq!(events.lines().count(), 2, "{events}");
    events
}

/// A JSON line of a 404 from `peer` at `ts_ms`.
fn line(ts_ms: u64, path: &str, peer: &str) -> String {
    format!(
        r#"{{"ts_ms": {ts_ms}, "method": "GET", "path": "{path}", "status": 404, "peer": "{peer}"}}"#
    )
}

#[test]
fn records_out_of_order_within_the_window_give_the_events_of_sorted_input() {
    let dir = tempdir("stream");
    // Reversed: the last record 7 s ahead of the first, well within the default 60 s.
    let mut reversed = traffic();
    reversed.reverse();
    // Records of one millisecond still go in line order: reverse each second's run back.
    let mut by_second: Vec<Vec<String>> = Vec::new();
    for l in reversed {
        let ts = &l[..24];
        match by_second.last_mut() {
            Some(run) if run[0][..24] == *ts => run.insert(0, l),
            _ => by_second.push(vec![l]),
        }
    }
    let lines: Vec<String> = by_second.concat();
    assert_ne!(lines, traffic());
    let path = write(&dir, "reversed.jsonl", &lines);
    let o = replay(&["--emit", "events", &path], b"");
    assert_eq!(stdout(&o), sorted_events());
    let summary = stdout(&replay(&[&path], b""));
    assert!(
        summary.contains("records: 14 (0 malformed, skipped)   matched: 12")
            && !summary.contains("late"),
        "{summary}"
    );
    // With no window, a record is due once a newer one is read: the second newest goes
    // first, then every older one is late.
    let o = replay(&["--reorder-secs", "0", &path], b"");
    assert!(
        stdout(&o).contains("records: 14 (0 malformed, skipped)   matched: 2")
            && stdout(&o).contains("late, not replayed: 12\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_record_later_than_the_window_is_counted_and_reported() {
    let dir = tempdir("stream");
    let t = 1_747_162_300_000u64;
    // The scanner's 5 404s in 4 s, then a record 20 s later, then one from 10 s before the
    // first: more than the 15 s window behind, after newer records were replayed.
    let mut lines: Vec<String> = (0..5)
        .map(|i| line(t + i * 1000, &format!("/p{i}"), "203.0.113.7:1"))
        .collect();
    lines.push(line(t + 20_000, "/later", "198.51.100.1:1"));
    lines.push(line(t - 10_000, "/late", "198.51.100.2:1"));
    let path = write(&dir, "late.jsonl", &lines);
    let o = replay(&["--reorder-secs", "15", &path], b"");
    let out = stdout(&o);
    assert!(
        out.contains(
            "records: 7 (0 malformed, skipped)   matched: 6   unattributed: 0   blocked requests: 0   not HTTP: 0   not access log: 0   late, not replayed: 1\n"
        ),
        "{out}"
    );
    assert!(
        stderr(&o).contains(&format!(
            "{path}: 1 records later than the 15 s reorder window (the first on line 7), not replayed"
        )),
        "{}",
        stderr(&o)
    );
    // A window wide enough takes it in order.
    let out = stdout(&replay(&["--reorder-secs", "31", &path], b""));
    assert!(
        out.contains("records: 7 (0 malformed, skipped)   matched: 7") && !out.contains("late"),
        "{out}"
    );
}

#[test]
fn a_record_exactly_the_window_behind_the_newest_is_replayed_in_order() {
    let dir = tempdir("stream");
    let t = 1_747_162_300_000u64;
    let scanner = "203.0.113.7:1";
    let lines = vec![
        line(t, "/a", scanner),
        // 5.001 s past the first: the first is replayed.
        line(t + 5_001, "/newest", "198.51.100.1:1"),
        // Exactly 5 s behind the newest: in order.
        line(t + 1, "/exactly", scanner),
        line(t + 2, "/b", scanner),
        // 5.001 s behind, but no older than anything replayed (the first): in order.
        line(t, "/tie", scanner),
        line(t + 3, "/c", scanner),
        // 5.002 s behind and older than the first: late.
        line(t - 1, "/late", scanner),
    ];
    let path = write(&dir, "boundary.jsonl", &lines);
    let o = replay(&["--reorder-secs", "5", "--emit", "events", &path], b"");
    let events: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // In order, the scanner's 5th 404 is /c (/a, /tie, /exactly, /b, /c); with /late
    // replayed it would be /b, and with /exactly or /tie taken for late there would be no 5th.
    assert_eq!(events.len(), 1, "{}", stdout(&o));
    assert_eq!(
        (events[0]["url"].as_str(), events[0]["count"].as_u64()),
        (Some("/c"), Some(5))
    );
    assert!(
        stderr(&o).contains("reorder window (the first on line 7), not replayed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn two_files_interleaved_by_time_merge_into_the_events_of_one() {
    let dir = tempdir("stream");
    // The scanner's lines in one file, everyone else's in another: each in time order, the
    // two spanning the same 7 s.
    let (scanner, others): (Vec<String>, Vec<String>) = traffic()
        .into_iter()
        .partition(|l| l.contains("203.0.113.7"));
    let a = write(&dir, "scanner.jsonl", &scanner);
    let b = write(&dir, "others.jsonl", &others);
    for window in ["60", "0"] {
        let o = replay(&["--emit", "events", "--reorder-secs", window, &a, &b], b"");
        assert_eq!(stdout(&o), sorted_events(), "--reorder-secs {window}");
    }
    // Files longer than the window: hours of traffic in each, interleaved second by second.
    // Read one after the other, the second file's records would all be late.
    let t = 1_747_162_300_000u64;
    let hour_a: Vec<String> = (0..7200u64)
        .map(|i| line(t + i * 1000, &format!("/a/{i}"), "203.0.113.7:1"))
        .collect();
    let hour_b: Vec<String> = (0..7200u64)
        .map(|i| line(t + i * 1000 + 500, &format!("/b/{i}"), "198.51.100.9:1"))
        .collect();
    let a = write(&dir, "a.jsonl", &hour_a);
    let b = write(&dir, "b.jsonl", &hour_b);
    let merged: Vec<String> = hour_a
        .iter()
        .zip(&hour_b)
        .flat_map(|(x, y)| [x.clone(), y.clone()])
        .collect();
    let one = write(&dir, "one.jsonl", &merged);
    let both = replay(&["--emit", "events", "--reorder-secs", "1", &a, &b], b"");
    let single = replay(&["--emit", "events", &one], b"");
    assert_eq!(stdout(&both), stdout(&single));
    assert!(!stdout(&both).is_empty());
    let summary = stdout(&replay(&["--reorder-secs", "1", &b, &a], b""));
    assert!(
        summary.contains("records: 14400 (0 malformed, skipped)") && !summary.contains("late"),
        "{summary}"
    );
}

#[test]
fn standard_input_streams_alone_and_merged_with_files() {
    let text = std::fs::read(fixture("traffic.jsonl")).unwrap();
    let o = replay(&["--emit", "events", "-"], &text);
    assert_eq!(stdout(&o), sorted_events());
    // Half on standard input, half in a file.
    let dir = tempdir("stream");
    let (scanner, others): (Vec<String>, Vec<String>) = traffic()
        .into_iter()
        .partition(|l| l.contains("203.0.113.7"));
    let b = write(&dir, "others.jsonl", &others);
    let o = replay(
        &["--emit", "events", "-", &b],
        (scanner.join("\n") + "\n").as_bytes(),
    );
    assert_eq!(stdout(&o), sorted_events());
    // A node log on standard input: the wrapper and the format inside it are detected.
    let istio = std::fs::read(fixture("honeypot.istio-proxy.log")).unwrap();
    let o = replay(&["-"], &istio);
    assert!(
        stdout(&o).contains("not HTTP: 2   not access log: 2"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_long_input_on_standard_input_is_replayed_as_it_comes() {
    // 200,000 records (about 20 MB) through a pipe: all replayed, one actor flagged.
    let t = 1_747_162_300_000u64;
    let mut text = String::new();
    for i in 0..200_000u64 {
        let peer = if i % 1000 == 0 {
            "203.0.113.7:1"
        } else {
            "198.51.100.1:1"
        };
        let status = if i % 1000 == 0 { 404 } else { 200 };
        text.push_str(&format!(
            "{{\"ts_ms\": {}, \"method\": \"GET\", \"path\": \"/x\", \"status\": {status}, \"peer\": \"{peer}\"}}\n",
            t + i * 10
        ));
    }
    let o = replay(&["-"], text.as_bytes());
    let out = stdout(&o);
    assert!(
        out.contains("records: 200000 (0 malformed, skipped)   matched: 200"),
        "{out}"
    );
    let row = out.lines().find(|l| l.starts_with("4XX_FILTER")).unwrap();
    assert_eq!(
        row.split_whitespace().take(3).collect::<Vec<_>>(),
        vec!["4XX_FILTER", "alert", "1"]
    );
    assert!(out.contains("    203.0.113.7\n"), "{out}");
}
