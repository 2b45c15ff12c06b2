//! Server-side request forgery: a URL (or a bare host name) pointing inside the network.
//!
//! Rules:
//! - a URL with a scheme only a server-side fetch uses: `file://`, `gopher://`, `dict://`,
//!   `ldap://`, `tftp://`, `jar:`, `netdoc:`;
//! - an `http(s)`/`ftp` URL (also `http:host`, with user info skipped) whose host is
//!   loopback, private, link-local, CGNAT or unspecified, in any IPv4 spelling a resolver
//!   accepts (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`), IPv6 (`[::1]`, `[fd..]`,
//!   `[::ffff:127.0.0.1]`), or a name that resolves inside (`localhost`, `*.internal`,
//!   `metadata.google.internal`, `host.docker.internal`, `lvh.me`, ...);
//! - a value that starts with one of those names followed by `/`, `:` or the end (CRS 934190).
//!
//! Public hosts (`http://example.com/a.png`) are never flagged, nor loopback URLs in
//! parameters that name a browser redirect (`redirect_uri=http://localhost:3000/cb`).
use super::lex::{at, in_table};
use super::{vocab, Ctx, Meter};

/// Schemes a browser follows too, or that values carry as data: they need an internal host.
const WEB_SCHEMES: &[&str] = &["data", "ftp", "ftps", "http", "https", "mailto"];

/// Names that resolve to loopback or to the platform's own services.
#[rustfmt::skip]
const NAMES: &[&str] = &[
    "gateway.docker.internal", "host.containers.internal", "host.docker.internal", "instance-data",
    "ip6-localhost", "ip6-loopback", "ipv6-localhost", "kubernetes.docker.internal", "localhost",
    "localhost.localdomain", "localhost4", "localhost6", "localtest.me", "lvh.me",
    "metadata.google.internal",
];

#[rustfmt::skip]
const SCHEMES: &[&str] = &[
    "dict://", "file://", "gopher://", "jar:", "ldap://", "netdoc:", "tftp://",
];

/// Parameters that name where the *browser* goes next (OAuth `redirect_uri`, `return_to`):
/// a developer's `http://localhost:3000/callback` there is navigation, not a server fetch.
fn browser_target(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["redirect", "return", "callback", "continue", "next"]
        .iter()
        .any(|w| n.contains(w))
}

/// Every rule needs one of these bytes.
pub(crate) fn may_match(c: u8) -> bool {
    matches!(c, b':' | b'/')
}

#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect(s: &str, ctx: &Ctx, meter: &mut Meter) -> Option<usize> {
    let v = s.as_bytes();
    if !v.iter().any(|c| may_match(*c)) {
        return None;
    }
    meter.add(v.len() * 2);
    // A bare host at the start of the value.
    let host_end = v
        .iter()
        .position(|c| matches!(c, b'/' | b':' | b'?' | b' '))
        .unwrap_or(v.len());
    if host_end < v.len() || v.len() < 64 {
        let host = &v[..host_end];
        if (in_table(host, NAMES) || in_table(host, vocab::ssrf_hosts()) || out_of_band(host))
            && v.get(host_end).is_none_or(|c| matches!(c, b'/' | b':'))
            && host_end > 0
        {
            return Some(0);
        }
    }
    for i in 0..v.len() {
        if v[i] != b':' {
            continue;
        }
        // Scheme: letters before the colon.
        let mut a = i;
        while a > 0 && v[a - 1].is_ascii_alphabetic() {
            a -= 1;
        }
        if a == i || i - a > 8 {
            continue;
        }
        for sc in SCHEMES {
            meter.add(sc.len());
            if at(v, a, sc.as_bytes()) {
                return Some(a);
            }
        }
        let scheme = &v[a..i];
        // Any other scheme a server-side fetcher follows (curl, PHP, Java, Python:
        // `vocab::url_schemes`), written as `scheme://`: `sftp://`, `smb://`, `phar://`.
        if at(v, i, b"://")
            && in_table(scheme, vocab::url_schemes())
            && !in_table(scheme, WEB_SCHEMES)
            // PHP's local wrappers (`php://filter`) are file inclusion (`files.rs`).
            && !in_table(scheme, super::files::FILE_WRAPPERS)
            && (a == 0 || !v[a - 1].is_ascii_alphanumeric())
        {
            return Some(a);
        }
        let web = ["http", "https", "ftp", "ftps", "ws", "wss"]
            .iter()
            .any(|w| scheme.eq_ignore_ascii_case(w.as_bytes()));
        if !web {
            continue;
        }
        let mut h = i + 1;
        while h < v.len() && (v[h] == b'/' || v[h] == b'\\') && h < i + 4 {
            h += 1;
        }
        let mut end = h;
        // Bounded: a host name is at most 253 bytes (`http:http:http:..` must stay linear).
        while end < v.len()
            && end < h + 256
            && !matches!(v[end], b'/' | b'\\' | b'?' | b'#' | b' ' | b'"' | b'\'' | 0)
        {
            end += 1;
        }
        let mut authority = &v[h..end];
        meter.add(authority.len());
        if let Some(p) = authority.iter().rposition(|c| *c == b'@') {
            authority = &authority[p + 1..];
        }
        let folded = fold_host(authority);
        let host = strip_port(folded.as_deref().unwrap_or(authority));
        if internal_host(host) && !(browser_target(ctx.name) && loopback(host)) {
            return Some(a);
        }
        // Blind SSRF: a URL to a scanner's out-of-band interaction host.
        if out_of_band(host) {
            return Some(a);
        }
    }
    None
}

/// The host of an authority: inside `[..]` for IPv6, else before the first `:` (a host name
/// has none, so `127.1.1.1:80:\\@..` is `127.1.1.1` as URL parsers split it).
fn strip_port(a: &[u8]) -> &[u8] {
    if a.first() == Some(&b'[') {
        return match a.iter().position(|c| *c == b']') {
            Some(p) => &a[1..p],
            None => &a[1..],
        };
    }
    match a.iter().position(|c| *c == b':') {
        Some(p) => &a[..p],
        None => a,
    }
}

/// A host under one of the out-of-band interaction domains scanners use
/// (`vocab::oob_domains`: `x.oast.pro`, `abc.burpcollaborator.net`).
fn out_of_band(h: &[u8]) -> bool {
    let h = h.strip_suffix(b".").unwrap_or(h);
    in_table(h, vocab::oob_domains()) || suffix_in(h, vocab::oob_domains(), false)
}

/// Is a part of `h` after one of its dots in `table`, written with that dot
/// (`.svc.cluster.local`) or without it (`oast.pro`)? Linear in `h`: a lookup compares at most
/// an entry's length.
fn suffix_in(h: &[u8], table: &[&str], with_dot: bool) -> bool {
    h.iter()
        .enumerate()
        .filter(|(_, c)| **c == b'.')
        .any(|(p, _)| in_table(&h[if with_dot { p } else { p + 1 }..], table))
}

/// A host with non-ASCII characters read as URL parsers read them (UTS #46 mapping): fullwidth
/// digits and letters, circled ones (`①②⑦.⓪.⓪.①`) and the ideographic full stop become
/// ASCII. `None` when the host is ASCII already (or has other characters).
fn fold_host(h: &[u8]) -> Option<Vec<u8>> {
    if h.is_ascii() {
        return None;
    }
    let text = std::str::from_utf8(h).ok()?;
    let mut out = Vec::with_capacity(h.len());
    for c in text.chars() {
        let u = u32::from(c);
        let mapped = match u {
            0..=0x7f => u,
            0xff10..=0xff19 => u - 0xff10 + u32::from(b'0'),
            0xff21..=0xff3a => u - 0xff21 + u32::from(b'a'),
            0xff41..=0xff5a => u - 0xff41 + u32::from(b'a'),
            0x2460..=0x2468 => u - 0x2460 + u32::from(b'1'),
            0x24ea => u32::from(b'0'),
            0x24b6..=0x24cf => u - 0x24b6 + u32::from(b'a'),
            0x24d0..=0x24e9 => u - 0x24d0 + u32::from(b'a'),
            0x3002 | 0xff0e | 0xff61 => u32::from(b'.'),
            _ => return None,
        };
        out.push(u8::try_from(mapped).ok()?);
    }
    Some(out)
}

pub(crate) fn internal_host(h: &[u8]) -> bool {
    let h = h.strip_suffix(b".").unwrap_or(h);
    if h.is_empty() {
        return false;
    }
    if in_table(h, NAMES) || in_table(h, vocab::ssrf_hosts()) {
        return true;
    }
    let lower = h.to_ascii_lowercase();
    // Cluster-internal and wildcard-DNS suffixes of the vocabulary (`.svc.cluster.local`,
    // `.nip.io`): its entries that start with a dot.
    if suffix_in(&lower, vocab::ssrf_hosts(), true) {
        return true;
    }
    for suffix in [
        &b".localhost"[..],
        b".internal",
        b".lvh.me",
        b".localtest.me",
    ] {
        if lower.ends_with(suffix) {
            return true;
        }
    }
    if h.contains(&b':') {
        return internal_v6(&lower);
    }
    match parse_v4(h) {
        Some(ip) => internal_v4(ip),
        None => false,
    }
}

fn loopback(h: &[u8]) -> bool {
    let lower = h.to_ascii_lowercase();
    lower.starts_with(b"localhost")
        || lower.ends_with(b".localhost")
        || lower == b"::1"
        || parse_v4(h).is_some_and(|ip| ip >> 24 == 127)
}

fn internal_v4(ip: u32) -> bool {
    let [a, b, ..] = ip.to_be_bytes();
    a == 127
        || a == 10
        || a == 0
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 169 && b == 254)
        || (a == 100 && (64..128).contains(&b))
}

fn internal_v6(h: &[u8]) -> bool {
    // Every spelling of an address (`0:0:0:0:0:ffff:a9fe:a9fe`, `::ffff:169.254.169.254`),
    // parsed as the URL standard parses it.
    // A zone id (`fe80::1%eth0`) names an interface, not a different address.
    let addr = h.split(|c| *c == b'%').next().unwrap_or(h);
    if let Some(ip) = std::str::from_utf8(addr)
        .ok()
        .and_then(|t| t.parse::<std::net::Ipv6Addr>().ok())
    {
        let seg = ip.segments();
        return ip.is_loopback()
            || ip.is_unspecified()
            || (seg[0] & 0xfe00) == 0xfc00
            || (seg[0] & 0xffc0) == 0xfe80
            || ip
                .to_ipv4_mapped()
                .is_some_and(|v4| internal_v4(u32::from(v4)))
            || (seg[..6] == [0; 6] && internal_v4(u32::from(seg[6]) << 16 | u32::from(seg[7])));
    }
    if h == b"::1"
        || h == b"::"
        || h.starts_with(b"fe80:")
        || h.starts_with(b"fc")
        || h.starts_with(b"fd")
    {
        return true;
    }
    // `::ffff:127.0.0.1`
    match h.iter().rposition(|c| *c == b':') {
        Some(p) if h[..p].ends_with(b"ffff") || h[..p].iter().all(|c| *c == b':' || *c == b'0') => {
            parse_v4(&h[p + 1..]).is_some_and(internal_v4)
        }
        _ => false,
    }
}

/// IPv4 in every form `inet_aton` accepts: 1 to 4 parts, each decimal, octal (`0..`) or
/// hex (`0x..`); the last part fills the remaining bytes.
pub(crate) fn parse_v4(h: &[u8]) -> Option<u32> {
    // One hex number wider than 32 bits: parsers that keep the low 32 bits read
    // `0x41414141A9FEA9FE` as 169.254.169.254.
    if h.len() > 10 && at(h, 0, b"0x") && h[2..].iter().all(u8::is_ascii_hexdigit) {
        let low = &h[h.len() - 8..];
        let mut v = 0u32;
        for d in low {
            v = v * 16 + u32::from(super::decode::hex_val(*d)?);
        }
        return Some(v);
    }
    let mut parts = [0u64; 4];
    let mut n = 0;
    for p in h.split(|c| *c == b'.') {
        if n == 4 || p.is_empty() {
            return None;
        }
        parts[n] = number(p)?;
        n += 1;
    }
    let last_bits = 32 - 8 * (n as u32 - 1);
    let mut ip: u64 = 0;
    for (k, part) in parts.iter().take(n - 1).enumerate() {
        if *part > 255 {
            return None;
        }
        ip |= part << (24 - 8 * k);
    }
    let last = parts[n - 1];
    if last >= 1u64 << last_bits {
        return None;
    }
    u32::try_from(ip | last).ok()
}

fn number(p: &[u8]) -> Option<u64> {
    let (digits, radix) = if p.len() > 2 && (p.starts_with(b"0x") || p.starts_with(b"0X")) {
        (&p[2..], 16)
    } else if p.len() > 1 && p[0] == b'0' {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        let x = u64::from(super::decode::hex_val(*d)?);
        if x >= radix {
            return None;
        }
        v = v * radix + x;
    }
    Some(v)
}

#[cfg(test)]
pub(crate) fn tables() -> [&'static [&'static str]; 2] {
    [NAMES, SCHEMES]
}
