# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the QA files (not a test module: ctest registers qa_*.py)."""

import os
import subprocess
import sys

# GNU Radio's Python runs the apps (the one the module is built for).
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def child_env():
    """The test's environment for a process started in another directory:
    relative PYTHONPATH entries made absolute, a headless matplotlib."""
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    return env


def run_app(cwd, *args, timeout=600, check=True):
    """Run `cohere <args>` in cwd; returns the CompletedProcess. With check, a
    non-zero exit fails the test showing the app's output."""
    proc = subprocess.run([PYTHON, "-m", "gnuradio.cohere.apps.cli", *[str(a) for a in args]],
                          cwd=cwd, env=child_env(), capture_output=True, text=True,
                          timeout=timeout)
    if check:
        assert proc.returncode == 0, (
            f"cohere {' '.join(map(str, args))} exited with {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


def stream_through(block, x, tags=(), msgs=(), port="cmd", max_items=None):
    """Stream x (with stream tags) through a 1-in/1-out block, posting msgs to
    its message port before the run. Returns (output complex64 array, output
    tags as {key: [(offset, value)]})."""
    import numpy as np
    import pmt
    from gnuradio import blocks, gr

    tb = gr.top_block()
    src = blocks.vector_source_c(np.asarray(x, np.complex64).tolist(), False, 1, list(tags))
    snk = blocks.vector_sink_c()
    tb.connect(src, block, snk)
    for m in msgs:
        block.to_basic_block()._post(pmt.intern(port), m)
    if max_items:
        tb.run(max_items)
    else:
        tb.run()
    out = {}
    for t in snk.tags():
        out.setdefault(pmt.symbol_to_string(t.key), []).append((t.offset, pmt.to_python(t.value)))
    return np.array(snk.data(), np.complex64), out
