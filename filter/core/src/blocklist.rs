//! Actors blocked until a deadline, and the snapshot format that carries them to workers.

use crate::actor::ActorKey;
use crate::hash::SeededState;
use crate::record::{put_actor, put_varint, DeltaError, Reader};
use hashbrown::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub until_ms: u64,
    pub status: u16,
}

const SNAPSHOT_MAGIC: &[u8; 3] = b"AWB";
const SNAPSHOT_VERSION: u8 = 1;

#[derive(Debug, Clone)]
pub struct Blocklist {
    map: HashMap<ActorKey, Block, SeededState>,
    capacity: usize,
    /// Changes whenever an entry is added or extended, so hosts republish only on change.
    generation: u64,
}

impl Blocklist {
    pub fn new(seed: u64, capacity: usize) -> Self {
        Blocklist {
            map: HashMap::with_hasher(SeededState::new(seed ^ 0xB10C)),
            capacity: capacity.max(1),
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

    /// The status to answer with if `key` is blocked at `now_ms`.
    #[inline]
    pub fn check(&self, now_ms: u64, key: &ActorKey) -> Option<u16> {
        if self.map.is_empty() {
            return None;
        }
        self.map
            .get(key)
            .filter(|b| now_ms < b.until_ms)
            .map(|b| b.status)
    }

    /// The block on `key` in force at `now_ms`, if any.
    pub fn get(&self, now_ms: u64, key: &ActorKey) -> Option<Block> {
        if self.map.is_empty() {
            return None;
        }
        self.map.get(key).filter(|b| now_ms < b.until_ms).copied()
    }

    /// Blocks `key` until `until_ms`, extending an existing block. When full, the block that
    /// ends soonest makes room.
    pub fn insert(&mut self, key: &ActorKey, until_ms: u64, status: u16) {
        if let Some(b) = self.map.get_mut(key) {
            if until_ms > b.until_ms {
                *b = Block { until_ms, status };
                self.generation += 1;
            }
            return;
        }
        if self.map.len() >= self.capacity {
            let soonest = self
                .map
                .iter()
                .min_by_key(|(_, b)| b.until_ms)
                .map(|(k, _)| k.clone());
            if let Some(k) = soonest {
                self.map.remove(&k);
            }
        }
        self.map.insert(key.clone(), Block { until_ms, status });
        self.generation += 1;
    }

    /// Forgets expired blocks; returns how many.
    pub fn prune(&mut self, now_ms: u64) -> usize {
        let before = self.map.len();
        self.map.retain(|_, b| now_ms < b.until_ms);
        before - self.map.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ActorKey, &Block)> {
        self.map.iter()
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
            .filter(|(_, b)| now_ms < b.until_ms)
            .collect();
        put_varint(&mut out, active.len() as u64);
        for (key, block) in active {
            put_actor(&mut out, key);
            put_varint(&mut out, block.until_ms);
            put_varint(&mut out, u64::from(block.status));
        }
        out
    }

    /// Reads a snapshot written by [`Blocklist::encode`].
    pub fn decode(bytes: &[u8], seed: u64) -> Result<Blocklist, DeltaError> {
        let mut r = Reader::new(bytes);
        if r.take::<3>()? != *SNAPSHOT_MAGIC {
            return Err(DeltaError::BadMagic);
        }
        let version = r.byte()?;
        if version != SNAPSHOT_VERSION {
            return Err(DeltaError::UnsupportedVersion(version));
        }
        let generation = r.varint()?;
        let count = r.varint()?;
        let mut list = Blocklist::new(seed, usize::MAX);
        for _ in 0..count {
            let key = r.actor()?;
            let until_ms = r.varint()?;
            let status = u16::try_from(r.varint()?).map_err(|_| DeltaError::TooLarge)?;
            list.map.insert(key, Block { until_ms, status });
        }
        if !r.is_empty() {
            return Err(DeltaError::TooLarge);
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
        let mut b = Blocklist::new(1, 10);
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
    fn full_list_drops_the_block_ending_soonest() {
        let mut b = Blocklist::new(1, 2);
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
    fn snapshot_round_trips_active_blocks() {
        let mut b = Blocklist::new(1, 10);
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
