//! The detectors' vocabularies: data files in `filter/core/vocab/`, each rebuilt from an
//! authoritative source by `filter/core/vocab/build.py` (its README says which). Each file is
//! `# ` header lines, then one lower-case entry per line, sorted by bytes and unique, so it is
//! looked up by binary search as it is: parsed once per process, on first use.
use std::sync::OnceLock;

fn entries(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $file:literal) => {
        $(#[$doc])*
        pub(crate) fn $name() -> &'static [&'static str] {
            static ENTRIES: OnceLock<Vec<&'static str>> = OnceLock::new();
            ENTRIES.get_or_init(|| entries(include_str!(concat!("../../vocab/", $file))))
        }
    };
}

vocabulary!(
    /// Programs Debian installs in its `bin` folders, and the shells' builtins.
    unix_commands,
    "unix_commands.txt"
);
vocabulary!(
    /// cmd.exe builtins and the Windows console programs Wine reimplements.
    windows_commands,
    "windows_commands.txt"
);
vocabulary!(
    /// Command names that are also English words.
    command_words,
    "command_words.txt"
);
vocabulary!(
    /// PowerShell's approved verbs (`Get`, `Invoke`, ...).
    powershell_verbs,
    "powershell_verbs.txt"
);
vocabulary!(
    /// PowerShell's built-in aliases (`iex`, `iwr`, `gci`, ...).
    powershell_aliases,
    "powershell_aliases.txt"
);
vocabulary!(
    /// Files an inclusion attack reads (`etc/passwd`, `.aws/credentials`, `win.ini`).
    sensitive_paths,
    "sensitive_paths.txt"
);
vocabulary!(
    /// Debugging, profiling and status endpoints (`actuator/env`, `debug/pprof`, `server-status`).
    debug_paths,
    "debug_paths.txt"
);
vocabulary!(
    /// Cloud metadata and cluster-internal hosts.
    ssrf_hosts,
    "ssrf_hosts.txt"
);
vocabulary!(
    /// Out-of-band interaction domains of scanners.
    oob_domains,
    "oob_domains.txt"
);
vocabulary!(
    /// URL schemes server-side fetchers follow.
    url_schemes,
    "url_schemes.txt"
);

vocabulary!(
    /// Database error messages and driver exceptions a response shows (OWASP CRS).
    leak_database_errors,
    "leak_database_errors.txt"
);
vocabulary!(
    /// .NET and Ruby exception classes an error page shows (OWASP CRS).
    leak_error_classes,
    "leak_error_classes.txt"
);

/// Entries of several tables as one sorted, unique table: one lookup where a scanner would
/// make several.
pub(crate) fn merged(entries: impl IntoIterator<Item = &'static str>) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = entries.into_iter().collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Every vocabulary, for the test that they are sorted, unique and lower case.
#[cfg(test)]
pub(crate) fn all() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("unix_commands", unix_commands()),
        ("windows_commands", windows_commands()),
        ("command_words", command_words()),
        ("powershell_verbs", powershell_verbs()),
        ("powershell_aliases", powershell_aliases()),
        ("sensitive_paths", sensitive_paths()),
        ("debug_paths", debug_paths()),
        ("ssrf_hosts", ssrf_hosts()),
        ("oob_domains", oob_domains()),
        ("url_schemes", url_schemes()),
        ("leak_database_errors", leak_database_errors()),
        ("leak_error_classes", leak_error_classes()),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn vocabularies_are_sorted_unique_and_lower_case() {
        for (name, v) in super::all() {
            assert!(v.len() > 10, "{name}: {} entries", v.len());
            for pair in v.windows(2) {
                assert!(pair[0].as_bytes() < pair[1].as_bytes(), "{name}: {pair:?}");
            }
            for e in v {
                assert_eq!(e.to_ascii_lowercase(), *e, "{name}: {e}");
                assert_eq!(e.trim(), *e, "{name}: {e:?}");
            }
        }
    }
}
