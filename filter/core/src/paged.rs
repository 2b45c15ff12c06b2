//! A vector that grows one fixed-size page at a time: pages never move, so growing never holds
//! the old and the new storage at once, and what it holds is known to the byte.

pub struct Paged<T> {
    pages: Vec<Vec<T>>,
    len: usize,
    page_len: usize,
}

impl<T> Paged<T> {
    /// `page_len` elements per page (at least 1).
    pub fn new(page_len: usize) -> Self {
        Paged {
            pages: Vec::new(),
            len: 0,
            page_len: page_len.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        self.pages.get(i / self.page_len)?.get(i % self.page_len)
    }

    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.pages
            .get_mut(i / self.page_len)?
            .get_mut(i % self.page_len)
    }

    /// `n` elements from `start`, which must not cross a page (callers keep `page_len` a multiple
    /// of `n` and `start` a multiple of `n`).
    #[inline]
    pub fn run(&self, start: usize, n: usize) -> Option<&[T]> {
        let offset = start % self.page_len;
        self.pages
            .get(start / self.page_len)?
            .get(offset..offset.checked_add(n)?)
    }

    #[inline]
    pub fn run_mut(&mut self, start: usize, n: usize) -> Option<&mut [T]> {
        let offset = start % self.page_len;
        self.pages
            .get_mut(start / self.page_len)?
            .get_mut(offset..offset.checked_add(n)?)
    }

    /// Bytes that pushing `n` more elements would allocate (new pages, and the page list if it
    /// must grow, counted at its new size since both lists exist while it grows).
    pub fn growth_bytes(&self, n: usize) -> usize {
        let have = self.pages.len() * self.page_len;
        if self.len + n <= have {
            return 0;
        }
        let new_pages = (self.len + n - have).div_ceil(self.page_len);
        let mut bytes = new_pages * self.page_bytes();
        let wanted = self.pages.len() + new_pages;
        if wanted > self.pages.capacity() {
            bytes += list_capacity_after(self.pages.capacity(), wanted) * size_of::<Vec<T>>();
        }
        bytes
    }

    fn page_bytes(&self) -> usize {
        self.page_len * size_of::<T>()
    }

    /// Appends `value`, allocating a page (exactly `page_len` elements) when the last is full.
    pub fn push(&mut self, value: T) {
        if self.len == self.pages.len() * self.page_len {
            if self.pages.len() == self.pages.capacity() {
                let target = list_capacity_after(self.pages.capacity(), self.pages.len() + 1);
                self.pages.reserve_exact(target - self.pages.len());
            }
            self.pages.push(Vec::with_capacity(self.page_len));
        }
        if let Some(page) = self.pages.last_mut() {
            page.push(value);
            self.len += 1;
        }
    }

    /// Runs of `n` elements, page by page (pages must hold whole runs).
    pub fn iter_runs_mut(&mut self, n: usize) -> impl Iterator<Item = &mut [T]> {
        self.pages
            .iter_mut()
            .flat_map(move |page| page.chunks_mut(n.max(1)))
    }

    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.pages.iter().flatten()
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
        let mut p: Paged<u32> = Paged::new(4);
        assert_eq!(p.growth_bytes(1), 4 * 4 + 4 * size_of::<Vec<u32>>());
        for i in 0..9u32 {
            let before = p.heap_bytes();
            let cost = p.growth_bytes(1);
            p.push(i);
            assert!(p.heap_bytes() - before <= cost, "push {i}");
        }
        assert_eq!(p.len(), 9);
        assert_eq!(p.get(8), Some(&8));
        assert_eq!(p.get(9), None);
        assert_eq!(p.run(4, 4), Some(&[4, 5, 6, 7][..]));
        assert_eq!(p.run(8, 4), None, "a run past the end");
        assert_eq!(p.heap_bytes(), 3 * 16 + 4 * size_of::<Vec<u32>>());
        assert_eq!(
            p.iter().copied().collect::<Vec<_>>(),
            (0..9).collect::<Vec<_>>()
        );
        *p.get_mut(3).unwrap() = 30;
        assert_eq!(p.run_mut(0, 4).unwrap(), &mut [0, 1, 2, 30]);
    }
}
