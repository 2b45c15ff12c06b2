//! The closed sets of values configuration keys accept (actions, severities, ...), each with
//! the name the document and the payload use.

/// A closed set of values a key accepts, each with the name the document (and, for severity and
/// type, the payload) uses for it: one list, read by the validator and by whoever prints it.
macro_rules! choices {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [($name, &'static str)] = &[$(($name::$variant, $text)),+];

            /// The name the configuration document uses.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }
    };
}

choices!(
    /// Which key a rule counts under: the actor, or the actor and the API.
    Per { Actor = "actor", ActorApi = "actor_api" }
);
choices!(
    /// What a flagged actor gets beside its event.
    Action { Alert = "alert", Block = "block" }
);
choices!(
    /// When queued events go out.
    DeliveryMode { Periodic = "periodic", Instant = "instant" }
);
choices!(
    /// An event's `severity`, as Akto names it.
    Severity { Low = "LOW", Medium = "MEDIUM", High = "HIGH", Critical = "CRITICAL" }
);
choices!(
    /// An event's `type`, as Akto names it.
    RuleKind { RuleBased = "Rule-Based", Anomaly = "Anomaly" }
);
choices!(
    /// Where an Envoy fleet's counting-rule windows live: in each proxy, or in Redis for all.
    FleetMode { Local = "local", Redis = "redis" }
);
choices!(
    /// How a sink writes events: Akto's webhook JSON, or a format a SIEM or pager reads.
    SinkFormat {
        Akto = "akto",
        Ocsf = "ocsf",
        SplunkHec = "splunk_hec",
        Alertmanager = "alertmanager",
        PagerDuty = "pagerduty",
        Slack = "slack",
        Teams = "teams",
    }
);

impl Severity {
    /// One level up (CRITICAL stays): the severity of a match whose response showed it worked.
    pub fn raised(self) -> Severity {
        match self {
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }
}
