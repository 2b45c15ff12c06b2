//! OCSF 1.6.0 Detection Findings (class 2004, activity Create): the schema Amazon Security Lake
//! and AWS Security Hub write, which SIEMs ingest without a mapping of their own. 1.4.0 is the
//! least version with what an API finding needs (`evidences[].http_request`, `is_alert`);
//! 1.6.0 is the one Security Hub's findings have. A POST carries a JSON array of findings.

use super::{severity, summary, Batch, TaxonomyEvent};
use crate::base::address::parse_ip;
use crate::model::payload::MaliciousEvent;
use crate::model::taxonomy::{Taxonomy, Technique};
use serde_json::{json, Value};

pub(crate) const OCSF_VERSION: &str = "1.6.0";
/// The ATT&CK release the technique table follows.
const ATTACK_VERSION: &str = "v19";
/// The methods OCSF's `http_method` enumerates; another is left out of the finding.
const OCSF_METHODS: &[&str] = &[
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "TRACE", "PATCH",
];

pub(super) fn findings(b: &Batch) -> Vec<u8> {
    let findings: Vec<Value> = b.events.iter().map(|e| finding(b, e)).collect();
    serde_json::to_vec(&findings).unwrap_or_default()
}

/// OCSF's severity id and name for Akto's severity.
fn severity_of(akto: &str) -> (u8, &'static str) {
    match akto {
        "LOW" => (2, "Low"),
        "HIGH" => (4, "High"),
        "CRITICAL" => (5, "Critical"),
        _ => (3, "Medium"),
    }
}

/// An ATT&CK entry: a sub-technique (`T1059.004`) under its technique (`T1059`).
fn attack(t: &Technique) -> Value {
    let tactic = json!({"uid": t.tactic_id, "name": t.tactic});
    match (t.id.split_once('.'), t.name.split_once(": ")) {
        (Some((base, _)), Some((technique, sub))) => json!({
            "version": ATTACK_VERSION,
            "tactic": tactic,
            "technique": {"uid": base, "name": technique},
            "sub_technique": {"uid": t.id, "name": sub},
        }),
        _ => json!({
            "version": ATTACK_VERSION,
            "tactic": tactic,
            "technique": {"uid": t.id, "name": t.name},
        }),
    }
}

fn finding(b: &Batch, e: &MaliciousEvent) -> Value {
    let time_ms = e.timestamp.saturating_mul(1000);
    let (severity_id, severity_name) = severity_of(severity(e));
    let taxonomy: &Taxonomy = &b.taxonomy;
    let category = taxonomy
        .owasp
        .first()
        .map(|c| format!("{} {}", c.id, c.name))
        .unwrap_or_default();
    let uid = e
        .ref_id
        .clone()
        .unwrap_or_else(|| format!("actorwatch:{}:{}:{}", e.filter_id, e.actor, e.timestamp));
    let ip = parse_ip(&e.ip).map(|ip| ip.to_string());
    let mut url = json!({"path": e.url});
    if let Some(host) = &e.host {
        url["hostname"] = host.clone().into();
    }
    let mut http_request = json!({"url": url});
    if OCSF_METHODS.contains(&e.method.as_str()) {
        http_request["http_method"] = e.method.clone().into();
    }
    let mut evidence = json!({
        "http_request": http_request,
        "data": {
            "filterId": e.filter_id,
            "eventType": e.event_type,
            "subCategory": e.sub_category,
            "count": e.count.unwrap_or(1),
        },
    });
    let mut observables = Vec::new();
    if let Some(ip) = &ip {
        evidence["src_endpoint"] = json!({"ip": ip});
        observables.push(json!({
            "name": "evidences[0].src_endpoint.ip",
            "type_id": 2,
            "type": "IP Address",
            "value": ip,
        }));
    }
    let mut doc = json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200_401,
        "type_name": "Detection Finding: Create",
        "time": time_ms,
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": 1,
        "status": "New",
        "is_alert": true,
        "count": e.count.unwrap_or(1),
        "message": summary(e),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": uid,
            "log_provider": "actorwatch",
            "product": {
                "name": "actorwatch",
                "vendor_name": "actorwatch",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "finding_info": {
            "uid": uid,
            "title": format!("{} from {}", e.filter_id, e.actor),
            "desc": b.overview.description,
            "types": [e.sub_category],
            "created_time": time_ms,
            "first_seen_time": time_ms,
            "last_seen_time": time_ms,
            "analytic": {
                "uid": e.filter_id,
                "name": e.filter_id,
                "type_id": 1,
                "type": "Rule",
                "category": category,
            },
            "attacks": taxonomy.techniques.iter().map(attack).collect::<Vec<_>>(),
        },
        "evidences": [evidence],
        "unmapped": {"akto": TaxonomyEvent::of(e, taxonomy)},
    });
    if !observables.is_empty() {
        doc["observables"] = observables.into();
    }
    doc
}
