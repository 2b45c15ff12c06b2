//! The counters each counter shard reports to the hub, and how the hub's `/metrics` adds them up.

use actorwatch_core::Metrics;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counter name -> value, names as every host exports them (README, "Metrics").
pub type Counters = BTreeMap<String, u64>;

/// Values of a moment rather than totals: a shard's earlier engines add nothing to them.
pub const GAUGES: [&str; 5] = [
    "actors_tracked",
    "events_queued",
    "blocks_active",
    "memory_bytes",
    "state_unsaved",
];

pub fn is_gauge(name: &str) -> bool {
    GAUGES.contains(&name)
}

pub fn counters_of(m: &Metrics) -> Counters {
    let mut c = Counters::new();
    for (name, value) in m.fields() {
        c.insert(name.to_string(), value);
    }
    c
}

/// Adds every value of `more` to `into` (gauges too: the sum over objects is the total held).
pub fn add(into: &mut Counters, more: &Counters) {
    for (name, value) in more {
        let slot = into.entry(name.clone()).or_insert(0);
        *slot = slot.saturating_add(*value);
    }
}

/// `counters` without the gauges: what a shard carries over from an engine it replaces.
pub fn totals_only(counters: &Counters) -> Counters {
    let mut c = counters.clone();
    c.retain(|name, _| !is_gauge(name));
    c
}

/// One shard's counters at one moment. Reports can arrive out of order: the hub keeps the
/// latest by `(at_ms, seq)`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub at_ms: u64,
    pub seq: u64,
    pub counters: Counters,
}

impl Report {
    pub fn is_newer_than(&self, other: &Report) -> bool {
        (self.at_ms, self.seq) > (other.at_ms, other.seq)
    }
}
