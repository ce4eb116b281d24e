# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a whole PCP network on the emulator and measure it against ground truth.

run_network() builds one flowgraph: hub node 0 is the fusion node, hub node k
(k = 1..K) is the PCP node in slot k; each has a virtual_radio_source_c ->
(pcp_fusion | pcp_node) -> virtual_radio_sink_c chain, and the hub records
every transmitter's component at the fusion's receiver (the ground-truth
probe). analyze() turns that into per-node, per-round, per-symbol phase
errors of each component at the fusion, OAC sums against the true sums, the
ideal (perfectly aligned, same noise) sums, and the NMSE predicted from the
measured phase-error statistics.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from ..cohere_python import virtual_radio_sink_c, virtual_radio_source_c
from ..testbed import make_testbed, run_flowgraph
from .config import PcpConfig, unitary_fft
from .fusion import pcp_fusion
from .node import pcp_node

__all__ = ["NetworkRun", "run_network", "analyze", "predicted_errors", "predicted_rmse",
           "residual_cfo",
           "theory_phase_var", "wrap", "nmse_db"]

FUSION = 0


def wrap(x):
    return (np.asarray(x) + np.pi) % (2 * np.pi) - np.pi


def nmse_db(err_energy, ref_energy):
    if ref_energy <= 0:
        return float("nan")
    return 10.0 * math.log10(max(err_energy, 1e-300) / ref_energy)


@dataclass
class NetworkRun:
    config: PcpConfig
    hub: object
    fusion: list  # fusion result records
    nodes: dict  # slot -> list of node round records
    nsamples: int
    wall_s: float
    late: dict = field(default_factory=dict)  # hub node -> burst scheduler late count


RING_SLACK = 1024  # samples of the hub's TX ring beyond D + L + delay (interpolator, margins)
DEFAULT_RING = 32768  # channel_hub's ring when make_testbed gets no buffer_size
SOURCE_BUFFER = 32768  # virtual_radio_source_c's output buffer (its minimum, items)
END_TAIL = 4 * SOURCE_BUFFER  # RX samples streamed past the last round (see run_network)


def _fit_ring(hub, config, given):
    """The hub's TX ring must hold the nodes' lookahead D plus the longest
    latency and link delay (docs/emulator.md): with less, the schedulers'
    first D zeros cannot all be written ahead of the receivers, the nodes
    wait on each other through GNU Radio's buffers and how many rounds
    complete depended on thread timing (a lookahead of 262144 hung). A ring
    given in `testbed` that is too small is a ValueError naming it; the
    default one grows to fit."""
    n = hub.num_nodes()
    delay = max((hub.link_delay(i, j) for i in range(n) for j in range(n) if i != j), default=0.0)
    need = (config.lookahead + max(hub.latency(j) for j in range(n)) + int(math.ceil(delay))
            + RING_SLACK)
    if given is not None:
        if int(given) < need:
            raise ValueError(f"buffer_size: {given} samples is less than the {need} the nodes "
                             f"need (lookahead {config.lookahead} + latency + link delay "
                             f"{delay:.1f} + {RING_SLACK})")
    elif need > DEFAULT_RING:
        hub.set_buffer_size(need)


def run_network(config, rounds, testbed=None, node_options=None, mode="pcp", seed=0,
                timing_advance=True, max_noutput_items=None):
    """Stream `rounds` PCP rounds on a fresh emulator.

    Args:
        config: PcpConfig (num_nodes = K).
        rounds: rounds the fusion runs. Round 0 is the nodes' CFO
            acquisition (no answer); with timing advance, round 1 is their
            ranging round (answer, no payload); sums start after that.
        testbed: make_testbed keyword arguments for K + 1 nodes (node 0 is
            the fusion node); samp_rate and center_freq come from config.
        node_options: {slot: dict of pcp_node options} (e.g. drop_requests).
        mode: "pcp" or "none" for every node (see pcp_node_control).
        seed: seed of the nodes' parameter values.
        timing_advance: nodes learn their round trip (and range first);
            the fusion's ranging rule follows it.
    Returns:
        NetworkRun.
    """
    from gnuradio import gr

    c = config
    K = c.num_nodes
    # The fusion decides a round when its control block reads the round's
    # last sample, which can lag its source by the source's output buffer
    # (32768 items, rounded up by GNU Radio at most to a few times that);
    # every sink stops once all sources are done, so without this tail the
    # last round was dropped or not with thread timing (a large lookahead
    # makes the lag longer). The fusion posts no request past `rounds`.
    nsamples = c.samples_for(int(rounds)) + END_TAIL
    kwargs = dict(testbed or {})
    kwargs.setdefault("latency", c.latency)
    kwargs["capture"] = {FUSION: nsamples}
    hub = make_testbed(K + 1, c.samp_rate, c.center_freq, **kwargs)
    _fit_ring(hub, c, kwargs.get("buffer_size"))
    tb = gr.top_block("pcp_network")
    keep = []
    fusion = pcp_fusion(c, rounds=int(rounds), ranging=timing_advance)
    nodes = {}
    for j in range(K + 1):
        src = virtual_radio_source_c(hub, j, 1, nsamples)
        sink = virtual_radio_sink_c(hub, j, 1)
        if j == FUSION:
            block = fusion
        else:
            opts = dict(mode=mode, seed=seed, timing_advance=timing_advance)
            opts.update((node_options or {}).get(j, {}))
            block = nodes[j] = pcp_node(c, j, **opts)
        tb.connect(src, block, sink)
        keep += [src, sink, block]
    wall = run_flowgraph(tb, max_noutput_items)
    errors = [f"node {k}: {n.control.error}" for k, n in sorted(nodes.items()) if n.control.error]
    if fusion.control.error:
        errors.insert(0, f"fusion: {fusion.control.error}")
    if errors:
        raise RuntimeError("PCP run stopped: " + "; ".join(errors))
    late = {0: fusion.scheduler.late_count()}
    late.update({k: n.scheduler.late_count() for k, n in nodes.items()})
    run = NetworkRun(config=c, hub=hub, fusion=list(fusion.results),
                     nodes={k: list(n.rounds) for k, n in nodes.items()},
                     nsamples=nsamples, wall_s=wall, late=late)
    del keep, tb
    return run


def _component_spectra(c, captured, cap_start, t4):
    """FFT of one transmitter's captured component over the payload symbols."""
    out = np.zeros((c.oac_symbols, c.fft_len), complex)
    for m in range(c.oac_symbols):
        i = t4 + m * c.sym_len + c.cp_len - cap_start
        if i < 0 or i + c.fft_len > len(captured):
            return None
        out[m] = unitary_fft(captured[i:i + c.fft_len])
    return out


def analyze(run, skip_rounds=2):
    """Ground-truth analysis of a NetworkRun.

    skip_rounds: leading rounds left out (acquisition and ranging).

    Returns a dict with numpy arrays and scalars:
        phase_err    (rounds, K, oac_symbols) symbol-level phase error of each
                     participating node's component at the fusion (rad,
                     NaN where the node did not take part)
        re_err       list of per-resource-element phase errors (rad, data REs)
        amp_ratio    (rounds, K, oac_symbols) |component| / rho
        participants (rounds, K) bool, as reported by the fusion
        sent         (rounds, K) bool, node's payload went on the air (armed on
                     the request, sent on its accepted feedback)
        sums, truth, ideal   (rounds, params) complex
        nmse_db, ideal_nmse_db, predicted_nmse_db
    """
    c = run.config
    hub = run.hub
    K = c.num_nodes
    data = c.data_index()
    comps = {}
    for k in range(1, K + 1):
        start, samples = hub.captured(FUSION, k, 0)
        comps[k] = (np.asarray(samples, dtype=complex), int(start))

    recs = [r for r in run.fusion if r["round"] >= skip_rounds]
    R = len(recs)
    M = c.oac_symbols
    phase_err = np.full((R, K, M), np.nan)
    amp_ratio = np.full((R, K, M), np.nan)
    participants = np.zeros((R, K), bool)
    sent = np.zeros((R, K), bool)
    sums = np.zeros((R, c.params_per_round), complex)
    truth = np.zeros_like(sums)
    ideal = np.zeros_like(sums)
    re_err = []
    spread = 0.0  # sum over data REs of |d|^2 (2 - 2 cos eps)
    for i, rec in enumerate(recs):
        t1, t4 = rec["t1"], rec["t1"] + c.t4
        rho = rec["rho"]
        total = np.zeros((M, c.fft_len), complex)
        for k in range(1, K + 1):
            samples, cap_start = comps[k]
            spec = _component_spectra(c, samples, cap_start, t4)
            if spec is not None:
                total += spec
            node_rec = _node_record(run, k, t1)
            if k in rec["participants"]:
                participants[i, k - 1] = True
            if node_rec is None or "values" not in node_rec:
                continue
            sent[i, k - 1] = bool(node_rec.get("payload_sent", False))
            if k not in rec["participants"]:
                continue
            values = node_rec["values"]
            truth[i] += values
            if spec is None or rho <= 0:
                continue
            X = c.payload_grid(values)
            z = np.sum(np.conj(X) * spec, axis=1) / np.sum(np.abs(X) ** 2, axis=1)
            phase_err[i, k - 1] = wrap(np.angle(z) - c.theta_des)
            amp_ratio[i, k - 1] = np.abs(z) / rho
            re = spec[:, data] / (rho * X[:, data])
            eps = wrap(np.angle(re) - c.theta_des)
            re_err.append(eps.ravel())
            spread += float(np.sum(np.abs(X[:, data]) ** 2 * (2.0 - 2.0 * np.cos(eps))))
        sums[i] = rec["sums"]
        if rho > 0 and "spectra" in rec:
            noise = (rec["spectra"] - total)[:, data].ravel()
            ideal[i] = truth[i] + noise * np.exp(-1j * c.theta_des) / rho
    re_err = np.concatenate(re_err) if re_err else np.zeros(0)
    ref = float(np.sum(np.abs(truth) ** 2))
    err = float(np.sum(np.abs(sums - truth) ** 2))
    ideal_err = float(np.sum(np.abs(ideal - truth) ** 2))
    # prediction from the phase-error statistics (independent nodes and
    # zero-mean parameters): E|sum_k d_k (e^{j eps} - 1)|^2 = sum_k |d_k|^2 (2 - 2 E cos eps)
    # prediction from the phase errors (independent zero-mean parameters):
    # E|sum_k d_k (e^{j eps_k} - 1)|^2 = sum_k |d_k|^2 (2 - 2 cos eps_k), per RE
    predicted = spread + ideal_err if len(re_err) else float("nan")
    return {
        "phase_err": phase_err, "amp_ratio": amp_ratio, "participants": participants,
        "sent": sent, "sums": sums, "truth": truth, "ideal": ideal, "re_err": re_err,
        "nmse_db": nmse_db(err, ref), "ideal_nmse_db": nmse_db(ideal_err, ref),
        "predicted_nmse_db": nmse_db(predicted, ref) if np.isfinite(predicted) else float("nan"),
        "rounds": R,
    }


def _true_cfo(hub, k):
    """Node k's DL CFO: what its RX derotator has to remove (Hz)."""
    return hub.lo_frequency(FUSION) - hub.lo_frequency(k)


def _node_record(run, k, t1):
    """Node k's record of the round whose request pilot the fusion sent at
    t1 (the emulator gives every node the same clock), or None."""
    half = run.config.period / 2
    return next((n for n in run.nodes.get(k, []) if abs(n["index"] - t1) < half), None)


def residual_cfo(run, skip_rounds=2):
    """(rounds, K) true residual CFO (Hz) of every node in every analysed
    round it took part in (NaN otherwise)."""
    c = run.config
    recs = [r for r in run.fusion if r["round"] >= skip_rounds]
    out = np.full((len(recs), c.num_nodes), np.nan)
    for k in range(1, c.num_nodes + 1):
        for i, fus in enumerate(recs):
            rec = _node_record(run, k, fus["t1"])
            if rec is not None and k in fus["participants"]:
                out[i, k - 1] = _true_cfo(run.hub, k) - rec["applied"]
    return out


def predicted_errors(run, speeds=None, angles=None, skip_rounds=2):
    """The closed-form error of every analysed component, split into a
    deterministic and a random part (same rounds and layout as analyze()).

    Eq. (12) of the PCP paper with this run's own schedule (T1..T4 in
    samples), link budgets and residual CFOs:
        cfo      -2 pi eps m Ts, eps = the round's true residual CFO (the
                 emulator's LO frequencies minus the node's pre-compensation);
                 reversed schedule, so T2 - T1 = T4 - T3 leaves only m Ts (8)
        mobility 2 pi (v_0 cos a_0 + v_k cos a_k) lag / lambda with
                 lag = T3 - T1 + T4 - T2 + m Ts (10) before averaging the angle
        noise    1 / (2 N SNR) per measurement (9): request and feedback at the
                 node (N = fft + cp, the detector's fit), response at the fusion
                 (N = fft, its FFT), with the measured amplitudes and the
                 emulator's noise powers
        phase noise (not in the paper) q (T2 - T1 + T4 - T3 + m Ts) for each
                 oscillator, q = 4 pi^2 fc^2 c / fs per sample.
    Returns (deterministic, variance): arrays (rounds, K, oac_symbols) in rad
    and rad^2, NaN where the node did not take part.
    """
    c = run.config
    hub = run.hub
    K = c.num_nodes
    fs = c.samp_rate
    lam = 299_792_458.0 / c.center_freq
    speeds = np.zeros(K + 1) if speeds is None else np.broadcast_to(speeds, (K + 1,))
    angles = np.zeros(K + 1) if angles is None else np.broadcast_to(angles, (K + 1,))
    q = [4 * math.pi ** 2 * c.center_freq ** 2 * hub.phase_noise(j) / fs for j in range(K + 1)]
    m = np.arange(c.oac_symbols)
    recs = [r for r in run.fusion if r["round"] >= skip_rounds]
    det = np.full((len(recs), K, c.oac_symbols), np.nan)
    var = np.full_like(det, np.nan)
    noise_f = hub.noise_power(FUSION)
    for k in range(1, K + 1):
        noise_n = hub.noise_power(k)
        true_cfo = _true_cfo(hub, k)
        dopp = 2 * math.pi * (speeds[0] * math.cos(angles[0]) +
                              speeds[k] * math.cos(angles[k])) / (lam * fs)
        lag = c.t3(k) + c.t4 - c.t2(k) + m * c.sym_len
        for i, fus in enumerate(recs):
            rec = _node_record(run, k, fus["t1"])
            if rec is None or "feedback_amp" not in rec or k not in fus["participants"]:
                continue
            a_u = abs(fus["responses"][k])
            v = 0.0
            if noise_n > 0:
                v += noise_n / (2 * c.sym_len * rec["amp"] ** 2)
                v += noise_n / (2 * c.sym_len * rec["feedback_amp"] ** 2)
            if noise_f > 0 and a_u > 0:
                v += noise_f / (2 * c.fft_len * a_u ** 2)
            eps = true_cfo - rec["applied"]  # the frequency in force this round
            det[i, k - 1] = -2 * math.pi * eps * m * c.sym_len / fs + dopp * lag
            var[i, k - 1] = v + (q[0] + q[k]) * (2 * c.t2(k) + m * c.sym_len)
    return det, var


def predicted_rmse(det, var, axis=None):
    """RMSE of wrap(det + n), n ~ N(0, var) independent, pooled over `axis`
    (None: everything); exact for the wrapped error, which is what a phase
    measurement reports (= sqrt(mean(det^2 + var)) while nothing wraps)."""
    grid = np.linspace(-6.0, 6.0, 241)
    weight = np.exp(-grid ** 2 / 2)
    weight /= weight.sum()
    ok = np.isfinite(det) & np.isfinite(var)
    d = np.where(ok, det, 0.0)[..., None]
    sd = np.sqrt(np.where(ok, var, 0.0))[..., None]
    msq = np.sum(wrap(d + sd * grid) ** 2 * weight, axis=-1)
    msq = np.where(ok, msq, np.nan)
    return np.sqrt(np.nanmean(msq, axis=axis))


def theory_phase_var(run, speeds=None, angles=None, skip_rounds=2):
    """Mean closed-form error power per node and symbol (rad^2), (K, oac_symbols):
    the mean over rounds of det^2 + var from predicted_errors()."""
    det, var = predicted_errors(run, speeds, angles, skip_rounds)
    with np.errstate(invalid="ignore"):
        return np.nanmean(det ** 2 + var, axis=0)
