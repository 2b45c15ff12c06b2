//! The set of HTTP statuses a rule counts, as a bitmap: a response no rule counts costs one
//! lookup.

use std::fmt;

/// The set of HTTP statuses a rule counts (100..=599), as a bitmap.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusSet([u64; 10]);

impl StatusSet {
    pub fn insert_range(&mut self, lo: u16, hi: u16) {
        for s in lo..=hi {
            if let Some(word) = self.0.get_mut(usize::from(s / 64)) {
                *word |= 1 << (s % 64);
            }
        }
    }
    #[inline]
    pub fn contains(&self, status: u16) -> bool {
        match self.0.get(usize::from(status / 64)) {
            Some(word) => word & (1 << (status % 64)) != 0,
            None => false,
        }
    }
    pub fn union(&self, other: &StatusSet) -> StatusSet {
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
        out
    }
    pub fn intersect(&self, other: &StatusSet) -> StatusSet {
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(other.0.iter()) {
            *a &= b;
        }
        out
    }
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

impl fmt::Debug for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let mut s = 100u16;
        while s < 600 {
            if self.contains(s) {
                let start = s;
                while s + 1 < 600 && self.contains(s + 1) {
                    s += 1;
                }
                list.entry(&format_args!("{start}-{s}"));
            }
            s += 1;
        }
        list.finish()
    }
}
