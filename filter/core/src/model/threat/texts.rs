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
        ThreatId::TemplateInjection => (
            "A request carried a server-side template expression: a template engine's delimiters (`{{ }}`, `${ }`, `<%= %>`, `#{ }`, `*{ }`, `<#...>`) around arithmetic probes, object introspection (`__class__`, `getClass()`) or calls into the runtime.",
            "actorwatch decoded the request and read each value for the expression delimiters of the common template engines (Jinja2, Twig, Freemarker, Velocity, ERB, Thymeleaf, Smarty, Mako, Pebble, SpEL, OGNL, Razor); plain placeholders such as `{{name}}` are not enough, the expression must compute or reach into objects.",
            "If the value is rendered as a template, the actor evaluates code on your server: reading configuration and secrets, or running commands.",
        ),
        ThreatId::Xxe => (
            "A request carried an XML document type declaration with entities: external entities (`SYSTEM`, `PUBLIC`), parameter entities or an XInclude.",
            "actorwatch read every XML document type declaration and XInclude element in the request, in bodies and parameters alike.",
            "A parser that resolves external entities reads local files, fetches internal URLs (SSRF) or exhausts memory (entity expansion).",
        ),
        ThreatId::JndiInjection => (
            "A request carried a Log4j lookup resolving to a JNDI URL (`${jndi:ldap://...}`), also when hidden in nested lookups such as `${${lower:j}ndi:...}` or `${::-j}`.",
            "actorwatch resolved each `${...}` lookup's name the way Log4j 2 does for its case, default-value and date lookups, without evaluating anything, and checked whether the result starts with `jndi:`.",
            "A vulnerable Log4j (CVE-2021-44228) logging the value loads and runs a remote Java class: full remote code execution.",
        ),
        ThreatId::OpenRedirect => (
            "A request gave a redirect parameter (`next`, `redirect`, `returnUrl`, ...) a URL that leaves the site, or a URL written so that browsers read it as another host (`//host`, `/\\host`, `https:host`, control characters in the scheme).",
            "actorwatch read the values of parameters that name a redirect target and parsed them as browsers do (backslashes as slashes, tabs and newlines removed); an absolute URL counts when its host is not the request's own.",
            "The site's own links send its users to the actor's page: phishing with a trusted address, or OAuth codes and tokens leaked to the actor.",
        ),
        ThreatId::SensitivePathProbe => (
            "A request's path asked for a file or endpoint that holds secrets or debugging data: `.env`, `.git/`, credentials files, backups, Spring Boot actuators, pprof, server-status, phpinfo.",
            "actorwatch decoded the path and compared its segments with a vocabulary built from the OWASP Core Rule Set's restricted files and the frameworks' own documentation of their debugging endpoints.",
            "Such files and endpoints, if served, give away credentials, source code and internal state; probing for them is how scanners find exposed deployments.",
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
        ThreatId::SecurityMisconfig => (
            "A response showed the server's internals: a stack trace, a database error message or a directory listing.",
            "actorwatch read the first bytes of the response body (`response_body_max_bytes`) for the formats runtimes, frameworks and databases write, from the OWASP Core Rule Set's data-leakage files and each runtime's stack frame format. The event shows what was found, never the bytes around it.",
            "Stack traces and database errors tell an attacker the frameworks, versions, file paths and queries behind an API, and show which inputs break it.",
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
        ThreatId::TemplateInjection => step(
            "Never render input as a template",
            "Pass user input to templates as data (context variables), never concatenate it into template source; use the engine's sandbox and disable object introspection where it has one.",
        ),
        ThreatId::Xxe => step(
            "Disable DTDs in every XML parser",
            "Configure parsers to refuse document type declarations (or at least external entities and XInclude), and prefer JSON where the API does not need XML.",
        ),
        ThreatId::JndiInjection => step(
            "Upgrade Log4j and disable lookups",
            "Upgrade Log4j 2 to 2.17.1 or later (2.12.4 or 2.3.2 on old Java), remove the JndiLookup class where upgrading is not yet possible, and block outbound LDAP and RMI from application hosts.",
        ),
        ThreatId::OpenRedirect => step(
            "Redirect only to known places",
            "Map redirect parameters to allow-listed paths or hosts, accept only relative paths starting with a single `/`, and register exact OAuth redirect URIs.",
        ),
        ThreatId::SensitivePathProbe => step(
            "Serve none of it",
            "Keep dotfiles, repositories, backups and credentials out of the document root, and expose actuators, profilers and status pages on an internal port only, behind authentication.",
        ),
        ThreatId::WeakAuthentication => step(
            "Require strong, verified tokens",
            "Reject unsigned and expired JWTs, pin the accepted algorithms (asymmetric where possible), use long random opaque tokens, and reject duplicated or malformed Authorization headers.",
        ),
        ThreatId::ParamEnumeration => step(
            "Check object ownership on every request",
            "Authorise each object access against the caller, use unguessable identifiers, and rate-limit the API per actor.",
        ),
        ThreatId::SecurityMisconfig => step(
            "Answer errors with a generic body",
            "Turn off debug modes and detailed error pages in production (Spring's `server.error.include-stacktrace=never`, ASP.NET `customErrors`, PHP `display_errors=Off`, Django `DEBUG=False`), log the details server-side with a correlation id, and disable directory listings.",
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
