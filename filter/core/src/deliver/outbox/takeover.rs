//! An outbox's events handed to a successor (a new aggregator after a lease change, a VM reload
//! or a new configuration): batches keep their delivery ids, so that a receiver that already got
//! one drops the repeat. JSON; rules are named by id.

use super::{event_bytes, Outbox};
use crate::model::payload::MaliciousEvent;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

/// What [`Outbox::export`] writes: batches keep their delivery ids.
#[derive(Serialize, Deserialize)]
struct Exported {
    batches: Vec<ExportedBatch>,
    queued: Vec<ExportedEvent>,
}

#[derive(Serialize, Deserialize)]
struct ExportedBatch {
    id: String,
    filter_id: String,
    events: Vec<MaliciousEvent>,
}

#[derive(Serialize, Deserialize)]
struct ExportedEvent {
    filter_id: String,
    event: MaliciousEvent,
}

impl Outbox {
    /// Every held event, for a successor: batches (in flight or waiting) with their delivery
    /// ids, then the queued events. JSON; rules are named by id.
    pub fn export(&self) -> Vec<u8> {
        let rule_id = |rule: usize| {
            self.cfg
                .filter(rule)
                .map(|(id, _, _)| id.to_string())
                .unwrap_or_default()
        };
        let mut queued: Vec<(u64, ExportedEvent)> = self
            .queues
            .iter()
            .enumerate()
            .flat_map(|(rule, q)| {
                q.iter().map(move |(arrival, e)| {
                    (
                        *arrival,
                        ExportedEvent {
                            filter_id: rule_id(rule),
                            event: (**e).clone(),
                        },
                    )
                })
            })
            .collect();
        queued.sort_by_key(|(arrival, _)| *arrival);
        let doc = Exported {
            batches: self
                .batches
                .values()
                .map(|b| ExportedBatch {
                    id: b.id.clone(),
                    filter_id: rule_id(b.rule),
                    events: b.events.iter().map(|e| (**e).clone()).collect(),
                })
                .collect(),
            queued: queued.into_iter().map(|(_, e)| e).collect(),
        };
        serde_json::to_vec(&doc).unwrap_or_default()
    }

    /// Takes over what a predecessor exported: its batches keep their delivery ids (a receiver
    /// that got one already deduplicates it) and go out on the next poll; its queued events
    /// queue here. Events of a rule this configuration no longer has are dropped and counted,
    /// as are events beyond this outbox's bounds. Returns the events taken over.
    pub fn import(&mut self, now_ms: u64, bytes: &[u8]) -> Result<usize, serde_json::Error> {
        let doc: Exported = serde_json::from_slice(bytes)?;
        let cfg = Arc::clone(&self.cfg);
        let rule_of = |id: &str| cfg.filter_index(id);
        let mut taken = 0;
        for b in doc.batches {
            let Some(rule) = rule_of(&b.filter_id) else {
                self.counts.events_dropped += b.events.len() as u64;
                continue;
            };
            let mut events = VecDeque::with_capacity(b.events.len());
            for e in b.events {
                let bytes = event_bytes(&e);
                if self.held >= self.sink().queue_capacity || !self.budget.fits(bytes) {
                    self.counts.events_dropped += 1;
                    continue;
                }
                self.held += 1;
                self.budget.charge(bytes);
                events.push_back(Box::new(e));
            }
            if !events.is_empty() {
                taken += events.len();
                self.add_batch(b.id, rule, events, now_ms);
            }
        }
        for q in doc.queued {
            match rule_of(&q.filter_id) {
                Some(rule) => {
                    let dropped = self.counts.events_dropped;
                    self.push(now_ms, rule, q.event);
                    taken += usize::from(self.counts.events_dropped == dropped);
                }
                None => self.counts.events_dropped += 1,
            }
        }
        Ok(taken)
    }
}
