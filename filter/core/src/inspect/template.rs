//! Server-side template injection: a template engine's delimiters around an expression that
//! computes or reaches into objects.
//!
//! Delimiters, from the engines' documentation: `{{ }}` and `{% %}` (Jinja2, Twig, Django,
//! Nunjucks, Pebble, Handlebars), `${ }` (Freemarker, Mako, Thymeleaf, JSP EL, Velocity),
//! `#{ }` (JSF, Ruby, Thymeleaf), `*{ }` `@{ }` `~{ }` `[[ ]]` `[( )]` (Thymeleaf), `%{ }`
//! (OGNL), `<% %>` (ERB, JSP, Mako, EJS), `@( )` (Razor), `{$ }` and `{php}` (Smarty),
//! `<#directive` (Freemarker), `#set(` `#evaluate(` (Velocity).
//!
//! A placeholder (`{{name}}`, `${HOME}`) is not an attack: the text between the delimiters must
//! be an arithmetic probe on numbers (`7*7`, `7*'7'`), name a dunder attribute (`__class__`),
//! or name one of [`OBJECTS`], the objects and calls that lead from a template to the runtime.
use super::lex::{in_table, is_word};
use super::Meter;

/// What payloads reach for inside an expression, lowercase and sorted: the Python, Java,
/// Ruby, Node and PHP calls that run commands or load classes and the attributes that walk
/// from a value to them (`mro`, `subclasses`, `attr`), and the engines' own objects that
/// expose the configuration or the interpreter (Jinja2's `config`, `self`, `lipsum`,
/// `cycler`, `joiner`; not `namespace`, Helm's `{{ .Release.Namespace }}`; Twig's `_self`, `dump`; Smarty's `smarty`; Freemarker's
/// `Execute`, `ObjectConstructor`; OGNL's `#_memberAccess`; Node's `mainModule`).
#[rustfmt::skip]
pub(crate) const OBJECTS: &[&str] = &[
    "_memberaccess", "_self", "attr", "builtins", "child_process", "config",
    "cycler", "dump", "eval", "exec", "execsync", "execute", "forname", "freemarker",
    "get_flashed_messages", "getclass", "getclassloader", "getenv", "getruntime", "globals",
    "import", "joiner", "jsonutil", "lipsum", "mainmodule", "mro",
    "objectconstructor", "popen", "processbuilder", "runtime", "self", "smarty", "spawn",
    "subclasses", "subprocess", "system", "url_for",
];

/// Freemarker's directives (`<#assign`, `<#list`): no HTML or XML markup starts `<#`.
#[rustfmt::skip]
const FREEMARKER: &[&str] = &[
    "assign", "attempt", "compress", "escape", "flush", "ftl", "function", "global", "if",
    "import", "include", "list", "local", "macro", "nested", "noparse", "recover", "return",
    "setting", "stop", "switch", "visit",
];

/// Velocity directives that evaluate text or set variables: `#set($x = ..)`, `#evaluate(..)`.
#[rustfmt::skip]
const VELOCITY: &[&str] = &["define", "evaluate", "foreach", "include", "macro", "parse", "set"];

#[cfg(test)]
pub(crate) fn tables() -> Vec<&'static [&'static str]> {
    vec![OBJECTS, FREEMARKER, VELOCITY]
}

/// Every delimiter starts with one of these bytes.
pub(crate) fn may_match(c: u8) -> bool {
    matches!(c, b'{' | b'<' | b'#' | b'@' | b'[')
}

/// How far an expression is read past its opening delimiter.
const WINDOW: usize = 256;

#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect(s: &str, meter: &mut Meter) -> Option<usize> {
    let v = s.as_bytes();
    meter.add(v.len());
    // Text already read as an expression's inside is not read again: an opening within it
    // (`{{a ${7*7}}}`) sees a part of the same words and numbers (delimiters are not word
    // bytes), so only strong openings there need a look. Each byte is read once.
    let mut read_to = 0;
    for i in 0..v.len() {
        if !may_match(v[i]) {
            continue;
        }
        let Some(open) = opening(v, i) else {
            continue;
        };
        if open.strong {
            return Some(i);
        }
        let start = i + open.len;
        if start < read_to {
            continue;
        }
        let window = &v[start.min(v.len())..(start + WINDOW).min(v.len())];
        let inner = inner(window, open.close);
        meter.add(inner.len());
        // An inside the window cut leaves its last 64 bytes to an opening there, whose own
        // window reaches further.
        read_to = if inner.len() == window.len() && start + inner.len() < v.len() {
            start + inner.len().saturating_sub(64)
        } else {
            start + inner.len()
        };
        if expression(inner) {
            return Some(i);
        }
    }
    None
}

struct Open {
    len: usize,
    close: &'static [u8],
    /// The delimiter is itself template code no text carries (`<#assign`, `{php}`).
    strong: bool,
}

fn opening(v: &[u8], i: usize) -> Option<Open> {
    let next = v.get(i + 1).copied().unwrap_or(0);
    let open = |len, close| {
        Some(Open {
            len,
            close,
            strong: false,
        })
    };
    match (v[i], next) {
        (b'{', b'{') => open(2, b"}}"),
        (b'{', b'%') => open(2, b"%}"),
        (b'{', b'$') => open(1, b"}"),
        (b'{', b'p' | b'P') if super::lex::at(v, i, b"{php}") => Some(Open {
            len: 5,
            close: b"",
            strong: true,
        }),
        (b'<', b'%') => open(2, b"%>"),
        // `<#assign`, and `[#assign` in Freemarker's square-bracket syntax.
        (b'<' | b'[', b'#') => {
            let e = super::lex::word_end(v, i + 2, b"");
            let ends = v
                .get(e)
                .is_none_or(|c| matches!(c, b' ' | b'>' | b']' | b'\t' | b'\n' | b'/'));
            (ends && in_table(&v[i + 2..e], FREEMARKER)).then_some(Open {
                len: 2,
                close: b"",
                strong: true,
            })
        }
        (b'#', b'(') => None,
        (b'#', _) => {
            let e = super::lex::word_end(v, i + 1, b"");
            let word = &v[i + 1..e];
            if e > i + 1 && v.get(e) == Some(&b'(') && in_table(word, VELOCITY) {
                // `#set($a = 1)` is Velocity; `#if(` alone is too common in code and prose.
                let arg = super::lex::skip_spaces(v, e + 1);
                (v.get(arg) == Some(&b'$') || !word.eq_ignore_ascii_case(b"set")).then_some(Open {
                    len: e + 1 - i,
                    close: b")",
                    strong: false,
                })
            } else if next == b'{' {
                open(2, b"}")
            } else {
                None
            }
        }
        (b'@', b'(') => open(2, b")"),
        (b'@', b'{') => open(2, b"}"),
        (b'[', b'[') => open(2, b"]]"),
        (b'[', b'(') => open(2, b")]"),
        _ => None,
    }
    .or_else(|| single_brace(v, i))
    .or_else(|| {
        // `${`, `*{`, `~{`, `%{`, `$!{` end at the brace that closes them.
        let prefix = i.checked_sub(1).map(|p| v[p]);
        (v[i] == b'{' && matches!(prefix, Some(b'$' | b'*' | b'~' | b'%' | b'!'))).then_some(Open {
            len: 1,
            close: b"}",
            strong: false,
        })
    })
}

/// Single-brace engines (Smarty, Latte, Dust, Tornado's `{#..}`): `{7*7}`, `{#7*7}`,
/// `{@7*7}`, `{=7*7}`, `{system("id")}`. JSON and code braces hold these too rarely to
/// matter, so the inside must be only arithmetic, or start with a call of [`OBJECTS`]; it is
/// read here and the opening is strong when it qualifies.
fn single_brace(v: &[u8], i: usize) -> Option<Open> {
    if v[i] != b'{'
        || i.checked_sub(1)
            .is_some_and(|p| matches!(v[p], b'$' | b'*' | b'~' | b'%' | b'!' | b'{'))
    {
        return None;
    }
    let from = i + 1 + usize::from(matches!(v.get(i + 1), Some(b'#' | b'@' | b'=')));
    let close = v[from..].iter().take(64).position(|c| *c == b'}')? + from;
    let inner = &v[from..close];
    let arithmetic_only = !inner.is_empty()
        && inner
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'*' | b'+' | b'-' | b'/' | b' '))
        && inner
            .iter()
            .enumerate()
            .any(|(k, c)| matches!(c, b'*' | b'+' | b'/') && arithmetic(inner, k));
    let e = super::lex::word_end(inner, 0, b"");
    let call = e > 0 && inner.get(e) == Some(&b'(') && in_table(&inner[..e], OBJECTS);
    (arithmetic_only || call).then_some(Open {
        len: 1,
        close: b"",
        strong: true,
    })
}

/// The text after an opening delimiter up to its closing one (or the window's end).
fn inner<'a>(rest: &'a [u8], close: &[u8]) -> &'a [u8] {
    if close.is_empty() {
        return rest;
    }
    let mut depth = 0usize;
    for k in 0..rest.len() {
        match rest[k] {
            b'{' | b'(' | b'[' => depth += 1,
            c if depth == 0 && c == close[0] && rest[k..].starts_with(close) => {
                return &rest[..k];
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    rest
}

/// Arithmetic on numbers, a dunder attribute, or a word of [`OBJECTS`].
fn expression(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        // `*` and `+` only: `-` and `/` join the digits of dates and ids (`2024-01-01`).
        if matches!(c, b'*' | b'+') && arithmetic(s, i) {
            return true;
        }
        if is_word(c) {
            let e = super::lex::word_end(s, i, b"");
            let word = &s[i..e];
            if dunder(word) {
                return true;
            }
            if in_table(word, OBJECTS) {
                return true;
            }
            i = e;
            continue;
        }
        i += 1;
    }
    false
}

/// `__class__`, `__globals__`, `__mro__`.
fn dunder(w: &[u8]) -> bool {
    w.len() > 4
        && w.starts_with(b"__")
        && w.ends_with(b"__")
        && w[2..w.len() - 2].iter().any(u8::is_ascii_alphabetic)
}

/// A number (maybe quoted) on both sides of the operator at `op`: `7*7`, `7 * '7'`, `1+1`.
fn arithmetic(s: &[u8], op: usize) -> bool {
    let mut l = op;
    while l > 0 && matches!(s[l - 1], b' ' | b'\'' | b'"') {
        l -= 1;
    }
    let left = l > 0 && s[l - 1].is_ascii_digit();
    let mut r = op + 1;
    while r < s.len() && matches!(s[r], b' ' | b'\'' | b'"') {
        r += 1;
    }
    left && s.get(r).is_some_and(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(s: &str) -> bool {
        detect(s, &mut Meter::default()).is_some()
    }

    #[test]
    fn expressions_in_every_engines_delimiters() {
        for s in [
            "{{7*7}}",
            "{{ 7 * '7' }}",
            "${7*7}",
            "${{7*7}}",
            "#{7*7}",
            "*{7*7}",
            "@(6+5)",
            "<%= 7*7 %>",
            "[[${7*7}]]",
            "{{''.__class__.__mro__[1].__subclasses__()}}",
            "{{config.items()}}",
            "{{self._TemplateReference__context.cycler}}",
            "${T(java.lang.Runtime).getRuntime().exec('id')}",
            "<#assign ex=\"freemarker.template.utility.Execute\"?new()>${ex(\"id\")}",
            "#set($x = 7*7)${x}",
            "{php}echo `id`;{/php}",
            "{$smarty.version}",
            "%{#_memberAccess['allowStaticMethodAccess']=true}",
            "{% debug %}{{ lipsum.__globals__ }}",
            "[#assign ex = 'freemarker.template.utility.Execute'?new()]",
            "{7771*9885}",
            "x}zj{#7491*4885}zj",
            "{system(\"id\")}",
            "{{ [].class.base.subclasses() }}",
            "{{request|attr([\"__\",\"class\",\"__\"]|join)}}",
        ] {
            assert!(hit(s), "{s}");
        }
    }

    #[test]
    fn placeholders_and_prose_are_not_expressions() {
        for s in [
            "Hello {{name}}, your order {{order.id}} shipped",
            "${HOME}/bin:${PATH}",
            "{% if user %}hi{% endif %}",
            "#if(x) in C",
            "price: 7*7 = 49",
            "see [[wiki link]] and [(note)]",
            "@(name) mentioned you",
            "<p>50% off</p>",
            "{\"a\": {\"b\": 1}}",
            "?filters=[[\"posting_date\",\">=\",\"2024-01-01\"]]",
            "[[\"550e8400-e29b-41d4-a716-446655440000\"]] and more text 7",
            "{{ .Release.Namespace }}",
            "{\"range\": {1-2}}",
            "if (x) {return 1}",
            "{2024-01-01}",
        ] {
            assert!(!hit(s), "{s}");
        }
    }

    #[test]
    fn an_expression_past_an_unclosed_openings_window_is_read() {
        let s = format!(
            "[({}${{T(java.lang.Runtime).getRuntime().exec('id')}}",
            "A".repeat(253)
        );
        assert!(hit(&s));
    }
}
