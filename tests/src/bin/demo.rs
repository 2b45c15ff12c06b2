//! `make demo`: a real Envoy with the actorwatch filter in front of a sample API, `actorwatch
//! receive` as the SIEM, ordinary clients and two attackers; prints what the receiver got.

use actorwatch_e2e::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SECRET: &str = "demo-secret-change-me-0123456789";
const FLEET_SECRET: &str = "demo-fleet-secret-change-me-42";

/// `actorwatch receive`, stopped by its PID when dropped.
struct ReceiveProcess {
    child: Child,
    port: u16,
}

impl ReceiveProcess {
    fn start(bin: &PathBuf, out: &PathBuf) -> ReceiveProcess {
        let mut child = Command::new(bin)
            .args([
                "receive",
                "--listen",
                "127.0.0.1:0",
                "--quiet",
                "--secret",
                SECRET,
                "--out",
            ])
            .arg(out)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut first = String::new();
        if let Some(stdout) = child.stdout.as_mut() {
            let _ = BufReader::new(stdout).read_line(&mut first);
        }
        let port = first
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        assert!(
            port != 0,
            "actorwatch receive did not report its address: {first:?}"
        );
        ReceiveProcess { child, port }
    }
}

impl Drop for ReceiveProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let actorwatch = std::env::var_os("ACTORWATCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/release/actorwatch"));
    if std::env::args().any(|a| a == "--fleet") {
        return fleet_demo(&actorwatch);
    }
    let dir = scratch_dir("demo");
    let received = dir.join("received.jsonl");

    println!(
        "== actorwatch demo: Envoy {} with {}",
        envoy_version(),
        filter_wasm().display()
    );
    let api = SampleApi::start();
    let receiver = ReceiveProcess::start(&actorwatch, &received);
    println!(
        "   sample API on 127.0.0.1:{}, actorwatch receive on 127.0.0.1:{}",
        api.port, receiver.port
    );

    let config = format!(
        r#"{{"actor": {{"sources": ["xff", "peer"]}},
  "rules": [{{"id": "4XX_FILTER", "statuses": ["400-499"], "threshold": 10, "window_secs": 60, "cooldown_secs": 600}}],
  "threat_rules": [{{"id": "SQLInjection"}}, {{"id": "XSS", "action": "block"}}, {{"id": "SSRF"}}],
  "samples_per_event": 3,
  "webhook": {{"url": "http://127.0.0.1:{port}/akto", "mode": "instant", "hmac_secret": {{"env": "ACTORWATCH_HMAC_SECRET"}}}}}}"#,
        port = receiver.port
    );
    println!("\n== configuration (the same JSON for the filter and the singleton):\n{config}");
    println!("   the HMAC secret is in Envoy's environment, passed to both VMs by name");
    let mut setup = EnvoySetup::new(&config, api.port, receiver.port);
    setup.concurrency = 2;
    // Envoy's JSON access log, for `actorwatch replay --report` at the end.
    let access_log = dir.join("access.jsonl");
    setup.access_log = Some(access_log.clone());
    setup.env = vec![("ACTORWATCH_HMAC_SECRET".into(), SECRET.into())];
    let envoy = match Envoy::start(&setup) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("Envoy did not start:\n{}", e.log);
            std::process::exit(1);
        }
    };
    println!(
        "   Envoy listening on {} (admin {})",
        envoy.listener, envoy.admin
    );

    println!("\n== traffic (clients behind a load balancer that sets X-Forwarded-For)");
    let mut c = envoy.client();
    let sent = std::cell::Cell::new(0usize);
    // Paced like clients rather than a loop, so that the replay report has a timeline to draw.
    let pace = |ms: u64| std::thread::sleep(Duration::from_millis(ms));
    let mut send = |method: &str, path: &str, client: &str| -> u16 {
        sent.set(sent.get() + 1);
        c.request(
            method,
            path,
            &[("x-forwarded-for", client), ("user-agent", "demo")],
            b"",
        )
        .map(|(s, _)| s)
        .unwrap_or(0)
    };
    for i in 0..5 {
        let client = format!("198.51.100.{}", 10 + i);
        let mut statuses = Vec::new();
        for n in 1..=6 {
            statuses.push(send("GET", &format!("/api/orders/{}", n * 7 + i), &client));
            pace(40);
        }
        statuses.push(send("GET", "/api/orders/999", &client));
        statuses.push(send("GET", "/api/order", &client));
        println!("   ordinary client {client}: {statuses:?}");
    }
    let probes = [
        "/admin",
        "/.env",
        "/.git/config",
        "/wp-login.php",
        "/phpmyadmin",
        "/backup.zip",
        "/config.json",
        "/server-status",
        "/actuator/health",
        "/api/v1/users",
        "/api/internal",
        "/debug",
        "/console",
        "/.aws/credentials",
        "/admin.php",
    ];
    let scanner: Vec<u16> = probes
        .iter()
        .map(|p| {
            pace(80);
            send("GET", p, "203.0.113.66")
        })
        .collect();
    println!(
        "   scanner 203.0.113.66 walked {} paths: {scanner:?}",
        probes.len()
    );
    let stuffer: Vec<u16> = (0..12)
        .map(|_| {
            pace(120);
            send("POST", "/login", "203.0.113.99")
        })
        .collect();
    println!("   credential stuffer 203.0.113.99 tried 12 passwords: {stuffer:?}");
    let injector = [
        send(
            "GET",
            "/api/orders?id=7%27%20UNION%20SELECT%20password%20FROM%20users--",
            "198.51.100.23",
        ),
        send(
            "GET",
            "/api/orders?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
            "198.51.100.23",
        ),
    ];
    println!(
        "   injector 198.51.100.23 sent a SQL injection (alert) and an XSS (blocked): {injector:?}"
    );

    let lines = wait_for_events(&received, 4);

    println!(
        "\n== what the webhook receiver got ({} POSTs, signatures checked)",
        lines.len()
    );
    for l in &lines {
        println!(
            "-- delivery {} (signature {})",
            l["delivery"].as_str().unwrap_or(""),
            l["signature"].as_str().unwrap_or("")
        );
        println!(
            "{}",
            serde_json::to_string_pretty(&l["payload"]).unwrap_or_default()
        );
    }
    println!("\n== actors flagged");
    for l in &lines {
        for e in l["payload"]["maliciousEvents"]
            .as_array()
            .into_iter()
            .flatten()
        {
            println!(
                "   {:<16} {:<12} {:<10} count {}, last {} {}",
                e["actor"].as_str().unwrap_or(""),
                e["filterId"].as_str().unwrap_or(""),
                e["eventType"].as_str().unwrap_or(""),
                e["count"],
                e["method"].as_str().unwrap_or(""),
                e["url"].as_str().unwrap_or("")
            );
        }
    }
    print_moved_metrics(&envoy);
    let ok = !lines.is_empty();
    println!("\n== stopping Envoy, the sample API and the receiver");
    let logged = wait_for(Duration::from_secs(15), || {
        let lines = std::fs::read_to_string(&access_log).ok()?.lines().count();
        (lines >= sent.get()).then_some(())
    });
    if logged.is_none() {
        eprintln!("Envoy's access log holds fewer lines than requests sent");
    }
    drop(envoy);
    drop(receiver);
    drop(api);
    if !ok {
        eprintln!("the receiver got nothing: see {}", dir.display());
        std::process::exit(1);
    }
    report(&actorwatch, &dir, &config, &access_log);
}

/// The filter's metrics that moved, as Prometheus scrapes them from Envoy's admin
/// `/stats/prometheus`, grouped by what they tell (the rest stayed at 0).
fn print_moved_metrics(envoy: &Envoy) {
    let url = format!("http://{}/stats/prometheus", envoy.admin);
    println!("\n== metrics that moved ({url}, grep ^actorwatch_)");
    let Ok((_, body)) = http(envoy.admin, "GET", "/stats/prometheus", &[], b"") else {
        println!("   (Envoy's admin did not answer)");
        return;
    };
    let body = String::from_utf8_lossy(&body);
    let moved: Vec<(&str, &str)> = body
        .lines()
        .filter(|l| l.starts_with("actorwatch_"))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(_, value)| value.parse::<f64>().is_ok_and(|v| v != 0.0))
        .collect();
    let group_of = |series: &str| {
        let name = series.trim_start_matches("actorwatch_");
        if name.starts_with("fleet_") {
            "fleet"
        } else if name.starts_with("threat_") || name.starts_with("bodies_") {
            "threats"
        } else if name.starts_with("deliveries_")
            || ["events_queued", "events_delivered", "events_dropped"]
                .iter()
                .any(|m| name.starts_with(m))
        {
            "delivery"
        } else if name.starts_with("block") {
            "blocking"
        } else {
            "counting"
        }
    };
    for group in ["counting", "threats", "blocking", "delivery", "fleet"] {
        let lines: Vec<_> = moved.iter().filter(|(s, _)| group_of(s) == group).collect();
        if lines.is_empty() {
            continue;
        }
        println!("   {group}:");
        for (series, value) in lines {
            // Envoy writes `{}` after a series without labels.
            println!("     {} {value}", series.trim_end_matches("{}"));
        }
    }
    println!(
        "   ({} of {} series moved; Envoy counted {} 4XX responses: http.api.downstream_rq_4xx)",
        moved.len(),
        body.lines()
            .filter(|l| l.starts_with("actorwatch_"))
            .count(),
        envoy.stat("http.api.downstream_rq_4xx")
    );
}

/// Replays Envoy's access log of the demo into an HTML report, with a threshold sweep.
fn report(actorwatch: &PathBuf, dir: &Path, config: &str, access_log: &Path) {
    let config_path = dir.join("config.json");
    let report = dir.join("report.html");
    if std::fs::write(&config_path, config).is_err() {
        return;
    }
    println!("\n== actorwatch replay of Envoy's access log, with a sweep and an HTML report");
    let status = Command::new(actorwatch)
        .env("ACTORWATCH_HMAC_SECRET", SECRET)
        .arg("replay")
        .arg("--config")
        .arg(&config_path)
        .args(["--format", "envoy-json", "--sweep", "threshold=5,10,20"])
        .arg("--report")
        .arg(&report)
        .arg(access_log)
        .status();
    match status {
        Ok(s) if s.success() => println!("   report: {}", report.display()),
        _ => eprintln!("   actorwatch replay failed on {}", access_log.display()),
    }
}

/// Received POSTs in `path` (one JSON line each) once they hold at least `events` events.
fn wait_for_events(path: &PathBuf, events: usize) -> Vec<Value> {
    wait_for(Duration::from_secs(15), || {
        let text = std::fs::read_to_string(path).ok()?;
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let n: usize = lines
            .iter()
            .map(|l| {
                l["payload"]["maliciousEvents"]
                    .as_array()
                    .map_or(0, Vec::len)
            })
            .sum();
        (n >= events).then_some(lines)
    })
    .unwrap_or_default()
}

/// `make demo-fleet`: three Envoys behind a round-robin "load balancer", one Redis, the
/// `actorwatch front`; a scanner whose probes no single Envoy sees enough of is flagged once.
fn fleet_demo(actorwatch: &PathBuf) {
    let dir = scratch_dir("demo-fleet");
    let received = dir.join("received.jsonl");
    println!(
        "== actorwatch fleet demo: 3 x Envoy {}, one Redis",
        envoy_version()
    );
    let redis = RedisServer::start(&dir.join("redis"));
    // Batches are signed with a secret the front and every Envoy take from their environment.
    let front = FrontProcess::start_signed(&redis.url(), Some(FLEET_SECRET));
    let api = SampleApi::start();
    let receiver = ReceiveProcess::start(actorwatch, &received);
    println!(
        "   redis-server on 127.0.0.1:{}, actorwatch front on {}, receiver on 127.0.0.1:{}",
        redis.port, front.addr, receiver.port
    );
    let config = format!(
        r#"{{"actor": {{"sources": ["xff", "peer"]}},
  "rules": [{{"id": "4XX_FILTER", "statuses": ["400-499"], "threshold": 10, "window_secs": 60, "cooldown_secs": 600}}],
  "fleet": {{"mode": "redis", "url": "http://actorwatch-front/v1/batch", "flush_ms": 100, "timeout_ms": 250,
            "hmac_secret": {{"env": "ACTORWATCH_FLEET_SECRET"}}}},
  "samples_per_event": 2,
  "webhook": {{"url": "http://127.0.0.1:{port}/akto", "mode": "instant", "hmac_secret": {{"env": "ACTORWATCH_HMAC_SECRET"}}}}}}"#,
        port = receiver.port
    );
    println!("\n== configuration (the same on every Envoy):\n{config}");
    let mut envoys = Vec::new();
    for _ in 0..3 {
        let mut setup = EnvoySetup::new(&config, api.port, receiver.port);
        setup.concurrency = 2;
        setup.fleet_port = Some(front.addr.port());
        setup.env = vec![
            ("ACTORWATCH_HMAC_SECRET".into(), SECRET.into()),
            ("ACTORWATCH_FLEET_SECRET".into(), FLEET_SECRET.into()),
        ];
        match Envoy::start(&setup) {
            Ok(e) => envoys.push(e),
            Err(e) => {
                eprintln!("Envoy did not start:\n{}", e.log);
                std::process::exit(1);
            }
        }
    }
    for (i, e) in envoys.iter().enumerate() {
        println!(
            "   Envoy {} listening on {} (pid {})",
            i + 1,
            e.listener,
            e.pid()
        );
    }
    println!("\n== a scanner walks 15 paths, round-robin over the 3 Envoys (threshold 10)");
    let mut clients: Vec<Client> = envoys.iter().map(Envoy::client).collect();
    for i in 0..15 {
        let c = &mut clients[i % 3];
        let path = format!("/probe/{i}");
        let status = c
            .request("GET", &path, &[("x-forwarded-for", "203.0.113.66")], b"")
            .map(|(s, _)| s)
            .unwrap_or(0);
        println!("   GET {path:<10} via Envoy {} -> {status}", i % 3 + 1);
    }
    let lines = wait_for_events(&received, 1);
    // Give the fleet time to show that no second event follows.
    std::thread::sleep(Duration::from_secs(1));
    let lines = {
        let text = std::fs::read_to_string(&received).unwrap_or_default();
        let all: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if all.is_empty() {
            lines
        } else {
            all
        }
    };
    println!("\n== each Envoy saw a third; Redis saw them all");
    for (i, e) in envoys.iter().enumerate() {
        println!(
            "   Envoy {}: downstream_rq_4xx {}, fleet_batches {}, fleet_events {}",
            i + 1,
            e.stat("http.api.downstream_rq_4xx"),
            e.metric("fleet_batches"),
            e.metric("fleet_events")
        );
    }
    println!(
        "   Redis: {} counted responses for 203.0.113.66",
        redis.counted("04cb007142")
    );
    let events: Vec<&Value> = lines
        .iter()
        .flat_map(|l| {
            l["payload"]["maliciousEvents"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .collect();
    println!(
        "\n== what the webhook receiver got: {} event(s)",
        events.len()
    );
    for e in &events {
        println!("{}", serde_json::to_string_pretty(e).unwrap_or_default());
    }
    let ok = events.len() == 1;
    drop(envoys);
    drop(front);
    drop(receiver);
    drop(redis);
    drop(api);
    if !ok {
        eprintln!("expected exactly one event: see {}", dir.display());
        std::process::exit(1);
    }
    println!("\n== one event for the fleet, raised by one Envoy; all processes stopped");
}

fn envoy_version() -> String {
    Command::new(envoy_bin())
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            s.split("version: ")
                .nth(1)?
                .split('/')
                .nth(1)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "?".into())
}
