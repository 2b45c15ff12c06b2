//! What crosses a boundary between VMs, threads or processes: worker deltas, fleet batches and
//! replies, the aggregator lease. Imports `base` and `model`.

pub(crate) mod actor_wire;
pub(crate) mod delta;
#[cfg(feature = "fleet")]
pub(crate) mod fleet;
pub(crate) mod lease;
