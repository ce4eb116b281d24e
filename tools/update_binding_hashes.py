#!/usr/bin/python3
# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Record the MD5 of each bound public header in its pybind11 binding file.

Run after changing a header in include/gnuradio/cohere/ *and* updating its
binding in python/cohere/bindings/; the configure step refuses stale bindings.
"""
import hashlib
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINDINGS = ROOT / "python" / "cohere" / "bindings"
HEADERS = ROOT / "include" / "gnuradio" / "cohere"


def main():
    changed = 0
    for path in sorted(BINDINGS.glob("*_python.cc")):
        text = path.read_text()
        m = re.search(r"BINDTOOL_HEADER_FILE\(([^\s)]+)\)", text)
        if not m:
            continue
        digest = hashlib.md5((HEADERS / m.group(1)).read_bytes()).hexdigest()
        new = re.sub(r"BINDTOOL_HEADER_FILE_HASH\([^)]*\)",
                     f"BINDTOOL_HEADER_FILE_HASH({digest})", text)
        if new != text:
            path.write_text(new)
            changed += 1
            print(f"updated {path.name}: {m.group(1)} {digest}")
    print(f"{changed} binding file(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
