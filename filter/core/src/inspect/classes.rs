//! Which attack classes a text can hold, decided in one pass over its bytes with a
//! 256-entry table (built at compile time). Each bit is exactly the byte set that one
//! scanner's own early exit requires (`tests::table_matches_the_scanners` checks every byte
//! against the scanners' predicates): a class whose bit is absent cannot match, so
//! skipping it changes nothing.

/// SQL: some byte of `sql::may_match` (or the scanner returns at once).
pub(crate) const SQL: u16 = 1;
/// XSS: some byte of `html::may_match`.
pub(crate) const XSS: u16 = 1 << 1;
/// NoSQL: a `$`.
pub(crate) const NOSQL: u16 = 1 << 2;
/// Unix shell syntax (`shell::shell_meta`); without it only a leading command matters.
pub(crate) const UNIX_META: u16 = 1 << 3;
/// Windows separators, variables and carets (`windows::special`); without them only a
/// leading command or a cmdlet matters.
pub(crate) const WIN_SPECIAL: u16 = 1 << 4;
/// File inclusion: some byte of `files::may_match`.
pub(crate) const FILES: u16 = 1 << 5;
/// SSRF: a `:` or `/`.
pub(crate) const SSRF: u16 = 1 << 6;
/// Template injection: some byte of `template::may_match`.
pub(crate) const TEMPLATE: u16 = 1 << 7;
/// XXE: a `<`.
pub(crate) const XXE: u16 = 1 << 8;
/// JNDI lookups: a `$`.
pub(crate) const JNDI: u16 = 1 << 9;
/// Open redirect: some byte of `redirect::may_match`.
pub(crate) const REDIRECT: u16 = 1 << 10;
/// Sensitive paths: a `/`, `.` or `~`.
pub(crate) const PROBE: u16 = 1 << 11;

/// Can class `a` match a text whose bytes have the class bits `m` ([`of`])? Unix and
/// Windows commands can start a value of plain words, so they always may.
#[inline]
pub(crate) fn may_apply(a: super::Attack, m: u16) -> bool {
    use super::Attack::*;
    let need = match a {
        SqlInjection => SQL,
        Xss => XSS,
        NoSqlInjection => NOSQL,
        FileInclusion => FILES,
        Ssrf => SSRF,
        TemplateInjection => TEMPLATE,
        Xxe => XXE,
        JndiInjection => JNDI,
        OpenRedirect => REDIRECT,
        SensitivePathProbe => PROBE,
        OsCommandInjection | WindowsCommandInjection => return true,
    };
    m & need != 0
}

const SQL_BYTES: &[u8] = b" '\"`(;=/#-_:\n.";
const XSS_BYTES: &[u8] = b"<=:(`[.+@";
const NOSQL_BYTES: &[u8] = b"$";
const UNIX_BYTES: &[u8] = b";|&$`()<>{}!~\n/\\'\"[*?%";
const WIN_BYTES: &[u8] = b";|&(\n%^";
const FILES_BYTES: &[u8] = b"./\\:?\0";
const SSRF_BYTES: &[u8] = b":/";
const TEMPLATE_BYTES: &[u8] = b"{<#@[";
const XXE_BYTES: &[u8] = b"<";
const JNDI_BYTES: &[u8] = b"$";
const REDIRECT_BYTES: &[u8] = b"/\\:";
const PROBE_BYTES: &[u8] = b"/.~";

const fn mark(mut t: [u16; 256], bytes: &[u8], bit: u16) -> [u16; 256] {
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] |= bit;
        i += 1;
    }
    t
}

const fn table() -> [u16; 256] {
    let t = [0u16; 256];
    let t = mark(t, SQL_BYTES, SQL);
    let t = mark(t, XSS_BYTES, XSS);
    let t = mark(t, NOSQL_BYTES, NOSQL);
    let t = mark(t, UNIX_BYTES, UNIX_META);
    let t = mark(t, WIN_BYTES, WIN_SPECIAL);
    let t = mark(t, FILES_BYTES, FILES);
    let t = mark(t, SSRF_BYTES, SSRF);
    let t = mark(t, TEMPLATE_BYTES, TEMPLATE);
    let t = mark(t, XXE_BYTES, XXE);
    let t = mark(t, JNDI_BYTES, JNDI);
    let t = mark(t, REDIRECT_BYTES, REDIRECT);
    mark(t, PROBE_BYTES, PROBE)
}

static TABLE: [u16; 256] = table();

/// The union of the class bits of the bytes of `b`.
#[inline]
pub(crate) fn of(b: &[u8]) -> u16 {
    let mut m = 0u16;
    for c in b {
        m |= TABLE[usize::from(*c)];
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_scanners() {
        for c in 0..=255u8 {
            let t = TABLE[usize::from(c)];
            assert_eq!(t & SQL != 0, crate::inspect::sql::may_match(c), "sql {c}");
            assert_eq!(t & XSS != 0, crate::inspect::html::may_match(c), "xss {c}");
            assert_eq!(t & NOSQL != 0, c == b'$', "nosql {c}");
            assert_eq!(
                t & UNIX_META != 0,
                crate::inspect::shell::shell_meta(c),
                "unix {c}"
            );
            assert_eq!(
                t & WIN_SPECIAL != 0,
                crate::inspect::windows::special(c),
                "windows {c}"
            );
            assert_eq!(
                t & FILES != 0,
                crate::inspect::files::may_match(c),
                "files {c}"
            );
            assert_eq!(
                t & SSRF != 0,
                crate::inspect::ssrf::may_match(c),
                "ssrf {c}"
            );
            assert_eq!(
                t & TEMPLATE != 0,
                crate::inspect::template::may_match(c),
                "template {c}"
            );
            assert_eq!(t & XXE != 0, c == b'<', "xxe {c}");
            assert_eq!(t & JNDI != 0, c == b'$', "jndi {c}");
            assert_eq!(
                t & REDIRECT != 0,
                crate::inspect::redirect::may_match(c),
                "redirect {c}"
            );
            assert_eq!(
                t & PROBE != 0,
                crate::inspect::probe::may_match(c),
                "probe {c}"
            );
        }
    }
}
