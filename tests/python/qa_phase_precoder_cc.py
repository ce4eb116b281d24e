# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA of cohere.phase_precoder_cc (y = gain exp(j phase) x, changes at exact samples).

The constant c = gain exp(j phase) is computed in double and rounded once to
complex64, exactly like np.complex64(gain * np.exp(1j * phase)); with a unit
input the output equals c bit for bit (1 * c is exact), so placement is
checked bit-exactly. Products with other inputs are within one complex64
multiplication, |error| <= sqrt(5) 2^-24 |c x| < 1.4e-7 |c x|.
"""

import numpy as np
import pmt
import pytest

from gnuradio import cohere

from cohere_testing import stream_through


def cmd(**kw):
    d = pmt.make_dict()
    for k, v in kw.items():
        val = pmt.from_uint64(v) if k == "time" else pmt.to_pmt(v)
        d = pmt.dict_add(d, pmt.intern(k), val)
    return d


def run(block, x, msgs=(), max_items=None):
    """Stream x through block with msgs posted to `cmd`; returns (output,
    [(offset, value)] of its phase_applied tags)."""
    y, tags = stream_through(block, x, msgs=msgs, max_items=max_items)
    return y, tags.get("phase_applied", [])


def const(gain, phase):
    return np.complex64(gain * np.exp(1j * phase))


def test_changes_land_bit_exactly():
    """Phase and gain commands change the output at exactly their sample, bit
    for bit, for several buffer settings; a field that is absent keeps its
    value; each change is tagged phase_applied (phase, gain, time)."""
    n = 20000
    msgs = [cmd(phase=1.0, time=1000), cmd(gain=0.5, time=7777), cmd(phase=-2.0, gain=2 - 1j, time=15000),
            cmd(gain=3.0, time=15000)]
    want = np.empty(n, np.complex64)
    want[:1000] = const(1.5, 0.25)
    want[1000:7777] = const(1.5, 1.0)
    want[7777:15000] = const(0.5, 1.0)
    want[15000:] = const(3.0, -2.0)
    for max_items in (None, 1, 999):
        blk = cohere.phase_precoder_cc(0.25, 1.5)
        y, tags = run(blk, np.ones(n), msgs, max_items)
        assert np.array_equal(y, want)
        assert [o for o, _ in tags] == [1000, 7777, 15000]
        assert tags[0][1] == {"phase": 1.0, "gain": 1.5, "time": 1000}
        assert tags[1][1]["gain"] == 0.5 and tags[1][1]["phase"] == 1.0
        assert tags[2][1]["gain"] == 3.0 and tags[2][1]["phase"] == -2.0  # last one wins
        assert blk.commands_applied() == 4
        assert blk.phase() == -2.0 and blk.gain() == 3.0


def test_phase_cmd_tags_land_bit_exactly():
    """A `phase_cmd` stream tag applies at exactly its sample, like a timed
    message but in band (it cannot be late); messages and tags mix; a
    malformed tag is logged and dropped."""
    from gnuradio import gr

    def tag(offset, value):
        return gr.tag_utils.python_to_tag((offset, pmt.intern("phase_cmd"), value,
                                           pmt.intern("test")))

    n = 12000
    tags = [tag(500, cmd(phase=0.7)), tag(4321, cmd(gain=2.0, phase=-1.0)),
            tag(6000, pmt.from_long(3)), tag(9000, cmd(gain=0.5))]
    want = np.empty(n, np.complex64)
    want[:500] = const(1.0, 0.0)
    want[500:4321] = const(1.0, 0.7)
    want[4321:8000] = const(2.0, -1.0)
    want[8000:9000] = const(2.0, 0.25)
    want[9000:] = const(0.5, 0.25)
    for max_items in (None, 1, 777):
        blk = cohere.phase_precoder_cc()
        y, out_tags = stream_through(blk, np.ones(n), tags=tags, msgs=[cmd(phase=0.25, time=8000)],
                                     max_items=max_items)
        assert np.array_equal(y, want)
        assert [o for o, _ in out_tags["phase_applied"]] == [500, 4321, 8000, 9000]
        assert blk.commands_applied() == 4 and blk.commands_dropped() == 1


def test_a_phase_cmd_tag_on_every_sample():
    """Phase-coded pilots change the phase on every chip: 20000 `phase_cmd`
    tags, one per sample, all apply whatever the work-call size (they once went
    through the 1024-entry message queue and most were dropped as 'queue
    full' when a call held more than 1024)."""
    from gnuradio import gr

    n = 20000
    phases = np.random.default_rng(0).uniform(-np.pi, np.pi, n)
    tags = [gr.tag_utils.python_to_tag((k, pmt.intern("phase_cmd"), cmd(phase=float(p)),
                                        pmt.intern("test"))) for k, p in enumerate(phases)]
    want = np.array([const(1.0, p) for p in phases], np.complex64)
    for max_items in (None, 256):
        blk = cohere.phase_precoder_cc()
        y, out_tags = stream_through(blk, np.ones(n), tags=tags, max_items=max_items)
        assert np.array_equal(y, want)
        assert blk.commands_applied() == n and blk.commands_dropped() == 0
        assert len(out_tags["phase_applied"]) == n


def test_input_tags_pass_through_as_gnuradio_propagates_them():
    """Every input tag, `phase_cmd` included, comes out at its offset with its
    key, value and source, in the order GNU Radio's all-to-all propagation
    gives multiply_const_cc, for any work-call size; the precoder's own
    `phase_applied` tag at a sample comes before the propagated ones there
    (the scheduler propagates after work())."""
    from gnuradio import blocks, gr

    def tag(offset, key, value, src):
        return gr.tag_utils.python_to_tag((offset, pmt.intern(key), value, pmt.intern(src)))

    rng = np.random.default_rng(3)
    n = 6000
    tags = [tag(0, "rx_time", pmt.from_double(1.5), "radio")]
    for k, off in enumerate(sorted(rng.integers(0, n, 60))):
        tags.append(tag(int(off), ("foo", "bar")[k % 2], pmt.from_long(k), f"src{k % 3}"))
    tags += [tag(1234, "phase_cmd", cmd(phase=0.5), "ctl"), tag(1234, "foo", pmt.from_long(-1), "x"),
             tag(n - 1, "phase_cmd", cmd(gain=2.0), "ctl")]

    def out_tags(block, max_items):
        tb = gr.top_block()
        src = blocks.vector_source_c([1 + 0j] * n, False, 1, tags)
        snk = blocks.vector_sink_c()
        tb.connect(src, block, snk)
        if max_items:
            tb.run(max_items)
        else:
            tb.run()
        return [(t.offset, pmt.symbol_to_string(t.key), pmt.to_python(t.value),
                 pmt.symbol_to_string(t.srcid)) for t in snk.tags()]

    want = out_tags(blocks.multiply_const_cc(1.0), None)
    assert len(want) == len(tags)
    for max_items in (None, 1, 333):
        got = out_tags(cohere.phase_precoder_cc(), max_items)
        assert [t for t in got if t[1] != "phase_applied"] == want
        at = [t[1] for t in got if t[0] == 1234]
        assert at == ["phase_applied", "phase_cmd", "foo"]
    # the block propagates them itself (TPP_CUSTOM, one tag lookup per call);
    # a policy the user sets is the scheduler's, and never doubles the tags
    assert cohere.phase_precoder_cc().tag_propagation_policy() == gr.TPP_CUSTOM
    for policy, expect in ((gr.TPP_ALL_TO_ALL, want), (gr.TPP_ONE_TO_ONE, want), (gr.TPP_DONT, [])):
        blk = cohere.phase_precoder_cc()
        blk.set_tag_propagation_policy(policy)
        got = out_tags(blk, 333)
        assert [t for t in got if t[1] != "phase_applied"] == expect, policy
        assert sum(t[1] == "phase_applied" for t in got) == 2


def test_complex_gain_and_random_input():
    """A complex gain multiplies as g exp(j theta); random input within one
    complex64 product (1.4e-7 relative). The tag reports a complex gain."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(5000) + 1j * rng.standard_normal(5000)).astype(np.complex64)
    g = 0.3 + 0.7j
    y, tags = run(cohere.phase_precoder_cc(), x, [cmd(gain=g, phase=0.5, time=2000)])
    want = x.astype(complex)
    want[2000:] *= complex(const(g, 0.5))
    assert np.all(np.abs(y - want) <= 1.4e-7 * np.abs(want) + 1e-30)
    assert tags[0][1]["gain"] == pytest.approx(g)


def test_output_does_not_depend_on_chunking():
    """Random input, two phase changes: the output is the same bit for bit for
    every buffer setting (the product is element-wise, no SIMD tail rounding
    differently) and equals the complex64 product (a c - b d, a d + b c) with
    each operation rounded to float, as computed by numpy."""
    rng = np.random.default_rng(8)
    n = 3001
    x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
    msgs = [cmd(phase=0.7, time=555), cmd(phase=-2.9, time=2048)]
    c = [const(1.0, 0.1), const(1.0, 0.7), const(1.0, -2.9)]
    want = np.empty(n, np.complex64)
    for (lo, hi), g in zip(((0, 555), (555, 2048), (2048, n)), c):
        a, b = x[lo:hi].real, x[lo:hi].imag
        gr_, gi = np.float32(g.real), np.float32(g.imag)
        want[lo:hi].real = gr_ * a - gi * b
        want[lo:hi].imag = gr_ * b + gi * a
    for max_items in (None, 1, 7, 999):
        y, _ = run(cohere.phase_precoder_cc(0.1), x, msgs, max_items)
        assert np.array_equal(y, want), max_items


def test_setters_apply_at_next_sample():
    """set_phase/set_gain before start apply at sample 0 (tagged)."""
    blk = cohere.phase_precoder_cc()
    blk.set_phase(np.pi / 3)
    blk.set_gain(0.25j)
    y, tags = run(blk, np.ones(100))
    assert np.array_equal(y, np.full(100, const(0.25j, np.pi / 3)))
    assert [o for o, _ in tags] == [0]
    with pytest.raises(ValueError, match="phase"):
        blk.set_phase(float("nan"))
    with pytest.raises(ValueError, match="gain"):
        blk.set_gain(complex(1, float("inf")))


def test_setter_storm_keeps_the_latest_value():
    """Setters called far more often than the queue holds while no sample is
    processed (a GUI slider before the flowgraph runs) lose nothing: the
    immediate commands fold into one, the output holds the last phase and
    gain from sample 0, and every call counts as applied (they once filled
    the 1024-entry queue and the latest ones were dropped). A timed command
    queued in between keeps its sample."""
    blk = cohere.phase_precoder_cc()
    phases = np.linspace(-3, 3, 5000)
    for k, p in enumerate(phases):
        blk.set_phase(float(p))
        if k % 2:
            blk.set_gain(complex(1 + k / 5000, 0))
        if k == 2500:
            blk.to_basic_block()._post(pmt.intern("cmd"), cmd(phase=0.5, time=40))
    y, tags = run(blk, np.ones(60))
    want_gain = 1 + 4999 / 5000
    assert blk.commands_dropped() == 0 and blk.commands_applied() == 5000 + 2500 + 1
    assert np.array_equal(y[:40], np.full(40, const(want_gain, 3.0)))
    assert np.array_equal(y[40:], np.full(20, const(want_gain, 0.5)))
    assert [o for o, _ in tags] == [0, 40]


def test_setter_from_another_thread_while_running():
    """A setter called from another thread while the flowgraph runs (work()
    reads the command queue without its lock while nothing is queued) takes
    effect at one sample: every output before the tagged sample is the old
    constant, every one from it on the new constant."""
    import time

    from gnuradio import blocks, gr

    tb = gr.top_block()
    blk = cohere.phase_precoder_cc(0.0, 1.0)
    snk = blocks.vector_sink_c()
    tb.connect(blocks.vector_source_c([1 + 0j], True), blocks.throttle(gr.sizeof_gr_complex, 2e5),
               blk, snk)
    tb.start()
    try:
        deadline = time.monotonic() + 10
        while blk.nitems_read(0) < 5000 and time.monotonic() < deadline:
            time.sleep(0.005)
        blk.set_phase(1.0)
        while blk.commands_applied() < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)
    finally:
        tb.stop()
        tb.wait()
    y = np.array(snk.data(), np.complex64)
    tags = [t.offset for t in snk.tags() if pmt.symbol_to_string(t.key) == "phase_applied"]
    assert blk.commands_applied() == 1 and len(tags) == 1
    k = tags[0]
    assert 5000 <= k < len(y)
    assert np.array_equal(y[:k], np.full(k, const(1.0, 0.0)))
    assert np.array_equal(y[k:], np.full(len(y) - k, const(1.0, 1.0)))


def test_nonfinite_input_stays_local():
    """NaN/Inf input samples affect only their own output samples."""
    x = np.ones(1000, np.complex64)
    x[[10, 500]] = [np.nan, np.inf]
    y, _ = run(cohere.phase_precoder_cc(1.0, 2.0), x)
    ok = np.isfinite(x)
    assert np.array_equal(y[ok], np.full(ok.sum(), const(2.0, 1.0)))


BAD_MESSAGES = [
    (pmt.PMT_T, "not a dict"),
    (pmt.to_pmt({"phase": "zero"}), "`phase` must be a finite real number"),
    (pmt.to_pmt({"gain": float("inf")}), "`gain` must be a finite real or complex number"),
    (pmt.to_pmt({"gain": [1, 2]}), "`gain` must be a finite real or complex number"),
    (pmt.to_pmt({"gain": 1e39}), "`gain` must be a finite real or complex number"),  # > FLT_MAX
    # each part fits a float, |gain| = 4.2e38 does not: g exp(j phase) was NaN/Inf
    (pmt.to_pmt({"gain": 3e38 + 3e38j, "phase": np.pi / 4}), "|gain| <= 3.4e38"),
    (pmt.to_pmt({"time": 3}), "needs `phase` and/or `gain`"),
    (pmt.to_pmt({"phase": 1.0, "time": "now"}), "`time` must be a non-negative integer"),
    # a field present with Python's None (the empty list) is malformed, not
    # absent: `time: None` was applied at once, `phase: None` ignored
    (pmt.to_pmt({"phase": 1.0, "time": None}), "`time` must be a non-negative integer"),
    (pmt.to_pmt({"phase": None, "gain": 2.0}), "`phase` must be a finite real number"),
]


def test_malformed_messages_are_logged_and_dropped(capfd):
    """Malformed messages are dropped (counted) and logged with their reason;
    a valid command among them still lands on its sample."""
    blk = cohere.phase_precoder_cc()
    y, tags = run(blk, np.ones(50), [m for m, _ in BAD_MESSAGES] + [cmd(phase=np.pi, time=20)])
    assert blk.commands_dropped() == len(BAD_MESSAGES)
    assert [o for o, _ in tags] == [20]
    assert np.array_equal(y[20:], np.full(30, const(1.0, np.pi)))
    cap = capfd.readouterr()
    for _, reason in BAD_MESSAGES:
        assert reason in cap.out + cap.err, reason


@pytest.mark.parametrize("kw,name", [(dict(phase=float("nan")), "phase"),
                                     (dict(gain=complex(float("inf"), 0)), "gain"),
                                     (dict(phase=np.pi / 4, gain=3e38 + 3e38j), "gain")])
def test_invalid_constructor_args(kw, name):
    """Non-finite constructor arguments raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=name):
        cohere.phase_precoder_cc(**kw)


def test_largest_gain_at_every_phase_stays_finite():
    """|gain| = FLT_MAX, the largest accepted (constructor, set_gain and
    messages), gives a finite multiplier at any phase: each part of g
    exp(j phase) is at most |g|."""
    flt_max = float(np.finfo(np.float32).max)
    for phase in (0.0, np.pi / 4, 2.0, -3.0):
        g = complex(flt_max * np.cos(0.3), flt_max * np.sin(0.3)) * (1 - 1e-7)
        blk = cohere.phase_precoder_cc(phase, g)
        y, _ = run(blk, np.full(8, 0.5 + 0j), [cmd(gain=flt_max, time=4)])
        assert blk.commands_dropped() == 0 and blk.commands_applied() == 1
        assert np.all(np.isfinite(y)), (phase, y)
