//! After the flag: a rule with `success_statuses` watches the actor (and API, for per-API
//! rules) it flagged until its cooldown ends, and the first response with one of those statuses
//! is the attack's hit (a credential stuffer's login that worked): a `SINGLE` event with
//! `successfulExploit: true`, severity one level up.

use super::{Detection, Detector};
use crate::base::memory::HeapSize;
use crate::base::template::template;
use crate::model::actor::ActorKey;
use crate::model::config::{Config, Per, Rule};
use crate::model::payload::SamplePayload;
use crate::model::record::Record;
use std::hash::BuildHasher;
use std::sync::Arc;

/// Bytes a watched key costs beyond its actor's heap: the map slot and the deadline.
const WATCH_ENTRY_BYTES: usize = 64;

/// A watched actor: (actor, API hash or 0, rule index).
pub(super) type WatchKey = (ActorKey, u64, usize);

impl Detector {
    /// The API key of a rule's watch: the method and template's hash for per-API rules.
    fn watch_api(&self, rule: &Rule, method: &str, api: Option<&str>) -> u64 {
        match (rule.per, api) {
            (Per::ActorApi, Some(api)) => self.api_hasher.hash_one((method, api)),
            _ => 0,
        }
    }

    /// A rule flagged `rec`'s actor (under `api`): watch it until the rule's cooldown (at
    /// least its window) ends, if the rule has `success_statuses`.
    pub(super) fn watch(
        &mut self,
        rule_index: usize,
        rule: &Rule,
        rec: &Record,
        api: Option<&str>,
    ) {
        if rule.success_statuses.is_empty() {
            return;
        }
        let key = (
            rec.actor.clone(),
            self.watch_api(rule, rec.method, api),
            rule_index,
        );
        let until = rec
            .ts_ms
            .saturating_add(rule.cooldown_ms().max(rule.window_ms()));
        if self.watching.len() >= self.cfg.max_actors && !self.watching.contains_key(&key) {
            self.watching.retain(|_, end| *end >= rec.ts_ms);
            if self.watching.len() >= self.cfg.max_actors {
                // Full of live watches: the one ending first is forgotten (counted).
                let first = self
                    .watching
                    .iter()
                    .min_by_key(|(_, end)| **end)
                    .map(|(k, _)| k.clone());
                if let Some(first) = first {
                    self.watching.remove(&first);
                    self.counts.actors_evicted += 1;
                }
            }
        }
        self.watching.insert(key, until);
    }

    /// A response with a status some rule's `success_statuses` holds: an event for each rule
    /// watching its actor (and API), which then stops watching.
    #[inline(never)] // See `apply` in mod.rs.
    pub(super) fn apply_success(
        &mut self,
        cfg: &Config,
        rec: &Record,
        sample: &mut dyn FnMut() -> Option<Arc<str>>,
        out: &mut Vec<Detection>,
    ) {
        for (index, rule) in cfg.rules.iter().enumerate() {
            if !rule.success_statuses.contains(rec.status) {
                continue;
            }
            let api = (rule.per == Per::ActorApi).then(|| template(rec.path));
            let key = (
                rec.actor.clone(),
                self.watch_api(rule, rec.method, api.as_deref()),
                index,
            );
            let Some(until) = self.watching.remove(&key) else {
                continue;
            };
            if rec.ts_ms > until {
                continue;
            }
            self.counts.flagged_successes += 1;
            let samples = (cfg.samples_per_event > 0)
                .then(&mut *sample)
                .flatten()
                .map(|orig| SamplePayload {
                    orig: orig.to_string(),
                    ts: i64::try_from(rec.ts_ms / 1000).unwrap_or(i64::MAX),
                })
                .into_iter()
                .collect();
            let mut event = self.event(rule, rec, api.as_deref(), samples, 1);
            let mut classes = [0u64; 6];
            if let Some(class) = classes.get_mut(usize::from(rec.status / 100)) {
                *class = 1;
            }
            event.event_type = "SINGLE".into();
            event.response_statuses = Some(crate::model::payload::status_classes(&classes));
            event.successful_exploit = Some(true);
            event.severity = Some(rule.severity.raised().as_str().into());
            out.push(Detection {
                rule: index,
                at_ms: rec.ts_ms,
                event,
            });
        }
    }

    /// Forgets watches that ended by `now_ms`.
    pub(super) fn prune_watches(&mut self, now_ms: u64) {
        if !self.watching.is_empty() {
            self.watching.retain(|_, end| *end >= now_ms);
        }
    }

    /// Bytes of the watched actors.
    pub(super) fn watch_bytes(&self) -> usize {
        self.watching
            .keys()
            .map(|(actor, _, _)| WATCH_ENTRY_BYTES + actor.heap_bytes())
            .sum()
    }
}
