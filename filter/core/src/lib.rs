//! actorwatch-core: the detection engine every actorwatch host shares.
//!
//! Sans-I/O: no clock, no randomness, no network. A host feeds [`Observation`]s with the time
//! from its own clock, asks [`Engine::poll_delivery`] for webhook POSTs, reports their outcome
//! and asks [`Engine::next_wakeup`] when to call again. Multi-threaded hosts record on each
//! thread with a [`Recorder`] and merge its deltas into one engine with [`Engine::apply_delta`].
//! Hosts that count in one place and deliver in another use the [`Detector`] and the [`Outbox`]
//! apart, or [`handoff`]'s sender and receiver. ARCHITECTURE.md walks through each host.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod actor;
pub mod address;
pub mod blocklist;
mod choices;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod delta;
pub mod detector;
pub mod engine;
mod findings;
pub mod fleet;
pub mod handoff;
mod hash;
pub mod hex;
pub mod inspect;
pub mod inspector;
pub mod lease;
pub mod memory;
pub mod metrics;
pub mod observation;
pub mod outbox;
mod paged;
pub mod payload;
pub mod record;
mod reorder;
pub mod sample;
mod sample_store;
pub mod signature;
pub mod status;
mod table;
pub mod template;
mod texts;
pub mod threat;
pub mod url;
mod window;
pub mod wire;

pub use actor::{ActorKey, Resolved};
pub use address::parse_ip;
pub use blocklist::Blocklist;
pub use config::{quiet_covers, Config, ConfigError, ConfigErrors};
pub use delta::{DeltaReader, Recorder};
pub use detector::{Detection, Detector, Observed};
pub use engine::{Engine, Verdict};
pub use metrics::{Field, MetricKind, Metrics};
pub use observation::{Headers, Observation};
pub use outbox::{retry_delay_ms, Delivery, Outbox};
pub use payload::{MaliciousEvent, WebhookPayload};
pub use wire::WireError;
