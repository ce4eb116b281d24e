# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The streaming half of `cohere reproduce tdd-kalman --stream`.

Runs the broken-TDD scheme on the emulator (gnuradio.cohere.tdd: two APs with
free-running LOs, users, the kalman_phase_tracker block, AP 2's precoders) and
compares it with the emulator's ground truth: tracked vs true alpha, the
prediction error variance vs the filter's P_n (and the exact Wiener steady
state), wraps of the true phase, downlink beamforming gain vs the prediction
from |E[Delta]|. Writes tdd_stream.json (or --json) and tdd_stream.png; exits
with 1 when an acceptance check fails.
"""

import dataclasses
import json
import math
import os

import numpy as np

from .common import (MAX_CAPTURE, check_output, check_phase_noise, nonnegative_float,
                     positive_int, snr_db)

__all__ = ["add_stream_arguments", "run_stream"]


def add_stream_arguments(p):
    g = p.add_argument_group("streaming on the emulator (--stream)")
    g.add_argument("--stream", action="store_true",
                   help="run the streaming implementation instead of the SE curves")
    g.add_argument("--stream-N", type=positive_int, default=4, metavar="N",
                   help="antennas per AP, 1..8 (default: 4)")
    g.add_argument("--stream-K", type=positive_int, default=1, metavar="K",
                   help="users (default: 1)")
    g.add_argument("--stream-F", type=positive_int, default=2, metavar="F",
                   help="slots per frame (default: 2)")
    g.add_argument("--stream-frames", type=positive_int, default=1000, metavar="FRAMES",
                   help="analysed frames after the burn-in, >= 2 (default: 1000; accepts 1e3); "
                   "the whole run streams at most 2^28 samples")
    g.add_argument("--stream-c-nu", type=nonnegative_float, default=1.58e-17, metavar="C",
                   help="LO phase-noise constant of both APs (default: 1.58e-17)")
    g.add_argument("--stream-sync-snr", type=snr_db, default=10.0, metavar="DB",
                   help="sync SNR after beamforming, rho ||G||_op^2 / noise (dB), -100..100; "
                   "snr_ap_db follows from the seeded G (default: 10)")
    return p


def _check(parser_error, args):
    if not 1 <= args.stream_N <= 8:
        parser_error(f"--stream-N must be in 1..8, got {args.stream_N}")
    for name in ("stream_K", "stream_F"):
        if getattr(args, name) < 1:
            parser_error(f"--{name.replace('_', '-')} must be >= 1")
    if args.stream_frames < 2:
        parser_error("--stream-frames must be >= 2")


def _check_config(parser_error, args, cfg):
    """What the emulator would refuse after the setup: the LOs' phase noise
    and the capture length (with run_tdd_stream's default burn-in)."""
    from gnuradio.cohere.tdd.network import default_burn_in, scenario

    check_phase_noise(parser_error, "--stream-c-nu", cfg.c_nu, cfg.samp_rate, cfg.center_freq)
    burn_in = default_burn_in(cfg, scenario(cfg)[1])
    need = (burn_in + args.stream_frames + 1) * cfg.frame_len
    if need > MAX_CAPTURE:
        parser_error(f"--stream-frames {args.stream_frames} x --stream-F {cfg.F}: the run would "
                     f"stream {need} samples (with {burn_in} burn-in frames), beyond the "
                     f"emulator's capture limit 2^28 = {MAX_CAPTURE}")


def plot(path, a, cfg):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    n = np.arange(len(a["alpha"]))
    ax1.plot(n, (a["alpha"] + np.pi) % (2 * np.pi) - np.pi, ".", ms=2, label="true alpha_n")
    ax1.plot(n, a["theta"], ".", ms=2, label="tracked alphahat_n (AP 2's theta_2)")
    ax1.axvline(a["burn_in"], color="k", lw=0.8, ls=":")
    ax1.set_ylabel("phase [rad]")
    ax1.legend(loc="upper right", fontsize=8)
    ax1.set_title(f"broken-TDD streaming: N = {cfg.N}, F = {cfg.F}, c_nu = {cfg.c_nu:g}, "
                  f"{a['frames']} frames")
    m = np.arange(a["burn_in"], a["burn_in"] + len(a["err_pred"]))
    ax2.plot(m, a["err_pred"] ** 2, ".", ms=2, color="C2",
             label="(alphahat_n - alpha_{n+1})^2 (ground truth)")
    k = 50
    if len(a["err_pred"]) >= k:
        run_mean = np.convolve(a["err_pred"] ** 2, np.ones(k) / k, "valid")
        ax2.plot(m[k - 1:], run_mean, color="C3", label=f"running mean over {k} frames")
    ax2.plot(n, a["P_n"], color="k", lw=1.2, label="filter's P_n")
    ax2.set_yscale("log")
    ax2.set_xlabel("frame n")
    ax2.set_ylabel("rad^2")
    ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_stream(args, out_dir, parser_error, json_path=None):
    """Run, print a concise summary, write JSON (json_path, default
    OUT_DIR/tdd_stream.json) + PNG; returns the exit code: 1 when an
    acceptance check fails. Configuration errors go to parser_error."""
    from gnuradio.cohere import tdd

    _check(parser_error, args)
    try:
        cfg = tdd.TddStreamConfig(N=args.stream_N, K=args.stream_K, F=args.stream_F,
                                  c_nu=args.stream_c_nu, seed=args.seed)
    except ValueError as exc:  # the configuration's own checks, named
        parser_error(f"--stream: {exc}")
    cfg = dataclasses.replace(cfg, snr_ap_db=cfg.snr_ap_db + args.stream_sync_snr
                              - tdd.sync_snr_db(cfg))
    _check_config(parser_error, args, cfg)
    json_path = json_path or os.path.join(out_dir, "tdd_stream.json")
    check_output(parser_error, out_dir, [("--json", json_path)])
    print(f"broken-TDD streaming on the emulator: N = {cfg.N}, K = {cfg.K}, F = {cfg.F}, "
          f"c_nu = {cfg.c_nu:g}, sync SNR {args.stream_sync_snr:g} dB "
          f"(SNR_AP {cfg.snr_ap_db:.1f} dB), D = {cfg.lookahead}, {args.stream_frames} frames")
    run = tdd.run_tdd_stream(cfg, args.stream_frames)
    a = tdd.analyze(run)
    th = a["theory"]
    summary = {
        "config": {k: v for k, v in dataclasses.asdict(cfg).items()},
        "frames": a["frames"], "burn_in": a["burn_in"], "wall_s": run.wall_s,
        "sigma_zeta2": run.kalman[0], "sigma_xi2": run.kalman[1], "sigma_mu2": run.kalman[2],
        "P_mean": a["P"], "var_pred": a["var_pred"], "ratio_pred": a["ratio_pred"],
        "var_post": a["var_post"], "ratio_post": a["ratio_post"],
        "theory_ratio_pred": th["ratio"], "theory_ratio_post": th["ratio_post"],
        "wraps": a["wraps"], "turns": a["turns"], "max_err_sigma": a["max_err_sigma"],
        "bf_gain_db": a["bf_gain_db"], "bf_pred_db": a["bf_pred_db"],
        "bf_nosync_db": a["bf_nosync_db"],
        "acceptance": {
            "3_variance_vs_P": {"pass": abs(a["ratio_pred"] - 1) <= 0.2,
                                "ratio": a["ratio_pred"]},
            "3_wraps_no_divergence": {"pass": a["wraps"] >= 20 and a["max_err_sigma"] < 5,
                                      "wraps": a["wraps"],
                                      "max_err_sigma": a["max_err_sigma"]},
            "3_bf_gain_vs_E_delta": {"pass": abs(a["bf_gain_db"] - a["bf_pred_db"]) <= 0.5,
                                     "diff_db": a["bf_gain_db"] - a["bf_pred_db"]},
        },
    }
    print(f"  tracked error (ground truth) var {a['var_pred']:.4f} rad^2 vs P_n {a['P']:.4f}: "
          f"ratio {a['ratio_pred']:.3f} (exact Wiener model {th['ratio']:.3f}); "
          f"a posteriori {a['ratio_post']:.3f} ({th['ratio_post']:.3f})")
    print(f"  true alpha crossed +-pi {a['wraps']} times ({a['turns']:.1f} turns); "
          f"max |error| {a['max_err_sigma']:.2f} sqrt(P_n)")
    print(f"  downlink BF gain at user 1: {a['bf_gain_db']:+.3f} dB measured, "
          f"{a['bf_pred_db']:+.3f} dB from |E[Delta]|, {a['bf_nosync_db']:+.2f} dB without "
          f"theta_2 (0 dB: perfectly coherent)")
    for key, r in summary["acceptance"].items():
        print(f"  [{'PASS' if r['pass'] else 'FAIL'}] {key}")
    failed = [k for k, r in summary["acceptance"].items() if not r["pass"]]
    with open(json_path, "w") as f:
        json.dump(summary, f, indent=1, default=float)
    print(f"wrote {json_path}")
    if not args.no_plot:
        png = os.path.join(out_dir, "tdd_stream.png")
        plot(png, a, cfg)
        print(f"wrote {png}")
    print(f"streamed {run.nsamples} samples per node in {run.wall_s:.1f} s")
    if failed:
        print(f"FAILED: acceptance check{'s' if len(failed) > 1 else ''} {', '.join(failed)}")
    return 1 if failed else 0
