"""Where the bytes of a .wasm go: code bytes by crate (actorwatch crates by top-level module),
the data section, and the largest functions, as markdown.

Needs a build that keeps the `name` section, for example:
  CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=false \
    cargo build --release --target wasm32-wasip1 -p actorwatch-filter
  python3 bench/wasm_sizes.py target/wasm32-wasip1/release/actorwatch_filter.wasm

Symbols are demangled roughly (legacy `_ZN` and v0 `_R`): a function belongs to the crate of the
first path segment; for `<Type as Trait>` impls, to Type's crate unless Type is from core, alloc
or std (or a bare type parameter), then to Trait's crate (serde's generic code instantiated for
a std type counts as serde); `drop_in_place<T>` to T's crate. Other monomorphized generics count
where their code is defined, not for the crate that instantiated them. Unnamed or unmangled functions other than the proxy-wasm ABI
exports count as "other" (wasi-libc's allocator and memcpy, for example)."""
import gzip, re, sys
from collections import defaultdict

SECTIONS = {0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
            7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "data count"}
STD = {"core", "alloc", "std"}
OWN = {"actorwatch_core", "actorwatch_filter"}
LEGACY = [("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$RF$", "&"), ("$C$", ","), ("$LP$", "("), ("$RP$", ")"),
          ("$BP$", "*"), ("$SP$", "@"), ("$u7b$", "{"), ("$u7d$", "}"), ("$u5b$", "["), ("$u5d$", "]"),
          ("$u27$", "'"), ("$u3b$", ";"), ("$u22$", '"'), ("$u7e$", "~"), ("$u21$", "!"), ("..", "::")]


def leb(data, i):
    result = shift = 0
    while data[i] & 0x80:
        result, shift, i = result | (data[i] & 0x7F) << shift, shift + 7, i + 1
    return result | data[i] << shift, i + 1


def parse(data):
    """Section sizes, code body sizes by function index, function names by index."""
    assert data[:4] == b"\0asm", "not a wasm module"
    sections, bodies, names, imported = [], [], {}, 0
    i = 8
    while i < len(data):
        sid, (size, j) = data[i], leb(data, i + 1)
        end = j + size
        label = SECTIONS.get(sid, str(sid))
        if sid == 0:
            n, k = leb(data, j)
            cname = data[k:k + n].decode("utf-8", "replace")
            label = f"custom `{cname}`"
            if cname == "name":
                k += n
                while k < end:
                    sub, k = data[k], k + 1
                    sub_size, k = leb(data, k)
                    if sub == 1:
                        count, m = leb(data, k)
                        for _ in range(count):
                            idx, m = leb(data, m)
                            ln, m = leb(data, m)
                            names[idx] = data[m:m + ln].decode("utf-8", "replace")
                            m += ln
                    k += sub_size
        elif sid == 2:  # imported functions come first in the function index space
            count, k = leb(data, j)
            for _ in range(count):
                for _ in range(2):
                    n, k = leb(data, k)
                    k += n
                kind, k = data[k], k + 1
                if kind == 0:
                    imported += 1
                    _, k = leb(data, k)
                elif kind in (1, 2):  # table (element type first) or memory: limits
                    k += kind == 1
                    flags, k = leb(data, k)
                    for _ in range(1 + (flags & 1)):
                        _, k = leb(data, k)
                else:  # global: value type and mutability
                    k += 2
        elif sid == 10:
            count, k = leb(data, j)
            for _ in range(count):
                n, m = leb(data, k)
                bodies.append(m - k + n)
                k = m + n
        sections.append((label, end - i))
        i = end
    return sections, bodies, names, imported


def legacy_segments(sym):
    segs, i = [], 3
    while m := re.match(r"\d+", sym[i:]):
        i += m.end()
        segs.append(sym[i:i + int(m.group())])
        i += int(m.group())
    return segs[:-1] if segs and re.fullmatch(r"h[0-9a-f]{16}", segs[-1]) else segs


def unescape(s):
    for a, b in LEGACY:
        s = s.replace(a, b)
    return s[1:] if s.startswith("_<") else s


def attribute_path(path):
    """(crate, module) of a demangled path, looking into `<Type as Trait>` and drop glue."""
    m = re.match(r"<(.+?) as (.+)>$", path) or re.match(r"<(.+?)>$", path)
    if m:
        ty = re.sub(r"^(?:[&*]|mut |const |dyn )+", "", m.group(1))
        ty_crate = ty.split("::")[0] if "::" in ty else None
        if ty_crate and ty_crate not in STD or m.lastindex == 1:
            return attribute_path(ty) if ty_crate else ("other", None)
        return attribute_path(m.group(2))
    if path.startswith("core::ptr::drop_in_place<"):  # drop glue counts for the dropped type
        inner = [c for c in re.findall(r"(?<![\w:])(\w+)::(\w+)", path[25:]) if c[0] not in STD]
        if inner:
            return inner[0]
    parts = re.split(r"::|<", path)
    return parts[0], (parts[1] if len(parts) > 1 else None)


def v0_words(sym):
    """The identifiers of a v0 symbol in order (skipping disambiguators, back-references and
    constants), and the position of the first crate root among them."""
    words, i, crate = [], 2, None
    while i < len(sym):
        m = re.match(r"C(s[0-9A-Za-z]*_)?(?=\d)|[sB][0-9A-Za-z]*_|K[a-z][0-9a-f]*_", sym[i:]) if sym[i] in "CsBK" else None
        if m:
            i += m.end()
            if m.group(0)[0] == "C" and crate is None:
                crate = len(words)
            continue
        m = re.match(r"u?(\d+)_?", sym[i:])
        if not m:
            i += 1
            continue
        i += m.end()
        words.append(sym[i:i + int(m.group(1))])
        i += int(m.group(1))
    return words, crate or 0


def demangle(sym):
    """(readable name, crate, top-level module or None)."""
    if sym.startswith("_ZN"):
        segs = [unescape(s) for s in legacy_segments(sym)]
        if not segs:
            return sym, "other", None
        name = "::".join(segs)
        crate, module = attribute_path(name if not segs[0].startswith("<") else segs[0])
        return name, crate, module
    if sym.startswith("_R"):
        words, root = v0_words(sym)
        if not words:
            return sym, "other", None
        return "::".join(words), words[root], (words[root + 1] if root + 1 < len(words) else None)
    if re.match(r"proxy_(on|abi)_", sym):
        return sym, "proxy_wasm", "exports"
    return sym, "other", None


def main():
    path = sys.argv[1]
    data = open(path, "rb").read()
    sections, bodies, names, imported = parse(data)
    if not names:
        sys.exit(f"{path}: no name section (build with CARGO_PROFILE_RELEASE_STRIP=false)")
    stripped = sum(s for label, s in sections if not label.startswith("custom"))
    print(f"`{path.split('/')[-1]}`: {len(data):,} bytes with custom sections; {stripped:,} bytes without "
          f"(gzip -9 {len(gzip.compress(data, 9)):,} with them).\n")
    print("| section | bytes |\n|---|---:|")
    for label, size in sections:
        print(f"| {label} | {size:,} |")
    by_crate, by_module, count, funcs = defaultdict(int), defaultdict(int), defaultdict(int), []
    for k, size in enumerate(bodies):
        sym = names.get(imported + k, "")
        name, crate, module = demangle(sym) if sym else ("(unnamed)", "other", None)
        crate = crate if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", crate) else "other"
        by_crate[crate] += size
        count[crate] += 1
        if crate in OWN:
            by_module[f"{crate}::{module or '(root)'}"] += size
        funcs.append((size, name, crate))
    print(f"\nCode by crate ({len(bodies):,} functions, {sum(bodies):,} bytes of bodies); share of the "
          f"module without custom sections ({stripped:,} bytes):\n")
    print("| crate | functions | code bytes | share |\n|---|---:|---:|---:|")
    for crate, size in sorted(by_crate.items(), key=lambda x: -x[1]):
        print(f"| {crate} | {count[crate]:,} | {size:,} | {100 * size / stripped:.1f}% |")
    data_bytes = sum(s for label, s in sections if label == "data")
    print(f"| (data section: strings, tables, statics) | - | {data_bytes:,} | {100 * data_bytes / stripped:.1f}% |")
    print("\nOur crates by top-level module:\n\n| module | code bytes |\n|---|---:|")
    for module, size in sorted(by_module.items(), key=lambda x: -x[1]):
        print(f"| {module} | {size:,} |")
    print("\nThe 20 largest functions:\n\n| bytes | crate | function |\n|---:|---|---|")
    for size, name, crate in sorted(funcs, reverse=True)[:20]:
        short = name if len(name) <= 110 else name[:107] + "..."
        print(f"| {size:,} | {crate} | `{short.replace('|', '/')}` |")


if __name__ == "__main__":
    main()
