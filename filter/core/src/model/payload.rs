//! Akto's "New API runtime threats" webhook payload, field for field.

use serde::{Deserialize, Serialize};

/// One POST body: events of one filter, with that filter's overview and remediation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookPayload {
    pub malicious_events: Vec<MaliciousEvent>,
    pub overview: Overview,
    pub remediation: Remediation,
}

/// The same envelope over borrowed parts, so a body is written without copying events.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PayloadRef<'a, I: Serialize> {
    pub malicious_events: I,
    pub overview: &'a Overview,
    pub remediation: &'a Remediation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MaliciousEvent {
    pub actor: String,
    pub api_collection_id: i64,
    pub country: String,
    pub event_type: String,
    pub filter_id: String,
    pub ip: String,
    pub method: String,
    pub sub_category: String,
    /// Detection time, Unix epoch seconds.
    pub timestamp: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub malicious_payloads_responses: Vec<SamplePayload>,
    /// Extra fields Akto's own events also carry; absent in the documented example.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Akto's category of a threat rule's event (its `subCategory`); absent for counting rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Unique id of this event (stable across delivery retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    /// Responses counted in the window when the event was raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The status of the response to the latest request behind the event (the one `url` and
    /// `method` name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    /// The requests behind the event by their responses' status class (`{"2XX": 4, "4XX": 1}`),
    /// where it is known exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_statuses: Option<std::collections::BTreeMap<String, u64>>,
    /// Akto's `successfulExploit`: the responses show that the attack worked (an enumeration
    /// answered mostly 2XX: objects really read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_exploit: Option<bool>,
}

/// `{"2XX": n, ...}` of the classes counted in `classes` (index 1 for 1XX .. 5 for 5XX).
pub(crate) fn status_classes(classes: &[u64; 6]) -> std::collections::BTreeMap<String, u64> {
    classes
        .iter()
        .enumerate()
        // Class 0 holds requests that got no response (status 0): not a status class.
        .filter(|(c, n)| *c > 0 && **n > 0)
        .map(|(c, n)| (format!("{c}XX"), *n))
        .collect()
}

impl crate::base::memory::HeapSize for MaliciousEvent {
    fn heap_bytes(&self) -> usize {
        let strings = [
            &self.actor,
            &self.country,
            &self.event_type,
            &self.filter_id,
            &self.ip,
            &self.method,
            &self.sub_category,
            &self.kind,
            &self.url,
        ];
        let optional = [&self.severity, &self.category, &self.host, &self.ref_id];
        strings.iter().map(|s| s.capacity()).sum::<usize>()
            + optional
                .iter()
                .flat_map(|s| s.as_ref())
                .map(|s| s.capacity())
                .sum::<usize>()
            + self.malicious_payloads_responses.capacity() * size_of::<SamplePayload>()
            + self
                .malicious_payloads_responses
                .iter()
                .map(|s| s.orig.capacity())
                .sum::<usize>()
            // A map node per class: its key and count, and the tree's bookkeeping.
            + self.response_statuses.as_ref().map_or(0, |m| m.len() * 64)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplePayload {
    /// A JSON document, as a string.
    pub orig: String,
    /// Epoch seconds.
    pub ts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overview {
    pub description: String,
    pub details: String,
    pub impact: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    pub title: String,
    pub steps: Vec<RemediationStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationStep {
    pub title: String,
    pub text: String,
}

/// Differences between a JSON document and Akto's webhook format: every required field, with its
/// JSON type, at every level. Extra fields are allowed (Akto's own events carry more). Empty
/// when the document conforms.
pub fn shape_errors(doc: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    #[derive(Clone, Copy)]
    enum Kind {
        Str,
        Int,
        Arr,
        Obj,
    }
    fn check(errors: &mut Vec<String>, obj: &Value, path: &str, fields: &[(&str, Kind)]) {
        let Some(map) = obj.as_object() else {
            errors.push(format!("{path}: must be an object"));
            return;
        };
        for (name, kind) in fields {
            let (ok, want) = match (map.get(*name), kind) {
                (None, _) => {
                    errors.push(format!("{path}.{name}: missing"));
                    continue;
                }
                (Some(v), Kind::Str) => (v.is_string(), "a string"),
                (Some(v), Kind::Int) => (v.is_i64() || v.is_u64(), "an integer"),
                (Some(v), Kind::Arr) => (v.is_array(), "an array"),
                (Some(v), Kind::Obj) => (v.is_object(), "an object"),
            };
            if !ok {
                errors.push(format!("{path}.{name}: must be {want}"));
            }
        }
    }
    use Kind::*;
    let mut errors = Vec::new();
    check(
        &mut errors,
        doc,
        "$",
        &[
            ("maliciousEvents", Arr),
            ("overview", Obj),
            ("remediation", Obj),
        ],
    );
    if let Some(events) = doc.get("maliciousEvents").and_then(Value::as_array) {
        for (i, event) in events.iter().enumerate() {
            let path = format!("$.maliciousEvents[{i}]");
            check(
                &mut errors,
                event,
                &path,
                &[
                    ("actor", Str),
                    ("apiCollectionId", Int),
                    ("country", Str),
                    ("eventType", Str),
                    ("filterId", Str),
                    ("ip", Str),
                    ("method", Str),
                    ("subCategory", Str),
                    ("timestamp", Int),
                    ("type", Str),
                    ("url", Str),
                    ("maliciousPayloadsResponses", Arr),
                ],
            );
            if let Some(samples) = event
                .get("maliciousPayloadsResponses")
                .and_then(Value::as_array)
            {
                for (j, sample) in samples.iter().enumerate() {
                    check(
                        &mut errors,
                        sample,
                        &format!("{path}.maliciousPayloadsResponses[{j}]"),
                        &[("orig", Str), ("ts", Int)],
                    );
                }
            }
        }
    }
    if let Some(o) = doc.get("overview") {
        check(
            &mut errors,
            o,
            "$.overview",
            &[("description", Str), ("details", Str), ("impact", Str)],
        );
    }
    if let Some(r) = doc.get("remediation") {
        check(
            &mut errors,
            r,
            "$.remediation",
            &[("title", Str), ("steps", Arr)],
        );
        if let Some(steps) = r.get("steps").and_then(Value::as_array) {
            for (i, step) in steps.iter().enumerate() {
                check(
                    &mut errors,
                    step,
                    &format!("$.remediation.steps[{i}]"),
                    &[("title", Str), ("text", Str)],
                );
            }
        }
    }
    errors
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// Akto's documented example, copied into the repository byte for byte
    /// (`tests/fixtures.rs` checks the copy). Wasm has no file system: these tests run
    /// natively only.
    fn example() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/akto-webhook-example.json"
        );
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn akto_example_round_trips_without_losing_a_field() {
        let example = example();
        let original: serde_json::Value = serde_json::from_str(&example).unwrap();
        let typed: WebhookPayload = serde_json::from_str(&example).unwrap();
        let again = serde_json::to_value(&typed).unwrap();
        assert_eq!(again, original);
        // Field order follows the documented example too.
        let ours = serde_json::to_string(&typed).unwrap();
        let position = |text: &str, key: &str| text.find(&format!("\"{key}\"")).unwrap();
        let event_keys: Vec<&String> = original["maliciousEvents"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        let mut in_example: Vec<&String> = event_keys.clone();
        in_example.sort_by_key(|k| position(&example, k));
        let mut in_ours = event_keys;
        in_ours.sort_by_key(|k| position(&ours, k));
        assert_eq!(in_ours, in_example);
    }

    #[test]
    fn shape_check_accepts_the_example_and_names_what_is_wrong() {
        let example: serde_json::Value = serde_json::from_str(&example()).unwrap();
        assert_eq!(shape_errors(&example), Vec::<String>::new());
        let mut broken = example.clone();
        broken["maliciousEvents"][0]["timestamp"] = serde_json::json!("1747162308");
        broken["maliciousEvents"][0]
            .as_object_mut()
            .unwrap()
            .remove("ip");
        broken["maliciousEvents"][0]["extra"] = serde_json::json!(1);
        broken["remediation"]["steps"][0]["text"] = serde_json::json!(null);
        assert_eq!(
            shape_errors(&broken),
            vec![
                "$.maliciousEvents[0].ip: missing",
                "$.maliciousEvents[0].timestamp: must be an integer",
                "$.remediation.steps[0].text: must be a string",
            ]
        );
    }

    #[test]
    fn a_renamed_field_is_rejected() {
        let example = example();
        let renamed = example.replacen("\"filterId\"", "\"filter_id\"", 1);
        assert!(serde_json::from_str::<WebhookPayload>(&renamed).is_err());
        let wrong_type = example.replacen(
            "\"timestamp\": 1747162308",
            "\"timestamp\": \"1747162308\"",
            1,
        );
        assert_ne!(wrong_type, example);
        assert!(serde_json::from_str::<WebhookPayload>(&wrong_type).is_err());
    }
}
