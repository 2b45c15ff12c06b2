//! The engine's memory budget: one figure in bytes (`max_memory_mb`), split in fixed shares
//! between the parts that grow with traffic. Each part keeps within its share by its own policy
//! (eviction, skipping, dropping the oldest), and every byte it counts is a byte it allocated:
//! a share is a bound on what the part holds, including the moment it grows.

/// What one part holds and may hold, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    pub limit: usize,
    pub used: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Self {
        Budget { limit, used: 0 }
    }

    /// Whether `extra` more bytes fit.
    #[inline]
    pub fn fits(&self, extra: usize) -> bool {
        self.used.saturating_add(extra) <= self.limit
    }

    #[inline]
    pub fn charge(&mut self, bytes: usize) {
        self.used = self.used.saturating_add(bytes);
    }

    #[inline]
    pub fn release(&mut self, bytes: usize) {
        self.used = self.used.saturating_sub(bytes);
    }

    /// Replaces `old` bytes by `new` ones.
    #[inline]
    pub fn resize(&mut self, old: usize, new: usize) {
        self.release(old);
        self.charge(new);
    }
}

/// How `max_memory_mb` is split. Counting state gets the largest share; the blocklist and the
/// samples have their own so that a flood of one-off actors cannot crowd them out; the outbox
/// holds events until delivered; the reorder buffer holds worker records for a few ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shares {
    /// Windows and cooldowns of every tracked key (split evenly between the per-actor and the
    /// per-API tables when both exist).
    pub tables: usize,
    pub blocklist: usize,
    pub samples: usize,
    pub outbox: usize,
    pub reorder: usize,
}

impl Shares {
    /// Eighths of the total: tables 3, blocklist 1, samples 1, outbox 2, reorder buffer 1.
    pub fn of(total_bytes: usize) -> Shares {
        let eighth = total_bytes / 8;
        Shares {
            tables: eighth * 3,
            blocklist: eighth,
            samples: eighth,
            outbox: eighth * 2,
            reorder: eighth,
        }
    }
}

/// Heap bytes a value owns beyond its own size (strings, boxes), for the budget.
pub(crate) trait HeapSize {
    fn heap_bytes(&self) -> usize;
}

impl HeapSize for u64 {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl<A: HeapSize, B: HeapSize> HeapSize for (A, B) {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes() + self.1.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn shares_add_up_to_at_most_the_total() {
        for total in [0usize, 7, 8, 1 << 20, 64 << 20] {
            let s = Shares::of(total);
            assert!(s.tables + s.blocklist + s.samples + s.outbox + s.reorder <= total);
        }
        assert_eq!(Shares::of(64 << 20).tables, 24 << 20);
    }

    #[test]
    fn budget_saturates() {
        let mut b = Budget::new(10);
        assert!(b.fits(10) && !b.fits(11) && !b.fits(usize::MAX));
        b.charge(usize::MAX);
        assert!(!b.fits(0));
        b.release(usize::MAX);
        b.release(1);
        assert_eq!(b.used, 0);
    }
}
