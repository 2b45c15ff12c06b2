//! The panic barrier: a panic unwinding out of an `extern "C"` hook would abort Envoy, so every
//! hook runs its work inside [`guard`], which catches the panic, counts it and returns the hook's
//! fail-open answer (let the request through, record nothing).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

/// Panics caught since the module loaded (metric `native_panics_total`).
static PANICS: AtomicU64 = AtomicU64::new(0);

/// Runs `work`; if it panics, counts the panic and returns `fail_open`.
pub fn guard<R>(fail_open: R, work: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(_) => {
            PANICS.fetch_add(1, Ordering::Relaxed);
            fail_open
        }
    }
}

pub fn panics() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// Keeps the default panic message off Envoy's stderr: the barrier counts panics instead, and the
/// aggregator logs each new one through Envoy's log.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_returns_the_fail_open_answer_and_is_counted() {
        let before = panics();
        let answer = guard(7, || -> u32 {
            let v: Vec<u32> = Vec::new();
            // An out-of-bounds index panics.
            #[allow(clippy::indexing_slicing)]
            v[3]
        });
        assert_eq!(answer, 7);
        assert_eq!(panics(), before + 1);
        assert_eq!(guard(0, || 5), 5);
        assert_eq!(panics(), before + 1);
    }
}
