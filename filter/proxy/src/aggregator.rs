//! The one engine per Envoy: merges worker deltas, sends webhooks, publishes the blocklist and
//! the metrics, and keeps its events where a successor takes them over (shared data lives per
//! `vm_id` and survives a VM reload).

use crate::host;
#[cfg(feature = "fleet")]
use crate::shared::FLEET_KEY;
use crate::shared::{BLOCKLIST_KEY, OUTBOX_KEY, PROGRESS_KEY, QUIET_KEY, TICK};
use actorwatch_core::{Change, Config, Engine, Exporter, MetricKind, Metrics};
use proxy_wasm::hostcalls;
#[cfg(feature = "fleet")]
use proxy_wasm::types::BufferType;
use proxy_wasm::types::{LogLevel, MapType, MetricType};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Deltas merged per tick at most, so one tick never runs long.
const MAX_DELTAS_PER_TICK: usize = 4096;

pub struct Aggregator {
    engine: Engine,
    /// Callout token -> engine delivery token.
    calls: HashMap<u32, u64>,
    /// Fleet mode: the callout of the batch in flight and its sequence number.
    #[cfg(feature = "fleet")]
    fleet_call: Option<(u32, u64)>,
    /// Fleet mode: the last fallback state logged.
    #[cfg(feature = "fleet")]
    fleet_fallback_logged: bool,
    published_generation: Option<u64>,
    published_quiet_generation: Option<u64>,
    /// The exported series (`Exporter::series`) and their Envoy ids.
    exporter: Exporter,
    metric_ids: Vec<Option<u32>>,
    /// The outbox version last written to shared data.
    written_version: Option<u64>,
    /// Fleet mode: the claims' version last written to shared data.
    #[cfg(feature = "fleet")]
    written_fleet_version: Option<u64>,
    /// The held-records count last written to shared data.
    written_held: Option<usize>,
}

impl Aggregator {
    pub fn new(cfg: Arc<Config>, seed: u64, singleton: bool) -> Self {
        let fleet = cfg.fleet.is_redis();
        let exporter = Exporter::new(&cfg);
        let mut engine = Engine::with_shared_config(cfg, seed);
        // A new instance id per aggregator run: Redis tells its batches from every other's.
        #[cfg(feature = "fleet")]
        engine.enable_fleet(seed.rotate_left(17) ^ 0x6a09_e667_f3bc_c908);
        // A worker hands over its records on its next tick: hold merged records that long (and
        // one tick more) so that records of all workers are counted in time order.
        engine.set_reorder_window_ms(3 * TICK.as_millis() as u64);
        let metric_ids = exporter
            .series()
            .iter()
            .map(|series| {
                let kind = match series.kind {
                    MetricKind::Gauge => MetricType::Gauge,
                    MetricKind::Counter => MetricType::Counter,
                };
                // `stats_tags` in the shipped configurations make labels of `.rule.<rule>`,
                // `.sink.<sink>` and `.filter_id.<id>`.
                let name = format!("actorwatch.{}", series.exported.flat_name());
                hostcalls::define_metric(kind, &name).ok()
            })
            .collect();
        let role = if singleton {
            "the singleton service"
        } else {
            "a worker VM"
        };
        let mut aggregator = Aggregator {
            engine,
            calls: HashMap::new(),
            #[cfg(feature = "fleet")]
            fleet_call: None,
            #[cfg(feature = "fleet")]
            fleet_fallback_logged: false,
            published_generation: None,
            published_quiet_generation: None,
            exporter,
            metric_ids,
            written_version: None,
            #[cfg(feature = "fleet")]
            written_fleet_version: None,
            written_held: None,
        };
        let taken = aggregator.take_over(host::now_ms());
        let counting = if fleet {
            "counting in Redis (fleet mode)"
        } else {
            "counting here"
        };
        host::log(
            LogLevel::Info,
            &format!("aggregating in {role}, {counting}; took over {taken} events"),
        );
        aggregator
    }

    /// Resumes what a predecessor left in shared data: its events (batches under their delivery
    /// ids), in fleet mode its unacknowledged claims and known cooldowns, and the count of
    /// merged records it held uncounted, which are lost.
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
        #[cfg(feature = "fleet")]
        if let Ok((Some(bytes), _)) = hostcalls::get_shared_data(FLEET_KEY) {
            if !bytes.is_empty() {
                if let Err(e) = self.engine.import_fleet(now, &bytes) {
                    host::log(
                        LogLevel::Warn,
                        &format!("unreadable fleet claims left by the previous aggregator: {e}"),
                    );
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

    /// Writes the events held, in fleet mode the claims and known cooldowns, and the count of
    /// records held uncounted to shared data, when they changed: a successor takes over from
    /// there. Called at the end of every callback
    /// that can change them, before any POST it started can be answered.
    fn persist(&mut self) {
        let version = self.engine.outbox_version();
        if self.written_version != Some(version) {
            let bytes = self.engine.export_outbox();
            if hostcalls::set_shared_data(OUTBOX_KEY, Some(&bytes), None).is_ok() {
                self.written_version = Some(version);
            }
        }
        #[cfg(feature = "fleet")]
        {
            let fleet_version = self.engine.fleet_handover_version();
            if fleet_version.is_some() && self.written_fleet_version != fleet_version {
                let bytes = self.engine.export_fleet().unwrap_or_default();
                if hostcalls::set_shared_data(FLEET_KEY, Some(&bytes), None).is_ok() {
                    self.written_fleet_version = fleet_version;
                }
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
        #[cfg(feature = "fleet")]
        self.send_batch(now);
        self.send(now);
        self.persist();
        self.publish_lists(now);
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
                &d.cluster,
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
                            "sink {}: cannot call cluster {:?} ({status:?}); will retry",
                            d.sink, d.cluster
                        ),
                    );
                    self.engine.failed(d.token, now);
                }
            }
        }
    }

    /// Fleet mode: the next batch to the front, when one is due and none is in flight.
    #[cfg(feature = "fleet")]
    fn send_batch(&mut self, now: u64) {
        if self.fleet_call.is_some() {
            return;
        }
        let Some(call) = self.engine.poll_fleet(now) else {
            return;
        };
        let mut headers = vec![
            (":method", "POST"),
            (":path", call.path.as_str()),
            (":authority", call.authority.as_str()),
        ];
        headers.extend(call.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        match hostcalls::dispatch_http_call(
            &call.cluster,
            headers,
            Some(&call.body),
            vec![],
            Duration::from_millis(call.timeout_ms),
        ) {
            Ok(callout) => self.fleet_call = Some((callout, call.seq)),
            // Counted as a failed batch: the proxy falls back and retries on the next flush.
            Err(_) => self.engine.fleet_answered(now, call.seq, 0, &[]),
        }
        self.log_fleet_state();
    }

    #[cfg(feature = "fleet")]
    fn log_fleet_state(&mut self) {
        let fallback = self.engine.fleet_in_fallback();
        if fallback != self.fleet_fallback_logged {
            self.fleet_fallback_logged = fallback;
            let cluster = &self.engine.config().fleet.cluster;
            if fallback {
                host::log(
                    LogLevel::Warn,
                    &format!("fleet: no answer from cluster {cluster:?}; counting and delivering here until it answers"),
                );
            } else {
                host::log(
                    LogLevel::Info,
                    &format!("fleet: cluster {cluster:?} answers; counting in Redis again"),
                );
            }
        }
    }

    pub fn on_call_response(&mut self, callout: u32, now: u64, body_size: usize) {
        // Only a fleet batch's answer is read.
        #[cfg(not(feature = "fleet"))]
        let _ = body_size;
        #[cfg(feature = "fleet")]
        if let Some((pending, seq)) = self.fleet_call {
            if pending == callout {
                self.fleet_call = None;
                let status = host::header(MapType::HttpCallResponseHeaders, ":status")
                    .and_then(|s| s.parse::<u16>().ok())
                    .unwrap_or(0);
                let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                self.engine.fleet_answered(now, seq, status, &body);
                self.log_fleet_state();
                self.send(now);
                self.persist();
                self.publish_lists(now);
                self.publish_metrics();
                return;
            }
        }
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

    /// Publishes the blocklist and the quiet list, each only when it changed.
    fn publish_lists(&mut self, now: u64) {
        let lists = [
            (
                self.engine.blocklist(),
                BLOCKLIST_KEY,
                &mut self.published_generation,
            ),
            (
                self.engine.quiet_list(),
                QUIET_KEY,
                &mut self.published_quiet_generation,
            ),
        ];
        for (list, key, published) in lists {
            let generation = list.generation();
            if *published == Some(generation) {
                continue;
            }
            let snapshot = list.encode(now);
            if hostcalls::set_shared_data(key, Some(&snapshot), None).is_ok() {
                *published = Some(generation);
            }
        }
    }

    fn publish_metrics(&mut self) {
        let totals = self.engine.metrics();
        let sinks: Vec<Metrics> = self.engine.sink_metrics().map(|(_, m)| m).collect();
        let ids = &self.metric_ids;
        // Only what moved: a tick with nothing new costs no host calls here.
        let filters = self.engine.filter_events();
        self.exporter
            .publish(&totals, &sinks, filters, |i, change| {
                let Some(Some(id)) = ids.get(i) else {
                    return;
                };
                let _ = match change {
                    Change::Set(value) => hostcalls::record_metric(*id, value),
                    Change::Add(by) => hostcalls::increment_metric(*id, by as i64),
                };
            });
    }
}
