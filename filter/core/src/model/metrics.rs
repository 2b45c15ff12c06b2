//! Every counter and gauge a user would graph, declared once: each host exports them all by name
//! and kind from [`Metrics::fields`], with no list of its own. Adding a metric is one line below
//! (and the code that counts it).

use serde::{Deserialize, Serialize};

/// Whether a metric only grows (a total since start) or is a value of the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

/// One metric as hosts export it (Envoy as `actorwatch.<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: MetricKind,
    pub value: u64,
}

impl Field {
    /// A per-rule threat metric's rule and kind: `threat_sql_injection_matches` is
    /// (`sql_injection`, `matches`); the totals (`threat_matches`) and other metrics are not
    /// per rule. Hosts that label metrics export these with the rule as a label.
    pub fn per_rule(&self) -> Option<(&'static str, &'static str)> {
        let rest = self.name.strip_prefix("threat_")?;
        let (rule, kind) = rest.rsplit_once('_')?;
        let kind = ["matches", "events", "suppressed"]
            .into_iter()
            .find(|k| *k == kind)?;
        (!rule.is_empty()).then_some((rule, kind))
    }
}

macro_rules! metrics {
    ($($(#[doc = $doc:literal])+ $kind:ident $name:ident,)+) => {
        /// The engine's metrics (README, "Metrics"). Components count into their own copy;
        /// [`Metrics::add`] sums copies (several components, several objects).
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct Metrics {
            $($(#[doc = $doc])+ pub $name: u64,)+
        }

        impl Metrics {
            pub const COUNT: usize = [$(stringify!($name)),+].len();

            /// Every metric, in declaration order.
            pub fn fields(&self) -> [Field; Self::COUNT] {
                [$(Field {
                    name: stringify!($name),
                    kind: MetricKind::$kind,
                    value: self.$name,
                }),+]
            }

            /// Adds `other`'s values (gauges too: summed over objects, a gauge is what they
            /// hold together).
            pub fn add(&mut self, other: &Metrics) {
                $(self.$name = self.$name.saturating_add(other.$name);)+
            }

            /// The counters only (gauges 0): what an object carries over from an engine it
            /// replaces, since gauges are values of the moment.
            pub fn counters(&self) -> Metrics {
                Metrics {
                    $($name: match MetricKind::$kind {
                        MetricKind::Counter => self.$name,
                        MetricKind::Gauge => 0,
                    },)+
                }
            }
        }
    };
}

metrics! {
    /// Responses seen.
    Counter responses,
    /// Responses whose status a rule counts.
    Counter matched,
    /// Matched responses with no actor (no source yielded a value).
    Counter unattributed,
    /// Keys currently tracked.
    Gauge actors_tracked,
    /// Keys forgotten to stay within `max_actors` or `max_memory_mb`.
    Counter actors_evicted,
    /// Matched responses not kept in a window (tables full of actors in a cooldown, a window
    /// without room, a record with a time before 2001).
    Counter untracked_responses,
    /// Events created.
    Counter events_raised,
    /// Flagged responses that raised no event because of the cooldown.
    Counter events_suppressed,
    /// Events held for delivery.
    Gauge events_queued,
    /// Events in POSTs answered 2xx.
    Counter events_delivered,
    /// Events lost to a full queue, to exhausted retries, or to a rule a new configuration no
    /// longer has.
    Counter events_dropped,
    /// POST attempts.
    Counter deliveries_sent,
    /// POST attempts answered 2xx.
    Counter deliveries_succeeded,
    /// POST attempts that failed (non-2xx, timeout, refused or reset connection).
    Counter deliveries_failed,
    /// POST attempts that were retries.
    Counter deliveries_retried,
    /// POSTs given up after their last retry.
    Counter deliveries_abandoned,
    /// Actors blocked now.
    Gauge blocks_active,
    /// Requests answered from the blocklist.
    Counter blocked_requests,
    /// Matched responses a worker could not hand over, or an aggregator held uncounted when it
    /// went away.
    Counter records_dropped,
    /// Malformed worker deltas.
    Counter deltas_rejected,
    /// Samples not kept because their share of `max_memory_mb` was full.
    Counter samples_skipped,
    /// Times the host clock stepped back by more than 5 s.
    Counter clock_steps,
    /// Bytes the engine holds, at most `max_memory_mb`.
    Gauge memory_bytes,
    /// `max_memory_mb` in bytes: what `memory_bytes` may reach.
    Gauge memory_budget_bytes,
    /// Worker records merged and held for reordering, not counted yet.
    Gauge records_held,
    /// Requests the threat rules inspected.
    Counter threat_inspected,
    /// Bytes of requests (path, headers, body) the threat rules inspected.
    Counter threat_bytes_inspected,
    /// Request bodies inspected only up to `body_max_bytes`.
    Counter bodies_truncated,
    /// Requests in which a threat rule matched (one per rule and request).
    Counter threat_matches,
    /// Threat matches that raised no event because of their rule's cooldown.
    Counter threat_suppressed,
    /// Threat events raised (also counted in `events_raised`).
    Counter threat_events,
    /// Requests answered before the upstream by a blocking threat rule.
    Counter threat_blocked,
    /// Threat-rule keys (actor and rule, actor and API) forgotten to stay within the budget.
    Counter threat_keys_evicted,
    /// `SQLInjection`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_sql_injection_matches,
    /// `SQLInjection`: events raised.
    Counter threat_sql_injection_events,
    /// `SQLInjection`: matches suppressed by the cooldown.
    Counter threat_sql_injection_suppressed,
    /// `XSS`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_xss_matches,
    /// `XSS`: events raised.
    Counter threat_xss_events,
    /// `XSS`: matches suppressed by the cooldown.
    Counter threat_xss_suppressed,
    /// `NoSQLInjection`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_nosql_injection_matches,
    /// `NoSQLInjection`: events raised.
    Counter threat_nosql_injection_events,
    /// `NoSQLInjection`: matches suppressed by the cooldown.
    Counter threat_nosql_injection_suppressed,
    /// `OSCommandInjection`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_os_command_injection_matches,
    /// `OSCommandInjection`: events raised.
    Counter threat_os_command_injection_events,
    /// `OSCommandInjection`: matches suppressed by the cooldown.
    Counter threat_os_command_injection_suppressed,
    /// `WindowsCommandInjection`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_windows_command_injection_matches,
    /// `WindowsCommandInjection`: events raised.
    Counter threat_windows_command_injection_events,
    /// `WindowsCommandInjection`: matches suppressed by the cooldown.
    Counter threat_windows_command_injection_suppressed,
    /// `LocalFileInclusionLFIRFI`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_file_inclusion_matches,
    /// `LocalFileInclusionLFIRFI`: events raised.
    Counter threat_file_inclusion_events,
    /// `LocalFileInclusionLFIRFI`: matches suppressed by the cooldown.
    Counter threat_file_inclusion_suppressed,
    /// `SSRF`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_ssrf_matches,
    /// `SSRF`: events raised.
    Counter threat_ssrf_events,
    /// `SSRF`: matches suppressed by the cooldown.
    Counter threat_ssrf_suppressed,
    /// `SSTI`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_template_injection_matches,
    /// `SSTI`: events raised.
    Counter threat_template_injection_events,
    /// `SSTI`: matches suppressed by the cooldown.
    Counter threat_template_injection_suppressed,
    /// `XXE`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_xxe_matches,
    /// `XXE`: events raised.
    Counter threat_xxe_events,
    /// `XXE`: matches suppressed by the cooldown.
    Counter threat_xxe_suppressed,
    /// `JNDIInjection`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_jndi_injection_matches,
    /// `JNDIInjection`: events raised.
    Counter threat_jndi_injection_events,
    /// `JNDIInjection`: matches suppressed by the cooldown.
    Counter threat_jndi_injection_suppressed,
    /// `OpenRedirect`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_open_redirect_matches,
    /// `OpenRedirect`: events raised.
    Counter threat_open_redirect_events,
    /// `OpenRedirect`: matches suppressed by the cooldown.
    Counter threat_open_redirect_suppressed,
    /// `SensitivePathProbe`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_sensitive_path_probe_matches,
    /// `SensitivePathProbe`: events raised.
    Counter threat_sensitive_path_probe_events,
    /// `SensitivePathProbe`: matches suppressed by the cooldown.
    Counter threat_sensitive_path_probe_suppressed,
    /// `WeakAuthentication`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_weak_authentication_matches,
    /// `WeakAuthentication`: events raised.
    Counter threat_weak_authentication_events,
    /// `WeakAuthentication`: matches suppressed by the cooldown.
    Counter threat_weak_authentication_suppressed,
    /// `ParamEnumeration`: requests it matched, events it raised, matches its cooldown suppressed.
    Counter threat_param_enumeration_matches,
    /// `ParamEnumeration`: events raised.
    Counter threat_param_enumeration_events,
    /// `ParamEnumeration`: matches suppressed by the cooldown.
    Counter threat_param_enumeration_suppressed,
    /// `SecurityMisconfig`: responses it matched, events it raised, matches its cooldown suppressed.
    Counter threat_security_misconfig_matches,
    /// `SecurityMisconfig`: events raised.
    Counter threat_security_misconfig_events,
    /// `SecurityMisconfig`: matches suppressed by the cooldown.
    Counter threat_security_misconfig_suppressed,
    /// Response bodies inspected (of requests with findings whose rule reads responses, or of
    /// statuses `SecurityMisconfig` reads).
    Counter responses_inspected,
    /// Bytes of response bodies inspected, at most `response_body_max_bytes` each.
    Counter response_bytes_inspected,
    /// Response bodies not inspected because they were compressed (`content-encoding`).
    Counter response_bodies_encoded,
    /// Payload matches whose response showed the attack worked (`successfulExploit: true`).
    Counter threat_exploits,
    /// Responses of a rule's `success_statuses` from an actor it had flagged, within the watch
    /// (`successfulExploit: true` events: a credential stuffer's hit).
    Counter flagged_successes,
    /// Fleet mode: batches Redis answered (through the front).
    Counter fleet_batches,
    /// Fleet mode: batches not answered in time or not readable (retried).
    Counter fleet_batch_failures,
    /// Fleet mode: times this proxy fell back to counting and delivering on its own.
    Counter fleet_fallbacks,
    /// Fleet mode: 1 while this proxy counts and delivers on its own.
    Gauge fleet_fallback,
    /// Fleet mode: counted responses (one per counting rule) Redis took.
    Counter fleet_responses_sent,
    /// Fleet mode: counted responses Redis dropped as later than `fleet.grace_ms`.
    Counter fleet_responses_late,
    /// Fleet mode: counted responses given up unsent (Redis out of reach past the grace period).
    Counter fleet_responses_dropped,
    /// Fleet mode: events this proxy raised because Redis chose it (also in `events_raised`).
    Counter fleet_events,
    /// Fleet mode: the local detector's counting-rule events not sent because Redis decides
    /// (or, in fallback, because the fleet's cooldown for them runs).
    Counter fleet_local_events_held,
    /// Fleet mode: blocks other proxies set, received from Redis.
    Counter fleet_blocks_received,
    /// Fleet mode: events Redis chose this proxy for within a cooldown it knew of already (its
    /// own event raised in fallback, an answer repeated to a retry), not raised again.
    Counter fleet_events_suppressed,
    /// Fleet mode: cooldowns of events raised in fallback that Redis took (claims acknowledged).
    Counter fleet_claims_sent,
    /// Fleet mode: claims given up unsent (more events in fallback than a batch can carry).
    Counter fleet_claims_dropped,
    /// Worker only: counting-state snapshots the shards saved.
    Counter state_saves,
    /// Worker only: shards whose state changed since their last save.
    Gauge state_unsaved,
}

/// Which of a threat rule's own counters an outcome adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreatCount {
    Matched,
    Event,
    Suppressed,
}

impl Metrics {
    /// Adds one to a threat rule's own counter (matched, events, suppressed).
    pub(crate) fn count_threat(&mut self, id: crate::model::threat::ThreatId, what: ThreatCount) {
        use crate::model::threat::ThreatId;
        let [matched, events, suppressed] = match id {
            ThreatId::SqlInjection => [
                &mut self.threat_sql_injection_matches,
                &mut self.threat_sql_injection_events,
                &mut self.threat_sql_injection_suppressed,
            ],
            ThreatId::Xss => [
                &mut self.threat_xss_matches,
                &mut self.threat_xss_events,
                &mut self.threat_xss_suppressed,
            ],
            ThreatId::NoSqlInjection => [
                &mut self.threat_nosql_injection_matches,
                &mut self.threat_nosql_injection_events,
                &mut self.threat_nosql_injection_suppressed,
            ],
            ThreatId::OsCommandInjection => [
                &mut self.threat_os_command_injection_matches,
                &mut self.threat_os_command_injection_events,
                &mut self.threat_os_command_injection_suppressed,
            ],
            ThreatId::WindowsCommandInjection => [
                &mut self.threat_windows_command_injection_matches,
                &mut self.threat_windows_command_injection_events,
                &mut self.threat_windows_command_injection_suppressed,
            ],
            ThreatId::FileInclusion => [
                &mut self.threat_file_inclusion_matches,
                &mut self.threat_file_inclusion_events,
                &mut self.threat_file_inclusion_suppressed,
            ],
            ThreatId::Ssrf => [
                &mut self.threat_ssrf_matches,
                &mut self.threat_ssrf_events,
                &mut self.threat_ssrf_suppressed,
            ],
            ThreatId::TemplateInjection => [
                &mut self.threat_template_injection_matches,
                &mut self.threat_template_injection_events,
                &mut self.threat_template_injection_suppressed,
            ],
            ThreatId::Xxe => [
                &mut self.threat_xxe_matches,
                &mut self.threat_xxe_events,
                &mut self.threat_xxe_suppressed,
            ],
            ThreatId::JndiInjection => [
                &mut self.threat_jndi_injection_matches,
                &mut self.threat_jndi_injection_events,
                &mut self.threat_jndi_injection_suppressed,
            ],
            ThreatId::OpenRedirect => [
                &mut self.threat_open_redirect_matches,
                &mut self.threat_open_redirect_events,
                &mut self.threat_open_redirect_suppressed,
            ],
            ThreatId::SensitivePathProbe => [
                &mut self.threat_sensitive_path_probe_matches,
                &mut self.threat_sensitive_path_probe_events,
                &mut self.threat_sensitive_path_probe_suppressed,
            ],
            ThreatId::WeakAuthentication => [
                &mut self.threat_weak_authentication_matches,
                &mut self.threat_weak_authentication_events,
                &mut self.threat_weak_authentication_suppressed,
            ],
            ThreatId::ParamEnumeration => [
                &mut self.threat_param_enumeration_matches,
                &mut self.threat_param_enumeration_events,
                &mut self.threat_param_enumeration_suppressed,
            ],
            ThreatId::SecurityMisconfig => [
                &mut self.threat_security_misconfig_matches,
                &mut self.threat_security_misconfig_events,
                &mut self.threat_security_misconfig_suppressed,
            ],
        };
        let counter = match what {
            ThreatCount::Matched => matched,
            ThreatCount::Event => events,
            ThreatCount::Suppressed => suppressed,
        };
        *counter += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn fields_name_every_metric_with_its_kind_and_value() {
        let m = Metrics {
            responses: 7,
            actors_tracked: 3,
            ..Metrics::default()
        };
        let fields = m.fields();
        assert_eq!(fields.len(), Metrics::COUNT);
        let field = |name: &str| fields.iter().find(|f| f.name == name).copied();
        assert_eq!(
            field("responses").map(|f| (f.kind, f.value)),
            Some((MetricKind::Counter, 7))
        );
        assert_eq!(
            field("actors_tracked").map(|f| (f.kind, f.value)),
            Some((MetricKind::Gauge, 3))
        );
        let json = serde_json::to_value(m).unwrap();
        assert_eq!(json.as_object().map(|o| o.len()), Some(Metrics::COUNT));
    }

    #[test]
    fn sums_and_counters_only() {
        let a = Metrics {
            matched: 2,
            events_queued: 5,
            ..Metrics::default()
        };
        let mut b = a;
        b.add(&a);
        assert_eq!((b.matched, b.events_queued), (4, 10));
        let c = b.counters();
        assert_eq!((c.matched, c.events_queued), (4, 0));
    }

    #[test]
    fn per_rule_metrics_are_told_from_totals() {
        let rule_of = |name: &str| {
            Metrics::default()
                .fields()
                .into_iter()
                .find(|f| f.name == name)
                .and_then(|f| f.per_rule())
        };
        assert_eq!(
            rule_of("threat_sql_injection_matches"),
            Some(("sql_injection", "matches"))
        );
        assert_eq!(rule_of("threat_xss_events"), Some(("xss", "events")));
        assert_eq!(
            rule_of("threat_param_enumeration_suppressed"),
            Some(("param_enumeration", "suppressed"))
        );
        for total in [
            "threat_matches",
            "threat_events",
            "threat_suppressed",
            "threat_bytes_inspected",
            "threat_keys_evicted",
            "events_suppressed",
        ] {
            assert!(
                Metrics::default().fields().iter().any(|f| f.name == total),
                "{total}"
            );
            assert_eq!(rule_of(total), None, "{total}");
        }
        // Three per-rule metrics for each of the fifteen threat rules.
        let per_rule = Metrics::default()
            .fields()
            .iter()
            .filter(|f| f.per_rule().is_some())
            .count();
        assert_eq!(per_rule, 3 * crate::model::threat::ThreatId::ALL.len());
        assert_eq!(crate::model::threat::ThreatId::ALL.len(), 15);
    }
}
