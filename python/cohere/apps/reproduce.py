# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reproduce the source papers' numbers: closed forms next to simulation."""

import argparse
import importlib
import sys

# target -> (module in gnuradio.cohere.apps, one-line description)
TARGETS = {
    "pcp": ("reproduce_pcp", "phase-coded pilots and OAC (Sahin): closed forms (8)-(13) vs Monte Carlo"),
    "tdd-kalman": ("reproduce_tdd_kalman", "broken-TDD phase sync with a wrapped Kalman filter (Ngo, Larsson)"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cohere reproduce", description=__doc__)
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    parsers = {}
    for name, (module, help_text) in TARGETS.items():
        try:
            mod = importlib.import_module(f"gnuradio.cohere.apps.{module}")
        except ImportError:
            continue  # not built yet
        p = sub.add_parser(name, help=help_text, description=mod.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(run=mod.run)
        parsers[name] = p
    args = parser.parse_args(argv)
    # configuration errors found after parsing go through the target's parser:
    # one line naming the option, exit code 2
    return args.run(args, parsers[args.target].error)


if __name__ == "__main__":
    sys.exit(main())
