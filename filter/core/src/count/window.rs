//! Exact sliding windows: for one key and rule, the times of its counted responses, sorted, kept
//! while they can still change a decision. One time sits inline in the key's words; from two on
//! they move to a ring of their own that grows with what it holds, up to the rule's threshold, so
//! a one-off actor costs three words whatever the threshold.
//!
//! A rule's words: `[len, last_event, time or ring id]`. Times are 32-bit offsets (ms) from a base
//! the detector owns; 0 means "never".

use crate::base::memory::Budget;
use crate::base::paged::Paged;
use crate::base::sizes::RING_PAGE;
use std::collections::VecDeque;

const LEN: usize = 0;
const LAST_EVENT: usize = 1;
const VALUE: usize = 2;
/// A ring's first allocation, in times.
const RING_MIN_CAPACITY: usize = 4;

/// Outcome of recording one time in a rule's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowResult {
    /// `threshold` times fall within `(t - window, t]`.
    pub flagged: bool,
    /// How many kept times fall within `(t - window, t]` (at most `threshold`).
    pub count: u32,
}

const NOT_KEPT: WindowResult = WindowResult {
    flagged: false,
    count: 0,
};

/// The rings of every key's windows that hold two or more times.
pub(crate) struct Rings {
    rings: Paged<VecDeque<u32>>,
    /// Ring ids whose storage was given back, for reuse.
    free: Vec<u32>,
}

fn ring_bytes(capacity: usize) -> usize {
    capacity * size_of::<u32>()
}

impl Rings {
    pub fn new() -> Self {
        Rings {
            rings: Paged::new(1, RING_PAGE),
            free: Vec::new(),
        }
    }

    /// Bytes held by the ring store itself (pages of ring headers and the free list); the rings'
    /// own storage is charged to the budget as it grows.
    fn store_bytes(&self) -> usize {
        self.rings.heap_bytes() + self.free.capacity() * size_of::<u32>()
    }

    fn ring(&self, w: &[u32]) -> Option<&VecDeque<u32>> {
        if w.get(LEN).copied().unwrap_or(0) < 2 {
            return None;
        }
        self.rings.get(*w.get(VALUE)? as usize)
    }

    /// A new empty ring with room for `capacity` times, charged to `budget`; `None` if it does
    /// not fit.
    fn open(&mut self, capacity: usize, budget: &mut Budget) -> Option<u32> {
        let store_before = self.store_bytes();
        let store_growth = if self.free.is_empty() {
            self.rings.growth_bytes(1)
        } else {
            0
        };
        if !budget.fits(store_growth + ring_bytes(capacity)) {
            return None;
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                let id = u32::try_from(self.rings.slots()).ok()?;
                self.rings.push(VecDeque::new());
                id
            }
        };
        let ring = self.rings.get_mut(id as usize)?;
        ring.reserve_exact(capacity);
        budget.charge(ring_bytes(ring.capacity()));
        budget.resize(store_before, self.store_bytes());
        Some(id)
    }

    /// Gives a ring's storage back.
    fn close(&mut self, id: u32, budget: &mut Budget) {
        let Some(ring) = self.rings.get_mut(id as usize) else {
            return;
        };
        budget.release(ring_bytes(ring.capacity()));
        *ring = VecDeque::new();
        // The free list only grows while it fits; an id it cannot hold is simply not reused.
        if self.free.len() < self.free.capacity() || budget.fits(self.free.capacity().max(4) * 8) {
            let before = self.free.capacity();
            self.free.push(id);
            budget.resize(
                before * size_of::<u32>(),
                self.free.capacity() * size_of::<u32>(),
            );
        }
    }

    /// Records a counted response at `t` (> 0) in a rule's words and says whether the window is
    /// full. Times are kept sorted; a time at or before `t - window` is dropped when a later
    /// time arrives in order (no later window can hold it), and when the ring holds `threshold`
    /// times the oldest makes room. A time older than every kept one in a full window can no
    /// longer change a decision and is not kept. `None`: the time could not be kept because the
    /// budget is full (the window is left as it was).
    pub fn record(
        &mut self,
        w: &mut [u32],
        threshold: u32,
        t: u32,
        window_ms: u32,
        budget: &mut Budget,
    ) -> Option<WindowResult> {
        let threshold = threshold.max(1) as usize;
        let lower = t.saturating_sub(window_ms);
        let len = w.get(LEN).copied()? as usize;
        let value = w.get(VALUE).copied()?;
        let (flagged, count) = match len {
            0 => {
                set(w, VALUE, t);
                set(w, LEN, 1);
                (threshold <= 1, 1)
            }
            1 if (t >= value && value <= lower) || threshold == 1 => {
                // The kept time left every window still to come, or only one time is needed.
                if t < value {
                    return Some(NOT_KEPT);
                }
                set(w, VALUE, t);
                (threshold <= 1, 1)
            }
            1 => {
                let id = self.open(RING_MIN_CAPACITY.min(threshold), budget)?;
                let ring = self.rings.get_mut(id as usize)?;
                ring.push_back(value.min(t));
                ring.push_back(value.max(t));
                set(w, VALUE, id);
                set(w, LEN, 2);
                let count = [value, t].iter().filter(|&&v| v > lower && v <= t).count();
                (count >= threshold, count as u32)
            }
            _ => return self.record_in_ring(w, threshold, t, lower, budget),
        };
        Some(WindowResult { flagged, count })
    }

    fn record_in_ring(
        &mut self,
        w: &mut [u32],
        threshold: usize,
        t: u32,
        lower: u32,
        budget: &mut Budget,
    ) -> Option<WindowResult> {
        let id = w.get(VALUE).copied()?;
        let ring = self.rings.get_mut(id as usize)?;
        let in_order = ring.back().is_none_or(|&newest| t >= newest);
        if in_order {
            while ring.front().is_some_and(|&v| v <= lower) {
                ring.pop_front();
            }
        }
        if ring.len() >= threshold {
            if ring.front().is_some_and(|&oldest| t < oldest) {
                return Some(NOT_KEPT);
            }
            ring.pop_front();
        }
        if ring.len() == ring.capacity() {
            let old = ring.capacity();
            let new = (old * 2).clamp(RING_MIN_CAPACITY, threshold);
            // Growing holds the old and the new storage at once.
            if !budget.fits(ring_bytes(new)) {
                return None;
            }
            ring.reserve_exact(new - ring.len());
            budget.resize(ring_bytes(old), ring_bytes(ring.capacity()));
        }
        let count = if in_order {
            // Every time left is after `lower` and at most `t`: all of them count.
            ring.push_back(t);
            ring.len()
        } else {
            let at = ring.partition_point(|&v| v <= t);
            ring.insert(at, t);
            at + 1 - ring.partition_point(|&v| v <= lower)
        };
        let len = ring.len();
        if len < 2 {
            let only = ring.front().copied().unwrap_or(t);
            self.close(id, budget);
            set(w, VALUE, only);
        } else {
            self.shrink(id, budget);
        }
        set(w, LEN, len as u32);
        Some(WindowResult {
            flagged: count >= threshold,
            count: count as u32,
        })
    }

    /// Gives back half a ring's storage once it holds less than a quarter of it.
    fn shrink(&mut self, id: u32, budget: &mut Budget) {
        let Some(ring) = self.rings.get_mut(id as usize) else {
            return;
        };
        let cap = ring.capacity();
        if cap <= RING_MIN_CAPACITY * 2 || ring.len() * 4 >= cap {
            return;
        }
        let new = (cap / 2).max(RING_MIN_CAPACITY);
        if budget.fits(ring_bytes(new)) {
            ring.shrink_to(new);
            budget.resize(ring_bytes(cap), ring_bytes(ring.capacity()));
        }
    }

    /// Kept times after `lower` (later times, merged out of order, count as inside).
    pub fn count_after(&self, w: &[u32], lower: u32) -> u32 {
        match self.ring(w) {
            Some(ring) => (ring.len() - ring.partition_point(|&v| v <= lower)) as u32,
            None if w.get(LEN).copied().unwrap_or(0) == 1 => {
                u32::from(w.get(VALUE).is_some_and(|&v| v > lower))
            }
            None => 0,
        }
    }

    /// Kept times, oldest first.
    pub fn times<'a>(&'a self, w: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
        let inline = match w.get(LEN).copied().unwrap_or(0) {
            1 => w.get(VALUE).copied(),
            _ => None,
        };
        let ring = self.ring(w).into_iter().flatten().copied();
        inline.into_iter().chain(ring)
    }

    /// Forgets the window's times (the cooldown stays).
    pub fn clear(&mut self, w: &mut [u32], budget: &mut Budget) {
        if w.get(LEN).copied().unwrap_or(0) >= 2 {
            if let Some(&id) = w.get(VALUE) {
                self.close(id, budget);
            }
        }
        set(w, LEN, 0);
        set(w, VALUE, 0);
    }

    /// Moves every kept time `shift` ms down (a new base); times that would fall below 1 become
    /// 1, older than any window, which the caller guarantees by the shift it picks.
    pub fn shift_down(&mut self, w: &mut [u32], shift: u32) {
        let down = |v: u32| v.saturating_sub(shift).max(1);
        match w.get(LEN).copied().unwrap_or(0) {
            0 => {}
            1 => {
                if let Some(v) = w.get_mut(VALUE) {
                    *v = down(*v);
                }
            }
            _ => {
                let id = w.get(VALUE).copied().unwrap_or(u32::MAX);
                if let Some(ring) = self.rings.get_mut(id as usize) {
                    ring.iter_mut().for_each(|v| *v = down(*v));
                }
            }
        }
    }
}

impl Default for Rings {
    fn default() -> Self {
        Rings::new()
    }
}

/// When this rule last raised an event (offset), 0 if never.
pub(crate) fn last_event(w: &[u32]) -> u32 {
    w.get(LAST_EVENT).copied().unwrap_or(0)
}

pub(crate) fn set_last_event(w: &mut [u32], t: u32) {
    set(w, LAST_EVENT, t);
}

fn set(w: &mut [u32], at: usize, v: u32) {
    if let Some(x) = w.get_mut(at) {
        *x = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn record(
        r: &mut Rings,
        w: &mut [u32; 3],
        threshold: u32,
        t: u32,
        b: &mut Budget,
    ) -> WindowResult {
        r.record(w, threshold, t, 1000, b).expect("fits")
    }

    #[test]
    fn window_boundaries_are_exact() {
        let (mut r, mut b, mut w) = (Rings::new(), Budget::new(1 << 20), [0u32; 3]);
        assert!(!record(&mut r, &mut w, 3, 1, &mut b).flagged);
        assert!(!record(&mut r, &mut w, 3, 500, &mut b).flagged);
        // Third response exactly `window` after the first: the first is out of (t - w, t].
        assert!(!record(&mut r, &mut w, 3, 1001, &mut b).flagged);
        // 500, 1001, 1499: all within (499, 1499].
        assert!(record(&mut r, &mut w, 3, 1499, &mut b).flagged);
        // 1001, 1499, 2001: 1001 is at exactly t - w, outside.
        assert!(!record(&mut r, &mut w, 3, 2001, &mut b).flagged);
    }

    #[test]
    fn out_of_order_times_stay_sorted() {
        let (mut r, mut b, mut w) = (Rings::new(), Budget::new(1 << 20), [0u32; 3]);
        record(&mut r, &mut w, 3, 300, &mut b);
        record(&mut r, &mut w, 3, 100, &mut b);
        // At t=200 only 100 and 200 are <= t.
        assert_eq!(
            record(&mut r, &mut w, 3, 200, &mut b),
            WindowResult {
                flagged: false,
                count: 2
            }
        );
        assert_eq!(r.times(&w).collect::<Vec<_>>(), vec![100, 200, 300]);
        assert!(record(&mut r, &mut w, 3, 400, &mut b).flagged);
        // Older than every kept time in a full window: ignored.
        assert_eq!(record(&mut r, &mut w, 3, 50, &mut b).count, 0);
    }

    #[test]
    fn storage_grows_with_what_the_window_holds_and_shrinks_back() {
        let (mut r, mut b, mut w) = (Rings::new(), Budget::new(1 << 20), [0u32; 3]);
        // One time: inline, no storage at all, whatever the threshold.
        record(&mut r, &mut w, 10_000, 1, &mut b);
        assert_eq!(b.used, 0);
        // 1,000 times within one window: a ring of about that many times.
        for t in 2..=1000 {
            record(&mut r, &mut w, 10_000, t, &mut b);
        }
        assert_eq!(r.times(&w).count(), 1000);
        let ring_storage = b.used - r.store_bytes();
        assert!((4000..=8192).contains(&ring_storage), "{ring_storage}");
        // Much later, in order: every old time leaves, the ring is given back.
        let res = record(&mut r, &mut w, 10_000, 5000, &mut b);
        assert_eq!(res.count, 1);
        assert_eq!(r.times(&w).collect::<Vec<_>>(), vec![5000]);
        assert_eq!(b.used, r.store_bytes());
    }

    #[test]
    fn a_full_budget_keeps_the_window_as_it_was() {
        let (mut r, mut w) = (Rings::new(), [0u32; 3]);
        let mut b = Budget::new(0);
        assert_eq!(
            r.record(&mut w, 5, 10, 1000, &mut b).map(|x| x.count),
            Some(1)
        );
        // A second time needs a ring, which does not fit.
        assert_eq!(r.record(&mut w, 5, 20, 1000, &mut b), None);
        assert_eq!(r.times(&w).collect::<Vec<_>>(), vec![10]);
    }

    #[test]
    fn the_threshold_caps_what_is_kept() {
        let (mut r, mut b, mut w) = (Rings::new(), Budget::new(1 << 20), [0u32; 3]);
        for t in 1..=10 {
            record(&mut r, &mut w, 4, t, &mut b);
        }
        assert_eq!(r.times(&w).collect::<Vec<_>>(), vec![7, 8, 9, 10]);
        assert_eq!(r.count_after(&w, 8), 2);
        r.shift_down(&mut w, 8);
        assert_eq!(r.times(&w).collect::<Vec<_>>(), vec![1, 1, 1, 2]);
        r.clear(&mut w, &mut b);
        assert_eq!(r.times(&w).count(), 0);
        assert_eq!(b.used, r.store_bytes());
    }
}
