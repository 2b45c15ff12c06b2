//! `actorwatch replay`: recorded traffic through the engine, in timestamp order, with each
//! record's own time as the clock. Inputs are read as they are replayed and put in order
//! within the reorder window (see [`merge`]); input further out of order is sorted whole in
//! temporary files first (see [`spill`]), with the same result.

mod held;
mod input;
mod lane;
mod merge;
mod report;
mod spill;
mod sweep;
mod table;

use crate::formats::{Entry, Format, Item, Passed, Records};
use crate::load_config;
use actorwatch_core::inspect::Request;
use actorwatch_core::Inspection;
use actorwatch_core::Inspector;
use actorwatch_core::{Config, Engine, Observation};
use clap::{Args, ValueEnum};
use held::{CopyError, HeldOutput};
use indicatif::{ProgressBar, ProgressStyle};
use input::{open_input, Again};
use lane::Lane;
use merge::{Merge, Next, OutOfOrder};

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
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
    /// One JSON object at the end: every metric the hosts export, by name (as in Envoy's
    /// `actorwatch.<name>` stats and the Worker's `/metrics`), with the main engine's values.
    Metrics,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  actorwatch replay --config actorwatch.json access.log
  actorwatch replay --config actorwatch.json --emit payloads envoy-access.json > posts.jsonl
  actorwatch replay --config threats.json --emit matches requests.jsonl | jq -r .excerpt
  actorwatch replay --config actorwatch.json --emit metrics access.log | jq .events_raised
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
    /// Reorder window (seconds): how much disorder is put back in order in memory as records
    /// stream through. A record at most this much older than the newest record before it in
    /// its file is replayed at its place as it comes (records are held until one more than
    /// this past them is read; memory holds the records of this span, at most 64 MiB of them).
    /// Input further out of order is read again and sorted whole (in sorted runs in temporary
    /// files when it does not fit in memory), then replayed: the same output, more slowly.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    reorder_secs: u64,
    /// Memory for records held to put them in order, in bytes: the reorder window's; or, when
    /// sorting, two runs of half of it (one filled while the other is written).
    #[arg(long, value_name = "BYTES", default_value_t = RECORDS_MEMORY_BYTES, hide = true)]
    sort_run_bytes: usize,
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

/// Memory for records held to put them in order (`--sort-run-bytes`).
const RECORDS_MEMORY_BYTES: usize = 64 << 20;

/// One input opened for its first reading, and how to read it again from its start.
struct Opened {
    records: Records,
    again: Again,
}

/// Opens every file (so that a missing one stops the replay before it starts) and reads as much
/// of each as telling its format takes.
fn open_inputs(args: &ReplayArgs) -> Result<Vec<Opened>, ExitCode> {
    let mut inputs = Vec::new();
    for path in &args.files {
        let opened = open_input(path).and_then(|(input, again)| {
            Records::open(args.format, input).map(|records| Opened { records, again })
        });
        match opened {
            Ok(opened) => inputs.push(opened),
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

    /// A bar over `total` records known beforehand (the sorted input replayed).
    fn records(total: u64) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (terminal && total >= PROGRESS_MIN_RECORDS).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {human_pos}/{human_len} sorted records replayed eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            by_bytes: false,
            terminal: false,
            started: Instant::now(),
        }
    }

    /// `note`: what the records are for (`records`, `records sorted, 3 runs on disk`).
    fn update(&mut self, records: u64, bytes: u64, note: &str) {
        if self.bar.is_none() && self.terminal && records >= PROGRESS_MIN_RECORDS {
            let bar = ProgressBar::new_spinner().with_elapsed(self.started.elapsed());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {human_pos} {msg} in {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            self.bar = Some(bar);
        }
        match &self.bar {
            Some(bar) if self.by_bytes => {
                bar.set_position(bytes);
                bar.set_message(format!("{records} {note}"));
            }
            Some(bar) => {
                bar.set_position(records);
                bar.set_message(note.to_string());
            }
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

/// Malformed lines per file: counted, and the first few shown as they are read (once, though
/// an input sorted whole is read a second time).
struct MalformedLines {
    counts: Vec<usize>,
    shown: Vec<usize>,
}

/// Malformed lines shown per file (with their line numbers), as they are read.
const MALFORMED_SHOWN: usize = 20;

impl MalformedLines {
    fn new(files: usize) -> Self {
        MalformedLines {
            counts: vec![0; files],
            shown: vec![0; files],
        }
    }

    /// Counts afresh for a second reading of the inputs.
    fn read_again(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
    }

    /// Counts a malformed line of `file`; whether to show it now.
    fn count(&mut self, file: usize) -> bool {
        let (Some(count), Some(shown)) = (self.counts.get_mut(file), self.shown.get_mut(file))
        else {
            return false;
        };
        *count += 1;
        let show = *count <= MALFORMED_SHOWN && *count > *shown;
        if show {
            *shown = *count;
        }
        show
    }

    fn total(&self) -> usize {
        self.counts.iter().sum()
    }
}

/// Why a replay stops before the end of its input.
enum Stop {
    /// `--strict` met a malformed line (exit 1): `file:line: reason`.
    Strict(String),
    /// An input could not be read, or the records could not be sorted (exit 2).
    Failed(String),
    /// Standard output was closed (`| head`): nothing more to say (exit 0).
    Closed,
}

/// Counts and reports the malformed lines the last read met; stops at the first with
/// `--strict`.
fn take_malformed(
    args: &ReplayArgs,
    found: impl Iterator<Item = (usize, crate::formats::Malformed)>,
    malformed: &mut MalformedLines,
    progress: &Progress,
) -> Result<(), Stop> {
    for (file, m) in found {
        let path = args
            .files
            .get(file)
            .map_or_else(|| "?".to_string(), |p| p.display().to_string());
        if args.strict {
            return Err(Stop::Strict(format!("{path}:{}: {}", m.line, m.reason)));
        }
        if malformed.count(file) {
            progress.say(&format!(
                "actorwatch replay: {path}:{}: skipped: {}",
                m.line, m.reason
            ));
        }
    }
    Ok(())
}

/// Everything replaying builds up: the engines, what they flagged, the report.
struct Replayer {
    cfg: Arc<Config>,
    emit: Emit,
    peer: Option<String>,
    inspector: Inspector,
    inspection: Inspection,
    main: Lane,
    sweep_lanes: Vec<(sweep::Combination, Lane)>,
    report: Option<report::Collector>,
    first_ms: Option<u64>,
    last_ms: u64,
    replayed: u64,
    /// Writing to the output failed.
    write_failed: bool,
}

impl Replayer {
    fn new(args: &ReplayArgs, cfg: &Arc<Config>, config_text: &[u8]) -> Result<Self, String> {
        Ok(Replayer {
            cfg: Arc::clone(cfg),
            emit: args.emit,
            peer: args.peer.clone(),
            inspector: Inspector::new(Arc::clone(cfg)),
            inspection: Inspection::default(),
            main: Lane::new(Arc::clone(cfg), args.seed, false),
            sweep_lanes: sweep_lanes(args, config_text)?,
            report: args.report.as_ref().map(|_| report::Collector::new(cfg)),
            first_ms: None,
            last_ms: 0,
            replayed: 0,
            write_failed: false,
        })
    }

    /// Replays one record, in time order, printing what `--emit` asks for to `out`.
    fn replay(&mut self, e: &mut Entry, out: &mut impl Write) {
        if e.peer.is_none() {
            e.peer.clone_from(&self.peer);
        }
        self.last_ms = e.ts_ms;
        let mut status = e.status;
        let mut answered_by_rule = false;
        let inspector = &self.inspector;
        let inspection = &mut self.inspection;
        if inspector.is_active() {
            let body = e.body.as_deref().unwrap_or("").as_bytes();
            let (kept, truncated) = inspector.body_prefix(body);
            let request = Request {
                method: &e.method,
                path: &e.path,
                headers: &e.headers,
                body: kept,
            };
            let bytes = inspector.inspect(e.ts_ms, &request, inspection);
            self.main.engine.count_inspected(bytes, truncated);
            // A blocking rule would have answered the request itself.
            if let Some(block) = inspector.block_status(inspection) {
                status = block;
                answered_by_rule = true;
                self.main.engine.count_threat_blocked();
            }
            if self.emit == Emit::Matches {
                for hit in &inspection.hits {
                    let line = serde_json::json!({
                        "ts_ms": e.ts_ms,
                        "rule": self.cfg.threat_rules.get(hit.rule).map(|r| r.id.as_str()),
                        "part": hit.part,
                        "name": hit.name,
                        "excerpt": hit.excerpt,
                        "method": e.method,
                        "path": e.path,
                        "peer": e.peer,
                    });
                    self.write_failed |=
                        serde_json::to_writer(&mut *out, &line).is_err() || writeln!(out).is_err();
                }
            }
        }
        if inspector.reads_responses() {
            if !inspector.is_active() {
                inspection.clear();
            }
            // A log without the response body tells nothing of it: left unread, not clean; a
            // request a rule would have answered never got the logged response.
            if let Some(body) = e.response_body.as_deref().filter(|_| !answered_by_rule) {
                if inspector.wants_response(status, Some(inspection)) {
                    let bytes = inspector.inspect_response(status, body.as_bytes(), inspection);
                    self.main.engine.count_response_inspected(bytes);
                }
            }
        }
        let inspection = &self.inspection;
        let obs = Observation {
            method: &e.method,
            path: &e.path,
            status,
            peer: e.peer.as_deref(),
            host: e.host.as_deref(),
            headers: &e.headers,
            country: e.country.as_deref(),
            threats: (inspector.is_active() || inspector.reads_responses()).then_some(inspection),
        };
        self.first_ms.get_or_insert(e.ts_ms);
        let actor = self
            .main
            .engine
            .resolve_actor(obs.peer, obs.headers)
            .map(|a| a.key);
        let step = self.main.observe(e.ts_ms, &obs, actor.as_ref());
        if let Some(report) = &mut self.report {
            report.record(&self.main, e.ts_ms, actor.as_ref(), &step, inspection);
        }
        if self.emit == Emit::Events {
            for d in &step.detections {
                self.write_failed |=
                    serde_json::to_writer(&mut *out, &d.event).is_err() || writeln!(out).is_err();
            }
        }
        self.main.posts += deliver(
            &mut self.main.engine,
            e.ts_ms,
            self.emit == Emit::Payloads,
            out,
            &mut self.write_failed,
        );
        for (_, lane) in &mut self.sweep_lanes {
            lane.observe(e.ts_ms, &obs, actor.as_ref());
            lane.posts += deliver(&mut lane.engine, e.ts_ms, false, out, &mut false);
        }
        self.replayed += 1;
    }

    /// The end of the input: whatever is queued goes out now, so periodic mode loses nothing.
    fn end(&mut self, out: &mut impl Write) {
        self.main.engine.flush();
        self.main.posts += deliver(
            &mut self.main.engine,
            self.last_ms,
            self.emit == Emit::Payloads,
            out,
            &mut self.write_failed,
        );
        for (_, lane) in &mut self.sweep_lanes {
            lane.engine.flush();
            lane.posts += deliver(&mut lane.engine, self.last_ms, false, out, &mut false);
        }
    }
}

const HELD_FAILED: &str = "holding the output back in a temporary file failed";

/// How a first, streaming reading of the inputs ended.
enum Streamed {
    /// Every record was replayed in order.
    Done,
    /// A record came further out of order than the reorder window holds.
    OutOfOrder(OutOfOrder),
}

/// Replays the inputs as they are read, merged and put in order within the reorder window,
/// into `out` (held back: a record out of order may yet change everything).
fn stream(
    args: &ReplayArgs,
    replayer: &mut Replayer,
    merge: &mut Merge<Records>,
    out: &mut HeldOutput,
    malformed: &mut MalformedLines,
    progress: &mut Progress,
) -> Result<Streamed, Stop> {
    loop {
        let next = merge.next();
        take_malformed(args, merge.malformed.drain(..), malformed, progress)?;
        let mut e = match next {
            Ok(Next::Record(entry)) => entry,
            Ok(Next::End) => return Ok(Streamed::Done),
            Ok(Next::OutOfOrder(o)) => return Ok(Streamed::OutOfOrder(o)),
            Err((file, e)) => return Err(Stop::Failed(read_error(args, file, &e))),
        };
        replayer.replay(&mut e, out);
        if replayer.write_failed {
            return Err(Stop::Failed(HELD_FAILED.into()));
        }
        if replayer.replayed % 4096 == 0 {
            let bytes = merge.sources().map(Records::bytes_read).sum();
            progress.update(replayer.replayed, bytes, "records");
        }
    }
}

fn read_error(args: &ReplayArgs, file: usize, e: &std::io::Error) -> String {
    let path = args
        .files
        .get(file)
        .map_or_else(|| "?".to_string(), |p| p.display().to_string());
    format!("{path}: {e}")
}

/// Reads every input whole, from its start, into sorted runs; the records merged back in
/// order, and what sorting took.
fn sort_inputs(
    args: &ReplayArgs,
    inputs: &mut [Records],
    malformed: &mut MalformedLines,
    progress: &mut Progress,
) -> Result<(spill::Merger, spill::Stats), Stop> {
    let failed = |e: std::io::Error| Stop::Failed(format!("sorting in temporary files: {e}"));
    let mut sorter = spill::Sorter::new(args.sort_run_bytes);
    let mut bytes_before = 0;
    for (file, records) in inputs.iter_mut().enumerate() {
        loop {
            let item = records
                .next_item()
                .map_err(|e| Stop::Failed(read_error(args, file, &e)))?;
            match item {
                Some(Item::Record { line, entry }) => {
                    sorter
                        .push((entry.ts_ms, file, line), &entry)
                        .map_err(failed)?;
                    let stats = sorter.stats();
                    if stats.records % 4096 == 0 {
                        let note = format!("records sorted, {} runs on disk", stats.runs);
                        progress.update(stats.records, bytes_before + records.bytes_read(), &note);
                    }
                }
                Some(Item::Malformed(m)) => {
                    take_malformed(args, std::iter::once((file, m)), malformed, progress)?;
                }
                None => break,
            }
        }
        bytes_before += records.bytes_read();
    }
    sorter.finish().map_err(failed)
}

/// Records decoded per batch handed from the merging thread to the replaying one.
const BATCH_RECORDS: usize = 1024;

/// Replays the sorted records into `out`. The runs are merged and decoded on a thread of their
/// own, a batch ahead of the engine; batches go back and forth, so that their entries' strings
/// are reused rather than allocated for every record.
fn replay_sorted(
    replayer: &mut Replayer,
    sorted: spill::Merger,
    total: u64,
    out: &mut impl Write,
) -> Result<(), Stop> {
    type Batch = (Vec<Entry>, usize);
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<std::io::Result<Batch>>(2);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<Entry>>();
    let mut progress = Progress::records(total);
    let result = std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut sorted = sorted;
            loop {
                let mut batch = empty_rx.try_recv().unwrap_or_default();
                let mut filled = 0;
                let more = loop {
                    if filled == batch.len() {
                        batch.push(spill::empty_entry());
                    }
                    match sorted.next_into(&mut batch[filled]) {
                        Ok(true) => filled += 1,
                        Ok(false) => break Ok(false),
                        Err(e) => break Err(e),
                    }
                    if filled == BATCH_RECORDS {
                        break Ok(true);
                    }
                };
                // Done at the end, on an error, or once the replay takes no more batches.
                let done = match more {
                    Ok(more) => {
                        let taken = filled == 0 || full_tx.send(Ok((batch, filled))).is_ok();
                        !more || !taken
                    }
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        true
                    }
                };
                if done {
                    return;
                }
            }
        });
        for batch in full_rx {
            let (mut batch, filled) =
                batch.map_err(|e| Stop::Failed(format!("sorting in temporary files: {e}")))?;
            for e in batch.iter_mut().take(filled) {
                replayer.replay(e, out);
                if replayer.write_failed {
                    return Err(Stop::Closed);
                }
                if replayer.replayed % 4096 == 0 {
                    progress.update(replayer.replayed, 0, "");
                }
            }
            let _ = empty_tx.send(batch);
        }
        Ok(())
    });
    progress.finish();
    result
}

/// Ends a replay stopped before the end of its input.
fn stopped(stop: Stop, out: &mut impl Write) -> ExitCode {
    let _ = out.flush();
    match stop {
        Stop::Strict(line) => {
            eprintln!("actorwatch replay: {line}");
            ExitCode::from(1)
        }
        Stop::Failed(why) => {
            eprintln!("actorwatch replay: {why}");
            ExitCode::from(2)
        }
        Stop::Closed => ExitCode::SUCCESS,
    }
}

pub fn run(args: ReplayArgs) -> ExitCode {
    let (cfg, config_text) = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let started = Instant::now();
    let cfg = Arc::new(cfg);
    let mut replayer = match Replayer::new(&args, &cfg, &config_text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("actorwatch replay: {e}");
            return ExitCode::from(2);
        }
    };
    let (inputs, again): (Vec<Records>, Vec<Again>) = match open_inputs(&args) {
        Ok(opened) => opened.into_iter().map(|o| (o.records, o.again)).unzip(),
        Err(code) => return code,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut malformed = MalformedLines::new(args.files.len());

    // First, as the records come, put in order within the reorder window.
    let mut merge = Merge::new(
        inputs,
        args.reorder_secs.saturating_mul(1000),
        args.sort_run_bytes,
    );
    let mut held = HeldOutput::default();
    let mut progress = Progress::new(&args.files);
    let streamed = stream(
        &args,
        &mut replayer,
        &mut merge,
        &mut held,
        &mut malformed,
        &mut progress,
    );
    progress.finish();
    let mut sorted = None;
    let passed: Vec<Passed> = match streamed {
        Ok(Streamed::Done) => {
            replayer.end(&mut held);
            if replayer.write_failed {
                return stopped(Stop::Failed(HELD_FAILED.into()), &mut out);
            }
            match held.copy_to(&mut out) {
                Ok(()) => {}
                Err(CopyError::Out) => return ExitCode::SUCCESS,
                Err(CopyError::Held(e)) => {
                    return stopped(
                        Stop::Failed(format!("reading back the output: {e}")),
                        &mut out,
                    )
                }
            }
            merge.sources().map(Records::passed).collect()
        }
        Err(Stop::Strict(line)) => {
            // What was replayed until then, as it would have been printed.
            let _ = held.copy_to(&mut out);
            return stopped(Stop::Strict(line), &mut out);
        }
        Err(stop) => return stopped(stop, &mut out),
        Ok(Streamed::OutOfOrder(first)) => {
            // Too far out of order: everything replayed is void. The whole input is read again
            // from its start and sorted, then replayed.
            drop(merge);
            drop(held);
            replayer = match Replayer::new(&args, &cfg, &config_text) {
                Ok(r) => r,
                Err(e) => return stopped(Stop::Failed(e), &mut out),
            };
            let mut inputs = Vec::new();
            for (i, again) in again.into_iter().enumerate() {
                let reopened = again
                    .reopen()
                    .and_then(|input| Records::open(args.format, input));
                match reopened {
                    Ok(records) => inputs.push(records),
                    Err(e) => return stopped(Stop::Failed(read_error(&args, i, &e)), &mut out),
                }
            }
            malformed.read_again();
            let mut progress = Progress::new(&args.files);
            let read = sort_inputs(&args, &mut inputs, &mut malformed, &mut progress);
            progress.finish();
            let (merger, stats) = match read {
                Ok(read) => read,
                Err(stop) => return stopped(stop, &mut out),
            };
            if let Err(stop) = replay_sorted(&mut replayer, merger, stats.records, &mut out) {
                return stopped(stop, &mut out);
            }
            replayer.end(&mut out);
            sorted = Some((first, stats));
            inputs.iter().map(Records::passed).collect()
        }
    };
    if replayer.write_failed {
        return ExitCode::SUCCESS;
    }
    let code = finish(&args, &mut replayer, &passed, &malformed, &mut out);
    for (i, path) in args.files.iter().enumerate() {
        let passed = passed.get(i).copied().unwrap_or_default();
        report_passed(path, malformed.counts.get(i).copied().unwrap_or(0), passed);
    }
    if let Some((first, stats)) = sorted {
        report_sorted(&args, first, stats);
    }
    eprintln!(
        "actorwatch replay: {} records in {:.2} s",
        replayer.replayed,
        started.elapsed().as_secs_f64()
    );
    code
}

/// Prints the summary (and sweep) and writes the report.
fn finish(
    args: &ReplayArgs,
    replayer: &mut Replayer,
    passed: &[Passed],
    malformed: &MalformedLines,
    out: &mut impl Write,
) -> ExitCode {
    let cfg = &replayer.cfg;
    let rule_ids: Vec<String> = (0..cfg.filter_count())
        .filter_map(|i| cfg.filter(i).map(|(id, _, _)| id.to_string()))
        .collect();
    let rule_actions: Vec<&'static str> = cfg
        .rules
        .iter()
        .map(|r| r.action.as_str())
        .chain(cfg.threat_rules.iter().map(|r| r.action.as_str()))
        .collect();
    let span_ms = replayer
        .last_ms
        .saturating_sub(replayer.first_ms.unwrap_or(replayer.last_ms));
    let sweep_rows: Vec<sweep::Row> = replayer
        .sweep_lanes
        .iter()
        .map(|(c, lane)| sweep::Row::of(c, lane, span_ms))
        .collect();
    let not_http: usize = passed.iter().map(|p| p.not_http).sum();
    let not_access_log: usize = passed.iter().map(|p| p.not_access_log).sum();

    let main = &mut replayer.main;
    let mut summary_text = String::new();
    let m = main.engine.metrics();
    {
        use std::fmt::Write as _;
        let out = &mut summary_text;
        let _ = writeln!(
            out,
            "records: {} ({} malformed, skipped)   matched: {}   unattributed: {}   blocked requests: {}   not HTTP: {}   not access log: {}",
            replayer.replayed,
            malformed.total(),
            m.matched,
            m.unattributed,
            main.blocked_requests,
            not_http,
            not_access_log
        );
        out.push_str(&table::rules(rule_ids.iter().enumerate().map(|(i, id)| {
            let action = rule_actions.get(i).copied().unwrap_or("");
            (
                id.as_str(),
                action,
                main.per_rule.remove(&i).unwrap_or_default(),
            )
        })));
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
    let sweep_text = sweep::table(&sweep_rows, span_ms);
    match args.emit {
        Emit::Summary => {
            let _ = out.write_all(summary_text.as_bytes());
            if !sweep_rows.is_empty() {
                let _ = writeln!(out);
                let _ = out.write_all(sweep_text.as_bytes());
            }
        }
        Emit::Metrics => {
            let _ = writeln!(out, "{}", metrics_json(&m));
        }
        Emit::Events | Emit::Payloads | Emit::Matches => {}
    }
    let _ = out.flush();
    if let (Some(path), Some(report)) = (&args.report, replayer.report.take()) {
        let html = report.finish(&replayer.main, &summary_text, &sweep_rows, span_ms);
        if let Err(e) = std::fs::write(path, html) {
            eprintln!("actorwatch replay: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// Every metric as one JSON object, `{"responses": 14, "matched": 12, ...}`, in the order the
/// core declares them ([`actorwatch_core::Metrics::fields`]).
fn metrics_json(m: &actorwatch_core::Metrics) -> String {
    let fields: Vec<String> = m
        .fields()
        .iter()
        .map(|f| format!("{}:{}", serde_json::Value::from(f.name), f.value))
        .collect();
    format!("{{{}}}", fields.join(","))
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

/// Reports what of a file was not replayed, beyond the malformed lines shown as they were read.
fn report_passed(path: &Path, malformed: usize, passed: Passed) {
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
}

/// Says that the input was sorted whole, why, and what it took.
fn report_sorted(args: &ReplayArgs, first: OutOfOrder, stats: spill::Stats) {
    let path = args
        .files
        .get(first.file)
        .map_or_else(|| "?".to_string(), |p| p.display().to_string());
    let how = if stats.runs == 0 {
        "in memory".to_string()
    } else {
        format!(
            "on disk ({} of them, {:.0} MB, in {} sorted run{})",
            stats.spilled_records,
            stats.spilled_bytes as f64 / 1e6,
            stats.runs,
            if stats.runs == 1 { "" } else { "s" }
        )
    };
    eprintln!(
        "actorwatch replay: {path}: line {} is further out of order than the {} s reorder window holds: {} records sorted {how}",
        first.line, args.reorder_secs, stats.records
    );
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
