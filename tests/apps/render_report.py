#!/usr/bin/python3
"""Renders an HTML page in headless Chromium and says what a person would have seen.

Usage: render_report.py CHROMIUM PAGE OUTDIR [--console-only]

Prints one JSON object on stdout:
  width, height          of the screenshot (PNG, decoded here with zlib and struct only)
  nonwhite_fraction      share of pixels with any channel below 235: 0 for a blank page
  colour_pixels          {"#1f77b4": n, ...}: pixels within 12 per channel of each series colour
  console                the page's console messages (errors included) Chromium logged
  svg_in_dom             <svg elements in the DOM after loading (--dump-dom)

How console errors are caught, and why this way: with --enable-logging=stderr --v=0 Chromium
writes every console message of a page (console.log, uncaught exceptions, refused loads and
Content-Security-Policy violations) to stderr as a log line tagged CONSOLE, e.g. (Chromium 156)
  [17476:17476:1130/023557.507902:INFO:CONSOLE:1] "Uncaught ReferenceError: f is not defined", source: ...
Chromium's own noise on stderr (D-Bus, GPU, sandbox) never carries that tag, so these lines are
the page's messages and nothing else. The calling test also renders a control page with a
failing script, so a Chromium whose logging changed fails the test instead of passing it blind.
"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

# "INFO:CONSOLE:12]" in Chromium 156; "INFO:CONSOLE(12)]" in older releases.
CONSOLE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)?\]")
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
TIMEOUT_S = 90


def chromium(exe, page, profile, extra):
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
            "--no-first-run", "--no-default-browser-check", "--user-data-dir=" + profile,
            "--enable-logging=stderr", "--v=0", *extra, "file://" + os.path.abspath(page)]
    return subprocess.run(args, capture_output=True, timeout=TIMEOUT_S, text=True, errors="replace")


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(path):
    """Width, height, channels and the unfiltered rows of an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in (2, 6) or interlace != 0:
        raise ValueError("unsupported PNG: depth %d, colour type %d, interlace %d" % (depth, colour_type, interlace))
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            up_left = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif kind == 4:
                line[x] = (line[x] + paeth(left, up, up_left)) & 255
        rows.append(line)
        previous = line
    return width, height, channels, rows


def main():
    exe, page, outdir = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as profile:
        dom = chromium(exe, page, profile, ["--dump-dom"])
    if sys.argv[4:] == ["--console-only"]:
        json.dump({"console": [line for line in dom.stderr.splitlines() if CONSOLE.search(line)]}, sys.stdout)
        return
    screenshot = os.path.join(outdir, "screenshot.png")
    with tempfile.TemporaryDirectory() as profile:
        shot = chromium(exe, page, profile, ["--window-size=1000,2200", "--screenshot=" + screenshot])
    console = [line for line in (shot.stderr + dom.stderr).splitlines() if CONSOLE.search(line)]
    width, height, channels, rows = decode_png(screenshot)
    targets = {c: tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in COLOURS}
    counts = {c: 0 for c in COLOURS}
    nonwhite = 0
    for line in rows:
        for x in range(0, len(line), channels):
            r, g, b = line[x], line[x + 1], line[x + 2]
            if min(r, g, b) < 235:
                nonwhite += 1
                for name, (tr, tg, tb) in targets.items():
                    if abs(r - tr) <= 12 and abs(g - tg) <= 12 and abs(b - tb) <= 12:
                        counts[name] += 1
    json.dump({"width": width, "height": height, "nonwhite_fraction": nonwhite / float(width * height),
               "colour_pixels": counts, "console": console, "svg_in_dom": dom.stdout.count("<svg"),
               "chromium_exit": [shot.returncode, dom.returncode]}, sys.stdout)


if __name__ == "__main__":
    main()
