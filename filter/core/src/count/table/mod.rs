//! Tracked keys within a byte budget: each key's rule windows and cooldowns, least-recently-active
//! eviction that spares keys close to their threshold or in a cooldown.
//!
//! Layout, chosen for bytes per actor: keys, LRU links and each rule's words live in paged
//! vectors indexed by slot; the hash index holds 4-byte slot numbers. Windows of two or more
//! times live in rings of their own ([`crate::count::window`]). Everything the table allocates is charged
//! to its [`Budget`], including the moment a structure grows.
//!
//! One file of about 600 lines, tests apart: a key's slot, its index entry, its place in the
//! recency list and the bytes charged for them are one invariant (every byte charged before it
//! is allocated); split, each part would reach into the others' state.

use crate::base::hash::SeededState;
use crate::base::memory::{Budget, HeapSize};
use crate::base::paged::Paged;
use crate::base::sizes::{
    index_growth_bytes, page_slots, GROWTH_RESERVE_DIVISOR, INDEX_FIRST_ITEMS, WORDS_PER_RULE,
};
use crate::count::window::{self, Rings, WindowResult};
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash};

const NIL: u32 = u32::MAX;
/// Least recently active keys looked at per eviction before one must go.
const EVICTION_SCAN: usize = 8;

/// What makes a key worth keeping for one rule: counted responses in its window, or a
/// cooldown still running.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Protection {
    pub rule: RuleLayout,
    pub window_ms: u32,
    pub cooldown_ms: u32,
}

/// Where one rule's words sit inside a slot's words, and its threshold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleLayout {
    pub offset: usize,
    pub threshold: u32,
}

/// The layout of each rule and the words per slot.
pub(crate) fn layout(thresholds: &[u32]) -> (Vec<RuleLayout>, usize) {
    let layouts: Vec<RuleLayout> = thresholds
        .iter()
        .enumerate()
        .map(|(i, &threshold)| RuleLayout {
            offset: i * WORDS_PER_RULE,
            threshold,
        })
        .collect();
    (layouts, thresholds.len() * WORDS_PER_RULE)
}

/// The time of a record as the table's two kinds of stored times see it: windows and
/// cooldowns are offsets from bases of their own (see the detector's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Now {
    pub window: u32,
    pub cooldown: u32,
}

impl Now {
    /// Both offsets the same (a clock that never stepped back).
    #[cfg(test)]
    pub fn at(t: u32) -> Now {
        Now {
            window: t,
            cooldown: t,
        }
    }
}

/// A slot number, valid until the next insertion.
pub(crate) type Slot = u32;

/// Where a key lives now, and whether it was just created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upsert {
    pub slot: Slot,
    pub new: bool,
}

enum Eviction<K> {
    Evicted(Slot, K),
    Empty,
    AllCooling,
}

pub(crate) struct Table<K> {
    hasher: SeededState,
    /// Slot numbers by key hash. Kept at most half full, so that hashbrown always rehashes in
    /// place: it only reallocates when [`Table::grow_index`] decides, within the budget.
    index: HashTable<u32>,
    /// Items the index holds before it must grow (half its capacity after the last growth).
    index_room: usize,
    keys: Paged<K>,
    /// `prev`, `next` per slot; head is most recently active.
    links: Paged<[u32; 2]>,
    words: Paged<u32>,
    stride: usize,
    rings: Rings,
    /// Allocated slots that hold no key.
    free: Vec<Slot>,
    head: u32,
    tail: u32,
    capacity: usize,
    protections: Vec<Protection>,
    budget: Budget,
    pub evictions: u64,
    /// Responses not kept: a new key when the table was full of keys in a cooldown (or too long
    /// for what is left), or a time a window had no room for.
    pub refused: u64,
}

impl<K: Hash + Eq + Clone + HeapSize> Table<K> {
    /// A table of at most `capacity` keys within `budget_bytes`.
    pub fn new(hasher: SeededState, stride: usize, capacity: usize, budget_bytes: usize) -> Self {
        let slot_bytes = size_of::<K>() + size_of::<[u32; 2]>() + stride * size_of::<u32>();
        let page = page_slots(slot_bytes);
        Table {
            hasher,
            index: HashTable::new(),
            index_room: 0,
            keys: Paged::new(1, page),
            links: Paged::new(1, page),
            words: Paged::new(stride, page),
            stride,
            rings: Rings::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            capacity,
            protections: Vec::new(),
            budget: Budget::new(budget_bytes),
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

    /// Bytes held: every structure's allocation, by the table's own accounting.
    pub fn bytes(&self) -> usize {
        self.budget.used
    }

    fn hash(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    #[cfg(test)]
    pub fn find(&self, key: &K) -> Option<Slot> {
        let hash = self.hash(key);
        self.index
            .find(hash, |&slot| self.keys.get(slot as usize) == Some(key))
            .copied()
    }

    /// The slot of `key`, created if new (evicting a key when the table is full, see
    /// [`Table::evict`]) and marked most recently active. `t` is now, as an offset. `None`: a
    /// new key that cannot be tracked now (counted in `refused`): the table is full of keys in
    /// a cooldown, whose eviction would let them alert again.
    pub fn upsert(&mut self, key: &K, t: Now) -> Option<Upsert> {
        let hash = self.hash(key);
        if let Some(&slot) = self
            .index
            .find(hash, |&s| self.keys.get(s as usize) == Some(key))
        {
            self.touch(slot);
            return Some(Upsert { slot, new: false });
        }
        let heap = key.heap_bytes();
        let slot = match self.new_slot(key, heap) {
            Some(slot) => slot,
            None => match self.evict(t) {
                Eviction::Evicted(slot, old) => {
                    self.budget.release(old.heap_bytes());
                    if !self.budget.fits(heap) {
                        // A key of its own bytes (a long text) that does not fit what is left.
                        self.park(slot);
                        self.refused += 1;
                        return None;
                    }
                    self.budget.charge(heap);
                    if let Some(k) = self.keys.get_mut(slot as usize) {
                        *k = key.clone();
                    }
                    slot
                }
                Eviction::Empty | Eviction::AllCooling => {
                    self.refused += 1;
                    return None;
                }
            },
        };
        let (keys, hasher) = (&self.keys, &self.hasher);
        self.index
            .insert_unique(hash, slot, |&s| match keys.get(s as usize) {
                Some(k) => hasher.hash_one(k),
                None => 0,
            });
        self.push_front(slot);
        Some(Upsert { slot, new: true })
    }

    /// A slot holding `key` (of `heap` bytes of its own), without evicting one: below
    /// `capacity`, with the index's room (or its growth), a slot (a parked one or a new one) and
    /// the key within the budget, leaving a share of the budget free for windows to grow.
    fn new_slot(&mut self, key: &K, heap: usize) -> Option<Slot> {
        if self.index.len() >= self.capacity {
            return None;
        }
        let reserve = self.budget.limit / GROWTH_RESERVE_DIVISOR;
        let index_growth = if self.index.len() < self.index_room {
            0
        } else {
            index_growth_bytes(self.index.allocation_size())
        };
        let slot_growth = if self.free.is_empty() {
            self.keys.growth_bytes(1) + self.links.growth_bytes(1) + self.words.growth_bytes(1)
        } else {
            0
        };
        if self.keys.slots() >= NIL as usize
            || !self
                .budget
                .fits(reserve + index_growth + slot_growth + heap)
        {
            return None;
        }
        if index_growth > 0 {
            self.grow_index();
        }
        self.budget.charge(heap);
        if let Some(slot) = self.free.pop() {
            if let Some(k) = self.keys.get_mut(slot as usize) {
                *k = key.clone();
            }
            return Some(slot);
        }
        let before = self.paged_bytes();
        let slot = self.keys.slots() as Slot;
        self.keys.push(key.clone());
        self.links.push([NIL, NIL]);
        for _ in 0..self.stride {
            self.words.push(0);
        }
        self.budget.resize(before, self.paged_bytes());
        Some(slot)
    }

    /// Doubles the index (or makes its first one), which [`Table::new_slot`] checked fits.
    fn grow_index(&mut self) {
        let before = self.index.allocation_size();
        let target = if before == 0 {
            INDEX_FIRST_ITEMS
        } else {
            self.index_room * 2 + 1
        };
        let (keys, hasher) = (&self.keys, &self.hasher);
        // Asking for more than the current capacity makes hashbrown allocate the next size.
        let additional = target.max(self.index.capacity() + 1) - self.index.len();
        self.index
            .reserve(additional, |&s| match keys.get(s as usize) {
                Some(k) => hasher.hash_one(k),
                None => 0,
            });
        self.index_room = self.index.capacity() / 2;
        self.budget.resize(before, self.index.allocation_size());
    }

    fn paged_bytes(&self) -> usize {
        self.keys.heap_bytes() + self.links.heap_bytes() + self.words.heap_bytes()
    }

    /// Keeps an allocated, empty slot for the next new key (if the list has room).
    fn park(&mut self, slot: Slot) {
        let before = self.free.capacity();
        if self.free.len() == before && !self.budget.fits((before * 2).max(4) * 4) {
            return;
        }
        self.free.push(slot);
        self.budget.resize(
            before * size_of::<Slot>(),
            self.free.capacity() * size_of::<Slot>(),
        );
    }

    /// Evicts the least recently active key that is not worth keeping. Keys worth keeping get
    /// a second chance (they become most recently active); after [`EVICTION_SCAN`] of them the
    /// least valuable of those goes, unless all of them are in a cooldown. The work per
    /// eviction is bounded.
    fn evict(&mut self, t: Now) -> Eviction<K> {
        let mut least: Option<(u64, Slot)> = None;
        for _ in 0..EVICTION_SCAN {
            let slot = self.tail;
            if slot == NIL {
                break;
            }
            let worth = self.worth(slot, t);
            if worth == 0 {
                return self.evict_slot(slot);
            }
            if least.is_none_or(|(w, _)| worth < w) {
                least = Some((worth, slot));
            }
            self.touch(slot);
        }
        match least {
            None => Eviction::Empty,
            Some((u64::MAX, _)) => Eviction::AllCooling,
            Some((_, slot)) => self.evict_slot(slot),
        }
    }

    /// 0 for a key worth nothing (at most one counted response in every window, no cooldown
    /// running); else how close it is to a threshold, in thousandths, or `u64::MAX` in a
    /// cooldown.
    fn worth(&self, slot: Slot, t: Now) -> u64 {
        let mut best = 0;
        let Some(words) = self.slot_words(slot) else {
            return 0;
        };
        for p in &self.protections {
            let Some(w) = words.get(p.rule.offset..p.rule.offset + WORDS_PER_RULE) else {
                continue;
            };
            let last_event = window::last_event(w);
            // A clock behind the last event counts as inside the cooldown.
            if last_event != 0
                && (t.cooldown < last_event || t.cooldown - last_event < p.cooldown_ms)
            {
                return u64::MAX;
            }
            let lower = t.window.saturating_sub(p.window_ms);
            let count = u64::from(self.rings.count_after(w, lower));
            if count > 1 {
                best = best.max(count * 1000 / u64::from(p.rule.threshold.max(1)));
            }
        }
        best
    }

    /// Forgets the key in `slot` and its windows; the slot is the caller's to reuse.
    fn evict_slot(&mut self, slot: Slot) -> Eviction<K> {
        let Some(key) = self.keys.get(slot as usize).cloned() else {
            return Eviction::Empty;
        };
        let hash = self.hash(&key);
        if let Ok(entry) = self.index.find_entry(hash, |&s| s == slot) {
            entry.remove();
        }
        self.unlink(slot);
        self.clear_slot(slot);
        self.evictions += 1;
        Eviction::Evicted(slot, key)
    }

    fn clear_slot(&mut self, slot: Slot) {
        let Table {
            words,
            rings,
            budget,
            ..
        } = self;
        let Some(words) = words.slot_mut(slot as usize) else {
            return;
        };
        for w in words.chunks_mut(WORDS_PER_RULE) {
            rings.clear(w, budget);
            window::set_last_event(w, 0);
        }
    }

    fn slot_words(&self, slot: Slot) -> Option<&[u32]> {
        self.words.slot(slot as usize)
    }

    fn rule_words(&mut self, slot: Slot, rule: RuleLayout) -> Option<&mut [u32]> {
        let start = rule.offset;
        self.words
            .slot_mut(slot as usize)?
            .get_mut(start..start + WORDS_PER_RULE)
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

    /// Records a counted response at offset `t` (> 0) and says whether the window is full.
    /// When the window has no room (the budget is full), keys worth nothing are evicted to make
    /// some; a time that still does not fit is not kept and is counted in `refused`.
    pub fn record(
        &mut self,
        slot: Slot,
        rule: RuleLayout,
        now: Now,
        window_ms: u32,
    ) -> WindowResult {
        let t = now.window;
        for _ in 0..=EVICTION_SCAN {
            let Table {
                words,
                rings,
                budget,
                ..
            } = self;
            let Some(w) = words
                .slot_mut(slot as usize)
                .and_then(|w| w.get_mut(rule.offset..rule.offset + WORDS_PER_RULE))
            else {
                break;
            };
            if let Some(result) = rings.record(w, rule.threshold, t, window_ms, budget) {
                return result;
            }
            if !self.evict_worthless(slot, now) {
                break;
            }
        }
        self.refused += 1;
        WindowResult {
            flagged: false,
            count: 0,
        }
    }

    /// Evicts the least recently active key if it is worth nothing and is not `keep`; its slot
    /// is parked for the next new key.
    fn evict_worthless(&mut self, keep: Slot, t: Now) -> bool {
        let slot = self.tail;
        if slot == NIL || slot == keep || self.worth(slot, t) != 0 {
            return false;
        }
        if let Eviction::Evicted(slot, key) = self.evict_slot(slot) {
            self.budget.release(key.heap_bytes());
            self.park(slot);
            return true;
        }
        false
    }

    /// When the last event for this rule was raised (offset), 0 if never.
    pub fn last_event(&mut self, slot: Slot, rule: RuleLayout) -> u32 {
        self.rule_words(slot, rule)
            .map(|w| window::last_event(w))
            .unwrap_or(0)
    }

    pub fn set_last_event(&mut self, slot: Slot, rule: RuleLayout, t: u32) {
        if let Some(w) = self.rule_words(slot, rule) {
            window::set_last_event(w, t);
        }
    }

    /// Shifts every window time down by `shift` (a new window base); times that would fall
    /// below 1 become 1, older than any window, which the caller guarantees by the shift it picks.
    pub fn shift_windows_down(&mut self, shift: u32) {
        let Table { words, rings, .. } = self;
        for w in words.iter_runs_mut(WORDS_PER_RULE) {
            rings.shift_down(w, shift);
        }
    }

    /// Shifts every cooldown start down by `shift` (a new cooldown base); one that would fall
    /// below 1 becomes 1, older than any cooldown.
    pub fn shift_cooldowns_down(&mut self, shift: u32) {
        for w in self.words.iter_runs_mut(WORDS_PER_RULE) {
            let last = window::last_event(w);
            if last != 0 {
                window::set_last_event(w, last.saturating_sub(shift).max(1));
            }
        }
    }

    /// Forgets every window's times (keys and cooldowns stay): after the clock stepped back,
    /// times from before the step must not share a window with times after it.
    pub fn clear_windows(&mut self) {
        let Table {
            words,
            rings,
            budget,
            ..
        } = self;
        for w in words.iter_runs_mut(WORDS_PER_RULE) {
            rings.clear(w, budget);
        }
    }

    /// Puts back one rule's window and cooldown for a key just created by [`Table::upsert`]
    /// (a snapshot being restored): `times` sorted, at most the threshold.
    pub fn load(&mut self, slot: Slot, rule: RuleLayout, last_event: u32, times: &[u32]) {
        let Table {
            words,
            rings,
            budget,
            ..
        } = self;
        let Some(w) = words
            .slot_mut(slot as usize)
            .and_then(|w| w.get_mut(rule.offset..rule.offset + WORDS_PER_RULE))
        else {
            return;
        };
        window::set_last_event(w, last_event);
        // An unbounded window keeps every time (up to the threshold).
        let kept = times
            .iter()
            .take_while(|&&t| {
                rings
                    .record(w, rule.threshold, t, u32::MAX, budget)
                    .is_some()
            })
            .count();
        if kept < times.len() {
            self.refused += 1;
        }
    }

    /// Every tracked key with its slot's words (each rule's at its layout's offset).
    pub fn entries(&self) -> impl Iterator<Item = (&K, &[u32])> {
        self.index.iter().filter_map(move |&slot| {
            let key = self.keys.get(slot as usize)?;
            Some((key, self.words.slot(slot as usize)?))
        })
    }

    /// The kept times of one rule's words (from [`Table::entries`]), oldest first.
    pub fn times<'a>(&'a self, w: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
        self.rings.times(w)
    }
}

#[cfg(test)]
mod tests;
