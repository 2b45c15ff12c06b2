//! The HTTP/1.1 server under `actorwatch front` and `actorwatch receive`: hyper on a tokio
//! runtime. Every accepted connection gets its own task at once (a keep-alive connection that
//! waits for its next request holds no thread, so it cannot hold up a new one), up to
//! `max_connections`; past that a new connection is closed at once rather than left waiting.
//! A client has `read_timeout` to send a request's header (this also closes an idle keep-alive
//! connection), and as long again for its body, which is capped in size.

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

pub(crate) type Reply = Response<Full<Bytes>>;

/// The connection-level limits both servers take from their flags.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub read_timeout: Duration,
    pub max_connections: usize,
}

/// A runtime with the machine's cores as workers and at most `blocking` threads for the work
/// that blocks (receive's printing and writing; the front has Redis threads of its own).
pub(crate) fn runtime(blocking: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(blocking.max(1))
        .build()
}

/// Binds `listen` (synchronously, so that a bad address is reported before anything starts).
pub(crate) fn bind(listen: &str) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Runs [`serve`] on `runtime` until the process ends; a failure is reported on stderr as
/// `name: error`, exit status 1.
pub(crate) fn serve_until_done<H, F>(
    runtime: &tokio::runtime::Runtime,
    listener: std::net::TcpListener,
    limits: Limits,
    name: &'static str,
    handler: H,
) -> std::process::ExitCode
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    match runtime.block_on(serve(listener, limits, name, handler)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

/// Serves `handler` on `listener` until the process ends. `name` prefixes the few lines this
/// writes to stderr (accept errors, the connection limit reached).
pub(crate) async fn serve<H, F>(
    listener: std::net::TcpListener,
    limits: Limits,
    name: &'static str,
    handler: H,
) -> std::io::Result<()>
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut last_warning: Option<Instant> = None;
    let mut warn = |what: &str| {
        // At most one line every 10 s: a flood of connections must not become a flood of lines.
        if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            eprintln!("{name}: {what}");
            last_warning = Some(Instant::now());
        }
    };
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it was accepted: the
                // listener itself is fine. A short pause keeps a persistent error from spinning.
                warn(&format!("accept: {e}"));
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            warn(&format!(
                "{} connections open (--max-connections): closing new ones",
                limits.max_connections
            ));
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let answer = handler(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.read_timeout)
                .keep_alive(true)
                // A client that shuts its side down after sending its request still gets the
                // answer.
                .half_close(true);
            // A client that goes away or is cut off by a timeout ends its connection; nothing
            // to report.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

/// An answer with a JSON body.
pub(crate) fn json(status: u16, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A header's value, if present and text.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Why a request's body was not read.
#[derive(Debug)]
pub(crate) enum BodyError {
    TooLarge(usize),
    TimedOut(Duration),
    Unreadable,
}

impl BodyError {
    /// The answer: 413, 408 or 400, closing the connection (the rest of the body is unread).
    pub(crate) fn reply(&self) -> Reply {
        let (status, body) = match self {
            BodyError::TooLarge(max) => (
                413,
                serde_json::json!({ "error": format!("body over {max} bytes") }).to_string(),
            ),
            BodyError::TimedOut(d) => (
                408,
                serde_json::json!({
                    "error": format!("body not received within {} ms", d.as_millis())
                })
                .to_string(),
            ),
            BodyError::Unreadable => (400, r#"{"error":"unreadable body"}"#.to_string()),
        };
        let mut reply = json(status, body);
        reply
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        reply
    }
}

/// The whole body, up to `max_bytes`, if it arrives within `timeout`.
pub(crate) async fn read_body(
    body: Incoming,
    max_bytes: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    // A declared length over the cap is refused before anything is read.
    if body.size_hint().lower() > max_bytes as u64 {
        return Err(BodyError::TooLarge(max_bytes));
    }
    match tokio::time::timeout(timeout, Limited::new(body, max_bytes).collect()).await {
        Err(_) => Err(BodyError::TimedOut(timeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(BodyError::TooLarge(max_bytes))
        }
        Ok(Err(_)) => Err(BodyError::Unreadable),
    }
}
