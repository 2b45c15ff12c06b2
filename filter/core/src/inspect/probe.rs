//! Sensitive-path probes: a request path that asks for a file or endpoint holding secrets or
//! debugging data.
//!
//! The decoded path (`\` read as `/`) is compared, at every segment start, with two
//! vocabularies: the files of `vocab::sensitive_paths` (the OWASP Core Rule Set's restricted
//! and OS files, cloud and container credentials: `.env`, `.git/`, `.aws/credentials`,
//! `wp-config.php`) and `vocab::debug_paths` (the debugging and status endpoints frameworks
//! document: `actuator/env`, `debug/pprof`, `server-status`, `_profiler`). An entry must end
//! where a path segment or a file name ends (`/.env.local` and `/.git/config` match,
//! `/.environment` and `/server-statuses` do not). Also a backup or editor copy of a file
//! (CRS 920500): a last segment ending in `~` after an extension, and a file of
//! [`RESTRICTED_SUFFIXES`], the extensions of CRS's `restricted_extensions` (rule 920440) that
//! name copies, data stores, credentials and server configuration.
use super::{files, vocab, Ctx, Meter, Part};

/// File extensions of CRS's default `tx.restricted_extensions` (CRS 3.3, rule 901164) that
/// name copies (`.bak`, `.old`, `.swp`, `.backup`, with `.bck`, `.orig`, `.sav`, `.save`,
/// `.swo` of the same kind), data stores and credentials (`.mdb`, `.dbf`, `.rdb`, `.sql`,
/// `.pwd`, `.pass`) and server configuration (`.conf`, `.cfg`, `.config`, `.ini`, `.inc`).
/// Left out are the list's extensions real sites serve to browsers and API clients: `.axd`
/// (ASP.NET's script handlers), `.com`, `.xsd`, `.log`, `.dat`, `.db`, `.key`, `.cer`, `.dll`,
/// source files (`.cs`, `.vb`).
pub(crate) const RESTRICTED_SUFFIXES: &[&str] = &[
    ".backup", ".bak", ".bck", ".cfg", ".conf", ".config", ".dbf", ".inc", ".ini", ".mdb", ".old",
    ".orig", ".pass", ".pwd", ".rdb", ".sav", ".save", ".sql", ".swo", ".swp",
];

/// Every rule needs one of these bytes.
pub(crate) fn may_match(c: u8) -> bool {
    matches!(c, b'/' | b'.' | b'~')
}

#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect(s: &str, ctx: &Ctx, meter: &mut Meter) -> Option<usize> {
    if ctx.part != Part::Path || ctx.is_name || !s.bytes().any(may_match) {
        return None;
    }
    let owned;
    let v: &[u8] = if s.contains('\\') {
        owned = s.replace('\\', "/");
        owned.as_bytes()
    } else {
        s.as_bytes()
    };
    meter.add(v.len() * 2);
    // Path parameters (`/x;/actuator`, `;jsessionid=`) stay: servers that strip them still
    // route the segments after them.
    let first = v.iter().position(|c| *c == b'/').unwrap_or(0);
    for i in (0..v.len()).filter(|i| v[*i] == b'/') {
        // A restricted file at the root (`/wp-config.php`, `/etc/passwd`) or as a dotted
        // segment anywhere (`/app/.env`); deeper, bare names are an API's own (`/v1/sys/`).
        let dotted = v.get(i + 1) == Some(&b'.');
        if i == first || dotted {
            if let Some(at) = files::listed(v, i, v.len(), meter) {
                return Some(at);
            }
        }
        if debug_endpoint(v, i + 1, i == first, meter) {
            return Some(i);
        }
    }
    backup_copy(v)
}

/// The last segment names a copy of a file: `index.php~`, `wp-config.php.bak`, `.x.swp`.
fn backup_copy(v: &[u8]) -> Option<usize> {
    let start = v.iter().rposition(|c| *c == b'/').map_or(0, |p| p + 1);
    let name = &v[start..];
    if name.len() > 2 && name.ends_with(b"~") && name[..name.len() - 1].contains(&b'.') {
        return Some(start);
    }
    // A name before the suffix: `.bak` alone is a dotfile, not a copy.
    let ext_start = name.iter().rposition(|c| *c == b'.')?;
    let ext = &name[ext_start..];
    (ext_start > 0
        && RESTRICTED_SUFFIXES
            .iter()
            .any(|s| ext.eq_ignore_ascii_case(s.as_bytes())))
    .then_some(start)
}

/// An entry of `vocab::debug_paths` starting at `v[from]` and ending where a segment or a
/// file name ends.
/// A bare name (`telescope`, `heapdump`) counts only as the first segment (`/products/
/// telescope` is a product); names with a `/`, `_` or `.` (`debug/pprof`, `_profiler`,
/// `phpinfo.php`) anywhere.
fn debug_endpoint(v: &[u8], from: usize, first_segment: bool, meter: &mut Meter) -> bool {
    let table = vocab::debug_paths();
    let whole = |entry: &str, k: usize| {
        v.get(k + 1).is_none_or(|c| matches!(c, b'/' | b'.' | b';'))
            && (first_segment || entry.bytes().any(|c| matches!(c, b'/' | b'_' | b'.')))
    };
    super::lex::prefix_entry(table, (0, table.len()), v, from, from + 64, meter, whole).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(path: &str) -> bool {
        let ctx = Ctx {
            part: Part::Path,
            name: "",
            is_name: false,
            agent: false,
            host: "",
            redirect_hosts: None,
        };
        detect(path, &ctx, &mut Meter::default()).is_some()
    }

    #[test]
    fn secrets_and_debugging_endpoints() {
        for p in [
            "/.env",
            "/app/.env.production",
            "/.git/config",
            "/.git/HEAD",
            "/.aws/credentials",
            "/actuator/env",
            "/manage/actuator/heapdump",
            "/telescope/requests",
            "/app/config/.env",
            "/debug/pprof/goroutine",
            "/server-status",
            "/phpinfo.php",
            "/_profiler/latest",
            "/wp-config.php.bak",
            "/static\\..\\.htpasswd",
            "/x;/actuator/env",
            "/index.php~",
            "/index.php.old",
            "/backup.sql.bak",
            "/.index.php.swp",
            "/httptrace",
            "/admin.mdb",
            "/etc/slapd.conf",
        ] {
            assert!(hit(p), "{p}");
        }
    }

    #[test]
    fn ordinary_api_paths() {
        for p in [
            "/",
            "/api/v1/orders/42",
            "/environment",
            "/server-statuses",
            "/health",
            "/metrics",
            "/api/env/settings",
            "/.well-known/openid-configuration",
            "/static/app.9f8e.js",
            "/users/envy/profile",
            "/files/~",
            "/.bak",
            "/reports/2024.old-format/x",
            "/v1/sys/health",
            "/files/tmp/1.png",
            "/products/telescope",
            "/assets/debug.js",
            "/actuator/health",
            "/actuator/prometheus",
        ] {
            assert!(!hit(p), "{p}");
        }
    }
}
