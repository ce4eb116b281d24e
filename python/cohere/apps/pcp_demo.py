# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""PCP + over-the-air computation demo: K nodes on the emulator, with and without sync.

Scenario
--------
A fusion node and K PCP nodes share one emulated air (cohere.make_testbed):
every radio has its own oscillator (uniform in +-PPM ppm at the carrier, so
kHz of CFO, plus Wiener phase noise), a random LO phase, non-reciprocal RF
chains, and a position at a random distance from the fusion node (log-distance
path loss, hence different link budgets and propagation delays); optionally
the nodes move. One receiver noise power for all radios gives the weakest
node's link the requested SNR.

Each round runs the four PCP steps on the streaming blocks (gnuradio.cohere.pcp):
request, responses in slot order, feedback in reverse order, and the OAC
payload of every node precoded with the phase (and scaled with the amplitude)
of its feedback. The first round is the nodes' CFO acquisition, the second
their ranging round (they learn their round trip from the fusion's timing
feedback and send their payloads that much earlier from then on). The same
scenario runs again with the nodes sending their payload without the PCP
phase ("no sync"; same timing and power control).

Measured against ground truth
-----------------------------
* phase error of each node's payload component at the fusion receiver, per
  OFDM symbol, from the emulator's per-transmitter capture (not from the
  protocol's own estimates);
* OAC NMSE of the fusion's sums against the true sums; "ideal" is the NMSE
  with every component perfectly aligned and the same receiver noise;
* the NMSE predicted from the measured phase-error statistics,
  sum over REs of |d|^2 (2 - 2 cos eps) + ideal error, and the closed-form phase error
  (12) (+ phase noise) evaluated with the run's schedule and link budgets.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

from .common import (MAX_CAPTURE, HelpFormatter, check_output, check_phase_noise, finite_float,
                     frequency_hz, nonnegative_float, positive_int, results_dir, seed_int,
                     snr_db)

PROG = "cohere demo"
MAX_DISTANCE = 1e6      # m: the farthest node the scenario accepts (--max-distance)


def build_parser():
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.strip().splitlines()[0],
                                formatter_class=HelpFormatter)
    g = p.add_argument_group("scenario")
    g.add_argument("--nodes", "-K", type=positive_int, default=8, help="number of PCP nodes K")
    g.add_argument("--rounds", type=positive_int, default=100,
                   help="PCP + OAC rounds measured (after a CFO acquisition and a ranging round)")
    g.add_argument("--no-sync-rounds", type=positive_int, default=20,
                   help="rounds of the unsynchronized baseline run")
    g.add_argument("--seed", type=seed_int, default=1, help="seed of every random draw")
    g.add_argument("--ppm", type=nonnegative_float, default=10.0,
                   help="oscillator offsets uniform in +-PPM ppm (every radio)")
    g.add_argument("--phase-noise", type=nonnegative_float, default=1e-20,
                   help="Wiener phase-noise constant c (s) of every radio")
    g.add_argument("--snr-db", type=snr_db, default=25.0,
                   help="per-sample SNR of the weakest node's links (dB), -100..100")
    g.add_argument("--min-distance", type=finite_float, default=3.0, help="closest node (m)")
    g.add_argument("--max-distance", type=finite_float, default=30.0,
                   help=f"farthest node (m), at most {MAX_DISTANCE:g}")
    g.add_argument("--speed", type=nonnegative_float, default=0.0,
                   help="node speed (m/s), random directions; 0: static")
    w = p.add_argument_group("waveform and schedule")
    w.add_argument("--samp-rate", type=frequency_hz, default=5e6, help="sample rate (Hz)")
    w.add_argument("--center-freq", type=frequency_hz, default=920e6, help="carrier (Hz)")
    w.add_argument("--fft", type=positive_int, default=256, help="IDFT size")
    w.add_argument("--cp", type=int, default=64, help="cyclic prefix (samples)")
    w.add_argument("--active", type=positive_int, default=192, help="active subcarriers")
    w.add_argument("--oac-symbols", type=positive_int, default=4,
                   help="payload OFDM symbols per round (parameters = symbols x data subcarriers)")
    w.add_argument("--lookahead", type=positive_int, default=3072,
                   help="burst scheduler lookahead D (samples)")
    w.add_argument("--values", choices=("bpsk", "uniform", "gaussian"), default="bpsk",
                   help="distribution of the nodes' parameters")
    o = p.add_argument_group("output")
    o.add_argument("--out-dir", default=None,
                   help="directory for PNGs and JSON (default: "
                   "$COHERE_BUILD_DIR/results/demo, or ./results/demo)")
    o.add_argument("--json", default=None, metavar="FILE", help="JSON results (default OUT_DIR/demo.json)")
    o.add_argument("--no-plot", action="store_true", help="skip the PNGs")
    return p


def scenario(args):
    """make_testbed arguments and the node speeds/angles for the run."""
    K = args.nodes
    rng = np.random.default_rng(args.seed)
    ppm = rng.uniform(-args.ppm, args.ppm, K + 1)
    dist = rng.uniform(args.min_distance, args.max_distance, K)
    bearing = rng.uniform(0, 2 * np.pi, K)
    pos = [(0.0, 0.0)] + [(d * math.cos(b), d * math.sin(b)) for d, b in zip(dist, bearing)]
    speeds = np.zeros(K + 1)
    speeds[1:] = args.speed
    angles = rng.uniform(0, 2 * np.pi, K + 1)
    # path loss 40 dB at 1 m, exponent 2 (the defaults of make_testbed)
    weakest_loss = 40.0 + 20.0 * math.log10(max(dist.max(), 1.0))
    noise = 10.0 ** (-(weakest_loss + args.snr_db) / 10.0)
    testbed = dict(seed=args.seed, ppm=list(ppm), phase_noise=args.phase_noise,
                   positions=pos, noise_power=noise, speed=list(speeds), angle=list(angles))
    return testbed, speeds, angles, dist


def _stats(analysis):
    err = analysis["phase_err"]
    err = err[np.isfinite(err)]
    return err, float(np.degrees(np.sqrt(np.mean(err ** 2)))) if err.size else float("nan")


def _decorate(ax, xlabel, ylabel):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _save(plt, fig, out_dir, name):
    fig.tight_layout()
    path = os.path.join(out_dir, f"demo_{name}.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot(out_dir, res_pcp, res_none, err_pcp, theory_sigma, per_round):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    paths = {}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True)
    for ax, res, title in ((axes[0], res_none, "no synchronization"),
                           (axes[1], res_pcp, "phase-coded pilots")):
        s = res["sums"].ravel()
        t = res["truth"].ravel()
        ax.plot(s.real, s.imag, ".", ms=2, alpha=0.35, label="fusion estimate")
        ax.plot(np.unique(t.real), np.zeros(len(np.unique(t.real))), "kx", ms=7,
                label="true sums")
        ax.set_title(f"{title}: NMSE {res['nmse_db']:.1f} dB")
        ax.set_xlabel("in-phase")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("quadrature")
    axes[1].legend(loc="upper right", fontsize=8)
    fig.suptitle("Superposed OAC values at the fusion node")
    paths["constellation"] = _save(plt, fig, out_dir, "constellation")

    fig, ax = plt.subplots(figsize=(6, 4.4))
    deg = np.degrees(np.sort(np.abs(err_pcp)))
    ax.plot(deg, np.arange(1, len(deg) + 1) / len(deg), label="measured (ground truth)")
    grid = np.linspace(0, max(deg.max() if len(deg) else 1.0, 1e-3) * 1.2, 200)
    sig = theory_sigma[np.isfinite(theory_sigma)]
    if sig.size:
        cdf = np.mean([2 * norm.cdf(np.radians(grid) / s) - 1 for s in sig], axis=0)
        ax.plot(grid, cdf, "--", label="closed form (13), sigma from (12) + phase noise")
    _decorate(ax, "|phase error| (deg)", "CDF")
    ax.set_title("Phase error of each node's component at the fusion")
    paths["phase_cdf"] = _save(plt, fig, out_dir, "phase_cdf")

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for key, style in (("pcp", "-"), ("no_sync", "-"), ("ideal", "--")):
        if per_round.get(key):
            ax.plot(np.arange(1, len(per_round[key]) + 1), per_round[key], style, label=key)
    _decorate(ax, "round", "OAC NMSE (dB)")
    ax.set_title("OAC NMSE per round")
    paths["nmse"] = _save(plt, fig, out_dir, "nmse")
    return paths


def _per_round_nmse(res):
    out = []
    for s, t in zip(res["sums"], res["truth"]):
        ref = float(np.sum(np.abs(t) ** 2))
        out.append(10 * math.log10(max(float(np.sum(np.abs(s - t) ** 2)), 1e-300) / ref)
                   if ref > 0 else float("nan"))
    return out


def check_scenario(parser, args, pcp):
    """The PcpConfig of the options; every configuration error (the
    configuration's own checks, the oscillators, the distances, the run's
    length, the emulated testbed) ends in parser.error: one line, exit 2."""
    from gnuradio.cohere import make_testbed
    from gnuradio.cohere.pcp.network import END_TAIL

    try:
        cfg = pcp.PcpConfig(num_nodes=args.nodes, samp_rate=args.samp_rate,
                            center_freq=args.center_freq, fft_len=args.fft, cp_len=args.cp,
                            active=args.active, oac_symbols=args.oac_symbols,
                            lookahead=args.lookahead, seed=args.seed)
    except ValueError as exc:  # the configuration's own checks, naming the field
        parser.error(str(exc))
    worst_cfo = 2 * args.ppm * 1e-6 * args.center_freq
    if worst_cfo >= 0.9 * cfg.samp_rate / cfg.trigger_len:
        parser.error(f"--ppm {args.ppm:g}: two radios can be {worst_cfo:.0f} Hz apart, beyond "
                     f"90 % of the trigger's CFO range samp_rate / trigger_len = "
                     f"{cfg.samp_rate / cfg.trigger_len:.0f} Hz")
    if not 0 < args.min_distance <= args.max_distance <= MAX_DISTANCE:
        parser.error(f"--min-distance/--max-distance: need 0 < min <= max <= {MAX_DISTANCE:g} m, "
                     f"got {args.min_distance:g}, {args.max_distance:g}")
    check_phase_noise(parser.error, "--phase-noise", args.phase_noise, args.samp_rate,
                      args.center_freq)
    for option, rounds in (("--rounds", args.rounds), ("--no-sync-rounds", args.no_sync_rounds)):
        need = cfg.samples_for(rounds + 2) + END_TAIL
        if need > MAX_CAPTURE:
            parser.error(f"{option} {rounds}: the run would stream {need} samples per radio, "
                         f"beyond the emulator's capture limit 2^28 = {MAX_CAPTURE}")
    testbed = scenario(args)[0]
    try:  # the testbed's own checks (built again by each run)
        make_testbed(args.nodes + 1, args.samp_rate, args.center_freq, **testbed)
    except ValueError as exc:
        parser.error(f"the emulated testbed refuses the scenario: {exc}")
    return cfg


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from gnuradio.cohere import pcp

    cfg = check_scenario(parser, args, pcp)
    out_dir = args.out_dir or results_dir("demo")
    json_path = args.json or os.path.join(out_dir, "demo.json")
    check_output(parser.error, out_dir, [("--json", json_path)])
    testbed, speeds, angles, dist = scenario(args)

    t0 = time.monotonic()
    opts = {k: {"values": args.values} for k in range(1, args.nodes + 1)}
    run_pcp = pcp.run_network(cfg, args.rounds + 2, testbed=testbed, mode="pcp",
                              seed=args.seed, node_options=opts)
    res_pcp = pcp.analyze(run_pcp, skip_rounds=2)
    run_none = pcp.run_network(cfg, args.no_sync_rounds + 2, testbed=testbed, mode="none",
                               seed=args.seed, node_options=opts)
    res_none = pcp.analyze(run_none, skip_rounds=2)
    theory_var = pcp.network.theory_phase_var(run_pcp, speeds, angles)
    # the closed form's RMSE as a phase measurement reports it (in (-pi, pi]):
    # (12) alone grows without bound (361 deg at 100 m/s)
    det, var = pcp.network.predicted_errors(run_pcp, speeds, angles)
    theory_rmse = float(np.degrees(pcp.network.predicted_rmse(det, var)))
    wall = time.monotonic() - t0

    err_pcp, rmse_pcp = _stats(res_pcp)
    _, rmse_none = _stats(res_none)
    theory_sigma = np.sqrt(theory_var.ravel())
    taken = res_pcp["participants"].sum(axis=1)
    per_round = {"pcp": _per_round_nmse(res_pcp), "no_sync": _per_round_nmse(res_none),
                 "ideal": _per_round_nmse({"sums": res_pcp["ideal"], "truth": res_pcp["truth"]})}
    result = {
        "app": "demo",
        "nodes": args.nodes,
        "rounds": int(res_pcp["rounds"]),
        "phase_rmse_deg": {"pcp": rmse_pcp, "no_sync": rmse_none,
                           "closed_form": theory_rmse},
        "oac_nmse_db": {"pcp": res_pcp["nmse_db"], "no_sync": res_none["nmse_db"],
                        "ideal": res_pcp["ideal_nmse_db"],
                        "predicted_from_phase_errors": res_pcp["predicted_nmse_db"]},
        "participants_per_round": {"min": int(taken.min()) if taken.size else 0,
                                   "mean": float(taken.mean()) if taken.size else 0.0},
        "late_bursts": int(sum(run_pcp.late.values()) + sum(run_none.late.values())),
        "params_per_node_per_round": cfg.params_per_round,
        "schedule_samples": {"T2_minus_T1": [cfg.t2(k) for k in range(1, cfg.num_nodes + 1)],
                             "T3_minus_T1": [cfg.t3(k) for k in range(1, cfg.num_nodes + 1)],
                             "T4_minus_T1": cfg.t4, "period": cfg.period},
        "scenario": {"seed": args.seed, "ppm": testbed["ppm"], "phase_noise": args.phase_noise,
                     "snr_db_weakest": args.snr_db, "distances_m": list(map(float, dist)),
                     "speed": args.speed, "samp_rate": args.samp_rate,
                     "center_freq": args.center_freq, "fft": args.fft, "cp": args.cp,
                     "active": args.active, "oac_symbols": args.oac_symbols,
                     "values": args.values},
        "wall_seconds": wall,
    }
    # the demo's own check: some round had participants and the PCP figures
    # are numbers (at a very low SNR no node detects the request: all NaN)
    failures = []
    if not (taken.size and taken.max() > 0):
        failures.append("no round had a participating node (no node detected the fusion's "
                        "request: is --snr-db too low?)")
    if not (math.isfinite(rmse_pcp) and math.isfinite(res_pcp["nmse_db"])):
        failures.append("the PCP phase RMSE / OAC NMSE is not a number")
    result["ok"] = not failures
    result["failures"] = failures
    if not args.no_plot:
        result["png"] = plot(out_dir, res_pcp, res_none, err_pcp, theory_sigma, per_round)
    from gnuradio.cohere.pcp.distributed import to_json

    with open(json_path, "w") as fh:
        json.dump(to_json(result), fh, indent=2, allow_nan=False)  # strict JSON: NaN as null

    print(f"{PROG}: K={args.nodes} nodes, {result['rounds']} rounds (+2 acquisition/ranging), "
          f"{args.samp_rate / 1e6:g} Msps at {args.center_freq / 1e6:g} MHz, "
          f"{cfg.params_per_round} parameters per node per round ({wall:.1f} s)")
    print(f"  {'':<20}{'PCP':>9}{'no sync':>9}{'ideal':>9}")
    print(f"  {'phase RMSE (deg)':<20}{rmse_pcp:>9.2f}{rmse_none:>9.2f}{'':>9}"
          f"   closed form (12) + phase noise: {theory_rmse:.2f}")
    print(f"  {'OAC NMSE (dB)':<20}{res_pcp['nmse_db']:>9.2f}{res_none['nmse_db']:>9.2f}"
          f"{res_pcp['ideal_nmse_db']:>9.2f}   predicted from the phase errors: "
          f"{res_pcp['predicted_nmse_db']:.2f}")
    print(f"  nodes per round: min {result['participants_per_round']['min']}, "
          f"late bursts {result['late_bursts']}")
    print(f"  results: {os.path.abspath(json_path)}")
    for reason in failures:
        print(f"  FAILED: {reason}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
