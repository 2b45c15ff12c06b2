//! Actors blocked until a deadline, and the snapshot format that carries them to workers.

use crate::base::hash::SeededState;
use crate::base::memory::{Budget, HeapSize};
use crate::base::wire::{put_varint, Reader, WireError};
use crate::model::actor::ActorKey;
use crate::model::reply::BlockedReply;
use crate::protocol::actor_wire::ActorWire;
use hashbrown::HashMap;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub until_ms: u64,
    pub status: u16,
}

impl Block {
    /// The local reply a host sends a request of this actor at `now_ms`.
    pub fn reply(&self, now_ms: u64) -> BlockedReply {
        BlockedReply::actor(
            self.status,
            self.until_ms.saturating_sub(now_ms).div_ceil(1000),
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    block: Block,
    /// Tie-breaker in `by_end` for blocks ending at the same millisecond.
    seq: u64,
}

const SNAPSHOT_MAGIC: &[u8; 3] = b"AWB";
const SNAPSHOT_VERSION: u8 = 1;
/// Bytes a B-tree entry costs beyond its key and value (node headers, slack in half-full nodes).
const BTREE_OVERHEAD_BYTES: usize = 24;

/// Bytes one block costs in `by_end` (the map's share is its allocation).
fn ordered_entry_bytes(key: &ActorKey) -> usize {
    size_of::<(u64, u64)>() + size_of::<ActorKey>() + BTREE_OVERHEAD_BYTES + 2 * key.heap_bytes()
}

#[derive(Debug, Clone)]
pub struct Blocklist {
    map: HashMap<ActorKey, Entry, SeededState>,
    /// The same blocks by end time: the one ending soonest is found in O(log n).
    by_end: BTreeMap<(u64, u64), ActorKey>,
    seq: u64,
    /// Items the map held at most right after it last grew (7/8 of its buckets); it is kept at
    /// most half that full, so that hashbrown never reallocates on its own.
    map_full: usize,
    capacity: usize,
    budget: Budget,
    /// Changes whenever an entry is added or extended, so hosts republish only on change.
    generation: u64,
}

impl Blocklist {
    /// At most `capacity` blocks within `budget_bytes`.
    pub fn new(seed: u64, capacity: usize, budget_bytes: usize) -> Self {
        Blocklist {
            map: HashMap::with_hasher(SeededState::new(seed ^ 0xB10C)),
            by_end: BTreeMap::new(),
            seq: 0,
            map_full: 0,
            capacity: capacity.max(1),
            budget: Budget::new(budget_bytes),
            generation: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Bytes held, by the list's own accounting.
    pub fn bytes(&self) -> usize {
        self.budget.used
    }

    /// The status to answer with if `key` is blocked at `now_ms`.
    #[inline]
    pub fn check(&self, now_ms: u64, key: &ActorKey) -> Option<u16> {
        self.get(now_ms, key).map(|b| b.status)
    }

    /// The block on `key` in force at `now_ms`, if any.
    #[inline]
    pub fn get(&self, now_ms: u64, key: &ActorKey) -> Option<Block> {
        if self.map.is_empty() {
            return None;
        }
        self.map
            .get(key)
            .map(|e| e.block)
            .filter(|b| now_ms < b.until_ms)
    }

    /// Blocks `key` until `until_ms`, extending an existing block (or changing its status when
    /// it ends at the same time). When full (`capacity`, or the budget), the block that ends
    /// soonest makes room: O(log n).
    pub fn insert(&mut self, key: &ActorKey, until_ms: u64, status: u16) {
        if let Some(e) = self.map.get_mut(key) {
            let changed = until_ms > e.block.until_ms
                || (until_ms == e.block.until_ms && status != e.block.status);
            if changed {
                self.by_end.remove(&(e.block.until_ms, e.seq));
                self.seq += 1;
                *e = Entry {
                    block: Block { until_ms, status },
                    seq: self.seq,
                };
                self.by_end.insert((until_ms, self.seq), key.clone());
                self.generation += 1;
            }
            return;
        }
        let entry_bytes = ordered_entry_bytes(key);
        loop {
            let room = self.map.len() < self.capacity;
            let growth = self.map_growth_bytes();
            if room && self.budget.fits(entry_bytes + growth) {
                break;
            }
            if !self.evict_soonest() {
                // Nothing left to evict and still no room: the list is smaller than one block.
                return;
            }
        }
        if self.map_growth_bytes() > 0 {
            let before = self.map.allocation_size();
            // Grow explicitly (more than the map holds makes hashbrown double it), so that the
            // map never reallocates outside this budget check.
            let target = (self.map_full + 1).max(8);
            self.map.reserve(target - self.map.len());
            self.map_full = self.map.capacity();
            self.budget.resize(before, self.map.allocation_size());
        }
        self.seq += 1;
        self.map.insert(
            key.clone(),
            Entry {
                block: Block { until_ms, status },
                seq: self.seq,
            },
        );
        self.by_end.insert((until_ms, self.seq), key.clone());
        self.budget.charge(entry_bytes);
        self.generation += 1;
    }

    /// Bytes the map's next size would allocate beside the current one, if the next block
    /// takes it past half full (where hashbrown may reallocate on its own).
    fn map_growth_bytes(&self) -> usize {
        if self.map.len() < self.map_full / 2 {
            0
        } else {
            self.map.allocation_size() * 2 + 64 * size_of::<(ActorKey, Entry)>()
        }
    }

    fn evict_soonest(&mut self) -> bool {
        let Some(((_, _), key)) = self.by_end.pop_first() else {
            return false;
        };
        self.map.remove(&key);
        self.budget.release(ordered_entry_bytes(&key));
        true
    }

    /// Forgets expired blocks; returns how many. O(log n) per block forgotten.
    pub fn prune(&mut self, now_ms: u64) -> usize {
        let mut n = 0;
        while self
            .by_end
            .first_key_value()
            .is_some_and(|((until, _), _)| *until <= now_ms)
        {
            self.evict_soonest();
            n += 1;
        }
        n
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ActorKey, &Block)> {
        self.map.iter().map(|(k, e)| (k, &e.block))
    }

    /// A versioned snapshot of the blocks still active at `now_ms`, for worker threads.
    pub fn encode(&self, now_ms: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.map.len() * 24);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.push(SNAPSHOT_VERSION);
        put_varint(&mut out, self.generation);
        let active: Vec<_> = self
            .map
            .iter()
            .filter(|(_, e)| now_ms < e.block.until_ms)
            .collect();
        put_varint(&mut out, active.len() as u64);
        for (key, e) in active {
            key.encode(&mut out);
            put_varint(&mut out, e.block.until_ms);
            put_varint(&mut out, u64::from(e.block.status));
        }
        out
    }

    /// Reads a snapshot written by [`Blocklist::encode`]: a copy for lookups and iteration (a
    /// worker's, an isolate's), bounded by the snapshot, that neither evicts nor prunes.
    pub fn decode(bytes: &[u8], seed: u64) -> Result<Blocklist, WireError> {
        let mut r = Reader::new(bytes);
        if r.take::<3>()? != *SNAPSHOT_MAGIC {
            return Err(WireError::BadMagic);
        }
        let version = r.byte()?;
        if version != SNAPSHOT_VERSION {
            return Err(WireError::UnsupportedVersion(version));
        }
        let generation = r.varint()?;
        let count = r.varint()?;
        let mut list = Blocklist::new(seed, usize::MAX, usize::MAX);
        for _ in 0..count {
            let key = ActorKey::decode(&mut r)?;
            let until_ms = r.varint()?;
            let status = u16::try_from(r.varint()?).map_err(|_| WireError::TooLarge)?;
            list.seq += 1;
            let entry = Entry {
                block: Block { until_ms, status },
                seq: list.seq,
            };
            list.map.insert(key, entry);
        }
        if !r.is_empty() {
            return Err(WireError::TooLarge);
        }
        list.generation = generation;
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn blocks_expire_exactly() {
        let mut b = Blocklist::new(1, 10, 1 << 20);
        let k = ActorKey::V4([1, 2, 3, 4]);
        b.insert(&k, 1000, 429);
        assert_eq!(b.check(999, &k), Some(429));
        assert_eq!(b.check(1000, &k), None);
        b.insert(&k, 500, 403); // shorter: ignored
        assert_eq!(b.check(999, &k), Some(429));
        b.insert(&k, 2000, 403);
        assert_eq!(b.check(1500, &k), Some(403));
        assert_eq!(b.prune(1999), 0);
        assert_eq!(b.prune(2000), 1);
        assert!(b.is_empty());
    }

    #[test]
    fn a_blocked_request_is_told_when_to_come_back_in_whole_seconds() {
        let block = Block {
            until_ms: 10_001,
            status: 403,
        };
        let reply = block.reply(1);
        assert_eq!((reply.status, reply.retry_after_secs), (403, Some(10)));
        assert_eq!(block.reply(2).retry_after_secs, Some(10));
        assert_eq!(
            block.reply(0).retry_after_secs,
            Some(11),
            "10.001 s rounds up"
        );
        assert_eq!(block.reply(20_000).retry_after_secs, Some(0));
        let body: serde_json::Value = serde_json::from_str(&reply.body()).unwrap();
        assert_eq!(body["retry_after_secs"], 10);
        assert_eq!(body["blocked_by"], "actorwatch");
        assert_eq!(reply.headers()[1], ("retry-after", "10".to_string()));
    }

    #[test]
    fn full_list_drops_the_block_ending_soonest() {
        let mut b = Blocklist::new(1, 2, 1 << 20);
        let (k1, k2, k3) = (
            ActorKey::V4([1; 4]),
            ActorKey::V4([2; 4]),
            ActorKey::V4([3; 4]),
        );
        b.insert(&k1, 300, 429);
        b.insert(&k2, 100, 429);
        b.insert(&k3, 200, 429);
        assert_eq!(b.len(), 2);
        assert_eq!(b.check(0, &k2), None);
        assert!(b.check(0, &k1).is_some() && b.check(0, &k3).is_some());
    }

    #[test]
    fn a_budget_bounds_the_list_and_the_soonest_ending_blocks_go() {
        let budget = 64 << 10;
        let mut b = Blocklist::new(1, usize::MAX, budget);
        let long = ActorKey::V6([7; 16]);
        b.insert(&long, u64::MAX, 403);
        for i in 0..100_000u32 {
            b.insert(&ActorKey::V4(i.to_be_bytes()), u64::from(i) + 1, 429);
            assert!(b.bytes() <= budget, "{} bytes after {i} blocks", b.bytes());
        }
        let kept = b.len();
        assert!(kept > 100, "only {kept} blocks fit in {budget} bytes");
        // The block ending last and the latest ones stay; the early ones made room.
        assert_eq!(b.check(0, &long), Some(403));
        assert_eq!(
            b.check(0, &ActorKey::V4(99_999u32.to_be_bytes())),
            Some(429)
        );
        assert_eq!(b.check(0, &ActorKey::V4(0u32.to_be_bytes())), None);
        assert_eq!(b.prune(100_000), kept - 1);
        assert_eq!((b.len(), b.by_end.len()), (1, 1));
    }

    #[test]
    fn snapshot_round_trips_active_blocks() {
        let mut b = Blocklist::new(1, 10, 1 << 20);
        let text = ActorKey::Text {
            source: 1,
            value: "acme".into(),
        };
        b.insert(&ActorKey::V6([7; 16]), 5000, 429);
        b.insert(&text, 9000, 403);
        b.insert(&ActorKey::V4([9; 4]), 100, 429);
        let bytes = b.encode(1000);
        let copy = Blocklist::decode(&bytes, 99).unwrap();
        assert_eq!(copy.len(), 2);
        assert_eq!(copy.generation(), b.generation());
        assert_eq!(copy.check(1000, &text), Some(403));
        assert_eq!(copy.check(1000, &ActorKey::V6([7; 16])), Some(429));
        for cut in 0..bytes.len() {
            assert!(Blocklist::decode(&bytes[..cut], 1).is_err(), "cut {cut}");
        }
    }
}
