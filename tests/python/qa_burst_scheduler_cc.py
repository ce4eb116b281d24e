# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA of cohere.burst_scheduler_cc (deterministic RX-to-TX turnaround).

Index model under test (see the block's header): input item n is RX index n,
output item k is TX index k; TX 0..D-1 come first, TX n + D is produced when
RX n is read; a burst for on-air RX time T is written at TX index T - L; a
trigger at RX n can place bursts at TX >= n + D, i.e. T >= n + D + L.
Burst samples with unit gain are placed bit-exactly (0 + 1 x is exact);
rotated ones within one complex64 product (1.4e-7 relative).
"""

import math
import threading
import time

import numpy as np
import pmt
import pytest

from gnuradio import blocks, gr
from gnuradio import cohere

FS = 1e6


def pdu(t, samples, **meta):
    d = pmt.make_dict()
    d = pmt.dict_add(d, pmt.intern("time"), pmt.from_uint64(t))
    for k, v in meta.items():
        d = pmt.dict_add(d, pmt.intern(k), pmt.to_pmt(v))
    s = np.asarray(samples, np.complex64)
    return pmt.cons(d, pmt.init_c32vector(len(s), s.tolist()))


def decision(event, burst=None):
    d = pmt.make_dict()
    d = pmt.dict_add(d, pmt.intern("event"), pmt.to_pmt(event))
    if burst is None:
        return pmt.dict_add(d, pmt.intern("none"), pmt.PMT_T)
    return pmt.dict_add(d, pmt.intern("burst"), burst)


def tag(offset, key, value):
    t = gr.tag_t()
    t.offset = offset
    t.key = pmt.intern(key)
    t.value = pmt.to_pmt(value)
    return t


def peak(index, phase=0.0, preamble=0):
    return {"index": float(index), "phase": float(phase), "preamble": preamble, "amp": 1.0}


def pending(event):
    return {"event": event}


def waveform(n, seed=1):
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / 2).astype(np.complex64)


class Flowgraph:
    """vector_source (RX, with tags) -> scheduler -> vector_sink (TX); `late` to message_debug."""

    def __init__(self, sched, n_rx, tags=(), rx=None):
        self.sched = sched
        self.tb = gr.top_block()
        rx = np.zeros(n_rx, np.complex64) if rx is None else rx
        self.src = blocks.vector_source_c(rx.tolist(), False, 1, list(tags))
        self.snk = blocks.vector_sink_c()
        self.dbg = blocks.message_debug()
        self.tb.connect(self.src, sched, self.snk)
        self.tb.msg_connect(sched, "late", self.dbg, "store")

    def post(self, port, msg):
        self.sched.to_basic_block()._post(pmt.intern(port), msg)

    def run(self, max_items=None):
        if max_items:
            self.tb.run(max_items)
        else:
            self.tb.run()
        return self.result()

    def result(self):
        out = np.array(self.snk.data(), np.complex64)
        tags = {}
        for t in self.snk.tags():
            tags.setdefault(pmt.symbol_to_string(t.key), []).append(
                (t.offset, pmt.to_python(t.value)))
        late = [pmt.to_python(self.dbg.get_message(i)) for i in range(self.dbg.num_messages())]
        return out, tags, late


def test_lookahead_and_latency_place_bursts_exactly():
    """With lookahead D and latency L, the output has N + D items and a burst
    for on-air time T starts at TX index T - L exactly (bit-exact samples,
    zeros elsewhere), also when the first D items hold it (T - L < D); every
    burst is tagged tx_sob + tx_time on its first and tx_eob on its last
    sample; several buffer settings give the same stream."""
    n, d, lat = 5000, 300, 120
    w1, w2 = waveform(64, 1), waveform(100, 2)
    runs = []
    for max_items in (None, 1, 77):
        s = cohere.burst_scheduler_cc(FS, d, lat)
        fg = Flowgraph(s, n)
        fg.post("burst", pdu(2000, w2))
        fg.post("burst", pdu(lat + 150, w1))  # TX 150, inside the first D items
        out, tags, late = fg.run(max_items)
        assert len(out) == n + d
        want = np.zeros(n + d, np.complex64)
        want[150:214] = w1
        want[2000 - lat:2000 - lat + 100] = w2
        assert np.array_equal(out, want)
        assert [o for o, _ in tags["tx_sob"]] == [150, 2000 - lat]
        assert [o for o, _ in tags["tx_eob"]] == [213, 2000 - lat + 99]
        assert [o for o, _ in tags["tx_time"]] == [150, 2000 - lat]
        assert tags["tx_time"][1][1] == (0, pytest.approx((2000 - lat) / FS, abs=1e-15))
        assert late == [] and s.late_count() == 0 and s.scheduled_count() == 2
        runs.append(out)
    assert all(np.array_equal(r, runs[0]) for r in runs)


def test_burst_tags_are_scheduled_in_stream_order():
    """A `burst` tag (a PDU, as on the `burst` port) is scheduled when the
    block reaches its RX index m, when TX index m + D is the first writable:
    a target T = m + D + L (TX index T - L = m + D) is on time whatever the
    buffer setting (a message posted at m could be handled after the block
    passed T - L); T = m + D + L - 1 is late, counted and reported, never
    misplaced; a malformed one is logged and places nothing."""
    n, d, lat = 6000, 200, 30
    w = waveform(50, 5)

    def burst_tag(offset, value):
        t = gr.tag_t()
        t.offset, t.key, t.value = offset, pmt.intern("burst"), value
        return t

    tags = [burst_tag(1000, pdu(1000 + d + lat, w)), burst_tag(3000, pdu(3000 + d + lat - 1, w)),
            burst_tag(4000, pmt.from_long(1))]
    for max_items in (None, 1, 97):
        s = cohere.burst_scheduler_cc(FS, d, lat)
        out, otags, late = Flowgraph(s, n, tags=tags).run(max_items)
        want = np.zeros(n + d, np.complex64)
        want[1000 + d:1000 + d + 50] = w
        assert np.array_equal(out, want)
        assert s.scheduled_count() == 1 and s.late_count() == 1
        assert [m["time"] for m in late] == [3000 + d + lat - 1]


def test_out_of_order_overlapping_bursts_add():
    """Bursts posted in any order are sorted by time; overlapping bursts add
    (with their phase and gain) and form one tx_sob..tx_eob segment."""
    d, lat = 100, 0
    a, b, c = waveform(200, 3), waveform(50, 4), waveform(10, 5)
    s = cohere.burst_scheduler_cc(FS, d, lat)
    fg = Flowgraph(s, 2000)
    fg.post("burst", pdu(1500, c))
    fg.post("burst", pdu(1150, b, phase=math.pi / 2, gain=2.0))
    fg.post("burst", pdu(1000, a))
    out, tags, _ = fg.run()
    want = np.zeros(len(out), complex)
    want[1000:1200] += a
    want[1150:1200] += complex(np.complex64(2.0 * np.exp(1j * math.pi / 2))) * b
    want[1500:1510] += c
    assert np.all(np.abs(out - want) <= 1.4e-7 * np.abs(want) + 1e-7)
    assert np.array_equal(out[1000:1150], a[:150]) and np.array_equal(out[1500:1510], c)
    assert [o for o, _ in tags["tx_sob"]] == [1000, 1500]
    assert [o for o, _ in tags["tx_eob"]] == [1199, 1509]


def test_tx_time_tuple():
    """tx_time = (full secs, frac secs) of tx_time_offset + k / samp_rate (UHD)."""
    s = cohere.burst_scheduler_cc(1000.0, 10, 5)
    s.set_tx_time_offset(7, 0.75)
    fg = Flowgraph(s, 3000)
    fg.post("burst", pdu(2350, [1, 2]))  # TX index 2345
    _, tags, _ = fg.run()
    secs, frac = tags["tx_time"][0][1]
    assert tags["tx_time"][0][0] == 2345 and secs == 10 and frac == pytest.approx(0.095, abs=1e-12)


@pytest.mark.parametrize("delta,placed", [(0, True), (1, False), (25, False)])
def test_echo_minimum_turnaround_boundary(delta, placed):
    """The D/L constraint, exactly: a sync_peak tag at RX index m with
    round(index) = m - delta schedules the echo at T = m - delta + offset. With
    offset = D + L (the minimum), T - L = m + D - delta: delta = 0 lands on
    TX m + D (the first TX index still writable), delta >= 1 is late: dropped,
    counted, reported on `late` (time, tx_index, frontier, reason), never
    placed elsewhere."""
    d, lat, m = 200, 37, 1000
    w = waveform(32)
    s = cohere.burst_scheduler_cc(FS, d, lat, echo_waveform=w.tolist(), echo_offset=d + lat,
                                  echo_phase_mode="fixed")
    fg = Flowgraph(s, 3000, tags=[tag(m, "sync_peak", peak(m - delta))])
    out, tags, late = fg.run()
    if placed:
        assert np.array_equal(out[m + d:m + d + 32], w)
        assert np.count_nonzero(out) == np.count_nonzero(w)
        assert s.late_count() == 0 and late == []
    else:
        assert not np.any(out) and "tx_sob" not in tags
        assert s.late_count() == 1
        assert late == [{"time": m - delta + d + lat, "tx_index": m - delta + d,
                         "frontier": m + d, "reason": "late", "source": "echo"}]


@pytest.mark.parametrize("mode,rot", [("plus", 0.9), ("minus", -0.9), ("fixed", -2.2)])
def test_echo_phase_modes_and_preamble_filter(mode, rot):
    """The echo is the stored waveform rotated by exp(j rot): +phase (plus),
    -phase (minus) or echo_phase (fixed), at T = round(index) + offset; only
    the configured preamble id triggers it. Tolerance: one complex64 product."""
    d, lat, off = 64, 10, 500
    w = waveform(40, 9)
    s = cohere.burst_scheduler_cc(FS, d, lat, echo_waveform=w.tolist(), echo_offset=off,
                                  echo_preamble=2, echo_phase_mode=mode, echo_phase=-2.2)
    tags = [tag(1000, "sync_peak", peak(999.6, 0.9, 2)),   # round(index) = 1000
            tag(2000, "sync_peak", peak(2000.0, 0.9, 5))]  # another preamble
    out, otags, _ = Flowgraph(s, 4000, tags=tags).run()
    start = 1000 + off - lat
    g = np.complex64(np.exp(1j * rot))
    assert np.all(np.abs(out[start:start + 40] - g * w) <= 1.4e-7 * np.abs(w) + 1e-9)
    assert np.count_nonzero(out) == np.count_nonzero(w)
    assert [o for o, _ in otags["tx_sob"]] == [start]
    assert s.scheduled_count() == 1


def test_response_pending_stall_is_deterministic():
    """At a response_pending tag (RX n, event e) the block produces TX up to
    n + D - 1 and stalls until e's decision arrives; the result is identical
    whether the decision was posted before the start or 0.3 s into the run,
    and a decision burst at the minimum turnaround (T = n + D + L) lands at
    TX n + D. A `none` decision releases the stall without a burst; a
    decision burst that is too early is late (counted, reported)."""
    d, lat, n1, n2, n3 = 150, 20, 1000, 2500, 3000
    w = waveform(16, 11)
    tags = [tag(n1, "response_pending", pending(1)), tag(n2, "response_pending", pending("two")),
            tag(n3, "response_pending", pending(3))]
    decisions = [decision(1, pdu(n1 + d + lat, w)), decision("two"),
                 decision(3, pdu(n3 + d + lat - 1, w))]
    results = []
    for delayed in (False, True):
        s = cohere.burst_scheduler_cc(FS, d, lat)
        fg = Flowgraph(s, 5000, tags=tags)
        if not delayed:
            for m in decisions:
                fg.post("decision", m)
            out, otags, late = fg.run()
        else:
            fg.tb.start()
            deadline = time.monotonic() + 5
            while not s.stalled() and time.monotonic() < deadline:
                time.sleep(0.005)
            assert s.stalled()
            time.sleep(0.3)
            assert s.stalled() and len(fg.snk.data()) == n1 + d  # TX up to n1 + D - 1
            for m in decisions:
                fg.post("decision", m)
            fg.tb.wait()
            out, otags, late = fg.result()
        assert not s.stalled()
        assert np.array_equal(out[n1 + d:n1 + d + 16], w)
        assert np.count_nonzero(out) == np.count_nonzero(w)
        assert s.late_count() == 1 and late[0]["source"] == "decision"
        assert late[0]["tx_index"] == n3 + d - 1 and late[0]["frontier"] == n3 + d
        results.append(out)
    assert np.array_equal(results[0], results[1])


def test_stop_while_stalled():
    """A stalled scheduler (decision never sent) still lets the flowgraph stop
    within 1 s."""
    s = cohere.burst_scheduler_cc(FS, 10)
    fg = Flowgraph(s, 1000, tags=[tag(100, "response_pending", pending(42))])
    fg.tb.start()
    deadline = time.monotonic() + 5
    while not s.stalled() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert s.stalled()
    t0 = time.monotonic()
    fg.tb.stop()
    fg.tb.wait()
    assert time.monotonic() - t0 < 1.0


def test_late_async_burst_and_queue_full():
    """An asynchronous burst whose TX index was already produced is dropped as
    late (never placed); beyond max_pending bursts the newest is dropped
    (reason "queue full", dropped_count); both are reported on `late`."""
    s = cohere.burst_scheduler_cc(FS, 10, 0, max_pending=2)
    tb = gr.top_block()
    src = blocks.null_source(gr.sizeof_gr_complex)
    head = blocks.head(gr.sizeof_gr_complex, 2_000_000)
    snk = blocks.vector_sink_c()
    dbg = blocks.message_debug()
    tb.connect(src, head, s)
    tb.connect(s, snk)
    tb.msg_connect(s, "late", dbg, "store")
    post = lambda m: s.to_basic_block()._post(pmt.intern("burst"), m)
    post(pdu(1_900_000, [1]))
    post(pdu(1_900_010, [2]))
    post(pdu(1_900_020, [3]))  # third: queue full
    tb.start()
    deadline = time.monotonic() + 5
    while s.nitems_written(0) < 100_000 and time.monotonic() < deadline:
        time.sleep(0.005)
    post(pdu(50, [4]))  # long gone
    tb.wait()
    out = np.array(snk.data())
    assert np.flatnonzero(out).tolist() == [1_900_000, 1_900_010]
    assert s.late_count() == 1 and s.dropped_count() == 1
    reports = sorted(pmt.to_python(dbg.get_message(i))["reason"] for i in range(dbg.num_messages()))
    assert reports == ["late", "queue full"]


BAD_BURSTS = [
    (pmt.intern("burst"), "not a PDU"),
    (pmt.cons(pmt.from_long(3), pmt.init_c32vector(1, [1])), "meta is not a dict"),
    (pmt.cons(pmt.to_pmt({"time": 10}), pmt.init_f32vector(1, [1])), "must be a c32vector"),
    (pmt.cons(pmt.to_pmt({"x": 10}), pmt.init_c32vector(1, [1])), "`time`"),
    (pmt.cons(pmt.to_pmt({"time": -3}), pmt.init_c32vector(1, [1])), "`time` must be"),
    (pmt.cons(pmt.to_pmt({"time": 10, "phase": "a"}), pmt.init_c32vector(1, [1])), "`phase`"),
    (pmt.cons(pmt.dict_add(pmt.make_dict(), pmt.intern("time"), pmt.from_uint64(2**63)),
              pmt.init_c32vector(1, [1])), "out of range"),
    (pmt.cons(pmt.to_pmt({"time": 10, "gain": float("nan")}), pmt.init_c32vector(1, [1])), "`gain`"),
    (pmt.cons(pmt.to_pmt({"time": 10}), pmt.init_c32vector(2, [1, complex(np.nan, 0)])), "NaN"),
    (pmt.cons(pmt.to_pmt({"time": 10}), pmt.init_c32vector(0, [])), "no samples"),
]


def test_malformed_messages_and_tags(capfd):
    """Malformed bursts, decisions, echo configurations and tags are logged
    with the reason and dropped; nothing is placed and the stream goes on. A
    decision whose burst is malformed releases the stall as `none`. NaN/Inf RX
    samples do not matter (the RX stream only carries time and tags)."""
    rx = np.zeros(2000, np.complex64)
    rx[::7] = np.nan
    rx[3::11] = np.inf
    w = waveform(8)
    s = cohere.burst_scheduler_cc(FS, 50, 0, echo_waveform=w.tolist(), echo_offset=100)
    tags = [tag(300, "sync_peak", "not a dict"), tag(400, "sync_peak", {"phase": 1.0}),
            tag(500, "sync_peak", {"index": float("nan"), "phase": 0.0}),
            tag(600, "response_pending", pending(5)), tag(700, "response_pending", 17)]
    fg = Flowgraph(s, 2000, tags=tags, rx=rx)
    for m, _ in BAD_BURSTS:
        fg.post("burst", m)
    fg.post("decision", pmt.intern("yes"))
    fg.post("decision", pmt.to_pmt({"burst": 1}))
    fg.post("decision", decision(5, pmt.cons(pmt.to_pmt({"time": 900}), pmt.PMT_T)))
    fg.post("echo", pmt.to_pmt({"offset": 3}))          # below D + L
    fg.post("echo", pmt.to_pmt({"mode": "sideways"}))
    # |gain| > FLT_MAX without amp_scale: every echo would overflow (it was
    # accepted, and each sync_peak then refused one by one)
    fg.post("echo", pmt.to_pmt({"gain": 1e39}))
    fg.post("echo", pmt.to_pmt({"once": None}))  # present, not a bool
    out, tags_out, late = fg.run()
    assert len(out) == 2050 and not np.any(out) and late == []
    assert s.scheduled_count() == 0 and not s.stalled()
    assert s.echo_offset() == 100 and s.echo_phase_mode() == "plus" and s.echo_gain(-1) == 1
    cap = capfd.readouterr()
    log = cap.out + cap.err
    for _, reason in BAD_BURSTS:
        assert reason in log, reason
    for reason in ("decision message is not a dict", "without `event`", "treated as `none`",
                   "offset must be >= lookahead + latency", "phase_mode",
                   "sync_peak tag at 300 is not a dict", "`index` must be",
                   "response_pending tag at 700", "(FLT_MAX) when amp_scale is 0",
                   "`once` must be a bool"):
        assert reason in log, reason


def test_echo_message_reconfigures():
    """An `echo` message merges into the configuration (here: waveform, offset,
    fixed phase), applied to the following sync_peak tags."""
    s = cohere.burst_scheduler_cc(FS, 20, 5)
    fg = Flowgraph(s, 1000, tags=[tag(100, "sync_peak", peak(100))])
    w = waveform(5)
    fg.post("echo", pmt.to_pmt({"waveform": w, "offset": 40, "mode": "fixed", "phase": 0.0}))
    out, _, _ = fg.run()
    assert np.array_equal(out[135:140], w)
    assert s.echo_offset() == 40 and np.array_equal(np.array(s.echo_waveform(), np.complex64), w)


@pytest.mark.parametrize("kw,name", [
    (dict(samp_rate=0.0), "samp_rate"),
    (dict(lookahead=0), "lookahead"),
    (dict(latency=-1), "latency"),
    (dict(max_pending=0), "max_pending"),
    (dict(max_pending=2**31 - 1), "max_pending"),  # was a MemoryError (storage reserved)
    (dict(echo_waveform=[1, 2], echo_offset=10), "echo_offset"),
    (dict(echo_waveform=[1, complex(np.nan, 0)], echo_offset=200), "echo_waveform"),
    (dict(echo_phase_mode="up"), "echo_phase_mode"),
    (dict(echo_phase=float("inf")), "echo_phase"),
    (dict(echo_preamble=-2), "echo_preamble"),
])
def test_invalid_constructor_args(kw, name):
    """Invalid constructor arguments raise ValueError naming the argument;
    echo_offset below lookahead + latency is refused when an echo is set (every
    echo would be late)."""
    args = dict(samp_rate=FS, lookahead=100, latency=10)
    args.update(kw)
    with pytest.raises(ValueError, match=name):
        cohere.burst_scheduler_cc(**args)
    s = cohere.burst_scheduler_cc(FS, 100, 10)
    # set_echo's errors name its own arguments (offset, not echo_offset)
    with pytest.raises(ValueError, match="burst_scheduler_cc: offset must be >= lookahead"):
        s.set_echo([1], 109)
    with pytest.raises(ValueError, match="burst_scheduler_cc: phase_mode must be"):
        s.set_echo([1], 110, phase_mode="up")
    with pytest.raises(ValueError, match="burst_scheduler_cc: phase must be finite"):
        s.set_echo([1], 110, phase_mode="fixed", phase=float("nan"))
    s.set_echo([1], 110)


class PeakTagger(gr.sync_block):
    """Pass-through that puts one sync_peak tag at a given RX offset (stands in
    for the preamble detector)."""

    def __init__(self, offset, value):
        gr.sync_block.__init__(self, "peak_tagger", in_sig=[np.complex64], out_sig=[np.complex64])
        self.offset, self.value = offset, pmt.to_pmt(value)

    def work(self, input_items, output_items):
        n = len(output_items[0])
        output_items[0][:] = input_items[0][:n]
        start = self.nitems_written(0)
        if start <= self.offset < start + n:
            self.add_item_tag(0, self.offset, pmt.intern("sync_peak"), self.value)
        return n


def test_emulator_echo_arrives_at_exact_sample():
    """Integration on the over-the-air emulator: node 0 sends a pulse at TX
    index P; it reaches node 1 at RX P + d (integer link delay d). Node 1 runs
    virtual_radio_source_c -> (sync_peak tag at RX P + d, index P + d, phase
    0.7) -> burst_scheduler_cc(D, L) -> virtual_radio_sink_c with latency L in
    the hub, echoing a stored waveform at offset O (mode plus). The echo is on
    the air at P + d + O and arrives at node 0 at exactly P + 2d + O, rotated
    by exp(j 0.7) (unit links, no noise: within one complex64 product)."""
    d_link, lat, D, off, p, n = 5, 30, 64, 200, 1000, 4000
    hub = cohere.make_testbed(2, FS, 915e6, seed=1, chain_gain_std_db=0.0,
                              chain_phase_spread=0.0, initial_phase=0.0,
                              link_delay=float(d_link), latency=[0, lat])
    w = waveform(48, 21)
    tb = gr.top_block()
    pulse = np.zeros(n, np.complex64)
    pulse[p] = 1.0
    tb.connect(blocks.vector_source_c(pulse.tolist()), cohere.virtual_radio_sink_c(hub, 0))
    rx0 = blocks.vector_sink_c()
    tb.connect(cohere.virtual_radio_source_c(hub, 0, 1, n), rx0)
    src1 = cohere.virtual_radio_source_c(hub, 1, 1, n)
    tagger = PeakTagger(p + d_link, peak(p + d_link, 0.7, 0))
    sched = cohere.burst_scheduler_cc(FS, D, lat, echo_waveform=w.tolist(), echo_offset=off,
                                      echo_preamble=0, echo_phase_mode="plus")
    tb.connect(src1, tagger, sched, cohere.virtual_radio_sink_c(hub, 1))
    tb.run()
    y = np.array(rx0.data())
    start = p + 2 * d_link + off
    want = np.complex64(np.exp(0.7j)) * w
    assert np.all(np.abs(y[start:start + 48] - want) <= 1.4e-7 * np.abs(want) + 1e-7)
    assert np.max(np.abs(y[:start])) == 0 and np.max(np.abs(y[start + 48:])) == 0
    assert sched.late_count() == 0 and sched.scheduled_count() == 1


# ------------------------------------------------------------------ echo table

# Unit roundoff of float32. A burst sample is c64(g) * w in complex64 with the
# factor g computed in double: |c64(g) - g| <= U |g| (rounding) and the
# complex64 product adds at most sqrt(5) U |c64(g)| |w| (Brent, Percival and
# Zimmermann's bound for the textbook complex product).
U = 2.0 ** -24


def assert_burst(seg, g, w):
    """seg == g * w (g complex, computed here in double) within the bound above."""
    w = np.asarray(w, np.complex64).astype(complex)
    err = np.abs(seg.astype(complex) - g * w)
    assert np.all(err <= (1 + math.sqrt(5)) * U * abs(g) * np.abs(w) * (1 + 1e-6)), err.max()


def assert_zero_outside(out, *spans):
    """Every sample outside the (start, length) spans is exactly zero."""
    mask = np.ones(len(out), bool)
    for start, n in spans:
        mask[start:start + n] = False
    assert not np.any(out[mask]), np.flatnonzero(out * mask)[:10]


def echo_msg(**fields):
    """An `echo` message dict: `time` as uint64, `waveform` as c32vector, PMT
    values as given, the rest through pmt.to_pmt."""
    d = pmt.make_dict()
    for k, v in fields.items():
        if isinstance(v, pmt.pmt_base):
            pass
        elif k == "time":
            v = pmt.from_uint64(v)
        elif k == "waveform":
            s = np.asarray(v, np.complex64)
            v = pmt.init_c32vector(len(s), s.tolist())
        else:
            v = pmt.to_pmt(v)
        d = pmt.dict_add(d, pmt.intern(k), v)
    return d


def test_echo_table_setters_and_getters():
    """set_echo() adds or replaces one entry (relative, gain 1, amp_scale 0,
    once False) and makes it the default entry of the getters without
    argument; an empty waveform removes the entry; a refused set_echo() changes
    nothing; clear_echo() removes one entry; a missing entry reads as a new
    entry's defaults."""
    s = cohere.burst_scheduler_cc(FS, 10, 2, echo_waveform=[1, 2j], echo_offset=50,
                                  echo_preamble=4)
    assert s.echo_preambles() == [4] and s.echo_preamble() == 4
    assert s.echo_waveform() == [1, 2j] and s.echo_offset() == 50
    s.set_echo([3], 20, -1, "fixed", 0.25)
    assert s.echo_preambles() == [-1, 4] and s.echo_preamble() == -1
    assert (s.echo_waveform(), s.echo_offset(), s.echo_phase_mode(), s.echo_phase()) == (
        [3], 20, "fixed", 0.25)
    assert (s.echo_waveform(4), s.echo_offset(4), s.echo_phase_mode(4)) == ([1, 2j], 50, "plus")
    assert (s.echo_time(-1), s.echo_gain(-1), s.echo_amp_scale(-1), s.echo_once(-1)) == (
        -1, 1, 0.0, False)
    with pytest.raises(ValueError, match="offset must be"):
        s.set_echo([1], 11, 4)  # below D + L = 12
    assert s.echo_offset(4) == 50 and s.echo_preamble() == -1
    s.set_echo([], 0, 4)
    assert s.echo_preambles() == [-1] and s.echo_preamble() == 4
    assert s.echo_waveform() == [] and s.echo_offset() == 0 and s.echo_waveform(4) == []
    s.clear_echo(12)
    assert s.echo_preambles() == [-1]
    s.clear_echo(-1)
    assert s.echo_preambles() == [] and s.echo_waveform(-1) == []


def test_echo_table_two_preambles_fire_independently():
    """Entry 0 from the constructor (offset 300, plus) and entry 1 from an
    `echo` message (other waveform, offset 500, minus): a tag of preamble 0 and
    one of preamble 1 each place their own entry's burst at round(index) +
    offset, a tag of preamble 2 (no entry, no entry -1) places nothing, and the
    message for preamble 1 leaves entry 0 as it was."""
    d, lat = 40, 7
    w0, w1 = waveform(24, 31), waveform(17, 32)
    s = cohere.burst_scheduler_cc(FS, d, lat, echo_waveform=w0.tolist(), echo_offset=300,
                                  echo_preamble=0)
    tags = [tag(1000, "sync_peak", peak(999.7, 0.4, 0)),
            tag(1200, "sync_peak", peak(1200.2, 1.1, 1)),
            tag(1500, "sync_peak", peak(1500.0, 0.3, 2))]
    fg = Flowgraph(s, 3000, tags=tags)
    fg.post("echo", echo_msg(preamble=1, waveform=w1, offset=500, mode="minus"))
    out, otags, late = fg.run()
    s0, s1 = 1000 + 300 - lat, 1200 + 500 - lat
    assert_burst(out[s0:s0 + 24], np.exp(0.4j), w0)
    assert_burst(out[s1:s1 + 17], np.exp(-1.1j), w1)
    assert_zero_outside(out, (s0, 24), (s1, 17))
    assert [o for o, _ in otags["tx_sob"]] == [s0, s1]
    assert late == [] and s.scheduled_count() == 2 and s.dropped_count() == 0
    assert s.echo_preambles() == [0, 1] and s.echo_preamble() == 0
    assert (s.echo_offset(0), s.echo_phase_mode(0)) == (300, "plus")
    assert (s.echo_offset(1), s.echo_phase_mode(1)) == (500, "minus")


def test_echo_tags_edit_the_table_in_stream_order():
    """`echo` tags carry the same dicts as `echo` messages but in stream
    order: one on the very sample of a sync_peak (inserted after it) arms the
    entry that this peak then fires; one that clears it on the sample of a
    later peak goes first too, so that peak and the next fire nothing (one
    burst in all, not three); a malformed one is logged and changes nothing.
    The same for any buffer setting."""
    d, lat = 40, 7
    w = waveform(20, 41)
    arm = gr.tag_t()
    arm.offset, arm.key = 1000, pmt.intern("echo")
    arm.value = echo_msg(preamble=1, waveform=w, offset=300, mode="plus")
    bad = gr.tag_t()
    bad.offset, bad.key, bad.value = 1500, pmt.intern("echo"), pmt.from_long(7)
    clear = gr.tag_t()
    clear.offset, clear.key, clear.value = 2000, pmt.intern("echo"), echo_msg(preamble=1, clear=True)
    tags = [tag(1000, "sync_peak", peak(1000.0, 0.5, 1)), arm, bad,
            tag(1600, "sync_peak", peak(1600.0, 0.0, 2)),
            clear, tag(2000, "sync_peak", peak(2000.0, 0.2, 1)),
            tag(2500, "sync_peak", peak(2500.0, 0.2, 1))]
    for max_items in (None, 1, 333):
        s = cohere.burst_scheduler_cc(FS, d, lat)
        out, _, late = Flowgraph(s, 4000, tags=tags).run(max_items)
        s0 = 1000 + 300 - lat
        assert_burst(out[s0:s0 + 20], np.exp(0.5j), w)
        assert_zero_outside(out, (s0, 20))
        assert late == [] and s.scheduled_count() == 1 and s.echo_preambles() == []


def test_echo_entry_minus_one_is_the_fallback():
    """Entry -1 (constructor: offset 200, fixed phase 0.5) and entry 3
    (set_echo: offset 400, plus): a tag of preamble 3 places entry 3's burst
    only; a tag of preamble 7 and a tag without `preamble` place entry -1's.
    With entry -1 cleared (clear_echo), only the preamble-3 tag places
    anything."""
    d, lat = 30, 4
    wa, w3 = waveform(16, 33), waveform(12, 34)
    tags = [tag(1000, "sync_peak", peak(1000.0, 0.2, 3)),
            tag(1100, "sync_peak", peak(1099.9, 0.9, 7)),
            tag(2000, "sync_peak", {"index": 2000.4, "phase": -0.6})]
    for cleared in (False, True):
        s = cohere.burst_scheduler_cc(FS, d, lat, echo_waveform=wa.tolist(), echo_offset=200,
                                      echo_phase_mode="fixed", echo_phase=0.5)
        s.set_echo(w3.tolist(), 400, 3, "plus")
        if cleared:
            s.clear_echo(-1)
        out, _, late = Flowgraph(s, 3000, tags=tags).run()
        s3, s7, sn = 1000 + 400 - lat, 1100 + 200 - lat, 2000 + 200 - lat
        assert_burst(out[s3:s3 + 12], np.exp(0.2j), w3)
        if cleared:
            assert_zero_outside(out, (s3, 12))
            assert s.scheduled_count() == 1
        else:
            assert_burst(out[s7:s7 + 16], np.exp(0.5j), wa)
            assert_burst(out[sn:sn + 16], np.exp(0.5j), wa)
            assert_zero_outside(out, (s3, 12), (s7, 16), (sn, 16))
            assert s.scheduled_count() == 3
        assert late == [] and s.dropped_count() == 0


@pytest.mark.parametrize("preamble", [pmt.from_double(3.0), pmt.intern("3"),
                                      pmt.from_uint64(2 ** 63)], ids=["double", "symbol", "2^63"])
def test_echo_sync_peak_with_a_malformed_preamble_fires_nothing(preamble, capfd):
    """A sync_peak whose `preamble` is not an integer id names some preamble,
    so it never fires the fallback entry -1 in its place (a double 3.0 or a
    symbol '3' did, silently): it is dropped, counted and logged, and a
    well-formed tag after it still fires."""
    d, lat = 30, 4
    wa, w3 = waveform(16, 35), waveform(12, 36)
    bad = pmt.dict_add(pmt.to_pmt({"index": 1000.0, "phase": 0.2}), pmt.intern("preamble"),
                       preamble)
    first = tag(1000, "sync_peak", {})
    first.value = bad
    tags = [first, tag(1500, "sync_peak", peak(1500.0, 0.2, 3))]
    s = cohere.burst_scheduler_cc(FS, d, lat, echo_waveform=wa.tolist(), echo_offset=200,
                                  echo_phase_mode="fixed", echo_phase=0.5)
    s.set_echo(w3.tolist(), 400, 3, "plus")
    out, _, late = Flowgraph(s, 3000, tags=tags).run()
    s3 = 1500 + 400 - lat
    assert_burst(out[s3:s3 + 12], np.exp(0.2j), w3)
    assert_zero_outside(out, (s3, 12))
    assert s.scheduled_count() == 1 and s.dropped_count() == 1 and late == []
    assert "`preamble` must be an integer id" in "".join(capfd.readouterr())


def test_echo_message_without_preamble_edits_the_default_entry():
    """After set_echo(..., preamble 2), an `echo` message without `preamble`
    edits entry 2 (here its offset), not the constructor's entry 0."""
    d, lat = 20, 3
    w0, w2 = waveform(10, 35), waveform(9, 36)
    s = cohere.burst_scheduler_cc(FS, d, lat, echo_waveform=w0.tolist(), echo_offset=100,
                                  echo_preamble=0, echo_phase_mode="fixed")
    s.set_echo(w2.tolist(), 100, 2, "fixed")
    tags = [tag(500, "sync_peak", peak(500, 0.0, 0)), tag(800, "sync_peak", peak(800, 0.0, 2))]
    fg = Flowgraph(s, 1500, tags=tags)
    fg.post("echo", echo_msg(offset=250))
    out, _, _ = fg.run()
    assert np.array_equal(out[500 + 100 - lat:500 + 100 - lat + 10], w0)
    assert np.array_equal(out[800 + 250 - lat:800 + 250 - lat + 9], w2)
    assert_zero_outside(out, (500 + 100 - lat, 10), (800 + 250 - lat, 9))
    assert s.echo_offset(0) == 100 and s.echo_offset(2) == 250 and s.echo_preamble() == 2


@pytest.mark.parametrize("delta,placed", [(0, True), (1, False)])
def test_echo_absolute_time(delta, placed):
    """`time` T switches an entry to absolute mode: a tag at RX m places the
    burst at TX T - L whatever its index (here 400 samples before m, while the
    entry's former offset 5000 would land inside the output). T = m + D + L
    (the minimum turnaround) lands exactly at TX m + D; one sample earlier it
    is late: dropped whole, counted, reported on `late` with source "echo"."""
    d, lat, m, n = 120, 33, 900, 6000
    w = waveform(20, 41)
    t_air = m + d + lat - delta
    s = cohere.burst_scheduler_cc(FS, d, lat, echo_waveform=w.tolist(), echo_offset=5000,
                                  echo_preamble=4, echo_phase_mode="fixed")
    fg = Flowgraph(s, n, tags=[tag(m, "sync_peak", peak(m - 400.3, 0.6, 4))])
    fg.post("echo", echo_msg(preamble=4, time=t_air))
    out, otags, late = fg.run()
    assert s.echo_time(4) == t_air and s.echo_offset(4) == 0
    if placed:
        assert np.array_equal(out[m + d:m + d + 20], w)
        assert_zero_outside(out, (m + d, 20))
        assert [o for o, _ in otags["tx_sob"]] == [m + d]
        assert late == [] and s.late_count() == 0 and s.scheduled_count() == 1
    else:
        assert not np.any(out) and "tx_sob" not in otags
        assert s.late_count() == 1 and s.scheduled_count() == 0
        assert late == [{"time": t_air, "tx_index": t_air - lat, "frontier": m + d,
                         "reason": "late", "source": "echo"}]


def test_echo_gain_and_amp_scale(capfd):
    """Entry 0: complex gain 0.5-1.5j and amp_scale 2.5, mode plus: a tag with
    amp 0.8 and phase 0.9 places w * gain * 2.5 * 0.8 * exp(j 0.9); tags of
    preamble 0 without `amp` or with a NaN `amp` are malformed for it (logged,
    nothing placed). Entry 1 (real gain -2, amp_scale 0, fixed phase 0.3)
    ignores `amp`: a tag without it places w * -2 * exp(j 0.3)."""
    d, lat = 50, 6
    w0, w1 = waveform(30, 37), waveform(21, 38)
    s = cohere.burst_scheduler_cc(FS, d, lat)
    tags = [tag(1000, "sync_peak", dict(peak(1000.3, 0.9, 0), amp=0.8)),
            tag(1500, "sync_peak", {"index": 1500.0, "phase": 0.1, "preamble": 0}),
            tag(1700, "sync_peak", dict(peak(1700.0, 0.1, 0), amp=float("nan"))),
            tag(2000, "sync_peak", {"index": 2000.0, "phase": 0.7, "preamble": 1})]
    fg = Flowgraph(s, 3000, tags=tags)
    fg.post("echo", echo_msg(preamble=0, waveform=w0, offset=100, gain=0.5 - 1.5j,
                             amp_scale=2.5))
    fg.post("echo", echo_msg(preamble=1, waveform=w1, offset=100, gain=-2.0, mode="fixed",
                             phase=0.3))
    out, _, late = fg.run()
    s0, s1 = 1000 + 100 - lat, 2000 + 100 - lat
    assert_burst(out[s0:s0 + 30], (0.5 - 1.5j) * 2.5 * 0.8 * np.exp(0.9j), w0)
    assert_burst(out[s1:s1 + 21], -2.0 * np.exp(0.3j), w1)
    assert_zero_outside(out, (s0, 30), (s1, 21))
    assert s.scheduled_count() == 2 and s.dropped_count() == 2 and late == []
    assert s.echo_gain(0) == 0.5 - 1.5j and s.echo_amp_scale(0) == 2.5
    assert s.echo_gain(1) == -2.0 and s.echo_amp_scale(1) == 0.0
    log = "".join(capfd.readouterr())
    assert "sync_peak tag at 1500: `amp` must be a finite number" in log
    assert "sync_peak tag at 1700: `amp` must be a finite number" in log


@pytest.mark.parametrize("first_late", [False, True])
def test_echo_once_fires_once(first_late):
    """An entry with `once` is removed by the first tag that triggers it,
    whether its burst is placed or late; a second matching tag, which the
    entry would serve in time, places nothing. A tag that is malformed for
    the entry (no `phase` in mode plus) does not use it up."""
    d, lat = 50, 5
    off = d + lat  # the minimum turnaround: a tag index one sample early is late
    w = waveform(14, 39)
    delta = 3 if first_late else 0
    tags = [tag(400, "sync_peak", {"index": 400.0, "preamble": 2}),
            tag(1000, "sync_peak", peak(1000 - delta, 0.0, 2)),
            tag(2000, "sync_peak", peak(2000, 0.0, 2))]
    s = cohere.burst_scheduler_cc(FS, d, lat)
    fg = Flowgraph(s, 3000, tags=tags)
    fg.post("echo", echo_msg(preamble=2, waveform=w, offset=off, once=True))
    out, _, late = fg.run()
    if first_late:
        assert not np.any(out)
        assert s.late_count() == 1 and s.scheduled_count() == 0
        assert [r["time"] for r in late] == [1000 - delta + off]
    else:
        assert np.array_equal(out[1000 + off - lat:1000 + off - lat + 14], w)
        assert_zero_outside(out, (1000 + off - lat, 14))
        assert s.late_count() == 0 and s.scheduled_count() == 1 and late == []
    assert s.dropped_count() == 1  # the tag without `phase`
    assert s.echo_preambles() == [] and not s.echo_once(2)


def test_echo_clear():
    """`clear` removes the selected entry whatever the other fields (here an
    invalid offset); without `preamble` it removes the default entry; clearing
    a missing entry is not an error. Tags of the cleared preambles place
    nothing; the remaining entry still fires."""
    d, lat = 20, 2
    w5, w6, w7 = waveform(8, 40), waveform(9, 41), waveform(10, 42)
    s = cohere.burst_scheduler_cc(FS, d, lat, echo_waveform=w5.tolist(), echo_offset=100,
                                  echo_preamble=5, echo_phase_mode="fixed")
    tags = [tag(300, "sync_peak", peak(300, 0.0, 5)), tag(600, "sync_peak", peak(600, 0.0, 6)),
            tag(900, "sync_peak", peak(900, 0.0, 7))]
    fg = Flowgraph(s, 1500, tags=tags)
    fg.post("echo", echo_msg(preamble=6, waveform=w6, offset=100, mode="fixed"))
    fg.post("echo", echo_msg(preamble=7, waveform=w7, offset=100, mode="fixed"))
    fg.post("echo", echo_msg(preamble=6, clear=True, offset=3))
    fg.post("echo", echo_msg(clear=pmt.PMT_NIL))
    fg.post("echo", echo_msg(preamble=11, clear=True))
    out, _, late = fg.run()
    assert np.array_equal(out[900 + 100 - lat:900 + 100 - lat + 10], w7)
    assert_zero_outside(out, (900 + 100 - lat, 10))
    assert s.echo_preambles() == [7] and s.echo_preamble() == 5
    assert s.scheduled_count() == 1 and s.dropped_count() == 0 and late == []


BAD_ECHOES = [
    (pmt.intern("echo"), "echo message is not a dict"),
    (echo_msg(offset=600, time=5000), "exclude each other"),
    (echo_msg(offset=600, amp_scale=-1.0), "`amp_scale` must be"),
    (echo_msg(offset=600, amp_scale=float("inf")), "`amp_scale` must be"),
    (echo_msg(offset=600, amp_scale="big"), "`amp_scale` must be"),
    (echo_msg(offset=600, gain=float("nan")), "`gain` must be"),
    (echo_msg(offset=600, gain=complex(0.0, float("inf"))), "`gain` must be"),
    (echo_msg(offset=600, gain="big"), "`gain` must be"),
    (echo_msg(offset=600, once="yes"), "`once` must be a bool"),
    (echo_msg(offset=600, once=1), "`once` must be a bool"),
    (echo_msg(time=pmt.intern("soon")), "`time` must be"),
    (echo_msg(time=pmt.from_long(-5)), "`time` must be"),
    (echo_msg(time=2**62 + 1), "out of range"),
    (echo_msg(offset=600.5), "`offset` must be an integer"),
    (echo_msg(offset=600, phase="x"), "`phase` must be"),
    (echo_msg(offset=600, mode=3), "`mode`"),
    (echo_msg(offset=600, mode="sideways"), "`mode`"),
    (echo_msg(preamble="zero", offset=600), "`preamble` must be"),
    (echo_msg(preamble=-2, offset=600), "`preamble` must be"),
    (echo_msg(offset=600, waveform=pmt.init_f32vector(2, [1, 2])), "must be a c32vector"),
    (echo_msg(offset=600, waveform=[1, complex(np.nan, 0)]), "`waveform` must be finite"),
    (echo_msg(preamble=9, offset=600), "no entry for this preamble"),
    (echo_msg(preamble=9, waveform=[1, 2], offset=10), "offset must be >= lookahead"),
]


@pytest.mark.parametrize("msg,reason", BAD_ECHOES, ids=[r for _, r in BAD_ECHOES])
def test_malformed_echo_messages_change_nothing(msg, reason, capfd):
    """A malformed `echo` message (wrong types, both `offset` and `time`,
    negative or non-finite amp_scale, non-finite gain, invalid merged entry)
    is logged with the reason, counted in dropped_count() and changes
    nothing: not even its valid fields (offset 600) are applied, no entry 9
    appears, and entry 0 still places its burst at round(index) + 300."""
    d, lat = 40, 5
    w = waveform(12, 43)
    s = cohere.burst_scheduler_cc(FS, d, lat, echo_waveform=w.tolist(), echo_offset=300,
                                  echo_preamble=0)
    tags = [tag(1000, "sync_peak", peak(1000.2, 0.8, 0)),
            tag(1200, "sync_peak", peak(1200.0, 0.0, 9))]
    fg = Flowgraph(s, 2500, tags=tags)
    fg.post("echo", msg)
    out, _, late = fg.run()
    start = 1000 + 300 - lat
    assert_burst(out[start:start + 12], np.exp(0.8j), w)
    assert_zero_outside(out, (start, 12))
    assert s.dropped_count() == 1 and s.scheduled_count() == 1 and late == []
    assert s.echo_preambles() == [0]
    assert (s.echo_offset(0), s.echo_time(0), s.echo_phase_mode(0), s.echo_phase(0)) == (
        300, -1, "plus", 0.0)
    assert (s.echo_gain(0), s.echo_amp_scale(0), s.echo_once(0)) == (1, 0.0, False)
    assert np.array_equal(np.array(s.echo_waveform(0), np.complex64), w)
    assert reason in "".join(capfd.readouterr())


def test_echo_table_output_independent_of_buffer_sizes():
    """A table with a relative entry (0), an absolute once entry with complex
    gain (1) and an amp_scale fallback entry (-1) gives the same TX stream,
    tags and late reports with max_noutput_items unset, 37 and 1000, equal to
    the stream computed here: after entry 1 is used up, preamble 1 falls back
    to entry -1; a tag 60 samples after its peak misses entry 0's turnaround
    (offset D + L + 10) and is reported late."""
    d, lat = 64, 9
    off0 = d + lat + 10
    w0, w1, w2 = waveform(30, 44), waveform(25, 45), waveform(40, 46)
    tags = [tag(500, "sync_peak", dict(peak(499.6, 0.3, 0), amp=1.0)),
            tag(800, "sync_peak", dict(peak(800.0, 0.5, 1), amp=3.0)),
            tag(1300, "sync_peak", dict(peak(1300.0, 0.5, 1), amp=0.6)),
            tag(1700, "sync_peak", dict(peak(1690.4, -0.2, 5), amp=2.0)),
            tag(2500, "sync_peak", dict(peak(2440.0, 0.1, 0), amp=1.0))]
    spans = [(500 + off0 - lat, w0, np.exp(0.3j)),
             (2000 - lat, w1, 0.7j * np.exp(-0.5j)),
             (1300 + 400 - lat, w2, 1.5 * 0.6 * np.exp(1.2j)),
             (1690 + 400 - lat, w2, 1.5 * 2.0 * np.exp(1.2j))]
    runs = []
    for max_items in (None, 37, 1000):
        s = cohere.burst_scheduler_cc(FS, d, lat, echo_waveform=w0.tolist(), echo_offset=off0,
                                      echo_preamble=0)
        fg = Flowgraph(s, 3000, tags=tags)
        fg.post("echo", echo_msg(preamble=1, waveform=w1, time=2000, mode="minus", gain=0.7j,
                                 once=True))
        fg.post("echo", echo_msg(preamble=-1, waveform=w2, offset=400, mode="fixed", phase=1.2,
                                 amp_scale=1.5))
        out, otags, late = fg.run(max_items)
        assert len(out) == 3000 + d
        for start, w, g in spans:
            assert_burst(out[start:start + len(w)], g, w)
        assert_zero_outside(out, *[(start, len(w)) for start, w, _ in spans])
        assert [o for o, _ in otags["tx_sob"]] == sorted(start for start, _, _ in spans)
        assert late == [{"time": 2440 + off0, "tx_index": 2440 + off0 - lat,
                         "frontier": 2500 + d, "reason": "late", "source": "echo"}]
        assert s.echo_preambles() == [-1, 0] and s.scheduled_count() == 4
        runs.append((out, otags, late))
    for out, otags, late in runs[1:]:
        assert np.array_equal(out, runs[0][0]) and otags == runs[0][1] and late == runs[0][2]
