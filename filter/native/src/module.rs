//! One filter configuration in Envoy: its shared state, its aggregator, and the ticker that puts
//! a tick on Envoy's main thread every [`TICK_MS`] (Envoy's scheduler may be committed from any
//! thread; the tick itself runs on the main thread, where callouts and metrics are made).

use crate::abi::{self, ConfigHandle, EnvoyConfig, Scheduler};
use crate::aggregator::{Level, Outbound};
use crate::shared::{lock, Shared, TICK_MS};
use actorwatch_core::MetricKind;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Unpredictable seed for hash keys and ids: the system's randomness, mixed with the time in
/// case it is unavailable.
pub fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    let random = getrandom::fill(&mut bytes).map_or(0, |_| u64::from_le_bytes(bytes));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    random ^ nanos.rotate_left(17)
}

pub struct Module {
    shared: Shared,
    handle: ConfigHandle,
    ticker: Option<Ticker>,
}

impl Module {
    /// The configuration from Envoy's `filter_config`; `None` (Envoy refuses it) if invalid,
    /// with the reason in Envoy's log.
    pub fn new(config: &[u8], handle: ConfigHandle) -> Option<Module> {
        let shared = Shared::start(config, abi::concurrency(), seed(), handle.calls())?;
        let counting = if shared.cfg.fleet.is_redis() {
            "counting in Redis (fleet mode)"
        } else {
            "counting here"
        };
        log(
            Level::Info,
            &format!(
                "actorwatch native module configured, aggregating on the main thread, {counting}"
            ),
        );
        let ticker = handle.scheduler().map(Ticker::start);
        if ticker.is_none() {
            log(
                Level::Error,
                "Envoy gave no scheduler: nothing will be aggregated or delivered",
            );
        }
        Some(Module {
            shared,
            handle,
            ticker,
        })
    }

    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// On the main thread.
    pub fn tick(&self) {
        self.shared.tick(now_ms(), self.handle.calls());
    }

    /// A callout's answer, on the main thread.
    pub fn answered(&self, callout: u64, status: u16, body: &[u8]) {
        self.shared
            .answered(now_ms(), callout, status, body, self.handle.calls());
    }

    /// Envoy drops the configuration: stop ticking, leave the events to the next one.
    pub fn close(mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.stop();
        }
        self.shared.leave();
    }
}

impl Outbound for EnvoyConfig {
    fn callout(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout_ms: u64,
    ) -> Result<u64, u32> {
        EnvoyConfig::callout(self, cluster, headers, body, timeout_ms)
    }

    fn define_metric(&self, name: &str, kind: MetricKind) -> Option<usize> {
        EnvoyConfig::define_metric(self, name, kind == MetricKind::Gauge, &[])
    }

    fn increment_counter(&self, id: usize, by: u64) {
        EnvoyConfig::increment_counter(self, id, &[], by)
    }

    fn define_labeled(&self, name: &str, kind: MetricKind, label: &str) -> Option<usize> {
        EnvoyConfig::define_metric(self, name, kind == MetricKind::Gauge, &[label])
    }

    fn increment_labeled_counter(&self, id: usize, label_value: &str, by: u64) {
        EnvoyConfig::increment_counter(self, id, &[label_value], by)
    }

    fn set_gauge(&self, id: usize, value: u64) {
        EnvoyConfig::set_gauge(self, id, &[], value)
    }

    fn set_labeled_gauge(&self, id: usize, label_value: &str, value: u64) {
        EnvoyConfig::set_gauge(self, id, &[label_value], value)
    }

    fn log(&self, level: Level, message: &str) {
        log(level, message);
    }
}

/// Writes to Envoy's log (component `dynamic_modules`).
pub fn log(level: Level, message: &str) {
    let level = match level {
        Level::Info => abi::LOG_INFO,
        Level::Warn => abi::LOG_WARN,
        Level::Error => abi::LOG_ERROR,
    };
    abi::log(level, message);
}

/// A thread that commits a tick to Envoy's main thread every [`TICK_MS`] until stopped.
struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    /// The thread hands the scheduler back when it stops, so that it is deleted on the thread
    /// that stops it (Envoy's main thread), after its last commit.
    thread: Option<JoinHandle<Scheduler>>,
}

impl Ticker {
    fn start(scheduler: Scheduler) -> Ticker {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("actorwatch-tick".into())
            .spawn(move || {
                let (stopped, wake) = &*flag;
                let mut done = lock(stopped);
                while !*done {
                    let (guard, timeout) = wake
                        .wait_timeout(done, Duration::from_millis(TICK_MS))
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    done = guard;
                    if !*done && timeout.timed_out() {
                        scheduler.commit(0);
                    }
                }
                scheduler
            })
            .ok();
        Ticker { stop, thread }
    }

    fn stop(mut self) {
        let (stopped, wake) = &*self.stop;
        *lock(stopped) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            drop(thread.join());
        }
    }
}
