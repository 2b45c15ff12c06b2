//! One configuration's engine in a replay, and what it saw of each actor: the events per rule
//! and each actor's peak count within each counting rule's window.
//!
//! The peaks are counted here, beside the engine, on purpose: the core's windows keep at most
//! `threshold` times per actor (its memory bound), while the sweep and the report ask how far
//! past or short of a threshold each actor came, and when.

use actorwatch_core::{ActorKey, Config, Detection, Engine, Observation};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

#[derive(Default)]
pub struct RuleSummary {
    pub actors: BTreeSet<String>,
    pub events: u64,
}

/// An actor's counted responses within one rule's window, and the most it ever held.
#[derive(Default)]
pub struct Window {
    times: VecDeque<u64>,
    pub peak: u32,
}

impl Window {
    /// The times of the responses now in the window (all of them when uncapped).
    pub fn times(&self) -> impl Iterator<Item = u64> + '_ {
        self.times.iter().copied()
    }
}

/// Exact sliding-window counts per actor for one counting rule.
pub struct Peaks {
    window_ms: u64,
    /// Counts above this are not needed (a sweep only asks how close actors came).
    cap: Option<usize>,
    pub actors: HashMap<ActorKey, Window>,
}

impl Peaks {
    fn new(window_ms: u64, cap: Option<usize>) -> Self {
        Peaks {
            window_ms,
            cap,
            actors: HashMap::new(),
        }
    }

    /// Counts a response at `ts_ms`; returns the actor's count in `(ts - window, ts]`.
    pub fn count(&mut self, actor: &ActorKey, ts_ms: u64) -> u32 {
        let w = match self.actors.get_mut(actor) {
            Some(w) => w,
            None => self.actors.entry(actor.clone()).or_default(),
        };
        let start = ts_ms.saturating_sub(self.window_ms);
        while w.times.front().is_some_and(|&t| t <= start) {
            w.times.pop_front();
        }
        w.times.push_back(ts_ms);
        if self.cap.is_some_and(|cap| w.times.len() > cap) {
            w.times.pop_front();
        }
        let count = u32::try_from(w.times.len()).unwrap_or(u32::MAX);
        w.peak = w.peak.max(count);
        count
    }
}

pub struct Lane {
    pub cfg: Arc<Config>,
    pub engine: Engine,
    pub per_rule: BTreeMap<usize, RuleSummary>,
    pub blocked_requests: u64,
    pub posts: u64,
    /// One per counting rule (`cfg.rules`), in order.
    pub peaks: Vec<Peaks>,
}

/// What one record did in a lane.
pub struct Step {
    pub detections: Vec<Detection>,
    /// The actor's count in each counting rule's window after this response (0: not counted).
    pub counts: Vec<u32>,
}

impl Lane {
    /// `capped`: keep each actor's window only up to its rule's threshold.
    pub fn new(cfg: Arc<Config>, seed: u64, capped: bool) -> Self {
        let peaks = cfg
            .rules
            .iter()
            .map(|r| {
                let cap = capped.then_some(r.threshold as usize);
                Peaks::new(r.window_ms(), cap)
            })
            .collect();
        Lane {
            engine: Engine::with_shared_config(Arc::clone(&cfg), seed),
            cfg,
            per_rule: BTreeMap::new(),
            blocked_requests: 0,
            posts: 0,
            peaks,
        }
    }

    /// Replays one response of `actor` (resolved by the caller, the same in every lane).
    pub fn observe(&mut self, ts_ms: u64, obs: &Observation, actor: Option<&ActorKey>) -> Step {
        // A blocked actor's request would have been answered by the proxy, never reaching the
        // API: it is not a response to count.
        let blocked = actor
            .and_then(|a| self.engine.check_blocked(ts_ms, a))
            .is_some();
        let mut step = Step {
            detections: Vec::new(),
            counts: vec![0; self.peaks.len()],
        };
        if blocked {
            self.blocked_requests += 1;
            return step;
        }
        self.engine.observe(ts_ms, obs, &mut step.detections);
        if let Some(actor) = actor {
            for (i, rule) in self.cfg.rules.iter().enumerate() {
                if rule.statuses.contains(obs.status) {
                    if let (Some(peaks), Some(count)) =
                        (self.peaks.get_mut(i), step.counts.get_mut(i))
                    {
                        *count = peaks.count(actor, ts_ms);
                    }
                }
            }
        }
        for d in &step.detections {
            let s = self.per_rule.entry(d.rule).or_default();
            s.actors.insert(d.event.actor.clone());
            s.events += 1;
        }
        step
    }

    /// Actors flagged by any counting rule, and the counting rules' events.
    pub fn counting_totals(&self) -> (usize, u64) {
        let counting = self.cfg.rules.len();
        let mut actors = BTreeSet::new();
        let mut events = 0;
        for (_, s) in self.per_rule.range(..counting) {
            actors.extend(s.actors.iter());
            events += s.events;
        }
        (actors.len(), events)
    }

    /// Of the actors with a counted response, the share whose peak stayed below half of every
    /// counting rule's threshold.
    pub fn never_close_share(&self) -> Option<f64> {
        let mut seen: HashMap<&ActorKey, bool> = HashMap::new();
        for (rule, peaks) in self.cfg.rules.iter().zip(&self.peaks) {
            for (actor, w) in &peaks.actors {
                let close = u64::from(w.peak) * 2 >= u64::from(rule.threshold);
                *seen.entry(actor).or_default() |= close;
            }
        }
        if seen.is_empty() {
            return None;
        }
        let never = seen.values().filter(|close| !**close).count();
        Some(never as f64 / seen.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_half_open_and_peaks_kept() {
        let mut p = Peaks::new(1_000, None);
        let a = ActorKey::V4([10, 0, 0, 1]);
        assert_eq!(p.count(&a, 5_000), 1);
        assert_eq!(p.count(&a, 5_999), 2);
        // 5,000 leaves the window (6,000 - 1,000, 6,000].
        assert_eq!(p.count(&a, 6_000), 2);
        assert_eq!(p.count(&a, 9_000), 1);
        assert_eq!(p.actors[&a].peak, 2);
        let mut capped = Peaks::new(1_000, Some(2));
        for t in 0..10 {
            assert!(capped.count(&a, 5_000 + t) <= 2);
        }
        assert_eq!(capped.actors[&a].peak, 2);
    }
}
