#!/usr/bin/env python3
"""Copies the scorecard's tables (target/scorecard/scorecard.md, written by `make scorecard`)
into bench/README.md between its scorecard markers."""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- scorecard: begin -->", "<!-- scorecard: end -->"


def main():
    tables = (ROOT / "target/scorecard/scorecard.md").read_text(encoding="utf-8")
    readme = ROOT / "bench/README.md"
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        sys.exit("bench/README.md: the scorecard markers are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    # The scorecard's headings sit one level under the section's.
    body = tables.replace("\n### ", "\n#### ").strip()
    readme.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
