//! What hosts hand in: one response as the host saw it, and the request headers behind it.

use std::collections::BTreeMap;
use std::fmt;

/// Request headers as a host sees them. Names are matched case-insensitively.
pub trait Headers {
    fn get(&self, name: &str) -> Option<&str>;
    fn for_each(&self, f: &mut dyn FnMut(&str, &str));
}

fn pairs_get<'a, A: AsRef<str>, B: AsRef<str>>(pairs: &'a [(A, B)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

fn pairs_for_each<A: AsRef<str>, B: AsRef<str>>(pairs: &[(A, B)], f: &mut dyn FnMut(&str, &str)) {
    for (k, v) in pairs {
        f(k.as_ref(), v.as_ref());
    }
}

impl<A: AsRef<str>, B: AsRef<str>, const N: usize> Headers for [(A, B); N] {
    fn get(&self, name: &str) -> Option<&str> {
        pairs_get(self, name)
    }
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        pairs_for_each(self, f)
    }
}

impl<A: AsRef<str>, B: AsRef<str>> Headers for Vec<(A, B)> {
    fn get(&self, name: &str) -> Option<&str> {
        pairs_get(self, name)
    }
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        pairs_for_each(self, f)
    }
}

impl<A: AsRef<str>, B: AsRef<str>> Headers for &[(A, B)] {
    fn get(&self, name: &str) -> Option<&str> {
        pairs_get(self, name)
    }
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        pairs_for_each(self, f)
    }
}

impl Headers for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        match BTreeMap::get(self, name) {
            Some(v) => Some(v.as_str()),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str()),
        }
    }
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (k, v) in self {
            f(k, v);
        }
    }
}

/// One response as the host saw it.
#[derive(Clone, Copy)]
pub struct Observation<'a> {
    pub method: &'a str,
    /// Request path, with or without query string.
    pub path: &'a str,
    pub status: u16,
    /// The connection's peer address (`1.2.3.4:5678`, `[::1]:80`, ...).
    pub peer: Option<&'a str>,
    /// The request's `:authority` / `Host`.
    pub host: Option<&'a str>,
    pub headers: &'a dyn Headers,
    /// ISO-3166 alpha-2 from the host (Cloudflare); otherwise `country_header` is read.
    pub country: Option<&'a str>,
    /// What the threat rules found in the request ([`crate::inspect::inspector::Inspector`]), if it was
    /// inspected.
    pub threats: Option<&'a crate::model::findings::Inspection>,
}

impl fmt::Debug for Observation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observation")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("status", &self.status)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}
