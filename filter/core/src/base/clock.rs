//! The host's clock, never trusted to move forward: a reading far behind the latest is a step
//! back (windows must start afresh), and stored times are 32-bit offsets from bases that move as
//! time goes on. Windows and cooldowns have bases of their own: after a step back the window base
//! follows the clock (its windows were cleared), while the cooldown base stays, so that a clock
//! behind a cooldown's start reads as inside the cooldown.

/// A reading this much older than the latest one seen means the host clock stepped back (an NTP
/// step, a host that passed 0). Smaller steps are indistinguishable from records merged late.
pub const CLOCK_STEP_MS: u64 = 5_000;
/// Times before this (September 2001) are not clock readings (a host that passed 0).
pub(crate) const TIME_FLOOR_MS: u64 = 1_000_000_000_000;
/// Bases start this far behind the first time seen, so that records slightly older than the
/// first (other workers, replays) still have an offset.
const BASE_SLACK_MS: u64 = 8 * 24 * 3600 * 1000;
/// Bases move once offsets pass this (u32 holds about 49.7 days).
const REBASE_AT_MS: u64 = 40 * 24 * 3600 * 1000;

/// Which stored times an offset is counted from.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Base(Option<u64>);

/// An offset, and how far stored offsets must move down first (a new base), if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Offset {
    pub value: u32,
    pub shift_down: Option<u32>,
}

impl Base {
    /// The offset of `ts_ms` (>= 1). Far past the base: the base moves up (`shift_down` says by
    /// how much stored offsets move). Before the base: with `follow`, the base moves back to the
    /// time (windows, cleared after a step back), else the offset is 1 (cooldowns: before every
    /// stored start).
    pub fn offset(&mut self, ts_ms: u64, follow: bool) -> Offset {
        let base = *self.0.get_or_insert(ts_ms.saturating_sub(BASE_SLACK_MS));
        if ts_ms < base {
            if !follow {
                return Offset {
                    value: 1,
                    shift_down: None,
                };
            }
            let base = ts_ms.saturating_sub(BASE_SLACK_MS);
            self.0 = Some(base);
            return at(base, ts_ms, None);
        }
        if ts_ms - base > REBASE_AT_MS {
            let new_base = ts_ms - BASE_SLACK_MS;
            self.0 = Some(new_base);
            let shift = u32::try_from(new_base - base).unwrap_or(u32::MAX);
            return at(new_base, ts_ms, Some(shift));
        }
        at(base, ts_ms, None)
    }

    pub fn get(&self) -> Option<u64> {
        self.0
    }

    pub fn set(&mut self, base: Option<u64>) {
        self.0 = base;
    }
}

/// `ts_ms` as an offset (>= 1) from `base` (<= `ts_ms`, less than [`REBASE_AT_MS`] behind).
fn at(base: u64, ts_ms: u64, shift_down: Option<u32>) -> Offset {
    Offset {
        value: u32::try_from(ts_ms.saturating_sub(base).saturating_add(1)).unwrap_or(u32::MAX),
        shift_down,
    }
}

/// The latest host time seen, and whether a new reading means the clock stepped back.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Clock {
    pub high_ms: u64,
}

impl Clock {
    /// Takes note of a reading; `true` when it is a step back (more than [`CLOCK_STEP_MS`] behind
    /// the latest). Readings before [`TIME_FLOOR_MS`] are ignored.
    pub fn observe(&mut self, now_ms: u64) -> bool {
        if now_ms < TIME_FLOOR_MS {
            return false;
        }
        if self.high_ms != 0 && now_ms.saturating_add(CLOCK_STEP_MS) < self.high_ms {
            self.high_ms = now_ms;
            return true;
        }
        self.high_ms = self.high_ms.max(now_ms);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const T: u64 = 1_747_162_000_000;

    #[test]
    fn a_step_back_is_more_than_the_tolerance_behind_the_latest() {
        let mut c = Clock::default();
        assert!(!c.observe(T));
        assert!(
            !c.observe(T - CLOCK_STEP_MS),
            "exactly the tolerance: a late reading"
        );
        assert!(c.observe(T - CLOCK_STEP_MS - 1));
        assert_eq!(
            c.high_ms,
            T - CLOCK_STEP_MS - 1,
            "the clock is trusted again"
        );
        assert!(!c.observe(0), "0 is not a reading");
        assert!(!c.observe(T + 60_000), "forward is no step");
    }

    #[test]
    fn offsets_start_behind_the_first_time_and_move_with_it() {
        let mut b = Base::default();
        let first = b.offset(T, true);
        assert_eq!(first.value as u64, BASE_SLACK_MS + 1);
        assert_eq!(first.shift_down, None);
        assert_eq!(b.offset(T + 5, true).value, first.value + 5);
        // 40 days later the base moves up: stored offsets shift down by the same amount.
        let later = T + REBASE_AT_MS;
        let moved = b.offset(later, true);
        let shift = moved.shift_down.expect("rebased");
        assert_eq!(moved.value as u64, BASE_SLACK_MS + 1);
        assert_eq!(
            u64::from(first.value) + (later - T) - u64::from(shift),
            u64::from(moved.value)
        );
    }

    #[test]
    fn before_its_base_a_window_base_follows_and_a_cooldown_base_stays() {
        let (mut windows, mut cooldowns) = (Base::default(), Base::default());
        windows.offset(T, true);
        cooldowns.offset(T, false);
        let long_before = T - 2 * BASE_SLACK_MS;
        assert_eq!(cooldowns.offset(long_before, false).value, 1);
        assert_eq!(cooldowns.get(), Some(T - BASE_SLACK_MS));
        assert_eq!(
            windows.offset(long_before, true).value as u64,
            BASE_SLACK_MS + 1
        );
        assert_eq!(windows.get(), Some(long_before - BASE_SLACK_MS));
    }
}
