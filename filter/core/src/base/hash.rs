//! A host-seeded SipHash-1-3: actor keys are attacker-chosen, so the hasher must not be
//! predictable (on wasm the standard map would get the same seed on every run).

use siphasher::sip::SipHasher13;
use std::hash::BuildHasher;

#[derive(Debug, Clone, Copy)]
pub(crate) struct SeededState {
    k0: u64,
    k1: u64,
}

impl SeededState {
    /// The hasher's keys, for a snapshot that must hash the same after a restore.
    pub fn keys(&self) -> [u64; 2] {
        [self.k0, self.k1]
    }

    pub fn from_keys([k0, k1]: [u64; 2]) -> Self {
        SeededState { k0, k1 }
    }

    pub fn new(seed: u64) -> Self {
        let mut s = seed;
        SeededState {
            k0: splitmix64(&mut s),
            k1: splitmix64(&mut s),
        }
    }
}

impl BuildHasher for SeededState {
    type Hasher = SipHasher13;
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// SplitMix64: expands one seed into well-mixed values (hasher keys, jitter, ids).
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
