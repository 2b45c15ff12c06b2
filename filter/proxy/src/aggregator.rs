//! The one engine per Envoy: merges worker deltas, sends webhooks, publishes the blocklist and
//! the metrics, and keeps its events where a successor takes them over (shared data lives per
//! `vm_id` and survives a VM reload).

use crate::host;
use crate::shared::{BLOCKLIST_KEY, OUTBOX_KEY, PROGRESS_KEY, TICK};
use actorwatch_core::{Config, Engine, MetricKind, Metrics};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{LogLevel, MapType, MetricType};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Deltas merged per tick at most, so one tick never runs long.
const MAX_DELTAS_PER_TICK: usize = 4096;

pub struct Aggregator {
    engine: Engine,
    cluster: String,
    /// Callout token -> engine delivery token.
    calls: HashMap<u32, u64>,
    published_generation: Option<u64>,
    published: Metrics,
    metric_ids: Vec<Option<u32>>,
    /// The outbox version last written to shared data.
    written_version: Option<u64>,
    /// The held-records count last written to shared data.
    written_held: Option<usize>,
}

impl Aggregator {
    pub fn new(cfg: Arc<Config>, seed: u64, singleton: bool) -> Self {
        let cluster = cfg.webhook.cluster.clone();
        let mut engine = Engine::with_shared_config(cfg, seed);
        // A worker hands over its records on its next tick: hold merged records that long (and
        // one tick more) so that records of all workers are counted in time order.
        engine.set_reorder_window_ms(3 * TICK.as_millis() as u64);
        let metric_ids = Metrics::default()
            .fields()
            .iter()
            .map(|field| {
                let kind = match field.kind {
                    MetricKind::Gauge => MetricType::Gauge,
                    MetricKind::Counter => MetricType::Counter,
                };
                hostcalls::define_metric(kind, &format!("actorwatch.{}", field.name)).ok()
            })
            .collect();
        let role = if singleton {
            "the singleton service"
        } else {
            "a worker VM"
        };
        let mut aggregator = Aggregator {
            engine,
            cluster,
            calls: HashMap::new(),
            published_generation: None,
            published: Metrics::default(),
            metric_ids,
            written_version: None,
            written_held: None,
        };
        let taken = aggregator.take_over(host::now_ms());
        host::log(
            LogLevel::Info,
            &format!("aggregating in {role}; took over {taken} events"),
        );
        aggregator
    }

    /// Resumes what a predecessor left in shared data: its events (batches under their delivery
    /// ids), and the count of merged records it held uncounted, which are lost.
    fn take_over(&mut self, now: u64) -> usize {
        let mut taken = 0;
        if let Ok((Some(bytes), _)) = hostcalls::get_shared_data(OUTBOX_KEY) {
            if !bytes.is_empty() {
                match self.engine.import_outbox(now, &bytes) {
                    Ok(n) => taken = n,
                    Err(e) => host::log(
                        LogLevel::Warn,
                        &format!("unreadable events left by the previous aggregator: {e}"),
                    ),
                }
            }
        }
        if let Ok((Some(bytes), _)) = hostcalls::get_shared_data(PROGRESS_KEY) {
            let held = std::str::from_utf8(&bytes)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            self.engine.count_records_lost(held);
        }
        self.persist();
        taken
    }

    /// Writes the events held and the count of records held uncounted to shared data, when
    /// they changed: a successor takes over from there. Called at the end of every callback
    /// that can change them, before any POST it started can be answered.
    fn persist(&mut self) {
        let version = self.engine.outbox_version();
        if self.written_version != Some(version) {
            let bytes = self.engine.export_outbox();
            if hostcalls::set_shared_data(OUTBOX_KEY, Some(&bytes), None).is_ok() {
                self.written_version = Some(version);
            }
        }
        let held = self.engine.records_held();
        if self.written_held != Some(held) {
            let text = held.to_string();
            if hostcalls::set_shared_data(PROGRESS_KEY, Some(text.as_bytes()), None).is_ok() {
                self.written_held = Some(held);
            }
        }
    }

    pub fn tick(&mut self, now: u64, queue: u32) {
        for _ in 0..MAX_DELTAS_PER_TICK {
            match hostcalls::dequeue_shared_queue(queue) {
                Ok(Some(delta)) => {
                    if let Err(e) = self.engine.apply_delta(now, &delta) {
                        host::log(LogLevel::Warn, &format!("rejected a worker delta: {e}"));
                    }
                }
                _ => break,
            }
        }
        self.engine.advance(now);
        self.send(now);
        self.persist();
        self.publish_blocklist(now);
        self.publish_metrics();
    }

    fn send(&mut self, now: u64) {
        while let Some(d) = self.engine.poll_delivery(now) {
            let mut headers: Vec<(&str, &str)> = vec![
                (":method", "POST"),
                (":path", &d.path),
                (":authority", &d.authority),
            ];
            headers.extend(d.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let result = hostcalls::dispatch_http_call(
                &self.cluster,
                headers,
                Some(&d.body),
                vec![],
                Duration::from_millis(d.timeout_ms),
            );
            match result {
                Ok(callout) => {
                    self.calls.insert(callout, d.token);
                }
                Err(status) => {
                    host::log(
                        LogLevel::Warn,
                        &format!(
                            "cannot call cluster {:?} ({status:?}); will retry",
                            self.cluster
                        ),
                    );
                    self.engine.failed(d.token, now);
                }
            }
        }
    }

    pub fn on_call_response(&mut self, callout: u32, now: u64) {
        let Some(token) = self.calls.remove(&callout) else {
            return;
        };
        let status = host::header(MapType::HttpCallResponseHeaders, ":status")
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        self.engine.delivery_status(token, status, now);
        // A freed slot may let the next POST go now rather than on the next tick.
        self.send(now);
        self.persist();
        self.publish_metrics();
    }

    fn publish_blocklist(&mut self, now: u64) {
        let generation = self.engine.blocklist().generation();
        if self.published_generation == Some(generation) {
            return;
        }
        let snapshot = self.engine.blocklist().encode(now);
        if hostcalls::set_shared_data(BLOCKLIST_KEY, Some(&snapshot), None).is_ok() {
            self.published_generation = Some(generation);
        }
    }

    fn publish_metrics(&mut self) {
        let now = self.engine.metrics();
        let before = self.published.fields();
        for ((field, old), id) in now
            .fields()
            .iter()
            .zip(before.iter())
            .zip(self.metric_ids.iter())
        {
            let (Some(id), value, old) = (id, field.value, old.value) else {
                continue;
            };
            // Only what changed: a tick with nothing new costs no host calls here.
            match field.kind {
                MetricKind::Gauge if value != old => {
                    let _ = hostcalls::record_metric(*id, value);
                }
                MetricKind::Counter if value > old => {
                    let _ = hostcalls::increment_metric(*id, (value - old) as i64);
                }
                _ => {}
            }
        }
        self.published = now;
    }
}
