//! Worker records held until every worker has reported up to their time, so that records of all
//! workers are counted in timestamp order, within the reorder buffer's share of the budget
//! (beyond it, the oldest are counted at once).

use crate::base::clock::CLOCK_STEP_MS;
use crate::base::memory::{Budget, HeapSize};
use crate::model::record::OwnedRecord;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A held record, ordered by (time, arrival).
struct Held {
    ts_ms: u64,
    seq: u64,
    record: OwnedRecord,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.ts_ms, self.seq) == (other.ts_ms, other.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ts_ms, self.seq).cmp(&(other.ts_ms, other.seq))
    }
}

const SLOT_BYTES: usize = size_of::<Reverse<Held>>();

pub(crate) struct Reorder {
    window_ms: u64,
    heap: BinaryHeap<Reverse<Held>>,
    seq: u64,
    budget: Budget,
}

impl Reorder {
    pub fn new(budget_bytes: usize) -> Self {
        Reorder {
            window_ms: 0,
            heap: BinaryHeap::new(),
            seq: 0,
            budget: Budget::new(budget_bytes),
        }
    }

    pub fn set_window_ms(&mut self, ms: u64) {
        self.window_ms = ms;
    }

    /// 0: records are counted as they arrive.
    pub fn window_ms(&self) -> u64 {
        self.window_ms
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn bytes(&self) -> usize {
        self.budget.used
    }

    /// Holds `record`; the oldest held records go to `count` first when the buffer is full, and
    /// `record` itself when it is larger than the whole buffer.
    pub fn hold(&mut self, record: OwnedRecord, count: &mut impl FnMut(OwnedRecord)) {
        let bytes = record.heap_bytes();
        loop {
            let growth = if self.heap.len() < self.heap.capacity() {
                0
            } else {
                (self.heap.capacity() * 2).max(4) * SLOT_BYTES
            };
            if self.budget.fits(bytes + growth) || self.heap.is_empty() {
                break;
            }
            self.pop(count);
        }
        if !self.budget.fits(bytes + SLOT_BYTES) {
            count(record);
            return;
        }
        let before = self.heap.capacity();
        self.seq += 1;
        self.heap.push(Reverse(Held {
            ts_ms: record.ts_ms,
            seq: self.seq,
            record,
        }));
        self.budget
            .resize(before * SLOT_BYTES, self.heap.capacity() * SLOT_BYTES);
        self.budget.charge(bytes);
    }

    fn pop(&mut self, count: &mut impl FnMut(OwnedRecord)) {
        if let Some(Reverse(held)) = self.heap.pop() {
            self.budget.release(held.record.heap_bytes());
            count(held.record);
        }
    }

    /// Hands `count` the held records older than the window, oldest first, and any from further
    /// ahead than the clock (the host clock stepped back: holding them would delay them by the
    /// step).
    pub fn release(&mut self, now_ms: u64, count: &mut impl FnMut(OwnedRecord)) {
        let cutoff = now_ms.saturating_sub(self.window_ms);
        let ahead = now_ms
            .saturating_add(self.window_ms)
            .saturating_add(CLOCK_STEP_MS);
        while let Some(Reverse(held)) = self.heap.peek() {
            if held.ts_ms > cutoff && held.ts_ms <= ahead {
                break;
            }
            self.pop(count);
        }
    }

    /// When the oldest held record is due, if any.
    pub fn next_due(&self) -> Option<u64> {
        self.heap
            .peek()
            .map(|Reverse(held)| held.ts_ms.saturating_add(self.window_ms))
    }
}
