//! Events and counters a counting object hands to the one that delivers, held until
//! acknowledged. A host that counts in many objects and delivers from one (the Worker's counter
//! shards and hub, Durable Objects that can go away at any moment) keeps a [`Sender`] where it
//! counts and a [`Receiver`] where it delivers. Sans-I/O: the host passes the time, carries each
//! [`Message`] and reports whether it was taken, writes what is due to be saved, and sets its
//! alarm to [`Sender::next_wakeup`] / [`Receiver::next_wakeup`].
//!
//! - A sender counts with its [`Detector`] and applies a delta whose id it has seen lately once.
//!   It holds the events it raised until a message carrying them is acknowledged, bounded like
//!   an outbox (`queue_capacity`, the outbox's share of `max_memory_mb`: the oldest make room,
//!   counted in `events_dropped`), and after a failed message waits out the webhook's backoff.
//!   Once a message failed, storage should hold its events too ([`Sender::poll_persist`]) until
//!   one is acknowledged. Its counting state is due to be saved [`SAVE_AFTER_MS`] after it first
//!   changed ([`Sender::poll_save`]); its counters go with every message, alone once saved.
//! - A receiver queues each event once (by `refId`: held, or among the last [`REMEMBERED_IDS`]
//!   delivered) in its [`Outbox`], merges the senders' blocklists, and keeps each sender's
//!   latest [`Report`].

use crate::base::wire::WireError;
use crate::model::metrics::Metrics;
use crate::model::payload::MaliciousEvent;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};

mod receiver;
mod sender;
#[cfg(test)]
mod tests;

pub use receiver::Receiver;
pub use sender::Sender;

/// The counting state is due to be saved this long after it first changes: one batch of
/// writes, not one per delta.
pub(crate) const SAVE_AFTER_MS: u64 = 1_000;
/// Ids a side remembers: delta ids a sender applied, `refId`s a receiver delivered.
pub(crate) const REMEMBERED_IDS: usize = 4_096;
/// Expired blocks are forgotten at most this often.
pub(crate) const PRUNE_EVERY_MS: u64 = 1_000;

/// An event on its way from a sender to the receiver, and in their storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub rule: usize,
    pub event: MaliciousEvent,
}

impl Event {
    fn ref_id(&self) -> &str {
        self.event.ref_id.as_deref().unwrap_or_default()
    }
}

/// One sender's counters at one moment. Reports can arrive out of order: the receiver keeps the
/// latest by `(at_ms, seq)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub at_ms: u64,
    pub seq: u64,
    #[serde(rename = "counters")]
    pub metrics: Metrics,
}

impl Report {
    pub fn is_newer_than(&self, other: &Report) -> bool {
        (self.at_ms, self.seq) > (other.at_ms, other.seq)
    }
}

/// What a sender hands to the receiver: every event not yet acknowledged, its blocklist when it
/// changed since the last acknowledged message, and its counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Message {
    /// The sender's name: the receiver keeps one report per name.
    pub from: String,
    pub events: Vec<Event>,
    /// [`Blocklist::encode`], hex.
    pub blocks: Option<String>,
    pub report: Option<Report>,
}

/// What one message carried, for [`Sender::acknowledged`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    ref_ids: BTreeSet<String>,
    generation: u64,
    version: u64,
}

impl Receipt {
    /// Events the message carried.
    pub fn events(&self) -> usize {
        self.ref_ids.len()
    }
}

/// The counting state to write, due [`SAVE_AFTER_MS`] after it first changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Save {
    /// [`Detector::export_state`].
    pub state: Vec<u8>,
    /// The sender's counters with this save counted (gauges 0): saved with the state, given
    /// back to [`Sender::restore`].
    pub totals: Metrics,
    since_ms: u64,
}

/// What storage should do with the held events ([`Sender::poll_persist`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Persist {
    /// Write these bytes (JSON, a list of [`Event`]s) in place of what it holds.
    Write { version: u64, bytes: Vec<u8> },
    /// Hold none any more.
    Delete,
}

/// What became of a delta ([`Sender::apply_delta`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Counted; it raised this many events.
    Counted(usize),
    /// Its id was applied lately (sent again after a lost answer): nothing done.
    Repeated,
    /// Malformed from some record on: the records before it counted (and raised this many
    /// events), the rest did not; counted in `deltas_rejected`.
    Malformed(WireError, usize),
}

/// Ids seen lately, the oldest forgotten first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recent {
    order: VecDeque<String>,
    set: BTreeSet<String>,
}

impl Recent {
    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    /// Remembers `id`; false if it was remembered already.
    fn insert(&mut self, id: &str) -> bool {
        if !self.set.insert(id.to_string()) {
            return false;
        }
        self.order.push_back(id.to_string());
        while self.order.len() > REMEMBERED_IDS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}
