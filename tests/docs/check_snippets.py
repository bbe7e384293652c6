#!/usr/bin/env python3
"""Checks that every code block in docs/*.md is taken verbatim from a program in examples/.

A program marks a region with `// [docs:NAME]` ... `// [/docs:NAME]`; a docs block must equal
one region (after removing the common indentation). Since CTest builds and runs every example,
a block that matches cannot rot. Exits non-zero and names each block that matches nothing."""
import pathlib
import re
import sys
import textwrap

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
regions = {}
for src in sorted((root / "examples").rglob("*.cpp")) + sorted((root / "examples").rglob("*.hpp")):
    text = src.read_text()
    for m in re.finditer(r"^[ \t]*// \[docs:([\w-]+)\]\n(.*?)^[ \t]*// \[/docs:\1\]", text, re.S | re.M):
        regions[(src.name, m.group(1))] = textwrap.dedent(m.group(2)).strip()

bad = 0
blocks = 0
for doc in sorted((root / "docs").glob("*.md")):
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", doc.read_text(), re.S | re.M):
        lang, body = m.group(1), textwrap.dedent(m.group(2)).strip()
        if lang in ("sh", "bash", "console", "text", "json"):
            continue  # commands and output, not library code
        blocks += 1
        if body not in regions.values():
            bad += 1
            first = body.splitlines()[0] if body else "<empty>"
            print(f"{doc.name}: code block starting {first!r} is not a region of any examples/ program")
print(f"{blocks - bad} passed, {bad} failed")
sys.exit(1 if bad or blocks == 0 else 0)
