//! A batch of events as each sink format writes it: Akto's webhook JSON (the default, byte for
//! byte what it always was), OCSF Detection Findings, Splunk HEC events, Alertmanager alerts,
//! a PagerDuty event, a Slack or a Teams message. Every format but Akto's carries the rule's
//! taxonomy (`model::taxonomy`); Akto's does when `webhook.taxonomy` is set.

use crate::model::config::{Config, SinkFormat, WebhookConfig};
use crate::model::payload::{MaliciousEvent, Overview, PayloadRef, Remediation};
use crate::model::taxonomy::Taxonomy;
use serde::Serialize;
use std::collections::VecDeque;

#[cfg(feature = "sinks")]
mod alerting;
#[cfg(feature = "sinks")]
mod chat;
#[cfg(feature = "sinks")]
mod ocsf;

/// What every format reads of a batch: its events, all of one rule.
pub(crate) struct Batch<'a> {
    pub sink: &'a WebhookConfig,
    pub filter_id: &'a str,
    pub overview: &'a Overview,
    pub remediation: &'a Remediation,
    pub taxonomy: Taxonomy,
    pub events: &'a VecDeque<Box<MaliciousEvent>>,
}

/// The body of a POST of `events` (all of filter `rule`) to `sink`. Not inlined: see
/// `Outbox::attempt`.
#[inline(never)]
pub(crate) fn body(
    cfg: &Config,
    sink: &WebhookConfig,
    rule: usize,
    events: &VecDeque<Box<MaliciousEvent>>,
) -> Vec<u8> {
    let (Some((filter_id, overview, remediation)), Some(taxonomy)) =
        (cfg.filter(rule), cfg.taxonomy(rule))
    else {
        return Vec::new();
    };
    let batch = Batch {
        sink,
        filter_id,
        overview,
        remediation,
        taxonomy,
        events,
    };
    match sink.format {
        SinkFormat::Akto if sink.taxonomy => akto_with_taxonomy(&batch),
        SinkFormat::Akto => serde_json::to_vec(&PayloadRef {
            malicious_events: events,
            overview,
            remediation,
        })
        .unwrap_or_default(),
        #[cfg(feature = "sinks")]
        SinkFormat::Ocsf => ocsf::findings(&batch),
        #[cfg(feature = "sinks")]
        SinkFormat::SplunkHec => splunk_hec(&batch),
        #[cfg(feature = "sinks")]
        SinkFormat::Alertmanager => alerting::alertmanager(&batch),
        #[cfg(feature = "sinks")]
        SinkFormat::PagerDuty => alerting::pagerduty(&batch),
        #[cfg(feature = "sinks")]
        SinkFormat::Slack => chat::slack(&batch),
        #[cfg(feature = "sinks")]
        SinkFormat::Teams => chat::teams(&batch),
        // The validator refuses `sinks` in a build without them.
        #[cfg(not(feature = "sinks"))]
        _ => Vec::new(),
    }
}

/// An event with its rule's taxonomy beside Akto's fields: `mitreAttackTechniques` (ids) and
/// `owaspApiCategories` (ids, `API8:2023`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaxonomyEvent<'a> {
    #[serde(flatten)]
    event: &'a MaliciousEvent,
    mitre_attack_techniques: Vec<&'static str>,
    owasp_api_categories: Vec<&'static str>,
}

impl<'a> TaxonomyEvent<'a> {
    fn of(event: &'a MaliciousEvent, taxonomy: &Taxonomy) -> Self {
        TaxonomyEvent {
            event,
            mitre_attack_techniques: taxonomy.techniques.iter().map(|t| t.id).collect(),
            owasp_api_categories: taxonomy.owasp.iter().map(|c| c.id).collect(),
        }
    }
}

fn akto_with_taxonomy(b: &Batch) -> Vec<u8> {
    let events: Vec<TaxonomyEvent> = b
        .events
        .iter()
        .map(|e| TaxonomyEvent::of(e, &b.taxonomy))
        .collect();
    serde_json::to_vec(&PayloadRef {
        malicious_events: events,
        overview: b.overview,
        remediation: b.remediation,
    })
    .unwrap_or_default()
}

#[cfg(feature = "sinks")]
/// Splunk's HTTP Event Collector (`/services/collector/event`): one envelope per event,
/// concatenated (HEC's batch form, not a JSON array); `time` in epoch seconds.
fn splunk_hec(b: &Batch) -> Vec<u8> {
    #[derive(Serialize)]
    struct Envelope<'a> {
        time: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<&'a str>,
        source: &'a str,
        sourcetype: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<&'a str>,
        event: TaxonomyEvent<'a>,
        /// Indexed fields: searchable without extraction.
        fields: Fields<'a>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Fields<'a> {
        filter_id: &'a str,
        severity: &'a str,
        mitre_attack_techniques: Vec<&'static str>,
        owasp_api_categories: Vec<&'static str>,
    }
    let mut out = Vec::new();
    for e in b.events {
        let envelope = Envelope {
            time: e.timestamp,
            host: e.host.as_deref(),
            source: &b.sink.splunk_source,
            sourcetype: &b.sink.splunk_sourcetype,
            index: b.sink.splunk_index.as_deref(),
            event: TaxonomyEvent::of(e, &b.taxonomy),
            fields: Fields {
                filter_id: &e.filter_id,
                severity: severity(e),
                mitre_attack_techniques: b.taxonomy.techniques.iter().map(|t| t.id).collect(),
                owasp_api_categories: b.taxonomy.owasp.iter().map(|c| c.id).collect(),
            },
        };
        if !out.is_empty() {
            out.push(b'\n');
        }
        let _ = serde_json::to_writer(&mut out, &envelope);
    }
    out
}

#[cfg(feature = "sinks")]
/// An event's severity as Akto names it (`MEDIUM` when it has none).
fn severity(e: &MaliciousEvent) -> &str {
    e.severity.as_deref().unwrap_or("MEDIUM")
}

#[cfg(feature = "sinks")]
/// One line a person reads: `SQLInjection from 203.0.113.9: GET /api/orders`, and for a
/// counting rule the responses it counted.
fn summary(e: &MaliciousEvent) -> String {
    match e.count {
        Some(count) if e.event_type == "AGGREGATED" => format!(
            "{} flagged {} after {count} counted responses (last: {} {})",
            e.filter_id, e.actor, e.method, e.url
        ),
        _ => format!("{} from {}: {} {}", e.filter_id, e.actor, e.method, e.url),
    }
}

#[cfg(feature = "sinks")]
/// The first `max` characters of `s`, with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(all(test, feature = "sinks"))]
mod tests;
