//! The bootstrap extension (one per Envoy, on its main thread) and the access logger it serves.
//! The access logger has no timer or callout of its own in Envoy's ABI, so its records go to the
//! extension's worker slots and the extension aggregates and delivers them, as the Wasm filter's
//! singleton does for its access logger.

use crate::abi::{ServiceHandle, Timer};
use crate::aggregator::Level;
use crate::module::{log, now_ms, seed};
use crate::shared::{lock, Shared, TICK_MS};
use actorwatch_core::Inspector;
use std::sync::{Arc, Mutex};

/// The running extension, for the access loggers that Envoy configures after it.
static SERVICE: Mutex<Option<Arc<Service>>> = Mutex::new(None);

pub struct Service {
    shared: Shared,
    handle: ServiceHandle,
    timer: Mutex<Option<Timer>>,
}

impl Service {
    /// The extension's configuration (the same JSON as the filter's); `None` if invalid.
    pub fn start(config: &[u8], handle: ServiceHandle, workers: usize) -> Option<Arc<Service>> {
        let service = Arc::new(Service {
            shared: Shared::start(config, workers, seed(), handle.calls())?,
            handle,
            timer: Mutex::new(handle.timer()),
        });
        if let Some(timer) = &*lock(&service.timer) {
            timer.arm(TICK_MS);
        }
        log(
            Level::Info,
            "actorwatch native bootstrap extension: aggregating for its access loggers on the main thread",
        );
        handle.init_complete();
        *lock(&SERVICE) = Some(Arc::clone(&service));
        Some(service)
    }

    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The timer fired: one tick, then the timer again.
    pub fn fired(&self) {
        self.shared.tick(now_ms(), self.handle.calls());
        if let Some(timer) = &*lock(&self.timer) {
            timer.arm(TICK_MS);
        }
    }

    pub fn answered(&self, callout: u64, status: u16, body: &[u8]) {
        self.shared
            .answered(now_ms(), callout, status, body, self.handle.calls());
    }

    /// Envoy shuts down: no more ticks.
    pub fn close(&self) {
        lock(&self.timer).take();
        self.shared.leave();
        let mut running = lock(&SERVICE);
        if running.as_ref().is_some_and(|s| std::ptr::eq(&**s, self)) {
            *running = None;
        }
    }
}

/// The extension access loggers record into, if Envoy runs one.
pub fn running() -> Option<Arc<Service>> {
    lock(&SERVICE).clone()
}

/// An access logger's configuration: the extension it records into.
pub struct Logger {
    pub service: Arc<Service>,
}

impl Logger {
    /// `config`: empty, or the extension's own configuration (it is the one that counts).
    pub fn new(config: &[u8], log: impl Fn(Level, &str)) -> Option<Logger> {
        let Some(service) = running() else {
            log(
                Level::Error,
                "the actorwatch access logger records into the actorwatch bootstrap extension \
                 (bootstrap_extensions, envoy.bootstrap.dynamic_modules), which this Envoy does not run",
            );
            return None;
        };
        let cfg = &service.shared.cfg;
        if !config.is_empty() && !config.iter().all(u8::is_ascii_whitespace) {
            log(
                Level::Warn,
                "the access logger's own configuration is ignored: it counts with the bootstrap \
                 extension's",
            );
        }
        if cfg.blocks_actors() || Inspector::new(Arc::clone(cfg)).blocks() {
            log(
                Level::Warn,
                "running as an access logger: responses are counted and alerted on, but \
                 blocking needs the HTTP filter",
            );
        }
        Some(Logger { service })
    }
}
