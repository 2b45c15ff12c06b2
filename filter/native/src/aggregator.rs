//! The one engine per filter configuration, on Envoy's main thread: every tick it takes each
//! worker's records, merges them, delivers webhooks and fleet batches through Envoy's HTTP
//! callouts, hands the lists back to every worker and publishes the metrics. Its events outlive
//! a configuration change: a replaced configuration leaves them for its successor.

use crate::barrier;
use crate::shared::{lock, Shared, TICK_MS};
use actorwatch_core::{Change, Config, Engine, Exporter, MetricKind, Metrics};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the aggregator does to Envoy: callouts, metrics and logs (Envoy's filter configuration
/// implements it; the fuzz target fakes it).
pub trait Outbound {
    /// Starts a call to `cluster`; its answer comes to [`Aggregator::answered`] with the id.
    fn callout(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout_ms: u64,
    ) -> Result<u64, u32>;
    /// Defines a counter or gauge; its id, or `None` if Envoy refused.
    fn define_metric(&self, name: &str, kind: MetricKind) -> Option<usize>;
    fn increment_counter(&self, id: usize, by: u64);
    /// Defines a counter or gauge with one label; its id, or `None` if Envoy refused.
    fn define_labeled(&self, name: &str, kind: MetricKind, label: &str) -> Option<usize>;
    fn increment_labeled_counter(&self, id: usize, label_value: &str, by: u64);
    fn set_labeled_gauge(&self, id: usize, label_value: &str, value: u64);
    fn set_gauge(&self, id: usize, value: u64);
    fn log(&self, level: Level, message: &str);
}

/// A series' Envoy id, `None` where Envoy refused to define it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Metric {
    Plain(Option<usize>),
    /// A labeled metric and this series' value of its label.
    Labeled(Option<usize>, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// Events (and fleet claims) a replaced configuration's aggregator left for its successor.
static LEFT_BEHIND: Mutex<Vec<LeftBehind>> = Mutex::new(Vec::new());

struct LeftBehind {
    outbox: Vec<u8>,
    fleet: Option<Vec<u8>>,
    /// Records merged but not yet counted when it went: lost, and counted as such.
    records_held: u64,
}

pub struct Aggregator {
    engine: Engine,
    /// Callout id -> the engine's delivery token.
    calls: HashMap<u64, u64>,
    /// Fleet mode: the callout of the batch in flight and its sequence number.
    fleet_call: Option<(u64, u64)>,
    fleet_fallback_logged: bool,
    published_generation: Option<u64>,
    published_quiet_generation: Option<u64>,
    /// The exported series, and per series where Envoy keeps it.
    exporter: Exporter,
    metric_ids: Vec<Metric>,
    panics_id: Option<usize>,
    panics_published: u64,
}

impl Aggregator {
    /// Defines the metrics (they can only be defined while Envoy loads the configuration).
    pub fn new(cfg: Arc<Config>, seed: u64, out: &impl Outbound) -> Aggregator {
        let mut engine = Engine::with_shared_config(cfg, seed);
        // A new instance id per aggregator: Redis tells its batches from every other's.
        engine.enable_fleet(seed.rotate_left(17) ^ 0x6a09_e667_f3bc_c908);
        // Workers' records are taken once per tick: hold merged records that long (and one
        // tick more) so that records of all workers are counted in time order.
        engine.set_reorder_window_ms(2 * TICK_MS);
        // Prometheus's conventions (`Field::exported`): a labeled metric (per rule, per sink,
        // per filter) is one family, defined once, with its label's values.
        let exporter = Exporter::new(engine.config());
        let mut families: Vec<(String, Option<usize>)> = Vec::new();
        let metric_ids = exporter
            .series()
            .iter()
            .map(|series| {
                let exported = &series.exported;
                let Some((label, value)) = &exported.label else {
                    return Metric::Plain(out.define_metric(&exported.family, series.kind));
                };
                let id = match families.iter().find(|(f, _)| *f == exported.family) {
                    Some((_, id)) => *id,
                    None => {
                        let id = out.define_labeled(&exported.family, series.kind, label);
                        families.push((exported.family.clone(), id));
                        id
                    }
                };
                // Every series from the start, at 0, as unlabeled ones are: an alert on an
                // increase sees the first one.
                if let Some(id) = id {
                    match series.kind {
                        MetricKind::Counter => out.increment_labeled_counter(id, value, 0),
                        MetricKind::Gauge => out.set_labeled_gauge(id, value, 0),
                    }
                }
                Metric::Labeled(id, value.clone())
            })
            .collect();
        Aggregator {
            engine,
            calls: HashMap::new(),
            fleet_call: None,
            fleet_fallback_logged: false,
            published_generation: None,
            published_quiet_generation: None,
            exporter,
            metric_ids,
            panics_id: out.define_metric("native_panics_total", MetricKind::Counter),
            panics_published: 0,
        }
    }

    /// One tick on the main thread.
    pub fn tick(&mut self, now: u64, shared: &Shared, out: &impl Outbound) {
        self.take_over(now, out);
        let mut deltas = Vec::new();
        shared.each_worker(|w| deltas.extend(w.recorder.take_delta()));
        for delta in deltas {
            if let Err(e) = self.engine.apply_delta(now, &delta) {
                out.log(Level::Warn, &format!("rejected a worker delta: {e}"));
            }
        }
        self.engine.advance(now);
        self.send_batch(now, out);
        self.send(now, out);
        self.publish_lists(now, shared);
        self.publish_metrics(out);
    }

    /// Resumes what a replaced configuration's aggregator left: its events under their
    /// delivery ids, its fleet claims, and the count of records it held uncounted.
    fn take_over(&mut self, now: u64, out: &impl Outbound) {
        let left: Vec<LeftBehind> = std::mem::take(&mut *lock(&LEFT_BEHIND));
        for prior in left {
            match self.engine.import_outbox(now, &prior.outbox) {
                Ok(n) if n > 0 => out.log(
                    Level::Info,
                    &format!("took over {n} events of the replaced configuration"),
                ),
                Ok(_) => {}
                Err(e) => out.log(
                    Level::Warn,
                    &format!("unreadable events of the replaced configuration: {e}"),
                ),
            }
            if let Some(fleet) = prior.fleet {
                if let Err(e) = self.engine.import_fleet(now, &fleet) {
                    out.log(
                        Level::Warn,
                        &format!("unreadable fleet claims of the replaced configuration: {e}"),
                    );
                }
            }
            self.engine.count_records_lost(prior.records_held);
        }
    }

    /// The configuration is going away: its events go to the next one.
    pub fn leave(&mut self) {
        let left = LeftBehind {
            outbox: self.engine.export_outbox(),
            fleet: self.engine.export_fleet(),
            records_held: self.engine.records_held() as u64,
        };
        lock(&LEFT_BEHIND).push(left);
    }

    fn send(&mut self, now: u64, out: &impl Outbound) {
        while let Some(d) = self.engine.poll_delivery(now) {
            // Envoy's callouts add no length of their own.
            let length = d.body.len().to_string();
            let mut headers: Vec<(&str, &str)> = vec![
                (":method", "POST"),
                (":path", &d.path),
                (":authority", &d.authority),
                ("content-length", &length),
            ];
            headers.extend(d.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            match out.callout(&d.cluster, &headers, &d.body, d.timeout_ms) {
                Ok(id) => {
                    self.calls.insert(id, d.token);
                }
                Err(code) => {
                    out.log(
                        Level::Warn,
                        &format!(
                            "sink {}: cannot call cluster {:?} (result {code}); will retry",
                            d.sink, d.cluster
                        ),
                    );
                    self.engine.failed(d.token, now);
                }
            }
        }
    }

    /// Fleet mode: the next batch to the front, when one is due and none is in flight.
    fn send_batch(&mut self, now: u64, out: &impl Outbound) {
        if self.fleet_call.is_some() {
            return;
        }
        let Some(call) = self.engine.poll_fleet(now) else {
            return;
        };
        let length = call.body.len().to_string();
        let mut headers = vec![
            (":method", "POST"),
            (":path", call.path.as_str()),
            (":authority", call.authority.as_str()),
            ("content-length", length.as_str()),
        ];
        headers.extend(call.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        match out.callout(&call.cluster, &headers, &call.body, call.timeout_ms) {
            Ok(id) => self.fleet_call = Some((id, call.seq)),
            // Counted as a failed batch: the proxy falls back and retries on the next flush.
            Err(_) => self.engine.fleet_answered(now, call.seq, 0, &[]),
        }
        self.log_fleet_state(out);
    }

    fn log_fleet_state(&mut self, out: &impl Outbound) {
        let fallback = self.engine.fleet_in_fallback();
        if fallback == self.fleet_fallback_logged {
            return;
        }
        self.fleet_fallback_logged = fallback;
        let cluster = &self.engine.config().fleet.cluster;
        if fallback {
            out.log(
                Level::Warn,
                &format!("fleet: no answer from cluster {cluster:?}; counting and delivering here until it answers"),
            );
        } else {
            out.log(
                Level::Info,
                &format!("fleet: cluster {cluster:?} answers; counting in Redis again"),
            );
        }
    }

    /// A callout's answer (`status` 0: none, the call failed or timed out).
    pub fn answered(
        &mut self,
        now: u64,
        callout: u64,
        status: u16,
        body: &[u8],
        shared: &Shared,
        out: &impl Outbound,
    ) {
        if let Some((pending, seq)) = self.fleet_call {
            if pending == callout {
                self.fleet_call = None;
                self.engine.fleet_answered(now, seq, status, body);
                self.log_fleet_state(out);
                self.send(now, out);
                self.publish_lists(now, shared);
                self.publish_metrics(out);
                return;
            }
        }
        let Some(token) = self.calls.remove(&callout) else {
            return;
        };
        self.engine.delivery_status(token, status, now);
        // A freed slot may let the next POST go now rather than on the next tick.
        self.send(now, out);
        self.publish_metrics(out);
    }

    /// Hands every worker the blocklist and quiet list, each only when it changed.
    fn publish_lists(&mut self, _now: u64, shared: &Shared) {
        let block_generation = self.engine.blocklist().generation();
        let quiet_generation = self.engine.quiet_list().generation();
        let blocklist = (self.published_generation != Some(block_generation))
            .then(|| Arc::new(self.engine.blocklist().clone()));
        let quiet = (self.published_quiet_generation != Some(quiet_generation))
            .then(|| Arc::new(self.engine.quiet_list().clone()));
        if blocklist.is_none() && quiet.is_none() {
            return;
        }
        shared.each_worker(|w| {
            if let Some(list) = &blocklist {
                w.blocklist = Arc::clone(list);
            }
            if let Some(list) = &quiet {
                w.quiet = Arc::clone(list);
            }
        });
        self.published_generation = Some(block_generation);
        self.published_quiet_generation = Some(quiet_generation);
    }

    fn publish_metrics(&mut self, out: &impl Outbound) {
        let totals = self.engine.metrics();
        let sinks: Vec<Metrics> = self.engine.sink_metrics().map(|(_, m)| m).collect();
        let ids = &self.metric_ids;
        // Only what moved: a tick with nothing new calls Envoy for nothing.
        let filters = self.engine.filter_events();
        self.exporter
            .publish(&totals, &sinks, filters, |i, change| {
                match (ids.get(i), change) {
                    (Some(Metric::Plain(Some(id))), Change::Set(value)) => {
                        out.set_gauge(*id, value)
                    }
                    (Some(Metric::Plain(Some(id))), Change::Add(by)) => {
                        out.increment_counter(*id, by)
                    }
                    (Some(Metric::Labeled(Some(id), label)), Change::Set(value)) => {
                        out.set_labeled_gauge(*id, label, value)
                    }
                    (Some(Metric::Labeled(Some(id), label)), Change::Add(by)) => {
                        out.increment_labeled_counter(*id, label, by)
                    }
                    _ => {}
                }
            });
        let panics = barrier::panics();
        if panics > self.panics_published {
            if let Some(id) = self.panics_id {
                out.increment_counter(id, panics - self.panics_published);
            }
            out.log(
                Level::Error,
                &format!(
                    "{} panics caught and failed open so far (see metric native_panics_total)",
                    panics
                ),
            );
            self.panics_published = panics;
        }
    }
}
