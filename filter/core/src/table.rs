//! Bounded per-key counters with exact sliding windows, least-recently-active eviction that
//! spares keys close to their threshold or in a cooldown.
//!
//! Memory layout, chosen for bytes per actor: keys, LRU links and window words live in flat
//! vectors indexed by slot; the hash index holds only 4-byte slot numbers. Times are 32-bit
//! millisecond offsets from a base the owner re-bases (see [`Table::rebase`]).

use crate::hash::SeededState;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash};

const NIL: u32 = u32::MAX;
/// Least recently active keys looked at per eviction before one must go.
const EVICTION_SCAN: usize = 8;

/// What makes a key worth keeping for one rule: counted responses in its window, or a
/// cooldown still running.
#[derive(Debug, Clone, Copy)]
pub struct Protection {
    pub rule: RuleLayout,
    pub window_ms: u32,
    pub cooldown_ms: u32,
}

/// Where one rule's state sits inside a slot's words:
/// `[len | head << 16, last_event, ring[threshold]]`.
#[derive(Debug, Clone, Copy)]
pub struct RuleLayout {
    pub offset: usize,
    pub threshold: usize,
}

impl RuleLayout {
    const HEADER_WORDS: usize = 2;

    /// Where this rule's words sit inside a slot's words.
    fn span(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + Self::HEADER_WORDS + self.threshold
    }
}

/// How many of a rule's kept timestamps fall in `(lower, upper]` (`words` as laid out by
/// [`RuleLayout`]).
fn count_between(words: &[u32], lower: u32, upper: u32) -> u32 {
    let header = words.first().copied().unwrap_or(0);
    let ring = words.get(RuleLayout::HEADER_WORDS..).unwrap_or(&[]);
    let (len, head) = ((header & 0xffff) as usize, (header >> 16) as usize);
    (0..len)
        .filter_map(|i| ring.get((head + i) % ring.len().max(1)))
        .filter(|&&v| v > lower && v <= upper)
        .count() as u32
}

/// Words per slot for a set of thresholds, and the layout of each.
pub fn layout(thresholds: &[u32]) -> (Vec<RuleLayout>, usize) {
    let mut offset = 0;
    let mut out = Vec::with_capacity(thresholds.len());
    for t in thresholds {
        let threshold = *t as usize;
        out.push(RuleLayout { offset, threshold });
        offset += RuleLayout::HEADER_WORDS + threshold;
    }
    (out, offset)
}

/// Outcome of recording one timestamp in a rule's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowResult {
    /// `threshold` timestamps fall within `(t - window, t]`.
    pub flagged: bool,
    /// How many kept timestamps fall within `(t - window, t]` (at most `threshold`).
    pub count: u32,
}

pub struct Table<K> {
    hasher: SeededState,
    index: HashTable<u32>,
    keys: Vec<K>,
    /// `prev`, `next` per slot; head is most recently active.
    links: Vec<[u32; 2]>,
    words: Vec<u32>,
    stride: usize,
    head: u32,
    tail: u32,
    free: Vec<u32>,
    capacity: usize,
    protections: Vec<Protection>,
    pub evictions: u64,
    /// New keys not admitted: the table was full of keys in a cooldown.
    pub refused: u64,
}

enum Eviction<K> {
    Evicted(K),
    Empty,
    AllCooling,
}

/// A slot number, valid until the next insertion.
pub type Slot = u32;

/// Where a key lives now, whether it was just created, and which key was evicted for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upsert<K> {
    pub slot: Slot,
    pub new: bool,
    pub evicted: Option<K>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    pub fn new(hasher: SeededState, stride: usize, capacity: usize) -> Self {
        Table {
            hasher,
            index: HashTable::new(),
            keys: Vec::new(),
            links: Vec::new(),
            words: Vec::new(),
            stride,
            head: NIL,
            tail: NIL,
            free: Vec::new(),
            capacity,
            protections: Vec::new(),
            evictions: 0,
            refused: 0,
        }
    }

    /// Makes eviction spare keys that hold more than one counted response in a rule's window
    /// or whose cooldown is running: a flood of one-off keys cannot push out an actor close to
    /// its threshold, or make a flagged one alert again.
    pub fn with_protections(mut self, protections: Vec<Protection>) -> Self {
        self.protections = protections;
        self
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    #[cfg(test)]
    pub fn find(&self, key: &K) -> Option<Slot> {
        let hash = self.hasher.hash_one(key);
        self.index
            .find(hash, |&slot| self.keys.get(slot as usize) == Some(key))
            .copied()
    }

    /// The slot of `key`, created (evicting a key when full, see [`Table::evict`]) if new, and
    /// marked most recently active. `t` is now, as an offset. `None`: a new key when the table
    /// is full of keys in a cooldown; evicting one would let it alert again.
    pub fn upsert(&mut self, key: &K, t: u32) -> Option<Upsert<K>> {
        let hash = self.hasher.hash_one(key);
        if let Some(&slot) = self
            .index
            .find(hash, |&s| self.keys.get(s as usize) == Some(key))
        {
            self.touch(slot);
            return Some(Upsert {
                slot,
                new: false,
                evicted: None,
            });
        }
        let mut evicted = None;
        if self.index.len() >= self.capacity {
            match self.evict(t) {
                Eviction::Evicted(key) => evicted = Some(key),
                Eviction::Empty => {}
                Eviction::AllCooling => {
                    self.refused += 1;
                    return None;
                }
            }
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(k) = self.keys.get_mut(slot as usize) {
                    *k = key.clone();
                }
                let start = slot as usize * self.stride;
                if let Some(w) = self.words.get_mut(start..start + self.stride) {
                    w.fill(0);
                }
                slot
            }
            None => {
                let slot = self.keys.len() as u32;
                self.keys.push(key.clone());
                self.links.push([NIL, NIL]);
                self.words.resize(self.words.len() + self.stride, 0);
                slot
            }
        };
        let keys = &self.keys;
        let hasher = &self.hasher;
        self.index
            .insert_unique(hash, slot, |&s| match keys.get(s as usize) {
                Some(k) => hasher.hash_one(k),
                None => 0,
            });
        self.push_front(slot);
        Some(Upsert {
            slot,
            new: true,
            evicted,
        })
    }

    /// Evicts the least recently active key that is not worth keeping. Keys worth keeping get
    /// a second chance (they become most recently active); after [`EVICTION_SCAN`] of them the
    /// least valuable of those goes, unless all of them are in a cooldown. The work per
    /// eviction is bounded.
    fn evict(&mut self, t: u32) -> Eviction<K> {
        let mut least: Option<(u64, Slot)> = None;
        for _ in 0..EVICTION_SCAN {
            let slot = self.tail;
            if slot == NIL {
                break;
            }
            let worth = self.worth(slot, t);
            if worth == 0 {
                return self
                    .evict_slot(slot)
                    .map_or(Eviction::Empty, Eviction::Evicted);
            }
            if least.is_none_or(|(w, _)| worth < w) {
                least = Some((worth, slot));
            }
            self.touch(slot);
        }
        match least {
            None => Eviction::Empty,
            Some((u64::MAX, _)) => Eviction::AllCooling,
            Some((_, slot)) => self
                .evict_slot(slot)
                .map_or(Eviction::Empty, Eviction::Evicted),
        }
    }

    /// 0 for a key worth nothing (at most one counted response in every window, no cooldown
    /// running); else how close it is to a threshold, in thousandths, or `u64::MAX` in a
    /// cooldown.
    fn worth(&self, slot: Slot, t: u32) -> u64 {
        let mut best = 0;
        for p in &self.protections {
            let start = slot as usize * self.stride;
            let Some(w) = self.words.get(start..).and_then(|w| w.get(p.rule.span())) else {
                continue;
            };
            let last_event = w.get(1).copied().unwrap_or(0);
            if last_event != 0 && t >= last_event && t - last_event < p.cooldown_ms {
                return u64::MAX;
            }
            // Later timestamps (records merged out of order) count as inside the window.
            let count = u64::from(count_between(w, t.saturating_sub(p.window_ms), u32::MAX));
            if count > 1 {
                best = best.max(count * 1000 / p.rule.threshold.max(1) as u64);
            }
        }
        best
    }

    fn evict_slot(&mut self, slot: Slot) -> Option<K> {
        let key = self.keys.get(slot as usize)?.clone();
        let hash = self.hasher.hash_one(&key);
        if let Ok(entry) = self.index.find_entry(hash, |&s| s == slot) {
            entry.remove();
        }
        self.unlink(slot);
        self.free.push(slot);
        self.evictions += 1;
        Some(key)
    }

    fn touch(&mut self, slot: Slot) {
        if self.head != slot {
            self.unlink(slot);
            self.push_front(slot);
        }
    }

    fn unlink(&mut self, slot: Slot) {
        let [prev, next] = self.links.get(slot as usize).copied().unwrap_or([NIL, NIL]);
        match self.links.get_mut(prev as usize) {
            Some(p) => p[1] = next,
            None => self.head = next,
        }
        match self.links.get_mut(next as usize) {
            Some(n) => n[0] = prev,
            None => self.tail = prev,
        }
        if let Some(l) = self.links.get_mut(slot as usize) {
            *l = [NIL, NIL];
        }
    }

    fn push_front(&mut self, slot: Slot) {
        let old_head = self.head;
        if let Some(l) = self.links.get_mut(slot as usize) {
            *l = [NIL, old_head];
        }
        match self.links.get_mut(old_head as usize) {
            Some(h) => h[0] = slot,
            None => self.tail = slot,
        }
        self.head = slot;
    }

    fn rule_words(&mut self, slot: Slot, rule: RuleLayout) -> Option<&mut [u32]> {
        let start = slot as usize * self.stride;
        self.words.get_mut(start..)?.get_mut(rule.span())
    }

    /// Records a response at offset `t` (> 0) and says whether the window is full.
    /// Timestamps are kept sorted; one older than every kept one in a full window can no
    /// longer change any decision and is not kept.
    pub fn record(&mut self, slot: Slot, rule: RuleLayout, t: u32, window_ms: u32) -> WindowResult {
        let none = WindowResult {
            flagged: false,
            count: 0,
        };
        let Some(w) = self.rule_words(slot, rule) else {
            return none;
        };
        let Some((header, ring)) = w.split_first_mut() else {
            return none;
        };
        let Some((_last_event, ring)) = ring.split_first_mut() else {
            return none;
        };
        let cap = ring.len();
        if cap == 0 {
            return none;
        }
        let mut len = (*header & 0xffff) as usize;
        let mut head = (*header >> 16) as usize;
        let at = |head: usize, i: usize| (head + i) % cap;
        if len == cap {
            let oldest = ring.get(head).copied().unwrap_or(0);
            if t < oldest {
                return none;
            }
            head = at(head, 1);
            len -= 1;
        }
        // Append, then move back to keep order (out-of-order arrivals are rare and short).
        let mut pos = len;
        if let Some(v) = ring.get_mut(at(head, pos)) {
            *v = t;
        }
        while pos > 0 {
            let (a, b) = (at(head, pos - 1), at(head, pos));
            let (pa, pb) = (
                ring.get(a).copied().unwrap_or(0),
                ring.get(b).copied().unwrap_or(0),
            );
            if pa <= pb {
                break;
            }
            ring.swap(a, b);
            pos -= 1;
        }
        len += 1;
        *header = (len as u32) | ((head as u32) << 16);
        let count = count_between(w, t.saturating_sub(window_ms), t);
        WindowResult {
            flagged: count as usize >= cap,
            count,
        }
    }

    /// When the last event for this rule was raised (offset), 0 if never.
    pub fn last_event(&mut self, slot: Slot, rule: RuleLayout) -> u32 {
        self.rule_words(slot, rule)
            .and_then(|w| w.get(1).copied())
            .unwrap_or(0)
    }

    pub fn set_last_event(&mut self, slot: Slot, rule: RuleLayout, t: u32) {
        if let Some(v) = self.rule_words(slot, rule).and_then(|w| w.get_mut(1)) {
            *v = t;
        }
    }

    /// Shifts every stored time down by `shift`; times that would fall below 1 become 1
    /// (older than any window or cooldown, which the owner guarantees by the shift it picks).
    pub fn rebase(&mut self, layouts: &[RuleLayout], shift: u32) {
        for slot in self.words.chunks_mut(self.stride.max(1)) {
            for rule in layouts {
                let Some(w) = slot.get_mut(rule.span()) else {
                    continue;
                };
                for v in w.iter_mut().skip(1) {
                    if *v != 0 {
                        *v = v.saturating_sub(shift).max(1);
                    }
                }
            }
        }
    }

    /// Heap bytes held, for the bytes-per-actor measurement.
    pub fn heap_bytes(&self) -> usize {
        // hashbrown: one control byte per bucket plus the 4-byte slot; buckets >= len * 8/7.
        let buckets = self.index.capacity() * 8 / 7;
        buckets * (std::mem::size_of::<u32>() + 1)
            + self.keys.capacity() * std::mem::size_of::<K>()
            + self.links.capacity() * std::mem::size_of::<[u32; 2]>()
            + self.words.capacity() * std::mem::size_of::<u32>()
            + self.free.capacity() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn table(threshold: u32, capacity: usize) -> (Table<u64>, RuleLayout) {
        let (layouts, stride) = layout(&[threshold]);
        (
            Table::new(SeededState::new(7), stride, capacity),
            layouts[0],
        )
    }

    #[test]
    fn window_boundaries_are_exact() {
        let (mut t, r) = table(3, 10);
        let s = t.upsert(&1, 0).expect("admitted").slot;
        let w = 1000;
        assert!(!t.record(s, r, 1, w).flagged);
        assert!(!t.record(s, r, 500, w).flagged);
        // Third response exactly `window` after the first: the first is out of (t - w, t].
        assert!(!t.record(s, r, 1001, w).flagged);
        // 500, 1001, 1499: all within (499, 1499].
        assert!(t.record(s, r, 1499, w).flagged);
        // 1001, 1499, 2001: 1001 is at exactly t - w, outside.
        assert!(!t.record(s, r, 2001, w).flagged);
    }

    #[test]
    fn out_of_order_times_stay_sorted() {
        let (mut t, r) = table(3, 10);
        let s = t.upsert(&1, 0).expect("admitted").slot;
        t.record(s, r, 300, 1000);
        t.record(s, r, 100, 1000);
        let res = t.record(s, r, 200, 1000);
        // At t=200 only 100 and 200 are <= t.
        assert_eq!(
            res,
            WindowResult {
                flagged: false,
                count: 2
            }
        );
        assert!(t.record(s, r, 400, 1000).flagged);
        // Older than every kept time in a full window: ignored.
        assert_eq!(t.record(s, r, 50, 1000).count, 0);
    }

    #[test]
    fn evicts_least_recently_active() {
        let (mut t, _) = table(1, 3);
        t.upsert(&1, 0).expect("admitted");
        t.upsert(&2, 0).expect("admitted");
        t.upsert(&3, 0).expect("admitted");
        t.upsert(&1, 0).expect("admitted"); // 2 is now the least recently active
        assert_eq!(t.upsert(&4, 0).expect("admitted").evicted, Some(2));
        assert_eq!(t.len(), 3);
        assert!(t.find(&2).is_none());
        assert!(t.find(&1).is_some() && t.find(&3).is_some() && t.find(&4).is_some());
        assert_eq!(t.upsert(&5, 0).expect("admitted").evicted, Some(3));
        assert_eq!(t.evictions, 2);
    }

    #[test]
    fn reused_slots_start_empty() {
        let (mut t, r) = table(2, 1);
        let s = t.upsert(&1, 0).expect("admitted").slot;
        t.record(s, r, 10, 1000);
        t.set_last_event(s, r, 10);
        let up = t.upsert(&2, 0).expect("admitted");
        assert_eq!(
            up,
            Upsert {
                slot: s,
                new: true,
                evicted: Some(1)
            }
        );
        let s2 = up.slot;
        assert_eq!(t.last_event(s2, r), 0);
        assert_eq!(t.record(s2, r, 11, 1000).count, 1);
    }

    #[test]
    fn rebase_keeps_order_and_clamps() {
        let (mut t, r) = table(2, 4);
        let s = t.upsert(&1, 0).expect("admitted").slot;
        t.record(s, r, 100, 1000);
        t.record(s, r, 5000, 1000);
        t.set_last_event(s, r, 5000);
        t.rebase(&[r], 1000);
        assert_eq!(t.last_event(s, r), 4000);
        // 4000 and 4500 are within (3500, 4500]; the clamped 1 is not.
        assert!(t.record(s, r, 4500, 1000).flagged);
    }

    fn protected(threshold: u32, capacity: usize) -> (Table<u64>, RuleLayout) {
        let (t, r) = table(threshold, capacity);
        let p = Protection {
            rule: r,
            window_ms: 60_000,
            cooldown_ms: 600_000,
        };
        (t.with_protections(vec![p]), r)
    }

    #[test]
    fn a_flood_of_one_off_keys_spares_a_key_near_its_threshold() {
        let (mut t, r) = protected(10, 100);
        let attacker = 7_000_000u64;
        let s = t.upsert(&attacker, 1).expect("admitted").slot;
        for i in 1..=9 {
            t.record(s, r, i, 60_000);
        }
        // 100 times the capacity in one-off keys, each with one counted response.
        for k in 0..10_000u64 {
            let s = t.upsert(&k, 10).expect("admitted").slot;
            t.record(s, r, 10, 60_000);
        }
        let s = t.find(&attacker).expect("the attacker is still tracked");
        assert!(t.record(s, r, 20, 60_000).flagged);
        assert_eq!(t.len(), 100);
        assert_eq!(t.evictions, 10_000 - 99);
    }

    #[test]
    fn a_key_in_cooldown_is_spared_and_an_expired_window_is_not() {
        let (mut t, r) = protected(1, 2);
        let cooling = t.upsert(&1, 1).expect("admitted").slot;
        t.record(cooling, r, 1, 60_000);
        t.set_last_event(cooling, r, 1);
        let stale = t.upsert(&2, 1).expect("admitted").slot;
        t.record(stale, r, 1, 60_000);
        t.record(stale, r, 2, 60_000);
        // At 70 s key 2's responses left the window; key 1's cooldown runs until 600 s.
        assert_eq!(t.upsert(&3, 70_000).expect("admitted").evicted, Some(2));
        assert_eq!(t.upsert(&4, 70_000).expect("admitted").evicted, Some(3));
        assert!(t.find(&1).is_some());
        // After the cooldown key 1 is worth nothing either.
        assert_eq!(t.upsert(&5, 600_002).expect("admitted").evicted, Some(1));
    }

    #[test]
    fn when_every_key_is_worth_keeping_the_least_valuable_goes() {
        let (mut t, r) = protected(10, 3);
        for (k, n) in [(1u64, 5u32), (2, 2), (3, 8)] {
            let s = t.upsert(&k, 1).expect("admitted").slot;
            for i in 0..n {
                t.record(s, r, 1 + i, 60_000);
            }
        }
        assert_eq!(t.upsert(&4, 100).expect("admitted").evicted, Some(2));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn a_table_full_of_cooling_keys_refuses_new_ones_until_a_cooldown_ends() {
        let (mut t, r) = protected(1, 2);
        for k in [1u64, 2] {
            let s = t.upsert(&k, 1).expect("admitted").slot;
            t.record(s, r, 1, 60_000);
            t.set_last_event(s, r, 1);
        }
        assert_eq!(t.upsert(&3, 599_999), None);
        assert_eq!((t.refused, t.evictions, t.len()), (1, 0, 2));
        assert!(t.upsert(&1, 599_999).is_some(), "tracked keys still count");
        assert_eq!(t.upsert(&3, 600_001).expect("admitted").evicted, Some(2));
    }
}
