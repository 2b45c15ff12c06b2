//! `actorwatch replay` reading its inputs as a stream: merged by time across files, reordered
//! within `--reorder-secs`, from files and from standard input; input further out of order
//! sorted whole on disk, with the output of the sorted input.

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

/// `actorwatch replay --config <fixture config> ARGS`, fed `stdin`, with `TMPDIR` set when given.
fn run_replay(args: &[&str], stdin: &[u8], tmpdir: Option<&Path>) -> Output {
    let config = fixture("config.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_actorwatch"));
    command
        .arg("replay")
        .arg("--config")
        .arg(&config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = tmpdir {
        command.env("TMPDIR", dir);
    }
    let mut child = command.spawn().expect("actorwatch runs");
    let mut input = child.stdin.take().unwrap();
    // The replay may be done (and its end of the pipe closed) before all is written.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

fn replay(args: &[&str], stdin: &[u8]) -> Output {
    let o = run_replay(args, stdin, None);
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
    assert!(!stderr(&o).contains("sorted"), "{}", stderr(&o));
    let summary = stdout(&replay(&[&path], b""));
    assert!(
        summary.contains("records: 14 (0 malformed, skipped)   matched: 12"),
        "{summary}"
    );
    // With no window, a record is due once a newer one is read: the third line is older than
    // the second, already replayed, and the input is sorted whole instead.
    let o = replay(&["--reorder-secs", "0", "--emit", "events", &path], b"");
    assert_eq!(stdout(&o), sorted_events());
    assert!(
        stderr(&o).contains(&format!(
            "{path}: line 3 is further out of order than the 0 s reorder window holds: 14 records sorted in memory\n"
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_record_later_than_the_window_is_sorted_into_its_place() {
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
            "records: 7 (0 malformed, skipped)   matched: 7   unattributed: 0   blocked requests: 0   not HTTP: 0   not access log: 0\n"
        ),
        "{out}"
    );
    assert!(
        stderr(&o).contains(&format!(
            "{path}: line 7 is further out of order than the 15 s reorder window holds: 7 records sorted in memory\n"
        )),
        "{}",
        stderr(&o)
    );
    // A window wide enough takes it in order, as it streams: the same summary.
    let wide = replay(&["--reorder-secs", "31", &path], b"");
    assert_eq!(stdout(&wide), out);
    assert!(!stderr(&wide).contains("sorted"), "{}", stderr(&wide));
}

#[test]
fn a_record_exactly_the_window_behind_the_newest_is_replayed_as_it_streams() {
    let dir = tempdir("stream");
    let t = 1_747_162_300_000u64;
    let scanner = "203.0.113.7:1";
    let mut lines = vec![
        line(t, "/a", scanner),
        // 5.001 s past the first: the first is replayed.
        line(t + 5_001, "/newest", "198.51.100.1:1"),
        // Exactly 5 s behind the newest: in order.
        line(t + 1, "/exactly", scanner),
        line(t + 2, "/b", scanner),
        // 5.001 s behind, but no older than anything replayed (the first): in order.
        line(t, "/tie", scanner),
        line(t + 3, "/c", scanner),
    ];
    let events = |o: &Output| -> Vec<(String, u64)> {
        stdout(o)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|e| {
                (
                    e["url"].as_str().unwrap().to_string(),
                    e["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let path = write(&dir, "boundary.jsonl", &lines);
    let o = replay(&["--reorder-secs", "5", "--emit", "events", &path], b"");
    // In order, the scanner's 5th 404 is /c (/a, /tie, /exactly, /b, /c); with /exactly or
    // /tie taken for out of order, the input would have been sorted.
    assert_eq!(events(&o), [("/c".to_string(), 5)]);
    assert!(!stderr(&o).contains("sorted"), "{}", stderr(&o));
    // 5.002 s behind and older than the first: the input is sorted, and the 5th 404 is /b
    // (/late, /a, /tie, /exactly, /b).
    lines.push(line(t - 1, "/late", scanner));
    let path = write(&dir, "boundary-late.jsonl", &lines);
    let o = replay(&["--reorder-secs", "5", "--emit", "events", &path], b"");
    assert_eq!(events(&o), [("/b".to_string(), 5)]);
    assert!(
        stderr(&o).contains("line 7 is further out of order than the 5 s reorder window holds"),
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
    let o = replay(&["--reorder-secs", "1", &b, &a], b"");
    assert!(
        stdout(&o).contains("records: 14400 (0 malformed, skipped)")
            && !stderr(&o).contains("sorted"),
        "{}{}",
        stdout(&o),
        stderr(&o)
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

/// Shuffles `items` with a fixed seed (xorshift64*, Fisher-Yates): the order comes from the
/// test, not from the code under test.
fn shuffle<T>(items: &mut [T], mut state: u64) {
    for i in (1..items.len()).rev() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        items.swap(i, (r % (i as u64 + 1)) as usize);
    }
}

/// The lines stably sorted by time: records of one time keep their order in `lines`, as a
/// replay puts them.
fn sorted_by_time(lines: &[(u64, String)]) -> Vec<(u64, String)> {
    let mut sorted = lines.to_vec();
    sorted.sort_by_key(|(t, _)| *t);
    sorted
}

fn texts(lines: &[(u64, String)]) -> Vec<String> {
    lines.iter().map(|(_, l)| l.clone()).collect()
}

/// A JSON line of a response from `peer` at `ts_ms`.
fn response(ts_ms: u64, path: &str, status: u16, peer: &str) -> (u64, String) {
    (
        ts_ms,
        format!(
            r#"{{"ts_ms": {ts_ms}, "method": "GET", "path": "{path}", "status": {status}, "peer": "{peer}", "headers": {{"user-agent": "agent/{peer}"}}}}"#
        ),
    )
}

/// Two hours of traffic in time order: 20 clients' 200s every 37 s with a 404 every tenth of
/// an hour or so (never 5 in a minute), and 5 scanners' bursts of 8 404s, two a second (so
/// that records share their time), 20 minutes apart; the fifth comes back after its cooldown
/// (600 s). 6 events with the fixture configuration (5 404s in 60 s).
fn attack_trace() -> Vec<(u64, String)> {
    let t0 = 1_747_162_800_000u64;
    let end = t0 + 7_200_000;
    let mut lines = Vec::new();
    for c in 0..20u64 {
        let (mut t, mut i) = (t0 + c * 1_700, 0u64);
        while t < end {
            let status = if i % 16 == 5 { 404 } else { 200 };
            let peer = format!("198.51.100.{c}:4000");
            lines.push(response(t, &format!("/app/{c}/{i}"), status, &peer));
            t += 37_000;
            i += 1;
        }
    }
    for k in 1..=5u64 {
        let start = t0 + k * 1_200_000;
        let bursts = if k == 5 {
            vec![start, start + 700_000]
        } else {
            vec![start]
        };
        for (b, s) in bursts.iter().enumerate() {
            for i in 0..8u64 {
                let t = s + (i / 2) * 1_000;
                let peer = format!("203.0.113.{k}:5000");
                lines.push(response(t, &format!("/scan/{k}/{b}/{i}"), 404, &peer));
            }
        }
    }
    sorted_by_time(&lines)
}

/// Replays `path` with `--emit payloads`, `events` and `summary` (and `extra` arguments): the
/// three outputs, and standard error of the summary run.
fn outputs(path: &str, extra: &[&str]) -> (Vec<String>, String) {
    let mut all = Vec::new();
    let mut err = String::new();
    for emit in ["payloads", "events", "summary"] {
        let mut args = vec!["--emit", emit];
        args.extend_from_slice(extra);
        args.push(path);
        let o = replay(&args, b"");
        all.push(stdout(&o));
        err = stderr(&o);
    }
    (all, err)
}

#[test]
fn a_shuffled_trace_gives_the_output_of_the_sorted_trace() {
    let dir = tempdir("stream");
    let mut shuffled = attack_trace();
    shuffle(&mut shuffled, 0x9E37_79B9_7F4A_7C15);
    let sorted = sorted_by_time(&shuffled);
    assert_ne!(texts(&shuffled), texts(&sorted));
    let shuffled_path = write(&dir, "shuffled.jsonl", &texts(&shuffled));
    let sorted_path = write(&dir, "sorted.jsonl", &texts(&sorted));

    // The reference: the stably sorted trace, replayed as it streams (no sorting).
    let (reference, err) = outputs(&sorted_path, &[]);
    assert!(!err.contains("sorted"), "{err}");
    let events: Vec<serde_json::Value> = reference[1]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut actors: Vec<&str> = events
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(events.len(), 6, "{}", reference[1]);
    actors.dedup();
    assert_eq!(
        actors,
        [
            "203.0.113.1",
            "203.0.113.2",
            "203.0.113.3",
            "203.0.113.4",
            "203.0.113.5"
        ]
    );
    assert!(
        reference[2]
            .lines()
            .any(|l| l.split_whitespace().eq(["4XX_FILTER", "alert", "5", "6"])),
        "{}",
        reference[2]
    );

    // The shuffled trace, from a file and from standard input: byte for byte the same.
    let (out, err) = outputs(&shuffled_path, &[]);
    assert_eq!(out, reference);
    assert!(
        err.contains(&format!(
            "{shuffled_path}: line 3 is further out of order than the 60 s reorder window holds: {} records sorted in memory\n",
            shuffled.len()
        )),
        "{err}"
    );
    let text = texts(&shuffled).join("\n") + "\n";
    let piped = replay(&["--emit", "payloads", "-"], text.as_bytes());
    assert_eq!(stdout(&piped), reference[0]);
}

/// `13/May/2025:18:51:48 +0000` for `secs` after 2025-05-12 00:00:00 UTC (within May).
fn apache_time(secs: u64) -> String {
    let (day, rest) = (12 + secs / 86_400, secs % 86_400);
    format!(
        "{day:02}/May/2025:{:02}:{:02}:{:02} +0000",
        rest / 3_600,
        rest / 60 % 60,
        rest % 60
    )
}

/// A day of an Apache log (`day` 0: 12 May, 1: 13 May) in time order: 200s every 2 minutes
/// from 3 browsers, and bursts of 6 404s (two a second) from each scanner, an hour apart.
fn apache_day(day: u64, scanners: &[&str]) -> Vec<String> {
    let mut lines = Vec::new();
    let start = day * 86_400;
    for i in 0..720u64 {
        let t = start + i * 120;
        lines.push((
            t,
            format!(
                r#"198.51.100.{} - - [{}] "GET /page/{i} HTTP/1.1" 200 5120 "https://shop.example/" "Mozilla/5.0 (X11; Linux x86_64)""#,
                i % 3,
                apache_time(t)
            ),
        ));
    }
    for (k, scanner) in scanners.iter().enumerate() {
        let burst = start + 3_600 * (3 + 5 * k as u64);
        for i in 0..6u64 {
            let t = burst + i / 2;
            lines.push((
                t,
                format!(
                    r#"{scanner} - - [{}] "GET /{day}/{k}/.env{i} HTTP/1.1" 404 196 "-" "zgrab/0.x""#,
                    apache_time(t)
                ),
            ));
        }
    }
    texts(&sorted_by_time(&lines))
}

#[test]
fn logs_concatenated_in_the_wrong_order_give_the_output_of_the_sorted_logs() {
    let dir = tempdir("stream");
    // access.log.1 is the older day; 192.0.2.10 scans on both days (a new event, the
    // cooldown long past).
    let older = apache_day(0, &["192.0.2.10", "192.0.2.11"]);
    let newer = apache_day(1, &["192.0.2.12", "192.0.2.10"]);
    let in_order = write(
        &dir,
        "in-order.log",
        &[older.clone(), newer.clone()].concat(),
    );
    // `cat access.log access.log.1`: the older day second, a day behind.
    let wrong: Vec<String> = [newer.clone(), older.clone()].concat();
    let wrong_path = write(&dir, "wrong-order.log", &wrong);

    let (reference, err) = outputs(&in_order, &[]);
    assert!(!err.contains("sorted"), "{err}");
    assert_eq!(reference[1].lines().count(), 4, "{}", reference[1]);
    assert!(
        reference[2]
            .lines()
            .any(|l| l.split_whitespace().eq(["4XX_FILTER", "alert", "3", "4"])),
        "{}",
        reference[2]
    );

    let (out, err) = outputs(&wrong_path, &[]);
    assert_eq!(out, reference);
    assert!(
        err.contains(&format!(
            "{wrong_path}: line {} is further out of order than the 60 s reorder window holds: 1464 records sorted in memory\n",
            newer.len() + 1
        )),
        "{err}"
    );
    // Through a pipe: what was read of it is read again from a copy.
    let text = wrong.join("\n") + "\n";
    for emit in ["payloads", "summary"] {
        let o = replay(&["--emit", emit, "-"], text.as_bytes());
        let i = if emit == "payloads" { 0 } else { 2 };
        assert_eq!(stdout(&o), reference[i], "{emit}");
        assert!(stderr(&o).contains("-: line 733 is further out of order"));
    }
    // Through a named pipe given as a file (`<(cat access.log access.log.1)`): the same.
    let fifo = dir.join("wrong-order.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let writer = {
        let (fifo, text) = (fifo.clone(), text.clone());
        std::thread::spawn(move || std::fs::write(fifo, text))
    };
    let o = replay(&["--emit", "payloads", fifo.to_str().unwrap()], b"");
    writer.join().unwrap().unwrap();
    assert_eq!(stdout(&o), reference[0]);
    assert!(
        stderr(&o).contains("wrong-order.fifo: line 733 is further out of order"),
        "{}",
        stderr(&o)
    );
    // As two files in the wrong order, each in order: merged as they stream.
    let a = write(&dir, "access.log", &newer);
    let b = write(&dir, "access.log.1", &older);
    let o = replay(&["--emit", "payloads", &a, &b], b"");
    assert_eq!(stdout(&o), reference[0]);
    assert!(!stderr(&o).contains("sorted"), "{}", stderr(&o));
}

#[test]
fn tiny_sorted_runs_spill_to_disk_merge_in_levels_and_leave_nothing_behind() {
    let dir = tempdir("stream");
    let mut shuffled = attack_trace();
    shuffle(&mut shuffled, 7);
    let sorted = sorted_by_time(&shuffled);
    let shuffled_path = write(&dir, "shuffled.jsonl", &texts(&shuffled));
    let sorted_path = write(&dir, "sorted.jsonl", &texts(&sorted));
    let (reference, _) = outputs(&sorted_path, &[]);
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).unwrap();

    // 2 KiB runs: some 20 records each, a few hundred runs (more than are merged at once).
    for emit in ["payloads", "summary"] {
        let o = run_replay(
            &["--emit", emit, "--sort-run-bytes", "2048", &shuffled_path],
            b"",
            Some(&tmp),
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let i = if emit == "payloads" { 0 } else { 2 };
        assert_eq!(stdout(&o), reference[i], "{emit}");
        let err = stderr(&o);
        let runs: u64 = err
            .split(" sorted runs)")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no sorted runs reported: {err}"));
        assert!(runs > 100, "{err}");
        assert!(
            err.contains(&format!("{} records sorted on disk (", shuffled.len())),
            "{err}"
        );
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // Temporary files that cannot be made stop the replay (exit 2) with the reason, and
    // print nothing.
    let o = run_replay(
        &["--sort-run-bytes", "2048", &shuffled_path],
        b"",
        Some(&dir.join("missing")),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("actorwatch replay: sorting in temporary files: a temporary file in "),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "");
    // Standard input with no copy to read again: replayed all the same while in order, and
    // stopped with the reason once a record comes out of order.
    let text = texts(&sorted).join("\n") + "\n";
    let o = run_replay(
        &["--emit", "payloads", "-"],
        text.as_bytes(),
        Some(&dir.join("missing")),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), reference[0]);
    let text = texts(&shuffled).join("\n") + "\n";
    let o = run_replay(&["-"], text.as_bytes(), Some(&dir.join("missing")));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("actorwatch replay: -: out of order, and no copy to read it again and sort it: a temporary file in "),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "");
}

#[test]
fn request_lines_that_are_no_http_count_and_broken_lines_are_malformed() {
    let dir = tempdir("stream");
    let at = |s: u64| apache_time(86_400 + 18 * 3_600 + s);
    let lines = [
        // 198.51.100.10: 4 404s and a TLS ClientHello answered 400: 5, the threshold.
        format!(
            r#"198.51.100.10 - - [{}] "GET /a HTTP/1.1" 404 196 "-" "curl/8.5.0""#,
            at(0)
        ),
        format!(
            r#"198.51.100.10 - - [{}] "GET /b HTTP/1.1" 404 196 "-" "curl/8.5.0""#,
            at(1)
        ),
        format!(
            r#"198.51.100.10 - - [{}] "GET /c HTTP/1.1" 404 196 "-" "curl/8.5.0""#,
            at(2)
        ),
        format!(
            r#"198.51.100.10 - - [{}] "GET /d HTTP/1.1" 404 196 "-" "zgrab\x01\"x\"""#,
            at(3)
        ),
        format!(
            r#"198.51.100.10 - - [{}] "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" 400 226 "-" "-""#,
            at(4)
        ),
        // 198.51.100.11: 3 404s and a SOCKS5 greeting: 4, one short; its line cut before the
        // status is malformed (counted, it would make 5).
        format!(
            r#"198.51.100.11 - - [{}] "GET /a HTTP/1.1" 404 196 "-" "-""#,
            at(10)
        ),
        format!(
            r#"198.51.100.11 - - [{}] "GET /b HTTP/1.1" 404 196 "-" "-""#,
            at(11)
        ),
        format!(
            r#"198.51.100.11 - - [{}] "GET /c HTTP/1.1" 404 196 "-" "-""#,
            at(12)
        ),
        format!(
            r#"198.51.100.11 - - [{}] "\x05\x01\x00" 400 226 "-" "-""#,
            at(13)
        ),
        format!(r#"198.51.100.11 - - [{}] "\x16\x03\x01""#, at(14)),
        // 198.51.100.12: 4 404s and an SSH banner: 5.
        format!(
            r#"198.51.100.12 - - [{}] "GET /a HTTP/1.1" 404 196 "-" "-""#,
            at(20)
        ),
        format!(
            r#"198.51.100.12 - - [{}] "GET /b HTTP/1.1" 404 196 "-" "-""#,
            at(21)
        ),
        format!(
            r#"198.51.100.12 - - [{}] "GET /c HTTP/1.1" 404 196 "-" "-""#,
            at(22)
        ),
        format!(
            r#"198.51.100.12 - - [{}] "GET /d HTTP/1.1" 404 196 "-" "-""#,
            at(23)
        ),
        format!(
            r#"198.51.100.12 - - [{}] "SSH-2.0-Go" 400 226 "-" "-""#,
            at(24)
        ),
    ];
    let path = write(&dir, "access.log", &lines);
    let o = replay(&[&path], b"");
    let out = stdout(&o);
    assert!(
        out.contains("records: 14 (1 malformed, skipped)   matched: 14"),
        "{out}"
    );
    let actors: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("    ")).collect();
    assert_eq!(actors, ["198.51.100.10", "198.51.100.12"]);
    assert!(
        stderr(&o).contains(&format!("{path}:10: skipped: ")),
        "{}",
        stderr(&o)
    );

    // The samples (the last two counted requests): the handshake as method and path `-`, and
    // the escaped bytes of a user agent as the server wrote them.
    let o = replay(&["--emit", "payloads", &path], b"");
    let payloads = stdout(&o);
    assert!(!payloads.contains("\\u0001"), "{payloads}");
    let first: serde_json::Value = serde_json::from_str(payloads.lines().next().unwrap()).unwrap();
    let event = &first["maliciousEvents"][0];
    assert_eq!(event["actor"], "198.51.100.10");
    let samples: Vec<serde_json::Value> = event["maliciousPayloadsResponses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::from_str(s["orig"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(
        (
            &samples[1]["method"],
            &samples[1]["path"],
            &samples[1]["statusCode"]
        ),
        (&"-".into(), &"-".into(), &400.into())
    );
    let headers: serde_json::Value =
        serde_json::from_str(samples[0]["requestHeaders"].as_str().unwrap()).unwrap();
    assert_eq!(headers["user-agent"], r#"zgrab\x01"x""#);
}
