//! The detector's state for threat rules: per actor and rule, the cooldown, the matches since
//! the last event and (for aggregating rules) the match times of the window; per actor and API
//! template, the distinct path-parameter values requested within the enumeration window. Within
//! its share of the memory budget: when full, an arbitrary key is forgotten (counted).

use crate::base::hash::SeededState;
use crate::base::memory::HeapSize;
use crate::model::actor::ActorKey;
use crate::model::threat::rule::ThreatRule;
use hashbrown::HashMap;
use std::collections::VecDeque;

/// What one match (or one enumeration step) amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Raise an event standing for `count` matches (or distinct values).
    Raise { count: u64 },
    /// Over the threshold (or a single match) but within the cooldown.
    Suppressed,
    /// Counted, below an aggregation or enumeration threshold.
    Counted,
    /// Not tracked: no room in the budget.
    Untracked,
}

#[derive(Debug, Default)]
struct RuleState {
    last_event_ms: Option<u64>,
    /// Matches since the last event, suppressed ones included.
    pending: u64,
    /// Aggregating rules: match times within the window, at most `threshold`.
    times: VecDeque<u64>,
}

/// One distinct path-parameter value an actor requested: its hash, when it was last requested
/// and the status that request got.
#[derive(Debug, Clone, Copy)]
struct Requested {
    value: u64,
    last_ms: u64,
    status: u16,
}

/// Bytes a key costs beyond its own heap: the map slot and the state.
const KEY_OVERHEAD: usize = 96;

pub(crate) struct Tracker {
    rules: HashMap<(ActorKey, usize), RuleState, SeededState>,
    values: HashMap<(ActorKey, u64), Vec<Requested>, SeededState>,
    max_bytes: usize,
    bytes: usize,
    pub evicted: u64,
}

impl Tracker {
    pub fn new(hasher: SeededState, max_bytes: usize) -> Tracker {
        Tracker {
            rules: HashMap::with_hasher(hasher),
            values: HashMap::with_hasher(hasher),
            max_bytes,
            bytes: 0,
            evicted: 0,
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.rules.len() + self.values.len()
    }

    /// Makes room for `need` more bytes by forgetting keys; `false` if it cannot.
    fn room(&mut self, need: usize) -> bool {
        if need > self.max_bytes {
            return false;
        }
        while self.bytes + need > self.max_bytes {
            if let Some(key) = self.values.keys().next().cloned() {
                if let Some(v) = self.values.remove(&key) {
                    self.bytes = self.bytes.saturating_sub(value_bytes(&key.0, v.capacity()));
                }
            } else if let Some(key) = self.rules.keys().next().cloned() {
                if let Some(s) = self.rules.remove(&key) {
                    self.bytes = self
                        .bytes
                        .saturating_sub(state_bytes(&key.0, s.times.capacity()));
                }
            } else {
                return false;
            }
            self.evicted += 1;
        }
        true
    }

    /// Gives `(actor, rule index)` a state if it has none; `false` when the budget has no room.
    fn track_rule(&mut self, key: &(ActorKey, usize)) -> bool {
        if self.rules.contains_key(key) {
            return true;
        }
        let need = state_bytes(&key.0, 0);
        if !self.room(need) {
            return false;
        }
        self.bytes += need;
        self.rules.insert(key.clone(), RuleState::default());
        true
    }

    /// One match of `rule` (index `index`) by `actor` at `ts_ms`.
    pub fn hit(
        &mut self,
        index: usize,
        rule: &ThreatRule,
        actor: &ActorKey,
        ts_ms: u64,
    ) -> Outcome {
        let key = (actor.clone(), index);
        if !self.track_rule(&key) {
            return Outcome::Untracked;
        }
        let Some(state) = self.rules.get_mut(&key) else {
            return Outcome::Untracked;
        };
        state.pending = state.pending.saturating_add(1);
        let flagged = match rule.aggregation {
            None => true,
            Some(agg) => {
                let before = state.times.capacity();
                let lower = ts_ms.saturating_sub(agg.window_secs.saturating_mul(1000));
                while state.times.front().is_some_and(|t| *t <= lower) {
                    state.times.pop_front();
                }
                if state.times.len() >= agg.threshold as usize {
                    state.times.pop_front();
                }
                state.times.push_back(ts_ms);
                let grown = state.times.capacity().saturating_sub(before) * size_of::<u64>();
                self.bytes += grown;
                state.times.len() >= agg.threshold as usize
            }
        };
        if !flagged {
            return Outcome::Counted;
        }
        raise_or_suppress(state, rule, ts_ms, |s| s.pending)
    }

    /// One match of `rule` whose response showed the attack worked: a `SINGLE` event whatever
    /// the rule aggregates, under a cooldown of its own (`index`, not the rule's), so that a
    /// success is reported even while the rule's own events are suppressed.
    pub fn hit_exploit(
        &mut self,
        index: usize,
        rule: &ThreatRule,
        actor: &ActorKey,
        ts_ms: u64,
    ) -> Outcome {
        let key = (actor.clone(), index);
        if !self.track_rule(&key) {
            return Outcome::Untracked;
        }
        let Some(state) = self.rules.get_mut(&key) else {
            return Outcome::Untracked;
        };
        state.pending = state.pending.saturating_add(1);
        raise_or_suppress(state, rule, ts_ms, |s| s.pending)
    }

    /// One request of `actor` for the API `api` (a hash of method and template) with the
    /// path-parameter values hashed to `value`, for the enumeration rule `rule` (index `index`).
    #[allow(clippy::too_many_arguments)]
    pub fn enumerate(
        &mut self,
        index: usize,
        rule: &ThreatRule,
        actor: &ActorKey,
        api: u64,
        value: u64,
        status: u16,
        ts_ms: u64,
    ) -> Outcome {
        let key = (actor.clone(), api);
        if !self.values.contains_key(&key) {
            if !self.room(value_bytes(actor, 0)) {
                return Outcome::Untracked;
            }
            self.bytes += value_bytes(actor, 0);
            self.values.insert(key.clone(), Vec::new());
        }
        let Some(values) = self.values.get_mut(&key) else {
            return Outcome::Untracked;
        };
        let before = values.capacity();
        let lower = ts_ms.saturating_sub(rule.window_secs.saturating_mul(1000));
        values.retain(|r| r.last_ms > lower);
        match values.iter_mut().find(|r| r.value == value) {
            Some(entry) => {
                if ts_ms >= entry.last_ms {
                    entry.status = status;
                }
                entry.last_ms = entry.last_ms.max(ts_ms);
            }
            None => {
                if values.len() >= rule.distinct as usize {
                    // At the threshold already: the oldest value makes room.
                    if let Some(oldest) = (0..values.len()).min_by_key(|&i| values[i].last_ms) {
                        values.swap_remove(oldest);
                    }
                }
                values.push(Requested {
                    value,
                    last_ms: ts_ms,
                    status,
                });
            }
        }
        let distinct = values.len() as u64;
        self.bytes += values.capacity().saturating_sub(before) * size_of::<Requested>();
        if distinct < u64::from(rule.distinct) {
            return Outcome::Counted;
        }
        let key = (actor.clone(), index);
        if !self.track_rule(&key) {
            return Outcome::Untracked;
        }
        let Some(state) = self.rules.get_mut(&key) else {
            return Outcome::Untracked;
        };
        raise_or_suppress(state, rule, ts_ms, |_| distinct)
    }
}

impl Tracker {
    /// The distinct values `actor` requested of `api` within the window, by the class of the
    /// status their latest request got (index 1 for 1XX .. 5 for 5XX).
    pub fn enumerated_classes(&self, actor: &ActorKey, api: u64) -> [u64; 6] {
        let mut classes = [0u64; 6];
        let key = (actor.clone(), api);
        for r in self.values.get(&key).into_iter().flatten() {
            classes[usize::from(r.status / 100).min(5)] += 1;
        }
        classes
    }
}

fn raise_or_suppress(
    state: &mut RuleState,
    rule: &ThreatRule,
    ts_ms: u64,
    count: impl Fn(&RuleState) -> u64,
) -> Outcome {
    let cooled = state
        .last_event_ms
        .is_none_or(|last| ts_ms >= last && ts_ms - last >= rule.cooldown_ms());
    if !cooled {
        return Outcome::Suppressed;
    }
    let count = count(state);
    state.last_event_ms = Some(ts_ms);
    state.pending = 0;
    Outcome::Raise { count }
}

fn state_bytes(actor: &ActorKey, times: usize) -> usize {
    KEY_OVERHEAD + actor.heap_bytes() + times * size_of::<u64>()
}

fn value_bytes(actor: &ActorKey, values: usize) -> usize {
    KEY_OVERHEAD + actor.heap_bytes() + values * size_of::<Requested>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::threat::rule::Aggregation;
    use crate::model::threat::ThreatId;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn actor(n: u8) -> ActorKey {
        ActorKey::V4([10, 0, 0, n])
    }

    const T0: u64 = 1_800_000_000_000;

    #[test]
    fn single_rules_raise_once_per_cooldown_with_the_matches_they_stand_for() {
        let mut t = Tracker::new(SeededState::new(1), 1 << 20);
        let rule = ThreatRule::new(ThreatId::SqlInjection);
        assert_eq!(t.hit(0, &rule, &actor(1), T0), Outcome::Raise { count: 1 });
        for i in 1..=9 {
            assert_eq!(t.hit(0, &rule, &actor(1), T0 + i), Outcome::Suppressed);
        }
        // One millisecond before the cooldown ends, still suppressed; at its end, raised with
        // every match since the last event.
        assert_eq!(t.hit(0, &rule, &actor(1), T0 + 59_999), Outcome::Suppressed);
        assert_eq!(
            t.hit(0, &rule, &actor(1), T0 + 60_000),
            Outcome::Raise { count: 11 }
        );
        // Another actor, another rule: their own cooldowns.
        assert_eq!(
            t.hit(0, &rule, &actor(2), T0 + 1),
            Outcome::Raise { count: 1 }
        );
        assert_eq!(
            t.hit(1, &rule, &actor(1), T0 + 1),
            Outcome::Raise { count: 1 }
        );
    }

    #[test]
    fn aggregating_rules_raise_at_the_threshold_within_the_window() {
        let mut t = Tracker::new(SeededState::new(1), 1 << 20);
        let mut rule = ThreatRule::new(ThreatId::Xss);
        rule.aggregation = Some(Aggregation {
            threshold: 3,
            window_secs: 10,
        });
        assert_eq!(t.hit(0, &rule, &actor(1), T0), Outcome::Counted);
        assert_eq!(t.hit(0, &rule, &actor(1), T0 + 10_000), Outcome::Counted);
        // The first match left the window (10 s after it): still two.
        assert_eq!(t.hit(0, &rule, &actor(1), T0 + 10_001), Outcome::Counted);
        assert_eq!(
            t.hit(0, &rule, &actor(1), T0 + 10_002),
            Outcome::Raise { count: 4 }
        );
    }

    #[test]
    fn enumeration_raises_at_the_distinct_count_within_the_window() {
        let mut t = Tracker::new(SeededState::new(1), 1 << 20);
        let mut rule = ThreatRule::new(ThreatId::ParamEnumeration);
        rule.distinct = 5;
        rule.window_secs = 60;
        for v in 0..4 {
            assert_eq!(
                t.enumerate(
                    0,
                    &rule,
                    &actor(1),
                    7,
                    v,
                    if v < 2 { 200 } else { 404 },
                    T0 + v
                ),
                Outcome::Counted
            );
        }
        // Repeats are not distinct.
        assert_eq!(
            t.enumerate(0, &rule, &actor(1), 7, 3, 404, T0 + 10),
            Outcome::Counted
        );
        // Another API is counted apart.
        assert_eq!(
            t.enumerate(0, &rule, &actor(1), 8, 99, 404, T0 + 10),
            Outcome::Counted
        );
        assert_eq!(
            t.enumerate(0, &rule, &actor(1), 7, 4, 404, T0 + 11),
            Outcome::Raise { count: 5 }
        );
        assert_eq!(
            t.enumerate(0, &rule, &actor(1), 7, 5, 404, T0 + 12),
            Outcome::Suppressed
        );
        // Values 0 and 1 were answered 200, 2 to 5 404; 0, the oldest, made room for 5.
        assert_eq!(t.enumerated_classes(&actor(1), 7), [0, 0, 1, 0, 4, 0]);
        assert_eq!(t.enumerated_classes(&actor(1), 8), [0, 0, 0, 0, 1, 0]);
        assert_eq!(t.enumerated_classes(&actor(2), 7), [0; 6]);
        // Values older than the window no longer count.
        let mut fresh = Tracker::new(SeededState::new(1), 1 << 20);
        for v in 0..4 {
            fresh.enumerate(0, &rule, &actor(1), 7, v, 404, T0);
        }
        assert_eq!(
            fresh.enumerate(0, &rule, &actor(1), 7, 9, 404, T0 + 60_000),
            Outcome::Counted
        );
    }

    #[test]
    fn a_full_budget_forgets_keys_and_counts_them() {
        let mut t = Tracker::new(SeededState::new(1), 3 * KEY_OVERHEAD);
        let rule = ThreatRule::new(ThreatId::SqlInjection);
        for n in 0..10 {
            assert_eq!(t.hit(0, &rule, &actor(n), T0), Outcome::Raise { count: 1 });
        }
        assert!(t.bytes() <= 3 * KEY_OVERHEAD);
        assert_eq!(t.evicted, 7);
        let mut none = Tracker::new(SeededState::new(1), 10);
        assert_eq!(none.hit(0, &rule, &actor(1), T0), Outcome::Untracked);
    }
}
