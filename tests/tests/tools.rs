//! Real attack tools against the demo stack: sqlmap, wfuzz, ffuf, gobuster, hydra and wapiti
//! (Debian's packages, `make setup-tools`) scan a small shop ([`Shop`]) through a real Envoy
//! with the actorwatch filter, each tool an actor of its own (`x-actor: <tool>`). The test checks
//! that Envoy's webhook got the 4XX event of the probing and brute-force actors and a threat
//! event of the right class for sqlmap, wfuzz-xss and wfuzz-traversal, and writes what every
//! tool sent to `target/scorecard/tools/<tool>.jsonl` (the format is on [`write_scorecard`]), for
//! a test that scores the core inspector on them request by request.
//!
//! The network stays on this machine: the shop, Envoy, the webhook receiver and the endpoint
//! wapiti's SSRF module calls back all listen on 127.0.0.1 on ephemeral ports, every tool is given
//! only those addresses, no proxy (the proxy variables are removed, sqlmap ignores system
//! proxies), nothing fetched from elsewhere (none of these tools checks for updates on its own;
//! wapiti's crash reports to wapiti3.ovh are off with `--no-bugreport`, and the Wappalyzer
//! database it would download from GitHub is given as an empty local file, see
//! [`wapiti_steps`]), and each run is bounded by its word list and its own limits, with a
//! deadline that stops its process group by PID and fails the test. Each tool's output is kept
//! in the run's scratch directory (`target/e2e-scratch/actorwatch-tools-*`), with the shop's
//! log of every request and Envoy's access log.
//!
//! `ACTORWATCH_TOOLS=sqlmap,hydra` runs only the steps of those actors (for working on one tool);
//! the checks of the others are then reported as not run.

mod common;

use actorwatch_e2e::shop::{Shop, ShopRequest, TOOL_HEADER};
use actorwatch_e2e::*;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The 4XX rule: this many 4XX responses of one actor within `WINDOW_SECS` raise an event.
const THRESHOLD: u32 = 20;
const WINDOW_SECS: u32 = 60;
const FOUR_XX: &str = "4XX_FILTER";

/// Words of dirb's `common.txt` the directory probers (ffuf, gobuster) try.
const PROBE_WORDS: usize = 1000;

const APT: &str = "apt-get install -y -q sqlmap wfuzz ffuf gobuster hydra wapiti dirb";
const WFUZZ_LISTS: &str = "/usr/share/wfuzz/wordlist";
const DIRB_COMMON: &str = "/usr/share/dirb/wordlists/common.txt";

const SQLI: &str = "SQLInjection";
const XSS: &str = "XSS";
const LFI: &str = "LocalFileInclusionLFIRFI";
const OS_COMMAND: &str = "OSCommandInjection";
/// wapiti's PHP code evaluation payloads: not a class the payload rules raise, so not scored.
const PHP_EVALUATION: &str = "PHPCodeEvaluation";
const SSRF: &str = "SSRF";
const PROBE: &str = "probe";

fn threat_config(webhook_secret: &str) -> String {
    let payload_rules = [
        "SQLInjection",
        "XSS",
        "NoSQLInjection",
        "OSCommandInjection",
        "WindowsCommandInjection",
        "LocalFileInclusionLFIRFI",
        "SSRF",
    ]
    .iter()
    .map(|id| format!(r#"{{"id": "{id}", "action": "alert"}}"#))
    .collect::<Vec<_>>()
    .join(", ");
    format!(
        r#"{{"actor": {{"sources": ["header:{TOOL_HEADER}", "peer"]}},
            "rules": [{{"id": "{FOUR_XX}", "statuses": ["400-499"], "threshold": {THRESHOLD},
                        "window_secs": {WINDOW_SECS}, "cooldown_secs": 600, "action": "alert"}}],
            "threat_rules": [{payload_rules},
              {{"id": "WeakAuthentication", "action": "alert"}},
              {{"id": "ParamEnumeration", "distinct": 20, "window_secs": 60, "action": "alert"}}],
            "webhook": {{"url": "http://webhook.test/akto", "hmac_secret": "{webhook_secret}",
                         "mode": "instant"}}}}"#
    )
}

/// One run of one tool.
struct Step {
    /// The actor (`x-actor`) and the scorecard's file name.
    actor: &'static str,
    /// Names the step in the `case` ids: `<actor>-<label>-<n>`.
    label: String,
    /// The class of the step's payloads: a `filterId`, or [`PROBE`].
    category: &'static str,
    program: &'static str,
    args: Vec<String>,
    /// Which of its requests carry no payload; see [`mark_payloads`].
    baseline: Baseline,
    /// Past this the step's process group is stopped and the test fails.
    deadline: Duration,
    /// How many requests of the step's actor the shop must receive.
    expect: Count,
}

/// How many requests a step sends: a tool can end with status 0 after giving up half-way
/// (wfuzz on a fatal curl error), so the count is checked as well as the status and the log.
#[derive(Clone, Copy, Debug)]
enum Count {
    Exactly(usize),
    AtLeast(usize),
}

/// The closing lines hydra 9.4 can print after a run that tried every pair, when a worker
/// thread is still finishing as the run ends (thc-hydra issue 1102: the error count reuses the
/// active-worker count); it then exits with 255 although nothing failed.
const HYDRA_SPURIOUS_LINES: [&str; 2] = [
    "[ERROR] 1 target did not resolve or could not be connected",
    "[ERROR] 0 target did not complete",
];

/// Whether a hydra run's only errors are [`HYDRA_SPURIOUS_LINES`] after it reported the target
/// completed. Such a run is judged by the shop's count of its attempts (every pair must arrive),
/// which a real connection failure would fall short of.
fn spurious_hydra_report(program: &str, log: &str) -> bool {
    program == "hydra"
        && log.contains("1 of 1 target completed")
        && log.contains(HYDRA_SPURIOUS_LINES[0])
        && log
            .lines()
            .filter(|line| line.contains("[ERROR]"))
            .all(|line| HYDRA_SPURIOUS_LINES.contains(&line.trim()))
}

/// Lines of a tool's output that mean it failed, or tried to reach beyond the test, whatever
/// its exit status says.
fn failure_markers(program: &str) -> &'static [&'static str] {
    match program {
        "sqlmap" => &["[CRITICAL]"],
        "wfuzz" => &["Fatal exception", "Traceback (most recent call last)"],
        "hydra" => &["[ERROR]"],
        "gobuster" => &["[ERROR]", "Error:"],
        "wapiti" => &[
            "Traceback (most recent call last)",
            "Problem with local wapp database",
            "Downloading from the web",
            "crash report",
        ],
        _ => &[],
    }
}

/// What a step did.
struct Ran {
    actor: &'static str,
    label: String,
    category: &'static str,
    seconds: f64,
    /// The shop's requests `[first, end)` arrived while the step ran.
    first: usize,
    end: usize,
    baseline: Baseline,
}

/// The baseline requests of a step: those that carry the original values (see [`mark_payloads`]).
#[derive(Clone)]
enum Baseline {
    /// The actor's first request to a method and path.
    First,
    /// The request a wfuzz step sends first, with the `FUZZ{<word>}` word in place of `FUZZ`:
    /// method, path with query, body.
    Word(&'static str, String, String),
    /// Every request of the step (wapiti's crawl).
    All,
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Every program and word list the steps use, or a failure naming the command that installs them.
fn require_tools() {
    let mut missing: Vec<String> = ["sqlmap", "wfuzz", "ffuf", "gobuster", "hydra", "wapiti"]
        .iter()
        .filter(|p| !on_path(p))
        .map(|p| p.to_string())
        .collect();
    for list in [
        format!("{WFUZZ_LISTS}/Injections/SQL.txt"),
        format!("{WFUZZ_LISTS}/Injections/XSS.txt"),
        format!("{WFUZZ_LISTS}/Injections/Traversal.txt"),
        format!("{WFUZZ_LISTS}/vulns/dirTraversal-nix.txt"),
        format!("{WFUZZ_LISTS}/vulns/dirTraversal-win.txt"),
        DIRB_COMMON.to_string(),
    ] {
        if !Path::new(&list).is_file() {
            missing.push(list);
        }
    }
    assert!(
        missing.is_empty(),
        "missing {}: run `make setup-tools` (as root: {APT}; `apt-get update` first if a package is not found)",
        missing.join(", ")
    );
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// sqlmap against the product page, the search form and the JSON order API (`*` marks the
/// injection point): every technique (`BEUSTQ`) at level 2 and risk 3, so its OR-based and heavy
/// query payloads too; time-based payloads cost no waiting, as the shop never delays. Level 3
/// would also inject into User-Agent and Referer, which [`mark_payloads`] does not compare.
/// Bounded by sqlmap's own test list (about 700 requests per parameter), `--timeout 10
/// --retries 1` per request and `--batch` (no question waits for an answer).
fn sqlmap_steps(base: &str, work: &Path) -> Vec<Step> {
    let common = |url: String| {
        vec![
            "-u".into(),
            url,
            "--batch".into(),
            "--flush-session".into(),
            "--output-dir".into(),
            work.join("sqlmap").display().to_string(),
            "--tmp-dir".into(),
            work.join("tmp").display().to_string(),
            "--headers".into(),
            format!("{TOOL_HEADER}: sqlmap"),
            "--level".into(),
            "2".into(),
            "--risk".into(),
            "3".into(),
            "--technique".into(),
            "BEUSTQ".into(),
            "--timeout".into(),
            "10".into(),
            "--retries".into(),
            "1".into(),
            "--ignore-proxy".into(),
            "--disable-coloring".into(),
        ]
    };
    let step = |label: &str, args: Vec<String>| Step {
        actor: "sqlmap",
        label: label.into(),
        category: SQLI,
        program: "sqlmap",
        args,
        baseline: Baseline::First,
        deadline: Duration::from_secs(150),
        expect: Count::AtLeast(100),
    };
    let mut json = common(format!("{base}api/orders"));
    json.extend(strings(&[
        "--data",
        r#"{"item": "mug*", "qty": 1, "note": "gift"}"#,
    ]));
    vec![
        step("products", common(format!("{base}products?id=1"))),
        step("search", common(format!("{base}search?q=mug"))),
        step("orders", json),
    ]
}

/// `s` with each `FUZZ{<word>}` replaced by its word: what wfuzz sends as its baseline request.
fn benign(s: &str) -> String {
    let mut out = s.to_string();
    while let Some(start) = out.find("FUZZ{") {
        let Some(len) = out[start..].find('}') else {
            break;
        };
        let word = out[start + 5..start + len].to_string();
        out.replace_range(start..=start + len, &word);
    }
    out
}

/// A wfuzz run of `list` against one parameter. `target` is the URL with `FUZZ{<benign>}` at the
/// parameter, `body` (POST) likewise; wfuzz sends the benign value first, then every word of the
/// list in its place, unencoded but for what curl itself encodes (spaces).
fn wfuzz_step(
    actor: &'static str,
    category: &'static str,
    label: &str,
    list: &str,
    base: &str,
    target: &str,
    body: Option<(&str, &str)>,
) -> Step {
    let mut args = strings(&[
        "-z",
        &format!("file,{WFUZZ_LISTS}/{list}"),
        "-H",
        &format!("{TOOL_HEADER}: {actor}"),
        "-t",
        "8",
        "--req-delay",
        "10",
        "--conn-delay",
        "5",
    ]);
    let (method, body_text) = match body {
        Some((content_type, data)) => {
            args.extend(strings(&[
                "-H",
                &format!("Content-Type: {content_type}"),
                "-d",
                data,
            ]));
            ("POST", benign(data))
        }
        None => ("GET", String::new()),
    };
    args.push(format!("{base}{target}"));
    let words = std::fs::read_to_string(format!("{WFUZZ_LISTS}/{list}"))
        .map_or(0, |text| text.lines().count());
    Step {
        actor,
        label: label.into(),
        category,
        program: "wfuzz",
        args,
        baseline: Baseline::Word(method, format!("/{}", benign(target)), body_text),
        deadline: Duration::from_secs(120),
        expect: Count::Exactly(words + 1),
    }
}

fn wfuzz_steps(base: &str) -> Vec<Step> {
    let form = |data| Some(("application/x-www-form-urlencoded", data));
    let json = |data| Some(("application/json", data));
    let sql = "Injections/SQL.txt";
    let xss = "Injections/XSS.txt";
    let traversal = "Injections/Traversal.txt";
    vec![
        wfuzz_step(
            "wfuzz-sql",
            SQLI,
            "products",
            sql,
            base,
            "products?id=FUZZ{1}",
            None,
        ),
        wfuzz_step(
            "wfuzz-sql",
            SQLI,
            "search",
            sql,
            base,
            "search?q=FUZZ{mug}",
            None,
        ),
        wfuzz_step(
            "wfuzz-sql",
            SQLI,
            "login",
            sql,
            base,
            "login",
            form("user=FUZZ{alice}&password=secret"),
        ),
        wfuzz_step(
            "wfuzz-sql",
            SQLI,
            "orders",
            sql,
            base,
            "api/orders",
            json(r#"{"item": "FUZZ{mug}", "qty": 1}"#),
        ),
        wfuzz_step(
            "wfuzz-xss",
            XSS,
            "search",
            xss,
            base,
            "search?q=FUZZ{mug}",
            None,
        ),
        wfuzz_step(
            "wfuzz-xss",
            XSS,
            "comments",
            xss,
            base,
            "comments",
            form("name=FUZZ{guest}&comment=Nice+shop"),
        ),
        wfuzz_step(
            "wfuzz-xss",
            XSS,
            "orders",
            xss,
            base,
            "api/orders",
            json(r#"{"item": "mug", "note": "FUZZ{gift}"}"#),
        ),
        wfuzz_step(
            "wfuzz-traversal",
            LFI,
            "download",
            traversal,
            base,
            "download?file=FUZZ{report.pdf}",
            None,
        ),
        wfuzz_step(
            "wfuzz-traversal",
            LFI,
            "page",
            traversal,
            base,
            "page?template=FUZZ{home}",
            None,
        ),
        wfuzz_step(
            "wfuzz-dirtraversal-nix",
            LFI,
            "download",
            "vulns/dirTraversal-nix.txt",
            base,
            "download?file=FUZZ{report.pdf}",
            None,
        ),
        wfuzz_step(
            "wfuzz-dirtraversal-win",
            LFI,
            "download",
            "vulns/dirTraversal-win.txt",
            base,
            "download?file=FUZZ{report.pdf}",
            None,
        ),
    ]
}

/// ffuf and gobuster walk the first [`PROBE_WORDS`] words of dirb's `common.txt` under `/`;
/// hydra tries 10 user names × 10 passwords at `/login`.
///
/// hydra 9.4 (Debian) has no module that can post this login form within bounds:
/// - `http-post-form` takes the 401 of a failed login for HTTP authentication ("the target is
///   using HTTP auth, not a web form"), never counts the attempt and retries the same pair
///   forever (dozens of requests a second until it is killed);
/// - `http-post` (HTTP Basic credentials in a POST) adds one more `Content-Length: 0` line per
///   attempt to every later request of a task once a header is set with `H=` (needed for
///   `x-actor`): Envoy rejects those requests with 400 before any filter sees their headers.
///
/// So hydra uses `http-get`: the same pairs as HTTP Basic credentials on `GET /login`, which the
/// shop checks like a posted form and refuses with 401. Bounded (one request per pair), and the
/// 401s the 4XX rule counts.
fn probe_steps(base: &str, work: &Path) -> Vec<Step> {
    let common = std::fs::read_to_string(DIRB_COMMON).expect("dirb's common.txt");
    let words: Vec<&str> = common
        .lines()
        .filter(|w| !w.trim().is_empty())
        .take(PROBE_WORDS)
        .collect();
    let list = work.join("common-1000.txt");
    std::fs::write(&list, words.join("\n") + "\n").expect("word list");
    let words = words.len();
    let users = work.join("users.txt");
    let passwords = work.join("passwords.txt");
    std::fs::write(
        &users,
        "admin\nroot\nuser\ntest\nguest\nshop\nalice\nbob\nsupport\nmanager\n",
    )
    .expect("users");
    std::fs::write(
        &passwords,
        "123456\npassword\nadmin\nqwerty\nletmein\nwelcome\n12345678\nshop2024\nchangeme\niloveyou\n",
    )
    .expect("passwords");
    let list = list.display().to_string();
    let port = base
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap_or("")
        .to_string();
    vec![
        Step {
            actor: "ffuf",
            label: "root".into(),
            category: PROBE,
            program: "ffuf",
            args: strings(&[
                "-u",
                &format!("{base}FUZZ"),
                "-w",
                &list,
                "-H",
                &format!("{TOOL_HEADER}: ffuf"),
                "-t",
                "8",
                "-timeout",
                "10",
                "-maxtime",
                "90",
                "-s",
            ]),
            baseline: Baseline::First,
            deadline: Duration::from_secs(120),
            expect: Count::Exactly(words),
        },
        Step {
            actor: "gobuster",
            label: "root".into(),
            category: PROBE,
            program: "gobuster",
            args: strings(&[
                "dir",
                "-u",
                base,
                "-w",
                &list,
                "-H",
                &format!("{TOOL_HEADER}: gobuster"),
                "-t",
                "8",
                "--timeout",
                "10s",
                "-q",
                "--no-progress",
            ]),
            baseline: Baseline::First,
            deadline: Duration::from_secs(120),
            expect: Count::AtLeast(words),
        },
        Step {
            actor: "hydra",
            label: "login".into(),
            category: PROBE,
            program: "hydra",
            args: strings(&[
                "-L",
                &users.display().to_string(),
                "-P",
                &passwords.display().to_string(),
                "-s",
                &port,
                "-t",
                "4",
                "-w",
                "10",
                "-I",
                "127.0.0.1",
                "http-get",
                &format!("/login:H={TOOL_HEADER}\\: hydra"),
            ]),
            baseline: Baseline::First,
            deadline: Duration::from_secs(60),
            expect: Count::Exactly(100),
        },
    ]
}

/// wapiti 3: one crawl of the shop from `/` (scope: the folder `/`, no attack module), then one
/// run per module on the crawled URLs (`--skip-crawl`), so that every request is known to come
/// from one module: wapiti does not mark its requests with the module that sends them, and its
/// modules all attack every parameter. A module's class is the category of its requests:
/// `exec` → OSCommandInjection (its payloads are Unix commands, with some PHP and Windows ones),
/// `file` → LocalFileInclusionLFIRFI (traversal and remote inclusion), `xss` → XSS, `sql` →
/// SQLInjection, `ssrf` → SSRF; the crawl's requests are [`PROBE`] and carry no payload.
///
/// The endpoints SSRF and remote-inclusion payloads point to (`--endpoint`,
/// `--external-endpoint`, `--internal-endpoint`, wapiti3.ovh by default) are all `endpoint`, a
/// receiver of this test on loopback; the shop never fetches it. wapiti 3.0.4 builds every
/// module whatever `-m` says, and its `wapp` module downloads Wappalyzer's database from GitHub
/// when `<store-config>/apps.json` is missing: an empty one is written first.
fn wapiti_steps(base: &str, work: &Path, endpoint: &str) -> Vec<Step> {
    let config = work.join("wapiti-config");
    std::fs::create_dir_all(&config).expect("wapiti config dir");
    std::fs::write(config.join("apps.json"), "{}").expect("apps.json");
    let args = |modules: &str, more: &[&str]| {
        let mut args = strings(&[
            "-u",
            base,
            "--scope",
            "folder",
            // `=`: argparse would take `-all` for an option.
            &format!("--module={modules}"),
            "-l",
            "1",
            "-d",
            "3",
            "--store-session",
            &work.join("wapiti-session").display().to_string(),
            "--store-config",
            &config.display().to_string(),
            "-H",
            &format!("{TOOL_HEADER}: wapiti"),
            "--max-scan-time",
            "45",
            "--max-attack-time",
            "30",
            "-t",
            "5",
            "-f",
            "json",
            "-o",
            &work.join("wapiti-report.json").display().to_string(),
            "--endpoint",
            endpoint,
            "--external-endpoint",
            endpoint,
            "--internal-endpoint",
            endpoint,
            "--no-bugreport",
            "-v",
            "1",
        ]);
        args.extend(strings(more));
        args
    };
    let step = |label: &str, category, args, baseline, expect| Step {
        actor: "wapiti",
        label: label.into(),
        category,
        program: "wapiti",
        args,
        baseline,
        deadline: Duration::from_secs(90),
        expect,
    };
    let mut steps = vec![step(
        "crawl",
        PROBE,
        args("-all", &["--flush-session"]),
        Baseline::All,
        // The shop's links, forms and their folders.
        Count::AtLeast(15),
    )];
    for (module, category) in [
        ("exec", OS_COMMAND),
        ("file", LFI),
        ("xss", XSS),
        ("sql", SQLI),
        ("ssrf", SSRF),
    ] {
        steps.push(step(
            module,
            category,
            args(module, &["--skip-crawl"]),
            Baseline::First,
            // At least one payload per parameter.
            Count::AtLeast(10),
        ));
    }
    steps
}

/// Runs one step in its own process session (stdin closed, output to `<work>/<actor>-<label>.log`,
/// `HOME` and the working directory in `work`, no proxy variables); stops its process group by
/// PID and fails if it outlives its deadline.
fn run(step: &Step, work: &Path) -> f64 {
    let log_path = work.join(format!("{}-{}.log", step.actor, step.label));
    let log = std::fs::File::create(&log_path).expect("tool log");
    let home = work.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut cmd = Command::new("setsid");
    cmd.arg(step.program)
        .args(&step.args)
        .current_dir(work)
        .env("HOME", &home)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "ftp_proxy",
        "FTP_PROXY",
    ] {
        cmd.env_remove(var);
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", step.program));
    let status = wait_for(step.deadline, || child.try_wait().ok().flatten());
    let seconds = started.elapsed().as_secs_f64();
    let tail = || {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    let Some(status) = status else {
        // setsid made the tool the leader of its own process group: stop the group by its PID.
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", child.id()))
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{} ({} {}) ran past {:?}; its log ends:\n{}",
            step.actor,
            step.program,
            step.label,
            step.deadline,
            tail()
        );
    };
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let spurious = spurious_hydra_report(step.program, &text);
    assert!(
        status.success() || spurious,
        "{} ({} {}) exited with {status}; its log ends:\n{}",
        step.actor,
        step.program,
        step.label,
        tail()
    );
    if spurious {
        println!(
            "{}: hydra's spurious closing error (exit {status}); judged by its count",
            step.actor
        );
    }
    let text = if spurious {
        text.lines()
            .filter(|line| !HYDRA_SPURIOUS_LINES.contains(&line.trim()))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        text
    };
    for marker in failure_markers(step.program) {
        assert!(
            !text.contains(marker),
            "{} ({} {}) logged {marker:?}; its log ends:\n{}",
            step.actor,
            step.program,
            step.label,
            tail()
        );
    }
    seconds
}

/// One recorded request of a tool, with what the scorecard says about it.
struct Scored<'a> {
    request: &'a ShopRequest,
    case: String,
    category: &'static str,
    payload: bool,
}

/// A request's raw query string and body.
type QueryAndBody = (String, String);

/// Marks each request of an actor `payload: true` or `false`.
///
/// A request carries a payload when its raw query string or its body differs from that of every
/// **baseline request** of the same actor with the same method and path (the path without its
/// query string). Headers are not compared: every tool here puts its payloads in the query or
/// the body (sqlmap stays at level 2, below the User-Agent and Referer tests of level 3). The
/// baseline requests are:
/// - for a wfuzz step, the request wfuzz sends with the `FUZZ{<benign>}` word in place of `FUZZ`
///   (wfuzz sends it first; it is matched by its exact path and body, not by its order);
/// - for wapiti, every request of its crawl (the page's own links and forms, filled in by
///   wapiti), and for a path the crawl did not ask, the first request of a module to it;
/// - for every other tool, the actor's first request to that method and path: sqlmap's
///   connection check with the original value (`id=1`, `q=mug`, the JSON order without the `*`
///   marker). A path asked only once (each word of ffuf and gobuster) is its own baseline, and
///   hydra's pairs differ only in the `Authorization` header: probing and brute force carry no
///   payload.
///
/// A payload request is one the tool changed from its baseline, not necessarily an attack
/// (wfuzz's `#` word, cut by curl as a URL fragment, leaves an empty value).
fn mark_payloads<'a>(
    requests: &'a [ShopRequest],
    runs: &[Ran],
) -> BTreeMap<&'static str, Vec<Scored<'a>>> {
    let mut out: BTreeMap<&'static str, Vec<Scored<'a>>> = BTreeMap::new();
    // (actor, method, path without query) -> the baselines' (query, body).
    let mut baselines: HashMap<(&str, String, String), Vec<QueryAndBody>> = HashMap::new();
    for ran in runs {
        if let Baseline::Word(method, path, body) = &ran.baseline {
            let route = path.split('?').next().unwrap_or("").to_string();
            let query = path.split_once('?').map_or("", |(_, q)| q).to_string();
            baselines
                .entry((ran.actor, method.to_string(), route))
                .or_default()
                .push((query, body.clone()));
        }
        let mut n = 0;
        for request in requests[ran.first..ran.end]
            .iter()
            .filter(|r| r.tool == ran.actor)
        {
            n += 1;
            let key = (
                ran.actor,
                request.method.clone(),
                request.route().to_string(),
            );
            let this = (request.query().to_string(), request.body.clone());
            let known = baselines.entry(key).or_default();
            let payload = if matches!(ran.baseline, Baseline::All) || known.is_empty() {
                known.push(this);
                false
            } else {
                !known.contains(&this)
            };
            // wapiti's exec module also tries PHP code evaluation, which it reports apart
            // ("PHP evaluation", "preg_replace injection") from command execution: its payloads
            // print wapiti's markers (`md5('w4p1t1_md5')`, a base64 `<?php` data URI, `/e\0`).
            let php = ran.actor == "wapiti"
                && ran.label == "exec"
                && [&request.path, &request.body].iter().any(|t| {
                    t.contains("w4p1t1") || t.contains("PD9waHA") || t.contains("%2Fe%00")
                });
            out.entry(ran.actor).or_default().push(Scored {
                request,
                case: format!("{}-{}-{n}", ran.actor, ran.label),
                category: if php { PHP_EVALUATION } else { ran.category },
                payload,
            });
        }
    }
    out
}

/// Writes `<dir>/<actor>.jsonl`, one line per request the shop received from that actor, in
/// arrival order:
///
/// `{"case": "<actor>-<step>-<n>", "category": "<filterId or probe>", "method": "GET",
///   "path": "/search?q=...", "headers": {"<lower-case name>": "<value>", ...}, "body": "...",
///   "tool": "<actor>", "payload": true}`
///
/// `case`, `category`, `method`, `path` (the request target as the shop received it, query
/// string included, undecoded), `headers` (names in lower case, a repeated name's values joined
/// with `, `; Envoy's own `x-request-id`, `x-forwarded-proto` and `x-envoy-expected-rq-timeout-ms`
/// among them) and `body` (a string, invalid UTF-8 replaced) are those of
/// `../shared/attack-corpus/crs-dev.jsonl` (which also has the CRS-only `rule` and `pl`); `tool`
/// is the `x-actor` header and `payload` is [`mark_payloads`]'s.
fn write_scorecard(dir: &Path, scored: &BTreeMap<&'static str, Vec<Scored>>) {
    for (actor, requests) in scored {
        let path = dir.join(format!("{actor}.jsonl"));
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        );
        for s in requests {
            let mut line = s.request.to_json(&s.case, s.category);
            line.insert("payload".into(), Value::Bool(s.payload));
            writeln!(file, "{}", Value::Object(line)).expect("scorecard line");
        }
        file.flush().expect("scorecard");
    }
}

fn events_of<'a>(events: &'a [Value], actor: &str, filter_id: &str) -> Vec<&'a Value> {
    let shown = format!("{TOOL_HEADER}:{actor}");
    events
        .iter()
        .filter(|e| e["actor"] == shown.as_str() && e["filterId"] == filter_id)
        .collect()
}

#[test]
fn attack_tools_are_flagged_and_their_requests_recorded() {
    require_tools();
    let only: Option<Vec<String>> = std::env::var("ACTORWATCH_TOOLS")
        .ok()
        .map(|s| s.split(',').map(|t| t.trim().to_string()).collect());
    let work = scratch_dir("tools");
    let shop = Shop::start(&work.join("shop.jsonl"));
    let rx = Receiver::start(0);
    // What wapiti's blind payloads point to (and the address it checks before it starts).
    let endpoint_rx = Receiver::start(0);
    let endpoint = format!("http://127.0.0.1:{}/", endpoint_rx.port);
    let cfg = threat_config(SECRET);
    let mut setup = EnvoySetup::new(&cfg, shop.port, rx.port);
    setup.access_log = Some(work.join("access.log"));
    let envoy = start(&setup);
    let base = format!("http://127.0.0.1:{}/", envoy.listener.port());
    assert_eq!(
        envoy.client().get("/"),
        200,
        "the shop answers through Envoy"
    );
    let before = shop.count();

    let mut steps = sqlmap_steps(&base, &work);
    steps.extend(wfuzz_steps(&base));
    steps.extend(probe_steps(&base, &work));
    steps.extend(wapiti_steps(&base, &work, &endpoint));
    if let Some(only) = &only {
        println!(
            "ACTORWATCH_TOOLS={}: running only these actors' steps",
            only.join(",")
        );
        steps.retain(|s| only.iter().any(|o| o == s.actor));
    }

    let mut runs = Vec::new();
    for step in &steps {
        let first = shop.count();
        let seconds = run(step, &work);
        let sent = shop.requests()[first..]
            .iter()
            .filter(|r| r.tool == step.actor)
            .count();
        println!(
            "{:<24} {:<10} {:>6} requests {:>7.1} s",
            step.actor, step.label, sent, seconds
        );
        let enough = match step.expect {
            Count::Exactly(n) => sent == n,
            Count::AtLeast(n) => sent >= n,
        };
        assert!(
            enough,
            "{} ({} {}): {sent} requests reached the shop, expected {:?}",
            step.actor, step.program, step.label, step.expect
        );
        runs.push(Ran {
            actor: step.actor,
            label: step.label.clone(),
            category: step.category,
            seconds,
            first,
            end: shop.count(),
            baseline: step.baseline.clone(),
        });
    }

    // The scorecard.
    let requests = shop.requests();
    let stray: Vec<&ShopRequest> = runs
        .iter()
        .flat_map(|r| {
            requests[r.first..r.end]
                .iter()
                .filter(move |q| q.tool != r.actor)
        })
        .collect();
    let scored = mark_payloads(&requests, &runs);
    // The scorecard reads the Wasm run's; the native module's run is kept beside it.
    let dir = repo().join(match host() {
        Host::Wasm => "target/scorecard/tools",
        Host::Native => "target/scorecard/tools-native",
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scorecard dir");
    write_scorecard(&dir, &scored);
    println!(
        "\n{:<24} {:>9} {:>9} {:>9}  category",
        "tool", "requests", "payloads", "seconds"
    );
    for (actor, list) in &scored {
        let seconds: f64 = runs
            .iter()
            .filter(|r| r.actor == *actor)
            .map(|r| r.seconds)
            .sum();
        let mut categories: Vec<&str> = list.iter().map(|s| s.category).collect();
        categories.dedup();
        println!(
            "{:<24} {:>9} {:>9} {:>9.1}  {}",
            actor,
            list.len(),
            list.iter().filter(|s| s.payload).count(),
            seconds,
            categories.join(",")
        );
    }
    println!(
        "scorecard: {}; shop log: {}; {} requests before the tools, {} without the step's actor, {} to wapiti's endpoint",
        dir.display(),
        shop.log_path.display(),
        before,
        stray.len(),
        endpoint_rx.all().len()
    );
    assert!(
        stray.is_empty(),
        "requests without their step's x-actor: {:?}",
        stray
            .iter()
            .take(5)
            .map(|s| format!("{} {} (x-actor {:?})", s.method, s.path, s.tool))
            .collect::<Vec<_>>()
    );

    // Envoy's webhook: the 4XX event of the probers, a threat event of the class for the
    // injectors.
    let ran = |actor: &str| runs.iter().any(|r| r.actor == actor);
    let expected: Vec<(&str, &str)> = [
        ("ffuf", FOUR_XX),
        ("gobuster", FOUR_XX),
        ("hydra", FOUR_XX),
        ("sqlmap", SQLI),
        ("wfuzz-xss", XSS),
        ("wfuzz-traversal", LFI),
    ]
    .into_iter()
    .filter(|(actor, id)| {
        ran(actor) || {
            println!("not run, not checked: {actor} {id}");
            false
        }
    })
    .collect();
    let missing = |events: &[Value]| -> Vec<(&str, &str)> {
        expected
            .iter()
            .copied()
            .filter(|(actor, id)| events_of(events, actor, id).is_empty())
            .collect()
    };
    let got = wait_for(WAIT, || Some(rx.events()).filter(|e| missing(e).is_empty()));
    let events = rx.events();
    let mut by_actor: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for e in &events {
        *by_actor
            .entry(e["actor"].as_str().unwrap_or("?").to_string())
            .or_default()
            .entry(e["filterId"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    println!("\nevents by actor: {by_actor:?}");
    assert!(
        got.is_some(),
        "no event for {:?}; events by actor: {by_actor:?}",
        missing(&events)
    );
    assert!(
        !envoy.log().contains("panicked"),
        "the filter panicked:\n{}",
        envoy.log()
    );
}
