//! What a successor aggregator takes over from fleet mode: the queued claims and the fleet's
//! cooldowns this proxy knows of.

use super::*;

/// What a successor aggregator takes over: queued claims and the fleet's cooldowns this proxy
/// knows of. JSON; actors in hex, rules by id, times on the proxy's clock.
#[derive(Default, Serialize, Deserialize)]
struct Handover {
    claims: Vec<HandedCooldown>,
    cooldowns: Vec<HandedCooldown>,
}

#[derive(Serialize, Deserialize)]
struct HandedCooldown {
    actor: String,
    rule: String,
    api: String,
    until_ms: u64,
}

impl Fleet {
    /// Changes whenever what [`Fleet::export`] writes changes.
    pub fn handover_version(&self) -> u64 {
        self.handover_version
    }

    /// What a successor aggregator needs so that no event goes twice: the claims not yet
    /// acknowledged and the fleet's cooldowns this proxy knows of.
    pub fn export(&self) -> Vec<u8> {
        let rule_id = |rule: u32| self.cfg.rules.get(rule as usize).map(|r| r.id.clone());
        let claims = self
            .claims
            .iter()
            .filter_map(|c| {
                Some(HandedCooldown {
                    actor: actor_hex(&c.actor),
                    rule: rule_id(c.rule)?,
                    api: c.api.to_string(),
                    until_ms: c.until_ms,
                })
            })
            .collect();
        let mut cooldowns: Vec<HandedCooldown> = self
            .known
            .iter()
            .flat_map(|(key, known)| {
                known
                    .cooldowns
                    .iter()
                    .filter_map(move |(rule, api, until)| {
                        Some(HandedCooldown {
                            actor: actor_hex(key),
                            rule: rule_id(*rule)?,
                            api: api.to_string(),
                            until_ms: *until,
                        })
                    })
            })
            .collect();
        cooldowns.sort_by(|a, b| (&a.actor, &a.rule, &a.api).cmp(&(&b.actor, &b.rule, &b.api)));
        serde_json::to_vec(&Handover { claims, cooldowns }).unwrap_or_default()
    }

    /// Takes over what a predecessor exported: its claims queue here (sent with the next
    /// batch), its cooldowns hold this proxy's fallback events back. Entries of rules this
    /// configuration no longer has, or already over, are left out. Returns the claims taken.
    pub fn import(&mut self, now_ms: u64, bytes: &[u8]) -> Result<usize, serde_json::Error> {
        let doc: Handover = serde_json::from_slice(bytes)?;
        let cfg = Arc::clone(&self.cfg);
        let resolve = |c: &HandedCooldown| {
            let rule = cfg.rules.iter().position(|r| r.id == c.rule)?;
            let actor = actor_of_hex(&c.actor)?;
            (c.until_ms > now_ms).then_some((actor, rule as u32, Arc::<str>::from(c.api.as_str())))
        };
        let mut taken = 0;
        for c in &doc.claims {
            if let Some((actor, rule, api)) = resolve(c) {
                self.queue_claim(Claim {
                    actor,
                    rule,
                    api,
                    until_ms: c.until_ms,
                });
                taken += 1;
            }
        }
        for c in &doc.cooldowns {
            let Some((actor, rule, api)) = resolve(c) else {
                continue;
            };
            if !self.known.contains_key(&actor) {
                if self.known.len() >= cfg.max_actors {
                    continue;
                }
                // Until the actor's next record, its event is built from the key alone.
                let latest = key_only_record(&actor, now_ms);
                self.known_bytes +=
                    KNOWN_BYTES + crate::base::memory::HeapSize::heap_bytes(&latest);
                self.known.insert(
                    actor.clone(),
                    Known {
                        latest,
                        samples: VecDeque::new(),
                        cooldowns: Vec::new(),
                    },
                );
            }
            if let Some(known) = self.known.get_mut(&actor) {
                known.cooldowns.push((rule, api, c.until_ms));
            }
        }
        self.handover_version += 1;
        Ok(taken)
    }
}
