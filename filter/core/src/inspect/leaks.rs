//! Response evidence: what a response body shows of an attack's effect (database errors, file
//! lines, command output, cloud metadata, secrets) or of a misconfigured server (stack traces,
//! directory listings). One Aho-Corasick pass over the first bytes of a body finds every phrase
//! of the vocabularies (OWASP CRS's response data files, rebuilt by `vocab/build.py leaks`) and
//! of the patterns below; a pattern's check then looks at the bytes around its phrase.
//!
//! One file of about 610 lines: each pattern, the check of its program's format and the cases
//! that show both read together.

use crate::inspect::vocab;
use crate::model::findings::{Evidence, Leak, LeakSet};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::sync::OnceLock;

/// A phrase's check of the bytes around it: `(body, start, end)` of the phrase.
type Check = fn(&[u8], usize, usize) -> bool;

/// A phrase and what it shows: a leak, the name an event gives it (`None`: the phrase itself,
/// a vocabulary entry), and a check of its surroundings.
struct Pattern {
    leak: Leak,
    label: Option<&'static str>,
    check: Option<Check>,
}

/// Phrases with their checks, each from the format its program writes. Lower case: matching
/// ignores ASCII case.
const PATTERNS: &[(&str, Leak, &str, Option<Check>)] = &[
    // Stack traces (CRS RESPONSE-952 Java, -953 PHP; each runtime's own frame format).
    (
        "traceback (most recent call last)",
        Leak::StackTrace,
        "Python traceback",
        None,
    ),
    (
        ".py\", line ",
        Leak::StackTrace,
        "Python stack frame",
        Some(digits_follow),
    ),
    // The same frame inside a JSON string.
    (
        ".py\\\", line ",
        Leak::StackTrace,
        "Python stack frame",
        Some(digits_follow),
    ),
    (
        "werkzeug debugger",
        Leak::StackTrace,
        "Werkzeug debugger",
        None,
    ),
    (
        "exception in thread \"",
        Leak::StackTrace,
        "Java uncaught exception",
        None,
    ),
    (
        ".java:",
        Leak::StackTrace,
        "Java stack frame",
        Some(java_frame),
    ),
    (
        "java.lang.",
        Leak::StackTrace,
        "Java exception",
        Some(java_exception),
    ),
    (
        ".kt:",
        Leak::StackTrace,
        "Kotlin stack frame",
        Some(java_frame),
    ),
    (
        ".js:",
        Leak::StackTrace,
        "Node.js stack frame",
        Some(js_frame),
    ),
    (
        ".ts:",
        Leak::StackTrace,
        "Node.js stack frame",
        Some(js_frame),
    ),
    (
        ".cs:line ",
        Leak::StackTrace,
        ".NET stack frame",
        Some(digits_follow),
    ),
    (
        "--- end of stack trace from previous location",
        Leak::StackTrace,
        ".NET stack trace",
        None,
    ),
    (
        "server error in '",
        Leak::StackTrace,
        "ASP.NET error page",
        None,
    ),
    (
        "goroutine ",
        Leak::StackTrace,
        "Go goroutine dump",
        Some(goroutine),
    ),
    (
        ".rb:",
        Leak::StackTrace,
        "Ruby stack frame",
        Some(ruby_frame),
    ),
    (
        ".php(",
        Leak::StackTrace,
        "PHP stack frame",
        Some(php_frame),
    ),
    ("<b>fatal error</b>:", Leak::StackTrace, "PHP error", None),
    ("<b>parse error</b>:", Leak::StackTrace, "PHP error", None),
    (
        "</b> on line <b>",
        Leak::StackTrace,
        "PHP error",
        Some(digits_follow),
    ),
    ("php fatal error:", Leak::StackTrace, "PHP error", None),
    ("php parse error:", Leak::StackTrace, "PHP error", None),
    // Database errors CRS leaves to its regexes or lists in older wordings, as each database
    // writes them: Oracle's numbered errors, PostgreSQL's answer to a lone quote and its
    // wording since version 12, SQLite's and MySQL's syntax errors.
    (
        "ora-",
        Leak::DatabaseError,
        "Oracle error",
        Some(five_digits),
    ),
    (
        "unterminated quoted string at or near",
        Leak::DatabaseError,
        "PostgreSQL error",
        None,
    ),
    (
        "invalid input syntax for type ",
        Leak::DatabaseError,
        "PostgreSQL error",
        None,
    ),
    (
        "near \"",
        Leak::DatabaseError,
        "SQLite syntax error",
        Some(sqlite_near),
    ),
    (
        "unrecognized token:",
        Leak::DatabaseError,
        "SQLite error",
        None,
    ),
    ("sqlite_error:", Leak::DatabaseError, "SQLite error", None),
    (
        "the used select statements have a different number of columns",
        Leak::DatabaseError,
        "MySQL error",
        None,
    ),
    (
        "unknown column '",
        Leak::DatabaseError,
        "MySQL error",
        Some(unknown_column),
    ),
    // MongoDB drivers' errors (CRS has no NoSQL data file).
    (
        "mongoservererror",
        Leak::DatabaseError,
        "MongoDB error",
        None,
    ),
    ("mongoerror", Leak::DatabaseError, "MongoDB error", None),
    (
        "pymongo.errors.",
        Leak::DatabaseError,
        "MongoDB error",
        None,
    ),
    ("com.mongodb.", Leak::DatabaseError, "MongoDB error", None),
    // System files (the files lfi-os-files.data names, as they read).
    ("root:x:0:0:", Leak::FileContents, "/etc/passwd line", None),
    ("root:*:0:0:", Leak::FileContents, "/etc/passwd line", None),
    (
        "daemon:x:1:1:",
        Leak::FileContents,
        "/etc/passwd line",
        None,
    ),
    (
        "root:$",
        Leak::FileContents,
        "/etc/shadow line",
        Some(crypt_hash),
    ),
    (
        "; for 16-bit app support",
        Leak::FileContents,
        "win.ini",
        None,
    ),
    ("[boot loader]", Leak::FileContents, "boot.ini", None),
    (
        "linux version ",
        Leak::FileContents,
        "/proc/version",
        Some(digit_follows),
    ),
    // Command output.
    ("uid=", Leak::CommandOutput, "id output", Some(id_output)),
    ("drwx", Leak::CommandOutput, "ls -l output", Some(ls_mode)),
    (
        "volume serial number is ",
        Leak::CommandOutput,
        "dir output",
        None,
    ),
    (
        "directory of ",
        Leak::CommandOutput,
        "dir output",
        Some(drive_follows),
    ),
    (
        "windows ip configuration",
        Leak::CommandOutput,
        "ipconfig output",
        None,
    ),
    (
        "nt authority\\system",
        Leak::CommandOutput,
        "whoami output",
        None,
    ),
    // Cloud metadata services' documents.
    (
        "\"secretaccesskey\"",
        Leak::CloudMetadata,
        "AWS instance credentials",
        None,
    ),
    (
        "ami-launch-index",
        Leak::CloudMetadata,
        "AWS metadata listing",
        None,
    ),
    (
        "\"pendingtime\"",
        Leak::CloudMetadata,
        "AWS identity document",
        None,
    ),
    (
        "\"azenvironment\"",
        Leak::CloudMetadata,
        "Azure instance metadata",
        None,
    ),
    (
        "\"droplet_id\"",
        Leak::CloudMetadata,
        "DigitalOcean metadata",
        None,
    ),
    (
        "ya29.",
        Leak::CloudMetadata,
        "Google OAuth access token",
        Some(token_follows),
    ),
    // Configuration and secrets (what restricted-files.data's files hold).
    (
        "private key-----",
        Leak::Configuration,
        "PEM private key",
        None,
    ),
    (
        "repositoryformatversion",
        Leak::Configuration,
        "git config",
        None,
    ),
    (
        "aws_secret_access_key",
        Leak::Configuration,
        "AWS credentials file",
        None,
    ),
    (
        "\"propertysources\"",
        Leak::Configuration,
        "Spring Boot environment",
        None,
    ),
    (
        "\"activeprofiles\"",
        Leak::Configuration,
        "Spring Boot environment",
        None,
    ),
    (
        "<title>phpinfo()</title>",
        Leak::Configuration,
        "phpinfo page",
        None,
    ),
    ("app_key=base64:", Leak::Configuration, ".env file", None),
    ("db_password=", Leak::Configuration, ".env file", None),
    (":$apr1$", Leak::Configuration, ".htpasswd line", None),
    (
        "<config {'",
        Leak::Configuration,
        "Flask configuration",
        None,
    ),
    // Directory listings (CRS RESPONSE-950: Apache, nginx, IIS; Python's http.server).
    (
        "<title>index of /",
        Leak::DirectoryListing,
        "directory listing",
        None,
    ),
    (
        "<title>directory listing for /",
        Leak::DirectoryListing,
        "directory listing",
        None,
    ),
    (
        "[to parent directory]",
        Leak::DirectoryListing,
        "directory listing",
        None,
    ),
];

struct Scanner {
    automaton: AhoCorasick,
    patterns: Vec<Pattern>,
    needs_word_start: Vec<bool>,
}

fn scanner() -> Option<&'static Scanner> {
    static SCANNER: OnceLock<Option<Scanner>> = OnceLock::new();
    SCANNER
        .get_or_init(|| {
            let mut phrases: Vec<&'static str> = Vec::new();
            let mut patterns = Vec::new();
            for (phrase, leak, label, check) in PATTERNS {
                phrases.push(phrase);
                patterns.push(Pattern {
                    leak: *leak,
                    label: Some(label),
                    check: *check,
                });
            }
            for (table, leak) in [
                (vocab::leak_database_errors(), Leak::DatabaseError),
                (vocab::leak_error_classes(), Leak::StackTrace),
            ] {
                for phrase in table {
                    phrases.push(phrase);
                    patterns.push(Pattern {
                        leak,
                        label: None,
                        check: None,
                    });
                }
            }
            let needs_word_start = phrases
                .iter()
                .map(|p| {
                    p.as_bytes()
                        .first()
                        .is_some_and(|b| b.is_ascii_alphanumeric())
                })
                .collect();
            // A contiguous NFA: a few tens of KB for these phrases, where a DFA takes MBs.
            let automaton = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(&phrases)
                .ok()?;
            Some(Scanner {
                automaton,
                patterns,
                needs_word_start,
            })
        })
        .as_ref()
}

/// The leaks of `wanted` kinds that `body` shows, one per kind, in the order found.
pub(crate) fn scan(body: &[u8], wanted: LeakSet) -> Vec<Evidence> {
    let mut found = Vec::new();
    if wanted.is_empty() || body.is_empty() {
        return found;
    }
    let Some(scanner) = scanner() else {
        return found;
    };
    let mut seen = LeakSet::default();
    for m in scanner.automaton.find_overlapping_iter(body) {
        let index = m.pattern().as_usize();
        let (Some(pattern), Some(word)) = (
            scanner.patterns.get(index),
            scanner.needs_word_start.get(index),
        ) else {
            continue;
        };
        if !wanted.contains(pattern.leak) || seen.contains(pattern.leak) {
            continue;
        }
        let (start, end) = (m.start(), m.end());
        if *word && start > 0 && body.get(start - 1).is_some_and(|b| is_word(*b)) {
            continue;
        }
        if pattern.check.is_some_and(|check| !check(body, start, end)) {
            continue;
        }
        seen = seen.with(pattern.leak);
        let excerpt = match pattern.label {
            Some(label) => label.to_string(),
            None => String::from_utf8_lossy(body.get(start..end).unwrap_or_default()).into_owned(),
        };
        found.push(Evidence {
            leak: pattern.leak,
            excerpt,
        });
        if seen == wanted {
            break;
        }
    }
    found
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The end of the run of ASCII digits from `i` (`i` itself when there is none).
fn digits_end(s: &[u8], i: usize) -> usize {
    i + s
        .get(i..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count()
}

fn digits_follow(s: &[u8], _start: usize, end: usize) -> bool {
    digits_end(s, end) > end
}

fn digit_follows(s: &[u8], _start: usize, end: usize) -> bool {
    s.get(end).is_some_and(u8::is_ascii_digit)
}

fn starts_with_at(s: &[u8], i: usize, lit: &[u8]) -> bool {
    s.get(i..i + lit.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(lit))
}

/// `(Name.java:12)`: a file name after `(`, a line number and `)`.
fn java_frame(s: &[u8], start: usize, end: usize) -> bool {
    let name = s
        .get(start.saturating_sub(128)..start)
        .unwrap_or_default()
        .iter()
        .rev()
        .take_while(|b| is_word(**b) || **b == b'$')
        .count();
    let after = digits_end(s, end);
    name > 0
        && start > name
        && s.get(start - name - 1) == Some(&b'(')
        && after > end
        && s.get(after) == Some(&b')')
}

/// `ORA-00933`: five digits.
fn five_digits(s: &[u8], _start: usize, end: usize) -> bool {
    digits_end(s, end) == end + 5
}

/// `near "x": syntax error` within the next 64 bytes.
fn sqlite_near(s: &[u8], _start: usize, end: usize) -> bool {
    let window = s.get(end..(end + 64).min(s.len())).unwrap_or_default();
    window
        .windows(16)
        .any(|w| w.eq_ignore_ascii_case(b"\": syntax error"))
}

/// `Unknown column 'x' in 'where clause'`
fn unknown_column(s: &[u8], _start: usize, end: usize) -> bool {
    let window = s.get(end..(end + 96).min(s.len())).unwrap_or_default();
    window.windows(6).any(|w| w == b"' in '")
}

/// `java.lang.IllegalStateException`: a class name ending in Exception or Error.
fn java_exception(s: &[u8], _start: usize, end: usize) -> bool {
    let name = s
        .get(end..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| is_word(**b) || **b == b'$' || **b == b'.')
        .count();
    let class = s.get(end..end + name).unwrap_or_default();
    class.ends_with(b"Exception") || class.ends_with(b"Error")
}

/// `at fn (/app/x.js:12:5)`: line and column after the file, `at ` earlier on its line.
fn js_frame(s: &[u8], start: usize, end: usize) -> bool {
    let line = digits_end(s, end);
    if line == end || s.get(line) != Some(&b':') || digits_end(s, line + 1) == line + 1 {
        return false;
    }
    let from = start.saturating_sub(256);
    let before = s.get(from..start).unwrap_or_default();
    // A line starts after a newline, or after an escaped one inside a JSON string.
    let newline = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let escaped = before
        .windows(2)
        .rposition(|w| w == b"\\n")
        .map_or(0, |i| i + 2);
    let line_start = newline.max(escaped);
    let line = before.get(line_start..).unwrap_or_default();
    line.trim_ascii_start().starts_with(b"at ")
}

/// `goroutine 1 [running]:`
fn goroutine(s: &[u8], _start: usize, end: usize) -> bool {
    let after = digits_end(s, end);
    after > end && starts_with_at(s, after, b" [")
}

/// `app.rb:12:in `method'`
fn ruby_frame(s: &[u8], _start: usize, end: usize) -> bool {
    let after = digits_end(s, end);
    after > end && starts_with_at(s, after, b":in ")
}

/// `#0 /var/www/x.php(12): f()`
fn php_frame(s: &[u8], _start: usize, end: usize) -> bool {
    let after = digits_end(s, end);
    after > end && starts_with_at(s, after, b"): ")
}

/// `root:$6$salt$hash:`: a crypt(3) hash's `$id$`.
fn crypt_hash(s: &[u8], _start: usize, end: usize) -> bool {
    let id = s
        .get(end..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    (1..=2).contains(&id) && s.get(end + id) == Some(&b'$')
}

/// `uid=0(root) gid=0(root)`
fn id_output(s: &[u8], _start: usize, end: usize) -> bool {
    let after = digits_end(s, end);
    if after == end || s.get(after) != Some(&b'(') {
        return false;
    }
    let close = s
        .get(after..(after + 64).min(s.len()))
        .and_then(|w| w.iter().position(|b| *b == b')'));
    close.is_some_and(|c| starts_with_at(s, after + c + 1, b" gid="))
}

/// `drwxr-xr-x  2 root root`: a whole mode, then spaces and a link count.
fn ls_mode(s: &[u8], start: usize, _end: usize) -> bool {
    let Some(mode) = s.get(start..start + 10) else {
        return false;
    };
    let slots: [&[u8]; 9] = [
        b"r-", b"w-", b"xsS-", b"r-", b"w-", b"xsS-", b"r-", b"w-", b"xtT-",
    ];
    let mode_ok = mode[0] == b'd'
        && mode[1..]
            .iter()
            .zip(slots)
            .all(|(b, allowed)| allowed.contains(b));
    let mut i = start + 10;
    if s.get(i) == Some(&b'.') || s.get(i) == Some(&b'+') {
        i += 1;
    }
    let spaces = s
        .get(i..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| **b == b' ')
        .count();
    mode_ok && spaces > 0 && s.get(i + spaces).is_some_and(u8::is_ascii_digit)
}

/// `Directory of C:\`
fn drive_follows(s: &[u8], _start: usize, end: usize) -> bool {
    s.get(end).is_some_and(u8::is_ascii_alphabetic)
        && s.get(end + 1) == Some(&b':')
        && s.get(end + 2) == Some(&b'\\')
}

/// An OAuth token's characters after its prefix.
fn token_follows(s: &[u8], _start: usize, end: usize) -> bool {
    s.get(end..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
        .count()
        >= 20
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn leaks(body: &str) -> LeakSet {
        scan(body.as_bytes(), LeakSet(u8::MAX))
            .iter()
            .fold(LeakSet::default(), |s, e| s.with(e.leak))
    }

    #[test]
    fn each_leak_shows_in_the_output_its_program_writes() {
        let cases: &[(&str, Leak)] = &[
            ("<b>Warning</b>: mysql_fetch_array() expects parameter 1", Leak::DatabaseError),
            ("You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version", Leak::DatabaseError),
            ("ERROR: syntax error at or near \"'\" LINE 1", Leak::DatabaseError),
            ("ORA-00933: SQL command not properly ended", Leak::DatabaseError),
            ("Unclosed quotation mark after the character string ''.", Leak::DatabaseError),
            ("{\"error\":\"MongoServerError: unknown operator: $foo\"}", Leak::DatabaseError),
            ("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon", Leak::FileContents),
            ("root:$6$rounds=5000$abc$xyz:19000:0:99999:7:::", Leak::FileContents),
            ("; for 16-bit app support\n[fonts]\n[extensions]", Leak::FileContents),
            ("uid=33(www-data) gid=33(www-data) groups=33(www-data)", Leak::CommandOutput),
            ("total 8\ndrwxr-xr-x  2 root root 4096 Jan  1 00:00 .", Leak::CommandOutput),
            (" Volume Serial Number is 1234-ABCD\n Directory of C:\\inetpub", Leak::CommandOutput),
            ("{\"Code\" : \"Success\", \"AccessKeyId\" : \"ASIA\", \"SecretAccessKey\" : \"x\"}", Leak::CloudMetadata),
            ("ami-id\nami-launch-index\nami-manifest-path", Leak::CloudMetadata),
            ("java.lang.NullPointerException\n\tat com.acme.Orders.find(Orders.java:42)", Leak::StackTrace),
            ("Traceback (most recent call last):\n  File \"app.py\", line 12, in <module>", Leak::StackTrace),
            ("TypeError: x is not a function\n    at Object.<anonymous> (/srv/app/index.js:10:15)", Leak::StackTrace),
            ("System.NullReferenceException: Object reference not set", Leak::StackTrace),
            ("goroutine 1 [running]:\nmain.main()", Leak::StackTrace),
            ("app/models/user.rb:12:in `find'", Leak::StackTrace),
            ("#0 /var/www/html/index.php(12): query()", Leak::StackTrace),
            ("<html><head><title>Index of /backup</title>", Leak::DirectoryListing),
            ("[core]\n\trepositoryformatversion = 0", Leak::Configuration),
            ("-----BEGIN OPENSSH PRIVATE KEY-----", Leak::Configuration),
            ("{\"activeProfiles\":[],\"propertySources\":[]}", Leak::Configuration),
            ("ORA-00933: SQL command not properly ended", Leak::DatabaseError),
            ("ERROR:  unterminated quoted string at or near \"'\"", Leak::DatabaseError),
            ("SQLITE_ERROR: near \"'\": syntax error", Leak::DatabaseError),
            ("Unknown column 'x' in 'where clause'", Leak::DatabaseError),
            ("{\"stack\":\"TypeError: x\\n    at f (/srv/app/x.js:1:2)\"}", Leak::StackTrace),
            ("{\"trace\":\"  File \\\"/srv/app.py\\\", line 12, in f\"}", Leak::StackTrace),
            ("Exception: java.lang.IllegalStateException: closed", Leak::StackTrace),
            ("Warning: x() in <b>/var/www/a.php</b> on line <b>12</b>", Leak::StackTrace),
        ];
        for (body, leak) in cases {
            assert!(
                leaks(body).contains(*leak),
                "{leak:?} not found in {body:?}"
            );
        }
    }

    #[test]
    fn ordinary_responses_show_nothing() {
        for body in [
            "{\"error\":\"not found\",\"message\":\"Order 12 does not exist\"}",
            "{\"errors\":[{\"field\":\"email\",\"message\":\"Error: invalid address\"}]}",
            "<html><title>Orders</title><p>We use PostgreSQL and MySQL. SQL Server too.</p></html>",
            "<p>Read the Java docs at Main.java or run node app.js: it prints uid=me.</p>",
            "{\"user\":\"root\",\"uid\":0,\"gid\":0,\"home\":\"/root\"}",
            "The exception handler logs a stack trace to the server, never to the client.",
            "{\"id\":\"ami-0abcdef\",\"instance\":\"i-123\",\"region\":\"eu-west-1\"}",
            "<h1>Index of products</h1><p>drwx is a file mode</p>",
            "{\"version\":\"Linux version unknown\",\"ts\":\"2026-01-01T00:00:00Z\"}",
            "{\"error\":\"User 'bob' doesn't exist\",\"db2_host\":\"ORA-abc\"}",
            "<p><b>Warning</b>: this cannot be undone. Use java.lang.String near \"here\".</p>",
            "{\"message\":\"Unknown column 'price' requested\"}",
        ] {
            assert_eq!(leaks(body), LeakSet::default(), "{body}");
        }
    }

    #[test]
    fn only_wanted_kinds_are_looked_for_and_excerpts_name_no_secret() {
        let body = b"root:x:0:0:root\n{\"SecretAccessKey\" : \"wJalrXUtnFEMI/K7MDENG\"}";
        let found = scan(body, LeakSet::of(&[Leak::CloudMetadata]));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].leak, Leak::CloudMetadata);
        assert!(!found[0].excerpt.contains("wJalr"), "{}", found[0].excerpt);
        assert!(scan(body, LeakSet::default()).is_empty());
        // Vocabulary entries are shown as the body spells them, and only them.
        let found = scan(
            b"xx You have an error in your SQL syntax; near",
            LeakSet::of(&[Leak::DatabaseError]),
        );
        assert_eq!(found[0].excerpt, "You have an error in your SQL syntax;");
    }

    /// Measures, not asserts: the leaks found in real documents under `LEAK_SCAN_DIR` (each
    /// file's first 4 KB, as a response would be read), per kind, with an example file each.
    /// `LEAK_SCAN_DIR=/usr/share/doc cargo test -p actorwatch-core --lib leaks_in_real_documents
    /// -- --ignored --nocapture`
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    #[ignore]
    fn leaks_in_real_documents() {
        let Some(root) = std::env::var_os("LEAK_SCAN_DIR") else {
            return;
        };
        let mut stack = vec![std::path::PathBuf::from(root)];
        let (mut files, mut found) = (0u64, std::collections::BTreeMap::new());
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                if !matches!(ext, "html" | "htm" | "txt" | "json" | "md" | "xml") {
                    continue;
                }
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                files += 1;
                let head = &bytes[..bytes.len().min(4096)];
                for e in scan(head, LeakSet(u8::MAX)) {
                    let slot = found
                        .entry(e.leak.as_str())
                        .or_insert((0u64, String::new()));
                    slot.0 += 1;
                    if slot.1.is_empty() {
                        slot.1 = format!("{} ({})", path.display(), e.excerpt);
                    }
                }
            }
        }
        println!("{files} documents");
        for (leak, (n, example)) in found {
            println!("{leak}: {n} documents, e.g. {example}");
        }
    }

    #[test]
    fn phrases_start_at_a_word_boundary() {
        assert!(leaks("FLORA-12345").is_empty());
        assert!(leaks("auid=0(root) gid=0").is_empty());
        assert!(leaks("uid=0(root) gid=0").contains(Leak::CommandOutput));
    }
}
