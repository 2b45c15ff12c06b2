//! The SQL tokenizer: strings, numbers, words classified by keyword tables, operators
//! (including PostgreSQL casts and JSON operators), comments. One pass, no backtracking.
use super::lex::is_word;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum K {
    Str,
    Num,
    /// `1.e`: a MySQL number with an empty exponent, glued to what follows.
    NumE,
    Word,
    Func,
    Logic,
    Union,
    Select,
    From,
    Stmt,
    Kw,
    Op,
    Cmp,
    Cast,
    JsonOp,
    LParen,
    RParen,
    Comma,
    Semi,
    Var,
    Dot,
    Other,
    End,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Tok {
    pub k: K,
    pub a: usize,
    pub b: usize,
}

pub(super) const NONE: Tok = Tok {
    k: K::Other,
    a: 0,
    b: 0,
};

/// The keyword table `is_logic` matches (kept for the tests).
#[cfg(test)]
#[rustfmt::skip]
pub(super) const LOGIC: &[&str] = &[
    "and", "not", "or", "xor",
];
/// The keyword table `is_stmt` matches (kept for the tests).
#[cfg(test)]
#[rustfmt::skip]
pub(super) const STMT: &[&str] = &[
    "alter", "create", "declare", "delete", "drop", "exec", "execute", "insert", "replace",
    "shutdown", "truncate", "update", "waitfor",
];

/// The keyword table `is_kw` matches (kept for the tests).
#[cfg(test)]
#[rustfmt::skip]
pub(super) const KW: &[&str] = &[
    "all", "analyse", "as", "between", "by", "case", "delay", "distinct", "else", "end", "false",
    "function", "group", "having", "immediate", "in", "into", "is", "like", "limit", "master",
    "null", "order", "procedure", "regexp", "rlike", "set", "table", "then", "time", "top",
    "trigger", "true", "values", "where",
];

/// Keyword classes by literal match (the compiler dispatches on length, then bytes): no
/// binary search per word. `word_classes_match_tables` checks them against the tables.
fn is_logic(w: &[u8]) -> bool {
    matches!(w, b"and" | b"not" | b"or" | b"xor")
}

fn is_stmt(w: &[u8]) -> bool {
    matches!(
        w,
        b"alter"
            | b"create"
            | b"declare"
            | b"delete"
            | b"drop"
            | b"exec"
            | b"execute"
            | b"insert"
            | b"replace"
            | b"shutdown"
            | b"truncate"
            | b"update"
            | b"waitfor"
    )
}

fn is_kw(w: &[u8]) -> bool {
    matches!(
        w,
        b"all"
            | b"analyse"
            | b"as"
            | b"between"
            | b"by"
            | b"case"
            | b"delay"
            | b"distinct"
            | b"else"
            | b"end"
            | b"false"
            | b"function"
            | b"group"
            | b"having"
            | b"immediate"
            | b"in"
            | b"into"
            | b"is"
            | b"like"
            | b"limit"
            | b"master"
            | b"null"
            | b"order"
            | b"procedure"
            | b"regexp"
            | b"rlike"
            | b"set"
            | b"table"
            | b"then"
            | b"time"
            | b"top"
            | b"trigger"
            | b"true"
            | b"values"
            | b"where"
    )
}

fn word_kind(w: &[u8], next_is_paren: bool) -> K {
    let plain = if next_is_paren { K::Func } else { K::Word };
    // No keyword is longer than 9 bytes (nor shorter than 2): other words skip the lookups.
    if w.len() > 9 || w.len() < 2 {
        return plain;
    }
    let mut buf = [0u8; 32];
    let w = match super::lex::lower(w, &mut buf) {
        Some(w) => w,
        None => return plain,
    };
    if is_logic(w) {
        return K::Logic;
    }
    match w {
        b"union" => return K::Union,
        b"select" => return K::Select,
        b"from" => return K::From,
        b"like" | b"regexp" | b"rlike" | b"is" => return K::Cmp,
        _ => {}
    }
    // `insert(`, `replace(` are functions; a statement never opens a paren (but `exec (@q)`).
    if is_stmt(w) && !(next_is_paren && w != b"exec" && w != b"execute") {
        return K::Stmt;
    }
    if is_kw(w) {
        return K::Kw;
    }
    plain
}

pub(super) struct Lexer<'s> {
    pub s: &'s [u8],
    pub i: usize,
}

impl Lexer<'_> {
    /// Next token, or `None` at the end; comments come back as `K::Other` with `a == b`
    /// replaced by the comment marker below.
    pub fn next(&mut self) -> Option<(Tok, bool)> {
        let s = self.s;
        while self.i < s.len() && matches!(s[self.i], b' ' | b'\n' | b'\t' | b'\r' | 0) {
            self.i += 1;
        }
        let a = self.i;
        let c = *s.get(a)?;
        let c1 = s.get(a + 1).copied().unwrap_or(0);
        let tok = |k, b| Some((Tok { k, a, b }, false));
        // Comments: (token, is_comment); a versioned comment is returned as a Stmt-like hit.
        if c == b'/' && c1 == b'*' {
            let end = find2(s, a + 2, b'*', b'/').map_or(s.len(), |e| e + 2);
            self.i = end;
            let versioned = s.get(a + 2) == Some(&b'!') || s.get(a + 2) == Some(&b'+');
            return Some((
                Tok {
                    k: if versioned { K::Var } else { K::Other },
                    a,
                    b: end,
                },
                true,
            ));
        }
        if (c == b'-' && c1 == b'-') || (c == b'#' && c1 != b'>') {
            let end = s[a..]
                .iter()
                .position(|x| *x == b'\n')
                .map_or(s.len(), |p| a + p);
            self.i = end;
            return Some((
                Tok {
                    k: K::Other,
                    a,
                    b: end,
                },
                true,
            ));
        }
        if matches!(c, b'\'' | b'"' | b'`') {
            let end = string_end(s, a + 1, c);
            self.i = end;
            return tok(K::Str, end);
        }
        if c.is_ascii_digit() || (c == b'.' && c1.is_ascii_digit()) {
            let mut j = a;
            while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'.') {
                j += 1;
            }
            self.i = j;
            // `1.e`: digits, a dot, an `e` with no exponent.
            let body = &s[a..j - 1];
            let last = s[j - 1].to_ascii_lowercase();
            let k = if last == b'e'
                && body.contains(&b'.')
                && body.iter().all(|c| c.is_ascii_digit() || *c == b'.')
            {
                K::NumE
            } else {
                K::Num
            };
            return tok(k, j);
        }
        if c == b'@' {
            let mut j = a + 1;
            while j < s.len() && (is_word(s[j]) || s[j] == b'@') {
                j += 1;
            }
            self.i = j;
            if j > a + 1 {
                return tok(K::Var, j);
            }
            if c1 == b'>' {
                self.i = a + 2;
                return tok(K::JsonOp, a + 2);
            }
            return tok(K::Op, a + 1);
        }
        if is_word(c) || c == b'$' {
            let j = super::lex::word_end(s, a, b"$");
            self.i = j;
            // Is a `(` next, past spaces and `/**/` comments (`JSON_EXTRACT/**/(`)?
            let mut p = j;
            loop {
                while p < s.len() && matches!(s[p], b' ' | b'\n' | b'\t') {
                    p += 1;
                }
                if s.get(p) == Some(&b'/') && s.get(p + 1) == Some(&b'*') {
                    p = find2(s, p + 2, b'*', b'/').map_or(s.len(), |e| e + 2);
                } else {
                    break;
                }
            }
            return tok(word_kind(&s[a..j], s.get(p) == Some(&b'(')), j);
        }
        let three = [c, c1, s.get(a + 2).copied().unwrap_or(0)];
        let (k, n) = match three {
            [b'-', b'>', b'>'] | [b'#', b'>', b'>'] => (K::JsonOp, 3),
            [b'-', b'>', _]
            | [b'#', b'>', _]
            | [b'<', b'@', _]
            | [b'?', b'|', _]
            | [b'?', b'&', _] => (K::JsonOp, 2),
            [b':', b':', _] => (K::Cast, 2),
            [b'|', b'|', _] | [b'&', b'&', _] => (K::Logic, 2),
            [b'<', b'>', _] | [b'!', b'=', _] | [b'<', b'=', _] | [b'>', b'=', _] => (K::Cmp, 2),
            [b'=' | b'<' | b'>', _, _] => (K::Cmp, 1),
            [b'?', _, _] => (K::JsonOp, 1),
            [b'(', _, _] => (K::LParen, 1),
            [b')', _, _] => (K::RParen, 1),
            [b',', _, _] => (K::Comma, 1),
            [b';', _, _] => (K::Semi, 1),
            [b'.', _, _] => (K::Dot, 1),
            [b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'|' | b'&' | b'!' | b'~', _, _] => {
                (K::Op, 1)
            }
            _ => (K::Other, if c >= 0x80 { utf8_len(c) } else { 1 }),
        };
        self.i = (a + n).min(s.len());
        tok(k, self.i)
    }
}

fn utf8_len(c: u8) -> usize {
    match c {
        0xf0.. => 4,
        0xe0.. => 3,
        _ => 2,
    }
}

fn find2(s: &[u8], from: usize, x: u8, y: u8) -> Option<usize> {
    (from..s.len().saturating_sub(1)).find(|&i| s[i] == x && s[i + 1] == y)
}

/// Index just past the string that starts after quote `q` at `i` (or the end).
pub(super) fn string_end(s: &[u8], mut i: usize, q: u8) -> usize {
    while i < s.len() {
        if s[i] == b'\\' {
            i += 2;
        } else if s[i] == q {
            if s.get(i + 1) == Some(&q) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::lex::in_sorted;

    #[test]
    fn word_classes_match_tables() {
        // Every table word, every prefix and extension of it, and words of other tables.
        let mut words: Vec<Vec<u8>> = vec![b"".to_vec(), b"a".to_vec(), b"o".to_vec()];
        for t in crate::inspect::tables() {
            for w in t {
                let w = w.as_bytes();
                for n in 0..=w.len() {
                    words.push(w[..n].to_vec());
                }
                let mut x = w.to_vec();
                x.push(b's');
                words.push(x);
            }
        }
        for w in &words {
            assert_eq!(is_logic(w), in_sorted(w, LOGIC), "{w:?}");
            assert_eq!(is_stmt(w), in_sorted(w, STMT), "{w:?}");
            assert_eq!(is_kw(w), in_sorted(w, KW), "{w:?}");
        }
        assert!(LOGIC.iter().chain(STMT).chain(KW).all(|w| w.len() >= 2));
    }
}
