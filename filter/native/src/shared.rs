//! What one filter configuration shares across Envoy's threads: a slot per worker thread (its
//! recorder, its copy of the lists, its inspector), locked only by its own worker and, once per
//! tick, by the main thread; and the one aggregator, on the main thread.

use crate::aggregator::Aggregator;
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
    pub aggregator: Mutex<Aggregator>,
}

/// A lock whose holder panicked is still usable: the barrier already failed that hook open.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// `workers`: Envoy's worker threads, each with its own slot.
    pub fn new(cfg: Arc<Config>, workers: usize, seed: u64, aggregator: Aggregator) -> Shared {
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

    /// Every slot, one at a time.
    pub fn each_worker(&self, mut f: impl FnMut(&mut Worker)) {
        for slot in self.workers.iter().chain(std::iter::once(&self.spare)) {
            f(&mut lock(slot));
        }
    }
}
