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
    out, tags_out, late = fg.run()
    assert len(out) == 2050 and not np.any(out) and late == []
    assert s.scheduled_count() == 0 and not s.stalled()
    assert s.echo_offset() == 100 and s.echo_phase_mode() == "plus"
    cap = capfd.readouterr()
    log = cap.out + cap.err
    for _, reason in BAD_BURSTS:
        assert reason in log, reason
    for reason in ("decision message is not a dict", "without `event`", "treated as `none`",
                   "echo_offset must be >= lookahead + latency", "echo_phase_mode",
                   "sync_peak tag at 300 is not a dict", "`index` must be",
                   "response_pending tag at 700"):
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
    with pytest.raises(ValueError, match="echo_offset"):
        s.set_echo([1], 109)
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
