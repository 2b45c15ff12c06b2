//! File inclusion: path traversal, sensitive OS and application files, remote inclusion.
//!
//! Works on a file view of the decoded text: lowercase, `\` read as `/`, NUL bytes dropped
//! and the hex-literal spellings `0x2e` `0x2f` `0x5c` read as `.` `/` `\`. Rules:
//! - traversal: exactly two dots (or four and more) followed by `/` or `;` (`../`, `..\`,
//!   `..;/`, `....//`), or `/..` ending the value; outside the URL path a single plain
//!   `../` inside text is a relative link, so it needs a shape (see `traversal`);
//! - sensitive files: `/etc/passwd`-style OS files, `/proc/self/`, `win.ini`, `boot.ini`,
//!   `system32/`, server configs, keys, VCS and env dotfiles, logs and SQL dumps, and any
//!   absolute `/etc/..` path starting a word;
//! - remote inclusion (as CRS 931100/931110/931120): a URL value whose host is an IPv4
//!   address, a URL value ending in `?` (which cuts off the suffix the include appends), a
//!   URL in a parameter named like an include path (`..._path`, `..._dir`, `include`).
use super::lex::{self, at, is_word};
use super::{vocab, Ctx, Meter, Part};

/// Sensitive files, matched at a `/`, `.` or word start. First byte dispatches.
#[rustfmt::skip]
pub(crate) const FILES: &[&str] = &[
    ".aiignore", ".aws/", ".bash_history", ".git/", ".htaccess", ".htpasswd", ".sql.", ".ssh/",
    ".svn/", "access.log", "apache2.conf", "backup.sql", "boot.ini", "error.log", "etc/crontab",
    "etc/group", "etc/hosts", "etc/issue", "etc/master.passwd", "etc/passwd", "etc/shadow",
    "etc/subgid", "etc/subuid", "etc/sudoers", "httpd.conf", "id_ed25519", "id_rsa", "my.cnf",
    "nginx.conf", "php.ini", "proc/cpuinfo", "proc/interrupts", "proc/meminfo", "proc/mounts",
    "proc/net/", "proc/self/", "proc/version", "sys/class/", "system.ini", "system32/",
    "web.config", "win.ini", "wp-config.php",
];

/// Every rule needs one of these bytes.
pub(crate) fn may_match(c: u8) -> bool {
    matches!(c, b'.' | b'/' | b'\\' | b':' | b'?' | 0)
}

/// For each first byte, the range of [`FILES`] entries starting with it (computed at
/// compile time; the table is sorted, so they are contiguous).
static RANGES: [(u8, u8); 256] = ranges();

const fn ranges() -> [(u8, u8); 256] {
    let mut t = [(0u8, 0u8); 256];
    let mut k = 0;
    while k < FILES.len() {
        let f = FILES[k].as_bytes()[0] as usize;
        if t[f].1 == 0 {
            t[f].0 = k as u8;
        }
        t[f].1 = k as u8 + 1;
        k += 1;
    }
    t
}

#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect(s: &str, ctx: &Ctx, meter: &mut Meter) -> Option<usize> {
    let b = s.as_bytes();
    if !b.iter().any(|c| may_match(*c)) {
        return None;
    }
    meter.add(b.len() * 3);
    // The view differs from the text only with `\`, NUL or `0x..`: otherwise match the text
    // itself (all comparisons ignore case) and allocate nothing.
    let owned;
    let (v, map): (&[u8], Option<&[usize]>) =
        if b.iter().any(|c| *c == b'\\' || *c == 0) || super::lex::find(b, b"0x").is_some() {
            owned = view(b);
            (&owned.0, Some(&owned.1))
        } else {
            (b, None)
        };
    let back = |i: usize| map.map_or(i, |m| m.get(i).copied().unwrap_or(0));
    if let Some(i) = traversal(v, map, b, ctx.part == Part::Path) {
        return Some(back(i));
    }
    // `index.php::$DATA`: the NTFS data stream that makes IIS send a script's source.
    if let Some(i) = b
        .contains(&b'$')
        .then(|| super::lex::find(v, b"::$data"))
        .flatten()
    {
        return Some(back(i));
    }
    // A NUL byte cuts the name an application appends an extension to (`../x%00.png`); a
    // body may carry binary uploads, so only the URL, cookies and headers count.
    if ctx.part != Part::Body && b.contains(&0) {
        return b.iter().position(|c| *c == 0);
    }
    // Only path-like tokens (with `.`, `/` or `_`) can name a file: prose words are skipped.
    let lead = v
        .iter()
        .position(|c| !matches!(c, b' ' | b'"' | b'\''))
        .unwrap_or(v.len());
    // `c:/windows/..`: after a drive letter the path is the lead.
    let drive = v.get(lead).is_some_and(u8::is_ascii_alphabetic)
        && v.get(lead + 1) == Some(&b':')
        && v.get(lead + 2) == Some(&b'/');
    if let Some(i) = wrapper(v, lead) {
        return Some(back(i));
    }
    // In the URL path a log file is often just a download (`/jobs/12/build.log`).
    if ctx.part != Part::Path {
        if let Some(i) = system_path(v, lead, drive) {
            return Some(back(i));
        }
    }
    let mut t = 0;
    while t < v.len() {
        let mut e = t;
        let mut pathy = false;
        while e < v.len() && (is_word(v[e]) || matches!(v[e], b'.' | b'/' | b'-' | b'~' | b'@')) {
            pathy |= matches!(v[e], b'.' | b'/' | b'_');
            e += 1;
        }
        if pathy {
            let leads = t == lead || (drive && t == lead + 2);
            if let Some(i) = sensitive(v, t, e, leads, meter) {
                return Some(back(i));
            }
        }
        t = e.max(t + 1);
    }
    if ctx.part != Part::Path {
        return remote(v, ctx).map(back);
    }
    None
}

/// A sensitive file name inside the token `v[t..e]`; `leads`: the token starts the value.
#[inline(never)] // See `traversal`.
fn sensitive(v: &[u8], t: usize, e: usize, leads: bool, meter: &mut Meter) -> Option<usize> {
    for i in t..e {
        let c = v[i];
        if !(c == b'/' || c == b'.' || i == 0 || !is_word(v[i - 1])) {
            continue;
        }
        let from = if c == b'/' { i + 1 } else { i };
        // FILES is sorted: the entries starting with this byte are one range.
        let first = v.get(from).map_or(0, u8::to_ascii_lowercase);
        let (lo, hi) = RANGES[usize::from(first)];
        for f in FILES.get(usize::from(lo)..usize::from(hi)).unwrap_or(&[]) {
            meter.add(f.len());
            let f = f.as_bytes();
            // A directory entry (`proc/self/`) also matches as the value's last segment.
            let dir = f.strip_suffix(b"/").filter(|d| from + d.len() == v.len());
            if at(v, from, f) || dir.is_some_and(|d| at(v, from, d)) {
                return Some(i);
            }
        }
        // The long list only where the value is the path (`file=/var/log/..`): prose and
        // pasted commands mention such files (`I ran cat ~/.npmrc`).
        // ... and where a path segment or a dotted name starts, not after a `-`
        // (`libwww-perl/6.05` names no `perl/` folder).
        if leads && (i == t || matches!(c, b'/' | b'.')) {
            if let Some(at) = listed(v, i, e, meter) {
                return Some(at);
            }
        }
        // `.env`, `.env.local` as a file name.
        if c == b'.'
            && (i == 0 || v[i - 1] == b'/')
            && at(v, i, b".env")
            && v.get(i + 4).is_none_or(|c| matches!(c, b'/' | b'.'))
        {
            return Some(i);
        }
        // An absolute `/etc/...` path as a word: `cat /etc/subuid`.
        if c == b'/'
            && at(v, i, b"/etc/")
            && (i == 0 || matches!(v[i - 1], b' ' | b'=' | b'>' | b':' | b'('))
        {
            return Some(i);
        }
    }
    None
}

/// A path of `vocab::sensitive_paths` (CRS's OS and restricted files, cloud and container
/// credentials) starting at `v[i]` (or just after it, for `/`) and ending where a path segment
/// or name ends, inside the token ending at `e`: `/var/log/nginx/..` (`var/log`),
/// `..\windows\win.ini` (`windows/win.ini`), `/home/u/.aws/credentials` (`.aws/`).
pub(crate) fn listed(v: &[u8], i: usize, e: usize, meter: &mut Meter) -> Option<usize> {
    let table = vocab::sensitive_paths();
    let starts: &[usize] = if v[i] == b'/' { &[i, i + 1] } else { &[i] };
    // The entries starting with each byte, found once per process.
    static FIRST: std::sync::OnceLock<Vec<(usize, usize)>> = std::sync::OnceLock::new();
    let first = FIRST.get_or_init(|| {
        let head = |t: &&str| t.as_bytes().first().copied().unwrap_or(0);
        (0..=255u8)
            .map(|b| {
                let lo = table.partition_point(|t| head(t) < b);
                let hi = table.partition_point(|t| head(t) <= b);
                (lo, hi)
            })
            .collect()
    });
    for &from in starts {
        let Some(b0) = v.get(from) else {
            continue;
        };
        let range = first
            .get(usize::from(b0.to_ascii_lowercase()))
            .copied()
            .unwrap_or((0, 0));
        if range.0 >= range.1 {
            continue;
        }
        // Entries end at a name's end or just after a separator (`.aws/`, `.bash_`,
        // `wp-config.`, `wp-config-`: CRS's prefixes of a family of names).
        let ends = |_: &str, k: usize| {
            k + 1 == e
                || matches!(v[k + 1], b'/' | b'.' | b'-' | b'_' | b'~' | b'@')
                || matches!(v[k], b'/' | b'_' | b'.' | b'-')
        };
        if lex::prefix_entry(table, range, v, from, e.min(from + 96), meter, ends).is_some() {
            return Some(i);
        }
    }
    None
}

/// PHP's stream wrappers that read local files or run code (`stream_get_wrappers()` and the
/// PHP manual's "Supported Protocols and Wrappers", less the network ones): an include of
/// `php://filter/..`, `phar://`, `expect://id` is file inclusion, not a fetch.
pub(crate) const FILE_WRAPPERS: &[&str] = &[
    "compress.bzip2",
    "compress.zlib",
    "data",
    "expect",
    "glob",
    "phar",
    "php",
    "zip",
];

/// A value that starts with one of [`FILE_WRAPPERS`] (`php://filter/...`), or a `data:` URI of
/// text or base64 that is not an image (`data:text/plain;base64,PD9waHA..`).
fn wrapper(v: &[u8], lead: usize) -> Option<usize> {
    let rest = v.get(lead..)?;
    let end = rest
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-')))
        .unwrap_or(rest.len());
    let scheme = &rest[..end];
    if at(rest, end, b"://") && super::lex::in_table(scheme, FILE_WRAPPERS) {
        return Some(lead);
    }
    let data = scheme.eq_ignore_ascii_case(b"data") && rest.get(end) == Some(&b':');
    let after = end + 1;
    (data
        && (at(rest, after, b"text/plain") || at(rest, after, b";base64") || at(rest, after, b",")))
    .then_some(lead)
}

/// A value that is an absolute path to a log file (`/opt/lamp/log/access_log`,
/// `c:\\logs\\error.log`) or into Windows' system folders (`c:\\windows\\..`).
fn system_path(v: &[u8], lead: usize, drive: bool) -> Option<usize> {
    let start = if drive { lead + 2 } else { lead };
    if v.get(start) != Some(&b'/') {
        return None;
    }
    let end = v[start..]
        .iter()
        .position(|c| matches!(c, b' ' | b'?' | b'#' | b'&' | b'"' | b'\''))
        .map_or(v.len(), |p| start + p);
    let path = &v[start..end];
    let name = path.rsplit(|c| *c == b'/').next().unwrap_or(&[]);
    let log = name.len() > 4
        && (name.ends_with(b".log") || name.ends_with(b"_log"))
        && name.iter().all(|c| is_word(*c) || matches!(c, b'.' | b'-'));
    let windows = drive
        && [
            "/windows/",
            "/winnt/",
            "/inetpub/",
            "/boot.ini",
            "/sysprep",
            "/unattend",
        ]
        .iter()
        .any(|d| at(path, 0, d.as_bytes()));
    (log && path.iter().filter(|c| **c == b'/').count() >= 2 || windows).then_some(lead)
}

#[inline(never)] // See `traversal`.
fn view(b: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut v = Vec::with_capacity(b.len());
    let mut map = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == 0 {
            i += 1;
            continue;
        }
        if c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
            let lit = match (
                b.get(i + 2).map(u8::to_ascii_lowercase),
                b.get(i + 3).map(u8::to_ascii_lowercase),
            ) {
                (Some(b'2'), Some(b'e')) => Some(b'.'),
                (Some(b'2'), Some(b'f')) | (Some(b'5'), Some(b'c')) => Some(b'/'),
                _ => None,
            };
            if let Some(l) = lit {
                v.push(l);
                map.push(i);
                i += 4;
                continue;
            }
        }
        v.push(if c == b'\\' {
            b'/'
        } else {
            c.to_ascii_lowercase()
        });
        map.push(i);
        i += 1;
    }
    (v, map)
}

/// `..` steps. In the URL path any step is crafted (clients resolve them before sending);
/// in a value a single `../` in prose is a relative link (`[post](../2024/a.md)`), so there
/// it takes a value that starts climbing, two steps in a row, a `\` or `;` separator, or an
/// encoded dot or slash.
#[inline(never)] // With the other steps inlined, `detect` was 12.6 KB (see mod.rs).
fn traversal(v: &[u8], map: Option<&[usize]>, raw: &[u8], in_path: bool) -> Option<usize> {
    let mut i = 0;
    while i < v.len() {
        if v[i] != b'.' {
            i += 1;
            continue;
        }
        let start = i;
        while i < v.len() && v[i] == b'.' {
            i += 1;
        }
        let run = i - start;
        if run != 2 && run < 4 {
            continue;
        }
        let next = v.get(i).copied();
        let before_slash = start > 0 && v[start - 1] == b'/';
        if !(matches!(next, Some(b'/' | b';')) || (next.is_none() && before_slash)) {
            continue;
        }
        let raw_at = |k: usize| {
            map.map_or(Some(k), |m| m.get(k).copied())
                .and_then(|m| raw.get(m))
                .copied()
        };
        let odd_sep = matches!(raw_at(i), Some(b'\\' | b';' | b'0'));
        let odd_dot = raw_at(start) != Some(b'.') || raw_at(start + 1) != Some(b'.');
        let leading = v[..start].iter().all(|c| matches!(c, b'/' | b' '));
        let repeated = at(v, i + 1, b"..") || (start >= 3 && at(v, start - 3, b"../"));
        if in_path || run >= 4 || odd_sep || odd_dot || leading || repeated {
            return Some(start);
        }
    }
    None
}

/// Remote file inclusion shapes.
#[inline(never)] // See `traversal`.
fn remote(v: &[u8], ctx: &Ctx) -> Option<usize> {
    // `referer` and `origin` hold the browser's own page, never an include target.
    if ctx.part == Part::Headers && !super::parts::header_may_carry_fetch_url(ctx.name) {
        return None;
    }
    let scheme_end = ["http://", "https://", "ftp://", "ftps://", "file://"]
        .iter()
        .find(|p| at(v, 0, p.as_bytes()))
        .map(|p| p.len());
    // `x=https?`: a scheme-led value whose only `?` ends it (cutting off what the include
    // appends); a URL with a query string ending in `?` is a question.
    let scheme_led = ["http", "https", "ftp", "ftps", "file"]
        .iter()
        .any(|p| at(v, 0, p.as_bytes()));
    if scheme_led && v.last() == Some(&b'?') && v.iter().filter(|c| **c == b'?').count() == 1 {
        return Some(0);
    }
    let e = scheme_end?;
    let host_end = v[e..]
        .iter()
        .position(|c| matches!(c, b'/' | b':' | b'?' | b'#'))
        .map_or(v.len(), |p| e + p);
    let host = &v[e..host_end];
    let dotted_ip = host.split(|c| *c == b'.').count() == 4
        && host.iter().all(|c| c.is_ascii_digit() || *c == b'.');
    // An address literal, IPv4 or IPv6 (`http://[2001:db8::1]/shell.txt`), names no site.
    if dotted_ip || host.first() == Some(&b'[') {
        return Some(0);
    }
    // A name that is, or ends in, an include-like word (`path`, `file_path`, `templateDir`),
    // not one that merely ends in its letters (`credir`, `xpath`).
    // `file[]`, `page[0]`: array-style names are the name before the brackets.
    let base = ctx.name.split('[').next().unwrap_or(ctx.name);
    let raw = base.as_bytes();
    let name = base.to_ascii_lowercase();
    let includeish = ["path", "dir", "include", "inc", "root"].iter().any(|s| {
        let Some(k) = name.len().checked_sub(s.len()) else {
            return false;
        };
        name.ends_with(s)
            && (k == 0
                || matches!(raw.get(k - 1), Some(b'_' | b'-' | b'.' | b'['))
                || raw.get(k).is_some_and(u8::is_ascii_uppercase))
    });
    (includeish && !ctx.is_name).then_some(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ranges_are_the_first_byte_ranges() {
        for first in 0..=255u8 {
            let head = |f: &&str| f.as_bytes().first().copied().unwrap_or(0);
            let lo = super::FILES.partition_point(|f| head(f) < first);
            let hi = super::FILES.partition_point(|f| head(f) <= first);
            let (a, b) = super::RANGES[usize::from(first)];
            assert_eq!(
                super::FILES.get(usize::from(a)..usize::from(b)),
                super::FILES.get(lo..hi),
                "{first}"
            );
        }
    }
}
