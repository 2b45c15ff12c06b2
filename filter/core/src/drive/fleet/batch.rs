//! Fleet mode's batches: when one is due, what it carries, and what its answer raises and
//! blocks.

use super::*;

/// A batch to POST to the front: where, with which headers, and the body, like a webhook
/// [`crate::Delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetCall {
    pub seq: u64,
    /// `fleet.cluster`: the Envoy cluster of the front.
    pub cluster: String,
    pub authority: String,
    pub path: String,
    /// `content-type` and, when `fleet.hmac_secret` is set, `x-actorwatch-signature`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: u64,
}

impl FleetCall {
    fn new(cfg: &Config, seq: u64, body: Vec<u8>, now_ms: u64) -> Self {
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if let Some(secret) = &cfg.fleet.hmac_secret {
            let signature =
                crate::deliver::signature::sign(secret.as_bytes(), now_ms / 1000, &body);
            headers.push((
                crate::deliver::signature::SIGNATURE_HEADER.to_string(),
                signature,
            ));
        }
        FleetCall {
            seq,
            cluster: cfg.fleet.cluster.clone(),
            authority: cfg.fleet.authority.clone(),
            path: cfg.fleet.path.clone(),
            headers,
            body,
            timeout_ms: cfg.fleet.timeout_ms,
        }
    }
}

/// What an answer brought: events this proxy raises, and blocks for every actor named.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub detections: Vec<Detection>,
    pub blocks: Vec<(ActorKey, u64, u16)>,
}

impl Fleet {
    /// The batch to send now, if one is due: every `flush_ms`, one at a time; a batch that
    /// failed goes again under its sequence number until its records are past the grace period.
    /// A failed batch without counts is rebuilt instead: its claims go with their cooldown
    /// left as of now, and nothing can be counted twice.
    pub fn poll(&mut self, now_ms: u64) -> Option<FleetCall> {
        let cfg = Arc::clone(&self.cfg);
        let fleet = &cfg.fleet;
        if now_ms < self.next_flush_ms
            && now_ms.saturating_add(fleet.flush_ms) >= self.next_flush_ms
        {
            return None;
        }
        if self.inflight.as_ref().is_some_and(|f| f.sent) {
            return None;
        }
        self.next_flush_ms = now_ms.saturating_add(fleet.flush_ms);
        self.prune(now_ms);
        let grace_floor = now_ms.saturating_sub(fleet.grace_ms + FLEET_BUCKET_MS);
        if let Some(inflight) = &mut self.inflight {
            if inflight.counts > 0 && inflight.oldest_ms >= grace_floor {
                inflight.sent = true;
                let (seq, body) = (inflight.seq, inflight.body.clone());
                return Some(FleetCall::new(&cfg, seq, body, now_ms));
            }
            // Too late for Redis to count: given up, counted. Its claims stay queued.
            self.counts.fleet_responses_dropped += inflight.counts;
            self.inflight = None;
        }
        if self.pending_oldest_ms < grace_floor {
            self.drop_late_pending(grace_floor);
        }
        let (batch, actors, claims, counts, oldest_ms) = self.take_batch(now_ms);
        let body = serde_json::to_vec(&batch).ok()?;
        let seq = batch.seq;
        self.inflight = Some(Inflight {
            seq,
            body: body.clone(),
            actors,
            counts,
            oldest_ms,
            claims,
            sent: true,
        });
        Some(FleetCall::new(&cfg, seq, body, now_ms))
    }

    #[inline(never)] // See `take_batch`.
    fn drop_late_pending(&mut self, floor_ms: u64) {
        let floor_bucket = floor_ms / FLEET_BUCKET_MS;
        let mut dropped = 0u64;
        let mut oldest = u64::MAX;
        for pending in self.pending.values_mut() {
            pending.entries.retain(|(_, _, bucket, count)| {
                let keep = *bucket >= floor_bucket;
                if keep {
                    oldest = oldest.min(bucket * FLEET_BUCKET_MS);
                } else {
                    dropped += u64::from(*count);
                }
                keep
            });
        }
        self.pending.retain(|_, p| !p.entries.is_empty());
        self.pending_bytes = self
            .pending
            .values()
            .flat_map(|p| p.entries.iter())
            .map(|e| ENTRY_BYTES + e.1.len())
            .sum();
        self.counts.fleet_responses_dropped += dropped;
        self.pending_counts = self.pending_counts.saturating_sub(dropped);
        self.pending_oldest_ms = oldest;
    }

    /// The next batch from what is pending and the claims queued: the batch, its actors' keys
    /// in order, the claims it carries, the counts it carries and its oldest record's time.
    /// Not inlined: in `poll` it made one function of 12 KB, and V8 keeps compile memory that
    /// grows with the largest functions.
    #[inline(never)]
    fn take_batch(&mut self, now_ms: u64) -> (Batch, Vec<ActorKey>, Vec<Claim>, u64, u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut actors = Vec::new();
        let mut keys = Vec::new();
        // A full batch takes the actors whose counts are oldest, the nearest to arriving
        // later than the grace period; the rest wait for the next one.
        // Each pending actor's oldest bucket, in the map's order.
        let buckets: Vec<u64> = self
            .pending
            .values()
            .map(|p| p.entries.iter().map(|e| e.2).min().unwrap_or(0))
            .collect();
        let cutoff = batch_cutoff(&buckets);
        let mut taken: Vec<ActorKey> = Vec::new();
        // Those older than the cutoff bucket first, then those of it until the batch is full.
        for older in [true, false] {
            for (key, &bucket) in self.pending.keys().zip(&buckets) {
                let wanted = if older {
                    bucket < cutoff
                } else {
                    bucket == cutoff
                };
                if wanted && taken.len() < MAX_ACTORS_PER_BATCH {
                    taken.push(key.clone());
                }
            }
        }
        let mut oldest = u64::MAX;
        let mut counts = 0u64;
        for key in taken {
            let Some(p) = self.pending.remove(&key) else {
                continue;
            };
            for (_, api, bucket, count) in &p.entries {
                oldest = oldest.min(bucket * FLEET_BUCKET_MS);
                counts += u64::from(*count);
                self.pending_bytes = self.pending_bytes.saturating_sub(ENTRY_BYTES + api.len());
            }
            actors.push(BatchActor {
                key: actor_hex(&key),
                entries: p
                    .entries
                    .into_iter()
                    .map(|(r, a, b, c)| (r, a.to_string(), b, c))
                    .collect(),
                claims: Vec::new(),
            });
            keys.push(key);
        }
        let before = self.claims.len();
        self.claims.retain(|c| c.until_ms > now_ms);
        if self.claims.len() != before {
            self.handover_version += 1;
        }
        let mut carried = Vec::new();
        let mut slots: HashMap<ActorKey, usize, SeededState> =
            HashMap::with_hasher(*self.pending.hasher());
        if !self.claims.is_empty() {
            slots.extend(keys.iter().cloned().zip(0..));
        }
        for claim in &self.claims {
            let slot = match slots.get(&claim.actor) {
                Some(slot) => *slot,
                None if actors.len() < MAX_ACTORS_PER_BATCH => {
                    actors.push(BatchActor {
                        key: actor_hex(&claim.actor),
                        entries: Vec::new(),
                        claims: Vec::new(),
                    });
                    keys.push(claim.actor.clone());
                    slots.insert(claim.actor.clone(), actors.len() - 1);
                    actors.len() - 1
                }
                // The next batch takes it.
                None => continue,
            };
            if let Some(actor) = actors.get_mut(slot) {
                // Claims travel as the cooldown left: clocks of proxy and Redis may differ.
                actor
                    .claims
                    .push((claim.rule, claim.api.to_string(), claim.until_ms - now_ms));
                carried.push(claim.clone());
            }
        }
        self.pending_counts = self.pending_counts.saturating_sub(counts);
        if self.pending.is_empty() {
            self.pending_oldest_ms = u64::MAX;
        }
        let batch = Batch {
            v: PROTOCOL,
            instance: self.instance.clone(),
            seq,
            grace_ms: self.cfg.fleet.grace_ms,
            bucket_ms: FLEET_BUCKET_MS,
            blocks_since_ms: self.blocks_since_ms,
            rules: self.rules.clone(),
            actors,
        };
        (batch, keys, carried, counts, oldest)
    }

    /// The front's answer to batch `seq`: `status` 0 when there was none (refused, timed out).
    /// Anything but a readable 2xx answer puts the proxy in fallback; the batch is retried.
    pub fn answered(&mut self, now_ms: u64, seq: u64, status: u16, body: &[u8]) -> Answer {
        let mut answer = Answer::default();
        let Some(inflight) = self.inflight.as_mut().filter(|f| f.seq == seq) else {
            return answer;
        };
        inflight.sent = false;
        let reply = (200..300)
            .contains(&status)
            .then(|| serde_json::from_slice::<Reply>(body).ok())
            .flatten()
            .filter(|r| r.seq == seq && r.actors.len() == inflight.actors.len());
        let Some(reply) = reply else {
            self.counts.fleet_batch_failures += 1;
            if !self.fallback {
                self.fallback = true;
                self.counts.fleet_fallbacks += 1;
            }
            // Retry on the next flush, not at once.
            self.next_flush_ms = now_ms.saturating_add(self.cfg.fleet.flush_ms);
            return answer;
        };
        let Some(inflight) = self.inflight.take() else {
            return answer;
        };
        self.fallback = false;
        if !inflight.claims.is_empty() {
            self.claims.retain(|c| !inflight.claims.contains(c));
            self.counts.fleet_claims_sent += inflight.claims.len() as u64;
            self.handover_version += 1;
        }
        self.counts.fleet_batches += 1;
        self.counts.fleet_responses_sent += inflight.counts;
        self.blocks_since_ms = reply.blocks_now_ms.max(self.blocks_since_ms);
        for (key, actor) in inflight.actors.iter().zip(&reply.actors) {
            self.counts.fleet_responses_late += actor.late;
            if actor.block_until_ms > 0 {
                answer
                    .blocks
                    .push((key.clone(), actor.block_until_ms, actor.block_status));
            }
            for flag in &actor.flags {
                self.apply_flag(now_ms, key, flag, &mut answer.detections);
            }
        }
        for (hex, until_ms, status) in &reply.blocks {
            if let Some(key) = actor_of_hex(hex) {
                self.counts.fleet_blocks_received += 1;
                answer.blocks.push((key, *until_ms, *status));
            }
        }
        answer
    }

    fn apply_flag(&mut self, now_ms: u64, key: &ActorKey, flag: &Flag, out: &mut Vec<Detection>) {
        let cfg = Arc::clone(&self.cfg);
        let Some(rule) = cfg.rules.get(flag.rule as usize) else {
            return;
        };
        let Some(known) = self.known.get_mut(key) else {
            let claimed = self.claims.iter().any(|c| {
                c.actor == *key && c.rule == flag.rule && *c.api == *flag.api && c.until_ms > now_ms
            });
            if flag.fired && claimed {
                self.counts.fleet_events_suppressed += 1;
            } else if flag.fired {
                let event = self.event_of_key(&cfg, rule, key, flag);
                out.push(event);
            }
            return;
        };
        let api: Arc<str> = Arc::from(flag.api.as_str());
        known.cooldowns.retain(|(_, _, until)| *until > now_ms);
        // This proxy raised the event already (in fallback) or knows the fleet did: an answer
        // that fires it again (a batch Redis applied whose answer came too late, repeated to
        // the retry; a Redis restarted empty) raises nothing within that cooldown.
        let cooling = known
            .cooldowns
            .iter()
            .any(|(r, a, _)| *r == flag.rule && **a == *api);
        if flag.cooldown_left_ms > 0 {
            let until = now_ms.saturating_add(flag.cooldown_left_ms);
            match known
                .cooldowns
                .iter_mut()
                .find(|(r, a, _)| *r == flag.rule && **a == *api)
            {
                Some(c) => c.2 = c.2.max(until),
                None => {
                    known.cooldowns.push((flag.rule, api, until));
                    self.handover_version += 1;
                }
            }
        }
        if !flag.fired {
            return;
        }
        if cooling {
            self.counts.fleet_events_suppressed += 1;
            return;
        }
        let rec = known.latest.as_record();
        let at_ms = rec.ts_ms;
        let samples = samples_for(rule, &known.samples, at_ms);
        self.counts.events_raised += 1;
        self.counts.fleet_events += 1;
        let api = (rule.per == Per::ActorApi).then(|| template(rec.path));
        let ref_id = format!("{}-{}", self.instance, self.counts.fleet_events);
        let event = counting_event(
            &cfg,
            rule,
            &rec,
            api.as_deref(),
            samples,
            flag.count,
            ref_id,
        );
        out.push(Detection {
            rule: flag.rule as usize,
            at_ms,
            event,
        });
    }

    /// The event for an actor this proxy did not keep (its budget was full): what the key and
    /// the flag say, no request details.
    fn event_of_key(
        &mut self,
        cfg: &Config,
        rule: &Rule,
        key: &ActorKey,
        flag: &Flag,
    ) -> Detection {
        self.counts.events_raised += 1;
        self.counts.fleet_events += 1;
        let (method, url) = flag.api.split_once(' ').unwrap_or(("", ""));
        // What the key and the flag say stand in for the request the proxy did not keep.
        let key_only = key_only_record(key, flag.at_ms);
        let rec = Record {
            method,
            path: url,
            ..key_only.as_record()
        };
        let ref_id = format!("{}-{}", self.instance, self.counts.fleet_events);
        Detection {
            rule: flag.rule as usize,
            at_ms: flag.at_ms,
            event: counting_event(cfg, rule, &rec, None, Vec::new(), flag.count, ref_id),
        }
    }
}

/// The oldest bucket a full batch reaches, from each pending actor's oldest bucket: every actor
/// whose counts start before it fits in one batch (a binary search over buckets, without
/// sorting the actors).
fn batch_cutoff(buckets: &[u64]) -> u64 {
    if buckets.len() <= MAX_ACTORS_PER_BATCH {
        return u64::MAX;
    }
    let (mut low, mut high) = (0u64, u64::MAX);
    // The least bucket b with more than a batch's worth of actors at or before it.
    while low < high {
        let mid = low + (high - low) / 2;
        let at_or_before = buckets.iter().filter(|b| **b <= mid).count();
        if at_or_before > MAX_ACTORS_PER_BATCH {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    low
}
