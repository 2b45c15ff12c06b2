//! actorwatch-core: the detection engine every actorwatch host shares.
//!
//! Sans-I/O: no clock, no randomness, no network. A host feeds [`Observation`]s with the time
//! from its own clock, asks [`Engine::poll_delivery`] for webhook POSTs, reports their outcome
//! and asks [`Engine::next_wakeup`] when to call again. Multi-threaded hosts record on each
//! thread with a [`Recorder`] and merge its deltas into one engine with [`Engine::apply_delta`].
//! Hosts that count in one place and deliver in another use [`handoff`]'s sender and receiver.
//!
//! This file is the whole public API: the types hosts use, and namespaces for what other
//! processes share (the fleet batch, handoff messages, signatures, Akto's payload) and for
//! the request matchers. Everything else is the crate's own; ARCHITECTURE.md shows its layers.
//!
//! Cargo features line up with the layer folders: `inspect` (the request matchers and the
//! [`Inspector`]), `fleet` (fleet mode) and `handoff`, all on by default. A build without one
//! refuses, at validation, every configuration that needs it.
#![forbid(unsafe_code)]
// What only a compiled-out layer uses (the weak-authentication checks, fleet helpers) is dead in
// a lean build; the full build keeps the lint.
#![cfg_attr(
    not(all(feature = "inspect", feature = "fleet", feature = "handoff")),
    allow(dead_code)
)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod base;
mod count;
mod deliver;
mod drive;
#[cfg(feature = "inspect")]
pub mod inspect;
mod model;
mod protocol;

pub use base::address::parse_ip;
pub use base::template::request_url_parts;
pub use count::blocklist::Blocklist;
pub use count::detector::Detection;
pub use deliver::outbox::Delivery;
pub use drive::engine::Engine;
pub use drive::recorder::Recorder;
#[cfg(feature = "inspect")]
pub use inspect::inspector::Inspector;
pub use model::actor::{ActorKey, Resolved};
pub use model::config::{Config, ConfigCache};
pub use model::export::{Change, Exported, Exporter, Series};
pub use model::findings::Inspection;
pub use model::metrics::{Field, MetricKind, Metrics};
pub use model::observation::{Headers, Observation};
pub use model::reply::BlockedReply;

/// Fleet mode's batch and reply, as the aggregator and the `actorwatch front` exchange them.
#[cfg(feature = "fleet")]
pub mod fleet {
    pub use crate::drive::fleet::FleetCall;
    pub use crate::protocol::fleet::{
        actor_hex, ActorReply, Batch, BatchActor, BatchRule, Flag, Reply, PROTOCOL,
    };
}

/// Counting in many objects and delivering from one (the Worker's shards and hub).
#[cfg(feature = "handoff")]
pub mod handoff {
    pub use crate::drive::handoff::{Applied, Event, Message, Persist, Receiver, Report, Sender};
}

/// Which of a proxy's VMs aggregates.
pub mod lease {
    pub use crate::protocol::lease::{claim, Lease, LEASE_MS};
}

/// Webhook signatures (`x-actorwatch-signature`), for senders and receivers.
pub mod signature {
    pub use crate::deliver::signature::{
        sign, verify, SignatureError, DELIVERY_HEADER, SIGNATURE_HEADER,
    };
}

/// Akto's "New API runtime threats" payload, and a check of a document's shape against it.
pub mod payload {
    pub use crate::model::payload::{shape_errors, MaliciousEvent, WebhookPayload};
}

/// The crate's inner pieces, for its fuzz targets and its own integration tests and benches
/// only (feature `internals`): not an API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::base::clock::CLOCK_STEP_MS;
    pub use crate::base::template::{strip_query, template, truncate, MAX_URL_BYTES};
    pub use crate::base::wire::WireError;
    pub use crate::count::detector::Detector;
    pub use crate::deliver::outbox::{retry_delay_ms, Outbox};
    pub use crate::deliver::sinks::Sinks;
    pub use crate::drive::engine::Verdict;
    pub use crate::model::config::quiet_covers;
    pub use crate::model::findings::ThreatHit;
    pub use crate::model::threat::{decode, encode};
    pub use crate::protocol::delta::DeltaReader;
}
