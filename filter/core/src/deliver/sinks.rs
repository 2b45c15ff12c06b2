//! Every sink's outbox: each event goes to all of them, and each delivers on its own (its
//! batches, retries, delivery ids and metrics), so a slow or failing SIEM never holds back
//! another. Sink 0 is `webhook`; with no other sink this is its outbox alone, byte for byte
//! (its state hand-over too).

use crate::deliver::outbox::{Delivery, Outbox, TOKEN_STRIDE};
use crate::model::config::Config;
use crate::model::metrics::Metrics;
use crate::model::payload::MaliciousEvent;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Sinks {
    outboxes: Vec<Outbox>,
    /// The outbox the next poll asks first: sinks take turns.
    next: usize,
    /// Events handed over for a sink the configuration no longer has.
    dropped: u64,
    /// Events queued, per filter (rule index): what each rule raised for delivery.
    per_filter: Vec<u64>,
}

impl Sinks {
    /// The outboxes of `cfg`'s sinks, sharing `budget_bytes` evenly.
    pub fn new(cfg: Arc<Config>, seed: u64, budget_bytes: usize) -> Sinks {
        let count = cfg.sink_count();
        let outboxes = (0..count)
            .map(|sink| {
                // Sink 0 keeps the seed: its delivery ids are what they were without sinks.
                let seed = seed ^ (sink as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                Outbox::new(Arc::clone(&cfg), sink, seed, budget_bytes / count)
            })
            .collect();
        Sinks {
            per_filter: vec![0; cfg.filter_count()],
            outboxes,
            next: 0,
            dropped: 0,
        }
    }

    /// Queues `event` (of filter `rule`) for every sink.
    pub fn push(&mut self, now_ms: u64, rule: usize, event: &MaliciousEvent) {
        if let Some(count) = self.per_filter.get_mut(rule) {
            *count += 1;
        }
        for outbox in &mut self.outboxes {
            outbox.push(now_ms, rule, event.clone());
        }
    }

    /// The next POST to send, from the sinks in turn.
    pub fn poll(&mut self, now_ms: u64) -> Option<Delivery> {
        let count = self.outboxes.len();
        for i in 0..count {
            let sink = (self.next + i) % count;
            if let Some(delivery) = self.outboxes.get_mut(sink).and_then(|o| o.poll(now_ms)) {
                self.next = (sink + 1) % count;
                return Some(delivery);
            }
        }
        None
    }

    /// The host's outcome for the attempt `token` (see [`Outbox::report`]).
    pub fn report(&mut self, token: u64, success: bool, now_ms: u64) {
        let sink = (token % TOKEN_STRIDE) as usize;
        if let Some(outbox) = self.outboxes.get_mut(sink) {
            outbox.report(token, success, now_ms);
        }
    }

    pub fn flush_now(&mut self) {
        self.outboxes.iter_mut().for_each(Outbox::flush_now);
    }

    pub fn next_wakeup(&self) -> Option<u64> {
        self.outboxes.iter().filter_map(Outbox::next_wakeup).min()
    }

    /// Every sink's metrics added up.
    pub fn metrics(&self) -> Metrics {
        let mut m = Metrics::default();
        for outbox in &self.outboxes {
            m.add(&outbox.metrics());
        }
        m.events_dropped += self.dropped;
        m
    }

    /// Each sink's name and metrics (the events and deliveries of its own outbox).
    pub fn per_sink(&self) -> impl Iterator<Item = (&str, Metrics)> + '_ {
        self.outboxes.iter().enumerate().map(|(i, o)| {
            let mut m = o.metrics();
            if i == 0 {
                m.events_dropped += self.dropped;
            }
            (o.sink().name.as_str(), m)
        })
    }

    /// The events each filter (by index) queued for delivery.
    pub fn filter_events(&self) -> &[u64] {
        &self.per_filter
    }

    pub fn held(&self) -> usize {
        self.outboxes.iter().map(Outbox::held).sum()
    }

    pub fn bytes(&self) -> usize {
        self.outboxes.iter().map(Outbox::bytes).sum()
    }

    /// Changes whenever any sink's held events change.
    pub fn version(&self) -> u64 {
        self.outboxes
            .iter()
            .fold(0u64, |v, o| v.wrapping_add(o.version()))
    }

    /// Every sink's held events, for a successor: `webhook`'s alone as its outbox writes them,
    /// or `{"sinks": {"<name>": <its outbox's export>, ...}}`.
    pub fn export(&self) -> Vec<u8> {
        if let [only] = self.outboxes.as_slice() {
            return only.export();
        }
        let mut out = b"{\"sinks\":{".to_vec();
        for (i, outbox) in self.outboxes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Sink names are [a-z0-9_]: no escaping needed.
            out.extend_from_slice(format!("\"{}\":", outbox.sink().name).as_bytes());
            out.extend_from_slice(&outbox.export());
        }
        out.extend_from_slice(b"}}");
        out
    }

    /// Takes over a predecessor's events ([`Sinks::export`], or an outbox's own export, which is
    /// `webhook`'s): each sink's go to the sink of the same name; a sink this configuration no
    /// longer has loses its events, counted as dropped. Returns the events taken over.
    pub fn import(&mut self, now_ms: u64, bytes: &[u8]) -> Result<usize, serde_json::Error> {
        if !bytes.starts_with(b"{\"sinks\":") {
            return match self.outboxes.first_mut() {
                Some(outbox) => outbox.import(now_ms, bytes),
                None => Ok(0),
            };
        }
        let doc: Value = serde_json::from_slice(bytes)?;
        let mut taken = 0;
        for (name, held) in doc["sinks"].as_object().into_iter().flatten() {
            let held = serde_json::to_vec(held)?;
            match self.outboxes.iter_mut().find(|o| o.sink().name == *name) {
                Some(outbox) => taken += outbox.import(now_ms, &held)?,
                None => self.dropped += held_events(&held),
            }
        }
        Ok(taken)
    }
}

/// How many events an outbox's export holds.
fn held_events(export: &[u8]) -> u64 {
    let Ok(doc) = serde_json::from_slice::<Value>(export) else {
        return 0;
    };
    let batched: usize = doc["batches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| b["events"].as_array().map_or(0, Vec::len))
        .sum();
    (batched + doc["queued"].as_array().map_or(0, Vec::len)) as u64
}

#[cfg(all(test, feature = "sinks"))]
mod tests {
    use super::*;
    use crate::model::payload::SamplePayload;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const T0: u64 = 1_764_600_000_000;

    fn config(sinks: &str) -> Arc<Config> {
        Arc::new(
            Config::from_json_str(&format!(
                r#"{{"rules": [{{"id": "4XX_FILTER"}}],
                    "webhook": {{"url": "http://siem.test/akto", "mode": "instant", "max_retries": 1}},
                    "sinks": {sinks}}}"#
            ))
            .unwrap(),
        )
    }

    fn event(n: i64) -> MaliciousEvent {
        MaliciousEvent {
            actor: format!("203.0.113.{n}"),
            api_collection_id: 0,
            country: String::new(),
            event_type: "AGGREGATED".into(),
            filter_id: "4XX_FILTER".into(),
            ip: format!("203.0.113.{n}"),
            method: "GET".into(),
            sub_category: "API_LEVEL_RATE_LIMITING".into(),
            timestamp: 1_764_600_000 + n,
            kind: "Rule-Based".into(),
            url: "/x".into(),
            malicious_payloads_responses: vec![SamplePayload {
                orig: "{}".into(),
                ts: 1_764_600_000,
            }],
            severity: Some("MEDIUM".into()),
            category: None,
            host: None,
            ref_id: Some(format!("ref-{n}")),
            count: Some(10),
            response_status: Some(200),
            response_statuses: None,
            successful_exploit: Some(false),
        }
    }

    /// Every POST due now, answered by `answer(sink)`.
    fn deliver_all(sinks: &mut Sinks, now: u64, answer: impl Fn(&str) -> bool) -> Vec<String> {
        let mut sent = Vec::new();
        while let Some(d) = sinks.poll(now) {
            sinks.report(d.token, answer(&d.sink), now);
            sent.push(d.sink);
        }
        sent
    }

    fn of(sinks: &Sinks, name: &str) -> Metrics {
        sinks
            .per_sink()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| m)
            .unwrap()
    }

    #[test]
    fn each_sink_retries_and_drops_on_its_own() {
        let cfg = config(
            r#"[{"format": "ocsf", "url": "http://lake.test/", "mode": "instant", "max_retries": 1,
                 "cluster": "lake"}]"#,
        );
        let mut sinks = Sinks::new(cfg, 7, 1 << 20);
        sinks.push(T0, 0, &event(1));
        // The lake refuses everything; Akto's receiver takes its POST at once.
        let sent = deliver_all(&mut sinks, T0, |sink| sink == "akto");
        assert_eq!(sent, ["akto", "ocsf"]);
        let first = sinks.next_wakeup().unwrap();
        assert!((T0 + 500..=T0 + 1_000).contains(&first), "{first}");
        assert_eq!(deliver_all(&mut sinks, first, |_| false), ["ocsf"]);
        let (akto, lake) = (of(&sinks, "akto"), of(&sinks, "ocsf"));
        assert_eq!(
            (
                akto.deliveries_sent,
                akto.events_delivered,
                akto.events_dropped
            ),
            (1, 1, 0)
        );
        assert_eq!(
            (
                lake.deliveries_sent,
                lake.deliveries_failed,
                lake.deliveries_retried,
                lake.deliveries_abandoned,
                lake.events_dropped
            ),
            (2, 2, 1, 1, 1)
        );
        let total = sinks.metrics();
        assert_eq!((total.events_delivered, total.events_dropped), (1, 1));
        assert_eq!(sinks.held(), 0);
    }

    #[test]
    fn a_successor_takes_each_sinks_events_by_name_and_counts_a_removed_sinks() {
        let before = config(
            r#"[{"format": "ocsf", "url": "http://lake.test/", "mode": "instant"},
                {"format": "slack", "url": "http://chat.test/"}]"#,
        );
        let mut sinks = Sinks::new(before, 7, 1 << 20);
        sinks.push(T0, 0, &event(1));
        sinks.push(T0, 0, &event(2));
        // Akto's first POST is in flight when the aggregator goes away.
        let in_flight = sinks.poll(T0).unwrap();
        assert_eq!(in_flight.sink, "akto");
        let exported = sinks.export();
        // The new configuration has no Slack sink, and a sink of another name.
        let after = config(
            r#"[{"format": "ocsf", "url": "http://lake.test/", "mode": "instant"},
                {"format": "teams", "url": "http://teams.test/"}]"#,
        );
        let mut next = Sinks::new(after, 8, 1 << 20);
        assert_eq!(next.import(T0, &exported).unwrap(), 4);
        assert_eq!(of(&next, "akto").events_dropped, 2, "Slack's two events");
        assert_eq!(of(&next, "teams").events_queued, 0);
        let mut sent = Vec::new();
        while let Some(d) = next.poll(T0) {
            next.report(d.token, true, T0);
            sent.push(d);
        }
        let names: Vec<&str> = sent.iter().map(|d| d.sink.as_str()).collect();
        assert_eq!(names, ["akto", "ocsf"], "one POST of both events each");
        // The POST that was in flight keeps its delivery id: its receiver drops the repeat.
        assert_eq!(sent[0].delivery_id, in_flight.delivery_id);
        assert_eq!(sent[0].ref_ids, in_flight.ref_ids);
        assert_eq!(
            (
                of(&next, "akto").events_delivered,
                of(&next, "ocsf").events_delivered
            ),
            (2, 2)
        );
    }

    #[test]
    fn one_sink_exports_its_outbox_as_it_always_did() {
        let cfg = config("[]");
        let mut sinks = Sinks::new(Arc::clone(&cfg), 7, 1 << 20);
        let mut outbox = Outbox::new(cfg, 0, 7, 1 << 20);
        sinks.push(T0, 0, &event(1));
        outbox.push(T0, 0, event(1));
        assert_eq!(sinks.export(), outbox.export());
        assert_eq!(sinks.poll(T0), outbox.poll(T0));
    }
}
