//! actorwatch as a Cloudflare Worker. The Worker forwards each request to the origin and returns
//! the origin's response unchanged; a counted response is handed, off the response path, to the
//! Durable Object that counts its actor (sharded by actor). Events go to one Durable Object that
//! stores, batches and delivers them; it also holds the blocklist isolates cache for a few
//! seconds, and the counters every shard reports. Every decision is the core's, exactly as in
//! the Envoy filter: the shards drive a `handoff::Sender`, the hub a `handoff::Receiver`.

mod hub;
mod shard;
mod store;

use actorwatch_core::inspect;
use actorwatch_core::request_url_parts;
use actorwatch_core::ConfigCache;
use actorwatch_core::Inspection;
use actorwatch_core::Inspector;
use actorwatch_core::{BlockedReply, Blocklist, Config, Observation, Recorder};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use worker::*;

pub use hub::Hub;
pub use shard::CounterShard;

/// Counter shards: an actor always lands on the same one; no single object sees all traffic.
pub const SHARDS: u64 = 32;
/// How long an isolate trusts its copy of the blocklist.
const BLOCKLIST_CACHE_MS: u64 = 3_000;
pub const HUB_NAME: &str = "hub";
/// Where the Worker serves the hub's `/metrics`, when the secret `ACTORWATCH_METRICS_TOKEN` is
/// set (README, "Metrics").
const METRICS_PATH: &str = "/__actorwatch/metrics";

/// What an isolate keeps for its configuration (parsed once, or the error, logged once).
struct Isolate {
    config: std::result::Result<Arc<Config>, String>,
    blocklist: Option<(u64, Blocklist)>,
    metrics_token: Option<String>,
    /// Counts what goes to the shards. Deltas leave with counted responses that have an actor;
    /// the counts of other responses (unmatched, unattributed, blocked) ride with the next one.
    recorder: Option<Recorder>,
    /// The threat rules' inspector, when the configuration has any that inspect requests or
    /// read responses.
    inspector: Option<Inspector>,
}

/// The isolate's configuration and what was made of it.
#[derive(Default)]
struct Isolates {
    config: ConfigCache,
    current: Option<Rc<RefCell<Isolate>>>,
}

thread_local! {
    static ISOLATE: RefCell<Isolates> = RefCell::new(Isolates::default());
    /// Counted responses this isolate took and could not hand to their shard: they travel as
    /// `records_dropped` in the next delta it sends (and are lost with the isolate otherwise).
    static LOST_RECORDS: Cell<u64> = const { Cell::new(0) };
    /// This isolate has a flush of the counts no shard owns under way ([`flush_counts_later`]).
    static COUNTS_FLUSH_PENDING: Cell<bool> = const { Cell::new(false) };
}

/// How long the counts of responses no shard owns (unmatched, unattributed, blocked) wait in an
/// isolate for a counted response's delta to carry them before they go on their own: at most one
/// Durable Object request per isolate this often, and none while counted responses carry them.
const COUNTS_FLUSH_MS: u64 = 60_000;
/// Test-only: [`COUNTS_FLUSH_MS`] in ms for the tests that wait for such counts (README).
const COUNTS_FLUSH_SWITCH: &str = "ACTORWATCH_TEST_COUNTS_FLUSH_MS";
/// The actor whose shard takes the deltas that carry counts alone.
const COUNTS_ONLY_ACTOR: &str = "";

/// A test-only switch (README, "Cloudflare Worker"): a binding that only the tests set.
pub fn test_switch(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

pub fn now_ms() -> u64 {
    Date::now().as_millis()
}

pub fn seed() -> u64 {
    let random = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
    random ^ now_ms().rotate_left(29)
}

/// The secret that, when set, is `webhook.hmac_secret` whatever the configuration says.
const HMAC_SECRET: &str = "ACTORWATCH_HMAC_SECRET";

/// `{"env": "NAME"}` in the configuration: the Worker's secret of that name, else its var.
fn env_value(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .or_else(|_| env.var(name))
        .ok()
        .map(|v| v.to_string())
}

/// The text of `ACTORWATCH_CONFIG`.
fn config_text(env: &Env) -> String {
    env.var("ACTORWATCH_CONFIG")
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// The configuration of `ACTORWATCH_CONFIG` (`text`), its `{"env": "NAME"}` secrets read from
/// the Worker's secrets and vars, and `webhook.hmac_secret` from the secret
/// `ACTORWATCH_HMAC_SECRET` when that is set.
fn parse_config(text: &str, env: &Env) -> std::result::Result<Arc<Config>, String> {
    let mut value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("ACTORWATCH_CONFIG: (document): invalid JSON: {e}"))?;
    if env.secret(HMAC_SECRET).is_ok() {
        if let Some(webhook) = value.get_mut("webhook").and_then(|w| w.as_object_mut()) {
            webhook.insert(
                "hmac_secret".into(),
                serde_json::json!({ "env": HMAC_SECRET }),
            );
        }
    }
    Config::from_value_with_env(&value, &|name| env_value(env, name))
        .map(Arc::new)
        .map_err(|e| format!("ACTORWATCH_CONFIG: {e}"))
}

/// The configuration through `cache`: parsed again only when its text changed; `true` alongside
/// when it was parsed now.
pub fn cached_config(
    cache: &mut ConfigCache,
    env: &Env,
) -> (std::result::Result<Arc<Config>, String>, bool) {
    cache.get(&config_text(env), |text| parse_config(text, env))
}

fn isolate(env: &Env) -> Rc<RefCell<Isolate>> {
    ISOLATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (config, parsed_now) = cached_config(&mut slot.config, env);
        if let (false, Some(current)) = (parsed_now, &slot.current) {
            return Rc::clone(current);
        }
        if let Err(e) = &config {
            // Once per isolate: traffic still flows, untouched.
            console_error!("actorwatch: invalid configuration, passing traffic through: {e}");
        }
        let metrics_token = env
            .secret("ACTORWATCH_METRICS_TOKEN")
            .ok()
            .map(|s| s.to_string())
            .filter(|t| !t.is_empty());
        let recorder = config.as_ref().ok().map(|c| Recorder::new(Arc::clone(c)));
        let inspector = config
            .as_ref()
            .ok()
            .map(|c| Inspector::new(Arc::clone(c)))
            .filter(|i| i.is_active() || i.reads_responses());
        let fresh = Rc::new(RefCell::new(Isolate {
            recorder,
            inspector,
            config,
            blocklist: None,
            metrics_token,
        }));
        slot.current = Some(Rc::clone(&fresh));
        fresh
    })
}

/// A stable shard for an actor (the same in every isolate).
pub fn shard_of(actor: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in actor.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % SHARDS
}

fn headers_of(req: &Request) -> Vec<(String, String)> {
    req.headers().entries().collect()
}

/// The client address Cloudflare put in the request's headers (the runtime lists header names
/// in lower case): the Worker's peer.
fn peer_in(headers: &[(String, String)]) -> Option<&str> {
    headers
        .iter()
        .find(|(name, _)| name == "cf-connecting-ip")
        .map(|(_, value)| value.as_str())
}

/// The request as the origin should get it: the same method, headers and streamed body, to
/// `ORIGIN_URL` (local runs and tests) or to the request's own URL (a Worker on a route).
fn origin_request(req: &Request, env: &Env) -> Result<Request> {
    let Ok(origin) = env.var("ORIGIN_URL").map(|v| v.to_string()) else {
        return req.clone();
    };
    let url = req.inner().url();
    let mut target = origin.trim_end_matches('/').to_string();
    target.push_str(request_url_parts(&url).1);
    let mut init = RequestInit::new();
    init.with_method(req.method())
        .with_headers(req.headers().clone())
        .with_redirect(RequestRedirect::Manual);
    if let Some(body) = req.inner().body() {
        init.with_body(Some(body.into()));
    }
    Request::new_with_init(&target, &init)
}

async fn blocklist(env: &Env, iso: &Rc<RefCell<Isolate>>, now: u64) -> Option<Blocklist> {
    if let Some((at, list)) = &iso.borrow().blocklist {
        if now < at + BLOCKLIST_CACHE_MS {
            return Some(list.clone());
        }
    }
    let stub = env
        .durable_object("HUB")
        .ok()?
        .id_from_name(HUB_NAME)
        .ok()?
        .get_stub()
        .ok()?;
    let mut resp = stub.fetch_with_str("https://hub/blocklist").await.ok()?;
    let bytes = resp.bytes().await.ok()?;
    let list = Blocklist::decode(&bytes, seed()).ok()?;
    iso.borrow_mut().blocklist = Some((now, list.clone()));
    Some(list)
}

/// A request answered before the origin, with the core's reply (the same bytes as Envoy's).
fn local_reply(reply: &BlockedReply) -> Result<Response> {
    let out = Headers::new();
    for (name, value) in reply.headers() {
        out.set(name, &value)?;
    }
    Ok(Response::from_bytes(reply.body().into_bytes())?
        .with_status(reply.status)
        .with_headers(out))
}

/// Equal, in time that does not depend on where `given` first differs.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// `GET /__actorwatch/metrics` with `Authorization: Bearer <ACTORWATCH_METRICS_TOKEN>`: the
/// hub's `/metrics`. Anything else on that path gets 401.
async fn serve_metrics(req: &Request, env: &Env, token: &str) -> Result<Response> {
    let given = req.headers().get("authorization")?.unwrap_or_default();
    let bearer = given.strip_prefix("Bearer ").unwrap_or_default();
    if req.method() != Method::Get || !same_secret(bearer.as_bytes(), token.as_bytes()) {
        let headers = Headers::new();
        headers.set("www-authenticate", "Bearer")?;
        return Ok(Response::error("unauthorized", 401)?.with_headers(headers));
    }
    let stub = env
        .durable_object("HUB")?
        .id_from_name(HUB_NAME)?
        .get_stub()?;
    let mut resp = stub.fetch_with_str("https://hub/metrics").await?;
    let body = resp.bytes().await?;
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    Ok(Response::from_bytes(body)?
        .with_status(resp.status_code())
        .with_headers(headers))
}

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let iso = isolate(&env);
    let token = iso.borrow().metrics_token.clone();
    if let Some(token) = token {
        if req.path() == METRICS_PATH {
            return serve_metrics(&req, &env, &token).await;
        }
    }
    let config = iso.borrow().config.clone();
    let Ok(cfg) = config else {
        return Fetch::Request(origin_request(&req, &env)?).send().await;
    };
    let now = now_ms();
    // Each header read crosses into JS: the headers are read once, and only where an actor is
    // needed. The peer is Cloudflare's CF-Connecting-IP among them.
    let mut headers = None;
    if cfg.blocks_actors() {
        let headers = headers.get_or_insert_with(|| headers_of(&req));
        if let Some(actor) = cfg.actor.resolve(peer_in(headers), headers) {
            if let Some(list) = blocklist(&env, &iso, now).await {
                if let Some(block) = list.get(now, &actor.key) {
                    if let Some(recorder) = iso.borrow_mut().recorder.as_mut() {
                        recorder.count_blocked();
                    }
                    flush_counts_later(&env, &ctx, &iso);
                    return local_reply(&block.reply(now));
                }
            }
        }
    }
    let inspector = iso.borrow().inspector.clone();
    let mut inspection: Option<Inspection> = None;
    let response = match &inspector {
        Some(inspector) if inspector.is_active() => {
            let headers = headers.get_or_insert_with(|| headers_of(&req));
            let has_body = inspector.wants_body()
                && inspector.body_max_bytes() > 0
                && !matches!(req.method(), Method::Get | Method::Head);
            // A copy of the body (the runtime tees the stream), read up to the limit.
            let copy = if has_body { Some(req.clone()?) } else { None };
            let url = req.inner().url();
            let path = request_url_parts(&url).1.to_string();
            let method = req.method().to_string();
            let inspect_with = |body: &[u8], truncated: bool, out: &mut Inspection| {
                let request = inspect::Request {
                    method: &method,
                    path: &path,
                    headers: &*headers,
                    body,
                };
                let bytes = inspector.inspect(now, &request, out);
                if let Some(recorder) = iso.borrow_mut().recorder.as_mut() {
                    recorder.count_inspected(bytes, truncated);
                }
            };
            let mut found = Inspection::default();
            if inspector.blocks() {
                // A blocking rule decides before the origin sees the request.
                let (body, truncated) = match copy {
                    Some(copy) => read_prefix(copy, inspector).await,
                    None => (Vec::new(), false),
                };
                inspect_with(&body, truncated, &mut found);
                if let Some(blocked) = inspector.block_reply(&found) {
                    if let Some(recorder) = iso.borrow_mut().recorder.as_mut() {
                        recorder.count_threat_blocked();
                    }
                    let status = blocked.status;
                    let reply = local_reply(&blocked)?;
                    let headers = Some(headers.clone());
                    record_response(&req, &env, &ctx, &iso, &cfg, status, headers, Some(&found));
                    return Ok(reply);
                }
                inspection = Some(found);
                Fetch::Request(origin_request(&req, &env)?).send().await?
            } else {
                // Alert-only rules: the origin fetch is not delayed by reading the copy.
                let origin = Fetch::Request(origin_request(&req, &env)?);
                let (response, (body, truncated)) =
                    futures_util::future::join(origin.send(), async {
                        match copy {
                            Some(copy) => read_prefix(copy, inspector).await,
                            None => (Vec::new(), false),
                        }
                    })
                    .await;
                inspect_with(&body, truncated, &mut found);
                inspection = Some(found);
                response?
            }
        }
        _ => Fetch::Request(origin_request(&req, &env)?).send().await?,
    };
    let status = response.status_code();
    if let Some(inspector) = inspector
        .as_ref()
        .filter(|i| i.wants_response(status, inspection.as_ref()))
    {
        let encoding = response.headers().get("content-encoding").ok().flatten();
        if !runtime_decodes(encoding.as_deref()) {
            if let Some(recorder) = iso.borrow_mut().recorder.as_mut() {
                recorder.count_response_encoded();
            }
        } else {
            // The runtime tees the body: the client's copy streams on while this one is read
            // up to the limit, after the response has been returned.
            let mut response = response;
            let copy = response.cloned()?;
            let exchange = Exchange::of(&req, headers);
            ctx.wait_until(inspect_and_record_response(
                now_ms(),
                copy,
                inspector.clone(),
                env.clone(),
                Rc::clone(&iso),
                Arc::clone(&cfg),
                exchange,
                status,
                inspection.unwrap_or_default(),
            ));
            return Ok(response);
        }
    }
    let findings = inspection.as_ref().is_some_and(|i| !i.is_empty());
    let counted = match iso.borrow_mut().recorder.as_mut() {
        Some(recorder) if !recorder.wants(status, findings) => {
            recorder.count_unmatched();
            false
        }
        Some(_) => true,
        None => false,
    };
    if counted {
        record_response(
            &req,
            &env,
            &ctx,
            &iso,
            &cfg,
            status,
            headers,
            inspection.as_ref(),
        );
    } else {
        flush_counts_later(&env, &ctx, &iso);
    }
    Ok(response)
}

/// Makes sure the counts waiting in this isolate's recorder reach a shard (and so `/metrics`)
/// even if no counted response follows: unless a flush is under way, one goes
/// [`COUNTS_FLUSH_MS`] from now with whatever is still waiting then (nothing, if a counted
/// response's delta took it meanwhile).
fn flush_counts_later(env: &Env, ctx: &Context, iso: &Rc<RefCell<Isolate>>) {
    if let Some(flush) = counts_flush(env, iso) {
        ctx.wait_until(flush);
    }
}

/// The flush [`flush_counts_later`] schedules, for callers already off the response path;
/// `None` when one is pending or there is no recorder.
fn counts_flush(
    env: &Env,
    iso: &Rc<RefCell<Isolate>>,
) -> Option<impl std::future::Future<Output = ()> + 'static> {
    if iso.borrow().recorder.is_none() || COUNTS_FLUSH_PENDING.with(|p| p.replace(true)) {
        return None;
    }
    let wait = test_switch(env, COUNTS_FLUSH_SWITCH)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(COUNTS_FLUSH_MS);
    let env = env.clone();
    Some(async move {
        Delay::from(std::time::Duration::from_millis(wait)).await;
        COUNTS_FLUSH_PENDING.with(|pending| pending.set(false));
        // The isolate's recorder then (a new configuration replaces it).
        let Some(iso) = ISOLATE.with(|cell| cell.borrow().current.clone()) else {
            return;
        };
        let taken = iso.borrow_mut().recorder.as_mut().and_then(|recorder| {
            let carried = LOST_RECORDS.with(Cell::take);
            recorder.count_lost(carried);
            let records = recorder.pending_records() + carried;
            recorder.take_delta().map(|delta| (delta, records))
        });
        let Some((delta, records)) = taken else {
            return;
        };
        if let Err(e) = shard::send(&env, COUNTS_ONLY_ACTOR, delta).await {
            LOST_RECORDS.with(|lost| lost.set(lost.get().saturating_add(records)));
            console_error!(
                "actorwatch: the counts of responses no shard owns did not reach a shard; {records} counted response(s) among them reported as records_dropped with this isolate's next delta: {e}"
            );
        }
    })
}

/// Whether the runtime hands a body with this `content-encoding` over decoded: the Workers
/// runtime decompresses gzip and brotli bodies of fetched responses as they are read (the
/// header stays); others are not read (`response_bodies_encoded`).
fn runtime_decodes(content_encoding: Option<&str>) -> bool {
    match content_encoding.map(str::trim) {
        Some(e) => {
            ["gzip", "br"].iter().any(|d| e.eq_ignore_ascii_case(d))
                || !Inspector::is_encoded(Some(e))
        }
        None => true,
    }
}

/// What a response is recorded with, read from its request before the request goes.
struct Exchange {
    method: String,
    url: String,
    country: Option<String>,
    headers: Vec<(String, String)>,
}

impl Exchange {
    fn of(req: &Request, headers: Option<Vec<(String, String)>>) -> Exchange {
        Exchange {
            method: req.method().to_string(),
            url: req.inner().url(),
            country: req.cf().and_then(|cf| cf.country()),
            headers: headers.unwrap_or_else(|| headers_of(req)),
        }
    }
}

/// Records a counted response (or a request with threat findings) and sends the isolate's
/// delta to the actor's shard, off the response path.
#[allow(clippy::too_many_arguments)]
fn record_response(
    req: &Request,
    env: &Env,
    ctx: &Context,
    iso: &Rc<RefCell<Isolate>>,
    cfg: &Config,
    status: u16,
    headers: Option<Vec<(String, String)>>,
    inspection: Option<&Inspection>,
) {
    let exchange = Exchange::of(req, headers);
    match record(iso, cfg, &exchange, status, inspection, now_ms()) {
        Recorded::Delta(actor, delta, records) => {
            let env2 = env.clone();
            ctx.wait_until(async move { send_delta(&env2, &actor, delta, records).await });
        }
        Recorded::Waiting => flush_counts_later(env, ctx, iso),
        Recorded::Nothing => {}
    }
}

/// What [`record`] left to do.
enum Recorded {
    /// This delta goes to the actor's shard.
    Delta(String, Vec<u8>, u64),
    /// Without an actor no shard owns the response: its count waits in this isolate's
    /// recorder for the next delta, with the unmatched and blocked ones.
    Waiting,
    Nothing,
}

/// Records the response at `now`: when the origin answered, so that a slow origin (or a slow
/// body) does not make it look old (the core takes a record more than 5 s behind the latest
/// as a clock step).
fn record(
    iso: &Rc<RefCell<Isolate>>,
    cfg: &Config,
    exchange: &Exchange,
    status: u16,
    inspection: Option<&Inspection>,
    now: u64,
) -> Recorded {
    let (host, path) = request_url_parts(&exchange.url);
    let headers = &exchange.headers;
    let peer = peer_in(headers);
    let obs = Observation {
        method: &exchange.method,
        path,
        status,
        peer,
        host: Some(host).filter(|h| !h.is_empty()),
        headers,
        country: exchange.country.as_deref(),
        threats: inspection,
    };
    let actor = cfg
        .actor
        .resolve(peer, headers)
        .map(|a| cfg.actor.display(&a.key));
    let mut iso = iso.borrow_mut();
    let Some(recorder) = iso.recorder.as_mut() else {
        return Recorded::Nothing;
    };
    recorder.record(now, &obs);
    let Some(actor) = actor else {
        return Recorded::Waiting;
    };
    let carried = LOST_RECORDS.with(Cell::take);
    recorder.count_lost(carried);
    let records = recorder.pending_records() + carried;
    match recorder.take_delta() {
        Some(delta) => Recorded::Delta(actor, delta, records),
        None => Recorded::Nothing,
    }
}

async fn send_delta(env: &Env, actor: &str, delta: Vec<u8>, records: u64) {
    if let Err(e) = shard::send(env, actor, delta).await {
        LOST_RECORDS.with(|lost| lost.set(lost.get().saturating_add(records)));
        console_error!(
            "actorwatch: {records} counted response(s) lost, reported as records_dropped with this isolate's next delta: {e}"
        );
    }
}

/// How long the teed copy of a response is read: a body that streams slowly (server-sent
/// events, long polls) is inspected with what arrived by then, well within the runtime's limit
/// on work after the response.
const RESPONSE_READ_MS: u64 = 5_000;

/// Reads the teed copy of a response up to `response_body_max_bytes` (for at most
/// [`RESPONSE_READ_MS`]), inspects it, and records the response as of `answered_ms`: all after
/// the client's copy has gone on its way.
#[allow(clippy::too_many_arguments)]
async fn inspect_and_record_response(
    answered_ms: u64,
    mut copy: Response,
    inspector: Inspector,
    env: Env,
    iso: Rc<RefCell<Isolate>>,
    cfg: Arc<Config>,
    exchange: Exchange,
    status: u16,
    mut inspection: Inspection,
) {
    use futures_util::StreamExt;
    let limit = inspector.response_body_max_bytes();
    let mut body = Vec::new();
    // Dropped at the limit (or the deadline), the stream cancels the copy: the runtime then
    // buffers none of the rest of a large body for it.
    if let Ok(mut stream) = copy.stream() {
        let read = async {
            while body.len() < limit {
                let Some(Ok(chunk)) = stream.next().await else {
                    break;
                };
                let room = limit - body.len();
                body.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(&[]));
            }
        };
        let deadline = Delay::from(std::time::Duration::from_millis(RESPONSE_READ_MS));
        futures_util::future::select(std::pin::pin!(read), deadline).await;
    }
    let bytes = inspector.inspect_response(status, &body, &mut inspection);
    let mut counted = true;
    if let Some(recorder) = iso.borrow_mut().recorder.as_mut() {
        recorder.count_response_inspected(bytes);
        if !recorder.wants(status, !inspection.is_empty()) {
            recorder.count_unmatched();
            counted = false;
        }
    }
    let recorded = if counted {
        record(
            &iso,
            &cfg,
            &exchange,
            status,
            Some(&inspection),
            answered_ms,
        )
    } else {
        Recorded::Waiting
    };
    match recorded {
        Recorded::Delta(actor, delta, records) => send_delta(&env, &actor, delta, records).await,
        Recorded::Waiting => {
            if let Some(flush) = counts_flush(&env, &iso) {
                flush.await;
            }
        }
        Recorded::Nothing => {}
    }
}

/// The bytes of a request's body (a copy) the inspector keeps, and whether it was cut
/// ([`Inspector::body_cut`]).
async fn read_prefix(mut copy: Request, inspector: &Inspector) -> (Vec<u8>, bool) {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    let Ok(mut stream) = copy.stream() else {
        return (out, false);
    };
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            break;
        };
        let (keep, cut) = inspector.body_cut(out.len() + chunk.len());
        let room = keep.saturating_sub(out.len());
        out.extend_from_slice(chunk.get(..room).unwrap_or(&[]));
        if cut {
            return (out, true);
        }
    }
    (out, false)
}
