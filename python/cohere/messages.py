# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Building the PMT dicts that Python blocks post on their message ports."""

import pmt

__all__ = ["pmt_dict"]


def pmt_dict(**fields):
    """A PMT dict of the fields in order. A value that is already a PMT is
    used as it is (give pmt.from_uint64(...) where a key needs that type);
    any other value goes through pmt.to_pmt."""
    msg = pmt.make_dict()
    for key, value in fields.items():
        if not isinstance(value, pmt.pmt_base):
            value = pmt.to_pmt(value)
        msg = pmt.dict_add(msg, pmt.intern(key), value)
    return msg
