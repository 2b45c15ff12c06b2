//! Rules that share a key shape (per actor, per actor and API): their table of tracked keys,
//! the samples of those keys, and until when a key is quiet.

use super::*;

/// Rules that share a key shape, their table and the samples of its keys.
pub(super) struct Group<K> {
    pub(super) rules: Vec<usize>,
    pub(super) layouts: Vec<RuleLayout>,
    pub(super) table: Table<K>,
    pub(super) samples: SampleStore,
}

impl<K: Hash + Eq + Clone + HeapSize> Group<K> {
    /// Moves stored window times and cooldown starts down after their base moved up.
    pub(super) fn shift_down(&mut self, windows: Option<u32>, cooldowns: Option<u32>) {
        if let Some(shift) = windows {
            self.table.shift_windows_down(shift);
        }
        if let Some(shift) = cooldowns {
            self.table.shift_cooldowns_down(shift);
        }
    }

    pub(super) fn new(
        cfg: &Config,
        per: Per,
        hasher: SeededState,
        table_bytes: usize,
        sample_bytes: usize,
    ) -> Option<Self> {
        let rules: Vec<usize> = (0..cfg.rules.len())
            .filter(|&i| cfg.rules.get(i).is_some_and(|r| r.per == per))
            .collect();
        if rules.is_empty() {
            return None;
        }
        let thresholds: Vec<u32> = rules
            .iter()
            .filter_map(|&i| cfg.rules.get(i).map(|r| r.threshold))
            .collect();
        let (layouts, stride) = layout(&thresholds);
        let protections: Vec<Protection> = rules
            .iter()
            .zip(&layouts)
            .filter_map(|(&i, &rule)| {
                let r = cfg.rules.get(i)?;
                Some(Protection {
                    rule,
                    window_ms: u32::try_from(r.window_ms()).unwrap_or(u32::MAX),
                    cooldown_ms: u32::try_from(r.cooldown_ms()).unwrap_or(u32::MAX),
                })
            })
            .collect();
        Some(Group {
            rules,
            layouts,
            table: Table::new(hasher, stride, cfg.max_actors, table_bytes)
                .with_protections(protections),
            samples: SampleStore::new(sample_bytes),
        })
    }
}

/// Until when (exclusive) the actor in `slot` is quiet, and for which rules (a mask of rule
/// indexes): a response at `t` can be neither among a rule's event samples nor raise its event
/// while `t + window` is at most the rule's last event plus its cooldown (the sample test of
/// `apply_group`; an event needs the cooldown to have passed). Rules without an event yet, with
/// a cooldown shorter than their window, or past the mask's 16 bits are left out.
pub(super) fn quiet_until<K: Hash + Eq + Clone + HeapSize>(
    cfg: &Config,
    g: &mut Group<K>,
    slot: Slot,
    now: Now,
    ts_ms: u64,
) -> Option<(u64, u16)> {
    let mut until = u64::MAX;
    let mut rules = 0u16;
    for (&rule_index, &lay) in g.rules.iter().zip(g.layouts.iter()) {
        let (Some(rule), Some(bit)) = (
            cfg.rules.get(rule_index),
            1u16.checked_shl(rule_index as u32),
        ) else {
            continue;
        };
        let last = u64::from(g.table.last_event(slot, lay));
        if last == 0 {
            continue;
        }
        let end = u64::from(now.cooldown)
            .checked_sub(last)
            .and_then(|since| ts_ms.checked_sub(since))
            .zip(rule.cooldown_ms().checked_sub(rule.window_ms()))
            .map(|(last_ms, quiet_ms)| last_ms.saturating_add(quiet_ms));
        if let Some(end) = end.filter(|&end| end > ts_ms) {
            until = until.min(end);
            rules |= bit;
        }
    }
    (rules != 0).then_some((until, rules))
}

impl Detector {
    /// Raises the events of the flagged `results` of `g`'s key at `slot` (blocks, cooldowns,
    /// samples); true when one was raised.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)] // See `apply` in mod.rs.
    pub(super) fn raise<K: Hash + Eq + Clone + HeapSize>(
        &mut self,
        cfg: &Config,
        g: &mut Group<K>,
        slot: Slot,
        rec: &Record,
        now: Now,
        api: Option<&str>,
        results: &[(usize, RuleLayout, WindowResult)],
        out: &mut Vec<Detection>,
    ) -> bool {
        let mut raised = false;
        for &(rule_index, lay, result) in results {
            let Some(rule) = cfg.rules.get(rule_index) else {
                continue;
            };
            if !result.flagged {
                continue;
            }
            if rule.action == Action::Block {
                self.blocks.insert(
                    &rec.actor,
                    rec.ts_ms.saturating_add(rule.block_ms()),
                    rule.block_status,
                );
            }
            let last = g.table.last_event(slot, lay);
            let cooled = last == 0
                || now.cooldown >= last && u64::from(now.cooldown - last) >= rule.cooldown_ms();
            if !cooled {
                self.counts.events_suppressed += 1;
                continue;
            }
            g.table.set_last_event(slot, lay, now.cooldown);
            raised = true;
            let samples = match g.samples.of(slot) {
                Some(ring) => samples_for(rule, ring, rec.ts_ms),
                None => Vec::new(),
            };
            let event = self.event(rule, rec, api, samples, result.count);
            self.watch(rule_index, rule, rec, api);
            out.push(Detection {
                rule: rule_index,
                at_ms: rec.ts_ms,
                event,
            });
        }
        raised
    }
}
