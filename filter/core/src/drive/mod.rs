//! Drivers: what hosts run. The `Engine` (a detector feeding an outbox, one apply path), the
//! per-thread `Recorder`, the reorder buffer, fleet mode and the handoff between counting and
//! delivering objects. The only layer that may import every other.

pub(crate) mod engine;
#[cfg(feature = "fleet")]
pub(crate) mod fleet;
#[cfg(feature = "handoff")]
pub(crate) mod handoff;
pub(crate) mod recorder;
pub(crate) mod reorder;
