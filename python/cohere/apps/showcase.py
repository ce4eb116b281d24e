# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Emulator showcase: 3 radios with CFO and phase noise; estimates vs ground truth and CRB.

Scenario
--------
Three nodes share one emulated air (cohere.make_testbed): each has its own
oscillator offset (--ppm) and Wiener phase noise (--phase-noise). Node 0
transmits a Zadoff-Chu block repeated for the whole run (a constant-envelope
pilot) through its virtual_radio_sink_c; nodes 1 and 2 receive with
virtual_radio_source_c into vector sinks. The AWGN power of each receiver is
set so that the per-sample SNR is exactly --snr-db (the chain and air gains
are read back from the hub before streaming starts).

Estimation at each receiver (blind to the ground truth)
-------------------------------------------------------
1. coarse CFO: phase of the lag-L autocorrelation of the periodic pilot,
   f_c = angle(sum y[n+L] conj(y[n])) fs / (2 pi L), unambiguous for
   |CFO| < fs / (2 L) (8.2 kHz with the defaults);
2. timing: circular cross-correlation of the coarse-corrected, block-averaged
   signal with the ZC block (the emulator's default link delay is 0, so the
   expected offset is 0 samples);
3. fine CFO and phase: z[n] = y[n] conj(x[n]) removes the modulation; a
   windowed phase track unwraps the per-sample phase of z, and a
   least-squares line through the per-sample phase gives the CFO (slope) and
   the phase; what is left around that line is the phase-noise drift.

Ground truth (from the hub)
---------------------------
* nominal CFO  = hub.lo_frequency(0) - hub.lo_frequency(j);
* true phase   = hub.lo_phase(0) - hub.lo_phase(j) + angle(t_0 A_0j r_j)
  (TX chain, air and RX chain gains, read back from the hub);
* effective CFO = least-squares slope of the true phase over the same samples:
  with phase noise the oscillators wander around their nominal frequency, so
  this is the frequency actually realised during the observation.

Accuracy
--------
Cramer-Rao bound for the frequency of a complex tone of N samples at
per-sample SNR rho (the formula used below, crb_std_hz()):

    var(f) = 6 fs^2 / ((2 pi)^2 rho N (N^2 - 1))        [Hz^2]

It bounds the error against the effective CFO. Against the nominal CFO the
Wiener phase noise (increment variance q/fs per sample with
q = 4 pi^2 fc^2 (c_0 + c_j) rad^2/s for the phase difference) adds the
variance of a least-squares slope through a random walk over T = N / fs:

    var_pn(f) = 6 q / (5 T (2 pi)^2) = 6 fc^2 (c_0 + c_j) / (5 T)   [Hz^2]

and the expected RMS of the drift left around the fitted line is
sqrt(q T / 15) rad.

Phase-tracking window (--window w, at least MIN_WINDOW = 64 samples)
--------------------------------------------------------------------
The smooth phase track is interpolated between the phases of w-sample window
sums, so it follows about 1/(2w) of the AWGN (at w = 1 all of its quadrature
half): the SNR measured around it reads 10 log10(1 / (1 - 1/(2w))) dB high,
3 dB at w = 1, 0.6 dB at w = 4, 0.03 dB at w = 64. The phase-noise level
subtracts the AWGN term 2 sigma^2 / w = 1 / (rho w) of the window-mean
increments with that SNR, which leaves 3 fs / (4 rho w^3) rad^2/s in the
measured rate q: at the defaults (fs 1 MHz, 20 dB) 7500 rad^2/s at w = 1
(c_0 + c_j read as 2e-16 s instead of 7e-20 s), 0.03 rad^2/s at w = 64
(1e-21 s, about 1 % of the default pairs). Below 64 the estimator's model no
longer holds; at low SNR the bias grows as 1 / rho, so use a larger window.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

from .common import (HelpFormatter, check_output, check_phase_noise, finite_float, frequency_hz,
                     nonnegative_float, positive_int, results_dir, seed_int, snr_db)

__all__ = ["main", "crb_std_hz", "pn_cfo_std_hz", "pn_drift_rms_rad", "estimate",
           "zadoff_chu", "MIN_WINDOW", "MAX_SAMPLES"]

MIN_WINDOW = 64            # samples: see "Phase-tracking window" above
MAX_SAMPLES = 20_000_000   # per receiver: the analysis keeps about 250 bytes per sample


# ----------------------------------------------------------------------------
# theory
# ----------------------------------------------------------------------------

def crb_std_hz(samp_rate, snr_linear, n):
    """CRB standard deviation (Hz) of the frequency of a complex tone.

    var(f) = 6 fs^2 / ((2 pi)^2 rho N (N^2 - 1)), rho = per-sample SNR.
    """
    n = float(n)
    var = 6.0 * samp_rate ** 2 / ((2.0 * math.pi) ** 2 * snr_linear * n * (n * n - 1.0))
    return math.sqrt(var)


def pn_rate(center_freq, c_sum):
    """Variance growth rate q (rad^2/s) of the phase difference of two Wiener
    oscillators with constants summing to c_sum (s)."""
    return 4.0 * math.pi ** 2 * center_freq ** 2 * c_sum


def pn_cfo_std_hz(center_freq, c_sum, duration):
    """Std (Hz) of a least-squares slope through the phase-noise random walk:
    var = 6 q / (5 T (2 pi)^2)."""
    q = pn_rate(center_freq, c_sum)
    return math.sqrt(6.0 * q / (5.0 * duration)) / (2.0 * math.pi)


def pn_drift_rms_rad(center_freq, c_sum, duration):
    """Expected RMS (rad) of a random walk around its least-squares line:
    sqrt(q T / 15)."""
    return math.sqrt(pn_rate(center_freq, c_sum) * duration / 15.0)


# ----------------------------------------------------------------------------
# signal and estimator
# ----------------------------------------------------------------------------

def zadoff_chu(length, root):
    """Zadoff-Chu block of odd length: exp(-j pi u n (n + 1) / L)."""
    if length % 2 == 0:
        raise ValueError(f"--zc-len must be odd, got {length}")
    if math.gcd(length, root) != 1:
        raise ValueError(f"--zc-root {root} must be coprime with --zc-len {length}")
    n = np.arange(length)
    return np.exp(-1j * np.pi * root * n * (n + 1) / length).astype(np.complex64)


def _ls_line(phase):
    """Least-squares line through phase[n], n = 0..N-1: (slope rad/sample, fitted line)."""
    n = np.arange(len(phase), dtype=np.float64)
    nc = n - n.mean()
    slope = float(np.dot(nc, phase - phase.mean()) / np.dot(nc, nc))
    line = phase.mean() + slope * nc
    return slope, line


def estimate(y, block, samp_rate, window):
    """Blind CFO / phase estimation of the periodic pilot `block` in `y`.

    Returns a dict: cfo_hz (fine), cfo_coarse_hz, timing (samples), phase
    (per-sample unwrapped phase of y conj(x), rad), amplitude, snr_db.
    """
    y = np.asarray(y, dtype=np.complex128)
    L = len(block)
    N = len(y)
    if N < 4 * L:
        raise ValueError(f"need at least {4 * L} samples, got {N}")
    n = np.arange(N, dtype=np.float64)

    # 1. coarse CFO from the lag-L autocorrelation of the periodic pilot
    r = np.vdot(y[:-L], y[L:])
    f_coarse = float(np.angle(r)) * samp_rate / (2.0 * np.pi * L)
    rot = np.exp(-2j * np.pi * f_coarse / samp_rate * n)
    yd = y * rot

    # 2. timing: circular cross-correlation of the block average with the ZC block
    m = min(64, N // L)
    ybar = yd[: m * L].reshape(m, L).sum(axis=0)
    corr = np.fft.ifft(np.fft.fft(ybar) * np.conj(np.fft.fft(block)))
    tau = int(np.argmax(np.abs(corr)))

    # 3. remove the modulation, track the phase in windows, unwrap per sample
    x = np.resize(np.roll(block.astype(np.complex128), tau), N)
    z = yd * np.conj(x)
    w = max(1, min(window, N // 4))
    k = N // w
    zw = z[: k * w].reshape(k, w).sum(axis=1)
    track = np.unwrap(np.angle(zw))
    centers = (np.arange(k) + 0.5) * w - 0.5
    track_n = np.interp(n, centers, track)
    fine = track_n + np.angle(z * np.exp(-1j * track_n))
    phase = 2.0 * np.pi * f_coarse / samp_rate * n + fine

    slope, line = _ls_line(phase)
    cfo = slope * samp_rate / (2.0 * np.pi)

    # SNR around the smooth phase track (the per-sample phase would absorb
    # the quadrature half of the noise)
    zc = z * np.exp(-1j * track_n)
    amp = float(np.abs(np.mean(zc)))
    noise = float(np.mean(np.abs(zc - amp) ** 2))
    snr = amp ** 2 / noise if noise > 0 else math.inf

    # phase-noise level from the increments of window-mean phases: for a
    # Wiener phase of rate q (rad^2/s) and windows of tau = w / fs seconds,
    # var(increment) = 2 q tau / 3 + 2 sigma^2 / w, sigma^2 = 1 / (2 rho)
    means = phase[: k * w].reshape(k, w).mean(axis=1)
    inc_var = float(np.var(np.diff(means)))
    tau_w = w / samp_rate
    q_meas = (inc_var - 2.0 * (0.5 / snr) / w) / (2.0 * tau_w / 3.0)
    return {
        "cfo_hz": cfo,
        "cfo_coarse_hz": f_coarse,
        "timing": tau,
        "phase": phase,
        "line": line,
        "window_means": means,
        "window": w,
        "amplitude": amp,
        "snr_db": 10.0 * math.log10(snr),
        "pn_rate_rad2_per_s": q_meas,
        "z": z,
        "track": track_n,
    }


# ----------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------


def build_parser():
    p = argparse.ArgumentParser(
        prog="cohere showcase",
        description=__doc__.strip().splitlines()[0] + " Node 0 transmits a repeated "
        "Zadoff-Chu pilot; nodes 1 and 2 estimate CFO and phase, compared with the "
        "emulator's ground truth and the Cramer-Rao bound.",
        formatter_class=HelpFormatter)
    g = p.add_argument_group("testbed")
    g.add_argument("--seed", type=seed_int, default=0, help="seed of every random draw")
    g.add_argument("--samp-rate", type=frequency_hz, default=1e6, help="sample rate fs (Hz)")
    g.add_argument("--center-freq", type=frequency_hz, default=915e6, help="carrier fc (Hz)")
    g.add_argument("--ppm", type=finite_float, nargs=3, default=[0.0, 3.0, -5.0],
                   metavar=("PPM0", "PPM1", "PPM2"), help="oscillator offset of nodes 0, 1, 2")
    g.add_argument("--phase-noise", type=nonnegative_float, nargs="+", default=[2e-20, 5e-20, 1e-19],
                   metavar="C", help="Wiener phase-noise constant c (s), one value or one "
                   "per node; increment variance 4 pi^2 fc^2 c / fs")
    g.add_argument("--snr-db", type=snr_db, default=20.0,
                   help="per-sample SNR at each receiver (dB), -100..100")
    s = p.add_argument_group("signal and estimator")
    s.add_argument("--samples", type=positive_int, default=1_000_000,
                   help=f"samples received per node (accepts 1e6), at most {MAX_SAMPLES:g} "
                   "(about 250 bytes of memory each)")
    s.add_argument("--zc-len", type=positive_int, default=61,
                   help="Zadoff-Chu block length L (odd); coarse CFO range is +-fs/(2L)")
    s.add_argument("--zc-root", type=positive_int, default=25, help="Zadoff-Chu root (coprime with L)")
    s.add_argument("--window", type=positive_int, default=1024,
                   help=f"phase-tracking window (samples) used to unwrap the phase, at least "
                   f"{MIN_WINDOW}: shorter windows bias the measured SNR by "
                   f"10 log10(1 / (1 - 1/(2w))) dB and the phase-noise rate by "
                   f"3 fs / (4 rho w^3) rad^2/s (at the defaults and w = 1: 3 dB, and "
                   f"c_0 + c_j read as 2e-16 s instead of 7e-20 s)")
    o = p.add_argument_group("output")
    o.add_argument("--out-dir", default=None,
                   help="directory for the PNG and JSON (default: "
                   "$COHERE_BUILD_DIR/results/showcase, or ./results/showcase)")
    o.add_argument("--json", default=None, metavar="FILE",
                   help="JSON results file (default: OUT_DIR/showcase.json)")
    o.add_argument("--no-plot", action="store_true", help="skip the PNG")
    return p


# ----------------------------------------------------------------------------
# run
# ----------------------------------------------------------------------------

def build_hub(args, c_nodes):
    """The testbed, with each receiver's AWGN power set for --snr-db."""
    from gnuradio import cohere

    hub = cohere.make_testbed(3, args.samp_rate, args.center_freq, seed=args.seed,
                              ppm=list(args.ppm), phase_noise=c_nodes)
    rho = 10.0 ** (args.snr_db / 10.0)
    t0 = complex(hub.tx_gains(0)[0])
    for j in (1, 2):
        a = complex(hub.link_gain(0, j)[0])
        r = complex(hub.rx_gains(j)[0])
        power = abs(t0 * a * r) ** 2  # the pilot has unit modulus
        hub.set_noise_power(j, power / rho)
    return hub


def run_flowgraph(args, c_nodes, hub=None):
    """Build the testbed (unless given) and the flowgraph, run it; returns
    (hub, block, received dict, seconds)."""
    from gnuradio import blocks, gr

    from gnuradio import cohere

    if hub is None:
        hub = build_hub(args, c_nodes)

    block = zadoff_chu(args.zc_len, args.zc_root)
    tb = gr.top_block("cohere showcase")
    tx_src = blocks.vector_source_c(block.tolist(), True)
    tx = cohere.virtual_radio_sink_c(hub, 0, 1)
    tb.connect(tx_src, tx)
    sinks = {}
    for j in (1, 2):
        rx = cohere.virtual_radio_source_c(hub, j, 1, args.samples)
        sinks[j] = blocks.vector_sink_c(1, args.samples)
        tb.connect(rx, sinks[j])
    t_start = time.monotonic()
    tb.run()
    elapsed = time.monotonic() - t_start
    received = {j: np.asarray(sinks[j].data(), dtype=np.complex64) for j in (1, 2)}
    return hub, block, received, elapsed


def analyse(args, hub, block, received, c_nodes):
    fs, fc = args.samp_rate, args.center_freq
    rho = 10.0 ** (args.snr_db / 10.0)
    lo0 = np.asarray(hub.lo_phase(0, 0, args.samples))
    t0 = complex(hub.tx_gains(0)[0])
    nodes, traces = [], {}
    for j in (1, 2):
        y = received[j]
        if len(y) != args.samples:
            raise RuntimeError(f"node {j} received {len(y)} samples, expected {args.samples}")
        est = estimate(y, block, fs, args.window)

        # ground truth phase of y conj(x): LO difference plus the chain/air constant
        a = complex(hub.link_gain(0, j)[0])
        r = complex(hub.rx_gains(j)[0])
        const = np.angle(t0 * a * r)
        truth = np.unwrap(lo0 - np.asarray(hub.lo_phase(j, 0, args.samples))) + const
        phase = est["phase"]
        truth += 2.0 * np.pi * np.round(np.mean(phase - truth) / (2.0 * np.pi))
        err = phase - truth

        cfo_true = hub.lo_frequency(0) - hub.lo_frequency(j)
        slope_eff, truth_line = _ls_line(truth)
        cfo_eff = slope_eff * fs / (2.0 * np.pi)
        crb = crb_std_hz(fs, rho, args.samples)
        duration = args.samples / fs
        c_sum = c_nodes[0] + c_nodes[j]
        pn_std = pn_cfo_std_hz(fc, c_sum, duration)
        # drift around the fitted line; the measured one on window means so
        # that the AWGN (per-sample phase std 1/sqrt(2 rho)) does not count
        w = est["window"]
        kk = len(est["window_means"])
        drift_meas = est["window_means"] - est["line"][: kk * w].reshape(kk, w).mean(axis=1)
        drift_truth = truth - truth_line
        q_truth = float(np.var(np.diff(truth))) * fs
        c_scale = 4.0 * np.pi ** 2 * fc ** 2
        nodes.append({
            "node": j,
            "ppm": float(args.ppm[j]),
            "phase_noise_c": c_nodes[j],
            "cfo_true_hz": cfo_true,
            "cfo_effective_hz": cfo_eff,
            "cfo_measured_hz": est["cfo_hz"],
            "cfo_coarse_hz": est["cfo_coarse_hz"],
            "cfo_error_hz": est["cfo_hz"] - cfo_true,
            "cfo_error_effective_hz": est["cfo_hz"] - cfo_eff,
            "crb_std_hz": crb,
            "pn_cfo_std_hz": pn_std,
            "cfo_expected_std_hz": math.hypot(crb, pn_std),
            "error_effective_in_crb_std": (est["cfo_hz"] - cfo_eff) / crb,
            "timing_offset_samples": est["timing"],
            "link_delay_samples": hub.link_delay(0, j),
            "snr_db_configured": args.snr_db,
            "snr_db_measured": est["snr_db"],
            "phase_error_rms_rad": float(np.sqrt(np.mean(err ** 2))),
            "phase_error_max_rad": float(np.max(np.abs(err))),
            "drift_rms_measured_rad": float(np.sqrt(np.mean(drift_meas ** 2))),
            "drift_rms_truth_rad": float(np.sqrt(np.mean(drift_truth ** 2))),
            "drift_rms_expected_rad": pn_drift_rms_rad(fc, c_sum, duration),
            # phase-noise constant of the pair (c_0 + c_j, s): configured, from the
            # true LO phases (increment variance) and measured from the signal
            "pn_c_sum_configured": c_sum,
            "pn_c_sum_truth": q_truth / c_scale,
            "pn_c_sum_measured": est["pn_rate_rad2_per_s"] / c_scale,
        })
        traces[j] = {"y": y, "z": est["z"], "track": est["track"], "phase": phase,
                     "line": est["line"], "truth": truth, "err": err,
                     "amp": est["amplitude"]}
    return nodes, traces


def plot(path, args, nodes, traces):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fs = args.samp_rate
    rng = np.random.default_rng(1)
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), constrained_layout=True)
    for row, info in enumerate(nodes):
        j = info["node"]
        tr = traces[j]
        n_total = len(tr["phase"])
        # decimate the phase traces to window means for a readable plot
        w = max(1, n_total // 2000)
        k = n_total // w
        t_ms = (np.arange(k) * w + w / 2) / fs * 1e3

        def dec(v):
            return v[: k * w].reshape(k, w).mean(axis=1)

        ax = axes[row, 0]
        pick = rng.choice(n_total, size=min(3000, n_total), replace=False)
        amp = tr["amp"] if tr["amp"] > 0 else 1.0
        raw = tr["y"][pick] / amp
        corrected = tr["z"][pick] * np.exp(-1j * tr["track"][pick]) / amp
        ax.plot(raw.real, raw.imag, ".", ms=2, color="0.7", label="received y (CFO spins it)")
        ax.plot(corrected.real, corrected.imag, ".", ms=2, color=f"C{row}",
                label="y conj(x), CFO and phase track removed")
        ax.set_aspect("equal")
        ax.set_xlim(-1.6, 1.6)
        ax.set_ylim(-1.6, 1.6)
        ax.grid(alpha=0.3)
        ax.set_title(f"node {j}: constellation (SNR {info['snr_db_measured']:.1f} dB measured)")
        ax.set_xlabel("I (normalised)")
        ax.set_ylabel("Q")
        ax.legend(loc="lower left", fontsize=8, markerscale=4)

        ax = axes[row, 1]
        ax.plot(t_ms, dec(tr["truth"] - tr["line"]), color="k", lw=2.5, alpha=0.5,
                label="truth: hub.lo_phase(0) - lo_phase(%d)" % j)
        ax.plot(t_ms, dec(tr["phase"] - tr["line"]), color=f"C{row}", lw=1,
                label="measured")
        ax.set_title(f"node {j}: phase minus the fitted CFO line (phase-noise drift)\n"
                     f"RMS {info['drift_rms_measured_rad']:.3f} rad measured, "
                     f"{info['drift_rms_truth_rad']:.3f} truth, "
                     f"{info['drift_rms_expected_rad']:.3f} expected (one realisation)",
                     fontsize=10)
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("phase (rad)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)

        ax = axes[row, 2]
        ax.plot(t_ms, dec(tr["err"]) * 1e3, color=f"C{row}", lw=1)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(f"node {j}: phase error, measured - truth\n"
                     f"(per sample: RMS {info['phase_error_rms_rad'] * 1e3:.1f} mrad; "
                     f"plotted: means of {w} samples)", fontsize=10)
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("error (mrad)")
        ax.grid(alpha=0.3)
        txt = (f"CFO true     {info['cfo_true_hz']:+.3f} Hz\n"
               f"CFO measured {info['cfo_measured_hz']:+.3f} Hz\n"
               f"error        {info['cfo_error_hz']:+.2e} Hz\n"
               f"vs effective {info['error_effective_in_crb_std']:+.2f} CRB std\n"
               f"CRB std      {info['crb_std_hz']:.2e} Hz")
        ax.text(0.02, 0.97, txt, transform=ax.transAxes, va="top", family="monospace",
                fontsize=8, bbox=dict(facecolor="white", alpha=0.8, edgecolor="0.8"))
    fig.suptitle(f"gr-cohere emulator showcase: node 0 -> nodes 1, 2 | fs {fs / 1e6:g} MHz, "
                 f"fc {args.center_freq / 1e6:g} MHz, ppm {list(args.ppm)}, "
                 f"c {[float('%.3g' % c) for c in args.phase_noise_nodes]} s, "
                 f"SNR {args.snr_db:g} dB, {args.samples} samples", fontsize=11)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def print_table(nodes):
    head = (f"{'node':>4} {'ppm':>5} {'true CFO Hz':>12} {'meas CFO Hz':>13} {'error Hz':>10} "
            f"{'CRB std Hz':>10} {'PN std Hz':>9} {'err*/CRB':>8}")
    print(head)
    print("-" * len(head))
    for d in nodes:
        print(f"{d['node']:>4} {d['ppm']:>5g} {d['cfo_true_hz']:>12.3f} "
              f"{d['cfo_measured_hz']:>13.4f} {d['cfo_error_hz']:>+10.2e} "
              f"{d['crb_std_hz']:>10.2e} {d['pn_cfo_std_hz']:>9.2e} "
              f"{d['error_effective_in_crb_std']:>+8.2f}")
    print("  * err*: error against the effective CFO (LS slope of the true phase over the run);\n"
          "    the error against the nominal CFO also contains the phase-noise wander (PN std).")
    head = (f"{'node':>4} {'drift RMS rad meas/truth/expect':>32} "
            f"{'c0+cj (s) config/truth/measured':>33} {'phase err RMS':>13} {'timing':>6}")
    print(head)
    print("-" * len(head))
    for d in nodes:
        drift = (f"{d['drift_rms_measured_rad']:.3f} / {d['drift_rms_truth_rad']:.3f} / "
                 f"{d['drift_rms_expected_rad']:.3f}")
        level = (f"{d['pn_c_sum_configured']:.2e} / {d['pn_c_sum_truth']:.2e} / "
                 f"{d['pn_c_sum_measured']:.2e}")
        print(f"{d['node']:>4} {drift:>32} {level:>33} "
              f"{d['phase_error_rms_rad'] * 1e3:>8.1f} mrad {d['timing_offset_samples']:>6}")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.phase_noise) not in (1, 3):
        parser.error(f"--phase-noise takes 1 or 3 values, got {len(args.phase_noise)}")
    c_nodes = [float(c) for c in (args.phase_noise * 3 if len(args.phase_noise) == 1
                                  else args.phase_noise)]
    args.phase_noise_nodes = c_nodes
    if args.samples > MAX_SAMPLES:
        parser.error(f"--samples {args.samples}: at most {MAX_SAMPLES} (the analysis keeps "
                     f"about 250 bytes per sample)")
    if args.window < MIN_WINDOW:
        parser.error(f"--window {args.window}: at least {MIN_WINDOW} samples (a shorter phase "
                     f"track follows the noise: the SNR and phase-noise estimates are biased)")
    if args.samples < 4 * args.zc_len or args.samples < 4 * args.window:
        parser.error(f"--samples {args.samples}: must be >= 4 * max(--zc-len, --window) = "
                     f"{4 * max(args.zc_len, args.window)}")
    try:
        block = zadoff_chu(args.zc_len, args.zc_root)
    except ValueError as exc:
        parser.error(str(exc))
    check_phase_noise(parser.error, "--phase-noise", max(c_nodes), args.samp_rate,
                      args.center_freq)
    try:
        hub = build_hub(args, c_nodes)
    except ValueError as exc:  # the testbed's own checks
        parser.error(f"the emulated testbed refuses the options: {exc}")
    out_dir = args.out_dir or results_dir("showcase")
    json_path = args.json or os.path.join(out_dir, "showcase.json")
    png_path = os.path.join(out_dir, "showcase.png")
    check_output(parser.error, out_dir, [("--json", json_path)])

    capture_range = args.samp_rate / (2.0 * args.zc_len)
    for j in (1, 2):
        nominal = abs(args.ppm[0] - args.ppm[j]) * 1e-6 * args.center_freq
        if nominal >= 0.9 * capture_range:
            print(f"warning: node {j}: configured offset {nominal:.0f} Hz is near or beyond "
                  f"the coarse CFO range +-{capture_range:.0f} Hz (fs / 2L); use a shorter "
                  f"--zc-len", file=sys.stderr)

    t_start = time.monotonic()
    hub, block, received, t_flow = run_flowgraph(args, c_nodes, hub)
    nodes, traces = analyse(args, hub, block, received, c_nodes)
    t_total = time.monotonic() - t_start

    print(f"cohere showcase: 3 nodes, fs {args.samp_rate:g} Hz, fc {args.center_freq:g} Hz, "
          f"SNR {args.snr_db:g} dB, {args.samples} samples per receiver "
          f"(flowgraph {t_flow:.2f} s, total {t_total:.2f} s)")
    print("CRB: var(f) = 6 fs^2 / ((2 pi)^2 rho N (N^2 - 1)); "
          "phase-noise slope std: var = 6 fc^2 (c_0 + c_j) / (5 T)")
    print_table(nodes)

    result = {
        "app": "showcase",
        "config": {
            "seed": args.seed, "samp_rate": args.samp_rate, "center_freq": args.center_freq,
            "ppm": list(args.ppm), "phase_noise": c_nodes, "snr_db": args.snr_db,
            "samples": args.samples, "zc_len": args.zc_len, "zc_root": args.zc_root,
            "window": args.window, "transmitter": 0, "receivers": [1, 2],
        },
        "formulas": {
            "crb_var_hz2": "6 fs^2 / ((2 pi)^2 rho N (N^2 - 1))",
            "pn_cfo_var_hz2": "6 fc^2 (c_0 + c_j) / (5 T)",
            "pn_drift_rms_rad": "sqrt(4 pi^2 fc^2 (c_0 + c_j) T / 15)",
        },
        "lo_frequency_hz": [hub.lo_frequency(i) for i in range(3)],
        "nodes": nodes,
        "flowgraph_seconds": t_flow,
        "total_seconds": t_total,
        "json": os.path.abspath(json_path),
        "png": None if args.no_plot else os.path.abspath(png_path),
    }
    if not args.no_plot:
        plot(png_path, args, nodes, traces)
    json_dir = os.path.dirname(os.path.abspath(json_path))
    os.makedirs(json_dir, exist_ok=True)
    with open(json_path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {os.path.abspath(json_path)}")
    if not args.no_plot:
        print(f"wrote {os.path.abspath(png_path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
