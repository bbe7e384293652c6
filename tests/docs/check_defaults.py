#!/usr/bin/env python3
"""Checks every default that docs/*.md states against the code.

A page marks a default by putting `<!-- default: KEY -->` right after the value, e.g.
`shards of 16 <!-- default: data_parallel.shard_size -->samples`. The value is the last token
before the marker on its line: a `code span`, a number or a word. KEY is looked up in what
print_defaults (a program that reads the library's option structs) prints, or, for keys
starting with `dm.`, in the defaults that `dm <command> --help` shows (`dm.train.lr` is the
`--lr` of `dm train`). A marker with an unknown key or a value that differs fails the check,
and so does a line that speaks of a default and holds a number but no marker, so that a new
default cannot be written down unchecked.

Usage: check_defaults.py ROOT PRINT_DEFAULTS [DM]"""
import pathlib
import re
import subprocess
import sys

MARKER = re.compile(r"<!--\s*default:\s*([\w.-]+)\s*-->")
VALUE_AT_END = re.compile(r"(?:`([^`]+)`|([-+\w.:]+))[\s*_)]*$")


def library_defaults(printer):
    out = subprocess.run([printer], check=True, capture_output=True, text=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())


def cli_defaults(dm, command):
    """The defaults CLI11 prints after each option of `dm COMMAND --help` (`--lr FLOAT=0.02`), by option name."""
    out = subprocess.run([dm, *command.split(), "--help"], check=True, capture_output=True, text=True).stdout
    found = {}
    for m in re.finditer(r"^\s+(?:-\w,)?--([\w-]+) \S*?=(\S+)", out, re.M):
        found[m.group(1).replace("-", "_")] = m.group(2)
    return found, out


# Defaults of dm that are rules rather than one option's value: read from the help text.
HELP_RULES = {
    "dm.train.shard_min": ("train", r"max\((\d+), half the batch"),
    "dm.train.shard_whole_batch_mparams": ("train", r"whole batch for models of (\d+)M parameters"),
    "dm.train.cnn_lr": ("train", r"cnn: \w+ at ([\d.]+) for"),
    "dm.train.cnn_epochs": ("train", r"cnn: \w+ at [\d.]+ for (\d+) epochs"),
    "dm.train.vit_lr": ("train", r"vit: \w+ at ([\d.]+) for"),
    "dm.train.vit_epochs": ("train", r"vit: \w+ at [\d.]+ for (\d+) epochs"),
}


def same(stated, actual):
    try:
        a, b = float(stated), float(actual)
        return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)
    except ValueError:
        return stated == actual


def main():
    root = pathlib.Path(sys.argv[1])
    values = library_defaults(sys.argv[2])
    dm = sys.argv[3] if len(sys.argv) > 3 else None
    cli_cache = {}

    def lookup(key):
        if not key.startswith("dm."):
            return values.get(key)
        if dm is None:
            return None
        if key in HELP_RULES:
            command, pattern = HELP_RULES[key]
        else:
            *words, option = key[3:].split(".")
            command = " ".join(words)
        if command not in cli_cache:
            cli_cache[command] = cli_defaults(dm, command)
        options, help_text = cli_cache[command]
        if key in HELP_RULES:
            m = re.search(pattern, re.sub(r"\s+", " ", help_text))
            return m.group(1) if m else None
        return options.get(option)

    failures, checked = [], 0
    for page in sorted((root / "docs").glob("*.md")):
        in_code = False
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if line.startswith("```"):
                in_code = not in_code
                continue
            if in_code:
                continue
            where = f"{page.name}:{number}"
            start = 0
            for m in MARKER.finditer(line):
                key = m.group(1)
                before = MARKER.sub("", line[start:m.start()]).rstrip()
                start = m.end()
                found = VALUE_AT_END.search(before)
                stated = (found.group(1) or found.group(2)).rstrip(".,;:") if found else None
                actual = lookup(key)
                checked += 1
                if actual is None:
                    failures.append(f"{where}: unknown default '{key}'" + (" (no dm binary given)" if key.startswith("dm.") and dm is None else ""))
                elif stated is None:
                    failures.append(f"{where}: no value before the marker of {key} on its line")
                elif not same(stated, actual):
                    failures.append(f"{where}: the page says {stated!r} for {key}, the code {actual!r}")
            # A line that speaks of a default and states a number outside code must mark it.
            prose = re.sub(r"`[^`]*`", "", MARKER.sub("", line))
            if not MARKER.search(line) and re.search(r"\bdefault", prose, re.I) and re.search(r"\d", prose):
                failures.append(f"{where}: a default with a number but no <!-- default: KEY --> marker: {line.strip()}")
    for f in failures:
        print(f)
    print(f"{checked - len([f for f in failures if 'marker:' not in f])} defaults match the code, {len(failures)} problems")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
