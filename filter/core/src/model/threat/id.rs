//! The built-in threat rules by id, as Akto's threat policies name them: `filterId`,
//! `subCategory`, default severity and the attack class a payload rule matches.

use crate::model::attack::Attack;
use crate::model::choices::Severity;
use crate::model::findings::{Leak, LeakSet};

macro_rules! threat_ids {
    ($($variant:ident = $id:literal, $sub:literal, $severity:ident;)+) => {
        /// A built-in threat rule, named as Akto's threat policies are.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ThreatId { $($variant),+ }

        impl ThreatId {
            pub const ALL: &'static [ThreatId] = &[$(ThreatId::$variant),+];

            /// The rule's id: the event's `filterId`.
            pub fn as_str(self) -> &'static str {
                match self { $(ThreatId::$variant => $id),+ }
            }

            /// The event's `subCategory` (and `category`), as Akto names it.
            pub fn sub_category(self) -> &'static str {
                match self { $(ThreatId::$variant => $sub),+ }
            }

            pub fn default_severity(self) -> Severity {
                match self { $(ThreatId::$variant => Severity::$severity),+ }
            }

            pub fn parse(s: &str) -> Option<ThreatId> {
                ThreatId::ALL.iter().copied().find(|t| t.as_str() == s)
            }
        }
    };
}

threat_ids! {
    SqlInjection = "SQLInjection", "SQL_INJECTION", Medium;
    Xss = "XSS", "XSS", Medium;
    NoSqlInjection = "NoSQLInjection", "NOSQL_INJECTION", Medium;
    OsCommandInjection = "OSCommandInjection", "OS_COMMAND_INJECTION", High;
    WindowsCommandInjection = "WindowsCommandInjection", "COMMAND_INJECTION", High;
    FileInclusion = "LocalFileInclusionLFIRFI", "LFI_RFI", High;
    Ssrf = "SSRF", "SSRF", High;
    TemplateInjection = "SSTI", "SSTI", High;
    Xxe = "XXE", "XXE", High;
    JndiInjection = "JNDIInjection", "JNDI_INJECTION", Critical;
    OpenRedirect = "OpenRedirect", "OPEN_REDIRECT", Low;
    SensitivePathProbe = "SensitivePathProbe", "SENSITIVE_PATH_PROBE", Medium;
    WeakAuthentication = "WeakAuthentication", "WEAK_AUTHENTICATION", Medium;
    ParamEnumeration = "ParamEnumeration", "PARAM_ENUMERATION", Medium;
    SecurityMisconfig = "SecurityMisconfig", "SECURITY_MISCONFIG", Medium;
}

impl ThreatId {
    /// The attack class a payload rule matches; `None` for the rules that are not payload
    /// matchers (weak authentication, enumeration).
    pub fn attack(self) -> Option<Attack> {
        Some(match self {
            ThreatId::SqlInjection => Attack::SqlInjection,
            ThreatId::Xss => Attack::Xss,
            ThreatId::NoSqlInjection => Attack::NoSqlInjection,
            ThreatId::OsCommandInjection => Attack::OsCommandInjection,
            ThreatId::WindowsCommandInjection => Attack::WindowsCommandInjection,
            ThreatId::FileInclusion => Attack::FileInclusion,
            ThreatId::Ssrf => Attack::Ssrf,
            ThreatId::TemplateInjection => Attack::TemplateInjection,
            ThreatId::Xxe => Attack::Xxe,
            ThreatId::JndiInjection => Attack::JndiInjection,
            ThreatId::OpenRedirect => Attack::OpenRedirect,
            ThreatId::SensitivePathProbe => Attack::SensitivePathProbe,
            ThreatId::WeakAuthentication
            | ThreatId::ParamEnumeration
            | ThreatId::SecurityMisconfig => return None,
        })
    }

    /// What a response shows when this rule's attack worked (`SecurityMisconfig`: what it
    /// looks for); empty for rules whose effect no response body shows (XSS and open redirects
    /// act in the victim's browser, JNDI lookups call out of band).
    pub fn evidence(self) -> LeakSet {
        use Leak::*;
        match self {
            ThreatId::SqlInjection | ThreatId::NoSqlInjection => LeakSet::of(&[DatabaseError]),
            ThreatId::OsCommandInjection
            | ThreatId::WindowsCommandInjection
            | ThreatId::TemplateInjection => {
                LeakSet::of(&[CommandOutput, FileContents, Configuration])
            }
            ThreatId::FileInclusion | ThreatId::Xxe => {
                LeakSet::of(&[FileContents, Configuration, CloudMetadata])
            }
            ThreatId::Ssrf => LeakSet::of(&[CloudMetadata, FileContents, Configuration]),
            ThreatId::SensitivePathProbe => {
                LeakSet::of(&[Configuration, DirectoryListing, FileContents])
            }
            ThreatId::SecurityMisconfig => {
                LeakSet::of(&[StackTrace, DatabaseError, DirectoryListing])
            }
            ThreatId::Xss
            | ThreatId::JndiInjection
            | ThreatId::OpenRedirect
            | ThreatId::WeakAuthentication
            | ThreatId::ParamEnumeration => LeakSet::default(),
        }
    }

    /// Whether a response of `status` showing `leaks` proves this rule's attack worked: a leak
    /// of its kind in a 2XX answer or in a 5XX error page (error-based injection: the database
    /// error is the effect; a 500 page showing `uid=0(root)` still ran the command). A 4XX
    /// answer refused the request.
    pub fn exploited(self, status: u16, leaks: LeakSet) -> bool {
        matches!(status / 100, 2 | 5) && !self.evidence().intersect(leaks).is_empty()
    }
}
