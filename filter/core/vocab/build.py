#!/usr/bin/env python3
"""Rebuild the detector vocabularies in this folder from their sources.

Python 3 standard library only. Every subcommand writes one or two data files next to this
script (or into --out) and prints their entry counts and sizes. README.md beside this file
says, for each file, where it comes from, the selection rule, and how to rerun it.

    build.py unix        [--cache DIR]                    unix_commands.txt
    build.py windows     [--wine-src PATH] [--cache DIR]  windows_commands.txt
    build.py powershell  --powershell TREE                powershell_verbs.txt, powershell_aliases.txt
    build.py paths       --crs TREE                       sensitive_paths.txt
    build.py ssrf        [--cloud-init TREE ...]          ssrf_hosts.txt
    build.py oob         [--interactsh TREE]              oob_domains.txt
    build.py schemes                                      url_schemes.txt
    build.py debug                                        debug_paths.txt
    build.py leaks       --crs TREE                       leak_database_errors.txt, leak_error_classes.txt
    build.py sources                                      the curated entries and their citations (markdown)
    build.py check                                        format check of every data file (no network)

`unix`, `windows` and `ssrf` (without --cloud-init) use Debian's own clients (apt-get download,
apt-get source, dpkg-deb) on a Debian bookworm machine with its package lists updated
(`apt-get update`). A TREE is a local copy of a public repository: a work tree, or a bare git
directory (its HEAD is read). Nothing else is fetched from the network.

Data file format: UTF-8; header lines start with "# " (what the file is, its source, the
snapshot of that source, the command that rebuilt it); then one entry per line, lower-case,
sorted by byte order, unique.
"""
import argparse
import email.utils
import gzip
import io
import os
import re
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = "python3 filter/core/vocab/build.py"

# Names kept in the command vocabularies: two or more of these characters, the first a letter
# or digit.
NAME_RE = re.compile(r"[a-z0-9][a-z0-9._+-]+")


# ---------------------------------------------------------------------------------------------
# helpers


def run(cmd, **kw):
    """Run a command and return its standard output as text (errors abort the build)."""
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"build.py: {' '.join(cmd[:4])} ... failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return r.stdout


def run_bytes(cmd):
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"build.py: {' '.join(cmd[:4])} ... failed ({r.returncode}):\n{r.stderr[-2000:]!r}")
    return r.stdout


def have(tool):
    return subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode == 0


def byte_sorted(entries):
    return sorted(set(entries), key=lambda s: s.encode("utf-8"))


def write_vocab(out_dir, fname, title, header, entries):
    """Write one data file: '# ' header lines, then the entries sorted by byte order, unique."""
    entries = byte_sorted(entries)
    for e in entries:
        if not e or e != e.strip() or "\n" in e or e.startswith("#"):
            sys.exit(f"build.py: {fname}: bad entry {e!r}")
    path = os.path.join(out_dir, fname)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# {fname}: {title}\n")
        for line in header:
            f.write(f"# {line}\n")
        for e in entries:
            f.write(e + "\n")
    print(f"{fname}: {len(entries)} entries, {os.path.getsize(path)} bytes")
    return entries


class Tree:
    """A local copy of a repository: a work tree, or a bare git directory (as `fetch` leaves it),
    or an unpacked package tree (no git)."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        if not os.path.isdir(self.path):
            sys.exit(f"build.py: {path} is not a directory")
        self.bare = os.path.isfile(os.path.join(self.path, "HEAD")) and os.path.isdir(
            os.path.join(self.path, "objects")
        )
        if self.bare:
            self.git = ["git", "--git-dir", self.path]
        elif os.path.exists(os.path.join(self.path, ".git")):
            self.git = ["git", "-C", self.path]
        else:
            self.git = None

    def read(self, rel):
        if not self.bare:
            p = os.path.join(self.path, rel)
            if not os.path.isfile(p):
                sys.exit(f"build.py: {rel} not found under {self.path}")
            with open(p, encoding="utf-8", errors="replace") as f:
                return f.read()
        return run(self.git + ["show", f"HEAD:{rel}"])

    def files(self, prefix):
        if self.bare:
            out = run(self.git + ["ls-tree", "-r", "--name-only", "HEAD", prefix])
            return [l for l in out.splitlines() if l]
        base = os.path.join(self.path, prefix)
        found = []
        for root, _dirs, names in os.walk(base):
            for n in names:
                found.append(os.path.relpath(os.path.join(root, n), self.path))
        return sorted(found)

    def snapshot(self, url=None):
        where = url or self.path
        if self.git:
            c = run(self.git + ["log", "-1", "--format=%H %cs"]).split()
            return f"{where} at commit {c[0]} (committed {c[1]})"
        return f"{where} (unpacked files, no commit recorded)"


# ---------------------------------------------------------------------------------------------
# Debian: package index, downloads, contents


def debian_snapshot():
    """The Release files apt has for this machine's Debian suites: codename, version, date."""
    parts = []
    for p in sorted(os.listdir("/var/lib/apt/lists")):
        if not p.endswith("_InRelease"):
            continue
        f = {}
        with open(os.path.join("/var/lib/apt/lists", p), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        if text.startswith("-----BEGIN PGP SIGNED MESSAGE-----"):
            text = text.split("\n\n", 1)[1]
        for line in text.split("\n"):
            if not line.strip():
                break
            if ":" in line and line[0] not in " \t":
                k, v = line.split(":", 1)
                f[k] = v.strip()
        if "Codename" in f:
            date = email.utils.parsedate_to_datetime(f["Date"]).date().isoformat() if "Date" in f else "?"
            parts.append((f["Codename"], f"{f['Codename']} {f.get('Version', '')} (Release file of {date})"))
    if not parts:
        sys.exit("build.py: no Debian InRelease files: run apt-get update first")
    return "Debian " + ", ".join(p for _c, p in sorted(parts))


def parse_stanzas(text):
    for st in text.split("\n\n"):
        f, key = {}, None
        for line in st.split("\n"):
            if line[:1] in (" ", "\t") and key:
                f[key] += " " + line.strip()
            elif ":" in line:
                key, v = line.split(":", 1)
                f[key] = v.strip()
        if "Package" in f:
            yield f


def newer(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0


def package_index():
    """The newest version of every package in the Debian archive's Packages indexes apt has
    fetched (apt-get indextargets). Installed packages (dpkg status) and other origins' versions
    are not candidates here, unlike `apt-cache dumpavail`."""
    out = run(["apt-get", "indextargets", "--format", "$(FILENAME)", "Identifier: Packages"])
    pk, provides = {}, {}
    for fn in sorted(l for l in out.splitlines() if l):
        if not os.path.exists(fn):
            continue
        for f in parse_stanzas(run(["/usr/lib/apt/apt-helper", "cat-file", fn])):
            n = f["Package"]
            if n in pk and not newer(f["Version"], pk[n]["Version"]):
                continue
            pk[n] = f
    if not pk:
        sys.exit("build.py: no Debian Packages index: run apt-get update first")
    for n, f in pk.items():
        for p in f.get("Provides", "").split(","):
            p = p.strip().split(" ")[0]
            if p:
                provides.setdefault(p, set()).add(n)
    return pk, provides


def dependency_closure(roots, pk, provides):
    """roots plus everything they Depend/Pre-Depend on, recursively (what `apt-get install
    --no-install-recommends` would install): of alternatives `a | b` the first that resolves;
    a virtual package resolves to a provider already chosen, else the first by name."""
    sel = set(roots)
    todo = sorted(sel)

    def pick(alts):
        for a in alts:
            a = a.strip().split(" ")[0].split(":")[0]
            if a in pk:
                return a
            if a in provides:
                ps = sorted(provides[a])
                chosen = [p for p in ps if p in sel]
                return (chosen or ps)[0]
        return None

    while todo:
        n = todo.pop()
        for fld in ("Pre-Depends", "Depends"):
            for dep in pk[n].get(fld, "").split(","):
                if not dep.strip():
                    continue
                p = pick(dep.split("|"))
                if p and p not in sel:
                    sel.add(p)
                    todo.append(p)
    return sel


def deb_path(cache, pk, name):
    f = pk[name]
    arch = f.get("Architecture", "all")
    for cand in (
        f"{name}_{f['Version'].replace(':', '%3a')}_{arch}.deb",
        os.path.basename(f.get("Filename", "")),
    ):
        p = os.path.join(cache, cand)
        if cand and os.path.isfile(p):
            return p
    return None


def download(cache, pk, names):
    """apt-get download the candidate .deb of each package into cache (kept between runs)."""
    os.makedirs(cache, exist_ok=True)
    missing = [n for n in sorted(names) if not deb_path(cache, pk, n)]
    for i in range(0, len(missing), 150):
        batch = missing[i : i + 150]
        print(f"apt-get download: {len(batch)} packages ({i + len(batch)}/{len(missing)})", file=sys.stderr)
        run(["apt-get", "download", "-q", *(f"{n}={pk[n]['Version']}" for n in batch)], cwd=cache)
    paths = {}
    for n in names:
        p = deb_path(cache, pk, n)
        if not p:
            sys.exit(f"build.py: apt-get download left no .deb for {n}")
        paths[n] = p
    return paths


def deb_contents(deb):
    """Paths in a .deb's data (dpkg-deb -c): [(path, is_dir)] with paths like ./usr/bin/x."""
    out = []
    for line in run(["dpkg-deb", "-c", deb]).splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6:
            continue
        path = parts[5].split(" -> ")[0].split(" link to ")[0]
        out.append((path, parts[0].startswith("d")))
    return out


def deb_member(deb, member, control=False):
    """One file from a .deb's data (or control) archive, as bytes; None if absent."""
    data = run_bytes(["dpkg-deb", "--ctrl-tarfile" if control else "--fsys-tarfile", deb])
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t.getmembers():
            if m.name.lstrip("./") == member.lstrip("./") and m.isfile():
                return t.extractfile(m).read()
    return None


# ---------------------------------------------------------------------------------------------
# unix_commands.txt

UNIX_PRIORITIES = ("required", "important", "standard")

# Packages added to the Priority required/important/standard set: what attackers run after a
# shell injection. Reviewed by hand; each must exist in Debian bookworm main (a missing one is
# reported and skipped). Their dependencies come along (see dependency_closure).
UNIX_EXTRA_PACKAGES = {
    "interpreters and shells": [
        "python3", "python-is-python3", "perl", "ruby", "php-cli", "nodejs", "npm", "lua5.4",
        "tcl", "gawk", "busybox", "ksh", "zsh", "tcsh", "csh", "fish", "expect",
        "default-jre-headless", "python3-pip", "pipx",
    ],
    "network clients": [
        "curl", "wget", "netcat-openbsd", "netcat-traditional", "ncat", "socat", "telnet", "ftp",
        "tnftp", "tftp-hpa", "openssh-client", "sshpass", "rsync", "lftp", "aria2", "httpie",
        "lynx", "w3m", "bind9-dnsutils", "iputils-ping", "iproute2", "net-tools", "traceroute",
        "whois", "smbclient", "ldap-utils", "snmp", "tcpdump", "openssl", "gnupg", "tor",
        "torsocks", "proxychains4", "mariadb-client", "postgresql-client", "redis-tools",
        "sqlite3",
    ],
    "archive and encoding tools": [
        "tar", "zip", "unzip", "bzip2", "xz-utils", "zstd", "p7zip", "p7zip-full", "gzip", "cpio",
        "lz4", "sharutils", "xxd",
    ],
    "compilers, debuggers, build and VCS": [
        "gcc", "g++", "make", "binutils", "gdb", "strace", "ltrace", "git", "golang-go", "rustc",
        "cargo",
    ],
    "devops and cloud CLIs": [
        "docker.io", "docker-compose", "podman", "kubernetes-client", "awscli", "azure-cli",
        "python3-openstackclient", "s3cmd", "rclone", "gh", "ansible-core", "sudo", "opendoas",
        "cron", "at", "screen", "tmux", "vim", "nano",
    ],
    "recon and offensive tools": [
        "nmap", "masscan", "hping3", "arp-scan", "dnsrecon", "whatweb", "nbtscan", "ncrack",
        "medusa", "hydra", "john", "hashcat", "sqlmap", "dirb", "gobuster", "ffuf", "tshark",
        "python3-impacket",
    ],
}

# Toolchain names prefixed with a GNU triplet duplicate the plain names (gcc, ld, objdump).
TRIPLET_RE = re.compile(r"[a-z0-9_]+-linux-gnu[a-z0-9_]*-")
BIN_DIRS = {"./bin", "./sbin", "./usr/bin", "./usr/sbin"}
ALT_RE = re.compile(r"--(?:install|slave)\s+(\S+)\s+(\S+)\s+(\S+)")
JINFO_RE = re.compile(r"^(?:hl|jre|jdk|jrehl|jdkhl)\s+(\S+)\s+(\S+)", re.M)


VAR_RE = re.compile(r"\$\{?(\w+)\}?")


def alternatives_links(postinst, files):
    """Command names an `update-alternatives --install/--slave LINK NAME TARGET` in a
    maintainer script creates in a bin directory. A LINK built from shell variables
    (/usr/bin/${binary}) is resolved by matching its TARGET pattern (/usr/bin/${binary}8.2)
    against the package's own files; one whose variables stay unbound is skipped."""
    text = postinst.replace("\\\n", " ")
    names, skipped = set(), 0
    for link, _name, target in ALT_RE.findall(text):
        link, target = link.replace('"', "").replace("'", ""), target.replace('"', "").replace("'", "")
        if "$" not in link:
            bound = [{}]
        else:
            pattern, seen, pos = "", set(), 0
            for m in VAR_RE.finditer(target):
                pattern += re.escape(target[pos : m.start()])
                v = m.group(1)
                pattern += f"(?P={v})" if v in seen else f"(?P<{v}>[^\\s]+?)"
                seen.add(v)
                pos = m.end()
            pattern += re.escape(target[pos:])
            rx = re.compile(pattern)
            bound = [m.groupdict() for f in files if (m := rx.fullmatch(f))]
        resolved = False
        for values in bound:
            path = VAR_RE.sub(lambda m: values.get(m.group(1), "$"), link)
            if "$" in path:
                continue
            resolved = True
            if "." + os.path.dirname(path) in BIN_DIRS:
                names.add(os.path.basename(path))
        skipped += not resolved
    return names, skipped


def roff_text(s):
    return s.replace("\\&", "").replace("\\-", "-").replace("\\e", "\\")


def dash_words(man):
    """dash(1): top-level items of the 'Builtins' list and the 'Reserved Words' table."""
    lines = man.split("\n")
    builtins, reserved = [], []
    i = lines.index(".Ss Builtins")
    depth = 0
    for l in lines[i + 1 :]:
        if l.startswith((".Ss", ".Sh")):
            break
        if l.startswith(".Bl"):
            depth += 1
        elif l.startswith(".El"):
            depth -= 1
        elif depth == 1 and l.startswith(".It"):
            w = l.split()[1:]
            if w and w[0] == "Xo":
                w = w[1:]
            if w:
                builtins += roff_text(w[0]).split("|")
    i = lines.index(".Ss Reserved Words")
    for l in lines[i + 1 :]:
        if l.startswith((".Ss", ".Sh")):
            break
        if l.startswith(".It"):
            reserved += [roff_text(w) for w in l.split()[1:] if w != "Ta"]
    if len(builtins) < 20:
        sys.exit("build.py: dash(1) builtins section not understood")
    return builtins + reserved


def zsh_words(builtins_man, misc_man):
    """zshbuiltins(1): the first bold word of each top-level .TP item; zshmisc(1): the
    'RESERVED WORDS' paragraph."""
    out, rs, want = [], 0, False
    for l in builtins_man.split("\n"):
        if l.startswith(".RS"):
            rs += 1
        elif l.startswith(".RE"):
            rs -= 1
        elif l.startswith(".TP"):
            want = rs == 0
        elif l.startswith(".PD"):
            continue
        elif want:
            m = re.match(r"\\fB(.*?)\\fP", l)
            if m:
                w = roff_text(m.group(1)).split()
                if w:
                    out.append(w[0])
            want = False
    m = re.search(r'\.SH "RESERVED WORDS"\n(.*?)\n\.SH', misc_man, re.S)
    if not m:
        sys.exit("build.py: zshmisc(1) RESERVED WORDS section not found")
    para = re.search(r"\\fB(.*?)\\fP", m.group(1), re.S)
    out += roff_text(para.group(1)).split()
    if len(out) < 80:
        sys.exit("build.py: zshbuiltins(1) not understood")
    return out


def man_page(deb, path):
    data = deb_member(deb, path)
    if data is None:
        sys.exit(f"build.py: {path} not in {deb}")
    return gzip.decompress(data).decode("utf-8", errors="replace")


def cmd_unix(args):
    snap = debian_snapshot()
    pk, provides = package_index()
    roots = {n for n, f in pk.items() if f.get("Priority") in UNIX_PRIORITIES}
    n_priority = len(roots)
    extras = [p for group in UNIX_EXTRA_PACKAGES.values() for p in group]
    for p in extras:
        if p in pk:
            roots.add(p)
        else:
            print(f"warning: {p} is not in the package index; skipped", file=sys.stderr)
    sel = dependency_closure(roots, pk, provides)
    print(f"{n_priority} priority packages + {len(extras)} listed -> {len(sel)} with dependencies",
          file=sys.stderr)
    debs = download(args.cache, pk, sel)

    names, skipped = set(), 0

    def scan(pkg):
        deb = debs[pkg]
        found, jinfo = set(), []
        contents = deb_contents(deb)
        files = [p[1:] for p, d in contents if not d]
        for path, is_dir in contents:
            if not is_dir and os.path.dirname(path) in BIN_DIRS:
                found.add(os.path.basename(path))
            if re.match(r"\./usr/lib/jvm/\.[^/]+\.jinfo$", path):
                jinfo.append(path)
        post = deb_member(deb, "postinst", control=True)
        alt, skip = alternatives_links(post.decode("utf-8", "replace"), files) if post else (set(), 0)
        found |= alt
        for j in jinfo:
            found |= {n for n, _p in JINFO_RE.findall(deb_member(deb, j).decode())}
        return found, skip

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as ex:
        for found, skip in ex.map(scan, sorted(sel)):
            names |= found
            skipped += skip
    if skipped:
        print(f"note: {skipped} update-alternatives links left unresolved (shell variables)",
              file=sys.stderr)

    bash_version = run(["bash", "-c", "echo $BASH_VERSION"]).strip()
    shell = run(["bash", "-c", "compgen -b; compgen -k"]).split()
    for pkg in ("dash", "zsh-common"):
        if pkg not in debs:
            sys.exit(f"build.py: {pkg} is not in the selection")
    shell += dash_words(man_page(debs["dash"], "usr/share/man/man1/dash.1.gz"))
    shell += zsh_words(
        man_page(debs["zsh-common"], "usr/share/man/man1/zshbuiltins.1.gz"),
        man_page(debs["zsh-common"], "usr/share/man/man1/zshmisc.1.gz"),
    )
    names |= set(shell)
    kept = [n for n in names
            if NAME_RE.fullmatch(n) and not TRIPLET_RE.match(n) and n not in SETARCH_ALIASES]
    write_vocab(
        args.out, "unix_commands.txt", "command names a Unix shell injection would run",
        [
            f"source: the files in /bin /sbin /usr/bin /usr/sbin (and update-alternatives links"
            f" their postinst creates there) of {len(sel)} Debian packages: Priority"
            f" required/important/standard ({n_priority}) plus build.py's UNIX_EXTRA_PACKAGES,"
            f" with their Depends/Pre-Depends; read with apt-get download + dpkg-deb",
            f"source: shell builtins and reserved words: bash {bash_version} compgen -b/-k,"
            f" dash {pk['dash']['Version']} dash(1), zsh {pk['zsh-common']['Version']}"
            f" zshbuiltins(1)/zshmisc(1)",
            f"snapshot: {snap}",
            "rule: names of 2+ characters of [a-z0-9._+-] starting with a letter or digit; GNU"
            " triplet-prefixed toolchain aliases (x86_64-linux-gnu-gcc) and setarch's"
            " architecture links (x86_64, i386, linux32, linux64, uname26: they read as"
            " architecture names in text) dropped (README.md)",
            f"rebuild: {SCRIPT} unix",
        ],
        kept,
    )


# ---------------------------------------------------------------------------------------------
# windows_commands.txt

SETARCH_ALIASES = {"i386", "linux32", "linux64", "uname26", "x86_64"}


WINE_EXE_RE = re.compile(r"\./usr/lib/[^/]+/wine/[^/]+-windows/([^/]+)\.exe$")
INBUILT_RE = re.compile(r"inbuilt\s*\[\s*\]\s*\[\s*\w+\s*\]\s*=\s*\{(.*?)\};", re.S)

# Windows console programs Wine does not ship, from Microsoft's "Windows commands" reference
# (https://learn.microsoft.com/windows-server/administration/windows-commands/windows-commands,
# source MicrosoftDocs/windowsserverdocs WindowsServerDocs/administration/windows-commands/
# windows-commands.md, A-Z list): only those attackers use for download, execution, discovery,
# credential access or defence evasion. name -> the page it is documented on.
MS_DOCS = "https://learn.microsoft.com/windows-server/administration/windows-commands/"
WINDOWS_DOCS_SUPPLEMENT = {
    "auditpol": "auditpol", "bcdboot": "bcdboot", "bcdedit": "bcdedit", "bitsadmin": "bitsadmin",
    "certreq": "certreq_1", "cipher": "cipher", "cmdkey": "cmdkey", "cmstp": "cmstp",
    "diskpart": "diskpart", "diskshadow": "diskshadow", "dnscmd": "dnscmd",
    "driverquery": "driverquery", "forfiles": "forfiles", "ftp": "ftp", "getmac": "getmac",
    "gpresult": "gpresult", "klist": "klist", "ksetup": "ksetup", "ktpass": "ktpass",
    "makecab": "makecab", "mmc": "mmc", "mountvol": "mountvol", "msdt": "msdt",
    "nbtstat": "nbtstat", "nltest": "nltest (previous-versions page)", "nslookup": "nslookup",
    "openfiles": "openfiles", "pathping": "pathping", "pnputil": "pnputil",
    "pwsh": "pwsh (about_pwsh page)", "qprocess": "qprocess", "query": "query", "quser": "quser",
    "qwinsta": "qwinsta", "rexec": "rexec", "route": "route_ws2008", "rsh": "rsh",
    "rwinsta": "rwinsta", "setspn": "setspn", "sfc": "sfc", "takeown": "takeown",
    "telnet": "telnet", "tftp": "tftp", "timeout": "timeout", "tracert": "tracert",
    "tree": "tree", "tskill": "tskill", "vssadmin": "vssadmin", "waitfor": "waitfor",
    "wbadmin": "wbadmin", "wecutil": "wecutil", "winrs": "winrs",
}


def wine_source(args, pk):
    """Wine's programs/cmd sources: from --wine-src (a source tree or a .tar.* of one), else
    Debian's wine source package fetched with apt-get source (deb-src lists kept in the cache,
    the machine's apt configuration untouched)."""
    src = args.wine_src
    if not src:
        base = os.path.join(args.cache, "wine-src")
        lists = os.path.join(base, "lists")
        os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
        sl = os.path.join(base, "sources.list")
        with open(sl, "w") as f:
            f.write("deb-src http://deb.debian.org/debian bookworm main\n"
                    "deb-src http://deb.debian.org/debian bookworm-updates main\n"
                    "deb-src http://deb.debian.org/debian-security bookworm-security main\n")
        opts = ["-o", f"Dir::Etc::SourceList={sl}", "-o", "Dir::Etc::SourceParts=/dev/null",
                "-o", f"Dir::State::Lists={lists}", "-o", "Dir::Cache::pkgcache=",
                "-o", "Dir::Cache::srcpkgcache="]
        run(["apt-get", *opts, "update", "-q"])
        run(["apt-get", *opts, "source", "--download-only", "-q", "wine"], cwd=base)
        tars = sorted(p for p in os.listdir(base) if ".orig.tar." in p)
        if not tars:
            sys.exit("build.py: apt-get source wine left no .orig.tar")
        src = os.path.join(base, tars[-1])
    files = {}
    if os.path.isdir(src):
        cmd_dir = os.path.join(src, "programs", "cmd")
        for n in sorted(os.listdir(cmd_dir)):
            if n.endswith((".c", ".h")):
                with open(os.path.join(cmd_dir, n), encoding="utf-8", errors="replace") as f:
                    files[n] = f.read()
        version = open(os.path.join(src, "VERSION")).read().strip() if os.path.exists(
            os.path.join(src, "VERSION")) else os.path.basename(os.path.abspath(src))
    else:
        with tarfile.open(src) as t:
            for m in t.getmembers():
                if re.search(r"(^|/)programs/cmd/[^/]+\.[ch]$", m.name) and m.isfile():
                    files[os.path.basename(m.name)] = t.extractfile(m).read().decode("utf-8", "replace")
        version = os.path.basename(src)
    return files, version


def cmd_windows(args):
    snap = debian_snapshot()
    pk, _prov = package_index()
    deb = download(args.cache, pk, ["libwine"])["libwine"]
    exes = {m.group(1).lower() for p, _d in deb_contents(deb) if (m := WINE_EXE_RE.match(p))}
    programs = {e for e in exes if not e.startswith("wine")}
    files, wine_version = wine_source(args, pk)
    builtins = set()
    for name, text in files.items():
        m = INBUILT_RE.search(text)
        if m:
            builtins |= {w.lower() for w in re.findall(r'L"([^"]+)"', m.group(1))}
    if len(builtins) < 30:
        sys.exit("build.py: Wine's cmd inbuilt[] table not found in programs/cmd")
    names = programs | builtins | set(WINDOWS_DOCS_SUPPLEMENT)
    kept = [n for n in names if NAME_RE.fullmatch(n)]
    write_vocab(
        args.out, "windows_commands.txt", "cmd.exe builtins and Windows console programs",
        [
            f"source: Windows programs Wine reimplements: the *.exe in Debian libwine"
            f" {pk['libwine']['Version']} (dpkg-deb -c), less Wine's own wine* tools",
            f"source: cmd.exe builtins: the inbuilt[] table of Wine's programs/cmd ({wine_version})",
            "source: build.py WINDOWS_DOCS_SUPPLEMENT, each named in Microsoft's Windows"
            " commands reference (learn.microsoft.com/windows-server/administration/windows-commands)",
            f"snapshot: {snap}",
            "rule: lower-case, without .exe; names of 2+ characters made of [a-z0-9._+-]",
            f"rebuild: {SCRIPT} windows",
        ],
        kept,
    )


# ---------------------------------------------------------------------------------------------
# powershell_verbs.txt, powershell_aliases.txt

PS_REPO = "https://github.com/PowerShell/PowerShell"
PS_VERBS = "src/System.Management.Automation/utils/Verbs.cs"
PS_ISS = "src/System.Management.Automation/engine/InitialSessionState.cs"
PS_VERB_CLASSES = ("VerbsCommon", "VerbsData", "VerbsLifecycle", "VerbsDiagnostic",
                   "VerbsCommunications", "VerbsSecurity", "VerbsOther")


def cmd_powershell(args):
    tree = Tree(args.powershell)
    snap = tree.snapshot(PS_REPO)
    text = tree.read(PS_VERBS)
    verbs = set()
    for cls in PS_VERB_CLASSES:
        m = re.search(r"public static class " + cls + r"\b(.*?)(?=\n\s*(?:public|internal) static class )",
                      text, re.S)
        if not m:
            sys.exit(f"build.py: class {cls} not found in {PS_VERBS}")
        verbs |= {v.lower() for v in re.findall(r'public const string \w+ = "(\w+)";', m.group(1))}
    write_vocab(
        args.out, "powershell_verbs.txt", "PowerShell approved cmdlet verbs (Get-Verb)",
        [
            f"source: {PS_VERBS}, public const strings of classes {', '.join(PS_VERB_CLASSES)}",
            f"snapshot: {snap}",
            "rule: every verb, lower-case",
            f"rebuild: {SCRIPT} powershell --powershell <PowerShell/PowerShell checkout>",
        ],
        verbs,
    )
    text = tree.read(PS_ISS)
    m = re.search(r"BuiltInAliases\s*\{(.*?)\n\s*\};", text, re.S)
    if not m:
        sys.exit(f"build.py: BuiltInAliases not found in {PS_ISS}")
    aliases = {a.lower() for a in re.findall(r'new SessionStateAliasEntry\("([^"]+)"', m.group(1))}
    dropped = sorted(a for a in aliases if not NAME_RE.fullmatch(a))
    write_vocab(
        args.out, "powershell_aliases.txt", "PowerShell built-in aliases (iex, iwr, irm, ...)",
        [
            f"source: {PS_ISS}, InitialSessionState.BuiltInAliases (every #if branch)",
            f"snapshot: {snap}",
            f"rule: alias names, lower-case, 2+ characters of [a-z0-9._+-] (dropped: {' '.join(dropped)})",
            f"rebuild: {SCRIPT} powershell --powershell <PowerShell/PowerShell checkout>",
        ],
        aliases - set(dropped),
    )


# ---------------------------------------------------------------------------------------------
# sensitive_paths.txt

CRS_REPO = "https://github.com/coreruleset/coreruleset"
CRS_FILES = ("rules/lfi-os-files.data", "rules/restricted-files.data")

# An entry without a directory part (after a leading "/") is dropped when its name is one of
# these: a web application's ordinary manifest, lock, build or log file that requests name
# innocently (CRS lists them because serving them from the web root leaks information, which
# is a different question from a parameter naming them).
GENERIC_NAME_RE = re.compile(
    r"config([._-](dev|prod|sample|test))?\.(asp|ini|json|php|py|rb|toml|txt|xml|yaml|yml)")
GENERIC_NAMES = {
    "bower.json", "build.zig.zon", "cargo.toml", "compose.yaml", "compose.yml", "composer.json",
    "composer.lock", "coverage.xml", "debug.log", "desktop.ini", "dockerfile", "error.log",
    "errors.log", "go.mod", "go.sum", "gruntfile.js", "npm-debug.log", "package-lock.json",
    "package.json", "packages.json", "phpcs.xml", "phpcs.xml.dist", "pyproject.toml",
    "pytest.ini", "routing.yml", "services.yml", "setup.py", "thumbs.db", "webpack.config.js",
    "yarn-debug.log", "yarn-error.log", "yarn.lock",
}

# Credential and configuration files of cloud and container CLIs, and Windows/IIS files, from
# the tools' own documentation. (path, documentation page). "~/" is the user's home directory.
CLOUD_PATHS = [
    ("~/.aws/credentials", "https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html; default of credentials_file in awscli/botocore/configprovider.py (Debian awscli 2.9.19)"),
    ("~/.aws/config", "https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html; default of config_file in awscli/botocore/configprovider.py (Debian awscli 2.9.19)"),
    ("~/.aws/sso/cache/", "https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sso.html"),
    ("~/.aws/cli/cache/", "https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-role.html"),
    ("~/.kube/config", "https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/"),
    ("/var/run/secrets/kubernetes.io/serviceaccount/token", "https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/"),
    ("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", "https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/"),
    ("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/"),
    ("~/.docker/config.json", "https://docs.docker.com/reference/cli/docker/#configuration-files"),
    ("/var/run/docker.sock", "https://docs.docker.com/engine/security/#docker-daemon-attack-surface"),
    ("~/.config/gcloud/application_default_credentials.json", "https://cloud.google.com/docs/authentication/application-default-credentials"),
    ("~/.config/gcloud/credentials.db", "https://cloud.google.com/sdk/docs/authorizing"),
    ("~/.config/gcloud/access_tokens.db", "https://cloud.google.com/sdk/docs/authorizing"),
    ("~/.config/gcloud/legacy_credentials/", "https://cloud.google.com/sdk/docs/authorizing"),
    ("~/.azure/msal_token_cache", "azure/cli/core/auth/identity.py (Debian python3-azure-cli-core 2.45): token cache, .json or .bin appended; https://learn.microsoft.com/cli/azure/msal-based-azure-cli"),
    ("~/.azure/accesstokens.json", "token file of Azure CLI before 2.30 (ADAL), replaced by msal_token_cache: https://learn.microsoft.com/cli/azure/msal-based-azure-cli"),
    ("~/.azure/azureprofile.json", "azure/cli/core/_profile.py (Debian python3-azure-cli-core 2.45)"),
    ("~/.azure/service_principal_entries", "azure/cli/core/auth/identity.py (Debian python3-azure-cli-core 2.45): service principal secrets, .json or .bin appended"),
    ("~/.oci/config", "https://docs.oracle.com/iaas/Content/API/Concepts/sdkconfig.htm"),
    ("~/.aliyun/config.json", "https://www.alibabacloud.com/help/en/cli/configure-credentials"),
    ("~/.config/doctl/config.yaml", "https://docs.digitalocean.com/reference/doctl/reference/"),
    ("~/.config/hcloud/cli.toml", "https://github.com/hetznercloud/cli/blob/main/docs/tutorials/setup-hcloud-cli.md"),
    ("~/.terraform.d/credentials.tfrc.json", "https://developer.hashicorp.com/terraform/cli/config/config-file"),
    ("~/.vault-token", "https://developer.hashicorp.com/vault/docs/commands/token-helper"),
    ("~/.config/gh/hosts.yml", "https://cli.github.com/manual/gh_help_environment"),
    ("~/.pypirc", "https://packaging.python.org/specifications/pypirc/"),
    ("windows/system32/inetsrv/config/applicationhost.config", "https://learn.microsoft.com/iis/get-started/planning-your-iis-architecture/introduction-to-applicationhostconfig"),
    ("windows/microsoft.net/framework/v4.0.30319/config/machine.config", "https://learn.microsoft.com/dotnet/framework/configure-apps/#machine-configuration-files"),
    ("windows/microsoft.net/framework64/v4.0.30319/config/machine.config", "https://learn.microsoft.com/dotnet/framework/configure-apps/#machine-configuration-files"),
    ("windows/system32/drivers/etc/hosts", "https://learn.microsoft.com/troubleshoot/windows-server/networking/reset-hosts-file"),
    ("windows/system32/config/sam", "https://learn.microsoft.com/windows/win32/sysinfo/registry-hives"),
    ("windows/system32/config/security", "https://learn.microsoft.com/windows/win32/sysinfo/registry-hives"),
    ("windows/system32/config/system", "https://learn.microsoft.com/windows/win32/sysinfo/registry-hives"),
    ("windows/repair/sam", "https://learn.microsoft.com/windows/win32/sysinfo/registry-hives"),
    ("windows/panther/unattend.xml", "https://learn.microsoft.com/windows-hardware/manufacture/desktop/windows-setup-automation-overview"),
]


def normalise_path(p):
    p = p.strip().lower().replace("\\", "/")
    while "//" in p:
        p = p.replace("//", "/")
    return p


def generic(p):
    rest = p[1:] if p.startswith("/") else p
    if "/" in rest.rstrip("/"):
        return False
    name = rest.rstrip("/")
    return name in GENERIC_NAMES or bool(GENERIC_NAME_RE.fullmatch(name))


def cmd_paths(args):
    tree = Tree(args.crs)
    snap = tree.snapshot(CRS_REPO)
    crs, dropped = set(), set()
    for rel in CRS_FILES:
        for line in tree.read(rel).splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            p = normalise_path(line)
            (dropped if generic(p) else crs).add(p)
    entries = crs | {normalise_path(p) for p, _doc in CLOUD_PATHS}
    print(f"CRS: {len(crs) + len(dropped)} unique entries, {len(dropped)} generic dropped",
          file=sys.stderr)
    write_vocab(
        args.out, "sensitive_paths.txt",
        "paths and file names a file inclusion attack reads",
        [
            f"source: OWASP CRS {' and '.join(CRS_FILES)} (Apache-2.0)",
            f"snapshot: {snap}",
            "source: build.py CLOUD_PATHS: cloud/container CLI credential files and Windows/IIS"
            " files, each from its tool's documentation (README.md lists the pages)",
            "rule: lower-case, '\\' read as '/', leading '/' or '~/' as in the source; a bare"
            " name in build.py GENERIC_NAMES or config[-_.](dev|prod|sample|test).EXT is dropped",
            f"rebuild: {SCRIPT} paths --crs <coreruleset checkout>",
        ],
        entries,
    )


# ---------------------------------------------------------------------------------------------
# debug_paths.txt

# Debugging, profiling and status endpoints that frameworks and servers document, as the path
# segments that start them (matched at a segment start of the request path, ending where a
# segment ends). (entry, documentation page). Generic names a real API serves (`health`,
# `info`, `metrics`, `status`, Spring Boot's other root-level 1.x endpoints such as `beans` or
# `env`) are left out: only names that are the framework's own. API descriptions (`v3/api-docs`,
# `graphiql`) and a proxied search engine's own API (`_cat/`) are served to real users.
SPRING_ACTUATOR_IDS = [
    "auditevents", "beans", "caches", "conditions", "configprops", "env", "flyway", "health",
    "heapdump", "httpexchanges", "httptrace", "info", "integrationgraph", "jolokia", "liquibase",
    "logfile", "loggers", "mappings", "metrics", "prometheus", "quartz", "sbom", "scheduledtasks",
    "sessions", "shutdown", "startup", "threaddump", "trace",
]
SPRING_DOC = "https://docs.spring.io/spring-boot/reference/actuator/endpoints.html"
# Endpoints platforms call on every instance: load balancers and Kubernetes probes (`health`,
# `info`) and Prometheus scrapes (`prometheus`); the index page `actuator` only lists links.
SPRING_SERVED = {"health", "info", "prometheus"}
DEBUG_PATHS = [
    *[(f"actuator/{e}", SPRING_DOC) for e in SPRING_ACTUATOR_IDS if e not in SPRING_SERVED],
    # Spring Boot 1.x served these at the root; only the names no API resource takes.
    ("heapdump", "https://docs.spring.io/spring-boot/docs/1.5.x/reference/html/production-ready-endpoints.html"),
    ("jolokia", "https://docs.spring.io/spring-boot/docs/1.5.x/reference/html/production-ready-jmx.html"),
    ("configprops", "https://docs.spring.io/spring-boot/docs/1.5.x/reference/html/production-ready-endpoints.html"),
    ("autoconfig", "https://docs.spring.io/spring-boot/docs/1.5.x/reference/html/production-ready-endpoints.html"),
    ("threaddump", "https://docs.spring.io/spring-boot/docs/1.5.x/reference/html/production-ready-endpoints.html"),
    ("auditevents", "https://docs.spring.io/spring-boot/docs/1.5.x/reference/html/production-ready-endpoints.html"),
    ("httptrace", "https://docs.spring.io/spring-boot/docs/1.5.x/reference/html/production-ready-endpoints.html"),
    ("logfile", "https://docs.spring.io/spring-boot/docs/1.5.x/reference/html/production-ready-endpoints.html"),
    ("loggers", "https://docs.spring.io/spring-boot/docs/1.5.x/reference/html/production-ready-endpoints.html"),
    ("flyway", "https://docs.spring.io/spring-boot/docs/1.5.x/reference/html/production-ready-endpoints.html"),
    ("liquibase", "https://docs.spring.io/spring-boot/docs/1.5.x/reference/html/production-ready-endpoints.html"),
    ("debug/pprof", "https://pkg.go.dev/net/http/pprof"),
    ("debug/vars", "https://pkg.go.dev/expvar"),
    ("server-status", "https://httpd.apache.org/docs/2.4/mod/mod_status.html"),
    ("server-info", "https://httpd.apache.org/docs/2.4/mod/mod_info.html"),
    ("nginx_status", "https://nginx.org/en/docs/http/ngx_http_stub_status_module.html"),
    ("phpinfo.php", "https://www.php.net/manual/en/function.phpinfo.php"),
    ("_profiler", "https://symfony.com/doc/current/profiler.html"),
    ("_wdt", "https://symfony.com/doc/current/profiler.html"),
    ("telescope", "https://laravel.com/docs/telescope"),
    ("_debugbar", "https://github.com/barryvdh/laravel-debugbar (README: route prefix _debugbar)"),
    ("_ignition", "https://github.com/spatie/laravel-ignition (routes: _ignition/health-check, _ignition/execute-solution)"),
    ("__debug__", "https://django-debug-toolbar.readthedocs.io/en/latest/installation.html"),
    ("rails/info", "https://guides.rubyonrails.org/getting_started.html (rails/info/routes in development)"),
    ("elmah.axd", "https://elmah.github.io/ (ELMAH's handler path)"),
    ("trace.axd", "https://learn.microsoft.com/previous-versions/aspnet/bb386420(v=vs.100)"),
    ("jmx-console", "https://docs.jboss.org/jbossas/docs/Server_Configuration_Guide/4/html/JBoss_JMX_Console.html"),
    ("web-console", "https://docs.jboss.org/jbossas/docs/Server_Configuration_Guide/4/html/Admin_Console.html"),
    ("manager/html", "https://tomcat.apache.org/tomcat-10.1-doc/manager-howto.html"),
    ("manager/text", "https://tomcat.apache.org/tomcat-10.1-doc/manager-howto.html"),
    ("host-manager/html", "https://tomcat.apache.org/tomcat-10.1-doc/host-manager-howto.html"),
    ("console/login/loginform.jsp", "https://docs.oracle.com/middleware/1221/wls/INTRO/console.htm (WebLogic console)"),
]


def cmd_debug(args):
    write_vocab(
        args.out, "debug_paths.txt",
        "debugging, profiling and status endpoints frameworks and servers document",
        [
            "source: build.py DEBUG_PATHS: each entry with its framework's documentation page"
            " (README.md lists them)",
            "rule: lower-case path segments without the leading '/', matched where a request"
            " path segment starts and ending where one ends",
            f"rebuild: {SCRIPT} debug",
        ],
        [e for e, _doc in DEBUG_PATHS],
    )


# ---------------------------------------------------------------------------------------------
# leak_database_errors.txt, leak_error_classes.txt

# CRS's response data files (RESPONSE-951, -952/954 and -956 rules): database error messages,
# .NET exception classes and Ruby error classes.
CRS_LEAK_FILES = ("rules/sql-errors.data", "rules/asp-dotnet-errors.data", "rules/ruby-errors.data")
# CRS matches these with @pm as a prefilter before its own regexes, so some entries are single
# English words ("Error", "Warning", "Driver"). Prefixes ending in "-" or "_" and clauses after
# a quote ("' doesn't exist") are dropped (see leak_entry_kept). An entry is kept when it names
# something only an error shows: it contains a character besides letters and spaces ("ORA-", "pg_query() [:",
# "System.Data.SqlClient.", "ArgumentError:"), or it is one word with two capitals or more
# before a closing Exception or Error ("SQLiteException", not "HttpException"), or it has three
# words or more ("Incorrect syntax near").
CAMEL_ERROR_RE = re.compile(r"[A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*(Exception|Error)")
# Ruby and .NET classes that are database errors.
DATABASE_CLASS_RE = re.compile(r"sql|^pg::|^activerecord::statementinvalid|oledb|odbc")


def leak_entry_kept(e):
    # A prefix CRS completes with a regex ("ORA-" + 5 digits, "db2_" + a function name) matches
    # ordinary identifiers alone; inspect/leaks.rs checks the ones worth keeping. A clause after
    # a quoted name ("' doesn't exist") ends ordinary API messages too ("User 'bob' doesn't
    # exist").
    if e.endswith(("-", "_")) or e.startswith("' "):
        return False
    if re.search(r"[^A-Za-z ]", e):
        return len(e) >= 4
    if CAMEL_ERROR_RE.fullmatch(e):
        return True
    return len(e.split()) >= 3


def cmd_leaks(args):
    tree = Tree(args.crs)
    snap = tree.snapshot(CRS_REPO)
    database, classes, dropped = set(), set(), []
    for rel in CRS_LEAK_FILES:
        for line in tree.read(rel).splitlines():
            e = line.strip()
            if not e or e.startswith("#"):
                continue
            if not leak_entry_kept(e):
                dropped.append(e)
                continue
            low = e.lower()
            if rel.endswith("sql-errors.data") or DATABASE_CLASS_RE.search(low):
                database.add(low)
            else:
                classes.add(low)
    print(f"dropped as too generic: {', '.join(sorted(dropped))}", file=sys.stderr)
    rule = ("rule: prefixes ending in '-' or '_' and clauses after a quote (\"' doesn't exist\")"
            " dropped; kept when the entry has a character besides letters and spaces (4 or more"
            " characters), is one word with two capitals or more before a closing Exception or"
            " Error, or has three"
            " words or more; lower-cased and trimmed")
    rebuild = f"rebuild: {SCRIPT} leaks --crs <coreruleset checkout>"
    write_vocab(
        args.out, "leak_database_errors.txt",
        "database error messages and driver exception names a response shows",
        [f"source: OWASP CRS {CRS_LEAK_FILES[0]} (Apache-2.0), and the database classes of"
         f" {CRS_LEAK_FILES[2]}: {snap}", rule, rebuild],
        database,
    )
    write_vocab(
        args.out, "leak_error_classes.txt",
        ".NET and Ruby exception classes an error page or stack trace shows",
        [f"source: OWASP CRS {CRS_LEAK_FILES[1]} and {CRS_LEAK_FILES[2]} (Apache-2.0): {snap}",
         rule + "; database classes go to leak_database_errors.txt", rebuild],
        classes,
    )


# ---------------------------------------------------------------------------------------------
# ssrf_hosts.txt

CLOUD_INIT_REPO = "https://github.com/canonical/cloud-init"
URL_LITERAL_RE = re.compile(r"""["']https?://(\[[^\]]+\]|[A-Za-z0-9.%_-]+)""")
ENDPOINT_CONST_RE = re.compile(
    r"""^[A-Z_]*(?:ENDPOINT|ADDRESS|ADDR|IP)[A-Z_]*\s*=\s*["']((?:\d{1,3}\.){3}\d{1,3})["']""", re.M)
# Hosts cloud-init names that are not network addresses: LXD's dev-lxd API is reached over the
# /dev/lxd/sock unix socket (DataSourceLXD.py).
CLOUD_INIT_NOT_NETWORK = {"lxd"}

# Addresses and names cloud-init does not carry, each with the page or source file naming it.
# A name starting with "." is a suffix: every name under it.
SSRF_CURATED = [
    ("169.254.170.2", "AWS ECS/Fargate task metadata and credentials endpoint: ContainerMetadataFetcher.IP_ADDRESS in awscli/botocore/utils.py (Debian awscli 2.9.19) and boto/botocore botocore/utils.py"),
    ("169.254.170.23", "AWS EKS Pod Identity agent: botocore/utils.py ContainerMetadataFetcher._ALLOWED_HOSTS (boto/botocore)"),
    ("fd00:ec2::23", "AWS EKS Pod Identity agent (IPv6): botocore/utils.py ContainerMetadataFetcher._ALLOWED_HOSTS (boto/botocore)"),
    ("fd20:ce::254", "GCP metadata server over IPv6: https://cloud.google.com/compute/docs/metadata/querying-metadata"),
    ("metadata", "GCP metadata server by its short name (resolved through the instance's search domain): https://cloud.google.com/compute/docs/metadata/querying-metadata"),
    ("metadata.tencentyun.com", "Tencent Cloud CVM instance metadata: https://www.tencentcloud.com/document/product/213/4934"),
    ("192.0.0.192", "Oracle Cloud Infrastructure Classic instance metadata: https://docs.oracle.com/en/cloud/iaas-classic/compute-iaas-cloud/stcsg/retrieving-instance-metadata.html"),
    ("kubernetes.default", "Kubernetes API from a pod: https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/"),
    ("kubernetes.default.svc", "Kubernetes API from a pod: https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/"),
    ("kubernetes.default.svc.cluster.local", "Kubernetes DNS for Services: https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/"),
    (".svc.cluster.local", "Kubernetes Service names: https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/"),
    (".cluster.local", "Kubernetes default cluster domain: https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/"),
    (".internal", "TLD reserved for private use, ICANN Board resolution 2024.07.29.06: https://www.icann.org/en/board-activities-and-meetings/materials/approved-resolutions-special-meeting-of-the-icann-board-29-07-2024-en (GCP VM names, AWS ec2.internal/compute.internal)"),
    ("localhost", "RFC 6761 section 6.3: https://www.rfc-editor.org/rfc/rfc6761#section-6.3"),
    (".localhost", "RFC 6761 section 6.3: https://www.rfc-editor.org/rfc/rfc6761#section-6.3"),
    (".local", "RFC 6762 (multicast DNS): https://www.rfc-editor.org/rfc/rfc6762"),
    (".home.arpa", "RFC 8375: https://www.rfc-editor.org/rfc/rfc8375"),
    ("localhost.localdomain", "Fedora/RHEL setup package /etc/hosts: https://pagure.io/setup/blob/master/f/hosts"),
    ("localhost4", "Fedora/RHEL setup package /etc/hosts: https://pagure.io/setup/blob/master/f/hosts"),
    ("localhost4.localdomain4", "Fedora/RHEL setup package /etc/hosts: https://pagure.io/setup/blob/master/f/hosts"),
    ("localhost6", "Fedora/RHEL setup package /etc/hosts: https://pagure.io/setup/blob/master/f/hosts"),
    ("localhost6.localdomain6", "Fedora/RHEL setup package /etc/hosts: https://pagure.io/setup/blob/master/f/hosts"),
    ("ip6-localhost", "Debian /etc/hosts as written by the installer (netcfg) and by Docker (moby libnetwork/etchosts/etchosts.go)"),
    ("ip6-loopback", "Debian /etc/hosts as written by the installer (netcfg) and by Docker (moby libnetwork/etchosts/etchosts.go)"),
    ("host.docker.internal", "Docker Desktop networking: https://docs.docker.com/desktop/features/networking/"),
    ("gateway.docker.internal", "Docker Desktop networking: https://docs.docker.com/desktop/features/networking/"),
    ("kubernetes.docker.internal", "Docker Desktop Kubernetes (entry it adds to the hosts file): https://docs.docker.com/desktop/features/kubernetes/"),
    ("host.containers.internal", "Podman: podman-run(1) --add-host / host.containers.internal, https://docs.podman.io/en/latest/markdown/podman-run.1.html"),
    ("localtest.me", "public name resolving to 127.0.0.1: https://readme.localtest.me/"),
    ("lvh.me", "public name resolving to 127.0.0.1 (\"local virtual host\"), used in SSRF filter bypasses"),
    (".nip.io", "wildcard DNS mapping any embedded IP (10.0.0.1.nip.io): https://nip.io/"),
    (".xip.io", "wildcard DNS mapping any embedded IP, the service nip.io replaced: http://xip.io/"),
    ("localh.st", "resolves to 127.0.0.1 with every subdomain: https://localh.st/"),
    (".localh.st", "resolves to 127.0.0.1 with every subdomain: https://localh.st/"),
    ("vcap.me", "resolves to 127.0.0.1 with every subdomain (Cloud Foundry's local domain): https://docs.cloudfoundry.org/"),
    (".vcap.me", "resolves to 127.0.0.1 with every subdomain (Cloud Foundry's local domain): https://docs.cloudfoundry.org/"),
    (".traefik.me", "wildcard DNS mapping any embedded IP: https://traefik.me/"),
    (".1u.ms", "DNS rebinding service (make-<ip>-rr.1u.ms answers with the embedded address): https://github.com/neex/1u.ms"),
    ("rancher-metadata", "Rancher's metadata service by name: https://rancher.com/docs/rancher/v1.6/en/rancher-services/metadata-service/"),
    (".sslip.io", "wildcard DNS mapping any embedded IP: https://sslip.io/"),
]


def debian_cloud_init(args):
    pk, _prov = package_index()
    deb = download(args.cache, pk, ["cloud-init"])["cloud-init"]
    dest = os.path.join(args.cache, "cloud-init-" + pk["cloud-init"]["Version"].replace(":", "_"))
    if not os.path.isdir(dest):
        run(["dpkg-deb", "-x", deb, dest])
    return (os.path.join(dest, "usr/lib/python3/dist-packages"),
            f"Debian cloud-init {pk['cloud-init']['Version']} ({debian_snapshot()})")


def normalise_host(h):
    h = h.strip("[]").lower()
    h = re.sub(r"%25.*$", "", h)  # IPv6 zone (fe80::...%25{iface})
    return h.rstrip(".")


def cmd_ssrf(args):
    trees = []
    if args.cloud_init:
        for p in args.cloud_init:
            t = Tree(p)
            trees.append((t, t.snapshot(CLOUD_INIT_REPO if t.git else None)))
    if not args.cloud_init or args.with_debian:
        root, snap = debian_cloud_init(args)
        trees.append((Tree(root), snap))
    hosts = {}
    for tree, snap in trees:
        for rel in tree.files("cloudinit/sources"):
            if not rel.endswith(".py") or "/tests/" in rel:
                continue
            text = tree.read(rel)
            code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
            found = [normalise_host(h) for h in URL_LITERAL_RE.findall(code)]
            found += ENDPOINT_CONST_RE.findall(code)
            for h in found:
                if "{" in h or "%" in h or h in CLOUD_INIT_NOT_NETWORK:
                    continue
                # keep addresses and names that are not on the public DNS: IP literals and
                # single-label or .internal names; public names in literals are doc links
                if re.fullmatch(r"[\d.]+|[0-9a-f:]+", h) or "." not in h or h.endswith(".internal"):
                    hosts.setdefault(h, f"cloud-init {rel}")
    entries = set(hosts) | {h for h, _src in SSRF_CURATED}
    for h, src in sorted(hosts.items()):
        print(f"  {h:28} {src}", file=sys.stderr)
    write_vocab(
        args.out, "ssrf_hosts.txt",
        "cloud metadata and cluster-internal host names and addresses (SSRF targets)",
        [f"source: metadata endpoints in cloud-init's datasources (cloudinit/sources): {s}"
         for _t, s in trees]
        + [
            "source: build.py SSRF_CURATED, each with its documentation page (README.md)",
            "rule: cloud-init: hosts of http(s) URL literals and *ENDPOINT*/*ADDRESS* IPv4"
            " constants that are IP literals, single-label or .internal names; IPv6 without"
            " brackets or zone; a leading '.' marks a suffix",
            f"rebuild: {SCRIPT} ssrf --cloud-init <canonical/cloud-init checkout> --with-debian",
        ],
        entries,
    )


# ---------------------------------------------------------------------------------------------
# oob_domains.txt

INTERACTSH_REPO = "https://github.com/projectdiscovery/interactsh"
INTERACTSH_FILE = "pkg/client/client.go"
INTERACTSH_DEFAULT = ["oast.pro", "oast.live", "oast.site", "oast.online", "oast.fun", "oast.me"]

# Out-of-band interaction services, each with the tool source or documentation naming it.
OOB_CURATED = [
    # Request bins (webhook.site, pipedream.net, requestbin.net) are left out: developers point
    # webhook settings at them, so a URL to one is no sign of an attack.
    ("interact.sh", "projectdiscovery/interactsh README.md ('interactsh-server -domain interact.sh', the project's own server)"),
    ("oastify.com", "Burp Suite Collaborator public server (PortSwigger): https://portswigger.net/burp/documentation/collaborator"),
    ("burpcollaborator.net", "Burp Suite Collaborator public server, earlier domain (PortSwigger): https://portswigger.net/burp/documentation/collaborator"),
    ("odiss.eu", "zaproxy/zap-extensions addOns/oast/src/main/java/org/zaproxy/addon/oast/services/boast/BoastParam.java (default BOAST server https://odiss.eu:2096/events)"),
    ("wapiti3.ovh", "wapiti-scanner/wapiti wapitiCore/parsers/commandline.py (--endpoint default https://wapiti3.ovh/, --dns-endpoint default dns.wapiti3.ovh)"),
    ("ceye.io", "knownsec/pocsuite3 pocsuite3/modules/ceye/__init__.py (api.ceye.io, <id>.ceye.io)"),
    ("dnslog.cn", "dnslog.cn's API (http://www.dnslog.cn/getdomain.php) as called by public PoC scanners"),
    ("canarytokens.com", "Thinkst Canarytokens public service: https://docs.canarytokens.org/ (thinkst/canarytokens)"),
    ("bxss.me", "Acunetix/Invicti AcuMonitor out-of-band payload domain (seen in Acunetix scans)"),
    ("xss.ht", "XSS Hunter (legacy public instance) payload domain: https://github.com/mandatoryprogrammer/xsshunter"),
]


def cmd_oob(args):
    if args.interactsh:
        tree = Tree(args.interactsh)
        text = tree.read(INTERACTSH_FILE)
        m = re.search(r'DefaultOptions\s*=\s*&Options\{.*?ServerURL:\s*"([^"]+)"', text, re.S)
        if not m:
            sys.exit(f"build.py: DefaultOptions.ServerURL not found in {INTERACTSH_FILE}")
        servers = [s.strip().lower() for s in m.group(1).split(",") if s.strip()]
        src = f"{INTERACTSH_FILE} DefaultOptions.ServerURL, {tree.snapshot(INTERACTSH_REPO)}"
    else:
        servers = INTERACTSH_DEFAULT
        src = f"{INTERACTSH_FILE} DefaultOptions.ServerURL as recorded in build.py (pass --interactsh to reread)"
    write_vocab(
        args.out, "oob_domains.txt",
        "out-of-band interaction domains scanners use for blind SSRF/injection",
        [
            f"source: interactsh default servers: {src}",
            "source: build.py OOB_CURATED, each with the tool source or page naming it (README.md)",
            "rule: registrable domains, lower-case; a payload host is any name under one",
            f"rebuild: {SCRIPT} oob --interactsh <projectdiscovery/interactsh checkout>",
        ],
        set(servers) | {d for d, _s in OOB_CURATED},
    )


# ---------------------------------------------------------------------------------------------
# url_schemes.txt

def cmd_schemes(args):
    schemes, used = {}, []
    if not have("curl"):
        sys.exit("build.py: curl is required (apt-get install curl)")
    out = run(["curl", "--version"])
    ver = out.split("\n")[0].split()[1]
    m = re.search(r"^Protocols: (.*)$", out, re.M)
    for s in m.group(1).split():
        schemes.setdefault(s.lower(), []).append("curl")
    rd = re.search(r"^Release-Date: (.*)$", out, re.M)
    used.append(f"curl {ver} (curl --version Protocols; Release-Date {rd.group(1) if rd else '?'})")
    if have("php"):
        out = run(["php", "-r", 'echo PHP_VERSION, "\\n", implode("\\n", stream_get_wrappers()), "\\n";'])
        lines = out.split()
        for s in lines[1:]:
            schemes.setdefault(s.lower(), []).append("php")
        used.append(f"PHP {lines[0]} stream_get_wrappers()")
    else:
        print("warning: php not found: PHP stream wrappers skipped (apt-get install php-cli)", file=sys.stderr)
    if have("java"):
        mods = [l.split("@")[0] for l in run(["java", "--list-modules"]).split()]
        found = set()
        for mod in mods:
            d = run(["java", "--describe-module", mod])
            found |= set(re.findall(r"\bsun\.net\.www\.protocol\.([a-z0-9]+)", d))
            found |= set(re.findall(r"\bcom\.sun\.jndi\.url\.([a-z0-9]+)", d))
        for s in found:
            schemes.setdefault(s, []).append("java")
        jv = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.split("\n")[0]
        used.append(f"Java {jv.strip()} URL handler packages sun.net.www.protocol.* and JNDI"
                    f" URL contexts com.sun.jndi.url.* (java --describe-module)")
    else:
        print("warning: java not found: Java URL handlers skipped", file=sys.stderr)
    import urllib.request
    py = sorted(k for k in urllib.request.build_opener().handle_open if k != "unknown")
    for s in py:
        schemes.setdefault(s, []).append("python")
    used.append(f"Python {sys.version.split()[0]} urllib.request.build_opener() open handlers")
    for s, who in sorted(schemes.items()):
        print(f"  {s:14} {' '.join(who)}", file=sys.stderr)
    write_vocab(
        args.out, "url_schemes.txt",
        "URL schemes a server-side fetcher follows (SSRF and inclusion)",
        [f"source: {u}" for u in used]
        + [
            "rule: every scheme one of these fetchers supports, lower-case (README.md says which)",
            f"rebuild: {SCRIPT} schemes",
        ],
        schemes,
    )


# ---------------------------------------------------------------------------------------------
# sources, check


def read_vocab(out_dir, fname):
    with open(os.path.join(out_dir, fname), encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]


def cmd_words(args):
    """Commands that are also English words: the detectors ask for shell-shaped context around
    them (`; more stuff` is prose, `; more /etc/passwd` is not)."""
    dictionary = "/usr/share/dict/web2"
    if not os.path.isfile(dictionary):
        sys.exit(f"build.py: {dictionary} is missing (apt-get install miscfiles)")
    with open(dictionary, encoding="utf-8", errors="replace") as f:
        english = {w.strip().lower() for w in f if w.strip()}
    commands = set()
    for fname in ("unix_commands.txt", "windows_commands.txt", "powershell_aliases.txt"):
        commands.update(read_vocab(args.out, fname))
    version = run(["dpkg-query", "-W", "-f=${Version}", "miscfiles"]).strip()
    write_vocab(
        args.out,
        "command_words.txt",
        "command names that are also English words (they need shell-shaped context)",
        [
            f"source: unix_commands.txt, windows_commands.txt and powershell_aliases.txt beside this file, "
            f"each entry kept when {dictionary} (Webster's Second International, Debian miscfiles {version}) lists it",
            "rule: lower-case comparison; the dictionary's own entries are not copied otherwise",
            "rebuild: python3 filter/core/vocab/build.py words (after unix, windows and powershell)",
        ],
        sorted(c for c in commands if c in english),
    )


def cmd_sources(_args):
    print("| entry | documented at |\n| --- | --- |")
    for name, page in sorted(WINDOWS_DOCS_SUPPLEMENT.items()):
        print(f"| `{name}` | {MS_DOCS}{page} |")
    for title, rows in (("sensitive_paths.txt", CLOUD_PATHS), ("ssrf_hosts.txt", SSRF_CURATED),
                        ("oob_domains.txt", OOB_CURATED), ("debug_paths.txt", DEBUG_PATHS)):
        print(f"\n{title}\n\n| entry | source |\n| --- | --- |")
        for e, src in rows:
            print(f"| `{e}` | {src} |")


def cmd_check(args):
    total, bad = 0, 0
    for n in sorted(os.listdir(args.out)):
        if not n.endswith(".txt"):
            continue
        path = os.path.join(args.out, n)
        raw = open(path, "rb").read()
        total += len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            print(f"{n}: not UTF-8")
            bad += 1
            continue
        lines = text.split("\n")
        if lines[-1] != "":
            print(f"{n}: no final newline")
            bad += 1
        lines = lines[:-1]
        head = [l for l in lines if l.startswith("#")]
        body = lines[len(head):]
        errs = []
        if not head or any(not l.startswith("# ") for l in head):
            errs.append("header lines must start with '# '")
        if any(l.startswith("#") for l in body):
            errs.append("header lines after entries")
        if not any(l.startswith("# rebuild: ") for l in head):
            errs.append("no '# rebuild:' header")
        if any(not l or l != l.strip() for l in body):
            errs.append("empty or padded entry")
        if any(l != l.lower() for l in body):
            errs.append("upper-case entry")
        if body != byte_sorted(body):
            errs.append("entries not sorted by byte order or not unique")
        for e in errs:
            print(f"{n}: {e}")
        bad += bool(errs)
        print(f"{n}: {len(body)} entries, {len(raw)} bytes{'' if not errs else ' (FAILED)'}")
    print(f"total: {total} bytes")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE, help="folder for the data files (default: beside this script)")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/actorwatch-vocab"),
                    help="downloaded .deb and source packages are kept here")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("unix")
    w = sub.add_parser("windows")
    w.add_argument("--wine-src", help="Wine source tree or tarball (default: apt-get source wine)")
    p = sub.add_parser("powershell")
    p.add_argument("--powershell", required=True, help="PowerShell/PowerShell checkout or git dir")
    p = sub.add_parser("paths")
    p.add_argument("--crs", required=True, help="coreruleset/coreruleset checkout or git dir")
    p = sub.add_parser("ssrf")
    p.add_argument("--cloud-init", action="append", help="cloud-init tree (repeatable)")
    p.add_argument("--with-debian", action="store_true",
                   help="also read Debian's cloud-init package when --cloud-init is given")
    p = sub.add_parser("oob")
    p.add_argument("--interactsh", help="projectdiscovery/interactsh checkout or git dir")
    sub.add_parser("schemes")
    sub.add_parser("debug")
    p = sub.add_parser("leaks")
    p.add_argument("--crs", required=True, help="coreruleset/coreruleset checkout or git dir")
    sub.add_parser("words")
    sub.add_parser("sources")
    sub.add_parser("check")
    args = ap.parse_args()
    fn = {"unix": cmd_unix, "windows": cmd_windows, "powershell": cmd_powershell,
          "paths": cmd_paths, "ssrf": cmd_ssrf, "oob": cmd_oob, "schemes": cmd_schemes, "debug": cmd_debug, "leaks": cmd_leaks, "words": cmd_words,
          "sources": cmd_sources, "check": cmd_check}[args.cmd]
    sys.exit(fn(args) or 0)


if __name__ == "__main__":
    main()
