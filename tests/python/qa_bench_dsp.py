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
        # all CPUs: ALL_CPU_FACTOR times the pinned runs (two-rate lottery)
        assert r["repeat"] == 1 and r["repeat_all"] == bench_dsp.ALL_CPU_FACTOR
        assert r["msps"] > 0 and r["baseline_msps"] > 0
        assert abs(r["ratio"] - r["msps"] / r["baseline_msps"]) < 1e-12
        for part in (r, r["one_core"]):
            assert part["median_ratio"] > 0 and part["control_ratio"] > 0
        if "target_ratio" in r:
            assert r["met"] == (r["ratio"] >= r["target_ratio"])
            assert r["resolved"] == (abs(r["ratio"] - r["target_ratio"])
                                     > abs(r["control_ratio"] - 1.0))
    assert json.loads(path.read_text()) == rows
    assert "ratio" in bench_dsp.format_table(rows)


def test_ratio_row_from_run_times():
    """ratio_row: best runs for the ratio, medians for median_ratio, the
    baseline's second series for the A/A control; "resolved" when the
    ratio is farther from the target than the control is from 1."""
    t = {"all": ([2.0, 1.0, 4.0], [3.0, 2.0, 2.2], [2.5, 2.1, 9.0]),
         "one_core": ([1.0, 1.0, 1.0], [1.05, 1.1, 1.2], [1.0, 1.2, 1.3])}
    row = bench_dsp.ratio_row("ours", "theirs", 1_000_000, 3, t, target=1.5)
    assert row["msps"] == 1.0 and row["baseline_msps"] == 0.5 and row["ratio"] == 2.0
    assert row["median_ratio"] == 2.2 / 2.0
    assert abs(row["control_ratio"] - 2.1 / 2.0) < 1e-12
    assert row["met"] and row["resolved"]  # |2 - 1.5| > |1.05 - 1|
    one = row["one_core"]
    assert abs(one["ratio"] - 1.05) < 1e-12 and not one["met"]
    assert one["resolved"]  # |1.05 - 1.5| > |1/1.05 - 1|
    close = bench_dsp.ratio_row("ours", "theirs", 1, 1, {"all": ([1.0], [1.4], [1.0])}, 1.5)
    assert not close["met"] and not close["resolved"]  # |1.4 - 1.5| < |1 / 1.4 - 1|
