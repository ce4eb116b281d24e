# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Smoke test of gnuradio.cohere.apps.bench_dsp (no timing assertions: the
numbers depend on the machine and its load)."""

import json

from gnuradio.cohere.apps import bench_dsp


def test_run_returns_and_writes_rows(tmp_path):
    """run() measures each DSP block next to its GNU Radio baseline and returns
    (and writes as JSON) one row per block with positive rates and their ratio."""
    path = tmp_path / "sub" / "bench_dsp.json"
    rows = bench_dsp.run(str(path), quick=True, samples=100_000)
    assert [r["block"] for r in rows] == ["cfo_derotator_cc", "phase_precoder_cc",
                                          "burst_scheduler_cc"]
    assert [r["baseline"] for r in rows] == ["blocks.rotator_cc", "blocks.multiply_const_cc",
                                             "blocks.copy"]
    for r in rows:
        assert r["msps"] > 0 and r["baseline_msps"] > 0
        assert abs(r["ratio"] - r["msps"] / r["baseline_msps"]) < 1e-12
    assert json.loads(path.read_text()) == rows
    assert "ratio" in bench_dsp.format_table(rows)
