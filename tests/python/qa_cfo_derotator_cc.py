# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA of cohere.cfo_derotator_cc (phase-continuous NCO, commands at exact samples).

Phase tolerance from theory (kernels/nco.h): the output phase error is below
3.5e-7 rad at any sample (float rounding of the block phasor and the table
entry, 2^-25 sqrt 2 each, plus two complex products, sqrt(5) 2^-24 each);
the float64 references here are accurate to < 1e-10 rad. The 1e8-sample
acceptance run is the C++ kernel test tests/cpp/test_nco.cc.
"""

import math
import time

import numpy as np
import pmt
import pytest

from gnuradio import blocks, gr
from gnuradio import cohere

from cohere_testing import stream_through

FS = 1e6
PHASE_TOL = 3.5e-7


def tag(offset, key, value):
    t = gr.tag_t()
    t.offset = offset
    t.key = pmt.intern(key)
    t.value = pmt.to_pmt(value) if not isinstance(value, pmt.pmt_base) else value
    return t


def cmd(**kw):
    """A cmd dict; `time` as uint64 as documented."""
    d = pmt.make_dict()
    for k, v in kw.items():
        val = pmt.from_uint64(v) if k == "time" else pmt.to_pmt(v)
        d = pmt.dict_add(d, pmt.intern(k), val)
    return d


def run(block, x, tags=(), msgs=(), max_items=None):
    """Stream x (with tags) through block, posting msgs to `cmd` before start.
    Returns (output array, output tags {key: [(offset, value)]})."""
    return stream_through(block, x, tags=tags, msgs=msgs, max_items=max_items)


def wrap(x):
    return (np.asarray(x) + np.pi) % (2 * np.pi) - np.pi


def phase_error(y, theta):
    """Angle of y exp(+j theta): the derotation error for unit input."""
    return np.angle(y.astype(np.complex128) * np.exp(1j * theta))


def test_block_matches_double_reference():
    """1e7 unit samples through the block (in GNU Radio's own chunks): the
    output phase equals -theta[n] = -(2 pi f n / fs mod 2 pi) within
    3.5e-7 rad on the last 20000 samples and every 997th sample before
    (no drift). The reference is float64 with n exact."""
    n, f = 10_000_000, 12345.678901234
    omega = 2 * math.pi * f / FS
    tb = gr.top_block()
    src = blocks.vector_source_c([1 + 0j] * 8192, True)
    head = blocks.head(gr.sizeof_gr_complex, n)
    rot = cohere.cfo_derotator_cc(FS, f)
    tail = blocks.skiphead(gr.sizeof_gr_complex, n - 20000)
    sparse = blocks.keep_one_in_n(gr.sizeof_gr_complex, 997)
    s_tail, s_sparse = blocks.vector_sink_c(), blocks.vector_sink_c()
    tb.connect(src, head, rot, tail, s_tail)
    tb.connect(rot, sparse, s_sparse)
    tb.run()
    y = np.array(s_tail.data())
    idx = np.arange(n - 20000, n)
    assert len(y) == 20000
    assert np.max(np.abs(phase_error(y, np.mod(omega * idx, 2 * np.pi)))) < PHASE_TOL
    ys = np.array(s_sparse.data())
    idx = np.arange(len(ys)) * 997 + 996  # keep_one_in_n keeps the n-th item
    assert np.max(np.abs(phase_error(ys, np.mod(omega * idx, 2 * np.pi)))) < PHASE_TOL
    assert rot.phase() == pytest.approx(wrap(omega * n), abs=1e-9)


def test_cfo_many_times_fs_aliases_without_drift():
    """A CFO of k fs + f aliases to f: the phase step is reduced modulo fs
    before it is formed (fmod is exact), so the output equals the one for f bit
    for bit (the step of a large angle used to carry its rounding, 1.5e-12 rad
    per sample at 3000 fs, and drifted past the bound within 1e6 samples)."""
    n, f = 300_000, 1234.5
    x = np.ones(n, np.complex64)
    ref, _ = run(cohere.cfo_derotator_cc(FS, f), x)
    for k in (1, -7, 3000):
        y, _ = run(cohere.cfo_derotator_cc(FS, k * FS + f), x)
        assert np.array_equal(y, ref), k


def test_sign_convention_removes_received_cfo():
    """A signal received with CFO +f and phase phi, exp(+j(2 pi f n/fs + phi)),
    comes out as 1 with cfo = f and a `phase` = phi command at time 0: the
    derotator multiplies by exp(-j(2 pi f n / fs + phi)). Tolerance: the
    input itself is rounded to complex64 (6e-8) plus the derotation bound."""
    f, phi, n = -23456.0, 2.5, 20000
    k = np.arange(n)
    x = np.exp(1j * (2 * np.pi * f * k / FS + phi))
    y, tags = run(cohere.cfo_derotator_cc(FS, f), x, msgs=[cmd(phase=phi, time=0)])
    assert np.max(np.abs(y - 1)) < 1e-6
    assert tags["cfo_applied"][0][0] == 0


def test_commands_apply_at_exact_sample_and_are_tagged():
    """Timed commands take effect at exactly their sample (phase-continuous
    without `phase`, theta[t] = phase with it), whatever the buffer sizes; each
    is tagged `cfo_applied` (cfo, phase, time) on that output sample. A command
    without `time` posted before start applies at sample 0."""
    n, f1, f2, f3 = 30000, 1000.0, -7000.0, 250.0
    t1, t2, t3 = 5001, 12345, 20000
    msgs = [cmd(cfo=f3, phase=-1.0, time=t3), cmd(cfo=f2, time=t1), cmd(phase=0.75, time=t2),
            cmd(cfo=f1)]
    k = np.arange(n, dtype=np.float64)
    theta = 2 * np.pi * f1 * k / FS
    th1 = 2 * np.pi * f1 * t1 / FS
    theta[t1:] = th1 + 2 * np.pi * f2 * (k[t1:] - t1) / FS
    theta[t2:] = 0.75 + 2 * np.pi * f2 * (k[t2:] - t2) / FS
    theta[t3:] = -1.0 + 2 * np.pi * f3 * (k[t3:] - t3) / FS
    outs = []
    for max_items in (None, 37, 4096):
        blk = cohere.cfo_derotator_cc(FS, 0.0)
        y, tags = run(blk, np.ones(n), msgs=msgs, max_items=max_items)
        assert np.max(np.abs(phase_error(y, theta))) < PHASE_TOL
        applied = tags["cfo_applied"]
        assert [o for o, _ in applied] == [0, t1, t2, t3]
        assert applied[1][1]["cfo"] == f2 and applied[1][1]["time"] == t1
        assert applied[1][1]["phase"] == pytest.approx(wrap(th1), abs=1e-12)
        assert applied[2][1]["phase"] == pytest.approx(0.75)
        assert applied[3][1]["cfo"] == f3 and applied[3][1]["phase"] == pytest.approx(-1.0)
        assert blk.commands_applied() == 4 and blk.commands_dropped() == 0
        assert blk.cfo() == f3
        outs.append(y)
    # the output does not depend on how the scheduler cuts the stream
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


def test_sync_peak_tags_align_the_preamble():
    """With use_tags, a sync_peak tag at sample m with (cfo, phase, index)
    sets theta[m] = phase + 2 pi cfo (m - index)/fs, so a tone received with
    CFO f and phase phi is derotated to exactly 1 from m on (tolerance: the
    complex64 input 6e-8 plus the 3.5e-7 bound); without use_tags the tag is
    ignored."""
    f, phi, n, m, index = 3210.0, -0.4, 8000, 3000, 2990.25
    k = np.arange(n)
    x = np.exp(1j * (2 * np.pi * f * k / FS + phi))
    peak = {"cfo": f, "phase": 2 * np.pi * f * index / FS + phi, "index": index,
            "amp": 1.0, "preamble": 0}
    blk = cohere.cfo_derotator_cc(FS, 0.0, True)
    y, tags = run(blk, x, tags=[tag(m, "sync_peak", peak)])
    assert np.max(np.abs(y[m:] - 1)) < 1e-6
    assert np.max(np.abs(y[:m] - x[:m])) < 1e-6  # cfo 0 before the tag
    assert tags["cfo_applied"][0][0] == m and tags["cfo_applied"][0][1]["cfo"] == f
    assert "sync_peak" in tags  # input tags propagate
    y, tags = run(cohere.cfo_derotator_cc(FS, 0.0, False), x, tags=[tag(m, "sync_peak", peak)])
    assert "cfo_applied" not in tags and np.max(np.abs(y - x)) < 1e-6


def test_nonfinite_input_recovers_immediately():
    """NaN/Inf input samples give non-finite output at those samples only: the
    next sample is bit-identical to a clean run (the NCO state never sees the
    samples), also across a retune."""
    n = 10000
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
    clean, _ = run(cohere.cfo_derotator_cc(FS, 777.0), x, msgs=[cmd(cfo=-50.0, time=5000)])
    bad = x.copy()
    bad[[100, 4999, 5000, 7000]] = [np.nan, np.inf, complex(np.nan, np.inf), -np.inf]
    dirty, _ = run(cohere.cfo_derotator_cc(FS, 777.0), bad, msgs=[cmd(cfo=-50.0, time=5000)])
    ok = np.isfinite(bad)
    assert np.array_equal(dirty[ok], clean[ok])
    assert not np.all(np.isfinite(dirty[[100, 4999, 5000, 7000]]))


BAD_MESSAGES = [
    (pmt.intern("cfo"), "not a dict"),
    (pmt.cons(pmt.make_dict(), pmt.init_c32vector(1, [1j])), "not a dict"),
    (pmt.to_pmt({"cfo": "fast"}), "`cfo` must be a finite real number"),
    (pmt.to_pmt({"cfo": float("nan")}), "`cfo` must be a finite real number"),
    (pmt.to_pmt({"phase": 1j}), "`phase` must be a finite real number"),
    (pmt.to_pmt({"time": 5}), "needs `cfo` and/or `phase`"),
    (pmt.to_pmt({"cfo": 1.0, "time": -5}), "`time` must be a non-negative integer"),
    (pmt.to_pmt({"cfo": 1.0, "time": 5.5}), "`time` must be a non-negative integer"),
    # a field present with Python's None (the empty list) is malformed, not
    # absent: `time: None` was applied at once, `cfo: None` ignored
    (pmt.to_pmt({"cfo": 1.0, "time": None}), "`time` must be a non-negative integer"),
    (pmt.to_pmt({"cfo": None, "phase": 0.5}), "`cfo` must be a finite real number"),
]


def test_malformed_messages_are_logged_and_dropped(capfd):
    """Messages that are not a dict, have fields of the wrong type, NaN values,
    neither cfo nor phase, or a bad time are dropped (counted), each logged
    with its reason; the block keeps working (a valid command in between is
    applied at its sample)."""
    msgs = [m for m, _ in BAD_MESSAGES] + [cmd(cfo=100.0, time=10)]
    blk = cohere.cfo_derotator_cc(FS)
    y, tags = run(blk, np.ones(100), msgs=msgs)
    assert blk.commands_dropped() == len(BAD_MESSAGES)
    assert [o for o, _ in tags["cfo_applied"]] == [10]
    cap = capfd.readouterr()
    log = cap.out + cap.err  # GNU Radio's console log sink (stdout by default)
    for _, reason in BAD_MESSAGES:
        assert reason in log, reason


def test_out_of_range_tag_never_poisons_the_state():
    """A sync_peak tag whose phase extrapolation overflows (cfo 1e308 Hz, index
    far away) or whose values are NaN is dropped; the NCO goes on exactly as
    without the tags (bit-identical output)."""
    x = np.ones(3000, np.complex64)
    clean, _ = run(cohere.cfo_derotator_cc(FS, 500.0, True), x)
    bad_tags = [tag(50, "sync_peak", {"cfo": 1e308, "phase": 0.0, "index": 0.0}),
                tag(60, "sync_peak", {"cfo": float("nan"), "phase": 0.0}),
                tag(70, "sync_peak", {"phase": float("inf")}),
                tag(80, "sync_peak", "peak")]
    blk = cohere.cfo_derotator_cc(FS, 500.0, True)
    y, tags = run(blk, x, tags=bad_tags)
    assert np.array_equal(y, clean) and "cfo_applied" not in tags
    assert blk.commands_dropped() == 4 and np.isfinite(blk.phase())


def test_time_in_the_past_is_dropped():
    """A command whose time was already processed when it arrives is dropped
    (counted), never applied late."""
    tb = gr.top_block()
    blk = cohere.cfo_derotator_cc(FS)
    tb.connect(blocks.null_source(gr.sizeof_gr_complex), blk, blocks.null_sink(gr.sizeof_gr_complex))
    tb.start()
    try:
        deadline = time.monotonic() + 5
        while blk.nitems_read(0) < 100000 and time.monotonic() < deadline:
            time.sleep(0.01)
        blk.to_basic_block()._post(pmt.intern("cmd"), cmd(cfo=5.0, time=10))
        while blk.commands_dropped() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        tb.stop()
        tb.wait()
    assert blk.commands_dropped() == 1 and blk.commands_applied() == 0 and blk.cfo() == 0.0


def test_setter_applies_at_next_sample():
    """set_cfo() before start retunes at sample 0 (tagged), phase continuous."""
    blk = cohere.cfo_derotator_cc(FS, 10.0)
    blk.set_cfo(-2000.0)
    y, tags = run(blk, np.ones(1000))
    assert tags["cfo_applied"][0][0] == 0 and blk.cfo() == -2000.0
    theta = 2 * np.pi * -2000.0 * np.arange(1000) / FS
    assert np.max(np.abs(phase_error(y, theta))) < PHASE_TOL
    with pytest.raises(ValueError, match="cfo"):
        blk.set_cfo(float("inf"))


def test_setter_storm_keeps_the_latest_value():
    """set_cfo() called far more often than the queue holds before any sample
    is processed: the immediate commands fold into one, the NCO starts at
    sample 0 with the last frequency, nothing is dropped and every call
    counts as applied (the latest ones were once dropped as 'queue full')."""
    blk = cohere.cfo_derotator_cc(FS)
    for f in np.linspace(-4000.0, 1234.5, 5000):
        blk.set_cfo(float(f))
    y, tags = run(blk, np.ones(1000))
    assert blk.commands_dropped() == 0 and blk.commands_applied() == 5000
    assert [o for o, _ in tags["cfo_applied"]] == [0] and blk.cfo() == 1234.5
    theta = 2 * np.pi * 1234.5 * np.arange(1000) / FS
    assert np.max(np.abs(phase_error(y, theta))) < PHASE_TOL


@pytest.mark.parametrize("args,name", [((0.0,), "samp_rate"), ((-1e6,), "samp_rate"),
                                       ((float("nan"),), "samp_rate"),
                                       ((FS, float("inf")), "cfo"),
                                       # finite, but 2 pi cfo / samp_rate is not: both named
                                       ((1e-320, 1.0), "cfo 1 Hz at samp_rate 1e-320 Hz"),
                                       ((1.0, 1e308), "cfo 1e[+]308 Hz at samp_rate 1 Hz")])
def test_invalid_constructor_args(args, name):
    """Invalid constructor arguments raise ValueError naming the argument (a
    phase step that overflows names cfo and samp_rate with their values)."""
    with pytest.raises(ValueError, match=name):
        cohere.cfo_derotator_cc(*args)


@pytest.mark.parametrize("cfo", [500.0, 2000.0, -3000.0])
def test_detector_to_derotator_with_an_aperiodic_preamble(cfo):
    """A Zadoff-Chu preamble (aperiodic: the detector measures no CFO) with a
    known CFO f that the derotator already holds: the detector's `phase` is
    the received phase at `phase_at` = index + (N - 1) / 2 (the correlation's
    angle under a frequency offset, its energy centroid; exact for a
    constant envelope), and the derotator references it there, so the
    derotated preamble has phase 0. Referencing it at `index` left
    -pi f (N - 1) / fs (-0.79 rad at 2 kHz). Tolerance 5e-3 rad: ZC's
    delay-Doppler coupling moves the fitted index by f / (fs / N) x a
    fraction of a sample (0.002 rad measured at 2 kHz), noise-free."""
    from gnuradio.cohere import preambles
    fs, n, start, phi = 1e6, 127, 3000, 0.4
    p = preambles.zadoff_chu(1, n).astype(complex)
    x = np.zeros(6000, complex)
    x[start:start + n] = p
    x *= np.exp(1j * (2 * np.pi * cfo * (np.arange(len(x)) - start) / fs + phi))
    tb = gr.top_block()
    det = cohere.preamble_detector_cc([p.astype(np.complex64).tolist()], 0.0, fs)
    der = cohere.cfo_derotator_cc(fs, cfo, True)
    snk = blocks.vector_sink_c()
    tb.connect(blocks.vector_source_c(x.astype(np.complex64).tolist()), det, der, snk)
    tb.run()
    peaks = [pmt.to_python(t.value) for t in snk.tags()
             if pmt.symbol_to_string(t.key) == "sync_peak"]
    assert len(peaks) == 1
    assert peaks[0]["phase_at"] == pytest.approx(peaks[0]["index"] + (n - 1) / 2, abs=1e-6)
    y = np.array(snk.data()).astype(complex)
    assert abs(np.angle(np.vdot(p, y[start:start + n]))) < 5e-3
