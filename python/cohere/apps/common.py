# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small helpers shared by the command-line applications."""

import argparse
import decimal
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


def unit_float(text):
    """argparse type: a number in (0, 1] (an amplitude relative to full scale)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:  # NaN too
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
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


MAX_INT = 2 ** 63 - 1  # the largest count the GNU Radio bindings (int64) take


def positive_int(text):
    """argparse type: a positive integer up to 2^63 - 1, also written as 1e6
    (an exponent form must be integral: 1.5 and 2.5e0 are errors, not 1 and 2)."""
    error = argparse.ArgumentTypeError(f"expected a positive integer (1..2^63-1), got {text!r}")
    try:
        number = decimal.Decimal(str(text).strip())  # exact: no rounding of long digit strings
    except decimal.InvalidOperation:
        raise error from None
    # range first: int() of 1e999999999 would build a billion-digit integer
    if not number.is_finite() or not 1 <= number <= MAX_INT \
            or number != number.to_integral_value():
        raise error
    return int(number)


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
