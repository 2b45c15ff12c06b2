//! Decoding before matching: what an application or a browser would turn the raw text into.
//!
//! Steps, each a single linear pass, applied only when the text contains a byte that can
//! start an encoding (`%`, `+`, `&`, `\`, non-ASCII, odd whitespace):
//! 1. percent-decoding (`%HH`, `%uHHHH`), repeated while it changes, at most 3 times;
//!    `+` is a space in query strings and forms (first pass only);
//! 2. overlong UTF-8 (`%c0%ae` → `.`) folded to ASCII;
//! 3. backslash escapes: `\uXXXX`, `\u{H..}`, `\xHH`, JSON/JS single-character escapes (not in
//!    a Windows path: `..\\boot.ini`, `c:\\temp`);
//! 4. HTML entities: common named ones, `&#NN;`, `&#xHH;` (the `;` may be missing), twice;
//! 5. bytes that are not UTF-8 read with their top bit cleared (old 7-bit parsers do that);
//!    fullwidth forms (`＜`) folded to ASCII; whitespace variants (tab, `\x0b`, NBSP, ...)
//!    become a plain space, newlines stay.
use super::Meter;
use std::borrow::Cow;

const PASSES: usize = 3;

/// Decodes `raw` for matching; borrows it when nothing needs decoding.
pub(crate) fn normalize<'a>(raw: &'a str, plus: bool, meter: &mut Meter) -> Cow<'a, str> {
    meter.add(raw.len());
    let needs = raw.bytes().any(|b| {
        matches!(b, b'%' | b'&' | b'\\' | b'\t' | b'\r' | 0x0b | 0x0c)
            || b >= 0x80
            || (plus && b == b'+')
    });
    if !needs {
        return Cow::Borrowed(raw);
    }
    let mut buf: Vec<u8> = raw.as_bytes().to_vec();
    for pass in 0..PASSES {
        meter.add(buf.len());
        match percent(&buf, plus && pass == 0) {
            Some(next) => buf = next,
            None => break,
        }
    }
    meter.add(buf.len());
    // Each step below leaves text without its trigger bytes as it is: skip the copy.
    if buf.iter().any(|b| matches!(b, 0xc0 | 0xc1 | 0xe0)) {
        buf = overlong(&buf);
    }
    meter.add(buf.len());
    if buf.contains(&b'\\') {
        buf = escapes(&buf);
        // A JSON string escapes what the application then URL-decodes (`\u0025 2f` is `%2f`):
        // percent-decode once more after the escapes.
        if buf.contains(&b'%') {
            meter.add(buf.len());
            if let Some(next) = percent(&buf, false) {
                buf = next;
            }
        }
    }
    for _ in 0..2 {
        meter.add(buf.len());
        match entities(&buf) {
            Some(next) => buf = next,
            None => break,
        }
    }
    meter.add(buf.len());
    Cow::Owned(to_text(&buf))
}

/// Short identifier-only text cannot carry any attack this module looks for.
pub(crate) fn cannot_attack(s: &str) -> bool {
    s.len() < 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex_at(s: &[u8], i: usize, n: usize) -> Option<u32> {
    let mut v = 0u32;
    for k in 0..n {
        v = v * 16 + u32::from(hex_val(*s.get(i + k)?)?);
    }
    Some(v)
}

fn push_char(out: &mut Vec<u8>, c: u32) {
    let c = char::from_u32(c).unwrap_or('\u{fffd}');
    let mut b = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
}

/// One percent-decoding pass; `None` when nothing changed.
fn percent(s: &[u8], plus: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' {
            if let Some(v) = hex_at(s, i + 1, 2) {
                out.push(v as u8);
                i += 3;
                changed = true;
                continue;
            }
            if matches!(s.get(i + 1), Some(b'u' | b'U')) {
                if let Some(v) = hex_at(s, i + 2, 4) {
                    push_char(&mut out, v);
                    i += 6;
                    changed = true;
                    continue;
                }
            }
        } else if b == b'+' && plus {
            out.push(b' ');
            i += 1;
            changed = true;
            continue;
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

/// Overlong UTF-8 sequences for ASCII (`c0 ae`, `e0 80 af`) become the ASCII byte.
fn overlong(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        let c1 = s.get(i + 1).copied().unwrap_or(0);
        let c2 = s.get(i + 2).copied().unwrap_or(0);
        if (b == 0xc0 || b == 0xc1) && c1 & 0xc0 == 0x80 {
            out.push(((b & 1) << 6) | (c1 & 0x3f));
            i += 2;
        } else if b == 0xe0
            && c1 & 0xe0 == 0x80
            && c2 & 0xc0 == 0x80
            && c1 & 0x1f == 0
            && c2 & 0x40 == 0
        {
            out.push(((c1 & 1) << 6) | (c2 & 0x3f));
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// `\uXXXX`, `\u{..}`, `\xHH` and JSON/JS single-character escapes (not in a Windows path).
fn escapes(s: &[u8]) -> Vec<u8> {
    let windows_path = s
        .windows(2)
        .enumerate()
        .any(|(k, w)| w[1] == b'\\' && (w[0] == b':' || w[0] == b'.' || (k == 0 && w[0] == b'\\')));
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        match s.get(i + 1).copied() {
            Some(b'u' | b'U') => {
                if let Some(v) = hex_at(s, i + 2, 4) {
                    push_char(&mut out, v);
                    i += 6;
                    continue;
                }
                if s.get(i + 2) == Some(&b'{') {
                    let mut v = 0u32;
                    let mut j = i + 3;
                    while j < s.len() && j < i + 10 {
                        match hex_val(s[j]) {
                            Some(h) => v = v * 16 + u32::from(h),
                            None => break,
                        }
                        j += 1;
                    }
                    if j > i + 3 && s.get(j) == Some(&b'}') {
                        push_char(&mut out, v);
                        i = j + 1;
                        continue;
                    }
                }
            }
            Some(b'x' | b'X') => {
                if let Some(v) = hex_at(s, i + 2, 2) {
                    out.push(v as u8);
                    i += 4;
                    continue;
                }
            }
            Some(c @ (b'"' | b'\'' | b'/')) => {
                out.push(c);
                i += 2;
                continue;
            }
            // In a Windows path (`..\\boot.ini`, `c:\\temp`, `\\\\host`) a backslash
            // separates names: `\\b`, `\\t`, `\\n` are not escapes there.
            Some(b'\\') if !windows_path => {
                out.push(b'\\');
                i += 2;
                continue;
            }
            Some(b'n') if !windows_path => {
                out.push(b'\n');
                i += 2;
                continue;
            }
            Some(b't' | b'r' | b'f' | b'b') if !windows_path => {
                out.push(b' ');
                i += 2;
                continue;
            }
            _ => {}
        }
        out.push(b);
        i += 1;
    }
    out
}

const NAMED: [(&str, u8); 17] = [
    ("amp", b'&'),
    ("apos", b'\''),
    ("colon", b':'),
    ("comma", b','),
    ("gt", b'>'),
    ("lpar", b'('),
    ("lsqb", b'['),
    ("lt", b'<'),
    ("newline", b'\n'),
    ("num", b'#'),
    ("period", b'.'),
    ("quot", b'"'),
    ("rpar", b')'),
    ("rsqb", b']'),
    ("semi", b';'),
    ("sol", b'/'),
    ("tab", b'\t'),
];

/// One HTML entity pass; `None` when nothing changed.
fn entities(s: &[u8]) -> Option<Vec<u8>> {
    if !s.contains(&b'&') {
        return None;
    }
    let mut out = Vec::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'&' {
            if let Some((text, used)) = entity(&s[i + 1..]) {
                push_char(&mut out, text);
                i += 1 + used;
                changed = true;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    changed.then_some(out)
}

/// Decodes the entity after `&`: (code point, bytes used).
fn entity(s: &[u8]) -> Option<(u32, usize)> {
    if s.first() == Some(&b'#') {
        let (hex, start) = match s.get(1) {
            Some(b'x' | b'X') => (true, 2),
            _ => (false, 1),
        };
        let mut v = 0u32;
        let mut j = start;
        while j < s.len() && j < start + 8 {
            let d = if hex {
                hex_val(s[j]).map(u32::from)
            } else {
                s[j].is_ascii_digit().then(|| u32::from(s[j] - b'0'))
            };
            match d {
                Some(d) => v = v * if hex { 16 } else { 10 } + d,
                None => break,
            }
            j += 1;
        }
        if j == start {
            return None;
        }
        if s.get(j) == Some(&b';') {
            j += 1;
        }
        return Some((v, j));
    }
    let mut j = 0;
    while j < s.len() && j < 8 && s[j].is_ascii_alphabetic() {
        j += 1;
    }
    let word = &s[..j];
    let (_, b) = NAMED
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(word))?;
    if s.get(j) == Some(&b';') {
        j += 1;
    }
    Some((u32::from(*b), j))
}

/// Bytes to text: invalid UTF-8 bytes read as 7-bit ASCII, fullwidth forms folded, odd
/// whitespace made a space.
fn to_text(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                push_folded(&mut out, valid);
                break;
            }
            Err(e) => {
                let (valid, bad) = rest.split_at(e.valid_up_to());
                // SAFETY-free: valid_up_to guarantees this prefix is UTF-8.
                push_folded(&mut out, std::str::from_utf8(valid).unwrap_or(""));
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for &b in bad.iter().take(n) {
                    let a = b & 0x7f;
                    out.push(if a.is_ascii_graphic() { a as char } else { ' ' });
                }
                rest = bad.get(n..).unwrap_or(&[]);
            }
        }
    }
    out
}

fn push_folded(out: &mut String, s: &str) {
    if s.is_ascii() && !s.bytes().any(|b| matches!(b, b'\t' | b'\r' | 0x0b | 0x0c)) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        let c = match c {
            '\t' | '\r' | '\u{0b}' | '\u{0c}' | '\u{a0}' | '\u{2000}'..='\u{200b}' | '\u{3000}' => {
                ' '
            }
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            _ => c,
        };
        out.push(c);
    }
}

/// Text around byte `at`, at most `max` bytes, cut on character boundaries.
pub(crate) fn excerpt(s: &str, at: usize, max: usize) -> String {
    let mut start = at.saturating_sub(max / 3).min(s.len());
    while start > 0 && !s.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + max).min(s.len());
    while end > start && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(start..end).unwrap_or("").to_string()
}
