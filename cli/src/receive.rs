//! `actorwatch receive`: a webhook receiver for integration and tests. Checks Akto's format,
//! signatures and duplicate deliveries, and can misbehave on purpose.

use actorwatch_core::payload::shape_errors;
use actorwatch_core::signature::{verify, DELIVERY_HEADER, SIGNATURE_HEADER};
use clap::Args;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tiny_http::{Header, Method, Request, Response, Server};

/// Largest body accepted.
const MAX_BODY_BYTES: u64 = 32 << 20;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  actorwatch receive --listen 127.0.0.1:9000
  actorwatch receive --listen 127.0.0.1:0 --secret \"$SECRET\" --out received.jsonl
  actorwatch receive --listen 127.0.0.1:9000 --fail-first 3 --delay-ms 200

It prints the address it listens on first (useful with port 0). GET /stats answers
{\"posts\", \"accepted\", \"events\", \"duplicates\", \"rejected\"} as JSON.")]
pub struct ReceiveArgs {
    /// Address to listen on (loopback; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: String,
    /// Append each accepted POST to FILE as one JSON line instead of pretty-printing it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Verify `x-actorwatch-signature` with this secret; bad or stale signatures get 401.
    #[arg(long, env = "ACTORWATCH_HMAC_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// How far a signature's time may be from this clock.
    #[arg(long, default_value_t = 300)]
    tolerance_secs: u64,
    /// Answer 500 to the first N POSTs.
    #[arg(long, default_value_t = 0, value_name = "N")]
    fail_first: u64,
    /// Wait this long before answering each POST.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Answer every accepted POST with this status instead of 200.
    #[arg(long, value_name = "CODE")]
    status: Option<u16>,
    /// Print one line per POST instead of the payload.
    #[arg(long)]
    quiet: bool,
}

#[derive(Default)]
struct State {
    posts: u64,
    accepted: u64,
    events: u64,
    duplicates: u64,
    rejected: u64,
    seen: HashSet<String>,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// Answers with a JSON body.
pub(crate) fn respond(req: Request, status: u16, body: &str) {
    let content_type = Header::from_bytes("content-type", "application/json").ok();
    let mut response = Response::from_string(body).with_status_code(status);
    if let Some(h) = content_type {
        response = response.with_header(h);
    }
    let _ = req.respond(response);
}

/// The request's body, up to `max_bytes`; `None` if it cannot be read.
pub(crate) fn read_body(req: &mut Request, max_bytes: u64) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    req.as_reader()
        .take(max_bytes)
        .read_to_end(&mut body)
        .ok()
        .map(|_| body)
}

pub fn run(args: ReceiveArgs) -> ExitCode {
    let server = match Server::http(&args.listen) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("actorwatch receive: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let addr = server
        .server_addr()
        .to_ip()
        .map(|a| a.to_string())
        .unwrap_or_else(|| args.listen.clone());
    println!("actorwatch receive: listening on http://{addr}");
    let _ = std::io::stdout().flush();
    let out = match &args.out {
        None => None,
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(f) => Some(Arc::new(Mutex::new(f))),
            Err(e) => {
                eprintln!("actorwatch receive: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let args = Arc::new(args);
    let state = Arc::new(Mutex::new(State::default()));
    for req in server.incoming_requests() {
        let (args, state, out) = (Arc::clone(&args), Arc::clone(&state), out.clone());
        // One thread per request: a delayed answer does not hold up the others.
        std::thread::spawn(move || handle(req, &args, &state, out.as_deref()));
    }
    ExitCode::SUCCESS
}

fn handle(
    mut req: Request,
    args: &ReceiveArgs,
    state: &Mutex<State>,
    out: Option<&Mutex<std::fs::File>>,
) {
    if *req.method() == Method::Get {
        let s = match state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let body = json!({"posts": s.posts, "accepted": s.accepted, "events": s.events, "duplicates": s.duplicates, "rejected": s.rejected});
        drop(s);
        return respond(req, 200, &body.to_string());
    }
    if *req.method() != Method::Post {
        return respond(req, 405, r#"{"error":"POST webhooks here"}"#);
    }
    let Some(body) = read_body(&mut req, MAX_BODY_BYTES) else {
        return respond(req, 400, r#"{"error":"unreadable body"}"#);
    };
    let number = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.posts += 1;
        s.posts
    };
    if args.delay_ms > 0 {
        std::thread::sleep(Duration::from_millis(args.delay_ms));
    }
    let delivery = header(&req, DELIVERY_HEADER).unwrap_or("").to_string();
    if number <= args.fail_first {
        println!(
            "POST #{number} delivery={delivery}: answering 500 on purpose (--fail-first {})",
            args.fail_first
        );
        let _ = std::io::stdout().flush();
        return respond(req, 500, r#"{"error":"failing on purpose"}"#);
    }
    let signature = match (&args.secret, header(&req, SIGNATURE_HEADER)) {
        (None, _) => "unchecked",
        (Some(_), None) => "missing",
        (Some(secret), Some(h)) => {
            match verify(secret.as_bytes(), h, &body, now_secs(), args.tolerance_secs) {
                Ok(()) => "ok",
                Err(e) => {
                    println!("POST #{number} delivery={delivery}: 401, {e}");
                    state.lock().unwrap_or_else(|p| p.into_inner()).rejected += 1;
                    return respond(req, 401, &json!({"error": e.to_string()}).to_string());
                }
            }
        }
    };
    if signature == "missing" {
        println!("POST #{number} delivery={delivery}: 401, no {SIGNATURE_HEADER} header");
        state.lock().unwrap_or_else(|p| p.into_inner()).rejected += 1;
        return respond(req, 401, r#"{"error":"signature missing"}"#);
    }
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            println!("POST #{number} delivery={delivery}: 400, body is not JSON: {e}");
            state.lock().unwrap_or_else(|p| p.into_inner()).rejected += 1;
            return respond(
                req,
                400,
                &json!({"error": format!("not JSON: {e}")}).to_string(),
            );
        }
    };
    let problems = shape_errors(&payload);
    if !problems.is_empty() {
        println!(
            "POST #{number} delivery={delivery}: 400, not Akto's format: {}",
            problems.join("; ")
        );
        state.lock().unwrap_or_else(|p| p.into_inner()).rejected += 1;
        return respond(
            req,
            400,
            &json!({"error": "not Akto's webhook format", "problems": problems}).to_string(),
        );
    }
    let events = payload["maliciousEvents"].as_array().map_or(0, Vec::len) as u64;
    let duplicate = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        let duplicate = !delivery.is_empty() && !s.seen.insert(delivery.clone());
        s.accepted += 1;
        if duplicate {
            s.duplicates += 1;
        } else {
            s.events += events;
        }
        duplicate
    };
    let filter = payload["maliciousEvents"][0]["filterId"]
        .as_str()
        .unwrap_or("");
    let note = if duplicate {
        " DUPLICATE (already received)"
    } else {
        ""
    };
    println!("POST #{number} delivery={delivery} filter={filter} events={events} signature={signature}{note}");
    match out {
        Some(file) => {
            let line = json!({
                "received_at_ms": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
                "delivery": delivery,
                "duplicate": duplicate,
                "signature": signature,
                "payload": payload,
            });
            // One write per line: a reader tailing the file never sees half a record.
            let record = format!("{line}\n");
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            let _ = f.write_all(record.as_bytes());
            let _ = f.flush();
        }
        None if !args.quiet => {
            if let Ok(pretty) = serde_json::to_string_pretty(&payload) {
                println!("{pretty}");
            }
        }
        None => {}
    }
    let _ = std::io::stdout().flush();
    respond(req, args.status.unwrap_or(200), r#"{"ok":true}"#);
}
