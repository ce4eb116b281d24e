# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the broken-TDD scheme on the emulator and measure it against ground truth.

Emulator nodes: 0 = AP 1, 1 = AP 2 (N antennas each, free-running LOs with
Wiener phase noise c_nu, no frequency offset), 2 .. K + 1 = the users (one
antenna, ideal LOs, arbitrary chain gains). Channels (seeded): G = sqrt(beta_g)
CN(0, I) between the APs, CN(0, 1) per antenna between an AP and a user, none
between users. The APs are reciprocity-calibrated (TX chain gain = RX chain
gain per antenna, random amplitude and phase), which the scheme assumes; the
users' chains are not.

Both APs are given G = diag(r_AP1) A diag(t_AP2) (AP 2 -> AP 1, chain gains
included) from the emulator's ground truth, times a random common phase (the
scheme needs G only up to a common phase; it cancels in (13)).

analyze() compares, frame by frame, the estimate AP 2 applied with the true
alpha_n = phi^(2) - phi^(1) at i2 (phi^(l) = nu_l(i) + nu_l([i]_{K/2}),
nu_l = -hub.lo_phase(l): the emulator's TX multiplies by exp(+j phi), the
paper's by exp(-j nu)), and measures the downlink beamforming gain at each
user on the hub's noise-free per-transmitter captures.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from ..algorithms import tdd_sync
from ..algorithms.kalman import wrap
from ..cohere_python import virtual_radio_sink_c, virtual_radio_source_c
from ..kalman_tracker import kalman_phase_tracker
from ..testbed import make_testbed, run_flowgraph
from .blocks import tdd_ap, tdd_central_unit
from .config import TddStreamConfig, dl_symbols

__all__ = ["TddRun", "run_tdd_stream", "default_burn_in", "analyze", "true_alpha",
           "beamforming_gain", "scenario", "sync_snr_db", "AP1", "AP2"]

AP1, AP2 = 0, 1


@dataclass
class TddRun:
    config: TddStreamConfig
    hub: object
    frames: int                 # frames streamed (estimates applied: frames - 1 at least)
    burn_in: int                # frames left out of the statistics
    nsamples: int
    G: np.ndarray               # the true G (AP 2 -> AP 1, chain gains included)
    kalman: tuple               # (sigma_zeta2, sigma_xi2, sigma_mu2)
    applied: list               # AP 2: [(frame, apply index, theta, P, gain)]
    records: list               # central unit: [(frame, alpha21, alpha12, alphabar)]
    wall_s: float
    stall_calls: int = 0
    extra: dict = field(default_factory=dict)


def _cn(rng, shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2.0)


def scenario(config):
    """make_testbed keyword arguments and the true G of the configuration."""
    c = config
    rng = np.random.default_rng([c.seed, 0x7DD])
    users = list(range(2, 2 + c.K))
    A = math.sqrt(c.beta_g) * _cn(rng, (c.N, c.N))                # rx AP 1 x tx AP 2
    links = {(AP2, AP1): A}
    for u in users:
        for ap in (AP1, AP2):
            links[(u, ap)] = _cn(rng, (c.N, 1))                  # rx AP x tx user
    for i, u in enumerate(users):
        for v in users[i + 1:]:
            links[(u, v)] = np.zeros((1, 1))
    chains = {}
    for ap in (AP1, AP2):
        amp = 10.0 ** (rng.normal(0.0, 1.0, c.N) / 20.0)
        chains[ap] = amp * np.exp(1j * rng.uniform(-np.pi, np.pi, c.N))
    G = chains[AP1][:, None] * A * chains[AP2][None, :]
    kwargs = dict(seed=c.seed, antennas=[c.N, c.N] + [1] * c.K,
                  phase_noise=[c.c_nu, c.c_nu] + [0.0] * c.K,
                  noise_power=c.noise_power, link_gain=links,
                  tx_gains=dict(chains), rx_gains=dict(chains))
    common = float(rng.uniform(-np.pi, np.pi))
    return kwargs, G, G * np.exp(1j * common)


def sync_snr_db(config):
    """Sync SNR after beamforming, rho ||G||_op^2 / noise (dB), of the
    configuration's channel draw (what sigma_mu^2 = 1 / that SNR uses)."""
    _, G, _ = scenario(config)
    return 10.0 * math.log10(config.rho * np.linalg.norm(G, 2) ** 2 / config.noise_power)


def default_burn_in(config, G):
    """Frames left out of the statistics by default: 8 time constants of the
    steady Kalman gain of (17) for the inter-AP channel G (tdd_sync.burn_in_frames)."""
    sz, sx, smu = config.kalman_variances(float(np.linalg.norm(G, 2) ** 2))
    P = tdd_sync.WrappedPhaseKalman.riccati_fixed_point(sz, sx, smu)
    return int(tdd_sync.burn_in_frames(float((P + sx) / (P + 3 * sx + smu))))


def run_tdd_stream(config, frames, burn_in=None, max_noutput_items=None):
    """Stream `frames` analysed frames (after `burn_in` frames) on a fresh emulator.

    burn_in: frames before the statistics (default: 8 time constants of the
    steady Kalman gain, tdd_sync.burn_in_frames). Returns a TddRun.
    """
    from gnuradio import blocks, gr

    c = config
    if not isinstance(c, TddStreamConfig):
        raise ValueError(f"config: expected a TddStreamConfig, got {type(c).__name__}")
    frames = int(frames)
    if frames < 2:
        raise ValueError(f"frames: must be >= 2, got {frames}")
    kwargs, G, G_known = scenario(c)
    g2 = float(np.linalg.norm(G, 2) ** 2)
    sz, sx, smu = c.kalman_variances(g2)
    burn_in = default_burn_in(c, G) if burn_in is None else int(burn_in)
    if burn_in < 0:
        raise ValueError(f"burn_in: must be >= 0, got {burn_in}")
    total = burn_in + frames + 1          # + 1: the truth alpha_{n+1} of the last estimate
    nsamples = total * c.frame_len
    users = list(range(2, 2 + c.K))
    kwargs["capture"] = {u: nsamples for u in users}
    hub = make_testbed(2 + c.K, c.samp_rate, c.center_freq, **kwargs)

    tb = gr.top_block("tdd_stream")
    keep = []
    aps = {}
    for node, ap in ((AP1, 1), (AP2, 2)):
        src = virtual_radio_source_c(hub, node, c.N, nsamples)
        sink = virtual_radio_sink_c(hub, node, c.N)
        block = aps[ap] = tdd_ap(c, ap, G_known, nsamples)
        for a in range(c.N):
            tb.connect((src, a), (block, a))
            tb.connect((block, a), (sink, a))
        keep += [src, sink, block]
    for k, u in enumerate(users):
        pattern = np.zeros(c.tau_c, np.complex64)
        pattern[k] = c.ul_amp                                   # pilot p = k + 1
        tx = blocks.vector_source_c(pattern.tolist(), True)
        sink = virtual_radio_sink_c(hub, u, 1)
        src = virtual_radio_source_c(hub, u, 1, nsamples)
        null = blocks.null_sink(gr.sizeof_gr_complex)
        tb.connect(tx, sink)
        tb.connect(src, null)
        keep += [tx, sink, src, null]
    cpu = tdd_central_unit(c)
    tracker = kalman_phase_tracker("paper", sigma_zeta2=sz, sigma_xi2=sx, sigma_mu2=smu,
                                   P0=math.pi ** 2 / 3.0)
    tb.msg_connect(aps[1], "alpha", cpu, "alpha21")
    tb.msg_connect(aps[2], "alpha", cpu, "alpha12")
    tb.msg_connect(cpu, "meas", tracker, "meas")
    tb.msg_connect(tracker, "est", aps[2], "est")
    keep += [cpu, tracker]
    wall = run_flowgraph(tb, max_noutput_items)
    errors = [f"AP {ap}: {aps[ap].control.error}" for ap in (1, 2) if aps[ap].control.error]
    if errors:
        raise RuntimeError("broken-TDD run failed: " + "; ".join(errors))
    run = TddRun(config=c, hub=hub, frames=total, burn_in=burn_in, nsamples=nsamples, G=G,
                 kalman=(sz, sx, smu), applied=list(aps[2].control.applied),
                 records=list(cpu.records), wall_s=wall,
                 stall_calls=aps[2].control.stall_calls,
                 extra={"dropped_cmds": sum(p.commands_dropped() for p in aps[2].precoders),
                        "tracker_dropped": tracker.n_dropped})
    del keep, tb
    return run


def _nu(run):
    """True phase noise nu_l = -phi_l of both APs, sample by sample (unwrapped)."""
    return {ap: -np.unwrap(np.asarray(run.hub.lo_phase(ap, 0, run.nsamples)))
            for ap in (AP1, AP2)}


def true_alpha(run, nu=None):
    """alpha_n = (nu2(i2) + nu2([i2]_{K/2})) - (nu1(i2) + nu1([i2]_{K/2})) per
    frame n (unwrapped), the quantity (18) tracks."""
    c = run.config
    nu = nu or _nu(run)
    kh = c.K // 2
    out = np.empty(run.frames)
    for n in range(run.frames):
        t2 = c.sync12_index(n)
        tk = c.frame_start(n) + kh - 1
        out[n] = (nu[AP2][t2] + nu[AP2][max(tk, 0)]) - (nu[AP1][t2] + nu[AP1][max(tk, 0)])
    return out


def _theta_track(run):
    """theta_2 in force at every TX index (precoder phase, 0 before the first)."""
    theta = np.zeros(run.nsamples)
    for (_, t, value, _, _) in run.applied:
        if t < run.nsamples:
            theta[t:] = value
    return theta


def analyze(run, user=0):
    """Ground-truth analysis of a TddRun (frames after the burn-in).

    Returns a dict:
        frames, burn_in, P (mean P_n), P_steady (fixed point), err_pred
        (alphahat_n - alpha_{n+1}, wrapped), var_pred, ratio_pred = var_pred / P,
        err_post (alphahat_n - alpha_n), var_post, ratio_post = var_post /
        (P - s_zeta), theory (tdd_sync.wiener_error_variances), wraps (frames
        where the true alpha crosses +-pi), turns (|unwrapped travel| / 2 pi),
        max_err_sigma (max |err_pred| / sqrt(P_n)), bf_gain_db (measured),
        bf_pred_db (from |E[Delta]|), bf_nosync_db (prediction with theta_2 = 0),
        bf_samples (joint downlink samples per frame).
    """
    c = run.config
    nu = _nu(run)
    alpha = true_alpha(run, nu)
    applied = {m: (t, th, P, g) for (m, t, th, P, g) in run.applied}
    n0 = run.burn_in
    ns = [n for n in range(n0, run.frames - 1) if n in applied]
    theta = np.array([applied[n][1] for n in ns])
    P = np.array([applied[n][2] for n in ns])
    err_pred = wrap(theta - alpha[np.array(ns) + 1])
    err_post = wrap(theta - alpha[np.array(ns)])
    sz, sx, smu = run.kalman
    theory = tdd_sync.wiener_error_variances(c.F, c.c_nu, c.system_params(), smu)
    wrapped = wrap(alpha)
    crossings = int(np.sum(np.abs(np.diff(wrapped[n0:])) > np.pi))
    out = {
        "frames": len(ns), "burn_in": n0, "P": float(np.mean(P)), "P_steady": theory["P"],
        "err_pred": err_pred, "var_pred": float(np.mean(err_pred ** 2)),
        "err_post": err_post, "var_post": float(np.mean(err_post ** 2)),
        "theory": theory, "wraps": crossings,
        "turns": float(np.ptp(alpha[n0:]) / (2 * np.pi)),
        "max_err_sigma": float(np.max(np.abs(err_pred) / np.sqrt(P))),
        "alpha": alpha, "theta": np.array([applied[n][1] if n in applied else np.nan
                                           for n in range(run.frames)]),
        "P_n": np.array([applied[n][2] if n in applied else np.nan
                         for n in range(run.frames)]),
    }
    out["ratio_pred"] = out["var_pred"] / out["P"]
    out["ratio_post"] = out["var_post"] / (out["P"] - sz)
    out.update(beamforming_gain(run, nu, user, range(n0, run.frames - 1)))
    return out


def beamforming_gain(run, nu, user, frames):
    """Downlink beamforming gain at `user` (0-based), measured and predicted.

    On the samples where both APs send data, with b_l = (AP l's noise-free
    component at the user, hub capture, without the beams to the other
    users: _own_stream) conj(s_user) and the user's phase reference psi =
    arg(b_1 + b_2) on the slot's demodulation pilot (the composite gain,
    what a pilot sent by both APs measures):
        measured   |mean over frames of (b_1 + b_2) e^{-j psi}|^2 / (A_1 + A_2)^2
        predicted  |A_1 E[Delta_1] + A_2 E[Delta_2]|^2 / (A_1 + A_2)^2
    per position in the frame, averaged over positions; A_l = mean |b_l| and
    Delta_l = exp(j(-nu_l(i) - nu_l([i]_k) + theta_l(i) + psi)) from the true
    LO phases and the theta_2 AP 2 applied, psi the composite phase of the same
    model at the pilot (Theorem 1's E[Delta] of this run). 0 dB is perfect
    coherence; `bf_nosync_db` is the prediction with theta_2 = 0.
    """
    c = run.config
    hub = run.hub
    node = 2 + user
    caps = {}
    for ap in (AP1, AP2):
        start, samples = hub.captured(node, ap, 0)
        if int(start) != 0:
            raise RuntimeError("capture does not start at sample 0")
        caps[ap] = np.asarray(samples, dtype=np.complex128)
    theta = _theta_track(run)
    conv, brk = c.schedules()
    frames = list(frames)
    F, tc = c.F, c.tau_c
    pd = c.pilot_p
    meas, pred, pred0, amps = [], [], [], []
    rows = []
    for j in range(F):
        sched = brk if j == 0 else conv
        ps = np.flatnonzero(sched.a1 & sched.a2)                    # 0-based in slot
        bases = np.array([c.frame_start(n) + j * tc for n in frames])
        t = bases[:, None] + ps[None, :]
        tp = bases + pd - 1
        tk = bases + user                                           # the user's pilot
        syms = np.array([dl_symbols(c.seed, b // tc, c.K, tc)[:, ps] for b in bases])
        sym = syms[:, user, :]
        d1, p1 = _own_stream(caps[AP1][t], caps[AP1][tp], syms, user)
        d2, p2 = _own_stream(caps[AP2][t], caps[AP2][tp], syms, user)
        b1 = d1 * np.conj(sym)
        b2 = d2 * np.conj(sym)
        psi = np.angle(p1 + p2)
        rows.append((b1, b2, psi, t, tp, tk))
        amps.append((np.abs(b1).ravel(), np.abs(b2).ravel()))
    A1 = float(np.mean(np.concatenate([a for a, _ in amps])))
    A2 = float(np.mean(np.concatenate([b for _, b in amps])))
    for (b1, b2, psi, t, tp, tk) in rows:
        M = np.mean((b1 + b2) * np.exp(-1j * psi)[:, None], axis=0)
        meas.append(np.abs(M) ** 2)
        for th, acc in ((theta, pred), (np.zeros_like(theta), pred0)):
            ph1 = -nu[AP1][t] - nu[AP1][tk][:, None]
            ph2 = -nu[AP2][t] - nu[AP2][tk][:, None] + th[t]
            ref = -np.angle(A1 * np.exp(1j * (-nu[AP1][tp] - nu[AP1][tk]))
                            + A2 * np.exp(1j * (-nu[AP2][tp] - nu[AP2][tk] + th[tp])))
            E1 = np.mean(np.exp(1j * (ph1 + ref[:, None])), axis=0)
            E2 = np.mean(np.exp(1j * (ph2 + ref[:, None])), axis=0)
            acc.append(np.abs(A1 * E1 + A2 * E2) ** 2)
    norm = (A1 + A2) ** 2
    db = lambda v: 10.0 * math.log10(float(np.mean(np.concatenate(v))) / norm)  # noqa: E731
    return {"bf_gain_db": db(meas), "bf_pred_db": db(pred), "bf_nosync_db": db(pred0),
            "bf_amplitudes": (A1, A2), "bf_samples": int(sum(len(m) for m in meas))}


def _own_stream(data, pilot, syms, user):
    """An AP's component at `user` without the beams of the other users.

    data (frames, positions): the noise-free capture on a slot's downlink
    data samples; pilot (frames,): on its demodulation pilot (every user's
    symbol is 1 there); syms (frames, K, positions): the users' symbols. Per
    frame, data = sum_k beta_k s_k (the beams are fixed within the slot) is
    solved for beta by least squares, and the other users' terms are taken
    out of both. With one user nothing changes (K = 1: exactly the capture)."""
    K = syms.shape[1]
    if K == 1:
        return data, pilot
    data = data.copy()
    pilot = pilot.copy()
    for n in range(data.shape[0]):
        S = syms[n].T                                               # (positions, K)
        beta = np.linalg.lstsq(S, data[n], rcond=None)[0]
        others = np.ones(K, bool)
        others[user] = False
        data[n] -= S[:, others] @ beta[others]
        pilot[n] -= np.sum(beta[others])
    return data, pilot


def inter_ap_channel(hub, ap1, ap2):
    """G = diag(r_AP1) A diag(t_AP2): the channel AP 2 -> AP 1 with both APs'
    chain gains (N x N), read from an emulator's ground truth (hub nodes ap1
    and ap2). What a tdd_ap needs as G with the Virtual Testbed, e.g. in GRC:
    cohere.tdd.inter_ap_channel(cohere_virtual_testbed_0, 0, 1)."""
    n1, n2 = hub.num_antennas(ap1), hub.num_antennas(ap2)
    A = np.asarray(hub.link_gain(ap2, ap1), dtype=complex).reshape(n1, n2)
    r = np.asarray(hub.rx_gains(ap1), dtype=complex)
    t = np.asarray(hub.tx_gains(ap2), dtype=complex)
    return r[:, None] * A * t[None, :]
