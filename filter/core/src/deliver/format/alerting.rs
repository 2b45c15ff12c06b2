//! Alertmanager's API v2 (`POST /api/v2/alerts`: an array of alerts) and PagerDuty's Events
//! API v2 (`POST /v2/enqueue`: one event per request).

use super::{cut, severity, summary, Batch, TaxonomyEvent};
use crate::base::rfc3339::rfc3339;
use serde_json::{json, Map, Value};

/// The alert name every pushed alert has; the rule and the actor tell them apart.
pub(crate) const ALERT_NAME: &str = "ActorwatchEvent";

/// One alert per event. Labels are the alert's identity (rule, actor, severity), so repeats of
/// an actor's event are one alert; everything else is an annotation. It fires from the event's
/// time and resolves `resolve_after_secs` later unless pushed again.
pub(super) fn alertmanager(b: &Batch) -> Vec<u8> {
    let join = |ids: Vec<&str>| ids.join(",");
    let techniques = join(b.taxonomy.techniques.iter().map(|t| t.id).collect());
    let owasp = join(b.taxonomy.owasp.iter().map(|c| c.id).collect());
    let alerts: Vec<Value> = b
        .events
        .iter()
        .map(|e| {
            let ends = e.timestamp.saturating_add(b.sink.resolve_after_secs as i64);
            let mut annotations = Map::new();
            annotations.insert("summary".into(), cut(&summary(e), 512).into());
            annotations.insert("description".into(), b.overview.description.clone().into());
            annotations.insert("method".into(), e.method.clone().into());
            annotations.insert("url".into(), e.url.clone().into());
            annotations.insert("mitre_attack_techniques".into(), techniques.clone().into());
            annotations.insert("owasp_api_categories".into(), owasp.clone().into());
            for (key, value) in [("host", e.host.as_ref()), ("ref_id", e.ref_id.as_ref())] {
                if let Some(v) = value {
                    annotations.insert(key.into(), v.clone().into());
                }
            }
            if let Some(count) = e.count {
                annotations.insert("count".into(), count.to_string().into());
            }
            json!({
                "labels": {
                    "alertname": ALERT_NAME,
                    "source": "actorwatch",
                    "rule": e.filter_id,
                    "actor": e.actor,
                    "severity": severity(e).to_ascii_lowercase(),
                    "event_type": e.event_type,
                    "mitre_technique": b.taxonomy.techniques.first().map_or("", |t| t.id),
                    "owasp_api": b.taxonomy.owasp.first().map_or("", |c| c.id),
                },
                "annotations": annotations,
                "startsAt": rfc3339(e.timestamp, 0),
                "endsAt": rfc3339(ends, 0),
            })
        })
        .collect();
    serde_json::to_vec(&alerts).unwrap_or_default()
}

/// PagerDuty's severity for Akto's.
fn pagerduty_severity(akto: &str) -> &'static str {
    match akto {
        "CRITICAL" => "critical",
        "HIGH" => "error",
        "LOW" => "info",
        _ => "warning",
    }
}

/// The batch's event (PagerDuty takes one per request: `batch_size` is 1). Repeats of one
/// actor's events on one rule share a `dedup_key`: one incident, not one per event.
pub(super) fn pagerduty(b: &Batch) -> Vec<u8> {
    let Some(e) = b.events.front() else {
        return Vec::new();
    };
    let body = json!({
        "routing_key": b.sink.routing_key.as_deref().unwrap_or(""),
        "event_action": "trigger",
        "dedup_key": cut(&format!("actorwatch:{}:{}", e.filter_id, e.actor), 255),
        "client": "actorwatch",
        "payload": {
            "summary": cut(&summary(e), 1000),
            "source": e.host.as_deref().unwrap_or("actorwatch"),
            "severity": pagerduty_severity(severity(e)),
            "timestamp": rfc3339(e.timestamp, 0),
            "component": cut(&e.url, 255),
            "group": e.filter_id,
            "class": e.sub_category,
            "custom_details": TaxonomyEvent::of(e, &b.taxonomy),
        },
    });
    serde_json::to_vec(&body).unwrap_or_default()
}
