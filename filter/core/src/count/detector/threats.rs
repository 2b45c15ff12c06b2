//! The threat rules' side of counting: a record's findings (and, for object-ID enumeration,
//! its path) through the rules' cooldowns, aggregation windows and distinct-value windows, into
//! `SINGLE` and `AGGREGATED` events.

use super::{Detection, Detector};
use crate::base::template::template;
use crate::count::tracker::{Outcome, Tracker};
use crate::model::config::{Action, Config};
use crate::model::findings::Leak;
use crate::model::metrics::ThreatCount;
use crate::model::payload::{MaliciousEvent, SamplePayload};
use crate::model::record::Record;
use crate::model::sample::block_sample;
use crate::model::threat::{decode, HitRef, ThreatRule};
use std::hash::BuildHasher;
use std::sync::Arc;

impl Detector {
    /// Whether every request is recorded, whatever its status (object-ID enumeration).
    #[inline]
    pub fn records_every_request(&self) -> bool {
        self.enumeration.is_some()
    }

    /// Counts one request the threat rules inspected: its bytes, and whether its body was cut.
    pub fn count_inspected(&mut self, bytes: u64, body_truncated: bool) {
        self.counts.threat_inspected += 1;
        self.counts.threat_bytes_inspected += bytes;
        self.counts.bodies_truncated += u64::from(body_truncated);
    }

    /// Counts a response body read for leaks (`bytes` of it).
    pub fn count_response_inspected(&mut self, bytes: u64) {
        // An empty body was not read.
        if bytes == 0 {
            return;
        }
        self.counts.responses_inspected += 1;
        self.counts.response_bytes_inspected += bytes;
    }

    /// Counts a response body a rule wanted that was compressed (`content-encoding`).
    pub fn count_response_encoded(&mut self) {
        self.counts.response_bodies_encoded += 1;
    }

    /// Counts a request a blocking threat rule answered before the upstream.
    pub fn count_threat_blocked(&mut self) {
        self.counts.threat_blocked += 1;
    }

    #[inline(never)] // See `apply` in mod.rs.
    pub(super) fn apply_threats(&mut self, rec: &Record, out: &mut Vec<Detection>) {
        let Some(mut tracker) = self.threats.take() else {
            return;
        };
        let cfg = Arc::clone(&self.cfg);
        if let Some(block) = rec.threats {
            match decode(block) {
                None => self.counts.untracked_responses += 1,
                Some(findings) => {
                    let leaks = findings.leaks();
                    for hit in &findings.hits {
                        let Some(rule) = cfg.threat_rules.get(hit.rule) else {
                            continue;
                        };
                        self.counts.threat_matches += 1;
                        self.counts.count_threat(rule.id, ThreatCount::Matched);
                        // Unknown (left out) unless the rule read this response.
                        let verdict = (rule.inspect_response && findings.evidence.is_some())
                            .then(|| rule.id.exploited(rec.status, leaks));
                        let (outcome, event_type) = if verdict == Some(true) {
                            self.counts.threat_exploits += 1;
                            // Exploits have cooldowns of their own, after the rules'.
                            let index = cfg.threat_rules.len() + hit.rule;
                            let outcome = tracker.hit_exploit(index, rule, &rec.actor, rec.ts_ms);
                            (outcome, "SINGLE")
                        } else {
                            let outcome = tracker.hit(hit.rule, rule, &rec.actor, rec.ts_ms);
                            match rule.aggregation {
                                Some(_) => (outcome, "AGGREGATED"),
                                None => (outcome, "SINGLE"),
                            }
                        };
                        let sample = |d: &Detector| {
                            let shown: Vec<(Leak, &str)> = findings
                                .evidence
                                .iter()
                                .flatten()
                                .filter(|(leak, _)| rule.id.evidence().contains(*leak))
                                .copied()
                                .collect();
                            let (query, body) = (findings.query, findings.body_head);
                            d.threat_sample(rec, Some(hit), query, body, &shown)
                        };
                        let detections = out.len();
                        self.settle(
                            outcome, hit.rule, rule, rec, rec.path, event_type, sample, out,
                        );
                        if let Some(d) = out.get_mut(detections..).and_then(|d| d.first_mut()) {
                            d.event.successful_exploit = verdict;
                            if verdict == Some(true) {
                                d.event.severity = Some(rule.severity.raised().as_str().into());
                            }
                        }
                    }
                }
            }
        }
        self.apply_enumeration(&cfg, &mut tracker, rec, out);
        self.threats = Some(tracker);
    }

    /// The enumeration rule's part of [`Detector::apply_threats`].
    #[inline(never)] // See `apply` in mod.rs.
    fn apply_enumeration(
        &mut self,
        cfg: &Config,
        tracker: &mut Tracker,
        rec: &Record,
        out: &mut Vec<Detection>,
    ) {
        let enumeration = self
            .enumeration
            .and_then(|i| cfg.threat_rules.get(i).map(|r| (i, r)));
        if let Some((index, rule)) = enumeration {
            if let Some((api, value)) = parameter_values(rec.path) {
                let api_key = self.api_hasher.hash_one((rec.method, api.as_str()));
                let value_key = self.api_hasher.hash_one(value.as_str());
                let outcome = tracker.enumerate(
                    index, rule, &rec.actor, api_key, value_key, rec.status, rec.ts_ms,
                );
                let flagged = matches!(outcome, Outcome::Raise { .. } | Outcome::Suppressed);
                if flagged {
                    self.counts.count_threat(rule.id, ThreatCount::Matched);
                }
                if flagged && rule.action == Action::Block {
                    self.blocks.insert(
                        &rec.actor,
                        rec.ts_ms
                            .saturating_add(rule.block_secs.saturating_mul(1000)),
                        rule.block_status,
                    );
                }
                let sample = |d: &Detector| d.threat_sample(rec, None, "", "", &[]);
                let detections = out.len();
                self.settle(outcome, index, rule, rec, &api, "AGGREGATED", sample, out);
                // The objects were really read when most distinct values were answered 2XX.
                if let Some(d) = out.get_mut(detections..).and_then(|d| d.first_mut()) {
                    let classes = tracker.enumerated_classes(&rec.actor, api_key);
                    let distinct: u64 = classes.iter().sum();
                    d.event.response_statuses =
                        Some(crate::model::payload::status_classes(&classes));
                    d.event.successful_exploit = Some(classes[2] * 2 > distinct);
                }
            }
        }
    }

    /// What a threat rule's outcome for one record becomes: an event (with the sample
    /// `sample` builds), a suppressed match, or a record the budget could not track.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        outcome: Outcome,
        index: usize,
        rule: &ThreatRule,
        rec: &Record,
        url: &str,
        event_type: &str,
        sample: impl FnOnce(&Detector) -> Option<SamplePayload>,
        out: &mut Vec<Detection>,
    ) {
        match outcome {
            Outcome::Raise { count } => {
                let sample = sample(self);
                let event = self.threat_event(rule, rec, url, event_type, sample, count);
                out.push(Detection {
                    rule: self.cfg.rules.len() + index,
                    at_ms: rec.ts_ms,
                    event,
                });
            }
            Outcome::Suppressed => {
                self.counts.threat_suppressed += 1;
                self.counts.count_threat(rule.id, ThreatCount::Suppressed);
            }
            Outcome::Counted => {}
            Outcome::Untracked => self.counts.untracked_responses += 1,
        }
    }

    /// The sample of a threat event: the request as a counted response's sample shows it, with
    /// its query string, the first bytes of its body (credential fields replaced) and what
    /// matched where.
    fn threat_sample(
        &self,
        rec: &Record,
        hit: Option<&HitRef>,
        query: &str,
        body_head: &str,
        evidence: &[(Leak, &str)],
    ) -> Option<SamplePayload> {
        if self.cfg.samples_per_event == 0 {
            return None;
        }
        let path = if query.is_empty() {
            rec.path.to_string()
        } else {
            format!("{}?{query}", rec.path)
        };
        let orig = block_sample(
            &self.cfg,
            rec.sample_headers.unwrap_or(&[0]),
            rec.ts_ms,
            (rec.method, rec.path, rec.status),
            rec.ip,
        )?;
        let mut doc: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&orig).ok()?;
        doc.insert("path".into(), path.into());
        doc.insert("requestPayload".into(), body_head.into());
        if let Some(hit) = hit {
            doc.insert(
                "threat".into(),
                serde_json::json!({"part": hit.part, "name": hit.name, "excerpt": hit.excerpt}),
            );
        }
        if !evidence.is_empty() {
            let shown: Vec<serde_json::Value> = evidence
                .iter()
                .map(|(leak, excerpt)| serde_json::json!({"leak": leak.as_str(), "excerpt": excerpt}))
                .collect();
            doc.insert("responseEvidence".into(), shown.into());
        }
        Some(SamplePayload {
            orig: serde_json::to_string(&doc).ok()?,
            ts: i64::try_from(rec.ts_ms / 1000).unwrap_or(i64::MAX),
        })
    }

    #[inline(never)] // See `apply` in mod.rs: inlined in each `settle`.
    fn threat_event(
        &mut self,
        rule: &ThreatRule,
        rec: &Record,
        url: &str,
        event_type: &str,
        sample: Option<SamplePayload>,
        count: u64,
    ) -> MaliciousEvent {
        self.counts.events_raised += 1;
        self.counts.threat_events += 1;
        self.counts.count_threat(rule.id, ThreatCount::Event);
        self.event_seq += 1;
        MaliciousEvent {
            actor: self.cfg.actor.display(&rec.actor),
            api_collection_id: self.cfg.api_collection_id,
            country: rec.country_str().to_string(),
            event_type: event_type.into(),
            filter_id: rule.id.as_str().into(),
            ip: rec.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            method: rec.method.to_string(),
            sub_category: rule.id.sub_category().into(),
            timestamp: i64::try_from(rec.ts_ms / 1000).unwrap_or(i64::MAX),
            kind: "Rule-Based".into(),
            url: url.to_string(),
            malicious_payloads_responses: sample.into_iter().collect(),
            severity: Some(rule.severity.as_str().to_string()),
            category: Some(rule.id.sub_category().into()),
            host: (!rec.host.is_empty()).then(|| rec.host.to_string()),
            ref_id: Some(format!("{:016x}-{}", self.instance, self.event_seq)),
            count: Some(count),
            response_status: Some(rec.status),
            response_statuses: None,
            // Set by the caller where the response was read; unknown (left out) otherwise.
            successful_exploit: None,
        }
    }
}

/// The API template of a path and the values of its parameter segments (those the template
/// replaced), joined; `None` when the path has no parameter.
fn parameter_values(path: &str) -> Option<(String, String)> {
    let api = template(path);
    if api == path {
        return None;
    }
    let mut values = String::new();
    for (segment, templated) in path.split('/').zip(api.split('/')) {
        if segment != templated {
            values.push_str(segment);
            values.push('/');
        }
    }
    (!values.is_empty()).then_some((api, values))
}
