//! How hosts export the engine's metrics to a store with labels (Envoy's stats, Prometheus):
//! each metric's Prometheus name and label ([`Exported`], from `Field::exported`), the series of
//! a configuration (per-sink metrics once per sink), and what moved since the last tick.

use crate::model::config::Config;
use crate::model::metrics::{Field, MetricKind, Metrics};

impl Field {
    /// Whether each sink counts this metric in its own outbox: hosts that label export it once
    /// per sink (`sink="akto"`) rather than as one total.
    pub fn per_sink(&self) -> bool {
        matches!(
            self.name,
            "events_queued"
                | "events_delivered"
                | "events_dropped"
                | "deliveries_sent"
                | "deliveries_succeeded"
                | "deliveries_failed"
                | "deliveries_retried"
                | "deliveries_abandoned"
        )
    }

    /// How hosts export this metric (see [`Exported`]); a per-sink one without its label.
    pub fn exported(&self) -> Exported {
        let (family, label) = match self.per_rule() {
            Some((rule, kind)) => (
                format!("threat_rule_{kind}"),
                Some(("rule", rule.to_string())),
            ),
            None => (self.name.to_string(), None),
        };
        let family = match self.kind {
            MetricKind::Counter => family + "_total",
            MetricKind::Gauge => family,
        };
        Exported { family, label }
    }
}

/// A metric as a metrics system with Prometheus's conventions names it: a counter's name ends
/// in `_total`, and the per-rule threat metrics are one family per kind with the rule as a label
/// (`threat_rule_matches_total{rule="xss"}`). Labels are bounded by the configuration: none
/// names an actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub family: String,
    /// The label's name and this series' value of it (`rule`, `sink`).
    pub label: Option<(&'static str, String)>,
}

impl Exported {
    /// The flat name of a store without labels, and of Envoy's stats before its tag extraction
    /// (`stats_tags` in the shipped configurations): `<family>.<label>.<value>`.
    pub fn flat_name(&self) -> String {
        match &self.label {
            Some((label, value)) => format!("{}.{label}.{value}", self.family),
            None => self.family.clone(),
        }
    }
}

/// Where a series' value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Field `.0` of [`Metrics::fields`] of the engine's totals.
    Total(usize),
    /// Field `.1` of sink `.0`'s own metrics.
    Sink(usize, usize),
    /// The events filter `.0` (a rule, by its index) sent to the sinks.
    Filter(usize),
}

/// One series a host exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub source: Source,
    pub kind: MetricKind,
    pub exported: Exported,
}

/// The family of every filter's events, labeled by its `filterId` (Akto's name for the rule id).
pub const FILTER_EVENTS: &str = "filter_events_total";

/// A value to hand the host's metrics store: a gauge's value or a counter's increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Set(u64),
    Add(u64),
}

/// Every series a host exports for a configuration, and what it last handed over: each tick
/// hands only what moved (a store keeps counters as increments).
#[derive(Debug, Clone)]
pub struct Exporter {
    series: Vec<Series>,
    published: Vec<u64>,
}

impl Exporter {
    /// The series of `cfg`'s engine: its metrics, those per sink once for each sink (label
    /// `sink`), and each filter's events (label `filter_id`).
    pub fn new(cfg: &Config) -> Exporter {
        let mut series = Vec::new();
        for (field, f) in Metrics::default().fields().iter().enumerate() {
            if !f.per_sink() {
                let exported = f.exported();
                series.push(Series {
                    source: Source::Total(field),
                    kind: f.kind,
                    exported,
                });
                continue;
            }
            for (sink, name) in cfg.sink_names().enumerate() {
                let mut exported = f.exported();
                exported.label = Some(("sink", name.to_string()));
                series.push(Series {
                    source: Source::Sink(sink, field),
                    kind: f.kind,
                    exported,
                });
            }
        }
        for filter in 0..cfg.filter_count() {
            let Some((id, _, _)) = cfg.filter(filter) else {
                continue;
            };
            series.push(Series {
                source: Source::Filter(filter),
                kind: MetricKind::Counter,
                exported: Exported {
                    family: FILTER_EVENTS.to_string(),
                    label: Some(("filter_id", id.to_string())),
                },
            });
        }
        Exporter {
            published: vec![0; series.len()],
            series,
        }
    }

    /// What to define in the host's store, in the order [`Exporter::publish`] names them.
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// Calls `out(index, change)` for each series that moved since the last call: `totals` are
    /// the engine's metrics, `sinks` each sink's own, `filters` each filter's events (in the
    /// configuration's order).
    pub fn publish(
        &mut self,
        totals: &Metrics,
        sinks: &[Metrics],
        filters: &[u64],
        mut out: impl FnMut(usize, Change),
    ) {
        let totals = totals.fields();
        let sinks: Vec<[Field; Metrics::COUNT]> = sinks.iter().map(Metrics::fields).collect();
        for (i, (series, published)) in self
            .series
            .iter()
            .zip(self.published.iter_mut())
            .enumerate()
        {
            let value = match series.source {
                Source::Total(field) => totals.get(field).map(|f| f.value),
                Source::Sink(sink, field) => {
                    sinks.get(sink).and_then(|f| f.get(field)).map(|f| f.value)
                }
                Source::Filter(filter) => filters.get(filter).copied(),
            };
            let Some(value) = value else {
                continue;
            };
            match series.kind {
                MetricKind::Gauge if value != *published => out(i, Change::Set(value)),
                // A counter never goes back: a lower value (a replaced engine) waits until it
                // passes what was handed over.
                MetricKind::Counter if value > *published => {
                    out(i, Change::Add(value - *published))
                }
                _ => continue,
            }
            *published = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn exported_names_follow_prometheus_conventions() {
        let exported = |name: &str| {
            Metrics::default()
                .fields()
                .into_iter()
                .find(|f| f.name == name)
                .map(|f| f.exported())
                .unwrap()
        };
        let plain = |family: &str| Exported {
            family: family.to_string(),
            label: None,
        };
        assert_eq!(exported("responses"), plain("responses_total"));
        assert_eq!(exported("actors_tracked"), plain("actors_tracked"));
        assert_eq!(
            exported("memory_budget_bytes"),
            plain("memory_budget_bytes")
        );
        assert_eq!(exported("threat_matches"), plain("threat_matches_total"));
        let xss = exported("threat_xss_events");
        assert_eq!(
            xss,
            Exported {
                family: "threat_rule_events_total".to_string(),
                label: Some(("rule", "xss".to_string())),
            }
        );
        assert_eq!(xss.flat_name(), "threat_rule_events_total.rule.xss");
        // Every exported name is distinct, and valid as a Prometheus metric name.
        let names: std::collections::BTreeSet<String> = Metrics::default()
            .fields()
            .iter()
            .map(|f| f.exported().flat_name())
            .collect();
        assert_eq!(names.len(), Metrics::COUNT);
        for field in Metrics::default().fields() {
            let family = field.exported().family;
            assert!(
                family
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{family}"
            );
            assert_eq!(
                family.ends_with("_total"),
                field.kind == MetricKind::Counter,
                "{family}"
            );
        }
    }

    #[cfg(feature = "sinks")]
    #[test]
    fn the_exporter_labels_delivery_metrics_per_sink_and_hands_over_only_what_moved() {
        let cfg = Config::from_json_str(
            r#"{"rules": [{"id": "4XX_FILTER"}, {"id": "AUTH.401"}],
                "webhook": {"url": "http://siem.test/akto"},
                "sinks": [{"format": "ocsf", "name": "siem", "url": "http://lake.test/"}]}"#,
        )
        .unwrap();
        let mut exporter = Exporter::new(&cfg);
        let names: Vec<String> = exporter
            .series()
            .iter()
            .map(|s| s.exported.flat_name())
            .collect();
        let position = |name: &str| names.iter().position(|n| n == name).unwrap();
        assert!(!names.iter().any(|n| n == "deliveries_sent_total"));
        let akto_sent = position("deliveries_sent_total.sink.akto");
        let siem_sent = position("deliveries_sent_total.sink.siem");
        let queued = position("events_queued.sink.siem");
        let responses = position("responses_total");
        let flagged = position("filter_events_total.filter_id.4XX_FILTER");
        let auth = position("filter_events_total.filter_id.AUTH.401");
        // 8 per-sink metrics twice instead of once, and one series per filter.
        assert_eq!(names.len(), Metrics::COUNT + 8 + 2);
        let totals = Metrics {
            responses: 5,
            deliveries_sent: 3,
            ..Metrics::default()
        };
        let sinks = [
            Metrics {
                deliveries_sent: 1,
                ..Metrics::default()
            },
            Metrics {
                deliveries_sent: 2,
                events_queued: 4,
                ..Metrics::default()
            },
        ];
        let mut changes = Vec::new();
        exporter.publish(&totals, &sinks, &[2, 0], |i, c| changes.push((i, c)));
        changes.sort_by_key(|(i, _)| *i);
        let mut expected = vec![
            (flagged, Change::Add(2)),
            (responses, Change::Add(5)),
            (akto_sent, Change::Add(1)),
            (siem_sent, Change::Add(2)),
            (queued, Change::Set(4)),
        ];
        expected.sort_by_key(|(i, _)| *i);
        assert_eq!(changes, expected);
        // Nothing moved: nothing handed over. Then one counter and one gauge move.
        let mut again = Vec::new();
        exporter.publish(&totals, &sinks, &[2, 0], |i, c| again.push((i, c)));
        assert_eq!(again, vec![]);
        let sinks = [
            sinks[0],
            Metrics {
                deliveries_sent: 3,
                events_queued: 0,
                ..Metrics::default()
            },
        ];
        let mut moved = Vec::new();
        exporter.publish(&totals, &sinks, &[2, 1], |i, c| moved.push((i, c)));
        moved.sort_by_key(|(i, _)| *i);
        let mut expected = vec![
            (siem_sent, Change::Add(1)),
            (queued, Change::Set(0)),
            (auth, Change::Add(1)),
        ];
        expected.sort_by_key(|(i, _)| *i);
        assert_eq!(moved, expected);
    }
}
