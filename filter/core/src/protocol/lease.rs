//! Which of a proxy's VMs aggregates: a lease in shared data that the holder renews on every
//! tick and another VM takes once it lapses. The singleton service (when the proxy declares one)
//! takes it from a worker at once. A pure function of the time, the VM and the shared value; the
//! host reads the value and writes the answer back with compare-and-swap.

/// How long a lease lasts without renewal.
pub const LEASE_MS: u64 = 1_000;

/// A lease as shared data holds it: `S|W:<holder hex>:<expires ms>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Held by the singleton service (else by a worker VM).
    pub singleton: bool,
    pub holder: u64,
    pub expires_ms: u64,
}

impl Lease {
    /// The lease in a shared value; `None` for anything else (an empty value: no lease yet).
    pub fn parse(value: &[u8]) -> Option<Lease> {
        let text = std::str::from_utf8(value).ok()?;
        let mut parts = text.split(':');
        let singleton = match parts.next()? {
            "S" => true,
            "W" => false,
            _ => return None,
        };
        let holder = u64::from_str_radix(parts.next()?, 16).ok()?;
        let expires_ms = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Lease {
            singleton,
            holder,
            expires_ms,
        })
    }

    pub fn encode(&self) -> String {
        let kind = if self.singleton { "S" } else { "W" };
        format!("{kind}:{:016x}:{}", self.holder, self.expires_ms)
    }

    /// Whether `vm` holds this lease at `now_ms`.
    pub fn held_by(&self, vm: u64, now_ms: u64) -> bool {
        self.holder == vm && now_ms < self.expires_ms
    }
}

/// The lease `vm` should write at `now_ms`, or `None` if it must not aggregate. The holder
/// renews its lease; another VM takes it once it has lapsed, if it is `eligible` (a worker only
/// after seeing traffic for a while; the main thread's VM never is); the singleton takes it from
/// a worker at once.
pub fn claim(
    current: Option<&Lease>,
    vm: u64,
    singleton: bool,
    eligible: bool,
    now_ms: u64,
) -> Option<Lease> {
    let renew = current.is_some_and(|l| l.holder == vm);
    let take =
        eligible && current.is_none_or(|l| now_ms >= l.expires_ms || (singleton && !l.singleton));
    (renew || take).then_some(Lease {
        singleton,
        holder: vm,
        expires_ms: now_ms.saturating_add(LEASE_MS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const T: u64 = 1_747_162_000_000;

    fn worker(holder: u64, expires_ms: u64) -> Lease {
        Lease {
            singleton: false,
            holder,
            expires_ms,
        }
    }

    #[test]
    fn the_value_round_trips_and_anything_else_is_no_lease() {
        let l = Lease {
            singleton: true,
            holder: 0xdead_beef,
            expires_ms: T,
        };
        assert_eq!(Lease::parse(l.encode().as_bytes()), Some(l));
        for bad in ["", "X:1:2", "W:zz:2", "W:1", "W:1:2:3", "W:1:-2"] {
            assert_eq!(Lease::parse(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn a_lease_expires_exactly_lease_ms_after_its_renewal() {
        let l = claim(None, 7, false, true, T).expect("a free lease is taken");
        assert_eq!(l.expires_ms, T + LEASE_MS);
        assert!(l.held_by(7, T + LEASE_MS - 1));
        assert!(!l.held_by(7, T + LEASE_MS));
        assert!(!l.held_by(8, T));
    }

    #[test]
    fn another_worker_takes_a_lapsed_lease_only() {
        let held = worker(7, T + LEASE_MS);
        assert_eq!(claim(Some(&held), 8, false, true, T + LEASE_MS - 1), None);
        let taken = claim(Some(&held), 8, false, true, T + LEASE_MS).expect("lapsed");
        assert_eq!((taken.holder, taken.singleton), (8, false));
        // Not while it has not seen traffic for long enough.
        assert_eq!(claim(Some(&held), 8, false, false, T + 10 * LEASE_MS), None);
        assert_eq!(claim(None, 8, false, false, T), None);
    }

    #[test]
    fn the_holder_renews_even_after_a_stall() {
        let held = worker(7, T + LEASE_MS);
        let renewed = claim(Some(&held), 7, false, false, T + 500).expect("renewed");
        assert_eq!(renewed.expires_ms, T + 500 + LEASE_MS);
        // A holder that stalled past its lease still holds the value nobody else took.
        assert!(claim(Some(&held), 7, false, true, T + 5 * LEASE_MS).is_some());
    }

    #[test]
    fn the_singleton_takes_over_from_a_worker_at_once_and_keeps_it() {
        let held = worker(7, T + LEASE_MS);
        let s = claim(Some(&held), 1, true, true, T).expect("the singleton wins");
        assert!(s.singleton);
        // A worker cannot take a running singleton lease back.
        assert_eq!(claim(Some(&s), 7, false, true, T + 1), None);
        // Nor can another singleton while it runs.
        assert_eq!(claim(Some(&s), 2, true, true, T + 1), None);
        // Once it lapses (the singleton stalled), a worker takes it.
        assert!(claim(Some(&s), 7, false, true, s.expires_ms).is_some());
    }
}
