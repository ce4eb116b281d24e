# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`cohere <app> [args]`: one entry point for every gr-cohere application.

Each application is a module gnuradio.cohere.apps.<name> with a main(argv)
function returning the exit code and a one-line module docstring summary.
"""

import importlib
import sys

# app name -> module (kept explicit so `cohere --help` lists them in order)
APPS = {
    "demo": "pcp_demo",
    "showcase": "showcase",
    "bench": "bench",
    "reproduce": "reproduce",
    "calibrate-latency": "calibrate_latency",
    "hub": "hub",
    "node": "node",
    "fusion": "fusion",
}


def _summary(module_name):
    try:
        mod = importlib.import_module(f"gnuradio.cohere.apps.{module_name}")
    except ImportError as exc:  # pragma: no cover - shown in the listing
        return f"(unavailable: {exc})"
    doc = (mod.__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


def usage():
    lines = ["usage: cohere <app> [args]   (cohere <app> --help for each)", "", "apps:"]
    for name, module in APPS.items():
        lines.append(f"  {name:<12} {_summary(module)}")
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in APPS:
        print(f"cohere: unknown app {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    mod = importlib.import_module(f"gnuradio.cohere.apps.{APPS[name]}")
    return mod.main(rest)


if __name__ == "__main__":
    sys.exit(main())
