//! The table at its edges: eviction order, what it spares, and the bytes it holds.

use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const BIG: usize = 64 << 20;

fn table(threshold: u32, capacity: usize, budget: usize) -> (Table<u64>, RuleLayout) {
    let (layouts, stride) = layout(&[threshold]);
    (
        Table::new(SeededState::new(7), stride, capacity, budget),
        layouts[0],
    )
}

fn protected(threshold: u32, capacity: usize, budget: usize) -> (Table<u64>, RuleLayout) {
    let (t, r) = table(threshold, capacity, budget);
    let p = Protection {
        rule: r,
        window_ms: 60_000,
        cooldown_ms: 600_000,
    };
    (t.with_protections(vec![p]), r)
}

fn at(t: u32) -> Now {
    Now::at(t)
}

/// Admits `key` and says which of the keys 0..100 it pushed out.
fn evicted_by(t: &mut Table<u64>, key: u64, now: Now) -> Option<u64> {
    let before: Vec<u64> = (0..100).filter(|k| t.find(k).is_some()).collect();
    assert!(t.upsert(&key, now).expect("admitted").new);
    before.into_iter().find(|k| t.find(k).is_none())
}

#[test]
fn evicts_least_recently_active() {
    let (mut t, _) = table(1, 3, BIG);
    for k in [1, 2, 3, 1] {
        t.upsert(&k, at(1)).expect("admitted");
    }
    // 2 is now the least recently active.
    assert_eq!(evicted_by(&mut t, 4, at(1)), Some(2));
    assert_eq!(t.len(), 3);
    assert!(t.find(&2).is_none());
    assert!(t.find(&1).is_some() && t.find(&3).is_some() && t.find(&4).is_some());
    assert_eq!(evicted_by(&mut t, 5, at(1)), Some(3));
    assert_eq!(t.evictions, 2);
}

#[test]
fn reused_slots_start_empty() {
    let (mut t, r) = table(2, 1, BIG);
    let s = t.upsert(&1, at(1)).expect("admitted").slot;
    t.record(s, r, at(10), 1000);
    t.record(s, r, at(11), 1000);
    t.set_last_event(s, r, 10);
    let up = t.upsert(&2, at(12)).expect("admitted");
    assert_eq!(up, Upsert { slot: s, new: true });
    assert!(t.find(&1).is_none(), "key 1 gave its slot to key 2");
    assert_eq!(t.last_event(up.slot, r), 0);
    assert_eq!(t.record(up.slot, r, at(13), 1000).count, 1);
}

#[test]
fn a_flood_of_one_off_keys_spares_a_key_near_its_threshold() {
    let (mut t, r) = protected(10, 100, BIG);
    let attacker = 7_000_000u64;
    let s = t.upsert(&attacker, at(1)).expect("admitted").slot;
    for i in 1..=9 {
        t.record(s, r, at(i), 60_000);
    }
    // 100 times the capacity in one-off keys, each with one counted response.
    for k in 0..10_000u64 {
        let s = t.upsert(&k, at(10)).expect("admitted").slot;
        t.record(s, r, at(10), 60_000);
    }
    let s = t.find(&attacker).expect("the attacker is still tracked");
    assert!(t.record(s, r, at(20), 60_000).flagged);
    assert_eq!(t.len(), 100);
    assert_eq!(t.evictions, 10_000 - 99);
}

#[test]
fn a_key_in_cooldown_is_spared_and_an_expired_window_is_not() {
    let (mut t, r) = protected(1, 2, BIG);
    let cooling = t.upsert(&1, at(1)).expect("admitted").slot;
    t.record(cooling, r, at(1), 60_000);
    t.set_last_event(cooling, r, 1);
    let stale = t.upsert(&2, at(1)).expect("admitted").slot;
    t.record(stale, r, at(1), 60_000);
    t.record(stale, r, at(2), 60_000);
    // At 70 s key 2's responses left the window; key 1's cooldown runs until 600 s.
    assert_eq!(evicted_by(&mut t, 3, at(70_000)), Some(2));
    assert_eq!(evicted_by(&mut t, 4, at(70_000)), Some(3));
    assert!(t.find(&1).is_some());
    // A clock behind the cooldown's start counts as inside it.
    let behind = Now {
        window: 70_000,
        cooldown: 0,
    };
    assert_eq!(evicted_by(&mut t, 5, behind), Some(4));
    assert!(t.find(&1).is_some());
    // After the cooldown key 1 is worth nothing either.
    assert_eq!(evicted_by(&mut t, 6, at(600_002)), Some(1));
}

#[test]
fn when_every_key_is_worth_keeping_the_least_valuable_goes() {
    let (mut t, r) = protected(10, 3, BIG);
    for (k, n) in [(1u64, 5u32), (2, 2), (3, 8)] {
        let s = t.upsert(&k, at(1)).expect("admitted").slot;
        for i in 0..n {
            t.record(s, r, at(1 + i), 60_000);
        }
    }
    assert_eq!(evicted_by(&mut t, 4, at(100)), Some(2));
    assert_eq!(t.len(), 3);
}

#[test]
fn a_table_full_of_cooling_keys_refuses_new_ones_until_a_cooldown_ends() {
    let (mut t, r) = protected(1, 2, BIG);
    for k in [1u64, 2] {
        let s = t.upsert(&k, at(1)).expect("admitted").slot;
        t.record(s, r, at(1), 60_000);
        t.set_last_event(s, r, 1);
    }
    assert_eq!(t.upsert(&3, at(599_999)), None);
    assert_eq!((t.refused, t.evictions, t.len()), (1, 0, 2));
    assert!(
        t.upsert(&1, at(599_999)).is_some(),
        "tracked keys still count"
    );
    assert_eq!(evicted_by(&mut t, 3, at(600_001)), Some(2));
}

/// A threshold of 10,000 costs a one-off key nothing more than a threshold of 1, and the
/// budget, not `capacity`, decides how many keys fit.
#[test]
fn one_off_keys_cost_a_few_dozen_bytes_whatever_the_threshold() {
    let budget = 4 << 20;
    let (mut t, r) = protected(10_000, usize::MAX, budget);
    let mut peak = 0;
    for k in 0..200_000u64 {
        if let Some(up) = t.upsert(&k, at(1 + k as u32)) {
            t.record(up.slot, r, at(1 + k as u32), 60_000);
        }
        peak = peak.max(t.bytes());
    }
    assert!(peak <= budget, "{peak} bytes");
    let per_key = t.bytes() as f64 / t.len() as f64;
    assert!(per_key < 80.0, "{per_key} bytes per key");
    assert!(t.len() > 40_000, "{} keys", t.len());
    assert_eq!(t.evictions as usize + t.len(), 200_000);
}

/// A key near a threshold of 10,000 gets the bytes its responses need during a flood of
/// one-off keys that fills the budget.
#[test]
fn a_window_of_thousands_grows_within_the_budget_during_a_flood() {
    let budget = 2 << 20;
    let (mut t, r) = protected(10_000, usize::MAX, budget);
    let attacker = u64::MAX;
    let mut flagged = false;
    let mut clock = 1u32;
    for i in 0..100_000u64 {
        clock += 1;
        if i % 10 == 0 {
            let s = t
                .upsert(&attacker, at(clock))
                .expect("the attacker is tracked")
                .slot;
            flagged |= t.record(s, r, at(clock), 3_600_000).flagged;
        }
        if let Some(up) = t.upsert(&i, at(clock)) {
            t.record(up.slot, r, at(clock), 3_600_000);
        }
        assert!(t.bytes() <= budget, "{} bytes", t.bytes());
    }
    assert!(
        flagged,
        "10,000 responses within the window flag the attacker"
    );
    assert_eq!(t.refused, 0);
}
