//! Windows command injection: `cmd /c`-style commands with a switch, path, variable or URL
//! after them, PowerShell cmdlets (`Invoke-WebRequest`) and aliases (`iwr`, `iex`, `iwmi`),
//! `%COMSPEC%` and friends, and batch control flow (`for /f .. in (..) do`,
//! `if exist|defined|errorlevel`, `if a==b`, `if x equ y`). Works on the shell view of
//! `shell.rs` (quotes and carets of obfuscation dropped, lowercase).
use super::lex::{at, in_table, is_word};
use super::shell::{first_word, ShellView};
use super::{vocab, Meter};

/// A Windows program: the hand list, a program Wine reimplements or a cmd.exe builtin
/// (`vocab::windows_commands`), or a PowerShell alias of three letters or more (`gci`, `saps`).
fn known(name: &[u8]) -> bool {
    static ALL: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let all = ALL.get_or_init(|| {
        let aliases = vocab::powershell_aliases().iter().filter(|a| a.len() >= 3);
        vocab::merged(
            WINDOWS
                .iter()
                .chain(vocab::windows_commands())
                .chain(aliases)
                .copied(),
        )
    });
    in_table(name, all)
}

/// A command that is also an English word needs a switch, path, variable or URL after it.
fn weak(name: &[u8]) -> bool {
    in_table(name, WEAK) || (!in_table(name, WINDOWS) && in_table(name, vocab::command_words()))
}

/// `Get-ChildItem`, `Invoke-WebRequest`: an approved PowerShell verb, a hyphen and a noun.
fn cmdlet_shape(w: &[u8]) -> bool {
    let Some(h) = w.iter().position(|c| *c == b'-') else {
        return false;
    };
    let noun = &w[h + 1..];
    noun.len() >= 2
        && noun.iter().all(u8::is_ascii_alphanumeric)
        && in_table(&w[..h], vocab::powershell_verbs())
}

#[rustfmt::skip]
const WINDOWS: &[&str] = &[
    "arp", "attrib", "auditpol", "bcdboot", "bcdedit", "bitsadmin", "cacls", "certutil", "cipher",
    "cmd", "cmd.exe", "cmdkey", "compact", "copy", "cscript", "del", "dir", "diskpart",
    "driverquery", "dsquery", "echo", "esentutl", "expand", "find", "findstr", "forfiles",
    "fsutil", "ftp", "getmac", "gpresult", "gpupdate", "hostname", "icacls", "icm", "iex",
    "ipconfig", "iwmi", "iwr", "klist", "logoff", "makecab", "more", "mountvol", "move", "mshta",
    "msiexec", "nbtstat", "net", "net1", "netsh", "nltest", "nslookup", "ntdsutil", "pathping",
    "ping", "powershell", "powershell.exe", "pwsh", "query", "quser", "qwinsta", "reg", "regedit",
    "regsvr32", "route", "runas", "rundll32", "sc", "schtasks", "sdelete", "secedit", "shutdown",
    "start", "systeminfo", "takeown", "taskkill", "tasklist", "telnet", "tftp", "tracert", "type",
    "ver", "vssadmin", "wbadmin", "wevtutil", "whoami", "wmic", "wscript", "wusa", "xcopy",
];

/// cmd.exe commands that are also English words: they need a switch, path, variable or URL.
#[rustfmt::skip]
const WEAK: &[&str] = &[
    "attrib", "cipher", "compact", "copy", "echo", "expand", "find", "findstr", "more", "move",
    "query", "route", "start", "type",
];

/// PowerShell cmdlets that fetch or run code.
#[rustfmt::skip]
const CMDLETS: &[&str] = &[
    "add-mppreference", "get-wmiobject", "invoke-command", "invoke-expression", "invoke-item",
    "invoke-restmethod", "invoke-webrequest", "invoke-wmimethod", "new-object", "set-mppreference",
    "start-bitstransfer", "start-process",
];

/// Separators, variables and carets: without them only a leading command or a cmdlet counts.
pub(crate) fn special(c: u8) -> bool {
    matches!(c, b';' | b'|' | b'&' | b'(' | b'\n' | b'%' | b'^')
}

/// `special`: the text has a [`special`] byte (the caller knows it from its byte classes).
///
/// `agent`: the text is a well-formed User-Agent, whose `;` and parentheses separate comment
/// items (`(Windows NT 5.1; RD&E v.6.0)`), not commands.
#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect(
    s: &str,
    special: bool,
    agent: bool,
    shell: &mut ShellView,
    meter: &mut Meter,
) -> Option<usize> {
    let b = s.as_bytes();
    meter.add(b.len());
    // Fast path: without separators, variables or cmdlet hyphens, only a command starting
    // the value can matter.
    let mut buf = [0u8; 32];
    let first = first_word(b, &mut buf);
    debug_assert_eq!(special, b.iter().any(|c| self::special(*c)));
    if !special && !known(first) && first != b"for" && first != b"if" {
        // Only a cmdlet (`Invoke-WebRequest`) is left to find.
        return cmdlet(b);
    }
    meter.add(b.len());
    let (v, map) = shell.of(b);
    let back = |i: usize| map.get(i).copied().unwrap_or(0);
    let mut i = 0;
    // A User-Agent starts with a product name, not a command.
    let mut cmd_pos = !agent;
    while i < v.len() {
        let c = v[i];
        if c == b' ' || c == b'@' {
            i += 1;
            continue;
        }
        if c == b'%' {
            for var in [
                &b"%comspec%"[..],
                b"%systemroot%",
                b"%windir%",
                b"%programdata%",
            ] {
                if at(v, i, var) {
                    return Some(back(i));
                }
            }
        }
        if c.is_ascii_alphabetic() {
            let e = super::lex::word_end(v, i, b"-.");
            let w = &v[i..e];
            // Every cmdlet is hyphenated: plain words skip the lookup.
            if (i == 0 || !is_word(v[i - 1])) && w.contains(&b'-') && in_table(w, CMDLETS) {
                return Some(back(i));
            }
            // A cmdlet run where a command goes (`; Get-Process`), or with a parameter
            // (`Get-ChildItem -Path c:\`); `Get-Started` in a sentence is neither.
            if cmd_pos && cmdlet_shape(w) {
                let j = super::lex::skip_spaces(v, e);
                let param =
                    v.get(j) == Some(&b'-') && v.get(j + 1).is_some_and(u8::is_ascii_alphabetic);
                let ends = v
                    .get(j)
                    .is_none_or(|c| matches!(c, b';' | b'|' | b'&' | b'$' | b')'));
                if param || (i > 0 && ends) {
                    return Some(back(i));
                }
            }
            if cmd_pos {
                // The view drops backslashes: a program named by its Windows path
                // (`C:\Windows\System32\net.exe user`) is looked up by its last segment
                // of the text itself.
                let a = back(i);
                let mut pe = a;
                while pe < b.len()
                    && pe < a + 260
                    && (b[pe].is_ascii_alphanumeric() || b"_.-:\\/".contains(&b[pe]))
                {
                    pe += 1;
                }
                let program = windows_program(b, a, pe);
                let mut end = e;
                if program.is_some() {
                    while end < v.len() && back(end) < pe {
                        end += 1;
                    }
                }
                if let Some(at) = windows_command(v, i, end, w, program) {
                    return Some(back(at));
                }
            }
            cmd_pos = false;
            i = e.max(i + 1);
            continue;
        }
        cmd_pos = matches!(c, b'|' | b'&' | b'\n') || (!agent && matches!(c, b';' | b'('));
        i += 1;
    }
    None
}

/// A PowerShell cmdlet anywhere in the text, as a hyphenated word.
#[inline(never)] // See `windows_command`.
fn cmdlet(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() && (i == 0 || !is_word(b[i - 1])) {
            let e = super::lex::word_end(b, i, b"-");
            if b[i..e].contains(&b'-') && in_table(&b[i..e], CMDLETS) {
                return Some(i);
            }
            i = e.max(i + 1);
        } else {
            i += 1;
        }
    }
    None
}

/// The last segment of a program path in the text `b[a..e]` (after `\\` or `/`), if the
/// word is a path.
fn windows_program(b: &[u8], a: usize, e: usize) -> Option<&[u8]> {
    let w = b.get(a..e)?;
    let p = w.iter().rposition(|c| matches!(c, b'\\' | b'/'))?;
    let name = &w[p + 1..];
    (!name.is_empty()).then_some(name)
}

/// Subcommands that make a Windows tool's next word an attack: `net user x /add`,
/// `reg add HKLM\..`, `netsh advfirewall ..`, `sc create ..`.
fn subcommand(name: &[u8], next: &[u8]) -> bool {
    match name {
        b"net" | b"net1" => in_table(
            next,
            &[
                "accounts",
                "group",
                "localgroup",
                "session",
                "share",
                "start",
                "stop",
                "use",
                "user",
                "view",
            ],
        ),
        b"netsh" => in_table(
            next,
            &[
                "advfirewall",
                "firewall",
                "interface",
                "portproxy",
                "wlan",
                "winhttp",
                "winsock",
            ],
        ),
        b"reg" => in_table(
            next,
            &[
                "add", "copy", "delete", "export", "import", "load", "query", "save",
            ],
        ),
        b"sc" => in_table(
            next,
            &["config", "create", "delete", "qc", "query", "start", "stop"],
        ),
        b"wmic" | b"vssadmin" | b"bcdedit" | b"wevtutil" | b"certutil" | b"bitsadmin" => true,
        _ => false,
    }
}

#[inline(never)] // With `cmdlet` inlined, `detect` was 10 KB (see `detect` in mod.rs).
fn windows_command(
    v: &[u8],
    i: usize,
    e: usize,
    w: &[u8],
    path_name: Option<&[u8]>,
) -> Option<usize> {
    if w == b"for" || w == b"if" {
        return batch(v, e, w == b"for").then_some(i);
    }
    let mut lower = [0u8; 32];
    let w = match path_name.and_then(|p| super::lex::lower(p, &mut lower)) {
        Some(p) if known(p.strip_suffix(b".exe").unwrap_or(p)) => p,
        _ => w,
    };
    let name = w.strip_suffix(b".exe").unwrap_or(w);
    if !known(name) && !known(w) {
        return None;
    }
    let j = super::lex::skip_spaces(v, e);
    let next = v.get(j).copied();
    // Aliases that are not words: any argument will do.
    if in_table(name, &["icm", "iex", "iwmi", "iwr"]) && (next.is_some() || i > 0) {
        return Some(i);
    }
    let next_word = &v[j.min(v.len())..super::lex::word_end(v, j, b"")];
    let arg = match next {
        // A bare command after a separator, unless it is also an English word (`& more`).
        None => i > 0 && !weak(name),
        // A switch is a letter or `?` after `/` or `-` (`/add`, `-nop`; `Explorer /5.02` and
        // `Sleep -- the ..` are not).
        Some(b'/' | b'-') => v
            .get(j + 1)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'?'),
        Some(b'%' | b'<' | b'>' | b'|' | b'&') => true,
        // A drive path (`c:\windows`, which the view shows as `c:windows`) or a URL.
        Some(c) => {
            at(v, j, b"http")
                || (c.is_ascii_alphabetic() && v.get(j + 1) == Some(&b':'))
                || subcommand(name, next_word)
        }
    };
    arg.then_some(i)
}

/// Batch control flow after `for` / `if`.
fn batch(v: &[u8], e: usize, is_for: bool) -> bool {
    let rest = &v[e..v.len().min(e + 256)];
    if is_for {
        // `for %i in (..) do`, `for /f "..." %%a in (..) do`
        let j = super::lex::skip_spaces(v, e);
        let flag = v.get(j) == Some(&b'/') && v.get(j + 1).is_some_and(|c| b"fdlr".contains(c));
        let var = v.get(j) == Some(&b'%');
        let shape = super::lex::find(rest, b" in ")
            .or_else(|| super::lex::find(rest, b" in("))
            .is_some()
            && super::lex::find(rest, b" do")
                .or_else(|| super::lex::find(rest, b")do"))
                .is_some();
        return (flag || var) && shape;
    }
    let mut j = super::lex::skip_spaces(v, e);
    // `if (1) equ (1)`: a batch comparison follows the group. In C (`if (argc > 1 && x == 0)
    // {`) the comparison is inside it.
    if v.get(j) == Some(&b'(') {
        // The group's own `)`: nested calls (`strcmp(a, b)`) close first.
        let mut depth = 0usize;
        let Some(close) = v[j..v.len().min(j + 96)].iter().position(|c| {
            match c {
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
            depth == 0
        }) else {
            return false;
        };
        let k = super::lex::skip_spaces(v, j + close + 1);
        return at(v, k, b"==")
            || [&b"equ "[..], b"neq ", b"lss ", b"leq ", b"gtr ", b"geq "]
                .iter()
                .any(|op| at(v, k, op));
    }
    // `if /i`, `if not`
    for opt in [&b"/i"[..], b"not"] {
        if at(v, j, opt) && v.get(j + opt.len()).is_none_or(|c| *c == b' ') {
            j = super::lex::skip_spaces(v, j + opt.len());
        }
    }
    for kw in [&b"exist "[..], b"defined ", b"errorlevel "] {
        if at(v, j, kw) {
            let k = super::lex::skip_spaces(v, j + kw.len());
            let end = super::lex::word_end(v, k, b".:%-\\");
            return end > k && v.get(end).is_none_or(|c| *c != b',');
        }
    }
    // A comparison: `==` or ` equ|neq|lss|leq|gtr|geq `.
    let stmt = &rest[..rest.len().min(96)];
    stmt.windows(2).any(|w| w == b"==")
        || [
            &b" equ "[..],
            b" neq ",
            b" lss ",
            b" leq ",
            b" gtr ",
            b" geq ",
        ]
        .iter()
        .any(|op| super::lex::find(stmt, op).is_some())
}

#[cfg(test)]
pub(crate) fn tables() -> [&'static [&'static str]; 3] {
    [WINDOWS, WEAK, CMDLETS]
}
