#!/usr/bin/env python3
"""Fails when the core's top-level modules import each other in a circle.

Reads every `crate::<module>` path in filter/core/src (comments and `#[cfg(test)]` modules left
out: tests may reach anywhere), builds the graph of top-level modules and prints each circle
with the files that close it. Exit 0 when there is none, 1 otherwise.

    python3 filter/core/check_imports.py
"""

import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent / "src"
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def module_of(path: pathlib.Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs")


def code_lines(text: str):
    """The lines outside comments and before the first test module."""
    text = text.split("#[cfg(test)]", 1)[0]
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        yield number, line.split("//", 1)[0]


def graph():
    edges = {}
    where = {}
    for path in sorted(SRC.rglob("*.rs")):
        if path.name == "tests.rs":
            continue
        source = module_of(path)
        edges.setdefault(source, set())
        for number, line in code_lines(path.read_text(encoding="utf-8")):
            for match in PATH.finditer(line):
                target = match.group(1)
                if target != source:
                    edges[source].add(target)
                    where.setdefault((source, target), f"{path.relative_to(SRC)}:{number}")
    return edges, where


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
            if w not in edges:
                continue
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
    edges, where = graph()
    found = circles(edges)
    if not found:
        print(f"core imports: {len(edges)} modules, no circle")
        return 0
    for component in found:
        print("core imports: a circle through " + ", ".join(component), file=sys.stderr)
        for a in component:
            for b in sorted(edges[a]):
                if b in component:
                    print(f"  {a} -> {b} ({where[(a, b)]})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
