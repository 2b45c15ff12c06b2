//! NoSQL (MongoDB) injection: query operators where plain values are expected.
//!
//! `u_id[$ne]=1` (PHP/Express bracket syntax turns it into `{u_id: {$ne: 1}}`), JSON keys
//! `{"$where": ..}`, and operator text inside values (`{"$gt": ""}`, `[$regex]`). An operator
//! counts when it follows start, `[`, `{`, a quote or a space and ends at `]`, a quote, `:`,
//! `=`, a space or the end, so prices (`$10`) and shell variables in prose do not.
use super::lex::in_table;
use super::{Ctx, Meter};

#[rustfmt::skip]
const OPS: &[&str] = &[
    "accumulator", "all", "and", "elemmatch", "eq", "exists", "expr", "function", "gt", "gte",
    "in", "jsonschema", "lt", "lte", "mod", "ne", "nin", "nor", "not", "options", "or", "regex",
    "size", "text", "type", "where",
];

#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect(s: &str, _ctx: &Ctx, meter: &mut Meter) -> Option<usize> {
    let b = s.as_bytes();
    if !b.contains(&b'$') {
        return None;
    }
    meter.add(b.len());
    for (i, c) in b.iter().enumerate() {
        if *c != b'$' {
            continue;
        }
        let before_ok = i == 0 || matches!(b[i - 1], b'[' | b'{' | b'"' | b'\'' | b' ' | b',');
        let e = super::lex::word_end(b, i + 1, b"");
        let after_ok = b
            .get(e)
            .is_none_or(|c| matches!(c, b']' | b'"' | b'\'' | b':' | b'=' | b' '));
        if before_ok && after_ok && e > i + 1 && in_table(&b[i + 1..e], OPS) {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
pub(crate) fn tables() -> [&'static [&'static str]; 1] {
    [OPS]
}
