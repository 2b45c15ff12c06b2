//! Which attack classes one request's text contains (placeholder API; the matchers land next).

use crate::observation::Headers;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attack {
    SqlInjection,
    Xss,
    NoSqlInjection,
    OsCommandInjection,
    WindowsCommandInjection,
    FileInclusion,
    Ssrf,
}

impl Attack {
    pub const ALL: [Attack; 7] = [
        Attack::SqlInjection,
        Attack::Xss,
        Attack::NoSqlInjection,
        Attack::OsCommandInjection,
        Attack::WindowsCommandInjection,
        Attack::FileInclusion,
        Attack::Ssrf,
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    Path,
    Query,
    Headers,
    Cookies,
    Body,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Path => "path",
            Part::Query => "query",
            Part::Headers => "headers",
            Part::Cookies => "cookies",
            Part::Body => "body",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    bits: [u8; 7],
}

fn bit(part: Part) -> u8 {
    1 << (part as u8)
}

impl Scope {
    pub fn none() -> Self {
        Scope::default()
    }
    pub fn with(mut self, attack: Attack, part: Part) -> Self {
        if let Some(b) = self.bits.get_mut(attack as usize) {
            *b |= bit(part);
        }
        self
    }
    pub fn wants(&self, attack: Attack, part: Part) -> bool {
        self.bits
            .get(attack as usize)
            .is_some_and(|b| b & bit(part) != 0)
    }
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|b| *b == 0)
    }
    pub fn default_parts(attack: Attack) -> &'static [Part] {
        match attack {
            Attack::FileInclusion => &[Part::Path, Part::Query, Part::Headers, Part::Body],
            _ => &[Part::Query, Part::Headers, Part::Body],
        }
    }
}

pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a dyn Headers,
    pub body: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub attack: Attack,
    pub part: Part,
    pub name: String,
    pub excerpt: String,
}

pub fn inspect(_req: &Request, _scope: &Scope, _hits: &mut Vec<Hit>) {}
