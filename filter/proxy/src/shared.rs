//! What the VMs of one `vm_id` share in Envoy: the names of the shared data and of the queue
//! that carries worker deltas, and the tick every root context runs on.

use std::time::Duration;

/// Every VM's root context ticks this often: workers hand over their records, the aggregator
/// merges and delivers.
pub const TICK: Duration = Duration::from_millis(100);
/// Which VM aggregates (see `actorwatch_core::lease`).
pub const LEASE_KEY: &str = "actorwatch.lease";
/// The aggregator's blocklist snapshot, for every worker.
pub const BLOCKLIST_KEY: &str = "actorwatch.blocklist";
/// The aggregator's quiet list snapshot (actors deep in their cooldowns), for every worker.
pub const QUIET_KEY: &str = "actorwatch.quiet";
/// The aggregator's events waiting for delivery, for a successor.
pub const OUTBOX_KEY: &str = "actorwatch.outbox";
/// Fleet mode: the aggregator's unacknowledged cooldown claims and the fleet's cooldowns it
/// knows of, for a successor.
#[cfg(feature = "fleet")]
pub const FLEET_KEY: &str = "actorwatch.fleet";
/// How many merged worker records the aggregator holds uncounted (lost if it goes away).
pub const PROGRESS_KEY: &str = "actorwatch.progress";
/// The queue that carries worker deltas to the aggregator.
pub const QUEUE_NAME: &str = "actorwatch.deltas";
