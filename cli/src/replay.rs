//! `actorwatch replay`: recorded traffic through the engine, in timestamp order, with each
//! record's own time as the clock.

use crate::formats::{read, Entry, Format, Skipped};
use crate::load_config;
use actorwatch_core::inspect::Request;
use actorwatch_core::inspector::Inspector;
use actorwatch_core::threat::Inspection;
use actorwatch_core::{Engine, Observation};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// A table of rules and actors flagged, events and blocks.
    Summary,
    /// One event JSON per line.
    Events,
    /// One line per webhook POST body, byte-identical to what a host would send.
    Payloads,
    /// One JSON line per threat-rule match (rule, part, name, excerpt, request), for tuning.
    Matches,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  actorwatch replay --config actorwatch.json access.log
  actorwatch replay --config actorwatch.json --emit payloads envoy-access.json > posts.jsonl
  actorwatch replay --config threats.json --emit matches requests.jsonl | jq -r .excerpt
  actorwatch replay --config actorwatch.json --format har --peer 203.0.113.7 session.har
  actorwatch replay --config actorwatch.json /var/log/containers/api-*_istio-proxy-*.log
  zcat access.log.gz | actorwatch replay --config actorwatch.json --format combined -")]
pub struct ReplayArgs {
    /// The configuration (JSON), as the hosts read it.
    #[arg(long, value_name = "CONFIG.json")]
    config: PathBuf,
    /// Files to replay (`-` for standard input). Records of all files are merged by time.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Input format (of the lines inside a CRI or Docker node-log wrapper, which is always
    /// detected); detected from each file's first line when not given.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Emit::Summary)]
    emit: Emit,
    /// Stop at the first malformed line (exit 1) instead of counting and skipping it.
    #[arg(long)]
    strict: bool,
    /// Client address for records that carry none (HAR files, Envoy's default text format).
    #[arg(long, value_name = "ADDRESS")]
    peer: Option<String>,
    /// Seed for the engine (hash keys, jitter, ids): the same seed gives the same output.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn read_input(path: &PathBuf) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    }
    // Logs may hold bytes that are not UTF-8; keep the line rather than refuse the file.
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

#[derive(Default)]
struct RuleSummary {
    actors: BTreeSet<String>,
    events: u64,
}

pub fn run(args: ReplayArgs) -> ExitCode {
    let cfg = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let started = Instant::now();
    let mut entries: Vec<Entry> = Vec::new();
    let (mut malformed_total, mut not_http, mut not_access_log) = (0usize, 0usize, 0usize);
    for path in &args.files {
        let text = match read_input(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("actorwatch replay: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        let skipped = read(args.format, &text, &mut entries);
        if let Err(code) = report_skipped(path, &skipped, args.strict) {
            return code;
        }
        malformed_total += skipped.malformed.len();
        not_http += skipped.not_http;
        not_access_log += skipped.not_access_log;
    }
    if let Some(peer) = &args.peer {
        for e in entries.iter_mut().filter(|e| e.peer.is_none()) {
            e.peer = Some(peer.clone());
        }
    }
    // Stable: records of one millisecond keep their file order.
    entries.sort_by_key(|e| e.ts_ms);

    let rule_ids: Vec<String> = (0..cfg.filter_count())
        .filter_map(|i| cfg.filter(i).map(|(id, _, _)| id.to_string()))
        .collect();
    let rule_actions: Vec<&'static str> = cfg
        .rules
        .iter()
        .map(|r| r.action.as_str())
        .chain(cfg.threat_rules.iter().map(|r| r.action.as_str()))
        .collect();
    let cfg = std::sync::Arc::new(cfg);
    let inspector = Inspector::new(std::sync::Arc::clone(&cfg));
    let mut inspection = Inspection::default();
    let mut engine = Engine::with_shared_config(std::sync::Arc::clone(&cfg), args.seed);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let progress = (std::io::stderr().is_terminal() && entries.len() >= 100_000).then(|| {
        let bar = ProgressBar::new(entries.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} records {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let mut per_rule: BTreeMap<usize, RuleSummary> = BTreeMap::new();
    let mut blocked_requests = 0u64;
    let mut posts = 0u64;
    let mut write_failed = false;
    let mut last_ms = 0u64;
    for (i, e) in entries.iter().enumerate() {
        last_ms = e.ts_ms;
        let mut status = e.status;
        if inspector.is_active() {
            let body = e.body.as_deref().unwrap_or("").as_bytes();
            let limit = inspector.body_max_bytes();
            let kept = if inspector.wants_body() {
                body.get(..limit.min(body.len())).unwrap_or(body)
            } else {
                b""
            };
            let request = Request {
                method: &e.method,
                path: &e.path,
                headers: &e.headers,
                body: kept,
            };
            let bytes = inspector.inspect(e.ts_ms, &request, &mut inspection);
            engine.count_inspected(bytes, inspector.wants_body() && body.len() > limit);
            // A blocking rule would have answered the request itself.
            if let Some(block) = inspector.block_status(&inspection) {
                status = block;
                engine.count_threat_blocked();
            }
            if args.emit == Emit::Matches {
                for hit in &inspection.hits {
                    let line = serde_json::json!({
                        "ts_ms": e.ts_ms,
                        "rule": cfg.threat_rules.get(hit.rule).map(|r| r.id.as_str()),
                        "part": hit.part,
                        "name": hit.name,
                        "excerpt": hit.excerpt,
                        "method": e.method,
                        "path": e.path,
                        "peer": e.peer,
                    });
                    write_failed |=
                        serde_json::to_writer(&mut out, &line).is_err() || writeln!(out).is_err();
                }
            }
        }
        let obs = Observation {
            method: &e.method,
            path: &e.path,
            status,
            peer: e.peer.as_deref(),
            host: e.host.as_deref(),
            headers: &e.headers,
            country: e.country.as_deref(),
            threats: inspector.is_active().then_some(&inspection),
        };
        // A blocked actor's request would have been answered by the proxy, never reaching
        // the API: it is not a response to count.
        let blocked = engine
            .resolve_actor(obs.peer, obs.headers)
            .and_then(|a| engine.check_blocked(e.ts_ms, &a.key))
            .is_some();
        let mut detections = Vec::new();
        if blocked {
            blocked_requests += 1;
        } else {
            engine.observe(e.ts_ms, &obs, &mut detections);
        }
        for d in detections {
            let s = per_rule.entry(d.rule).or_default();
            s.actors.insert(d.event.actor.clone());
            s.events += 1;
            if args.emit == Emit::Events {
                write_failed |=
                    serde_json::to_writer(&mut out, &d.event).is_err() || writeln!(out).is_err();
            }
        }
        posts += deliver(
            &mut engine,
            e.ts_ms,
            args.emit == Emit::Payloads,
            &mut out,
            &mut write_failed,
        );
        if let Some(bar) = &progress {
            if i % 4096 == 0 {
                bar.set_position(i as u64);
            }
        }
        if write_failed {
            // A closed pipe (`| head`): nothing more to say.
            return ExitCode::SUCCESS;
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    // End of input: whatever is queued goes out now, so periodic mode loses nothing.
    engine.flush();
    posts += deliver(
        &mut engine,
        last_ms,
        args.emit == Emit::Payloads,
        &mut out,
        &mut write_failed,
    );

    if args.emit == Emit::Summary {
        let m = engine.metrics();
        let _ = writeln!(
            out,
            "records: {} ({} malformed, skipped)   matched: {}   unattributed: {}   blocked requests: {}   not HTTP: {}   not access log: {}",
            entries.len(),
            malformed_total,
            m.matched,
            m.unattributed,
            blocked_requests,
            not_http,
            not_access_log
        );
        let _ = writeln!(
            out,
            "{:<24} {:<6} {:>15} {:>8}",
            "rule", "action", "actors flagged", "events"
        );
        for (i, id) in rule_ids.iter().enumerate() {
            let s = per_rule.remove(&i).unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<24} {:<6} {:>15} {:>8}",
                id,
                rule_actions[i],
                s.actors.len(),
                s.events
            );
            for actor in &s.actors {
                let _ = writeln!(out, "    {actor}");
            }
        }
        let _ = writeln!(
            out,
            "webhook POSTs: {posts} ({} events)   actors tracked at the end: {}   evicted: {}   engine memory: {:.1} MiB",
            m.events_delivered,
            m.actors_tracked,
            m.actors_evicted,
            m.memory_bytes as f64 / f64::from(1 << 20)
        );
    }
    let _ = out.flush();
    eprintln!(
        "actorwatch replay: {} records in {:.2} s",
        entries.len(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

/// Reports a file's skipped lines on stderr (the first 20 malformed ones with their line
/// numbers); with `strict`, the first malformed line ends the run (exit 1).
fn report_skipped(path: &Path, skipped: &Skipped, strict: bool) -> Result<(), ExitCode> {
    let bad = &skipped.malformed;
    if let (true, Some(m)) = (strict, bad.first()) {
        eprintln!(
            "actorwatch replay: {}:{}: {}",
            path.display(),
            m.line,
            m.reason
        );
        return Err(ExitCode::from(1));
    }
    for m in bad.iter().take(20) {
        eprintln!(
            "actorwatch replay: {}:{}: skipped: {}",
            path.display(),
            m.line,
            m.reason
        );
    }
    if bad.len() > 20 {
        eprintln!(
            "actorwatch replay: {}: {} more malformed lines skipped",
            path.display(),
            bad.len() - 20
        );
    }
    if skipped.not_access_log > 0 {
        eprintln!(
            "actorwatch replay: {}: {} lines are not access-log lines (application output), passed over",
            path.display(),
            skipped.not_access_log
        );
    }
    Ok(())
}

/// Sends every due POST, as if each was answered 2xx at once; returns how many.
fn deliver(
    engine: &mut Engine,
    now_ms: u64,
    print: bool,
    out: &mut impl Write,
    failed: &mut bool,
) -> u64 {
    let mut n = 0;
    while let Some(d) = engine.poll_delivery(now_ms) {
        if print {
            *failed |= out.write_all(&d.body).is_err() || writeln!(out).is_err();
        }
        engine.delivered(d.token, now_ms);
        n += 1;
    }
    n
}
