//! Open redirects: a parameter that names where the browser goes next, given a URL written so
//! that a browser leaves the site while a server-side check (`starts with /`, `is https://`)
//! lets it through.
//!
//! The value is read as a browser reads a URL (WHATWG URL Standard): leading spaces and
//! control characters trimmed, tabs and newlines removed, `\` read as `/` after a special
//! scheme, any number of slashes before the host. A hit is
//! - a scheme-relative URL (`//host`, `/\host`, `\/host`, `///host`);
//! - an `http(s):` URL whose slashes are not exactly `//` (`https:host`, `https:/\host`,
//!   `http:///host`), whose authority carries user info or a backslash
//!   (`https://site@host`), or that had a tab or newline removed before its path;
//! - an `http(s):` URL or scheme-relative one whose host is an IPv4 address spelled as no
//!   browser user writes it (`0xd83ad6ce`, `3627734734`, `0330.072.0326.0316`) or an IPv6
//!   literal carrying an IPv4 address (`[::ffff:216.58.214.206]`);
//! - a `javascript:`, `vbscript:` or `data:` URL, also with spaces or controls inside the
//!   scheme (`java%0d%0ascript:`);
//!
//! and for the first two, a host that is neither the request's own nor a name under the
//! request host's parent domain. A plain `https://host/` is not a hit: OAuth and single sign-on
//! send exactly that to other sites, and a request alone cannot tell them apart. Only
//! parameters named like redirect targets count ([`is_redirect_param`]).
use super::lex::in_sorted;
use super::{Ctx, Meter, Part};

/// Parameter names that hold a redirect target exactly (lowercase, without `_`, `-`, `.`).
#[rustfmt::skip]
const NAMES: &[&str] = &[
    "backto", "backurl", "cont", "continue", "dest", "destination", "forward", "go", "goto",
    "jump", "jumpto", "next", "nexturl", "out", "r", "relaystate", "rurl", "target", "to", "u",
    "uri", "url", "view",
];

/// Words that make any parameter name a redirect target: `redirect_uri`, `returnTo`,
/// `success_url`, `logout_redirect`.
const WORDS: &[&str] = &[
    "callback", "continue", "goto", "next", "redir", "return", "success",
];

#[cfg(test)]
pub(crate) fn tables() -> Vec<&'static [&'static str]> {
    vec![NAMES, WORDS]
}

/// Every rule needs one of these bytes.
pub(crate) fn may_match(c: u8) -> bool {
    matches!(c, b'/' | b'\\' | b':')
}

/// `next`, `redirect_uri`, `returnUrl`, `RelayState`. In a body only names with a word of
/// [`WORDS`] count: a JSON document's `url` or `target` is data.
pub(crate) fn is_redirect_param(name: &str, part: Part) -> bool {
    let mut buf = [0u8; 32];
    let mut n = 0;
    for c in name.bytes() {
        if c.is_ascii_alphanumeric() {
            if n == buf.len() {
                return false;
            }
            buf[n] = c.to_ascii_lowercase();
            n += 1;
        }
    }
    let w = &buf[..n];
    (part != Part::Body && in_sorted(w, NAMES))
        || WORDS
            .iter()
            .any(|word| w.windows(word.len()).any(|x| x == word.as_bytes()))
}

#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect(s: &str, ctx: &Ctx, meter: &mut Meter) -> Option<usize> {
    if ctx.is_name || !is_redirect_param(ctx.name, ctx.part) {
        return None;
    }
    let raw = s.as_bytes();
    if !raw.iter().any(|c| may_match(*c)) {
        return None;
    }
    meter.add(raw.len());
    // Leading and trailing C0 controls and spaces go; tabs and newlines go everywhere, and
    // so do spaces, which is what the decoder made of them (read up to 256).
    let lead = raw.iter().position(|c| *c > b' ').unwrap_or(raw.len());
    let end = raw.iter().rposition(|c| *c > b' ').map_or(lead, |p| p + 1);
    let mut u = [0u8; 256];
    let mut n = 0;
    // Where the first tab or newline was removed (a browser ignores it; a URL has none).
    let mut removed_at = None;
    for c in raw[lead..end.max(lead)].iter().take(u.len() + 64) {
        if matches!(c, b'\t' | b'\n' | b'\r' | b' ') {
            removed_at.get_or_insert(n);
        } else if n < u.len() {
            u[n] = c.to_ascii_lowercase();
            n += 1;
        }
    }
    let u = &u[..n];
    // The decoder turns controls into spaces: a script scheme is read without them.
    let mut compact = [0u8; 16];
    let mut c = 0;
    for b in u.iter().filter(|b| **b != b' ').take(compact.len()) {
        compact[c] = *b;
        c += 1;
    }
    // A body's `url` may well be a `data:` image: only script schemes count there.
    let schemes: &[&[u8]] = if ctx.part == Part::Body {
        &[b"javascript:", b"vbscript:"]
    } else {
        &[b"javascript:", b"vbscript:", b"data:"]
    };
    if schemes.iter().any(|s| compact[..c].starts_with(s)) {
        return Some(lead);
    }
    let slashes = |from: usize| {
        u[from..]
            .iter()
            .take_while(|c| matches!(c, b'/' | b'\\'))
            .count()
    };
    let (host_start, mut evasive) = match scheme_end(u) {
        Some(e) => {
            let scheme = &u[..e];
            if matches!(scheme, b"javascript" | b"vbscript") {
                return Some(lead);
            }
            if !matches!(scheme, b"http" | b"https") {
                return None;
            }
            let k = slashes(e + 1);
            (e + 1 + k, u.get(e + 1..e + 3) != Some(b"//") || k != 2)
        }
        // Scheme-relative: two or more slashes, either way round.
        None if slashes(0) >= 2 => (slashes(0), true),
        None => return None,
    };
    // For http(s) a `\\` ends the authority as a `/` does (`https://evil\\@site/`).
    let authority_end = u[host_start..]
        .iter()
        .position(|c| matches!(c, b'/' | b'\\' | b'?' | b'#'))
        .map_or(u.len(), |p| host_start + p);
    let authority = &u[host_start..authority_end];
    evasive |= authority.contains(&b'@')
        || u.get(authority_end) == Some(&b'\\')
        // `https://evil#@site`: a user-info spelling a naive check reads as the host.
        || u[authority_end..].contains(&b'@')
        || removed_at.is_some_and(|at| at <= authority_end);
    let host = match authority.iter().rposition(|c| *c == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let host = host.split(|c| *c == b'\\').next().unwrap_or(host);
    let host = match host.iter().position(|c| *c == b':') {
        Some(colon) if !host.starts_with(b"[") => &host[..colon],
        _ => host,
    };
    let host = host.strip_suffix(b".").unwrap_or(host);
    evasive |= obfuscated_ip(host);
    if host.is_empty() || same_site(host, ctx.host.as_bytes()) {
        return None;
    }
    match ctx.redirect_hosts {
        // With the site's redirect targets known, every other host is a hit.
        Some(allowed) => (!allowed.iter().any(|a| allows(a.as_bytes(), host))).then_some(lead),
        None => evasive.then_some(lead),
    }
}

/// `app.example.com` allows that host; `.example.com` the domain and its subdomains.
fn allows(entry: &[u8], host: &[u8]) -> bool {
    match entry.strip_prefix(b".") {
        Some(domain) => host.eq_ignore_ascii_case(domain) || under(host, entry),
        None => host.eq_ignore_ascii_case(entry),
    }
}

/// `host` is a name under `dotted_domain` (`.example.com`), any case.
fn under(host: &[u8], dotted_domain: &[u8]) -> bool {
    host.len() > dotted_domain.len()
        && host[host.len() - dotted_domain.len()..].eq_ignore_ascii_case(dotted_domain)
}

/// An IPv4 host not in plain dotted decimal (`parse_v4` reads every spelling a resolver
/// accepts), or an IPv6 literal with an embedded IPv4 address.
fn obfuscated_ip(host: &[u8]) -> bool {
    if host.starts_with(b"[") {
        return host.contains(&b'.');
    }
    let dotted_decimal = host.split(|c| *c == b'.').count() == 4
        && host.split(|c| *c == b'.').all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.iter().all(u8::is_ascii_digit)
                && (p.len() == 1 || p[0] != b'0')
        });
    !dotted_decimal && super::ssrf::parse_v4(host).is_some()
}

/// `https:` and the like: letters, then letters, digits, `+`, `-`, `.` up to a `:`.
fn scheme_end(u: &[u8]) -> Option<usize> {
    if !u.first()?.is_ascii_alphabetic() {
        return None;
    }
    let e = u
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))?;
    (u[e] == b':').then_some(e)
}

/// The request's own host, or a name under its parent domain (`www.example.com` for a request
/// to `api.example.com`; a parent of one label, `com`, does not count).
fn same_site(host: &[u8], own: &[u8]) -> bool {
    if own.is_empty() {
        return false;
    }
    if host.eq_ignore_ascii_case(own) {
        return true;
    }
    let Some(dot) = own.iter().position(|c| *c == b'.') else {
        return false;
    };
    let parent = &own[dot..];
    parent[1..].contains(&b'.') && under(host, parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(name: &str, s: &str) -> bool {
        hit_allowing(name, s, None)
    }

    fn hit_allowing(name: &str, s: &str, allowed: Option<&[String]>) -> bool {
        let ctx = Ctx {
            part: Part::Query,
            name,
            is_name: false,
            agent: false,
            host: "api.shop.example",
            redirect_hosts: allowed,
        };
        detect(s, &ctx, &mut Meter::default()).is_some()
    }

    #[test]
    fn urls_that_leave_the_site_in_redirect_parameters() {
        for (name, s) in [
            ("next", "//evil.example"),
            ("url", "/\\evil.example"),
            ("redirect_uri", "https:\\\\evil.example/cb"),
            ("returnTo", "https:evil.example"),
            ("return_url", "https:/\\evil.example"),
            ("continue", "\thttps://api.shop.example@evil.example/"),
            ("goto", "/\t/evil.example"),
            ("RelayState", "///evil.example/%2e%2e"),
            ("dest", "javascript:alert(1)"),
            ("success_url", "HTTPS:///EVIL.EXAMPLE:8443"),
            (
                "url",
                "http://%0aevil.example".replace("%0a", "\n").as_str(),
            ),
        ] {
            assert!(hit(name, s), "{name}={s}");
        }
    }

    #[test]
    fn the_sites_own_urls_and_other_parameters_are_not_redirects() {
        for (name, s) in [
            ("next", "/account/orders"),
            ("next", "https://api.shop.example/a"),
            ("next", "https://www.shop.example/a"),
            ("return_to", "/search?q=//x"),
            ("q", "//evil.example"),
            ("comment", "https://evil.example"),
            ("next", "mailto:a@b.example"),
            ("redirect_uri", "https://app.partner.example/oidc/callback"),
            ("link", "//cdn.other.example/a.png"),
            ("next", "//www.shop.example/a"),
            ("next", "http://203.0.113.7/a"),
            ("redirect_uri", "https://app.partner.example/cb\n"),
            ("next", "https://[2001:db8::1]/a"),
            ("url", "shop.example/x"),
        ] {
            assert!(!hit(name, s), "{name}={s}");
        }
    }

    #[test]
    fn with_allowed_hosts_every_other_site_is_a_redirect() {
        let allowed = vec!["partner.example".to_string(), ".auth.example".to_string()];
        let hit = |s: &str| hit_allowing("redirect_uri", s, Some(&allowed));
        assert!(hit("https://evil.example/cb"));
        assert!(hit("https://partner.example.evil.example/"));
        assert!(hit("//evil.example"));
        assert!(!hit("https://partner.example/cb"));
        assert!(!hit("https://login.auth.example/cb"));
        assert!(!hit("https://auth.example/"));
        assert!(!hit("https://www.shop.example/a"), "the site itself");
        assert!(!hit("/account"));
        // An empty list allows only the site itself.
        assert!(hit_allowing("next", "https://partner.example/", Some(&[])));
    }

    #[test]
    fn in_a_body_only_redirect_words_name_a_redirect() {
        let body = |name: &str, s: &str| {
            let ctx = Ctx {
                part: Part::Body,
                name,
                is_name: false,
                agent: false,
                host: "api.shop.example",
                redirect_hosts: None,
            };
            detect(s, &ctx, &mut Meter::default()).is_some()
        };
        assert!(!body("url", "//cdn.other.example/a.png"));
        assert!(!body("url", "data:image/jpeg;base64,/9j/4AAQ"));
        assert!(body("redirect_url", "//evil.example"));
        assert!(!body("return_to", "data:text/html,x"));
        assert!(body("return_to", "javascript:alert(1)"));
    }
}
