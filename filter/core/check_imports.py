#!/usr/bin/env python3
"""Fails when the core's layers import upward or sideways, when modules import each other in a
circle, or when a file grows past 500 lines without saying why at its top.

The layers are the folders of filter/core/src, lowest first (ARCHITECTURE.md, "Layers"):

    base < model < protocol < {count, inspect, deliver} < drive

A file may name (`crate::<layer>::...`) its own layer or a lower one. The three layers of one
rank are independent of each other: each can be compiled out alone. Within a layer, its modules
(`crate::<layer>::<module>`) import each other without a circle. `lib.rs` is the facade and may
name anything. Comments and `#[cfg(test)]` modules are left out: tests may reach anywhere.

A file over 500 lines states its reason at its top, in its module comment, as a sentence with
"One file of about N lines" (for example count/table/mod.rs).

    python3 filter/core/check_imports.py [SRC]

SRC defaults to filter/core/src (filter/core/test_check_imports.py gives trees of its own).
Exit 0 when all holds, 1 otherwise, naming the file and line of each fault.
"""

import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent / "src"
RANK = {
    "base": 0,
    "model": 1,
    "protocol": 2,
    "count": 3,
    "inspect": 3,
    "deliver": 3,
    "drive": 4,
}
MAX_LINES = 500
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?")
REASON = re.compile(r"one file of about \d[\d,]* lines", re.IGNORECASE)


def place(rel: pathlib.PurePath):
    """(layer, module) of a source file, from its path below the source root; (None, None)
    for the facade."""
    if len(rel.parts) == 1:
        return None, None
    layer = rel.parts[0]
    module = rel.parts[1].removesuffix(".rs") if len(rel.parts) > 1 else layer
    return layer, module


def code_lines(text: str):
    """The lines outside comments and before the first test module."""
    text = text.split("#[cfg(test)]", 1)[0]
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        yield number, line.split("//", 1)[0]


def module_comment(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("//!"):
            lines.append(line[3:].strip())
        elif lines or line.strip():
            break
    return " ".join(lines)


def scan(src=None):
    src = src or SRC
    faults = []
    edges = {}
    where = {}
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        if lines > MAX_LINES and not REASON.search(module_comment(text)):
            faults.append(f"{rel}: {lines} lines, and no reason at its top ('One file of about N lines ...')")
        layer, module = place(rel)
        if layer is None:
            continue
        if layer not in RANK:
            faults.append(f"{rel}: folder {layer!r} is not a layer (add it to RANK and ARCHITECTURE.md)")
            continue
        if path.name == "tests.rs":
            continue
        for number, line in code_lines(text):
            for match in PATH.finditer(line):
                target, target_module = match.group(1), match.group(2)
                if target not in RANK:
                    faults.append(f"{rel}:{number}: crate::{target} is not a layer")
                    continue
                if target != layer:
                    if RANK[target] >= RANK[layer]:
                        way = "sideways" if RANK[target] == RANK[layer] else "upward"
                        faults.append(f"{rel}:{number}: {layer} imports {target} ({way})")
                    continue
                if target_module and target_module != module:
                    key = (layer, module, target_module)
                    edges.setdefault((layer, module), set()).add((layer, target_module))
                    where.setdefault(key, f"{rel}:{number}")
    return faults, edges, where


def circles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main():
    faults, edges, where = scan(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    for component in circles(edges):
        names = ", ".join(f"{layer}::{module}" for layer, module in component)
        faults.append(f"a circle through {names}")
        for a in component:
            for b in sorted(edges.get(a, ())):
                if b in component:
                    faults.append(f"  {a[0]}::{a[1]} -> {b[1]} ({where[(a[0], a[1], b[1])]})")
    if faults:
        for fault in faults:
            print("core layers: " + fault, file=sys.stderr)
        return 1
    modules = {m for pair in edges for m in [pair]} | {m for targets in edges.values() for m in targets}
    print(f"core layers: {len(RANK)} layers, {len(modules)} modules importing each other, no upward import, no circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
