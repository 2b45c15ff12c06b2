//! What the threat rules found in one request (and, where a rule reads it, in its response), as
//! hosts hand it in with the response.

/// One finding in one request: the rule (its index among `threat_rules`), the part and name
/// where it matched, and an excerpt of the decoded text around the match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreatHit {
    pub rule: usize,
    pub part: &'static str,
    pub name: String,
    pub excerpt: String,
}

/// What a response body can show of an attack's effect (or of a misconfigured server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leak {
    /// A database's error message or driver exception (error-based injection reached it).
    DatabaseError,
    /// Lines of a system file: `/etc/passwd`, `/etc/shadow`, `win.ini`, `/proc/version`.
    FileContents,
    /// A command's output: `id`, `ls -l`, `dir`, `ipconfig`, `whoami`.
    CommandOutput,
    /// A cloud metadata document: instance credentials, identity documents, tokens.
    CloudMetadata,
    /// A stack trace or a framework's error page.
    StackTrace,
    /// A web server's directory listing.
    DirectoryListing,
    /// Configuration or secrets: private keys, git config, `.env` lines, Spring's environment.
    Configuration,
}

impl Leak {
    pub const ALL: [Leak; 7] = [
        Leak::DatabaseError,
        Leak::FileContents,
        Leak::CommandOutput,
        Leak::CloudMetadata,
        Leak::StackTrace,
        Leak::DirectoryListing,
        Leak::Configuration,
    ];

    /// The name events give it.
    pub fn as_str(self) -> &'static str {
        match self {
            Leak::DatabaseError => "DATABASE_ERROR",
            Leak::FileContents => "FILE_CONTENTS",
            Leak::CommandOutput => "COMMAND_OUTPUT",
            Leak::CloudMetadata => "CLOUD_METADATA",
            Leak::StackTrace => "STACK_TRACE",
            Leak::DirectoryListing => "DIRECTORY_LISTING",
            Leak::Configuration => "CONFIGURATION",
        }
    }

    pub fn from_index(i: u8) -> Option<Leak> {
        Leak::ALL.get(usize::from(i)).copied()
    }
}

/// A set of [`Leak`]s as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct LeakSet(pub u8);

impl LeakSet {
    pub const fn of(leaks: &[Leak]) -> LeakSet {
        let mut bits = 0u8;
        let mut i = 0;
        while i < leaks.len() {
            bits |= 1 << leaks[i] as u8;
            i += 1;
        }
        LeakSet(bits)
    }
    pub fn with(self, leak: Leak) -> LeakSet {
        LeakSet(self.0 | 1 << leak as u8)
    }
    pub fn contains(self, leak: Leak) -> bool {
        self.0 & (1 << leak as u8) != 0
    }
    pub fn union(self, other: LeakSet) -> LeakSet {
        LeakSet(self.0 | other.0)
    }
    pub fn intersect(self, other: LeakSet) -> LeakSet {
        LeakSet(self.0 & other.0)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Leak> {
        Leak::ALL.into_iter().filter(move |l| self.contains(*l))
    }
}

/// One kind of leak a response showed, with what showed it: the vocabulary entry or the
/// pattern's name, never the bytes around it (they may be the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub leak: Leak,
    pub excerpt: String,
}

/// What a host found in one request: the hits, and the first bytes of its body for the sample.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspection {
    pub hits: Vec<ThreatHit>,
    /// The request's query string (without `?`), for the sample.
    pub query: String,
    pub body_head: String,
    /// Whether the response body was inspected (then `evidence` says what it showed).
    pub response_inspected: bool,
    /// The leaks the response body showed, one per kind, in the order found.
    pub evidence: Vec<Evidence>,
}

impl Inspection {
    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }

    /// Empties it for the next request, keeping its allocations.
    pub fn clear(&mut self) {
        self.hits.clear();
        self.query.clear();
        self.body_head.clear();
        self.response_inspected = false;
        self.evidence.clear();
    }

    /// The leaks the response showed.
    pub fn leaks(&self) -> LeakSet {
        self.evidence
            .iter()
            .fold(LeakSet::default(), |s, e| s.with(e.leak))
    }
}
