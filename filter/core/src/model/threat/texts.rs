//! Built-in overview and remediation texts of the threat rules; a rule may override both.

use super::id::ThreatId;
use crate::model::payload::{Overview, Remediation, RemediationStep};

fn step(title: &str, text: &str) -> RemediationStep {
    RemediationStep {
        title: title.into(),
        text: text.into(),
    }
}

pub(super) fn overview(id: ThreatId) -> Overview {
    let (description, details, impact) = match id {
        ThreatId::SqlInjection => (
            "A request carried SQL syntax where the API expects data: a quote or number followed by SQL operators, keywords or comments that would change the meaning of a query built from it.",
            "actorwatch decoded the request (URL and HTML encodings, JSON escapes, SQL comments) and tokenised each value as SQL; the event's sample shows the part, the parameter and an excerpt around the match.",
            "If the value reaches a query unparameterised, the actor can read or change any data the database account can, bypass logins, or run database functions.",
        ),
        ThreatId::Xss => (
            "A request carried HTML or JavaScript meant to run in a browser: script tags, event-handler attributes, javascript: URLs or similar.",
            "actorwatch decoded the request and looked for markup and script contexts in every inspected value; the sample shows where it matched.",
            "Stored or reflected into a page, the script runs in your users' browsers with their session: account takeover, data theft, actions on their behalf.",
        ),
        ThreatId::NoSqlInjection => (
            "A request carried MongoDB query operators ($ne, $gt, $where, $regex, ...) in a parameter name or value.",
            "Operators in user input change a document query's meaning, for example turning a password comparison into 'not equal to nothing'.",
            "Authentication bypass, reading other users' documents, or server-side JavaScript through $where.",
        ),
        ThreatId::OsCommandInjection => (
            "A request carried Unix shell syntax: command separators or substitutions followed by commands or system paths.",
            "actorwatch decoded the request and looked for shell metacharacters that chain or substitute commands next to known Unix commands and paths.",
            "If the value reaches a shell, the actor runs commands on your server with the service's privileges.",
        ),
        ThreatId::WindowsCommandInjection => (
            "A request carried Windows command syntax: cmd, PowerShell or batch commands chained after a value.",
            "actorwatch looked for cmd.exe and PowerShell invocations, environment variables and chained Windows commands in the decoded request.",
            "If the value reaches a Windows shell, the actor runs commands on your server with the service's privileges.",
        ),
        ThreatId::FileInclusion => (
            "A request tried to reach files outside the intended directory (path traversal, system files) or to include a remote resource.",
            "actorwatch decoded the request (repeated percent-encoding, overlong UTF-8, backslashes) and looked for traversal sequences, system file names and remote includes.",
            "Reading configuration, credentials and source code, or running remote code through an include.",
        ),
        ThreatId::Ssrf => (
            "A request carried a URL pointing at an internal address: loopback, private or link-local ranges, cloud metadata endpoints, or non-HTTP schemes.",
            "actorwatch read URLs in the decoded request and resolved their hosts textually (dotted, decimal, hex and IPv6 forms) without any network lookup.",
            "If the server fetches the URL, the actor reaches internal services and cloud metadata (credentials) from inside your network.",
        ),
        ThreatId::WeakAuthentication => (
            "A request's Authorization header showed a weak or malformed credential: duplicated, with control characters, oversized, a malformed or short bearer token, an unsigned or expired JWT, or (when configured) Basic credentials or an HS256 JWT.",
            "The event names the failed check; the credential itself is never copied into events or samples.",
            "Weak tokens are guessable or forgeable; unsigned JWTs accepted by a server mean anyone can be anyone.",
        ),
        ThreatId::ParamEnumeration => (
            "One actor requested many distinct values of a path parameter of one API within a short window: object-ID enumeration.",
            "actorwatch counted, exactly and per actor and API template, the distinct identifiers requested within the window, whatever the responses' statuses.",
            "Enumeration is how broken object-level authorization is found and exploited: each hit is another user's object.",
        ),
    };
    Overview {
        description: description.into(),
        details: details.into(),
        impact: impact.into(),
    }
}

pub(super) fn remediation(id: ThreatId) -> Remediation {
    let fix = match id {
        ThreatId::SqlInjection => step(
            "Parameterise every query",
            "Use prepared statements or an ORM's bound parameters for every value that reaches SQL; never build SQL with string concatenation.",
        ),
        ThreatId::Xss => step(
            "Encode output and set a Content-Security-Policy",
            "Encode values for the context they are written into (HTML, attribute, URL, script), sanitise stored rich text with an allow-list, and add a CSP without 'unsafe-inline'.",
        ),
        ThreatId::NoSqlInjection => step(
            "Accept only scalars where scalars are expected",
            "Validate input types before building queries (reject objects and keys starting with $) and disable server-side JavaScript ($where) in the database.",
        ),
        ThreatId::OsCommandInjection | ThreatId::WindowsCommandInjection => step(
            "Never pass input to a shell",
            "Call programs with an argument list instead of a shell command line, validate values against an allow-list, and run the service with least privilege.",
        ),
        ThreatId::FileInclusion => step(
            "Resolve paths against an allow-list",
            "Map user input to known files by identifier, canonicalise paths and check that they stay inside the intended directory, and disable remote includes.",
        ),
        ThreatId::Ssrf => step(
            "Restrict outbound fetches",
            "Fetch only allow-listed hosts, resolve and check the address after DNS (no loopback, private, link-local or metadata ranges), and require IMDSv2 or equivalent on cloud hosts.",
        ),
        ThreatId::WeakAuthentication => step(
            "Require strong, verified tokens",
            "Reject unsigned and expired JWTs, pin the accepted algorithms (asymmetric where possible), use long random opaque tokens, and reject duplicated or malformed Authorization headers.",
        ),
        ThreatId::ParamEnumeration => step(
            "Check object ownership on every request",
            "Authorise each object access against the caller, use unguessable identifiers, and rate-limit the API per actor.",
        ),
    };
    Remediation {
        title: "Contain the actor and fix the weakness it probed".into(),
        steps: vec![
            step(
                "Confirm what the actor sent",
                "Read the event's sample (part, parameter, excerpt) and the actor's other requests in your logs: did any of them succeed?",
            ),
            step(
                "Block it at the proxy",
                "Set the rule's action to block so matching requests are answered before they reach the API:\n```json\n{\"threat_rules\": [{\"id\": \"SQLInjection\", \"action\": \"block\"}]}\n```",
            ),
            fix,
        ],
    }
}
