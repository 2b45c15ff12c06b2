//! The root context of every VM: configuration, the worker's recorder and blocklist copy, the
//! per-tick hand-over of deltas, and the lease that makes one VM the aggregator.

use crate::aggregator::Aggregator;
use crate::host;
use crate::http::{inspect_request, record_response, HttpFilter, Worker};
use crate::inspection::Inspector;
use crate::shared::{
    BLOCKLIST_KEY, LEASE_KEY, OUTBOX_KEY, PROGRESS_KEY, QUEUE_NAME, QUIET_KEY, TICK,
};
use actorwatch_core::lease::{self, Lease};
use actorwatch_core::Inspection;
use actorwatch_core::{Blocklist, Config, Recorder};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

/// A worker VM may lead only after seeing traffic this long: with a singleton configured, the
/// singleton (which leads from its first tick) is never raced at start-up.
const WORKER_LEAD_AFTER_MS: u64 = 2_000;
/// Root id that marks the singleton service (`bootstrap_extensions`, `singleton: true`).
const SINGLETON_ROOT_ID: &str = "actorwatch_singleton";
/// Deltas kept while the queue refuses them; older ones are dropped and counted.
const MAX_PENDING_DELTAS: usize = 64;

pub struct Root {
    context_id: u32,
    id: u64,
    singleton: bool,
    worker: Option<Rc<RefCell<Worker>>>,
    queue_id: Option<u32>,
    pending: VecDeque<Vec<u8>>,
    blocklist_cas: Option<u32>,
    quiet_cas: Option<u32>,
    aggregator: Option<Aggregator>,
    /// This root was called as an access logger (`envoy.access_loggers.wasm`).
    access_logging: bool,
}

impl Root {
    pub fn new(context_id: u32) -> Self {
        Root {
            context_id,
            id: host::seed(context_id),
            singleton: false,
            worker: None,
            queue_id: None,
            pending: VecDeque::new(),
            blocklist_cas: None,
            quiet_cas: None,
            aggregator: None,
            access_logging: false,
        }
    }

    fn configure(&mut self) -> bool {
        let size = usize::MAX >> 1;
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        // `{"env": "NAME"}` references read the variables Envoy gives this VM
        // (`vm_config.environment_variables`), which WASI presents as the process environment.
        let env = |name: &str| std::env::var(name).ok();
        let cfg = match Config::from_json_with_env(&bytes, &env) {
            Ok(c) => Arc::new(c),
            Err(errors) => {
                host::log(LogLevel::Error, &format!("invalid configuration: {errors}"));
                return false;
            }
        };
        self.singleton =
            host::property(&["plugin_root_id"]).is_some_and(|id| id == SINGLETON_ROOT_ID);
        self.queue_id = hostcalls::register_shared_queue(QUEUE_NAME).ok();
        // Create the shared keys so that later writes can use compare-and-swap.
        for key in [
            LEASE_KEY,
            BLOCKLIST_KEY,
            QUIET_KEY,
            OUTBOX_KEY,
            PROGRESS_KEY,
        ] {
            if let Ok((None, _)) = hostcalls::get_shared_data(key) {
                let _ = hostcalls::set_shared_data(key, Some(b""), None);
            }
        }
        let seed = host::seed(self.context_id);
        self.worker = Some(Rc::new(RefCell::new(Worker {
            recorder: Recorder::new(Arc::clone(&cfg)),
            // Replaced by the aggregator's snapshots, which its budget bounds.
            blocklist: Blocklist::new(seed, cfg.max_actors, usize::MAX),
            quiet: Blocklist::new(seed, cfg.max_actors, usize::MAX),
            inspector: Inspector::new(Arc::clone(&cfg)),
            cfg,
            first_traffic_ms: 0,
            told_no_response_callbacks: false,
        })));
        // A new configuration starts a new aggregator.
        self.aggregator = None;
        let _ = hostcalls::set_tick_period(TICK);
        true
    }

    /// Hands this worker's delta to the queue; keeps it for the next tick if that fails.
    fn hand_over(&mut self, worker: &mut Worker) {
        if let Some(delta) = worker.recorder.take_delta() {
            self.pending.push_back(delta);
        }
        while self.pending.len() > MAX_PENDING_DELTAS {
            if let Some(lost) = self.pending.pop_front() {
                worker.recorder.count_lost_delta(&lost);
            }
        }
        let Some(queue) = self.queue_id else {
            return;
        };
        while let Some(delta) = self.pending.front() {
            if hostcalls::enqueue_shared_queue(queue, Some(delta)).is_err() {
                break;
            }
            self.pending.pop_front();
        }
    }

    /// Picks up the aggregator's newest blocklist and quiet list snapshots.
    fn refresh_lists(&mut self, worker: &mut Worker) {
        if let Some(list) = snapshot(BLOCKLIST_KEY, &mut self.blocklist_cas, self.id) {
            worker.blocklist = list;
        }
        if let Some(list) = snapshot(QUIET_KEY, &mut self.quiet_cas, self.id) {
            worker.quiet = list;
        }
    }

    /// Whether this VM's lease is in force.
    fn holds_lease(&self, now: u64) -> bool {
        match hostcalls::get_shared_data(LEASE_KEY) {
            Ok((Some(value), _)) => Lease::parse(&value).is_some_and(|l| l.held_by(self.id, now)),
            _ => false,
        }
    }

    /// Takes or renews the aggregator lease (see [`actorwatch_core::lease`]).
    fn lead(&mut self, now: u64, eligible: bool) -> bool {
        let Ok((value, cas)) = hostcalls::get_shared_data(LEASE_KEY) else {
            return false;
        };
        let current = value.as_deref().and_then(Lease::parse);
        let Some(lease) = lease::claim(current.as_ref(), self.id, self.singleton, eligible, now)
        else {
            return false;
        };
        hostcalls::set_shared_data(LEASE_KEY, Some(lease.encode().as_bytes()), cas).is_ok()
    }
}

/// The list published under `key` if it changed since `cas`.
fn snapshot(key: &str, cas: &mut Option<u32>, seed: u64) -> Option<Blocklist> {
    let Ok((Some(bytes), new_cas)) = hostcalls::get_shared_data(key) else {
        return None;
    };
    if new_cas == *cas || bytes.is_empty() {
        return None;
    }
    *cas = new_cas;
    match Blocklist::decode(&bytes, seed) {
        Ok(list) => Some(list),
        Err(e) => {
            host::log(LogLevel::Warn, &format!("unreadable {key} snapshot: {e}"));
            None
        }
    }
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        // Only while this VM still holds the lease: a successor may have taken over its events.
        let now = host::now_ms();
        if self.aggregator.is_some() && !self.holds_lease(now) {
            self.aggregator = None;
            host::log(LogLevel::Info, "another VM took over aggregation");
        }
        if let Some(aggregator) = &mut self.aggregator {
            aggregator.on_call_response(token_id, now, body_size);
        }
    }
}

impl RootContext for Root {
    /// As an access logger, Envoy calls the root once per logged stream, after its own access-log
    /// filters (`status_code_filter`) chose it: responses they leave out never enter the VM.
    /// Threat rules see the request's headers (the body is gone by then); nothing can be blocked.
    fn on_log(&mut self) {
        let Some(worker) = self.worker.clone() else {
            return;
        };
        let Ok(mut w) = worker.try_borrow_mut() else {
            return;
        };
        if !self.access_logging {
            self.access_logging = true;
            if w.cfg.blocks_actors() || w.inspector.blocks() {
                host::log(
                    LogLevel::Warn,
                    "running as an access logger: responses are counted and alerted on, but \
                     blocking needs the HTTP filter (envoy.filters.http.wasm)",
                );
            }
        }
        if w.first_traffic_ms == 0 {
            w.first_traffic_ms = host::now_ms();
        }
        let mut inspection = Inspection::default();
        if w.inspector.is_active() {
            inspect_request(&mut w, b"", false, &mut inspection);
        }
        record_response(&mut w, Some(&inspection), None);
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        self.configure()
    }

    fn on_tick(&mut self) {
        let Some(worker) = self.worker.clone() else {
            return;
        };
        let now = host::now_ms();
        let eligible = {
            let Ok(mut w) = worker.try_borrow_mut() else {
                return;
            };
            self.hand_over(&mut w);
            self.refresh_lists(&mut w);
            self.singleton
                || (w.first_traffic_ms != 0 && now >= w.first_traffic_ms + WORKER_LEAD_AFTER_MS)
        };
        if self.lead(now, eligible) {
            if self.aggregator.is_none() {
                let cfg = Arc::clone(&worker.borrow().cfg);
                self.aggregator = Some(Aggregator::new(
                    cfg,
                    host::seed(self.context_id),
                    self.singleton,
                ));
            }
        } else if self.aggregator.take().is_some() {
            host::log(LogLevel::Info, "another VM took over aggregation");
        }
        if let (Some(aggregator), Some(queue)) = (&mut self.aggregator, self.queue_id) {
            aggregator.tick(now, queue);
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let worker = self.worker.clone()?;
        Some(Box::new(HttpFilter::new(worker)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
