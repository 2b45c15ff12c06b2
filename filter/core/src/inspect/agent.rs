//! The User-Agent grammar of RFC 9110, section 10.1.5: `product *( RWS ( product / comment ) )`,
//! `product = token ["/" token]`, `comment = "(" *( ctext / quoted-pair / comment ) ")"`.
//! Real browsers and clients write it (`Mozilla/5.0 (Linux; U; Android 2.3.7; id) ...`); in a
//! value that follows it, `;` and parentheses are comment structure.

/// `tchar` of RFC 9110: the bytes of a token.
fn tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Does `s` follow the User-Agent grammar? Comments nest at most 8 deep; a few clients send
/// other separators between products (`,`, `;`), which the grammar does not allow: those
/// values are scanned as any other text.
pub(crate) fn well_formed(s: &[u8]) -> bool {
    let mut i = 0;
    let mut products = 0;
    while i < s.len() {
        match s[i] {
            b' ' | b'\t' => i += 1,
            b'(' => match comment_end(s, i) {
                Some(e) => i = e,
                None => return false,
            },
            c if tchar(c) => {
                // A product must not glue to a comment or another product without a space.
                if i > 0 && !matches!(s[i - 1], b' ' | b'\t') {
                    return false;
                }
                while i < s.len() && tchar(s[i]) {
                    i += 1;
                }
                if s.get(i) == Some(&b'/') {
                    i += 1;
                    let v = i;
                    while i < s.len() && tchar(s[i]) {
                        i += 1;
                    }
                    if i == v {
                        return false;
                    }
                }
                products += 1;
            }
            _ => return false,
        }
    }
    products > 0
}

/// The index after the comment opening at `s[open]`, or `None` if it never closes.
fn comment_end(s: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0u8;
    let mut i = open;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 1,
            b'(' => {
                depth += 1;
                if depth > 8 {
                    return None;
                }
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn browsers_and_clients_are_well_formed() {
        for ua in [
            "Mozilla/5.0 (Windows NT 10.0; ARM; Touch; rv:11.0) like Gecko",
            "Mozilla/5.0 (Linux; U; Android 2.3.7; id; Cross_A25 Build/GRK39F) AppleWebKit/528.5+ (KHTML, like Gecko) Version/3.1.2 Mobile Safari/528.5+",
            "Google-HTTP-Java-Client/1.13.1-beta (gzip)",
            "curl/8.5.0",
            "Mozilla/5.0 (X11; Linux x86_64; $(id))",
        ] {
            assert!(well_formed(ua.as_bytes()), "{ua}");
        }
    }

    #[test]
    fn shell_shapes_are_not() {
        for ua in [
            "() { :; }; /bin/bash -c 'id'",
            "Mozilla/5.0 (X11",
            "curl/8.5.0; id",
            "a/1.0 > /tmp/x",
            "a/1.0 <script>",
            "",
            "Mozilla/(",
        ] {
            assert!(!well_formed(ua.as_bytes()), "{ua}");
        }
    }
}
