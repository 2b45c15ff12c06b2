//! Fleet mode's wire format: the batches an aggregator POSTs to the `actorwatch front` and the
//! replies the front builds from Redis (JSON, the same on both sides), and actors as batches
//! name them.

use crate::model::actor::ActorKey;
use crate::protocol::actor_wire::ActorWire;
use serde::{Deserialize, Serialize};

/// The batch format's version, checked by the front.
pub const PROTOCOL: u32 = 1;

/// One batch: what an aggregator counted since its last one, per actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub v: u32,
    /// Unique per aggregator run: with `seq`, what makes a retried batch a no-op.
    pub instance: String,
    pub seq: u64,
    pub grace_ms: u64,
    pub bucket_ms: u64,
    /// Blocks set at or after this time (Redis's clock, from the previous answer) are wanted.
    pub blocks_since_ms: u64,
    pub rules: Vec<BatchRule>,
    pub actors: Vec<BatchActor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRule {
    pub id: String,
    pub window_ms: u64,
    pub threshold: u32,
    pub cooldown_ms: u64,
    pub block_ms: u64,
    pub block_status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchActor {
    /// The actor's key in the delta encoding, hex: the same for every proxy of one config.
    pub key: String,
    /// (rule index, API or "", bucket = time / `bucket_ms`, count).
    pub entries: Vec<(u32, String, u64, u32)>,
    /// (rule index, API or "", cooldown left in ms): events raised while Redis was out of reach.
    #[serde(default)]
    pub claims: Vec<(u32, String, u64)>,
}

/// The front's answer: one entry per batch actor, in order, and the blocks set since.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub seq: u64,
    pub actors: Vec<ActorReply>,
    /// (actor key hex, blocked until ms, status) set since `blocks_since_ms`.
    #[serde(default)]
    pub blocks: Vec<(String, u64, u16)>,
    /// Redis's clock when the blocks were read: the next batch's `blocks_since_ms`.
    #[serde(default)]
    pub blocks_now_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorReply {
    /// The batch had been applied already (a retry); flags repeat the first answer.
    #[serde(default)]
    pub dup: bool,
    /// Counted responses that arrived later than the grace period, dropped.
    #[serde(default)]
    pub late: u64,
    #[serde(default)]
    pub block_until_ms: u64,
    #[serde(default)]
    pub block_status: u16,
    #[serde(default)]
    pub flags: Vec<Flag>,
}

/// A window of the actor over its threshold, or in its cooldown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub rule: u32,
    #[serde(default)]
    pub api: String,
    /// This proxy raises the event (Redis granted it the cooldown).
    pub fired: bool,
    pub count: u64,
    pub at_ms: u64,
    pub cooldown_left_ms: u64,
}

/// An actor's key as batches carry it.
pub fn actor_hex(key: &ActorKey) -> String {
    let mut bytes = Vec::with_capacity(20);
    key.encode(&mut bytes);
    crate::base::hex::encode(&bytes)
}

/// The actor of [`actor_hex`], if `hex` is one.
pub(crate) fn actor_of_hex(hex: &str) -> Option<ActorKey> {
    let bytes = crate::base::hex::decode(hex)?;
    let mut reader = crate::base::wire::Reader::new(&bytes);
    let key = ActorKey::decode(&mut reader).ok()?;
    reader.is_empty().then_some(key)
}
