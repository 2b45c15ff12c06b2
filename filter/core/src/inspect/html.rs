//! Cross-site scripting: HTML and JavaScript that would run if the value were reflected.
//!
//! Rules (on the decoded text; a second view drops whitespace, control characters and
//! `/*..*/` comments, which browsers skip inside scheme names and between JS tokens):
//! - tags that run or load code or rewrite the page: `<script`, `<iframe`, `<object`,
//!   `<embed`, `<applet`, `<meta`, `<link`, `<base`, `<style`, `<form`, `<svg`, `<math`,
//!   `<vmlframe`, `<import`, ...; namespaced (`<x:script`), letter-spaced (`<f o r m`) and
//!   UTF-7 (`+ADw-script`) spellings. Harmless tags (`<b>`, `<p>`, `<a href=..>`, `<img src=..>`)
//!   are not flagged by themselves;
//! - event handler attributes: `on` + letters + `=` after a space, quote, `/` or `;`, and
//!   `formaction=`, `srcdoc=`;
//! - script URLs: `javascript:`, `vbscript:`, `livescript:`, `data:text/html`, `data:,`;
//! - CSS code: `expression(`, `-moz-binding`, `behavior:`, `@import`;
//! - XML that loads or runs things: `<!ENTITY`, `xi:include`, `xsi:schemaLocation`;
//! - JS sinks: `alert(`, `eval(`, `prompt(`, `setTimeout(`, `new Function(`, `atob(`,
//!   `fromCharCode`, `document.cookie|domain|write|location|body|createElement`,
//!   `window.location`, `.innerHTML`, tagged templates `.call\``, `self["..."]`, JSFuck `![]`.
use super::lex::{at, in_table, is_word, word_end};
use super::Meter;

#[rustfmt::skip]
const TAGS: &[&str] = &[
    "applet", "base", "bgsound", "body", "dialog", "embed", "form", "frame", "frameset", "html",
    "iframe", "image", "import", "isindex", "layer", "link", "math", "meta", "object", "script",
    "style", "svg", "template", "vmlframe", "xml", "xss",
];

/// Functions that show a page is running injected script.
#[rustfmt::skip]
const SINKS: &[&str] = &[
    "alert", "atob", "confirm", "eval", "execscript", "fromcharcode", "msgbox", "prompt",
    "setinterval", "settimeout", "string.fromcharcode",
];

/// `object.property` pairs that read or rewrite the page or its cookies.
const DOM: [(&str, &str); 11] = [
    ("document", "body"),
    ("document", "cookie"),
    ("document", "createelement"),
    ("document", "domain"),
    ("document", "location"),
    ("document", "referrer"),
    ("document", "write"),
    ("document", "writeln"),
    ("location", "href"),
    ("window", "location"),
    ("window", "name"),
];

/// Every rule needs one of these bytes.
pub(crate) fn may_match(c: u8) -> bool {
    matches!(
        c,
        b'<' | b'=' | b':' | b'(' | b'`' | b'[' | b'.' | b'+' | b'@'
    )
}

#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect(s: &str, meter: &mut Meter) -> Option<usize> {
    let b = s.as_bytes();
    if !b.iter().any(|c| may_match(*c)) {
        return None;
    }
    meter.add(b.len());
    if let Some(i) = tags_and_handlers(b) {
        return Some(i);
    }
    // Every rule below needs one of these bytes, or a DOM object name before a `.`.
    meter.add(b.len());
    let code = b
        .iter()
        .any(|c| matches!(c, b':' | b'(' | b'`' | b'[' | b'@' | b'$' | b'<'));
    if !code {
        meter.add(b.len());
        if !names_dom_object(b) {
            return None;
        }
    }
    // Compact view: no whitespace/controls/comments, lowercase; `map` points back into `s`.
    meter.add(b.len() * 2);
    let (c, map) = compact(b);
    let back = |i: usize| map.get(i).copied().unwrap_or(0);
    meter.add(c.len());
    if let Some(i) = first_needle(&c) {
        return Some(back(i));
    }
    meter.add(c.len());
    js(&c).map(back)
}

/// Script URLs, CSS and XML that load code, template and tagged-call tricks, in order of
/// precedence: the first one present anywhere wins.
const NEEDLES: [&[u8]; 16] = [
    b"javascript:",
    b"vbscript:",
    b"livescript:",
    b"data:text/html",
    b"data:,",
    b"-moz-binding",
    b"expression(",
    b"behavior:url",
    b"@import",
    b"<!entity",
    b"xi:include",
    b"xsi:schemalocation",
    b".call`",
    b".apply`",
    b"${alert",
    b"${eval",
];

/// Where the first of [`NEEDLES`] (in their order) that occurs in `c` occurs first,
/// ignoring case: the same answer as one search per needle, in one pass.
fn first_needle(c: &[u8]) -> Option<usize> {
    // Needles after the best one found so far cannot change the answer.
    let mut best = NEEDLES.len();
    let mut pos = 0;
    for i in 0..c.len() {
        let x = c[i].to_ascii_lowercase();
        if !matches!(
            x,
            b'j' | b'v' | b'l' | b'd' | b'-' | b'e' | b'b' | b'@' | b'<' | b'x' | b'.' | b'$'
        ) {
            continue;
        }
        for (k, n) in NEEDLES.iter().enumerate().take(best) {
            if n.first() == Some(&x) && at(c, i, n) {
                best = k;
                pos = i;
                break;
            }
        }
        if best == 0 {
            break;
        }
    }
    (best < NEEDLES.len()).then_some(pos)
}

/// Tags and event handler attributes, on the decoded text.
fn tags_and_handlers(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'<' if dangerous_tag(b, i + 1) => {
                return Some(i);
            }
            b'+' | b' '
                if at(b, i + 1, b"adw-")
                // UTF-7 `+ADw-` is `<`.
                && dangerous_tag(b, i + 5) =>
            {
                return Some(i);
            }
            // HTML separates attributes with tab, LF, FF, CR, space or `/`, and allows the same
            // whitespace around `=` (`<a%0aonmouseover%0a=%0a..>`).
            b'o' | b'O'
                if i > 0
                    && matches!(
                        b[i - 1],
                        b' ' | b'"' | b'\'' | b'/' | b';' | b'\n' | b'`' | b'\t' | b'\r' | 0x0c
                    )
                    && at(b, i, b"on") =>
            {
                let e = word_end(b, i + 2, b"");
                let mut j = e;
                while j < b.len() && matches!(b[j], b' ' | b'\t' | b'\n' | b'\r' | 0x0c) {
                    j += 1;
                }
                if e >= i + 5
                    && b[i + 2..e].iter().all(|c| c.is_ascii_alphabetic())
                    && b.get(j) == Some(&b'=')
                {
                    return Some(i);
                }
            }
            // Other attributes that run or load script: `formaction=`, `srcdoc=`.
            b'f' | b'F' | b's' | b'S'
                if i > 0
                    && matches!(b[i - 1], b' ' | b'"' | b'\'' | b'/' | b';' | b'\n')
                    && (at(b, i, b"formaction") || at(b, i, b"srcdoc")) =>
            {
                let e = word_end(b, i, b"");
                let j = super::lex::skip_spaces(b, e);
                if (e - i == 10 || e - i == 6) && b.get(j) == Some(&b'=') {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Is there a dangerous tag name at `i` (right after `<`)?
fn dangerous_tag(b: &[u8], mut i: usize) -> bool {
    if b.get(i) == Some(&b'/') {
        i += 1;
    }
    // Namespace prefix: `<x:script`, `<:vmlframe`.
    let e = word_end(b, i, b"");
    if b.get(e) == Some(&b':') && e - i <= 8 {
        i = e + 1;
    }
    let e = word_end(b, i, b"");
    if e == i {
        return false;
    }
    let name = &b[i..e];
    if in_table(name, TAGS) {
        // `<body>`/`<html>`/`<svg>` as markup in a CMS field are fine; with attributes not.
        let plain = matches!(b.get(e), Some(b'>'));
        return !(plain
            && (at(name, 0, b"body")
                || at(name, 0, b"html")
                || at(name, 0, b"svg")
                || at(name, 0, b"math")
                || at(name, 0, b"template")))
            || at(name, 0, b"script");
    }
    if at(name, 0, b"script") || at(name, 0, b"import") {
        return true;
    }
    // Letter-spaced names: `<f o r m`, `<d i a l o g`.
    if name.len() == 1 && b.get(e) == Some(&b' ') {
        let mut buf = [0u8; 16];
        let mut n = 0;
        let mut j = i;
        while j < b.len() && n < buf.len() && b[j].is_ascii_alphabetic() {
            buf[n] = b[j];
            n += 1;
            j += 1;
            if b.get(j) == Some(&b' ')
                && b.get(j + 1).is_some_and(|c| c.is_ascii_alphabetic())
                && b.get(j + 2).is_none_or(|c| !c.is_ascii_alphabetic())
            {
                j += 1;
            }
        }
        return n > 2 && in_table(&buf[..n], TAGS);
    }
    false
}

/// Does the text name a DOM object or `-moz-binding` (one pass over its words)?
fn names_dom_object(b: &[u8]) -> bool {
    const OBJECTS: &[&str] = &["document", "innerhtml", "location", "outerhtml", "window"];
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() {
            let e = word_end(b, i, b"");
            if in_table(&b[i..e], OBJECTS) {
                return true;
            }
            i = e;
        } else {
            if b[i] == b'-' && at(b, i, b"-moz") {
                return true;
            }
            i += 1;
        }
    }
    false
}

fn compact(b: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut c = Vec::with_capacity(b.len());
    let mut map = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let x = b[i];
        if x == b'/' && b.get(i + 1) == Some(&b'*') {
            // JS comment: skipped up to `*/`.
            let mut j = i + 2;
            while j + 1 < b.len() && !(b[j] == b'*' && b[j + 1] == b'/') {
                j += 1;
            }
            i = j + 2;
            continue;
        }
        if x <= b' ' || x == b'\\' {
            i += 1;
            continue;
        }
        c.push(x.to_ascii_lowercase());
        map.push(i);
        i += 1;
    }
    (c, map)
}

/// JS sinks on the compact view.
fn js(c: &[u8]) -> Option<usize> {
    let mut i = 0;
    let mut jsfuck = 0;
    while i < c.len() {
        let x = c[i];
        if x.is_ascii_alphabetic() && (i == 0 || !is_word(c[i - 1])) {
            let e = word_end(c, i, b".");
            let w = &c[i..e];
            let next = c.get(e).copied().unwrap_or(0);
            if (next == b'(' || next == b'`')
                && (in_table(w, SINKS) || w.ends_with(b".fromcharcode"))
            {
                return Some(i);
            }
            // A sink used as a value: called through a group (`(confirm)()`), handed to a
            // method (`[8].find(confirm)`) or assigned (`a=prompt,a()`).
            let before = if i > 0 { c[i - 1] } else { 0 };
            if ((before == b'(' && next == b')') || (before == b'=' && matches!(next, b',' | b';')))
                && in_table(w, SINKS)
            {
                // A method's callback: `(` right after `.name` (`[1].find(alert)`).
                let method = || {
                    let a = c[..i - 1]
                        .iter()
                        .rposition(|p| !is_word(*p))
                        .map_or(0, |p| p + 1);
                    a + 1 < i && a > 0 && c[a - 1] == b'.'
                };
                let grouped = before == b'('
                    && next == b')'
                    && (matches!(c.get(e + 1), Some(b'(' | b'`')) || method());
                let assigned = before == b'=' && matches!(next, b',' | b';');
                if grouped || assigned {
                    return Some(i);
                }
            }
            if (w == b"newfunction" && next == b'(') || (w == b"new" && at(c, e, b"function(")) {
                return Some(i);
            }
            if dom(w) {
                return Some(i);
            }
            // `self["alert"]`, `top['document']`, `(document)["cookie"]`
            if matches!(
                w,
                b"self" | b"top" | b"window" | b"this" | b"parent" | b"frames" | b"globalthis"
            ) && next == b'['
                && matches!(c.get(e + 1), Some(b'"' | b'\'' | b'`'))
            {
                return Some(i);
            }
            if w == b"document" && next == b')' && c.get(e + 1) == Some(&b'[') {
                return Some(i);
            }
            i = e.max(i + 1);
            continue;
        }
        // JSFuck: `![]`, `+[]`, `[][` in numbers.
        if x == b'['
            && c.get(i + 1) == Some(&b']')
            && i > 0
            && matches!(c[i - 1], b'!' | b'+' | b']' | b'(')
        {
            jsfuck += 1;
            if jsfuck >= 3 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// `document.cookie`, `a.innerHTML`: a dotted word with a DOM pair or property in it.
fn dom(w: &[u8]) -> bool {
    let mut prev: &[u8] = &[];
    for part in w.split(|c| *c == b'.') {
        if part == b"innerhtml" || part == b"outerhtml" {
            return true;
        }
        if DOM
            .iter()
            .any(|(o, p)| prev == o.as_bytes() && part == p.as_bytes())
        {
            return true;
        }
        prev = part;
    }
    false
}

#[cfg(test)]
pub(crate) fn tables() -> [&'static [&'static str]; 2] {
    [TAGS, SINKS]
}

#[cfg(test)]
mod tests {
    #[test]
    fn first_needle_is_one_search_per_needle() {
        let texts = [
            "",
            "x",
            "javascript:",
            "a data:, b javascript:x",
            "${eval ${alert .call` .apply`",
            "xsi:schemalocation xi:include <!entity @import",
            "DATA:TEXT/HTML vbscript: livescript:",
            "behavior:url expression( -moz-binding",
            "jjavascript:",
            "datadata:,",
            "-moz-bindin",
        ];
        for t in texts {
            let c = t.as_bytes();
            let slow = super::NEEDLES
                .iter()
                .find_map(|n| super::super::lex::find(c, n));
            assert_eq!(super::first_needle(c), slow, "{t}");
        }
    }
}
