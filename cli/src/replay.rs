//! `actorwatch replay`: recorded traffic through the engine, in timestamp order, with each
//! record's own time as the clock. Inputs are read as they are replayed (see [`merge`]).

mod lane;
mod merge;
mod report;
mod sweep;

use crate::formats::{Format, Passed, Records};
use crate::load_config;
use actorwatch_core::inspect::Request;
use actorwatch_core::inspector::Inspector;
use actorwatch_core::threat::Inspection;
use actorwatch_core::{Engine, Observation};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use lane::Lane;

use std::io::{BufRead, BufReader, IsTerminal, Write};
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
  actorwatch replay --config actorwatch.json --reorder-secs 600 envoy-access.json
  actorwatch replay --config actorwatch.json --sweep \"threshold=5,10,20,50;window_secs=60,300\" access.log
  actorwatch replay --config actorwatch.json --report report.html access.log
  zcat access.log.gz | actorwatch replay --config actorwatch.json --format combined -")]
pub struct ReplayArgs {
    /// The configuration (JSON), as the hosts read it.
    #[arg(long, value_name = "CONFIG.json")]
    config: PathBuf,
    /// Files to replay (`-` for standard input). Records of all files are merged by time.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Reorder window (seconds): a record at most this much older than the newest record
    /// before it in its file is still replayed in time order (records are held until one more
    /// than this past them is read). A record further behind, once newer ones were replayed,
    /// is counted as late and not replayed. Memory holds the records of this span.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    reorder_secs: u64,
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
    /// Also replay every combination of these values, each set on every counting rule and run
    /// in an engine of its own: `key=v1,v2,...`, `;` between keys (any numeric rule key). Prints
    /// a table: actors flagged, events, events per day, and the share of actors that never
    /// reached half a threshold. The input is read once.
    #[arg(long, value_name = "SPEC")]
    sweep: Option<String>,
    /// Write a self-contained HTML report (SVG charts, no network) to this file.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
}

/// Input read per system call.
const READ_BUFFER: usize = 256 << 10;

/// Opens every file (so that a missing one stops the replay before it starts) and reads as much
/// of each as telling its format takes.
fn open_inputs(args: &ReplayArgs) -> Result<Vec<Records>, ExitCode> {
    let mut inputs = Vec::new();
    for path in &args.files {
        let input: std::io::Result<Box<dyn BufRead>> = if path.as_os_str() == "-" {
            Ok(Box::new(BufReader::with_capacity(
                READ_BUFFER,
                std::io::stdin(),
            )))
        } else {
            std::fs::File::open(path)
                .map(|f| Box::new(BufReader::with_capacity(READ_BUFFER, f)) as Box<dyn BufRead>)
        };
        match input.and_then(|input| Records::open(args.format, input)) {
            Ok(records) => inputs.push(records),
            Err(e) => {
                eprintln!("actorwatch replay: {}: {e}", path.display());
                return Err(ExitCode::from(2));
            }
        }
    }
    Ok(inputs)
}

/// The inputs' total size when every one is a file, else `None` (standard input).
fn total_bytes(files: &[PathBuf]) -> Option<u64> {
    files
        .iter()
        .map(|p| {
            (p.as_os_str() != "-")
                .then(|| std::fs::metadata(p).ok())
                .flatten()
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
        })
        .sum()
}

/// Progress on standard error, when it is a terminal and the input is long: by bytes when the
/// inputs are files, else by records once there are many.
struct Progress {
    bar: Option<ProgressBar>,
    by_bytes: bool,
    terminal: bool,
    started: Instant,
}

/// Inputs shorter than this (about 100,000 records) get no progress bar.
const PROGRESS_MIN_BYTES: u64 = 16 << 20;
const PROGRESS_MIN_RECORDS: u64 = 100_000;

impl Progress {
    fn new(files: &[PathBuf]) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let total = total_bytes(files);
        let bar = total
            .filter(|t| terminal && *t >= PROGRESS_MIN_BYTES)
            .map(|t| {
                let bar = ProgressBar::new(t);
                bar.set_style(
                    ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} eta {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            });
        Progress {
            by_bytes: bar.is_some(),
            bar,
            terminal: terminal && total.is_none(),
            started: Instant::now(),
        }
    }

    fn update(&mut self, records: u64, bytes: u64) {
        if self.bar.is_none() && self.terminal && records >= PROGRESS_MIN_RECORDS {
            let bar = ProgressBar::new_spinner().with_elapsed(self.started.elapsed());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {human_pos} records in {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            self.bar = Some(bar);
        }
        match &self.bar {
            Some(bar) if self.by_bytes => {
                bar.set_position(bytes);
                bar.set_message(format!("{records} records"));
            }
            Some(bar) => bar.set_position(records),
            None => {}
        }
    }

    /// Prints a line on standard error without tearing the bar.
    fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

pub fn run(args: ReplayArgs) -> ExitCode {
    let (cfg, config_text) = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let started = Instant::now();
    let inputs = match open_inputs(&args) {
        Ok(inputs) => inputs,
        Err(code) => return code,
    };
    let mut merge = merge::Merge::new(inputs, args.reorder_secs.saturating_mul(1000));
    let mut malformed = vec![0usize; args.files.len()];

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
    let mut sweep_lanes = match sweep_lanes(&args, &config_text) {
        Ok(lanes) => lanes,
        Err(e) => {
            eprintln!("actorwatch replay: {e}");
            return ExitCode::from(2);
        }
    };
    let inspector = Inspector::new(std::sync::Arc::clone(&cfg));
    let mut inspection = Inspection::default();
    let mut main = Lane::new(std::sync::Arc::clone(&cfg), args.seed, false);
    let mut report = args.report.as_ref().map(|_| report::Collector::new(&cfg));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut progress = Progress::new(&args.files);
    let mut write_failed = false;
    let mut first_ms = None;
    let mut last_ms = 0u64;
    let mut replayed = 0u64;
    loop {
        let next = merge.next();
        for (file, m) in merge.malformed.drain(..) {
            malformed[file] += 1;
            let path = args.files[file].display();
            if args.strict {
                progress.finish();
                let _ = out.flush();
                eprintln!("actorwatch replay: {path}:{}: {}", m.line, m.reason);
                return ExitCode::from(1);
            }
            if malformed[file] <= MALFORMED_SHOWN {
                progress.say(&format!(
                    "actorwatch replay: {path}:{}: skipped: {}",
                    m.line, m.reason
                ));
            }
        }
        let mut e = match next {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err((file, err)) => {
                progress.finish();
                let _ = out.flush();
                eprintln!("actorwatch replay: {}: {err}", args.files[file].display());
                return ExitCode::from(2);
            }
        };
        if e.peer.is_none() {
            e.peer.clone_from(&args.peer);
        }
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
            main.engine
                .count_inspected(bytes, inspector.wants_body() && body.len() > limit);
            // A blocking rule would have answered the request itself.
            if let Some(block) = inspector.block_status(&inspection) {
                status = block;
                main.engine.count_threat_blocked();
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
        first_ms.get_or_insert(e.ts_ms);
        let actor = main
            .engine
            .resolve_actor(obs.peer, obs.headers)
            .map(|a| a.key);
        let step = main.observe(e.ts_ms, &obs, actor.as_ref());
        if let Some(report) = &mut report {
            report.record(&main, e.ts_ms, actor.as_ref(), &step, &inspection);
        }
        if args.emit == Emit::Events {
            for d in &step.detections {
                write_failed |=
                    serde_json::to_writer(&mut out, &d.event).is_err() || writeln!(out).is_err();
            }
        }
        main.posts += deliver(
            &mut main.engine,
            e.ts_ms,
            args.emit == Emit::Payloads,
            &mut out,
            &mut write_failed,
        );
        for (_, lane) in &mut sweep_lanes {
            lane.observe(e.ts_ms, &obs, actor.as_ref());
            lane.posts += deliver(&mut lane.engine, e.ts_ms, false, &mut out, &mut false);
        }
        replayed += 1;
        if replayed % 4096 == 0 {
            progress.update(replayed, merge.sources().map(Records::bytes_read).sum());
        }
        if write_failed {
            // A closed pipe (`| head`): nothing more to say.
            return ExitCode::SUCCESS;
        }
    }
    progress.finish();
    // End of input: whatever is queued goes out now, so periodic mode loses nothing.
    main.engine.flush();
    main.posts += deliver(
        &mut main.engine,
        last_ms,
        args.emit == Emit::Payloads,
        &mut out,
        &mut write_failed,
    );
    for (_, lane) in &mut sweep_lanes {
        lane.engine.flush();
        lane.posts += deliver(&mut lane.engine, last_ms, false, &mut out, &mut false);
    }
    let span_ms = last_ms.saturating_sub(first_ms.unwrap_or(last_ms));
    let sweep_rows: Vec<sweep::Row> = sweep_lanes
        .iter()
        .map(|(c, lane)| sweep::Row::of(c, lane, span_ms))
        .collect();

    let mut passed = Passed::default();
    let mut late = 0usize;
    for (i, records) in merge.sources().enumerate() {
        let p = records.passed();
        passed.not_http += p.not_http;
        passed.not_access_log += p.not_access_log;
        late += merge.late(i).map_or(0, |l| l.records);
    }
    let malformed_total: usize = malformed.iter().sum();
    let read = replayed + late as u64;

    let mut summary_text = String::new();
    let m = main.engine.metrics();
    {
        use std::fmt::Write as _;
        let out = &mut summary_text;
        let late = if late > 0 {
            format!("   late, not replayed: {late}")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "records: {} ({} malformed, skipped)   matched: {}   unattributed: {}   blocked requests: {}   not HTTP: {}   not access log: {}{late}",
            read,
            malformed_total,
            m.matched,
            m.unattributed,
            main.blocked_requests,
            passed.not_http,
            passed.not_access_log
        );
        let _ = writeln!(
            out,
            "{:<24} {:<6} {:>15} {:>8}",
            "rule", "action", "actors flagged", "events"
        );
        for (i, id) in rule_ids.iter().enumerate() {
            let s = main.per_rule.remove(&i).unwrap_or_default();
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
            "webhook POSTs: {} ({} events)   actors tracked at the end: {}   evicted: {}   engine memory: {:.1} MiB",
            main.posts,
            m.events_delivered,
            m.actors_tracked,
            m.actors_evicted,
            m.memory_bytes as f64 / f64::from(1 << 20)
        );
    }
    let sweep_text = sweep::table(&sweep_rows);
    if args.emit == Emit::Summary {
        let _ = out.write_all(summary_text.as_bytes());
        if !sweep_rows.is_empty() {
            let _ = writeln!(out);
            let _ = out.write_all(sweep_text.as_bytes());
        }
    }
    let _ = out.flush();
    if let (Some(path), Some(report)) = (&args.report, report) {
        let html = report.finish(&main, &summary_text, &sweep_rows, span_ms);
        if let Err(e) = std::fs::write(path, html) {
            eprintln!("actorwatch replay: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    for (i, path) in args.files.iter().enumerate() {
        let passed = merge
            .sources()
            .nth(i)
            .map(Records::passed)
            .unwrap_or_default();
        report_passed(path, malformed[i], passed, merge.late(i), args.reorder_secs);
    }
    eprintln!(
        "actorwatch replay: {} records in {:.2} s",
        read,
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

/// A lane per `--sweep` combination (none without it).
/// `config_text`: the configuration document as `load_config` read it.
fn sweep_lanes(
    args: &ReplayArgs,
    config_text: &[u8],
) -> Result<Vec<(sweep::Combination, Lane)>, String> {
    let Some(spec) = &args.sweep else {
        return Ok(Vec::new());
    };
    let combinations = sweep::parse(spec)?;
    let base: serde_json::Value = serde_json::from_slice(config_text)
        .map_err(|e| format!("{}: {e}", args.config.display()))?;
    combinations
        .into_iter()
        .map(|c| {
            let cfg = sweep::configure(&base, &c)?;
            let lane = Lane::new(std::sync::Arc::new(cfg), args.seed, true);
            Ok((c, lane))
        })
        .collect()
}

/// Malformed lines shown per file (with their line numbers), as they are read.
const MALFORMED_SHOWN: usize = 20;

/// Reports what of a file was not replayed, beyond the malformed lines shown as they were read.
fn report_passed(
    path: &Path,
    malformed: usize,
    passed: Passed,
    late: Option<merge::Late>,
    reorder_secs: u64,
) {
    if malformed > MALFORMED_SHOWN {
        eprintln!(
            "actorwatch replay: {}: {} more malformed lines skipped",
            path.display(),
            malformed - MALFORMED_SHOWN
        );
    }
    if passed.not_access_log > 0 {
        eprintln!(
            "actorwatch replay: {}: {} lines are not access-log lines (application output), passed over",
            path.display(),
            passed.not_access_log
        );
    }
    if let Some(late) = late {
        eprintln!(
            "actorwatch replay: {}: {} records later than the {reorder_secs} s reorder window (the first on line {}), not replayed (--reorder-secs widens it)",
            path.display(),
            late.records,
            late.first_line
        );
    }
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
