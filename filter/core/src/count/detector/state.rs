//! Snapshots of a detector's counting state (windows, cooldowns, blocks), for hosts whose
//! counting objects can be evicted and must not forget their actors (the Worker's Durable
//! Objects). Samples are not kept: after a restore, events carry the samples seen since.
//!
//! Format, version 1 (little-endian varints, see `record`): magic "AWS", version, a fingerprint
//! of the rules, the clock (window base, cooldown base, latest time; 0 = none), the per-API
//! hasher's keys, then per key shape (per actor, per API) a presence byte, a key count and each
//! key (actor, API hash for per-API keys) with, per rule of that shape, its last event and its
//! kept times (count, first, then gaps), and finally the blocklist snapshot.

use crate::base::hash::SeededState;
use crate::base::memory::HeapSize;
use crate::base::sizes::WORDS_PER_RULE;
use crate::base::wire::{put_varint, Reader, WireError};
use crate::count::blocklist::Blocklist;
use crate::count::detector::{Detector, Group};
use crate::count::table::Now;
use crate::model::actor::ActorKey;
use crate::model::config::Config;
use crate::protocol::actor_wire::ActorWire;
use std::hash::Hash;

const MAGIC: &[u8; 3] = b"AWS";
const VERSION: u8 = 1;

/// A key as snapshots write it.
trait SnapshotKey: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn read(r: &mut Reader) -> Result<Self, WireError>;
}

impl SnapshotKey for ActorKey {
    fn put(&self, out: &mut Vec<u8>) {
        self.encode(out);
    }
    fn read(r: &mut Reader) -> Result<Self, WireError> {
        ActorKey::decode(r)
    }
}

impl SnapshotKey for (ActorKey, u64) {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
        put_varint(out, self.1);
    }
    fn read(r: &mut Reader) -> Result<Self, WireError> {
        Ok((ActorKey::decode(r)?, r.varint()?))
    }
}

/// What a snapshot must match to be restored: the rules' ids, shapes, thresholds and windows.
fn fingerprint(cfg: &Config) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for r in &cfg.rules {
        eat(r.id.as_bytes());
        eat(&[r.per as u8]);
        eat(&r.threshold.to_le_bytes());
        eat(&r.window_secs.to_le_bytes());
        eat(&r.cooldown_secs.to_le_bytes());
    }
    h
}

fn put_group<K: SnapshotKey + Hash + Eq + Clone + HeapSize>(
    out: &mut Vec<u8>,
    group: Option<&Group<K>>,
) {
    let Some(g) = group else {
        out.push(0);
        return;
    };
    out.push(1);
    put_varint(out, g.table.len() as u64);
    let mut times = Vec::new();
    for (key, words) in g.table.entries() {
        key.put(out);
        for lay in &g.layouts {
            let w = words
                .get(lay.offset..lay.offset + WORDS_PER_RULE)
                .unwrap_or(&[]);
            put_varint(out, u64::from(w.get(1).copied().unwrap_or(0)));
            times.clear();
            times.extend(g.table.times(w));
            put_varint(out, times.len() as u64);
            let mut previous = 0u32;
            for &t in &times {
                put_varint(out, u64::from(t.saturating_sub(previous)));
                previous = t;
            }
        }
    }
}

fn read_group<K: SnapshotKey + Hash + Eq + Clone + HeapSize>(
    r: &mut Reader,
    group: Option<&mut Group<K>>,
    now: Now,
) -> Result<usize, WireError> {
    let present = r.byte()? == 1;
    if present != group.is_some() {
        return Err(WireError::OtherConfig);
    }
    let Some(g) = group else {
        return Ok(0);
    };
    let count = r.varint()?;
    let mut restored = 0;
    let mut times: Vec<u32> = Vec::new();
    for _ in 0..count {
        let key = K::read(r)?;
        let slot = g.table.upsert(&key, now).map(|up| up.slot);
        for lay in g.layouts.clone() {
            let last_event = u32::try_from(r.varint()?).map_err(|_| WireError::TooLarge)?;
            let n = r.varint()?;
            if n > u64::from(lay.threshold) {
                return Err(WireError::TooLarge);
            }
            times.clear();
            let mut t = 0u32;
            for _ in 0..n {
                let gap = u32::try_from(r.varint()?).map_err(|_| WireError::TooLarge)?;
                t = t.checked_add(gap).ok_or(WireError::TooLarge)?;
                times.push(t);
            }
            if let Some(slot) = slot {
                g.table.load(slot, lay, last_event, &times);
            }
        }
        restored += usize::from(slot.is_some());
    }
    Ok(restored)
}

impl Detector {
    /// The counting state as bytes (see the module documentation); `now_ms` drops expired
    /// blocks.
    pub fn export_state(&self, now_ms: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.tracked() * 16);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        put_varint(&mut out, fingerprint(&self.cfg));
        put_varint(&mut out, self.window_base.get().unwrap_or(0));
        put_varint(&mut out, self.cooldown_base.get().unwrap_or(0));
        put_varint(&mut out, self.clock.high_ms);
        for k in self.api_hasher.keys() {
            out.extend_from_slice(&k.to_le_bytes());
        }
        put_group(&mut out, self.per_actor.as_ref());
        put_group(&mut out, self.per_api.as_ref());
        let blocks = self.blocks.encode(now_ms);
        put_varint(&mut out, blocks.len() as u64);
        out.extend_from_slice(&blocks);
        out
    }

    /// Restores a state written by [`Detector::export_state`] into a detector that has counted
    /// nothing yet, with the same rules; returns the keys restored. A snapshot of other rules is
    /// refused ([`WireError::OtherConfig`]): the host starts afresh.
    pub fn import_state(&mut self, bytes: &[u8]) -> Result<usize, WireError> {
        let mut r = Reader::new(bytes);
        if r.take::<3>()? != *MAGIC {
            return Err(WireError::BadMagic);
        }
        let version = r.byte()?;
        if version != VERSION {
            return Err(WireError::UnsupportedVersion(version));
        }
        if r.varint()? != fingerprint(&self.cfg) {
            return Err(WireError::OtherConfig);
        }
        let nonzero = |v: u64| (v != 0).then_some(v);
        self.window_base.set(nonzero(r.varint()?));
        self.cooldown_base.set(nonzero(r.varint()?));
        self.clock.high_ms = r.varint()?;
        let k0 = u64::from_le_bytes(r.take::<8>()?);
        let k1 = u64::from_le_bytes(r.take::<8>()?);
        self.api_hasher = SeededState::from_keys([k0, k1]);
        // Restored keys are most recently active in snapshot order; eviction may use any time.
        let now = Now {
            window: u32::MAX,
            cooldown: u32::MAX,
        };
        let mut restored = read_group(&mut r, self.per_actor.as_mut(), now)?;
        restored += read_group(&mut r, self.per_api.as_mut(), now)?;
        let blocks = r.bytes()?;
        let list = Blocklist::decode(blocks, 0)?;
        for (key, block) in list.iter() {
            self.blocks.insert(key, block.until_ms, block.status);
        }
        if !r.is_empty() {
            return Err(WireError::TooLarge);
        }
        Ok(restored)
    }
}
