//! Samples: per tracked key, the latest counted requests that may still appear in an event,
//! within their share of the memory budget (beyond it new samples are skipped and counted).

use crate::base::memory::Budget;
use crate::base::paged::Paged;
use std::collections::VecDeque;
use std::sync::Arc;

const PAGE: usize = 1024;
/// The reference count header an `Arc<str>` allocates beside its text.
const ARC_HEADER_BYTES: usize = 2 * size_of::<usize>();

pub(crate) struct Sample {
    pub ts_ms: u64,
    pub status: u16,
    pub orig: Arc<str>,
}

fn sample_bytes(orig: &str) -> usize {
    orig.len() + ARC_HEADER_BYTES
}

/// Samples of the keys of one table, by slot.
pub(crate) struct SampleStore {
    /// Ring id + 1 per slot; 0: none.
    refs: Paged<u32>,
    rings: Paged<VecDeque<Sample>>,
    free: Vec<u32>,
    budget: Budget,
    pub skipped: u64,
}

impl SampleStore {
    pub fn new(budget_bytes: usize) -> Self {
        SampleStore {
            refs: Paged::new(1, PAGE),
            rings: Paged::new(1, PAGE / 4),
            free: Vec::new(),
            budget: Budget::new(budget_bytes),
            skipped: 0,
        }
    }

    pub fn bytes(&self) -> usize {
        self.budget.used
    }

    fn store_bytes(&self) -> usize {
        self.refs.heap_bytes() + self.rings.heap_bytes() + self.free.capacity() * size_of::<u32>()
    }

    fn ring_id(&self, slot: u32) -> Option<u32> {
        self.refs.get(slot as usize)?.checked_sub(1)
    }

    /// The samples kept for `slot`, oldest first.
    pub fn of(&self, slot: u32) -> Option<&VecDeque<Sample>> {
        self.rings.get(self.ring_id(slot)? as usize)
    }

    /// Keeps `sample` as the newest of `slot`'s at most `per_key`; skipped (and counted) when
    /// it does not fit the budget.
    pub fn keep(&mut self, slot: u32, per_key: usize, sample: Sample) {
        let need = sample_bytes(&sample.orig);
        let ring_id = match self.ring_id(slot) {
            Some(id) => id,
            None => match self.open(slot, per_key, need) {
                Some(id) => id,
                None => {
                    self.skipped += 1;
                    return;
                }
            },
        };
        let Some(ring) = self.rings.get_mut(ring_id as usize) else {
            return;
        };
        if ring.len() >= per_key {
            if let Some(old) = ring.pop_front() {
                self.budget.release(sample_bytes(&old.orig));
            }
        }
        if !self.budget.fits(need) || ring.len() >= ring.capacity() {
            self.skipped += 1;
            return;
        }
        self.budget.charge(need);
        ring.push_back(sample);
    }

    /// A ring of `per_key` samples for `slot`, if it and a first sample of `first` bytes fit.
    fn open(&mut self, slot: u32, per_key: usize, first: usize) -> Option<u32> {
        let before = self.store_bytes();
        let refs_needed = (slot as usize + 1).saturating_sub(self.refs.slots());
        let growth = self.refs.growth_bytes(refs_needed)
            + if self.free.is_empty() {
                self.rings.growth_bytes(1)
            } else {
                0
            };
        let ring = per_key * size_of::<Sample>();
        if !self.budget.fits(growth + ring + first) {
            return None;
        }
        for _ in 0..refs_needed {
            self.refs.push(0);
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                let id = u32::try_from(self.rings.slots()).ok()?;
                self.rings.push(VecDeque::new());
                id
            }
        };
        if let Some(r) = self.rings.get_mut(id as usize) {
            r.reserve_exact(per_key);
            self.budget.charge(r.capacity() * size_of::<Sample>());
        }
        if let Some(r) = self.refs.get_mut(slot as usize) {
            *r = id + 1;
        }
        self.budget.resize(before, self.store_bytes());
        Some(id)
    }

    /// Forgets `slot`'s samples (a new key took the slot).
    pub fn clear(&mut self, slot: u32) {
        let Some(id) = self.ring_id(slot) else {
            return;
        };
        if let Some(r) = self.refs.get_mut(slot as usize) {
            *r = 0;
        }
        let Some(ring) = self.rings.get_mut(id as usize) else {
            return;
        };
        let held: usize = ring.iter().map(|s| sample_bytes(&s.orig)).sum();
        self.budget
            .release(held + ring.capacity() * size_of::<Sample>());
        *ring = VecDeque::new();
        let before = self.free.capacity();
        if self.free.len() < before || self.budget.fits((before * 2).max(4) * 4) {
            self.free.push(id);
            self.budget.resize(
                before * size_of::<u32>(),
                self.free.capacity() * size_of::<u32>(),
            );
        }
    }

    /// Forgets every sample (after the clock stepped back).
    pub fn clear_all(&mut self) {
        for slot in 0..self.refs.slots() as u32 {
            self.clear(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn sample(ts_ms: u64, text: &str) -> Sample {
        Sample {
            ts_ms,
            status: 404,
            orig: text.into(),
        }
    }

    #[test]
    fn keeps_the_latest_per_key_and_gives_bytes_back() {
        let mut s = SampleStore::new(1 << 20);
        for i in 0..5 {
            s.keep(3, 2, sample(i, "abc"));
        }
        let ts: Vec<u64> = s.of(3).unwrap().iter().map(|x| x.ts_ms).collect();
        assert_eq!(ts, vec![3, 4]);
        assert!(s.of(2).is_none());
        let with_samples = s.bytes();
        s.clear(3);
        assert!(s.of(3).is_none());
        assert!(s.bytes() < with_samples);
        assert_eq!(s.bytes(), s.store_bytes());
        // The freed ring is reused.
        s.keep(7, 2, sample(9, "x"));
        assert_eq!(s.rings.slots(), 1);
    }

    #[test]
    fn a_full_budget_skips_and_counts() {
        let big = "x".repeat(4 << 10);
        let mut probe = SampleStore::new(1 << 20);
        probe.keep(0, 4, sample(1, &big));
        // Room for the store's first pages, one ring and one large sample, and 1 KiB: not two.
        let mut s = SampleStore::new(probe.bytes() + 1024);
        s.keep(0, 4, sample(1, &big));
        s.keep(0, 4, sample(2, &big));
        s.keep(1, 4, sample(3, "small"));
        assert!(s.bytes() <= probe.bytes() + 1024, "{}", s.bytes());
        assert_eq!(s.skipped, 1);
        assert_eq!(s.of(0).map(|r| r.len()), Some(1));
        assert_eq!(s.of(1).map(|r| r.len()), Some(1));
    }
}
