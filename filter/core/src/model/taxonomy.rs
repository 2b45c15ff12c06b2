//! What each rule's events are, in the terms SIEM correlation rules key on: MITRE ATT&CK
//! techniques (Enterprise matrix) and OWASP API Security Top 10 2023 categories. One table for
//! every rule and every sink format.

use crate::base::status::StatusSet;
use crate::model::threat::id::ThreatId;

/// An ATT&CK technique (or sub-technique) and the tactic it serves here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Technique {
    pub id: &'static str,
    pub name: &'static str,
    pub tactic_id: &'static str,
    pub tactic: &'static str,
}

/// An OWASP API Security Top 10 2023 category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwaspApi {
    pub id: &'static str,
    pub name: &'static str,
}

/// A rule's techniques and categories, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taxonomy {
    pub techniques: &'static [Technique],
    pub owasp: &'static [OwaspApi],
}

const INITIAL_ACCESS: (&str, &str) = ("TA0001", "Initial Access");
const EXECUTION: (&str, &str) = ("TA0002", "Execution");
const CREDENTIAL_ACCESS: (&str, &str) = ("TA0006", "Credential Access");
const DISCOVERY: (&str, &str) = ("TA0007", "Discovery");
const COLLECTION: (&str, &str) = ("TA0009", "Collection");
const RECONNAISSANCE: (&str, &str) = ("TA0043", "Reconnaissance");

const fn technique(
    id: &'static str,
    name: &'static str,
    tactic: (&'static str, &'static str),
) -> Technique {
    Technique {
        id,
        name,
        tactic_id: tactic.0,
        tactic: tactic.1,
    }
}

const EXPLOIT_PUBLIC_APP: Technique =
    technique("T1190", "Exploit Public-Facing Application", INITIAL_ACCESS);
const UNIX_SHELL: Technique = technique(
    "T1059.004",
    "Command and Scripting Interpreter: Unix Shell",
    EXECUTION,
);
const WINDOWS_SHELL: Technique = technique(
    "T1059.003",
    "Command and Scripting Interpreter: Windows Command Shell",
    EXECUTION,
);
const FILE_DISCOVERY: Technique = technique("T1083", "File and Directory Discovery", DISCOVERY);
const CLOUD_METADATA: Technique = technique(
    "T1552.005",
    "Unsecured Credentials: Cloud Instance Metadata API",
    CREDENTIAL_ACCESS,
);
const FORGE_WEB_CREDENTIALS: Technique =
    technique("T1606", "Forge Web Credentials", CREDENTIAL_ACCESS);
const VALID_ACCOUNTS: Technique = technique("T1078", "Valid Accounts", INITIAL_ACCESS);
const CREDENTIAL_STUFFING: Technique = technique(
    "T1110.004",
    "Brute Force: Credential Stuffing",
    CREDENTIAL_ACCESS,
);
const BRUTE_FORCE: Technique = technique("T1110", "Brute Force", CREDENTIAL_ACCESS);
const WORDLIST_SCANNING: Technique = technique(
    "T1595.003",
    "Active Scanning: Wordlist Scanning",
    RECONNAISSANCE,
);
const PHISHING_LINK: Technique =
    technique("T1566.002", "Phishing: Spearphishing Link", INITIAL_ACCESS);
const CREDENTIALS_IN_FILES: Technique = technique(
    "T1552.001",
    "Unsecured Credentials: Credentials In Files",
    CREDENTIAL_ACCESS,
);
const GATHER_HOST_INFORMATION: Technique = technique(
    "T1592.002",
    "Gather Victim Host Information: Software",
    RECONNAISSANCE,
);
/// ATT&CK has no technique for walking object ids; this is the nearest.
const AUTOMATED_COLLECTION: Technique = technique("T1119", "Automated Collection", COLLECTION);

const BOLA: OwaspApi = OwaspApi {
    id: "API1:2023",
    name: "Broken Object Level Authorization",
};
const BROKEN_AUTHENTICATION: OwaspApi = OwaspApi {
    id: "API2:2023",
    name: "Broken Authentication",
};
const SSRF: OwaspApi = OwaspApi {
    id: "API7:2023",
    name: "Server Side Request Forgery",
};
const SECURITY_MISCONFIGURATION: OwaspApi = OwaspApi {
    id: "API8:2023",
    name: "Security Misconfiguration",
};
const IMPROPER_INVENTORY: OwaspApi = OwaspApi {
    id: "API9:2023",
    name: "Improper Inventory Management",
};
const UNRESTRICTED_CONSUMPTION: OwaspApi = OwaspApi {
    id: "API4:2023",
    name: "Unrestricted Resource Consumption",
};

/// A threat rule's taxonomy. Injection has no category of its own in the 2023 list: OWASP
/// files missing input handling under Security Misconfiguration (API8:2023).
pub fn of_threat(id: ThreatId) -> Taxonomy {
    let (techniques, owasp): (&'static [Technique], &'static [OwaspApi]) = match id {
        ThreatId::SqlInjection | ThreatId::NoSqlInjection | ThreatId::Xss => {
            (&[EXPLOIT_PUBLIC_APP], &[SECURITY_MISCONFIGURATION])
        }
        ThreatId::OsCommandInjection => (
            &[EXPLOIT_PUBLIC_APP, UNIX_SHELL],
            &[SECURITY_MISCONFIGURATION],
        ),
        ThreatId::WindowsCommandInjection => (
            &[EXPLOIT_PUBLIC_APP, WINDOWS_SHELL],
            &[SECURITY_MISCONFIGURATION],
        ),
        ThreatId::FileInclusion => (
            &[EXPLOIT_PUBLIC_APP, FILE_DISCOVERY],
            &[SECURITY_MISCONFIGURATION],
        ),
        ThreatId::Ssrf => (&[EXPLOIT_PUBLIC_APP, CLOUD_METADATA], &[SSRF]),
        ThreatId::TemplateInjection | ThreatId::JndiInjection => {
            (&[EXPLOIT_PUBLIC_APP], &[SECURITY_MISCONFIGURATION])
        }
        ThreatId::Xxe => (
            &[EXPLOIT_PUBLIC_APP, FILE_DISCOVERY],
            &[SECURITY_MISCONFIGURATION],
        ),
        ThreatId::OpenRedirect => (&[PHISHING_LINK], &[SECURITY_MISCONFIGURATION]),
        ThreatId::SensitivePathProbe => (
            &[WORDLIST_SCANNING, CREDENTIALS_IN_FILES],
            &[SECURITY_MISCONFIGURATION, IMPROPER_INVENTORY],
        ),
        ThreatId::WeakAuthentication => (
            &[FORGE_WEB_CREDENTIALS, VALID_ACCOUNTS],
            &[BROKEN_AUTHENTICATION],
        ),
        ThreatId::ParamEnumeration => (&[AUTOMATED_COLLECTION], &[BOLA]),
        ThreatId::SecurityMisconfig => (&[GATHER_HOST_INFORMATION], &[SECURITY_MISCONFIGURATION]),
    };
    Taxonomy { techniques, owasp }
}

/// A counting rule's taxonomy, from the statuses it counts: failed logins (401, 407), alone or
/// with refusals (403), are brute force, credential stuffing the likeliest kind (the rule sees
/// no usernames to tell it from guessing); anything else is scanning for endpoints.
pub fn of_counting_rule(statuses: &StatusSet) -> Taxonomy {
    let counted = || (100..=599).filter(|s| statuses.contains(*s));
    let logins = counted().any(|s| matches!(s, 401 | 407));
    if logins && counted().all(|s| matches!(s, 401 | 403 | 407)) {
        Taxonomy {
            techniques: &[BRUTE_FORCE, CREDENTIAL_STUFFING],
            owasp: &[BROKEN_AUTHENTICATION],
        }
    } else {
        Taxonomy {
            techniques: &[WORDLIST_SCANNING],
            owasp: &[IMPROPER_INVENTORY, UNRESTRICTED_CONSUMPTION],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn statuses(ranges: &[(u16, u16)]) -> StatusSet {
        let mut s = StatusSet::default();
        for (lo, hi) in ranges {
            s.insert_range(*lo, *hi);
        }
        s
    }

    #[test]
    fn every_threat_rule_has_a_technique_and_a_category() {
        for id in ThreatId::ALL {
            let t = of_threat(*id);
            assert!(!t.techniques.is_empty() && !t.owasp.is_empty(), "{id:?}");
            for technique in t.techniques {
                let (base, sub) = technique
                    .id
                    .split_once('.')
                    .unwrap_or((technique.id, "000"));
                assert!(base.len() == 5 && base.starts_with('T'), "{}", technique.id);
                assert!(sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit()));
                assert!(technique.tactic_id.starts_with("TA"));
            }
            for category in t.owasp {
                assert!(category.id.starts_with("API") && category.id.ends_with(":2023"));
            }
        }
        assert_eq!(of_threat(ThreatId::Ssrf).owasp, &[SSRF]);
        assert_eq!(
            of_threat(ThreatId::ParamEnumeration).owasp[0].id,
            "API1:2023"
        );
    }

    #[test]
    fn failed_logins_alone_are_brute_force() {
        let brute_force =
            |ranges: &[(u16, u16)]| of_counting_rule(&statuses(ranges)).techniques[0].id == "T1110";
        assert!(brute_force(&[(401, 401)]));
        assert!(brute_force(&[(401, 401), (403, 403)]));
        assert!(brute_force(&[(407, 407)]));
        // Refusals alone are not failed logins; with other errors it is scanning.
        assert!(!brute_force(&[(403, 403)]));
        assert!(!brute_force(&[(400, 499)]));
        assert!(!brute_force(&[(401, 404)]));
        assert!(!brute_force(&[]));
        let scanner = of_counting_rule(&statuses(&[(400, 499)]));
        assert_eq!(scanner.techniques[0].id, "T1595.003");
        assert_eq!(scanner.owasp[0].id, "API9:2023");
    }
}
