//! The `actorwatch` binary, run as users run it.

use actorwatch_core::payload::shape_errors;
use actorwatch_core::payload::WebhookPayload;
use actorwatch_core::signature::sign;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_actorwatch"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> String {
    repo()
        .join("cli/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    run_with_env(args, stdin, &[])
}

/// The variables `{"env": ...}` references in the repository's configurations name.
const ENV_NAMES: [&str; 2] = ["ACTORWATCH_HMAC_SECRET", "ACTORWATCH_WEBHOOK_AUTHORIZATION"];

/// `run` with exactly these of [`ENV_NAMES`] set (the others removed from the environment).
fn run_with_env(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut cmd = bin();
    for name in ENV_NAMES {
        cmd.env_remove(name);
    }
    let mut child = cmd
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("actorwatch runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

// ---------------------------------------------------------------------------------------------
// validate

#[test]
fn validate_accepts_every_example_config_in_the_repo() {
    let mut configs: Vec<PathBuf> = vec![repo().join("cli/tests/fixtures/config.json")];
    for dir in ["examples", "envoy", "envoy/istio", "edge-worker"] {
        if let Ok(entries) = std::fs::read_dir(repo().join(dir)) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "json")
                    && !p.ends_with("package.json")
                    && !p.ends_with("package-lock.json")
                {
                    configs.push(p);
                }
            }
        }
    }
    assert!(configs.len() >= 4, "{configs:?}");
    let env = [
        (ENV_NAMES[0], "cli-hmac-s3cret-0123456789"),
        (ENV_NAMES[1], "Bearer cli-t0ken"),
    ];
    for c in configs {
        let o = run_with_env(&["validate", &c.display().to_string()], None, &env);
        assert_eq!(
            (o.status.code(), stdout(&o).as_str()),
            (Some(0), "ok\n"),
            "{}",
            c.display()
        );
    }
}

#[test]
fn validate_prints_every_error_with_its_path() {
    let cases: [(&str, &[&str]); 5] = [
        (
            r#"{"webhook": {"url": "http://h/"}, "rules": [{"id": "A", "threshold": 0}]}"#,
            &["rules[0].threshold: must be >= 1, got 0"],
        ),
        (
            r#"{"webhook": {"url": "http://h/", "mode": "sometimes"}, "actor": {"sources": []}}"#,
            &[
                "actor.sources: must list at least one source, got []",
                "webhook.mode: must be one of \"periodic\", \"instant\", got \"sometimes\"",
            ],
        ),
        (
            r#"{"rules": []}"#,
            &[
                "rules: must hold at least one rule (or threat_rules), got []",
                "webhook: is required (an object with at least \"url\"), got nothing",
            ],
        ),
        (
            r#"{"webhook": {"url": "http://h/"}, "max_actors": -5}"#,
            &["max_actors: must be an integer in 1..=50000000, got -5"],
        ),
        (
            r#"{"webhook": {"url": "http://h/"}, "samples_per_event": 1000}"#,
            &["samples_per_event: must be <= 100, got 1000"],
        ),
    ];
    for (config, want) in cases {
        let o = run(&["validate", "-"], Some(config));
        assert_eq!(o.status.code(), Some(1), "{config}");
        let got: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
        assert_eq!(
            got,
            want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "{config}"
        );
    }
    let o = run(&["validate", "/nonexistent/actorwatch.json"], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn validate_reads_secrets_named_by_the_config_from_its_environment() {
    let config = r#"{"webhook": {"url": "http://h/", "hmac_secret": {"env": "ACTORWATCH_HMAC_SECRET"},
                     "headers": {"authorization": {"env": "ACTORWATCH_WEBHOOK_AUTHORIZATION"}}}}"#;
    let o = run_with_env(&["validate", "-"], Some(config), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "webhook.headers.authorization: environment variable ACTORWATCH_WEBHOOK_AUTHORIZATION is not set\n\
         webhook.hmac_secret: environment variable ACTORWATCH_HMAC_SECRET is not set\n"
    );
    let set = [
        (ENV_NAMES[0], "cli-hmac-s3cret-0123456789"),
        (ENV_NAMES[1], "Bearer cli-t0ken"),
    ];
    let o = run_with_env(&["validate", "-"], Some(config), &set);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "ok\n"));
    // A value that fails a check is described, never shown.
    let short = [
        (ENV_NAMES[0], "sh0rt-s3cret"),
        (ENV_NAMES[1], "Bearer cli-t0ken"),
    ];
    let o = run_with_env(&["validate", "-"], Some(config), &short);
    assert_eq!(
        (o.status.code(), stdout(&o).as_str()),
        (
            Some(1),
            "webhook.hmac_secret: must be at least 16 characters, got 12 characters \
             (from environment variable ACTORWATCH_HMAC_SECRET)\n"
        )
    );
}

#[test]
fn every_subcommand_has_help_with_examples() {
    for sub in ["validate", "replay", "receive"] {
        let o = run(&[sub, "--help"], None);
        assert_eq!(o.status.code(), Some(0));
        assert!(
            stdout(&o).contains("Examples:"),
            "{sub} --help has no examples"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// replay

/// (timestamp, actor, ip, method, url, count): the facts of an event, as the fixture was built.
type Fact = (i64, String, String, String, String, u64);

fn facts(out: &str) -> Vec<Fact> {
    out.lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).expect("one event per line");
            (
                e["timestamp"].as_i64().unwrap(),
                e["actor"].as_str().unwrap().to_string(),
                e["ip"].as_str().unwrap().to_string(),
                e["method"].as_str().unwrap().to_string(),
                e["url"].as_str().unwrap().to_string(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The fixture traffic (see cli/tests/fixtures): the scanner's 5th 404 in 5 s, at 18:51:44Z;
/// the IPv6 client's 4 404s plus one from another address of its /64 at 18:51:46Z; the
/// browser's single 404 never flags.
fn expected_facts() -> Vec<Fact> {
    vec![
        (
            1_747_162_304,
            "203.0.113.7".into(),
            "203.0.113.7".into(),
            "GET".into(),
            "/config.json".into(),
            5,
        ),
        (
            1_747_162_306,
            "2001:db8::/64".into(),
            "2001:db8::9".into(),
            "POST".into(),
            "/api/items".into(),
            5,
        ),
    ]
}

#[test]
fn replay_gives_the_same_events_in_every_format() {
    let config = fixture("config.json");
    for file in [
        "traffic.jsonl",
        "traffic.combined.log",
        "traffic.envoy.json",
        "traffic.istio.log",
    ] {
        let o = run(
            &[
                "replay",
                "--config",
                &config,
                "--emit",
                "events",
                &fixture(file),
            ],
            None,
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "{file}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(facts(&stdout(&o)), expected_facts(), "{file}");
    }
    // Forcing the format gives the same as detecting it.
    let o = run(
        &[
            "replay",
            "--config",
            &config,
            "--emit",
            "events",
            "--format",
            "combined",
            &fixture("traffic.combined.log"),
        ],
        None,
    );
    assert_eq!(facts(&stdout(&o)), expected_facts());
}

#[test]
fn replay_prints_every_metric_as_one_json_object() {
    let o = run(
        &[
            "replay",
            "--config",
            &fixture("config.json"),
            "--emit",
            "metrics",
            &fixture("traffic.jsonl"),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    let m: serde_json::Map<String, Value> = serde_json::from_str(&out).expect("one JSON object");
    // Every metric the core declares, and nothing else, in its order.
    let names: Vec<&str> = actorwatch_core::Metrics::default()
        .fields()
        .iter()
        .map(|f| f.name)
        .collect();
    let keys: Vec<&str> = out
        .trim()
        .trim_matches(['{', '}'])
        .split(',')
        .filter_map(|kv| kv.split(':').next())
        .map(|k| k.trim_matches('"'))
        .collect();
    assert_eq!(keys, names);
    let value = |name: &str| m.get(name).and_then(Value::as_u64);
    // 14 responses, 12 of them 4XX; two actors flagged, the scanner's sixth 4XX in its cooldown;
    // each event in a POST of its own, taken as answered 2xx.
    for (name, want) in [
        ("responses", 14),
        ("matched", 12),
        ("unattributed", 0),
        ("actors_tracked", 3),
        ("events_raised", 2),
        ("events_suppressed", 1),
        ("events_queued", 0),
        ("events_delivered", 2),
        ("deliveries_sent", 2),
        ("deliveries_succeeded", 2),
        ("deliveries_failed", 0),
        ("threat_inspected", 0),
    ] {
        assert_eq!(value(name), Some(want), "{name}");
    }
    assert!(value("memory_bytes").is_some_and(|b| b > 0));
}

#[test]
fn replay_reads_har_with_a_given_peer_and_never_leaks_credentials() {
    let o = run(
        &[
            "replay",
            "--config",
            &fixture("config.json"),
            "--emit",
            "payloads",
            "--peer",
            "203.0.113.7",
            &fixture("scanner.har"),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        !out.contains("har-secret-token"),
        "the Authorization header leaked"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1);
    let p: WebhookPayload = serde_json::from_str(lines[0]).unwrap();
    let e = &p.malicious_events[0];
    assert_eq!(
        (e.actor.as_str(), e.timestamp, e.url.as_str()),
        ("203.0.113.7", 1_747_162_304, "/config.json")
    );
    assert_eq!(e.malicious_payloads_responses.len(), 2);
}

#[test]
fn replay_payloads_are_akto_bodies_and_periodic_mode_flushes_at_the_end() {
    let dir = tempdir();
    let periodic = dir.join("periodic.json");
    std::fs::write(
        &periodic,
        r#"{"rules": [{"id": "4XX_FILTER", "threshold": 5}], "samples_per_event": 0,
            "webhook": {"url": "http://127.0.0.1:9/hook", "mode": "periodic", "run_every_secs": 900}}"#,
    )
    .unwrap();
    let o = run(
        &[
            "replay",
            "--config",
            &periodic.display().to_string(),
            "--emit",
            "payloads",
            &fixture("traffic.jsonl"),
        ],
        None,
    );
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "both events in one periodic POST: {out}");
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(shape_errors(&v), Vec::<String>::new());
    assert_eq!(v["maliciousEvents"].as_array().unwrap().len(), 2);
}

#[test]
fn replay_summary_counts_flagged_actors() {
    let o = run(
        &[
            "replay",
            "--config",
            &fixture("config.json"),
            &fixture("traffic.jsonl"),
        ],
        None,
    );
    let out = stdout(&o);
    assert!(
        out.contains("records: 14 (0 malformed, skipped)   matched: 12"),
        "{out}"
    );
    let row = out.lines().find(|l| l.starts_with("4XX_FILTER")).unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        vec!["4XX_FILTER", "alert", "2", "2"]
    );
    assert!(out.contains("    203.0.113.7\n") && out.contains("    2001:db8::/64\n"));
}

#[test]
fn replay_block_mode_keeps_blocked_requests_from_the_api() {
    let dir = tempdir();
    let block = dir.join("block.json");
    std::fs::write(
        &block,
        r#"{"rules": [{"id": "4XX_FILTER", "threshold": 5, "action": "block", "block_secs": 60}],
            "webhook": {"url": "http://127.0.0.1:9/hook", "mode": "instant"}}"#,
    )
    .unwrap();
    let o = run(
        &[
            "replay",
            "--config",
            &block.display().to_string(),
            &fixture("traffic.jsonl"),
        ],
        None,
    );
    // The scanner's request after its 5th 404 (/.git/config at +7 s) is blocked.
    assert!(stdout(&o).contains("blocked requests: 1"), "{}", stdout(&o));
}

#[test]
fn malformed_lines_are_counted_with_their_line_numbers() {
    let dir = tempdir();
    let file = dir.join("broken.jsonl");
    let good = std::fs::read_to_string(fixture("traffic.jsonl")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(1, "{\"ts_ms\": 1, \"method\": \"GET\"}");
    lines.insert(3, "not json at all");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let path = file.display().to_string();
    let o = run(
        &[
            "replay",
            "--config",
            &fixture("config.json"),
            "--format",
            "jsonl",
            &path,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{path}:2: skipped")) && err.contains(&format!("{path}:4: skipped")),
        "{err}"
    );
    assert!(stdout(&o).contains("records: 14 (2 malformed, skipped)"));
    let o = run(
        &[
            "replay",
            "--config",
            &fixture("config.json"),
            "--format",
            "jsonl",
            "--strict",
            &path,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("{path}:2:")));
}

/// The honeypot fixtures: an Apache log with `"-"` lines, Nikto's stray quotes and a client
/// logged by host name, and an istio-proxy node log (CRI) with TCP lines and Envoy's own output.
fn honeypot(emit: &str, config: &str) -> Output {
    run(
        &[
            "replay",
            "--config",
            config,
            "--emit",
            emit,
            &fixture("honeypot.access.log"),
            &fixture("honeypot.istio-proxy.log"),
        ],
        None,
    )
}

#[test]
fn replay_reads_real_logs_as_they_are() {
    let o = honeypot("summary", &fixture("config.json"));
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    // 18 Apache lines, one cut short; 9 node-log records: 2 TCP lines, 2 lines of the proxy's
    // own output, and 4 requests, one of them split over two records. All but the first
    // Apache line are 4XX.
    assert!(
        out.contains(
            "records: 21 (1 malformed, skipped)   matched: 20   unattributed: 0   blocked requests: 0   not HTTP: 2   not access log: 2\n"
        ),
        "{out}"
    );
    let row = out.lines().find(|l| l.starts_with("4XX_FILTER")).unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        vec!["4XX_FILTER", "alert", "3", "3"]
    );
    // The idle client (four 408s and a 400, no request line), Nikto (stray quotes) and the
    // client logged by name (one of its five lines in capitals); the API client behind Istio
    // stops at 4 404s, the browser at one.
    let actors: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("    ")).collect();
    assert_eq!(
        actors,
        vec!["192.0.2.44", "203-0-113-9.dyn.example.net", "45.148.10.81"]
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:15: skipped", fixture("honeypot.access.log"))),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}: 2 lines are not access-log lines",
            fixture("honeypot.istio-proxy.log")
        )),
        "{err}"
    );

    let o = honeypot("events", &fixture("config.json"));
    assert_eq!(
        facts(&stdout(&o)),
        vec![
            (
                1_747_162_224,
                "192.0.2.44".into(),
                "192.0.2.44".into(),
                "GET\"".into(),
                "/phpmyadmin/".into(),
                5
            ),
            (
                1_747_162_225,
                "203-0-113-9.dyn.example.net".into(),
                String::new(),
                "GET".into(),
                "/config.php".into(),
                5
            ),
            (
                1_747_162_245,
                "45.148.10.81".into(),
                "45.148.10.81".into(),
                "-".into(),
                "-".into(),
                5
            ),
        ]
    );
}

#[test]
fn requests_never_sent_are_one_api_with_samples() {
    let dir = tempdir();
    let per_api = dir.join("per-api.json");
    std::fs::write(
        &per_api,
        r#"{"rules": [{"id": "4XX_PER_API", "per": "actor_api", "threshold": 5}], "samples_per_event": 2,
            "webhook": {"url": "http://127.0.0.1:9/hook", "mode": "instant"}}"#,
    )
    .unwrap();
    let o = honeypot("payloads", &per_api.display().to_string());
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    // Every other actor spreads its 404s over several paths.
    assert_eq!(lines.len(), 1, "{out}");
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(shape_errors(&v), Vec::<String>::new());
    let e = &v["maliciousEvents"][0];
    assert_eq!(
        (&e["actor"], &e["method"], &e["url"], &e["count"]),
        (
            &Value::from("45.148.10.81"),
            &Value::from("-"),
            &Value::from("-"),
            &Value::from(5)
        )
    );
    // The last two: the 400 at 18:50:35 and the 408 at 18:50:45.
    let samples: Vec<(i64, Value)> = e["maliciousPayloadsResponses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let orig: Value = serde_json::from_str(s["orig"].as_str().unwrap()).unwrap();
            (s["ts"].as_i64().unwrap(), orig)
        })
        .collect();
    assert_eq!(
        samples
            .iter()
            .map(|(ts, o)| (
                *ts,
                o["method"].clone(),
                o["path"].clone(),
                o["statusCode"].clone()
            ))
            .collect::<Vec<_>>(),
        vec![
            (1_747_162_235, "-".into(), "-".into(), 400.into()),
            (1_747_162_245, "-".into(), "-".into(), 408.into()),
        ]
    );
}

fn tempdir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("actorwatch-cli-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// receive

/// A receiver process, stopped by its PID when dropped.
struct Receiver {
    child: Child,
    addr: String,
}

impl Receiver {
    fn start(extra: &[&str]) -> Receiver {
        let mut child = bin()
            .args(["receive", "--listen", "127.0.0.1:0", "--quiet"])
            .args(extra)
            .env_remove("ACTORWATCH_HMAC_SECRET")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first.trim().rsplit("http://").next().unwrap().to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{first}");
        Receiver { child, addr }
    }

    /// One HTTP/1.1 request; returns (status, body).
    fn request(&self, method: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut req = format!(
            "{method} /hook HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let status = resp.split(' ').nth(1).unwrap().parse().unwrap();
        let body = resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, body)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SECRET: &str = "receiver-test-secret-0123";

fn example_body() -> Vec<u8> {
    std::fs::read(repo().join("filter/core/tests/fixtures/akto-webhook-example.json"))
        .expect("Akto's example payload")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn signed(delivery: &str, body: &[u8], t: u64) -> Vec<(&'static str, String)> {
    vec![
        ("x-actorwatch-delivery", delivery.to_string()),
        ("x-actorwatch-signature", sign(SECRET.as_bytes(), t, body)),
    ]
}

fn wait_for_lines(path: &Path, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // Complete lines only: the last one may still be being written.
        let lines: Vec<Value> = text
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn receive_checks_signatures_fails_on_purpose_and_spots_duplicates() {
    let dir = tempdir();
    let out = dir.join("received.jsonl");
    let r = Receiver::start(&[
        "--secret",
        SECRET,
        "--fail-first",
        "1",
        "--out",
        &out.display().to_string(),
    ]);
    let body = example_body();
    // --fail-first 1: the first POST gets 500 even with a good signature.
    assert_eq!(
        r.request("POST", &signed("d-1", &body, now()), &body).0,
        500
    );
    assert_eq!(
        r.request("POST", &signed("d-1", &body, now()), &body).0,
        200
    );
    // The same delivery again (a retry whose first answer was lost): accepted, reported duplicate.
    assert_eq!(
        r.request("POST", &signed("d-1", &body, now()), &body).0,
        200
    );
    // Bad signature, stale signature, no signature: 401.
    let mut tampered = signed("d-2", &body, now());
    tampered[1].1 = sign(b"wrong-secret-wrong-secret", now(), &body);
    assert_eq!(r.request("POST", &tampered, &body).0, 401);
    assert_eq!(
        r.request("POST", &signed("d-3", &body, now() - 301), &body)
            .0,
        401
    );
    assert_eq!(
        r.request(
            "POST",
            &[("x-actorwatch-delivery", "d-4".to_string())],
            &body
        )
        .0,
        401
    );
    // Signed, but not Akto's format.
    let bad = br#"{"maliciousEvents": [{"actor": 1}]}"#;
    let (status, answer) = r.request("POST", &signed("d-5", bad, now()), bad);
    assert_eq!(status, 400);
    assert!(
        answer.contains("$.maliciousEvents[0].actor: must be a string"),
        "{answer}"
    );

    let lines = wait_for_lines(&out, 2);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (
            lines[0]["delivery"].as_str(),
            lines[0]["duplicate"].as_bool()
        ),
        (Some("d-1"), Some(false))
    );
    assert_eq!(
        (
            lines[1]["delivery"].as_str(),
            lines[1]["duplicate"].as_bool()
        ),
        (Some("d-1"), Some(true))
    );
    assert_eq!(lines[0]["signature"], "ok");
    assert_eq!(
        lines[0]["payload"],
        serde_json::from_slice::<Value>(&body).unwrap()
    );
    let (_, stats) = r.request("GET", &[], b"");
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(
        stats,
        serde_json::json!({"posts": 7, "accepted": 2, "events": 1, "duplicates": 1, "rejected": 4})
    );
}

#[test]
fn receive_can_answer_any_status() {
    let r = Receiver::start(&["--status", "503"]);
    let body = example_body();
    assert_eq!(
        r.request("POST", &[("x-actorwatch-delivery", "x".to_string())], &body)
            .0,
        503
    );
}

/// Replay reads a log's response bodies (`response_body`) the way the proxies read responses:
/// an attack answered with its effect is a successful exploit (severity raised), one answered
/// without is not, one whose response the log does not carry is unknown; a stack trace in a
/// 500 is a `SecurityMisconfig`; a benign request's response is never read.
#[test]
fn replay_reads_response_bodies_where_the_log_has_them() {
    let o = run(
        &[
            "replay",
            "--config",
            &fixture("responses.config.json"),
            "--emit",
            "events",
            &fixture("responses.jsonl"),
        ],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let events: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(&str, &str, Option<bool>, &str)> = events
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or(""),
                e["filterId"].as_str().unwrap_or(""),
                e["successfulExploit"].as_bool(),
                e["severity"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("198.51.100.61", "SQLInjection", Some(true), "HIGH"),
            ("198.51.100.62", "SQLInjection", Some(false), "MEDIUM"),
            ("198.51.100.63", "SQLInjection", None, "MEDIUM"),
            ("198.51.100.64", "SSRF", Some(true), "CRITICAL"),
            ("198.51.100.65", "SecurityMisconfig", None, "MEDIUM"),
        ]
    );
    // The cloud credentials are named, never copied.
    assert!(!stdout(&o).contains("not-a-real-secret"));
    let sample: Value = serde_json::from_str(
        events[3]["maliciousPayloadsResponses"][0]["orig"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        sample["responseEvidence"][0],
        serde_json::json!({"leak": "CLOUD_METADATA", "excerpt": "AWS instance credentials"})
    );
}

/// A credential stuffer that finally succeeds, replayed: the flag, then one hit on the same
/// API (a success elsewhere and a second success raise nothing); the user who mistyped once
/// raises nothing.
#[test]
fn replay_finds_the_credential_stuffer_s_hit() {
    let o = run(
        &[
            "replay",
            "--config",
            &fixture("stuffing.config.json"),
            "--emit",
            "events",
            &fixture("stuffing.jsonl"),
        ],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let events: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(&str, &str, Option<bool>, i64)> = events
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or(""),
                e["eventType"].as_str().unwrap_or(""),
                e["successfulExploit"].as_bool(),
                e["timestamp"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("198.51.100.51", "AGGREGATED", Some(false), 1_800_000_001),
            ("198.51.100.51", "SINGLE", Some(true), 1_800_000_003),
        ]
    );
}
