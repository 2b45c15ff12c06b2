//! Unix command injection.
//!
//! Both work on a shell view of the decoded text: quotes, backslashes and `^` dropped and
//! `${VAR}` / `$VAR` glued inside a word removed (`c${x}url`, `'cu'rl`, `\ls` all read
//! `curl`/`ls`), `$IFS` read as a space. A *command position* is the start of the value or
//! the place after `;`, `|`, `&`, `` ` ``, `$(`, `(`, a newline or `<<<`; a program path
//! (`/usr/bin/perl`) counts by its last segment. Unix rules:
//! - after a separator: a known command; an everyday word (`set`, `who`, `find`, `time`)
//!   only when shell-shaped text follows (end, another separator, `-opt`, `/path`, `$`, `<`);
//! - at the start of the value: a command with a shell-shaped argument, a prefix command
//!   running another (`nohup sh`, `time curl`), or a hyphenated tool name (`chef-shell`);
//! - anywhere: `bin/<command>`, `$(..`, `$((`, `$[`, `<(`, `${IFS}`, `${PATH..}`, backtick
//!   followed by a command, `() {` (Shellshock), `/dev/tcp/`, `<<<`, globbed system paths
//!   (`/etc/[p]asswd`), brace lists (`{,ip,a}`, `{l,-lh}s`), history (`!-1`), `~+`, `~-`,
//!   `alias x=..`.
//!
//! Windows commands are in `windows.rs`; both share the shell view below.
//!
//! One file of about 610 lines: the shell view and the Unix rules read the same command
//! positions as they are found; apart, each rule would need the view's internals.
use super::lex::{at, in_table, is_word};
use super::{vocab, Meter};

/// A Unix program: the hand list above, every program Debian installs (`vocab::unix_commands`),
/// or an interpreter with its version glued on (`python3.10`, `php8.1`, `perl5.36`).
fn known(name: &[u8]) -> bool {
    static ALL: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let all = ALL.get_or_init(|| vocab::merged(UNIX.iter().chain(vocab::unix_commands()).copied()));
    in_table(name, all) || versioned(name)
}

/// A command that is also a word: the hand list, or a Debian program that is an English word
/// and not on the hand list of programs (`trap`, `look`, `which`).
fn weak(name: &[u8]) -> bool {
    in_table(name, WEAK) || (!in_table(name, UNIX) && in_table(name, vocab::command_words()))
}

fn versioned(name: &[u8]) -> bool {
    let stem = name
        .iter()
        .position(|c| c.is_ascii_digit())
        .map_or(name, |p| &name[..p]);
    stem.len() < name.len()
        && name[stem.len()..]
            .iter()
            .all(|c| c.is_ascii_digit() || *c == b'.')
        && in_table(
            stem,
            &[
                "lua", "node", "perl", "php", "pip", "python", "ruby", "tclsh",
            ],
        )
}

/// Unix programs an attacker runs. Sorted.
#[rustfmt::skip]
const UNIX: &[&str] = &[
    "aa-disable", "aa-exec", "ab", "alias", "ansible", "ansible-config", "ansible-console",
    "ansible-doc", "ansible-galaxy", "ansible-inventory", "ansible-playbook", "ansible-pull",
    "apt", "apt-get", "aptitude", "awk", "base32", "base64", "bash", "bridge", "bsdtar", "busybox",
    "bzip2", "c89", "c99", "cat", "cc", "cd", "chattr", "chef", "chef-client", "chef-shell",
    "chef-solo", "chmod", "chown", "chroot", "comm", "cpulimit", "crontab", "cscli", "csh", "curl",
    "dash", "dd", "dig", "dmesg", "doas", "dpkg", "echo", "env", "eval", "exec", "expect",
    "export", "fetch", "find", "flock", "ftp", "gawk", "gcc", "gdb", "getent", "git", "gunzip",
    "gzip", "head", "history", "htop", "id", "ifconfig", "ip", "kill", "killall", "ksh", "ld",
    "less", "ln", "ls", "lsof", "lua", "mkfifo", "mknod", "mv", "nc", "ncat", "netcat", "netstat",
    "nmap", "node", "nohup", "nslookup", "perf", "perl", "php", "ping", "printenv", "printf", "ps",
    "python", "python3", "rev", "rm", "rmt", "rmt-dump", "rsync", "ruby", "scp", "sed", "set",
    "sh", "sleep", "socat", "ssh", "strace", "su", "sudo", "tail", "tar", "tclsh", "tcsh",
    "telnet", "tftp", "time", "timeout", "touch", "uname", "unset", "vi", "vim", "visudo", "wget",
    "who", "whoami", "xargs", "xxd", "zsh", "zstdcat",
];

/// Commands that are also English words or common values: need shell-shaped context.
#[rustfmt::skip]
const WEAK: &[&str] = &[
    "cat", "cd", "comm", "echo", "env", "eval", "exec", "expect", "export", "fetch", "find", "git",
    "head", "history", "id", "kill", "lua", "node", "perl", "php", "python", "python3", "ruby",
    "set", "sleep", "time", "who",
];

/// Commands that run the next word as a command.
#[rustfmt::skip]
const PREFIX: &[&str] = &[
    "busybox", "chroot", "doas", "env", "exec", "nice", "nohup", "strace", "sudo", "time",
    "timeout", "watch", "xargs",
];

/// The shell view of the text being scanned, built once for both the Unix and the Windows
/// scanner and only when one of them needs it; its buffers are reused across values.
#[derive(Default)]
pub(crate) struct ShellView {
    v: Vec<u8>,
    map: Vec<usize>,
    built: bool,
}

impl ShellView {
    /// Forget the view: the next text is a different one.
    pub(crate) fn reset(&mut self) {
        self.built = false;
    }

    /// The view of `s` (which must be the text since the last [`ShellView::reset`]).
    pub(crate) fn of(&mut self, s: &[u8]) -> (&[u8], &[usize]) {
        if !self.built {
            view_into(s, &mut self.v, &mut self.map);
            self.built = true;
        }
        (&self.v, &self.map)
    }
}

/// Shell view into `v`, with `map` the index in the decoded text of each byte.
fn view_into(s: &[u8], v: &mut Vec<u8>, map: &mut Vec<usize>) {
    v.clear();
    map.clear();
    v.reserve(s.len());
    map.reserve(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        // Quotes, backslashes and cmd's `^` escape only hide a word: `c^u'r'l`.
        if matches!(c, b'\'' | b'"' | b'\\' | b'^') {
            i += 1;
            continue;
        }
        if c == b'$' {
            let brace = s.get(i + 1) == Some(&b'{');
            let start = if brace { i + 2 } else { i + 1 };
            let e = super::lex::word_end(s, start, b"");
            let closed = !brace || s.get(e) == Some(&b'}');
            let name = &s[start.min(e)..e];
            if e > start && closed {
                let end = if brace { e + 1 } else { e };
                if name.eq_ignore_ascii_case(b"ifs") {
                    v.push(b' ');
                    map.push(i);
                    i = end;
                    continue;
                }
                // Glued to a word, an expansion is usually empty: `c${x}url`, `cat$a `,
                // `$a/etc$a/passwd` (a variable name starts with a letter or `_`).
                let named = name
                    .first()
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
                let after = s.get(end).copied();
                let glued = (i > 0 && is_word(s[i - 1]) && after.is_some_and(is_word))
                    || (named
                        && ((i > 0 && is_word(s[i - 1]) && after.is_none_or(|b| b == b' '))
                            || after == Some(b'/')));
                if glued {
                    i = end;
                    continue;
                }
            }
        }
        v.push(c.to_ascii_lowercase());
        map.push(i);
        i += 1;
    }
}

/// Bytes that, outside a command position, start no rule and leave the state as it is:
/// not a separator, a backtick, a byte `unix_expression` starts at, nor `b` (`bin/`).
static INERT: [bool; 256] = inert();

const fn inert() -> [bool; 256] {
    let mut t = [true; 256];
    let special = b";|&(\n<>`$){!~/bB";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = false;
        i += 1;
    }
    t
}

fn sep(c: u8) -> bool {
    matches!(c, b';' | b'|' | b'&' | b'(' | b'\n' | b'<' | b'>')
}

/// A backtick that substitutes a command: glued to a word (`1`id``), at the start or after
/// `;|&=($`. Markdown code spans (`` run `git pull` ``) and fences (```` ``` ````) are not.
fn substitution(v: &[u8], i: usize) -> bool {
    if v.get(i + 1) == Some(&b'`') || (i > 0 && v[i - 1] == b'`') {
        return false;
    }
    i == 0 || is_word(v[i - 1]) || matches!(v[i - 1], b';' | b'|' | b'&' | b'=' | b'(' | b'$')
}

fn word_char(c: u8) -> bool {
    is_word(c) || matches!(c, b'-' | b'.' | b'/' | b'[' | b']' | b'?' | b'*' | b'+')
}

/// The command word at `i`: (end, program name = last path segment, is a path).
fn command_at(v: &[u8], i: usize) -> (usize, &[u8], bool) {
    let mut e = i;
    // Bounded: `bin/bin/bin/..` must not rescan the rest of the value at every `bin/`.
    while e < v.len() && e < i + 64 && word_char(v[e]) {
        e += 1;
    }
    let w = &v[i..e];
    let name = match w.iter().rposition(|c| *c == b'/') {
        Some(p) => &w[p + 1..],
        None => w,
    };
    (e, name, name.len() < w.len())
}

/// What follows a command looks like shell: end, separator, option, path, variable.
fn shellish_after(v: &[u8], e: usize) -> bool {
    let j = super::lex::skip_spaces(v, e);
    match v.get(j) {
        None => true,
        Some(c) if sep(*c) || matches!(c, b'-' | b'/' | b'$' | b'~' | b'.' | b'*' | b'#') => true,
        _ => false,
    }
}

/// Bytes that make shell syntax (separators, substitutions, quoting, paths, globs).
pub(crate) fn shell_meta(c: u8) -> bool {
    matches!(
        c,
        b';' | b'|'
            | b'&'
            | b'$'
            | b'`'
            | b'('
            | b')'
            | b'<'
            | b'>'
            | b'{'
            | b'}'
            | b'!'
            | b'~'
            | b'\n'
            | b'/'
            | b'\\'
            | b'\''
            | b'"'
            | b'['
            | b'*'
            | b'?'
            | b'%'
    )
}

/// The first word of a value, lowercased into `buf` (empty if too long).
pub(super) fn first_word<'b>(b: &[u8], buf: &'b mut [u8; 32]) -> &'b [u8] {
    let a = super::lex::skip_spaces(b, 0);
    let e = super::lex::word_end(b, a, b"-.");
    super::lex::lower(&b[a..e], buf).unwrap_or(&[])
}

/// `meta`: the text has a [`shell_meta`] byte (the caller knows it from its byte classes).
///
/// `agent`: the text is a well-formed User-Agent (`agent::well_formed`): its `;` and
/// parentheses separate comment items (`(Linux; U; id; gzip)`), not commands, so only shell
/// syntax that no User-Agent grammar has (`$(..)`, backticks, `|`, `&&`, `/dev/tcp/`, ...)
/// counts.
#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect_unix(
    s: &str,
    meta: bool,
    agent: bool,
    shell: &mut ShellView,
    meter: &mut Meter,
) -> Option<usize> {
    let b = s.as_bytes();
    meter.add(b.len());
    // Fast path: without shell syntax only a command starting the value can matter.
    let mut buf = [0u8; 32];
    debug_assert_eq!(meta, b.iter().any(|c| shell_meta(*c)));
    if !meta && !known(first_word(b, &mut buf)) {
        return None;
    }
    meter.add(b.len());
    let (v, map) = shell.of(b);
    let back = |i: usize| map.get(i).copied().unwrap_or(0);
    let mut i = 0;
    // A User-Agent starts with a product name, not a command.
    let mut cmd_pos = !agent;
    let mut start = !agent;
    // Backticks pair up: the second of a pair closes (`` `git pull` then ``), it never opens.
    let mut backticks = 0usize;
    while i < v.len() {
        // Outside a command position, bytes no rule starts at change nothing: skip them.
        if !cmd_pos {
            while i < v.len() && INERT[usize::from(v[i])] {
                i += 1;
            }
            if i >= v.len() {
                break;
            }
            start = false;
        }
        let c = v[i];
        if c == b' ' {
            i += 1;
            continue;
        }
        if cmd_pos && (c.is_ascii_alphanumeric() || c == b'/' || c == b'.') {
            let (e, name, path) = command_at(v, i);
            let escaped = b.get(back(i).wrapping_sub(1)) == Some(&b'\\');
            // Unix commands are case-sensitive: `Touch` (in `ARM; Touch;` of a User-Agent)
            // runs nothing. The view is lower case, so look at the text itself.
            let cased = (i..e).any(|k| b.get(back(k)).is_some_and(u8::is_ascii_uppercase));
            if !cased {
                if let Some(at) = unix_command(v, i, e, name, path, start, escaped) {
                    return Some(back(at));
                }
            }
            // Not a command, but maybe `bin/chef` or `/etc/[p]asswd` at the command position.
            if let Some(at) = unix_expression(v, i, false) {
                return Some(back(at));
            }
            cmd_pos = false;
            start = false;
            i = e.max(i + 1);
            continue;
        }
        let opens = c == b'`' && backticks % 2 == 0 && substitution(v, i);
        backticks += usize::from(c == b'`');
        if let Some(at) = unix_expression(v, i, opens) {
            return Some(back(at));
        }
        // `$u ` before a command is an (empty) expansion: stay at the command position.
        if c == b'$' && cmd_pos {
            let e = super::lex::word_end(v, i + 1, b"");
            // `;$CMD` where a command goes, and nothing after it: the variable is the command
            // (`CMD=$'id';$CMD`).
            let named = v
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
            if !start && named && v.get(e).is_none_or(|c| sep(*c)) {
                return Some(back(i));
            }
            i = e;
            continue;
        }
        // After `<` or `>` comes a file name, not a command (`<apt> hi` in a chat log).
        cmd_pos =
            (sep(c) && !matches!(c, b'<' | b'>') && !(agent && matches!(c, b';' | b'('))) || opens;
        start = false;
        i += 1;
    }
    None
}

fn unix_command(
    v: &[u8],
    i: usize,
    e: usize,
    name: &[u8],
    path: bool,
    start: bool,
    escaped: bool,
) -> Option<usize> {
    // A shell ends a command word at a space, a separator or a redirection, not at `,`/`=`
    // (`;base64,` in a data URI is not a command).
    let ends_word = v.get(e).is_none_or(|c| {
        matches!(
            c,
            b' ' | b'\n' | b';' | b'|' | b'&' | b'<' | b'>' | b')' | b'`'
        )
    });
    if !ends_word || !known(name) {
        return None;
    }
    let weak = weak(name);
    if name == b"alias" {
        let j = super::lex::skip_spaces(v, e);
        let next = super::lex::word_end(v, j, b".+-");
        let opt = matches!(v.get(j), Some(b'-' | b'+'));
        return (opt || (next > j && v.get(next) == Some(&b'='))).then_some(i);
    }
    // The hand list is the programs attacks run; the rest of Debian's programs need a shell
    // shape around them: an English word (`; host`, `& wait`) an argument a shell reads
    // (`-x`, `/path`, `$v`, a redirection), another (`; lastlog`) the end, a separator or
    // such an argument (`npm install` in a pasted code block is not an injection).
    // At the value's start a non-word program needs a space before that shape too (`if (argc
    // > 1)` is C, `if -f` is not).
    let listed = in_table(name, UNIX) || versioned(name);
    if !listed {
        let spaced = !start || super::lex::skip_spaces(v, e) > e;
        let shaped = if weak {
            shell_argument(v, e)
        } else {
            spaced && shellish_after(v, e)
        };
        return (shaped || escaped).then_some(i);
    }
    if !start {
        return (!weak || shellish_after(v, e) || escaped || timed(v, name, e)).then_some(i);
    }
    // A program named by its path (`/bin/sh`, `../../usr/bin/env|`, which Perl's `open` runs).
    if escaped
        || (path && (v.get(i) == Some(&b'/') || super::lex::find(&v[i..e], b"bin/").is_some()))
    {
        return Some(i);
    }
    if name.contains(&b'-') && listed {
        return Some(i);
    }
    let j = super::lex::skip_spaces(v, e);
    if j > e && shellish_after(v, e) {
        return Some(i);
    }
    // A tool (not an everyday word) with an option among its next arguments: `ansible all -m`.
    if !weak && j > e && option_follows(v, j) {
        return Some(i);
    }
    if in_table(name, PREFIX) && j > e {
        let (_, next, _) = command_at(v, j);
        if known(next) && !self::weak(next) {
            return Some(i);
        }
    }
    None
}

/// Is `v[..i]` (`i` at a `(`) the name of a call that hands its argument to a shell: PHP's
/// `system`, `exec`, `passthru`, `shell_exec`, `popen`, `proc_open`, Python's `os.system`,
/// `os.popen`, `subprocess.*`, Perl's and Ruby's `system`/`exec`?
fn runs_shell(v: &[u8], i: usize) -> bool {
    let a = v[..i]
        .iter()
        .rposition(|c| !(is_word(*c) || *c == b'.'))
        .map_or(0, |p| p + 1);
    let name = &v[a..i];
    let last = name.rsplit(|c| *c == b'.').next().unwrap_or(name);
    if name.len() == last.len() {
        return in_table(last, SHELL_CALLS);
    }
    (at(name, 0, b"os.") || at(name, 0, b"subprocess.") || at(name, 0, b"child_process."))
        && in_table(last, SHELL_METHODS)
}

/// Functions that run their string argument in a shell: PHP, Perl, Ruby.
const SHELL_CALLS: &[&str] = &[
    "exec",
    "passthru",
    "popen",
    "proc_open",
    "shell_exec",
    "system",
];
/// Methods of Python's `os` and `subprocess` and Node's `child_process` that do.
#[rustfmt::skip]
const SHELL_METHODS: &[&str] = &[
    "call", "check_call", "check_output", "exec", "execsync", "popen", "run", "spawn", "system",
];

/// After a space, an argument only a shell reads: an option, a path, a variable, a redirection.
fn shell_argument(v: &[u8], e: usize) -> bool {
    let j = super::lex::skip_spaces(v, e);
    j > e
        && match v.get(j) {
            Some(b'-') => v
                .get(j + 1)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-'),
            Some(c) => matches!(c, b'/' | b'$' | b'~' | b'<' | b'>' | b'*'),
            None => false,
        }
}

/// `sleep 5`, `sleep 60;`: the time-based probe, a number and then the end or a separator.
fn timed(v: &[u8], name: &[u8], e: usize) -> bool {
    if name != b"sleep" {
        return false;
    }
    let j = super::lex::skip_spaces(v, e);
    let mut k = j;
    while k < v.len() && v[k].is_ascii_digit() {
        k += 1;
    }
    k > j && shellish_after(v, k)
}

/// Shell syntax that is not a plain command: substitutions, expansions, Shellshock, ...
/// `opens`: `v[i]` is a backtick that opens a substitution.
fn unix_expression(v: &[u8], i: usize, opens: bool) -> Option<usize> {
    let c = v[i];
    let n1 = v.get(i + 1).copied().unwrap_or(0);
    let hit = match c {
        b'$' => {
            n1 == b'('
                || n1 == b'['
                || (n1 == b'{'
                    && v.get(i + 2)
                        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'#')
                    && upper_var(v, i + 2))
        }
        b'<' | b'>' => {
            (n1 == b'(' && v.get(i + 2).is_some_and(u8::is_ascii_alphabetic))
                // A here-string is exactly three (`<<<<` and longer runs are ASCII art).
                || (at(v, i, b"<<<")
                    && v.get(i + 3) != Some(&b'<')
                    && (i == 0 || v[i - 1] != b'<'))
                || at(v, i + 1, b"/dev/tcp/")
                // A server-side include that runs a command: `<!--#exec cmd="id"-->`.
                || at(v, i, b"<!--#exec")
        }
        // `system('id')`, `shell_exec("ls -la")`: a language's call that runs its string as a
        // shell command, given a command (the view has dropped the quotes).
        b'(' if i > 0 && is_word(v[i - 1]) && runs_shell(v, i) => {
            let j = super::lex::skip_spaces(v, i + 1);
            let (_, name, _) = command_at(v, j);
            known(name)
        }
        // Shellshock: a function definition opening the value, not `main() {` in code.
        b'(' => (at(v, i, b"() {") || at(v, i, b"(){")) && v[..i].iter().all(|c| *c == b' '),
        b'`' if opens => {
            let j = super::lex::skip_spaces(v, i + 1);
            let (_, name, _) = command_at(v, j);
            known(name)
        }
        b'b' if at(v, i, b"bin/") && (i == 0 || !is_word(v[i - 1])) => {
            let (_, name, _) = command_at(v, i + 4);
            known(name) || in_table(name, &["chef", "visudo"])
        }
        b'/' => glob_path(v, i),
        b'{' => brace_list(v, i),
        // History expansion at a command position; glued to a word it is a separator of
        // opaque ids (`id!-2117556153!node` in WebLogic session cookies).
        b'!' => {
            n1 == b'-'
                && v.get(i + 2).is_some_and(|c| c.is_ascii_digit())
                && (i == 0 || matches!(v[i - 1], b' ' | b';' | b'|' | b'&' | b'(' | b'\n'))
        }
        b'~' => {
            (n1 == b'+' || n1 == b'-')
                && (i == 0 || v[i - 1] == b' ')
                && v.get(i + 2)
                    .is_none_or(|c| c.is_ascii_digit() || *c == b' ' || *c == b'/')
        }
        _ => false,
    };
    hit.then_some(i)
}

/// `${PATH}`, `${SHELL}`, `${IFS}`: an environment variable (upper case in the original).
fn upper_var(v: &[u8], i: usize) -> bool {
    let e = super::lex::word_end(v, i, b"");
    in_table(&v[i..e], &["home", "ifs", "path", "pwd", "shell", "user"]) || v.get(i) == Some(&b'#')
}

/// Does one of the next few arguments (up to a separator) look like an option (`-m`, `--url`)?
fn option_follows(v: &[u8], mut j: usize) -> bool {
    for _ in 0..4 {
        if v.get(j) == Some(&b'-')
            && v.get(j + 1)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-')
        {
            return true;
        }
        let e = v[j.min(v.len())..]
            .iter()
            .take(64)
            .position(|c| *c == b' ' || sep(*c))
            .map_or(v.len(), |p| j + p);
        if v.get(e).is_none_or(|c| sep(*c)) {
            return false;
        }
        j = super::lex::skip_spaces(v, e);
    }
    false
}

/// `/etc/[p]asswd`, `/bi?/sh`, `/[e]tc/..`: a system path written with glob characters.
fn glob_path(v: &[u8], i: usize) -> bool {
    if i > 0 && (is_word(v[i - 1]) || v[i - 1] == b'/') {
        return false;
    }
    let mut j = i;
    let mut glob = false;
    while j < v.len() && j < i + 64 && (word_char(v[j])) {
        if matches!(v[j], b'[' | b'?' | b'*') {
            glob = true;
        }
        j += 1;
    }
    let w = &v[i..j];
    glob && w.len() > 3
        && !w
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'/' | b'[' | b']'))
        && (w.contains(&b'[')
            || w.starts_with(b"/etc/")
            || w.starts_with(b"/bin/")
            || w.starts_with(b"/usr/"))
}

/// `{,ip,a}`, `{l,-lh}s`: bash brace expansion used to run a command without spaces.
fn brace_list(v: &[u8], i: usize) -> bool {
    let mut j = i + 1;
    let mut commas = 0;
    let mut dash = false;
    while j < v.len() && j < i + 64 && v[j] != b'}' {
        match v[j] {
            b',' => {
                commas += 1;
                dash |= v.get(j + 1) == Some(&b'-');
            }
            c if !(is_word(c) || matches!(c, b'-' | b'.' | b'/')) => return false,
            _ => {}
        }
        j += 1;
    }
    v.get(j) == Some(&b'}') && commas > 0 && (v.get(i + 1) == Some(&b',') || dash)
}

#[cfg(test)]
pub(crate) fn tables() -> [&'static [&'static str]; 5] {
    [UNIX, WEAK, PREFIX, SHELL_CALLS, SHELL_METHODS]
}
