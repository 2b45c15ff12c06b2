//! The byte arithmetic of the counting structures: page and index sizes, the words a rule keeps
//! per key, and the least bytes a table needs. Below the model, because the configuration checks
//! `max_memory_mb` against it before any table exists.

use std::collections::VecDeque;
use std::mem::size_of;

/// Words per rule in a key's slot: the window's length, the last event's time, and a value.
pub(crate) const WORDS_PER_RULE: usize = 3;
/// Rings per page of the ring store.
pub(crate) const RING_PAGE: usize = 256;
/// Bytes of one page of the ring store (ring headers, before any ring's own storage).
pub(crate) const RING_STORE_PAGE_BYTES: usize = RING_PAGE * size_of::<VecDeque<u32>>();

/// Pages hold about this many bytes of per-slot words (and at most [`MAX_PAGE_SLOTS`] slots).
pub(crate) const PAGE_BYTES: usize = 64 << 10;
pub(crate) const MAX_PAGE_SLOTS: usize = 1024;

/// Share of the budget new keys leave free, so that keys near their threshold can still grow
/// their windows during a flood of new ones.
pub(crate) const GROWTH_RESERVE_DIVISOR: usize = 8;

/// Slots per page for a slot of `slot_bytes`.
pub(crate) fn page_slots(slot_bytes: usize) -> usize {
    (PAGE_BYTES / slot_bytes.max(1)).clamp(16, MAX_PAGE_SLOTS)
}

/// Items the index is first sized for.
pub(crate) const INDEX_FIRST_ITEMS: usize = 16;

/// Bytes the index's next size allocates beside the current one while it grows (buckets
/// doubled: data, control bytes and a group of padding).
pub(crate) fn index_growth_bytes(current: usize) -> usize {
    if current == 0 {
        // 32 buckets of a u32 and a control byte, plus a group.
        32 * (size_of::<u32>() + 1) + 32
    } else {
        current * 2 + 32
    }
}

/// The least bytes a table for `thresholds` needs to flag one key under every rule: a page of
/// slots, the first index, and a full window for each rule.
pub(crate) fn minimum_bytes<K>(thresholds: &[u32]) -> usize {
    let stride = thresholds.len() * WORDS_PER_RULE;
    let slot_bytes = size_of::<K>() + size_of::<[u32; 2]>() + stride * size_of::<u32>();
    let pages = page_slots(slot_bytes) * slot_bytes + 3 * 4 * size_of::<Vec<u8>>();
    let rings: usize = thresholds
        .iter()
        .map(|&t| t as usize * size_of::<u32>() + RING_STORE_PAGE_BYTES)
        .sum();
    let needed = pages + index_growth_bytes(0) + rings;
    // New keys leave a share free for windows to grow (see [`GROWTH_RESERVE_DIVISOR`]).
    needed + needed / (GROWTH_RESERVE_DIVISOR - 1)
}
