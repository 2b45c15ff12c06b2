//! The attack classes the inspection layer detects, the request parts it reads, and which parts
//! each class looks at. Part of the model because rules are configured in these terms whether or
//! not the build inspects requests.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attack {
    SqlInjection,
    Xss,
    NoSqlInjection,
    OsCommandInjection,
    WindowsCommandInjection,
    FileInclusion,
    Ssrf,
    TemplateInjection,
    Xxe,
    JndiInjection,
    OpenRedirect,
    SensitivePathProbe,
}

impl Attack {
    pub const COUNT: usize = 12;
    pub const ALL: [Attack; Attack::COUNT] = [
        Attack::SqlInjection,
        Attack::Xss,
        Attack::NoSqlInjection,
        Attack::OsCommandInjection,
        Attack::WindowsCommandInjection,
        Attack::FileInclusion,
        Attack::Ssrf,
        Attack::TemplateInjection,
        Attack::Xxe,
        Attack::JndiInjection,
        Attack::OpenRedirect,
        Attack::SensitivePathProbe,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The Akto threat policy id (`filterId`) this class raises.
    pub fn filter_id(self) -> &'static str {
        match self {
            Attack::SqlInjection => "SQLInjection",
            Attack::Xss => "XSS",
            Attack::NoSqlInjection => "NoSQLInjection",
            Attack::OsCommandInjection => "OSCommandInjection",
            Attack::WindowsCommandInjection => "WindowsCommandInjection",
            Attack::FileInclusion => "LocalFileInclusionLFIRFI",
            Attack::Ssrf => "SSRF",
            Attack::TemplateInjection => "SSTI",
            Attack::Xxe => "XXE",
            Attack::JndiInjection => "JNDIInjection",
            Attack::OpenRedirect => "OpenRedirect",
            Attack::SensitivePathProbe => "SensitivePathProbe",
        }
    }
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
    pub const ALL: [Part; 5] = [
        Part::Path,
        Part::Query,
        Part::Headers,
        Part::Cookies,
        Part::Body,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Path => "path",
            Part::Query => "query",
            Part::Headers => "headers",
            Part::Cookies => "cookies",
            Part::Body => "body",
        }
    }

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Which parts each attack class inspects (a bit set per attack), built by the caller from config.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    parts: [u8; Attack::COUNT],
}

impl Scope {
    pub fn none() -> Self {
        Scope::default()
    }

    pub fn with(mut self, attack: Attack, part: Part) -> Self {
        self.parts[attack.index()] |= part.bit();
        self
    }

    pub fn wants(&self, attack: Attack, part: Part) -> bool {
        self.parts[attack.index()] & part.bit() != 0
    }

    /// Whether `attack` looks at any part.
    pub fn any(&self, attack: Attack) -> bool {
        self.parts[attack.index()] != 0
    }

    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(|p| *p == 0)
    }

    /// Every attack on its [`Scope::default_parts`].
    pub fn defaults() -> Self {
        let mut s = Scope::none();
        for a in Attack::ALL {
            for p in Scope::default_parts(a) {
                s = s.with(a, *p);
            }
        }
        s
    }

    /// The parts a class looks at unless configured otherwise. Traversal, SQL/XSS and JNDI
    /// probes show up in the path too; the others need a parameter to land in. A sensitive-path
    /// probe is the path itself; an open redirect needs a parameter the server redirects to.
    pub fn default_parts(attack: Attack) -> &'static [Part] {
        use Part::*;
        match attack {
            Attack::SqlInjection | Attack::Xss | Attack::FileInclusion => {
                &[Path, Query, Headers, Cookies, Body]
            }
            Attack::NoSqlInjection => &[Query, Cookies, Body],
            Attack::OsCommandInjection
            | Attack::WindowsCommandInjection
            | Attack::Ssrf
            | Attack::TemplateInjection => &[Query, Headers, Cookies, Body],
            // Log4j logs request lines too.
            Attack::JndiInjection => &[Path, Query, Headers, Cookies, Body],
            Attack::Xxe => &[Query, Body],
            Attack::OpenRedirect => &[Query, Body],
            Attack::SensitivePathProbe => &[Path],
        }
    }
}
