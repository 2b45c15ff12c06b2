//! `actorwatch receive`: a webhook receiver for integration and tests. Checks Akto's format,
//! signatures and duplicate deliveries, and can misbehave on purpose.

use crate::http::{self, json, read_body, Limits, Reply};
use actorwatch_core::payload::shape_errors;
use actorwatch_core::signature::{verify, DELIVERY_HEADER, SIGNATURE_HEADER};
use clap::Args;
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderMap;
use hyper::{Method, Request};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// Largest body accepted.
const MAX_BODY_BYTES: usize = 32 << 20;

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
    #[arg(long, value_name = "CODE", value_parser = clap::value_parser!(u16).range(100..=999))]
    status: Option<u16>,
    /// Print one line per POST instead of the payload.
    #[arg(long)]
    quiet: bool,
    /// POSTs handled at once (read, checked, --delay-ms, printed); more wait their turn.
    #[arg(long, default_value_t = 64)]
    max_concurrent: usize,
    /// How long a client may take to send a request's header, and then as long for its body;
    /// slower clients are cut off. A keep-alive connection idle this long is closed.
    #[arg(long, default_value_t = 10_000)]
    read_timeout_ms: u64,
    /// Connections open at once; past this a new connection is closed at once.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
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

/// What every request shares.
struct Receiver {
    args: ReceiveArgs,
    state: Mutex<State>,
    out: Option<Mutex<std::fs::File>>,
    slots: Semaphore,
    read_timeout: Duration,
}

pub fn run(args: ReceiveArgs) -> ExitCode {
    let listener = match http::bind(&args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("actorwatch receive: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let slots = args.max_concurrent.max(1);
    // POSTs print and write on blocking threads: a stdout nobody reads holds those, not the
    // server (GET /stats still answers).
    let runtime = match http::runtime(slots + 1) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("actorwatch receive: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| args.listen.clone());
    println!("actorwatch receive: listening on http://{addr}");
    let _ = std::io::stdout().flush();
    let out = match &args.out {
        None => None,
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                eprintln!("actorwatch receive: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let limits = Limits {
        read_timeout: Duration::from_millis(args.read_timeout_ms.max(1)),
        max_connections: args.max_connections,
    };
    let receiver = Arc::new(Receiver {
        read_timeout: limits.read_timeout,
        args,
        state: Mutex::new(State::default()),
        out,
        slots: Semaphore::new(slots),
    });
    http::serve_until_done(
        &runtime,
        listener,
        limits,
        "actorwatch receive",
        move |req| handle(Arc::clone(&receiver), req),
    )
}

async fn handle(receiver: Arc<Receiver>, req: Request<Incoming>) -> Reply {
    if req.method() == Method::GET {
        let s = receiver.state.lock().unwrap_or_else(|p| p.into_inner());
        let body = json!({"posts": s.posts, "accepted": s.accepted, "events": s.events, "duplicates": s.duplicates, "rejected": s.rejected});
        drop(s);
        return json(200, body.to_string());
    }
    if req.method() != Method::POST {
        return json(405, r#"{"error":"POST webhooks here"}"#);
    }
    // The semaphore is never closed.
    let Ok(_slot) = receiver.slots.acquire().await else {
        return json(503, r#"{"error":"shutting down"}"#);
    };
    let (parts, body) = req.into_parts();
    let body = match read_body(body, MAX_BODY_BYTES, receiver.read_timeout).await {
        Ok(body) => body,
        Err(e) => return e.reply(),
    };
    let number = {
        let mut s = receiver.state.lock().unwrap_or_else(|p| p.into_inner());
        s.posts += 1;
        s.posts
    };
    if receiver.args.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(receiver.args.delay_ms)).await;
    }
    let r = Arc::clone(&receiver);
    let checked = tokio::task::spawn_blocking(move || check(&r, &parts.headers, &body, number));
    match checked.await {
        Ok((status, body)) => json(status, body),
        Err(_) => json(500, r#"{"error":"the POST's handling failed"}"#),
    }
}

/// Checks, counts and prints POST `number` (on a blocking thread): the status and body to answer.
fn check(receiver: &Receiver, headers: &HeaderMap, body: &Bytes, number: u64) -> (u16, String) {
    let (args, state, out) = (&receiver.args, &receiver.state, receiver.out.as_ref());
    let delivery = http::header(headers, DELIVERY_HEADER)
        .unwrap_or("")
        .to_string();
    if number <= args.fail_first {
        println!(
            "POST #{number} delivery={delivery}: answering 500 on purpose (--fail-first {})",
            args.fail_first
        );
        let _ = std::io::stdout().flush();
        return (500, r#"{"error":"failing on purpose"}"#.into());
    }
    let signature = match (&args.secret, http::header(headers, SIGNATURE_HEADER)) {
        (None, _) => "unchecked",
        (Some(_), None) => "missing",
        (Some(secret), Some(h)) => {
            match verify(secret.as_bytes(), h, body, now_secs(), args.tolerance_secs) {
                Ok(()) => "ok",
                Err(e) => {
                    println!("POST #{number} delivery={delivery}: 401, {e}");
                    state.lock().unwrap_or_else(|p| p.into_inner()).rejected += 1;
                    return (401, json!({"error": e.to_string()}).to_string());
                }
            }
        }
    };
    if signature == "missing" {
        println!("POST #{number} delivery={delivery}: 401, no {SIGNATURE_HEADER} header");
        state.lock().unwrap_or_else(|p| p.into_inner()).rejected += 1;
        return (401, r#"{"error":"signature missing"}"#.into());
    }
    let payload: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            println!("POST #{number} delivery={delivery}: 400, body is not JSON: {e}");
            state.lock().unwrap_or_else(|p| p.into_inner()).rejected += 1;
            return (400, json!({"error": format!("not JSON: {e}")}).to_string());
        }
    };
    let problems = shape_errors(&payload);
    if !problems.is_empty() {
        println!(
            "POST #{number} delivery={delivery}: 400, not Akto's format: {}",
            problems.join("; ")
        );
        state.lock().unwrap_or_else(|p| p.into_inner()).rejected += 1;
        return (
            400,
            json!({"error": "not Akto's webhook format", "problems": problems}).to_string(),
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
    (args.status.unwrap_or(200), r#"{"ok":true}"#.into())
}
