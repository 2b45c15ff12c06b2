//! Request inspection: decides which attack classes (SQL injection, XSS, NoSQL, Unix and
//! Windows command injection, file inclusion, SSRF, template injection, XXE, JNDI lookups,
//! open redirects, sensitive-path probes) one HTTP request contains.
//!
//! Sans-I/O and linear: every value is decoded a bounded number of times and every scanner
//! makes a bounded number of passes over it, so the work is at most k × the request's size
//! (see [`Meter`]). No regexes: tokenizers, word lookups in sorted tables and hand-written
//! scanners. The caller picks which parts each class looks at with a [`Scope`].
mod agent;
mod classes;
mod decode;
mod files;
mod html;
pub(crate) mod inspector;
mod jndi;
pub(crate) mod leaks;
mod lex;
mod nosql;
mod parts;
mod probe;
mod redirect;
mod shell;
mod sql;
mod sql_lex;
mod ssrf;
mod template;
#[cfg(test)]
mod tests;
mod vocab;
mod windows;
mod xxe;

use std::borrow::Cow;

pub use crate::model::attack::{Attack, Part, Scope};

pub struct Request<'a> {
    pub method: &'a str,
    /// Path with its query string, as received (raw, percent-encoded).
    pub path: &'a str,
    pub headers: &'a dyn crate::model::observation::Headers,
    /// The first bytes of the body (the caller cuts it at its limit; may be cut mid-UTF-8).
    pub body: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub attack: Attack,
    pub part: Part,
    /// Parameter, header or cookie name where it matched ("" for the path).
    pub name: String,
    /// Decoded text around the match, at most 120 bytes, valid UTF-8.
    pub excerpt: String,
}

/// Work done by the scanners, in bytes examined: each pass over a value adds its length.
/// Look-aheads inside a pass are bounded by constants (64 or 256 bytes) and not counted.
/// Tests use it to prove the cost is linear.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meter {
    pub bytes: u64,
}

impl Meter {
    #[inline]
    pub(crate) fn add(&mut self, n: usize) {
        self.bytes = self.bytes.saturating_add(n as u64);
    }
}

/// What scanners read from their rules besides the scope.
#[derive(Clone, Copy, Debug, Default)]
pub struct Settings<'a> {
    /// OpenRedirect's `allowed_hosts`: set, a redirect to any other site is a hit.
    pub redirect_hosts: Option<&'a [String]>,
}

/// At most one hit per attack class per request (the first found), only for (attack, part) the scope wants.
pub fn inspect(req: &Request, scope: &Scope, hits: &mut Vec<Hit>) {
    inspect_with(req, scope, &Settings::default(), hits);
}

/// [`inspect`] with the rules' settings.
pub fn inspect_with(req: &Request, scope: &Scope, settings: &Settings, hits: &mut Vec<Hit>) {
    let mut meter = Meter::default();
    inspect_metered(req, scope, settings, hits, &mut meter);
}

/// [`inspect_with`], adding the work done to `meter`.
pub(crate) fn inspect_metered(
    req: &Request,
    scope: &Scope,
    settings: &Settings,
    hits: &mut Vec<Hit>,
    meter: &mut Meter,
) {
    if scope.is_empty() {
        return;
    }
    let mut done = [false; Attack::COUNT];
    let mut shell = shell::ShellView::default();
    // Only the redirect rule compares URLs with the request's host: no header lookup without it.
    let host = if scope.any(Attack::OpenRedirect) {
        request_host(req)
    } else {
        ""
    };
    parts::for_each_value(
        req,
        scope,
        meter,
        &mut |v: parts::Value, meter: &mut Meter| {
            check_value(
                &v, scope, host, settings, &mut done, hits, &mut shell, meter,
            );
            // Stop splitting the request once every wanted class has a hit.
            Attack::ALL
                .iter()
                .any(|a| !done[a.index()] && scope_wants_any(scope, *a))
        },
    );
}

fn scope_wants_any(scope: &Scope, a: Attack) -> bool {
    scope.any(a)
}

/// The host the request was sent to (no port), for telling off-site URLs from the site's own.
fn request_host<'a>(req: &Request<'a>) -> &'a str {
    let authority = req
        .headers
        .get(":authority")
        .or_else(|| req.headers.get("host"))
        .unwrap_or("");
    let authority = authority.trim();
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    }
}

#[allow(clippy::too_many_arguments)]
fn check_value(
    v: &parts::Value,
    scope: &Scope,
    host: &str,
    settings: &Settings,
    done: &mut [bool; Attack::COUNT],
    hits: &mut Vec<Hit>,
    shell: &mut shell::ShellView,
    meter: &mut Meter,
) {
    let mut wanted = [None; Attack::COUNT];
    for a in Attack::ALL {
        if !done[a.index()] && scope.wants(a, v.part) && applies(a, v) {
            wanted[a.index()] = Some(a);
        }
    }
    if wanted.iter().all(Option::is_none) {
        return;
    }
    // A name is inspected as text of its own: `u_id[$ne]`, `;aptitude`, `<svg onload=..>=x`.
    for (text, is_name) in [(v.name, true), (v.value, false)] {
        if text.is_empty() || (is_name && v.part == Part::Headers) {
            continue;
        }
        let decoded: Cow<str> = decode::normalize(text, v.plus, meter);
        if decode::cannot_attack(&decoded) {
            continue;
        }
        shell.reset();
        let classes = classes::of(decoded.as_bytes());
        // Read once per value: both command scanners ask.
        let agent = !is_name
            && v.part == Part::Headers
            && v.name.eq_ignore_ascii_case("user-agent")
            && agent::well_formed(decoded.as_bytes());
        for a in wanted.iter().flatten() {
            if done[a.index()] {
                continue;
            }
            let ctx = Ctx {
                part: v.part,
                name: v.name,
                is_name,
                agent,
                host,
                redirect_hosts: settings.redirect_hosts,
            };
            if !classes::may_apply(*a, classes) {
                continue;
            }
            if let Some(at) = detect(*a, &decoded, &ctx, classes, shell, meter) {
                done[a.index()] = true;
                hits.push(Hit {
                    attack: *a,
                    part: v.part,
                    name: decode::excerpt(&decode::normalize(v.name, v.plus, meter), 0, 120),
                    excerpt: decode::excerpt(&decoded, at, 120),
                });
            }
        }
    }
}

/// Headers carry different things: only some are worth each class (see `parts::header_class`).
fn applies(a: Attack, v: &parts::Value) -> bool {
    match (v.part, a) {
        (Part::Headers, Attack::Ssrf) => v.header_urls,
        (Part::Headers, Attack::NoSqlInjection) => false,
        (_, Attack::SensitivePathProbe) => v.part == Part::Path,
        (_, Attack::OpenRedirect) => matches!(v.part, Part::Query | Part::Body),
        _ => true,
    }
}

/// Where a value came from, for scanners whose rules depend on it.
pub(crate) struct Ctx<'a> {
    pub part: Part,
    /// The parameter name the value belongs to (raw).
    pub name: &'a str,
    /// The text is the name itself.
    pub is_name: bool,
    /// The text is a `User-Agent` that follows the User-Agent grammar (`agent::well_formed`).
    pub agent: bool,
    /// The host the request was sent to, without its port ("" if it named none).
    pub host: &'a str,
    /// OpenRedirect's `allowed_hosts`, if set.
    pub redirect_hosts: Option<&'a [String]>,
}

/// Every scanner it calls is `#[inline(never)]`: inlined together they made one function of
/// 44 KB, and a Wasm engine's optimizing compiler needs memory that grows with a function's size.
fn detect(
    a: Attack,
    s: &str,
    ctx: &Ctx,
    classes: u16,
    shell: &mut shell::ShellView,
    meter: &mut Meter,
) -> Option<usize> {
    match a {
        Attack::SqlInjection => sql::detect(s, meter),
        Attack::Xss => html::detect(s, meter),
        Attack::NoSqlInjection => nosql::detect(s, ctx, meter),
        Attack::OsCommandInjection => shell::detect_unix(
            s,
            classes & classes::UNIX_META != 0,
            ctx.agent,
            shell,
            meter,
        ),
        Attack::WindowsCommandInjection => windows::detect(
            s,
            classes & classes::WIN_SPECIAL != 0,
            ctx.agent,
            shell,
            meter,
        ),
        Attack::FileInclusion => files::detect(s, ctx, meter),
        Attack::Ssrf => ssrf::detect(s, ctx, meter),
        Attack::TemplateInjection => template::detect(s, meter),
        Attack::Xxe => xxe::detect(s, meter),
        Attack::JndiInjection => jndi::detect(s, meter),
        Attack::OpenRedirect => redirect::detect(s, ctx, meter),
        Attack::SensitivePathProbe => probe::detect(s, ctx, meter),
    }
}

/// Every keyword table, for the test that they are sorted (lookups are binary searches).
#[cfg(test)]
pub(crate) fn tables() -> Vec<&'static [&'static str]> {
    let mut t: Vec<&'static [&'static str]> = Vec::new();
    t.extend(sql::tables());
    t.extend(html::tables());
    t.extend(shell::tables());
    t.extend(windows::tables());
    t.extend(nosql::tables());
    t.extend(ssrf::tables());
    t.extend(template::tables());
    t.extend(redirect::tables());
    t.push(files::FILES);
    t.push(files::FILE_WRAPPERS);
    t.push(parts::SKIPPED_HEADERS);
    t
}
