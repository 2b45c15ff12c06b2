//! Small byte-level helpers the scanners share: case-insensitive comparisons, word reading
//! and lookups in sorted keyword tables (binary search: no automaton to build or ship).

/// ASCII-lowercases `word` into `buf`; `None` if it is longer than the buffer.
pub(crate) fn lower<'b>(word: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b [u8]> {
    if word.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(word) {
        *d = s.to_ascii_lowercase();
    }
    buf.get(..word.len())
}

/// Is `word` (any case) in `table` (sorted, lowercase)?
pub(crate) fn in_table(word: &[u8], table: &[&str]) -> bool {
    let mut buf = [0u8; 32];
    match lower(word, &mut buf) {
        Some(w) => in_sorted(w, table),
        None => in_sorted_any_case(word, table),
    }
}

/// Binary search of a lower-case sorted table for `w` in any case, of any length
/// (vocabulary entries such as paths and host names outgrow [`lower`]'s buffer).
pub(crate) fn in_sorted_any_case(w: &[u8], table: &[&str]) -> bool {
    table
        .binary_search_by(|t| {
            let t = t.as_bytes();
            for (a, b) in t.iter().zip(w) {
                let b = b.to_ascii_lowercase();
                if *a != b {
                    return a.cmp(&b);
                }
            }
            t.len().cmp(&w.len())
        })
        .is_ok()
}

/// Is the lowercase `w` in `table`? Keywords are short: a byte loop beats a `memcmp` call.
pub(crate) fn in_sorted(w: &[u8], table: &[&str]) -> bool {
    table
        .binary_search_by(|t| {
            let t = t.as_bytes();
            for (a, b) in t.iter().zip(w) {
                if a != b {
                    return a.cmp(b);
                }
            }
            t.len().cmp(&w.len())
        })
        .is_ok()
}

/// Does `s[i..]` start with `needle` (lowercase), ignoring ASCII case?
#[inline]
pub(crate) fn at(s: &[u8], i: usize, needle: &[u8]) -> bool {
    s.get(i..i + needle.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(needle))
}

/// First index of `needle` (lowercase, at most 16 bytes) in `s`, ignoring case.
pub(crate) fn find(s: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    (0..s.len()).find(|&i| s[i].to_ascii_lowercase() == first && at(s, i, needle))
}

/// The entry of `table[lo..hi]` (sorted, lowercase, all able to start at `v[from]`) that
/// equals `v[from..=k]` in any case for some `k` before `end` and that `whole(entry, k)`
/// accepts, shortest first. The range is narrowed one byte at a time, so the walk stops as
/// soon as no entry shares the text's prefix (most often at once); each byte read adds 1 to
/// `meter`.
pub(crate) fn prefix_entry<'t>(
    table: &[&'t str],
    (mut lo, mut hi): (usize, usize),
    v: &[u8],
    from: usize,
    end: usize,
    meter: &mut super::Meter,
    mut whole: impl FnMut(&str, usize) -> bool,
) -> Option<&'t str> {
    for (d, byte_at) in v.get(from..end.min(v.len()))?.iter().enumerate() {
        let (k, c) = (from + d, byte_at.to_ascii_lowercase());
        let byte = |t: &&str| t.as_bytes().get(d).copied();
        lo += table[lo..hi].partition_point(|t| byte(t).is_none_or(|b| b < c));
        hi = lo + table[lo..hi].partition_point(|t| byte(t) == Some(c));
        meter.add(1);
        if lo >= hi {
            return None;
        }
        // The shortest entry sharing the prefix sorts first.
        let entry = table[lo];
        if entry.len() == d + 1 && whole(entry, k) {
            return Some(entry);
        }
    }
    None
}

pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// End of the word (`[A-Za-z0-9_]` plus `extra`) starting at `i`.
pub(crate) fn word_end(s: &[u8], mut i: usize, extra: &[u8]) -> usize {
    while i < s.len() && (is_word(s[i]) || extra.contains(&s[i])) {
        i += 1;
    }
    i
}

pub(crate) fn skip_spaces(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && matches!(s[i], b' ' | b'\n' | b'\t' | b'\r') {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_are_sorted() {
        for t in crate::inspect::tables() {
            assert!(
                t.windows(2).all(|w| w[0] < w[1]),
                "unsorted near {:?}",
                t.windows(2).find(|w| w[0] >= w[1])
            );
            assert!(t
                .iter()
                .all(|w| w.len() <= 32 && *w == w.to_ascii_lowercase()));
        }
    }
}
