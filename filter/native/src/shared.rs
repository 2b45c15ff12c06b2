//! What one filter configuration shares across Envoy's threads: a slot per worker thread (its
//! recorder, its copy of the lists, its inspector), locked only by its own worker and, once per
//! tick, by the main thread; and the one aggregator, on the main thread.

use crate::aggregator::{Aggregator, Level, Outbound};
use actorwatch_core::{Blocklist, Config, Inspector, Recorder};
use std::sync::{Arc, Mutex, MutexGuard};

/// Every tick the main thread takes the workers' records, merges them and delivers.
pub const TICK_MS: u64 = 100;

/// One worker thread's state. Only that worker's streams and the main thread's tick lock it, so
/// the lock is uncontended on the request path.
pub struct Worker {
    pub cfg: Arc<Config>,
    pub recorder: Recorder,
    pub blocklist: Arc<Blocklist>,
    /// Actors whose counted responses are recorded with time, status and actor alone.
    pub quiet: Arc<Blocklist>,
    pub inspector: Inspector,
}

pub struct Shared {
    pub cfg: Arc<Config>,
    workers: Vec<Mutex<Worker>>,
    /// For a stream on a thread Envoy did not count among its workers.
    spare: Mutex<Worker>,
    /// Used on the main thread only (ticks, callout answers, the configuration's end).
    aggregator: Mutex<Aggregator>,
}

/// A lock whose holder panicked is still usable: the barrier already failed that hook open.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// A configuration's state from the JSON Envoy passed (`{"env": "NAME"}` references read
    /// from the process's environment): `workers` slots (Envoy's worker threads) and the
    /// aggregator, whose metrics `out` defines. `None` if the configuration is invalid, with
    /// every error in the log.
    pub fn start(json: &[u8], workers: usize, seed: u64, out: &impl Outbound) -> Option<Shared> {
        let env = |name: &str| std::env::var(name).ok();
        let cfg = match Config::from_json_with_env(json, &env) {
            Ok(c) => Arc::new(c),
            Err(errors) => {
                out.log(Level::Error, &format!("invalid configuration: {errors}"));
                return None;
            }
        };
        let aggregator = Aggregator::new(Arc::clone(&cfg), seed, out);
        Some(Shared::new(cfg, workers, seed, aggregator))
    }

    fn new(cfg: Arc<Config>, workers: usize, seed: u64, aggregator: Aggregator) -> Shared {
        let slot = || {
            Mutex::new(Worker {
                recorder: Recorder::new(Arc::clone(&cfg)),
                // Replaced by the aggregator's lists, which its budget bounds.
                blocklist: Arc::new(Blocklist::new(seed, cfg.max_actors, usize::MAX)),
                quiet: Arc::new(Blocklist::new(seed, cfg.max_actors, usize::MAX)),
                inspector: Inspector::new(Arc::clone(&cfg)),
                cfg: Arc::clone(&cfg),
            })
        };
        Shared {
            workers: (0..workers).map(|_| slot()).collect(),
            spare: slot(),
            aggregator: Mutex::new(aggregator),
            cfg,
        }
    }

    /// The slot of worker `index` (the spare slot for an index out of range).
    pub fn worker(&self, index: usize) -> MutexGuard<'_, Worker> {
        lock(self.workers.get(index).unwrap_or(&self.spare))
    }

    /// One tick on the main thread: the slots' records merged, deliveries, lists, metrics.
    pub fn tick(&self, now_ms: u64, out: &impl Outbound) {
        lock(&self.aggregator).tick(now_ms, self, out);
    }

    /// A callout's answer, on the main thread (`status` 0: none).
    pub fn answered(
        &self,
        now_ms: u64,
        callout: u64,
        status: u16,
        body: &[u8],
        out: &impl Outbound,
    ) {
        lock(&self.aggregator).answered(now_ms, callout, status, body, self, out);
    }

    /// The configuration goes: its events are left for the next one.
    pub fn leave(&self) {
        lock(&self.aggregator).leave();
    }

    /// Every slot, one at a time.
    pub fn each_worker(&self, mut f: impl FnMut(&mut Worker)) {
        for slot in self.workers.iter().chain(std::iter::once(&self.spare)) {
            f(&mut lock(slot));
        }
    }
}
