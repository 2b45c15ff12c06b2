//! A vector of fixed-size slots that grows one page at a time: pages never move, so growing
//! never holds the old and the new storage at once, and what it holds is known to the byte.
//! Slots per page are a power of two, so that finding a slot costs a shift and a mask.

pub(crate) struct Paged<T> {
    pages: Vec<Vec<T>>,
    /// Elements held.
    len: usize,
    /// Elements per slot.
    per: usize,
    /// log2 of the slots per page.
    shift: u32,
}

impl<T> Paged<T> {
    /// Slots of `per` elements, about `slots_per_page` of them per page (rounded down to a power
    /// of two).
    pub fn new(per: usize, slots_per_page: usize) -> Self {
        Paged {
            pages: Vec::new(),
            len: 0,
            per: per.max(1),
            shift: slots_per_page.max(1).ilog2(),
        }
    }

    fn page_len(&self) -> usize {
        self.per << self.shift
    }

    /// Slots held (complete or not).
    pub fn slots(&self) -> usize {
        self.len.div_ceil(self.per)
    }

    /// The elements of slot `s`.
    #[inline]
    pub fn slot(&self, s: usize) -> Option<&[T]> {
        let start = (s & ((1 << self.shift) - 1)) * self.per;
        self.pages
            .get(s >> self.shift)?
            .get(start..start + self.per)
    }

    #[inline]
    pub fn slot_mut(&mut self, s: usize) -> Option<&mut [T]> {
        let start = (s & ((1 << self.shift) - 1)) * self.per;
        let per = self.per;
        self.pages
            .get_mut(s >> self.shift)?
            .get_mut(start..start + per)
    }

    /// The element of slot `s`, for one-element slots.
    #[inline]
    pub fn get(&self, s: usize) -> Option<&T> {
        self.slot(s)?.first()
    }

    #[inline]
    pub fn get_mut(&mut self, s: usize) -> Option<&mut T> {
        self.slot_mut(s)?.first_mut()
    }

    /// Bytes that adding `slots` more slots would allocate (new pages, and the page list if it
    /// must grow, counted at its new size since both lists exist while it grows).
    pub fn growth_bytes(&self, slots: usize) -> usize {
        let have = self.pages.len() * self.page_len();
        let want = self.len + slots * self.per;
        if want <= have {
            return 0;
        }
        let new_pages = (want - have).div_ceil(self.page_len());
        let mut bytes = new_pages * self.page_bytes();
        let wanted = self.pages.len() + new_pages;
        if wanted > self.pages.capacity() {
            bytes += list_capacity_after(self.pages.capacity(), wanted) * size_of::<Vec<T>>();
        }
        bytes
    }

    fn page_bytes(&self) -> usize {
        self.page_len() * size_of::<T>()
    }

    /// Appends one element (slots fill element by element), allocating a page (exactly
    /// `per × slots per page` elements) when the last is full.
    pub fn push(&mut self, value: T) {
        if self.len == self.pages.len() * self.page_len() {
            if self.pages.len() == self.pages.capacity() {
                let target = list_capacity_after(self.pages.capacity(), self.pages.len() + 1);
                self.pages.reserve_exact(target - self.pages.len());
            }
            self.pages.push(Vec::with_capacity(self.page_len()));
        }
        if let Some(page) = self.pages.last_mut() {
            page.push(value);
            self.len += 1;
        }
    }

    /// Runs of `n` elements, page by page (`n` must divide `per`, so runs never straddle).
    pub fn iter_runs_mut(&mut self, n: usize) -> impl Iterator<Item = &mut [T]> {
        self.pages
            .iter_mut()
            .flat_map(move |page| page.chunks_mut(n.max(1)))
    }

    /// Bytes allocated: whole pages and the page list.
    pub fn heap_bytes(&self) -> usize {
        self.pages.len() * self.page_bytes() + self.pages.capacity() * size_of::<Vec<T>>()
    }
}

/// The page list doubles (at least 4 entries), so pushing pages costs amortized O(1).
fn list_capacity_after(capacity: usize, wanted: usize) -> usize {
    wanted.max(capacity.saturating_mul(2)).max(4)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn pages_fill_in_order_and_count_their_bytes() {
        let mut p: Paged<u32> = Paged::new(1, 4);
        assert_eq!(p.growth_bytes(1), 4 * 4 + 4 * size_of::<Vec<u32>>());
        for i in 0..9u32 {
            let before = p.heap_bytes();
            let cost = p.growth_bytes(1);
            p.push(i);
            assert!(p.heap_bytes() - before <= cost, "push {i}");
        }
        assert_eq!(p.slots(), 9);
        assert_eq!(p.get(8), Some(&8));
        assert_eq!(p.get(9), None);
        assert_eq!(p.heap_bytes(), 3 * 16 + 4 * size_of::<Vec<u32>>());
        *p.get_mut(3).unwrap() = 30;
        assert_eq!(p.get(3), Some(&30));
    }

    #[test]
    fn slots_of_several_elements_stay_within_their_page() {
        // 3 elements per slot, 5 slots per page rounds down to 4.
        let mut p: Paged<u32> = Paged::new(3, 5);
        for i in 0..30u32 {
            p.push(i);
        }
        assert_eq!(p.slots(), 10);
        assert_eq!(p.slot(0), Some(&[0, 1, 2][..]));
        assert_eq!(
            p.slot(4),
            Some(&[12, 13, 14][..]),
            "the first slot of page 2"
        );
        assert_eq!(p.slot(9), Some(&[27, 28, 29][..]));
        assert_eq!(p.slot(10), None);
        p.slot_mut(5).unwrap()[1] = 99;
        assert_eq!(p.slot(5), Some(&[15, 99, 17][..]));
        assert_eq!(p.iter_runs_mut(3).count(), 10);
        assert_eq!(p.growth_bytes(2), 0, "two slots left in the last page");
        assert_eq!(p.growth_bytes(3), 4 * 3 * 4);
    }
}
