//! The events counting rules raise and the samples they carry: built the same way whether the
//! detector found the threshold crossed or Redis did (fleet mode).

use crate::count::sample_store::Sample;
use crate::model::config::{Config, Rule};
use crate::model::payload::{MaliciousEvent, SamplePayload};
use crate::model::record::Record;
use std::collections::VecDeque;

/// A counting rule's event about the actor of `rec` (its latest counted request), under `api`
/// for per-API rules: the same payload wherever the threshold was found crossed.
pub(crate) fn counting_event(
    cfg: &Config,
    rule: &Rule,
    rec: &Record,
    api: Option<&str>,
    samples: Vec<SamplePayload>,
    count: u64,
    ref_id: String,
) -> MaliciousEvent {
    MaliciousEvent {
        actor: cfg.actor.display(&rec.actor),
        api_collection_id: cfg.api_collection_id,
        country: rec.country_str().to_string(),
        event_type: "AGGREGATED".into(),
        filter_id: rule.id.clone(),
        ip: rec.ip.map(|ip| ip.to_string()).unwrap_or_default(),
        method: rec.method.to_string(),
        sub_category: rule.sub_category.clone(),
        timestamp: i64::try_from(rec.ts_ms / 1000).unwrap_or(i64::MAX),
        kind: rule.kind.as_str().to_string(),
        url: api.unwrap_or(rec.path).to_string(),
        malicious_payloads_responses: samples,
        severity: Some(rule.severity.as_str().to_string()),
        category: None,
        host: (!rec.host.is_empty()).then(|| rec.host.to_string()),
        ref_id: Some(ref_id),
        count: Some(count),
        response_status: Some(rec.status),
        // Every counted response has one of the rule's statuses: one class when they share it.
        response_statuses: single_class(rule).map(|class| {
            let mut classes = [0u64; 6];
            classes[class] = count;
            crate::model::payload::status_classes(&classes)
        }),
        successful_exploit: Some(false),
    }
}

/// The status class (1 to 5) of all of a rule's statuses, if they share one.
fn single_class(rule: &Rule) -> Option<usize> {
    let mut class = None;
    for status in 100..=599u16 {
        if rule.statuses.contains(status) {
            let c = usize::from(status / 100);
            if class.is_some_and(|k| k != c) {
                return None;
            }
            class = Some(c);
        }
    }
    class
}

/// The latest samples counted by `rule` within its window ending at `at_ms`, oldest first.
pub(crate) fn samples_for(rule: &Rule, ring: &VecDeque<Sample>, at_ms: u64) -> Vec<SamplePayload> {
    let lower = at_ms.saturating_sub(rule.window_ms());
    ring.iter()
        .filter(|s| rule.statuses.contains(s.status) && s.ts_ms > lower && s.ts_ms <= at_ms)
        .map(|s| SamplePayload {
            orig: s.orig.to_string(),
            ts: i64::try_from(s.ts_ms / 1000).unwrap_or(i64::MAX),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_rule_within_one_status_class_names_it() {
        let cfg = Config::from_json_str(
            r#"{"rules": [{"id": "A", "statuses": ["400-499"]}, {"id": "B", "statuses": [401, 403]},
                {"id": "C", "statuses": [401, 503]}, {"id": "D", "statuses": ["5xx"]}],
                "webhook": {"url": "http://127.0.0.1/"}}"#,
        )
        .unwrap();
        let classes: Vec<Option<usize>> = cfg.rules.iter().map(single_class).collect();
        assert_eq!(classes, [Some(4), Some(4), None, Some(5)]);
    }
}
