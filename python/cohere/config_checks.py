# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Type checks shared by the protocol configurations (pcp.PcpConfig,
tdd.TddStreamConfig): a bool is never a number here, though Python counts
it as an int."""

import math

import numpy as np


def is_integer(value):
    """An int or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_finite_real(value):
    """A finite int, float or NumPy real, not a bool (strings and None are not)."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)) and math.isfinite(value))
