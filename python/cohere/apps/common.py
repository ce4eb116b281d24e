# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small helpers shared by the command-line applications."""

import argparse
import math
import os


def finite_float(text):
    """argparse type: a finite real number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def nonnegative_float(text):
    """argparse type: a finite real number >= 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def positive_float(text):
    """argparse type: a finite real number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def seed_int(text):
    """argparse type: a seed, an integer in 0 .. 2^32 - 1 (NumPy's and the
    emulator's seeds both take it)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"expected an integer in 0..2^32-1, got {text!r}")
    return value


def positive_int(text):
    """argparse type: a positive integer, also written as 1e6."""
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def results_dir(*parts):
    """Where an app writes by default: $COHERE_BUILD_DIR/results/... when run
    through ./cohere, otherwise ./results/..."""
    build = os.environ.get("COHERE_BUILD_DIR")
    base = os.path.join(build, "results") if build else os.path.join(os.getcwd(), "results")
    return os.path.join(base, *parts)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse formatter that shows defaults, except None (the help says
    what None means) and flags."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)
