//! Splitting a text log line into bracketed, quoted and bare tokens. By hand, not with a
//! shell-words or CSV crate: a log's quoting is neither (`[...]` is one token unless it is an
//! address such as `[2001:db8::1]:443`, and escapes other than `\"` and `\\` stay as logged).

/// Splits a log line into `[bracketed]`, `"quoted"` (with `\"` escapes) and bare tokens.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Token {
    Bracketed(String),
    Quoted(String),
    Bare(String),
}

/// Appends characters up to the next blank to `out`.
fn read_bare(chars: &mut std::iter::Peekable<std::str::Chars>, out: &mut String) {
    while let Some(&c) = chars.peek() {
        if c == ' ' || c == '\t' {
            break;
        }
        out.push(c);
        chars.next();
    }
}

/// Appends what `\c` in a quoted field stands for: `\"` and `\\` are a quote and a backslash;
/// any other escape is kept as written (`\x16`, `\n`: bytes Apache and nginx log escaped, such
/// as a TLS handshake sent to the HTTP port), never turned back into control bytes.
pub(super) fn push_escaped(out: &mut String, c: char) {
    if c != '"' && c != '\\' {
        out.push('\\');
    }
    out.push(c);
}

pub(super) fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '[' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some(']') => break,
                        Some(c) => s.push(c),
                        None => return Err("unterminated [".into()),
                    }
                }
                // `[2001:db8::1]:443` is an address, not a bracketed field.
                if chars.peek().is_some_and(|c| *c != ' ' && *c != '\t') {
                    let mut bare = format!("[{s}]");
                    read_bare(&mut chars, &mut bare);
                    tokens.push(Token::Bare(bare));
                } else {
                    tokens.push(Token::Bracketed(s));
                }
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some(c) => push_escaped(&mut s, c),
                            None => return Err("unterminated quote".into()),
                        },
                        Some('"') => break,
                        Some(c) => s.push(c),
                        None => return Err("unterminated quote".into()),
                    }
                }
                tokens.push(Token::Quoted(s));
            }
            _ => {
                let mut s = String::new();
                read_bare(&mut chars, &mut s);
                tokens.push(Token::Bare(s));
            }
        }
    }
    Ok(tokens)
}
