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


# ----------------------------------------------------------------------------
# range checks and output paths (shared by showcase, demo and reproduce)
# ----------------------------------------------------------------------------

SNR_DB_MIN = -100.0
SNR_DB_MAX = 100.0


def snr_db(text):
    """argparse type: an SNR in dB within SNR_DB_MIN..SNR_DB_MAX (-100..100).

    The apps turn an SNR into the linear ratio 10^(SNR/10) and derive noise
    powers and variances from it: 1e-10..1e10 keeps those finite and non-zero
    (-4000 dB underflowed to a division by zero, 5000 dB overflowed)."""
    value = finite_float(text)
    if not SNR_DB_MIN <= value <= SNR_DB_MAX:
        raise argparse.ArgumentTypeError(
            f"expected an SNR in {SNR_DB_MIN:g}..{SNR_DB_MAX:g} dB, got {text!r}")
    return value


def exit_error(prog):
    """An error callback like argparse's parser.error, for code run without
    its parser: prints 'prog: error: message' and exits with code 2."""
    import sys

    def error(message):
        print(f"{prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)
    return error


def check_output(error, directory=None, files=()):
    """Check before a run that its output can be written: create `directory`
    (the --out-dir) and the folder of each file, make sure each folder takes a
    new file and that no file is an existing directory. files: (option, path)
    pairs, the option named in the message (e.g. ("--json", path)). On failure
    call error(message), e.g. argparse's parser.error (one line, exit 2),
    instead of a traceback after the run."""
    import tempfile

    folders = [] if directory is None else [("--out-dir", directory)]
    for option, path in files:
        if os.path.isdir(path):
            error(f"{option}: {path!r} is a directory, expected a file name")
        folders.append((option, os.path.dirname(os.path.abspath(path))))
    for option, folder in folders:
        try:
            os.makedirs(folder, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            error(f"{option}: cannot write to {folder!r} ({exc.strerror or exc})")


MAX_CAPTURE = 2 ** 28  # samples: the emulator's capture limit per receiver (channel_hub)


def check_phase_noise(error, option, c, samp_rate, center_freq):
    """error(message) naming `option` if the Wiener phase-noise constant c (s)
    is above the emulator's limit at this sample rate and carrier:
    channel_hub refuses a per-sample phase increment std sqrt(4 pi^2 fc^2 c /
    fs) above 2 rad, i.e. c > fs / (pi^2 fc^2)."""
    c_max = samp_rate / (math.pi ** 2 * center_freq * center_freq)  # fc * fc: inf, not OverflowError
    if c > c_max:
        error(f"{option} {c:g}: above the emulator's limit {c_max:.3g} s at {samp_rate:g} Hz "
              f"and {center_freq:g} Hz (per-sample phase increment std "
              f"sqrt(4 pi^2 fc^2 c / fs) <= 2 rad)")


MAX_FREQUENCY_HZ = 1e12


def frequency_hz(text):
    """argparse type: a sample rate or carrier frequency in (0, 1e12] Hz. The
    apps square them (the phase-noise rate 4 pi^2 fc^2 c, the CRB's fs^2),
    which overflows beyond about 1e154; 1 THz is above any carrier or sample
    rate the emulated radios stand for."""
    value = finite_float(text)
    if not 0 < value <= MAX_FREQUENCY_HZ:
        raise argparse.ArgumentTypeError(
            f"expected a frequency in (0, {MAX_FREQUENCY_HZ:g}] Hz, got {text!r}")
    return value
