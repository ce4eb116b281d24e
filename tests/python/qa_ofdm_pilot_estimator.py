# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA of cohere.ofdm_pilot_estimator (per-symbol OFDM pilot estimates)."""

import math

import numpy as np
import pmt
import pytest

from gnuradio import blocks, gr
from gnuradio import cohere
from gnuradio.cohere import ofdm

FFT, CP = 256, 64


def run_estimator(samples, tags, num_symbols, start_offset=0, tag_key="frame_start",
                  equalize=False, cmap=None, pilots=None):
    """Stream samples with tags through the estimator; return its PDUs as
    (meta dict, data array) and the block."""
    cmap = ofdm.carrier_map(FFT) if cmap is None else cmap
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT))) if pilots is None else pilots
    tb = gr.top_block()
    src = blocks.vector_source_c(np.asarray(samples, np.complex64).tolist(), False, 1, tags)
    est = cohere.ofdm_pilot_estimator(FFT, CP, [int(c) for c in cmap], list(pilots),
                                      num_symbols, start_offset, tag_key, equalize)
    dbg = blocks.message_debug()
    tb.connect(src, est)
    tb.msg_connect(est, "symbols", dbg, "store")
    tb.run()
    out = []
    for i in range(dbg.num_messages()):
        msg = dbg.get_message(i)
        meta = pmt.to_python(pmt.car(msg))
        out.append((meta, np.array(pmt.c32vector_elements(pmt.cdr(msg)))))
    return out, est


def tag(offset, key="frame_start", value=pmt.PMT_T):
    t = gr.tag_t()
    t.offset = offset
    t.key = pmt.intern(key)
    t.value = value
    return t


def frames_cut(stream, tags, cmap, pilots, num_symbols, max_items=None):
    """The `frame` of every PDU the estimator posts for sync_peak tags, run
    with max_noutput_items = max_items (None: GNU Radio's default)."""
    tb = gr.top_block()
    src = blocks.vector_source_c(np.asarray(stream, np.complex64).tolist(), False, 1, tags)
    est = cohere.ofdm_pilot_estimator(FFT, CP, [int(c) for c in cmap], list(pilots), num_symbols,
                                      0, "sync_peak", False)
    dbg = blocks.message_debug()
    tb.connect(src, est)
    tb.msg_connect(est, "symbols", dbg, "store")
    tb.run(max_items) if max_items else tb.run()
    return [pmt.to_python(pmt.car(dbg.get_message(i)))["frame"] for i in range(dbg.num_messages())]


def qpsk(rng, shape):
    return ((rng.integers(0, 2, shape) * 2 - 1) + 1j * (rng.integers(0, 2, shape) * 2 - 1)) / math.sqrt(2)


def test_known_answer_phases_and_data():
    """Noise-free symbols with a flat channel h and a per-symbol phase theta_m:
    common_phase = angle(h) + theta_m, pilots = h exp(j theta_m), raw data
    = h exp(j theta_m) X and equalized data = X, to float precision (1e-4);
    `time` is the CP start of each symbol."""
    rng = np.random.default_rng(1)
    cmap = ofdm.carrier_map(FFT)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    nd = int(np.sum(cmap == ofdm.DATA))
    data = qpsk(rng, (4, nd))
    sig = ofdm.modulate(data, cmap, pilots, CP).astype(complex)
    theta = np.array([0.3, -1.0, 2.5, -3.0])
    h = 0.7 * np.exp(1j * 0.4)
    sym_len = FFT + CP
    for m in range(4):
        sig[m * sym_len:(m + 1) * sym_len] *= h * np.exp(1j * theta[m])
    lead = 1000
    stream = np.concatenate([np.zeros(lead), sig, np.zeros(500)])
    for equalize in (False, True):
        out, est = run_estimator(stream, [tag(lead - 100)], 4, start_offset=100, equalize=equalize)
        assert len(out) == 4 and est.symbols_posted() == 4
        for m, (meta, values) in enumerate(out):
            assert meta["time"] == lead + m * sym_len and meta["symbol"] == m and meta["frame"] == lead
            expected = np.angle(h * np.exp(1j * theta[m]))
            assert abs(np.angle(np.exp(1j * (meta["common_phase"] - expected)))) < 1e-4
            assert meta["common_amp"] == pytest.approx(abs(h), rel=1e-4)
            assert np.allclose(meta["pilots"], h * np.exp(1j * theta[m]), atol=1e-4)
            want = data[m] if equalize else h * np.exp(1j * theta[m]) * data[m]
            assert np.allclose(values, want, atol=1e-4)


def test_sync_peak_index_is_honoured():
    """With tag_key sync_peak, the frame origin is round(value['index']), not
    the tag's offset (the detector tags the peak, the index is the preamble start)."""
    rng = np.random.default_rng(2)
    cmap = ofdm.carrier_map(FFT)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    sig = ofdm.modulate(qpsk(rng, (2, int(np.sum(cmap == ofdm.DATA)))), cmap, pilots, CP)
    stream = np.concatenate([np.zeros(700), sig, np.zeros(100)])
    value = pmt.to_pmt({"index": 499.6, "phase": 0.0})
    out, _ = run_estimator(stream, [tag(563, "sync_peak", value)], 2, start_offset=200,
                           tag_key="sync_peak")
    assert [meta["time"] for meta, _ in out] == [700, 700 + FFT + CP]
    assert all(abs(meta["common_phase"]) < 1e-4 for meta, _ in out)


def test_common_phase_mse_at_crb():
    """The common phase is the ML phase of a flat channel from the pilots: its
    MSE approaches the CRB 1 / (2 SNR sum_p |P_p|^2) (SNR per subcarrier; the
    unitary DFT keeps the noise variance per subcarrier). 1000 symbols give
    the MSE to a relative standard error of sqrt(2/1000) = 4.5 %; the bound is
    15 % (3.3 standard errors)."""
    rng = np.random.default_rng(3)
    cmap = ofdm.carrier_map(FFT)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    nsym, snr_db = 1000, 0.0
    sig = ofdm.modulate(qpsk(rng, (nsym, int(np.sum(cmap == ofdm.DATA)))), cmap, pilots, CP)
    sigma2 = 10 ** (-snr_db / 10)
    noise = np.sqrt(sigma2 / 2) * (rng.standard_normal(len(sig)) + 1j * rng.standard_normal(len(sig)))
    out, _ = run_estimator(sig + noise, [tag(0)], nsym)
    err = np.array([meta["common_phase"] for meta, _ in out])
    mse = np.mean(err ** 2)
    crb = sigma2 / (2 * np.sum(np.abs(pilots) ** 2))
    assert len(out) == nsym
    assert abs(mse / crb - 1) < 0.15, (mse, crb)


def test_nonfinite_symbol_dropped_then_recovers():
    """A symbol with NaN samples is dropped (counted), the others are posted
    correctly, and a later frame is unaffected."""
    rng = np.random.default_rng(4)
    cmap = ofdm.carrier_map(FFT)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    sig = ofdm.modulate(qpsk(rng, (3, int(np.sum(cmap == ofdm.DATA)))), cmap, pilots, CP).astype(complex)
    sym_len = FFT + CP
    sig[sym_len + 10:sym_len + 20] = np.nan
    stream = np.concatenate([sig, np.zeros(100), sig[:sym_len], np.zeros(10)])
    out, est = run_estimator(stream, [tag(0), tag(3 * sym_len + 100)], 3)
    assert est.symbols_dropped() == 1
    times = [meta["time"] for meta, _ in out]
    assert times == [0, 2 * sym_len, 3 * sym_len + 100]
    assert all(abs(meta["common_phase"]) < 1e-4 for meta, _ in out)


@pytest.mark.parametrize("kwargs,field", [
    (dict(fft_len=4), "fft_len"),
    (dict(cp_len=-1), "cp_len"),
    (dict(carrier_map=[1] * 10), "carrier_map"),
    (dict(carrier_map=[1] * FFT), "pilot"),
    (dict(pilot_values=[1.0]), "pilot_values"),
    (dict(pilot_values=[1e-16] * 8), "pilot_values"),   # |P|^2 no longer a normal float
    (dict(pilot_values=[2e15] * 8), "pilot_values"),    # their sum could overflow
    (dict(pilot_values=[complex(math.nan, 0)] * 8), "pilot_values"),
    (dict(num_symbols=0), "num_symbols"),
    (dict(start_offset=-5), "start_offset"),
    (dict(tag_key=""), "tag_key"),
])
def test_bad_arguments(kwargs, field):
    """Invalid constructor arguments raise ValueError naming the argument."""
    cmap = ofdm.carrier_map(FFT)
    args = dict(fft_len=FFT, cp_len=CP, carrier_map=[int(c) for c in cmap],
                pilot_values=list(ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))),
                num_symbols=1, start_offset=0, tag_key="frame_start", equalize=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        cohere.ofdm_pilot_estimator(**args)


def test_carrier_map_defaults_match_testbed():
    """The default map has 192 active subcarriers (IDFT 256) with a null DC,
    and pilots at both edges so equalization never extrapolates."""
    cmap = ofdm.carrier_map()
    active = np.flatnonzero(cmap != ofdm.NULL)
    assert len(cmap) == 256 and len(active) == 192 and cmap[128] == ofdm.NULL
    assert cmap[active[0]] == ofdm.PILOT and cmap[active[-1]] == ofdm.PILOT


@pytest.mark.parametrize("max_items", [None, 641, 64, 1])
def test_frame_start_before_its_tag_whatever_the_cuts(max_items):
    """A sync_peak tag one sample after its index (the detector tags the
    integer peak): the frame starts before the tag's work call when GNU Radio
    cuts there; the one-symbol history keeps it (it was dropped as 'already
    past' with max_noutput_items = 1)."""
    rng = np.random.default_rng(4)
    cmap = ofdm.carrier_map(FFT)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    sig = ofdm.modulate(qpsk(rng, (2, int(np.sum(cmap == ofdm.DATA)))), cmap, pilots, CP)
    stream = np.concatenate([np.zeros(641), sig, np.zeros(300)]).astype(np.complex64)
    tb = gr.top_block()
    src = blocks.vector_source_c(stream.tolist(), False, 1,
                                 [tag(642, "sync_peak", pmt.to_pmt({"index": 640.6}))])
    est = cohere.ofdm_pilot_estimator(FFT, CP, [int(c) for c in cmap], list(pilots), 2, 0,
                                      "sync_peak", False)
    tb.connect(src, est)
    tb.run(max_items) if max_items else tb.run()
    assert est.symbols_posted() == 2


def test_modulate_checks_the_cp_length():
    cmap = ofdm.carrier_map(64, 52, 4)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    data = np.ones((2, int(np.sum(cmap == ofdm.DATA))))
    assert len(ofdm.modulate(data, cmap, pilots, 16)) == 2 * 80
    for bad in (80, -8, 1.5):
        with pytest.raises(ValueError, match="cp_len"):
            ofdm.modulate(data, cmap, pilots, bad)


@pytest.mark.parametrize("back,posted", [(FFT + CP, 2), (FFT + CP + 1, 0)])
def test_look_back_limit_is_measured_from_the_tag(back, posted):
    """A frame may start up to one symbol (fft + cp) before its tag; further
    back it is dropped, for every cut (the limit was measured from the work
    call's start, so a frame 81 samples back was kept or not with the cuts)."""
    rng = np.random.default_rng(6)
    cmap = ofdm.carrier_map(FFT)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    sig = ofdm.modulate(qpsk(rng, (2, int(np.sum(cmap == ofdm.DATA)))), cmap, pilots, CP)
    start = 1000
    stream = np.concatenate([np.zeros(start), sig, np.zeros(300)]).astype(np.complex64)
    for max_items in (None, 1, 5, 100, 450):
        tb = gr.top_block()
        src = blocks.vector_source_c(stream.tolist(), False, 1,
                                     [tag(start + back, "sync_peak", pmt.to_pmt({"index": start}))])
        est = cohere.ofdm_pilot_estimator(FFT, CP, [int(c) for c in cmap], list(pilots), 2, 0,
                                          "sync_peak", False)
        tb.connect(src, est)
        tb.run(max_items) if max_items else tb.run()
        assert est.symbols_posted() == posted, max_items


def test_sync_peak_index_of_any_integer_type():
    """`index` given as a uint64 or a long PMT (not only a double) moves the
    frame like a double does (a uint64 index killed the block's thread)."""
    rng = np.random.default_rng(7)
    cmap = ofdm.carrier_map(FFT)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    sig = ofdm.modulate(qpsk(rng, (1, int(np.sum(cmap == ofdm.DATA)))), cmap, pilots, CP)
    stream = np.concatenate([np.zeros(400), sig, np.zeros(100)])
    for index in (pmt.from_uint64(400), pmt.from_long(400), pmt.from_double(400.2)):
        value = pmt.dict_add(pmt.make_dict(), pmt.intern("index"), index)
        out, _ = run_estimator(stream, [tag(450, "sync_peak", value)], 1, tag_key="sync_peak")
        assert [meta["time"] for meta, _ in out] == [400]
        assert abs(out[0][0]["common_phase"]) < 1e-4


def test_overlapping_frame_starts_resolved_in_tag_order_whatever_the_cuts():
    """Two sync_peak tags whose frames overlap, the later tag pointing before
    the earlier one's frame start (preambles of different lengths): the frame
    of the earlier tag is cut, the other dropped, whatever the cuts (which one
    was cut depended on max_noutput_items)."""
    rng = np.random.default_rng(8)
    cmap = ofdm.carrier_map(FFT)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    sig = ofdm.modulate(qpsk(rng, (2, int(np.sum(cmap == ofdm.DATA)))), cmap, pilots, CP)
    stream = np.concatenate([np.zeros(1000), sig, np.zeros(400)]).astype(np.complex64)
    tags = [tag(1000, "sync_peak", pmt.to_pmt({"index": 1000.0})),
            tag(1010, "sync_peak", pmt.to_pmt({"index": 950.0}))]
    for max_items in (None, 1005, 1, 7):
        frames = frames_cut(stream, tags, cmap, pilots, 2, max_items)
        assert frames == [1000, 1000], (max_items, frames)


@pytest.mark.parametrize("scale,channel", [(1.001e-15, 1.0), (0.999e15, 1.0),  # float32 rounding
                                           (1.001e-15, 1e-16), (0.999e15, 1e9)])
def test_pilot_values_at_the_magnitude_limits(scale, channel):
    """Pilots at the accepted magnitude limits, through channels of 1e-16 and
    1e9 (samples 2e-31 and 2e24: ordinary floats), give the common phase,
    amplitude and LS pilots of unit pilots (float precision, 1e-4): their
    powers stay normal floats (at 1e-23 or 1e20 the results were Inf/NaN),
    and the common value's sum of conj(P) Y, about |P|^2 |H| a term, is taken
    in double (in float it gave common_amp 0 and Inf at these channels)."""
    rng = np.random.default_rng(9)
    cmap = ofdm.carrier_map(FFT)
    scaled = np.asarray(ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))) * scale
    data = qpsk(rng, (1, int(np.sum(cmap == ofdm.DATA)))) * scale
    sig = ofdm.modulate(data, cmap, scaled, CP) * channel * np.exp(0.5j)
    stream = np.concatenate([np.zeros(100), sig, np.zeros(100)]).astype(np.complex64)
    assert np.all(np.isfinite(stream))
    out, _ = run_estimator(stream, [tag(100)], 1, cmap=cmap, pilots=scaled)
    meta = out[0][0]
    assert abs(meta["common_phase"] - 0.5) < 1e-4
    assert meta["common_amp"] == pytest.approx(channel, rel=1e-4)
    assert np.allclose(np.asarray(meta["pilots"]) / channel, np.exp(0.5j), atol=1e-4)


def test_modulate_cyclic_prefix_is_the_symbol_tail():
    """Each symbol's cyclic prefix repeats the last cp_len samples of its body
    (so a channel or a timing offset within the CP is a circular shift); a CP
    copied from the body's start passed every other test."""
    cmap = ofdm.carrier_map(64, 52, 4)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    rng = np.random.default_rng(10)
    data = qpsk(rng, (3, int(np.sum(cmap == ofdm.DATA))))
    for cp in (1, 16, 64):
        sig = ofdm.modulate(data, cmap, pilots, cp).reshape(3, 64 + cp)
        assert np.array_equal(sig[:, :cp], sig[:, -cp:])
        # and the body is the IDFT of the grid (unitary scaling)
        grid = np.fft.fft(sig[:, cp:], axis=1) / np.sqrt(64)
        assert np.allclose(grid[:, (np.flatnonzero(cmap == ofdm.DATA) - 32) % 64], data, atol=1e-5)


@pytest.mark.parametrize("channel,pilot_scale", [(1e-25, 1.0), (1e20, 1.0), (1e20, 1.001e-15)])
def test_equalized_data_at_extreme_channel_gains(channel, pilot_scale):
    """Equalized data are X / 1 to float precision (1e-5 relative) for any
    finite symbol with valid pilots: the divisions by P and by h are done in
    double (with -fcx-limited-range, |h|^2 in float underflowed below
    |h| ~ 1e-19 and overflowed above ~2e19: NaN or 0 for all 38 carriers
    at channel gains 1e-25 and 1e20)."""
    cmap = ofdm.carrier_map(64, 52, 4)
    pilots = np.asarray(ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))) * pilot_scale
    nd = int(np.sum(cmap == ofdm.DATA))
    data = qpsk(np.random.default_rng(11), (1, nd)) * pilot_scale
    sig = ofdm.modulate(data, cmap, pilots, 16) * channel * np.exp(0.3j)
    stream = np.concatenate([np.zeros(10), sig, np.zeros(10)]).astype(np.complex64)
    tb = gr.top_block()
    src = blocks.vector_source_c(stream.tolist(), False, 1, [tag(10)])
    est = cohere.ofdm_pilot_estimator(64, 16, [int(c) for c in cmap], list(pilots), 1, 0,
                                      "frame_start", True)
    dbg = blocks.message_debug()
    tb.connect(src, est)
    tb.msg_connect(est, "symbols", dbg, "store")
    tb.run()
    assert dbg.num_messages() == 1
    eq = np.array(pmt.c32vector_elements(pmt.cdr(dbg.get_message(0))))
    assert np.all(np.isfinite(eq))
    assert np.max(np.abs(eq - data[0])) <= 1e-5 * np.max(np.abs(data[0]))


@pytest.mark.parametrize("index", [pmt.from_double(math.nan), pmt.from_double(math.inf),
                                   pmt.from_double(5e18), pmt.intern("400"),
                                   pmt.from_complex(400 + 0j)],
                         ids=["nan", "inf", "5e18", "symbol", "complex"])
def test_sync_peak_with_a_malformed_index_is_dropped(index):
    """A sync_peak whose `index` is not a finite real below 4e18 is dropped
    (with a warning), not cut at the tag's own offset instead: that cut a
    frame 50 samples late and posted a garbage symbol (common_amp 0.03)."""
    rng = np.random.default_rng(12)
    cmap = ofdm.carrier_map(FFT)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    sig = ofdm.modulate(qpsk(rng, (1, int(np.sum(cmap == ofdm.DATA)))), cmap, pilots, CP)
    stream = np.concatenate([np.zeros(400), sig, np.zeros(400)])
    value = pmt.dict_add(pmt.make_dict(), pmt.intern("index"), index)
    out, est = run_estimator(stream, [tag(450, "sync_peak", value)], 1, tag_key="sync_peak")
    assert out == [] and est.symbols_posted() == 0


def test_frames_are_cut_in_stream_order(capfd):
    """A sync_peak whose `index` points ahead of a later tag's (one symbol
    after a tag at 1000, then one symbol before a tag at 1001): frames are
    cut in stream order, so the start before the accepted one is dropped
    (with a warning, as the header says), whatever the cuts."""
    rng = np.random.default_rng(13)
    cmap = ofdm.carrier_map(FFT)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    sig = ofdm.modulate(qpsk(rng, (1, int(np.sum(cmap == ofdm.DATA)))), cmap, pilots, CP)
    sym = FFT + CP
    stream = np.zeros(4000, complex)
    stream[1001 - sym:1001] = sig
    stream[1000 + sym:1000 + 2 * sym] = sig
    tags = [tag(1000, "sync_peak", pmt.to_pmt({"index": float(1000 + sym)})),
            tag(1001, "sync_peak", pmt.to_pmt({"index": float(1001 - sym)}))]
    for max_items in (None, 1, 7):
        frames = frames_cut(stream.astype(np.complex64), tags, cmap, pilots, 1, max_items)
        assert frames == [1000 + sym], (max_items, frames)
        assert "frames are cut in stream order" in "".join(capfd.readouterr())


def test_an_index_far_after_its_tag_is_dropped(capfd):
    """A sync_peak whose finite `index` lies more than one symbol after its
    tag is malformed, dropped with a warning: one at 1e15 (tag at 10) used
    to be accepted and then, frames being cut in stream order, held back
    every later frame (none of the two real ones was posted)."""
    rng = np.random.default_rng(14)
    cmap = ofdm.carrier_map(FFT)
    pilots = ofdm.pilot_sequence(int(np.sum(cmap == ofdm.PILOT)))
    sig = ofdm.modulate(qpsk(rng, (1, int(np.sum(cmap == ofdm.DATA)))), cmap, pilots, CP)
    stream = np.zeros(2000, complex)
    stream[100:100 + len(sig)] = sig
    stream[1000:1000 + len(sig)] = sig
    tags = [tag(10, "sync_peak", pmt.to_pmt({"index": 1e15})),
            tag(100, "sync_peak", pmt.to_pmt({"index": 100.2})),
            tag(1001, "sync_peak", pmt.to_pmt({"index": 999.8}))]
    for max_items in (None, 7):
        frames = frames_cut(stream.astype(np.complex64), tags, cmap, pilots, 1, max_items)
        assert frames == [100, 1000], (max_items, frames)
        assert "after the tag; frame dropped" in "".join(capfd.readouterr())
