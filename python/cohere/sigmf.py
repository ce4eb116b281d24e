# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""SigMF recordings: a .sigmf-data file of complex64 samples (cf32_le) and its
.sigmf-meta JSON (SigMF 1.0.0 core keys, gr-cohere's per-node metadata in the
optional `cohere` namespace).

The data file is written while streaming (a blocks.file_sink on the stream);
write_meta() describes it afterwards.
"""

import json
import sys

__all__ = ["write_meta", "VERSION"]

VERSION = "1.0.0"


def write_meta(prefix, samp_rate, center_freq, description="", hw="", extra=None,
               annotations=(), sample_start=0):
    """Write prefix.sigmf-meta for prefix.sigmf-data (cf32_le).

    extra: {key: value} in the `cohere` namespace (written as cohere:key).
    annotations: dicts with sample_start, sample_count (optional), label
        (optional) and any cohere:... keys; sorted by sample_start.
    sample_start: the recording's first sample on the radio's (or hub's) clock,
        written as the capture's cohere:clock_start.
    """
    if sys.byteorder != "little":  # complex64 in native order is cf32_le only here
        raise RuntimeError("SigMF recordings are written as cf32_le: little-endian hosts only")
    meta = {
        "global": {
            "core:datatype": "cf32_le",
            "core:sample_rate": float(samp_rate),
            "core:version": VERSION,
            "core:description": description,
            "core:hw": hw,
            "core:recorder": "gr-cohere",
            "core:extensions": [{"name": "cohere", "version": "0.1.0", "optional": True}],
        },
        "captures": [{"core:sample_start": 0, "core:frequency": float(center_freq),
                      "cohere:clock_start": int(sample_start)}],
        "annotations": [],
    }
    for key, value in (extra or {}).items():
        meta["global"][f"cohere:{key}"] = value
    for a in sorted(annotations, key=lambda a: a["sample_start"]):
        entry = {"core:sample_start": int(a["sample_start"])}
        if a.get("sample_count") is not None:
            entry["core:sample_count"] = int(a["sample_count"])
        if a.get("label"):
            entry["core:label"] = a["label"]
        entry.update({k: v for k, v in a.items() if k.startswith("cohere:")})
        meta["annotations"].append(entry)
    path = prefix + ".sigmf-meta"
    with open(path, "w") as f:
        json.dump(meta, f, indent=1)
    return path
