# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Broken-TDD phase sync with a wrapped Kalman tracker (Ngo, Larsson): SE vs F, Figs. 2 and 3.

Achievable downlink SE per user (Theorem 1 with Corollary 1; E[Delta] by Monte
Carlo over --frames realizations of consecutive frames) against the frame
length F (slots between two phase measurements), for c_nu in {5e-18, 1.58e-17}
and SNR_AP in {-15, -20} dB, with direct estimation, with the Kalman filter
(17)-(19) and with AP 1 only. Paper parameters: N = 64, K = 10, fc = 2 GHz,
fs = 20 MHz, tau_c = 100, tau_g = 3, tau_p = 10, tau_d = 42, beta = -20 dB,
rho_UE = 20 dB, rho_AP = 2 rho_UE, eta = 1/K.

Two readings of what the paper leaves implicit (docs/tdd_kalman.md):
  paper   users keep the conventional slot, so the downlink AP 2 sends before
          AP 1's downlink period reaches nobody (the shifted slot costs AP 2
          tau_s + tau_g data samples); the demodulation pilot gives the user
          the phase of the composite gain; alphabar follows model (16).
          Reproduces the paper's optimal F (2 for c_nu = 5e-18, 1 for 1.58e-17).
  simple  only the two sync samples are lost; the user knows phi^(1) at its
          pilot; alphabar is the angle estimator (13). Best F = 1 everywhere.

The paper's text says SNR_AP in {-20, -10} dB for Fig. 2 while the figure
legends (and Fig. 3) show -15 and -20 dB; the defaults follow the figures.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

from .common import (check_output, exit_error, nonnegative_float, positive_int, results_dir,
                     seed_int, snr_db)

__all__ = ["add_arguments", "run", "main", "compute_curves", "acceptance", "PAPER_BEST_F"]

# the paper's optimal F with the Kalman filter (Sec. V)
PAPER_BEST_F = {5e-18: 2, 1.58e-17: 1}
SE_RANGE = (0.8, 1.6)        # the paper's plotted range, per user (bit/s/Hz)
# memory bound of the SE Monte Carlo: about 4 kB per frame, configuration and
# slot of the largest F (10000 frames x 4 configurations x F = 10: 1.6 GB)
MAX_FRAME_CONFIG_SLOTS = 10 ** 6


def _alg():
    from gnuradio.cohere.algorithms import tdd_sync
    return tdd_sync


# ----------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------



def add_arguments(p):
    """Arguments of `cohere reproduce tdd-kalman`."""
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    m = p.add_argument_group("model")
    m.add_argument("--reading", choices=("paper", "simple", "both"), default="both",
                   help="assumptions for what the paper leaves implicit (default: both; "
                   "the acceptance checks use 'paper')")
    m.add_argument("--c-nu", type=nonnegative_float, nargs="+", default=[5e-18, 1.58e-17], metavar="C",
                   help="LO phase-noise constants c_nu (s) (default: 5e-18 1.58e-17)")
    m.add_argument("--snr-ap", type=snr_db, nargs="+", default=[-15.0, -20.0], metavar="DB",
                   help="SNR_AP = rho_AP beta_G (dB), -100..100 (default: -15 -20)")
    m.add_argument("--f-max", type=positive_int, default=10, help="largest frame length F (default: 10)")
    m.add_argument("--N", type=positive_int, default=64, help="antennas per AP (default: 64)")
    s = p.add_argument_group("Monte Carlo")
    s.add_argument("--frames", type=positive_int, default=None,
                   help="realizations of consecutive frames for E[Delta], >= 2 "
                   "(default: 10000, --quick: 2000; accepts 1e4); frames x configurations "
                   f"x largest F at most {MAX_FRAME_CONFIG_SLOTS:g} (about 4 kB each)")
    s.add_argument("--seed", type=seed_int, default=0,
                   help="seed of every random draw, 0..2^32-1 (default: 0)")
    s.add_argument("--quick", action="store_true",
                   help="fewer frames and F = 1..4 (tests); the best-F check is then "
                   "only indicative")
    s.add_argument("--sensitivity", action="store_true",
                   help="also change one assumption of the 'paper' reading at a time and "
                   "report the best F with Kalman (F = 1..4)")
    o = p.add_argument_group("output")
    o.add_argument("--out-dir", default=None,
                   help="directory for the PNGs and JSON (default: "
                   "$COHERE_BUILD_DIR/results/tdd_kalman, or ./results/tdd_kalman)")
    o.add_argument("--json", default=None, metavar="FILE",
                   help="SE curves as JSON (default: OUT_DIR/tdd_kalman.json): a list of "
                   '{"c_nu", "snr_ap_db", "method", "reading", "F", "se"}; with --stream '
                   "the streaming summary (default: OUT_DIR/tdd_stream.json)")
    o.add_argument("--no-plot", action="store_true", help="skip the PNGs")
    from .reproduce_tdd_stream import add_stream_arguments
    add_stream_arguments(p)
    return p


# ----------------------------------------------------------------------------
# computation
# ----------------------------------------------------------------------------

def compute_curves(reading_names, c_nus, snrs, F_values, frames, seed, N=64):
    """SE curves: list of dicts {"c_nu", "snr_ap_db", "method", "reading", "F", "se"}."""
    T = _alg()
    sp = T.SystemParams(N=N)
    configs = [(c, s) for c in c_nus for s in snrs]
    curves = []
    for name in reading_names:
        rd = T.READINGS[name]
        per_F = [T.simulate_se(F, configs, sp=sp, reading=rd, frames=frames, seed=seed)
                 for F in F_values]
        for j, (c, s) in enumerate(configs):
            for method in ("kalman", "direct"):
                curves.append({"c_nu": c, "snr_ap_db": s, "method": method, "reading": name,
                               "F": list(F_values),
                               "se": [float(r[method][j]) for r in per_F]})
        ap1 = T.ap1_only_se(configs, sp=sp, frames=frames, seed=seed)
        for j, (c, s) in enumerate(configs):
            curves.append({"c_nu": c, "snr_ap_db": s, "method": "ap1_only", "reading": name,
                           "F": list(F_values), "se": [float(ap1[j])] * len(F_values)})
    for cv in curves:
        cv["best_F"] = int(cv["F"][int(np.argmax(cv["se"]))])
    return curves


def one_way_mse_check(seed, Ns=(1, 4, 64), snr_db=30.0, trials=20000):
    """Acceptance 4: MSE of each one-way estimate vs 1 / (2 rho ||G||_op^2) for
    one G draw per N, rho chosen so that rho ||G||_op^2 = snr_db (high SNR)."""
    T = _alg()
    rng = np.random.default_rng([seed, 4])
    rows = []
    for N in Ns:
        G = (rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))) / math.sqrt(2.0)
        rho = 10.0 ** (snr_db / 10.0) / np.linalg.norm(G, 2) ** 2
        a21 = rng.uniform(-np.pi, np.pi, trials)
        a12 = rng.uniform(-np.pi, np.pi, trials)
        e21, e12 = T.one_way_estimates(G, a21, a12, rho, rng)
        theory = T.one_way_mse_theory(G, rho)
        mse21 = float(np.mean(T.wrap(e21 - a21) ** 2))
        mse12 = float(np.mean(T.wrap(e12 - a12) ** 2))
        rows.append({"N": N, "theory": theory, "mse_2to1": mse21, "mse_1to2": mse12,
                     "db_2to1": 10 * math.log10(mse21 / theory),
                     "db_1to2": 10 * math.log10(mse12 / theory)})
    return rows


def acceptance(curves, mse_rows, reading="paper"):
    """Pass/fail of the issue's acceptance checks 1, 2 and 4 on one reading."""
    cv = [c for c in curves if c["reading"] == reading]
    key = {(c["c_nu"], c["snr_ap_db"], c["method"]): c for c in cv}
    pairs = sorted({(c["c_nu"], c["snr_ap_db"]) for c in cv})
    res = {}
    ok1, worst1 = True, math.inf
    ok2, worst2 = True, math.inf
    lo, hi = math.inf, -math.inf
    best = {}
    for (c, s) in pairs:
        k = np.array(key[(c, s, "kalman")]["se"])
        d = np.array(key[(c, s, "direct")]["se"])
        a = np.array(key[(c, s, "ap1_only")]["se"])
        worst1 = min(worst1, float(np.min(k - d)))
        ok1 &= bool(np.all(k > d))
        worst2 = min(worst2, float(np.min(np.minimum(k, d) - a)))
        ok2 &= bool(np.all(a < np.minimum(k, d)))
        lo = min(lo, float(np.min(np.concatenate([k, d, a]))))
        hi = max(hi, float(np.max(np.concatenate([k, d, a]))))
        best[f"{c:g}/{s:g}"] = key[(c, s, "kalman")]["best_F"]
    res["1_kalman_above_direct"] = {"pass": ok1, "min_margin": worst1}
    res["2_ap1_only_below"] = {"pass": ok2, "min_margin": worst2}
    res["2_range"] = {"pass": SE_RANGE[0] <= lo and hi <= SE_RANGE[1], "min": lo, "max": hi,
                      "range": list(SE_RANGE)}
    expected = {f"{c:g}/{s:g}": PAPER_BEST_F.get(c) for (c, s) in pairs}
    res["2_best_F_kalman"] = {
        "pass": all(expected[k] is None or best[k] == expected[k] for k in best),
        "best_F": best, "paper": expected}
    worst4 = max(max(abs(r["db_2to1"]), abs(r["db_1to2"])) for r in mse_rows)
    res["4_one_way_mse"] = {"pass": worst4 <= 1.0, "max_abs_db": worst4,
                            "N": [r["N"] for r in mse_rows]}
    return res


SENSITIVITY = [
    ("paper reading", {}),
    ("shifted slot costs only the sync samples", {"shifted_slot": "sync"}),
    ("shifted slot: single-AP samples lost", {"shifted_slot": "joint"}),
    ("user knows phi^(1) at its pilot (not composite)", {"ue_phase": "ap1"}),
    ("user knows phi^(1) at every sample", {"ue_phase": "ideal"}),
    ("alphabar = angle estimator (13)", {"measurement": "angle"}),
    ("tau_s = 2 sync samples each way", {"tau_s": 2}),
    ("x_1 = u_1 literally (no array gain 1->2)", {"literal_u1": True}),
]


def sensitivity(c_nus, snrs, frames, seed, N=64, F_values=(1, 2, 3, 4)):
    """Best F with Kalman when one assumption of the paper reading changes."""
    from dataclasses import replace
    T = _alg()
    sp = T.SystemParams(N=N)
    configs = [(c, s) for c in c_nus for s in snrs]
    rows = []
    for label, change in SENSITIVITY:
        rd = replace(T.READINGS["paper"], name=label, **change)
        se = np.array([T.simulate_se(F, configs, sp=sp, reading=rd, frames=frames, seed=seed,
                                     methods=("kalman",))["kalman"] for F in F_values])
        best = [int(F_values[i]) for i in np.argmax(se, axis=0)]
        rows.append({"label": label, "change": change,
                     "best_F": {f"{c:g}/{s:g}": b for (c, s), b in zip(configs, best)},
                     "se_F1": [float(v) for v in se[0]], "se_F2": [float(v) for v in se[1]]})
    return rows


# ----------------------------------------------------------------------------
# output
# ----------------------------------------------------------------------------

def print_tables(curves, readings, c_nus, snrs):
    for name in readings:
        print(f"\nreading '{name}': per-user SE (bit/s/Hz)")
        for c in c_nus:
            for s in snrs:
                rows = {cv["method"]: cv for cv in curves
                        if cv["reading"] == name and cv["c_nu"] == c and cv["snr_ap_db"] == s}
                Fs = rows["kalman"]["F"]
                print(f"  c_nu = {c:g}, SNR_AP = {s:g} dB")
                print("    F        " + " ".join(f"{F:>6d}" for F in Fs) + "   best F")
                for method in ("kalman", "direct", "ap1_only"):
                    cv = rows[method]
                    best = "" if method == "ap1_only" else f"{cv['best_F']:>6d}"
                    values = " ".join(f"{v:6.3f}" for v in cv["se"])
                    print(f"    {method:<8} {values}   {best}")


def plot(out_dir, curves, readings, c_nus, snrs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    style = {"kalman": ("-", "o", "with Kalman filter"),
             "direct": ("--", "s", "with direct phase estimation"),
             "ap1_only": (":", None, "with only AP 1")}
    # the paper's Fig. 2 and 3 are its two c_nu values; further ones follow
    ses = [v for x in curves for v in x["se"] if np.isfinite(v)]
    lo, hi = (min(ses), max(ses)) if ses else (0.0, 1.0)
    pad = 0.08 * max(hi - lo, 1e-3)
    for fig_no, c in enumerate(c_nus, start=2):
        fig, axes = plt.subplots(1, len(readings), figsize=(6.2 * len(readings), 5.2),
                                 squeeze=False, sharey=True)
        for ax, name in zip(axes[0], readings):
            for si, s in enumerate(snrs):
                for method in ("kalman", "direct"):
                    ls, mk, label = style[method]
                    cv = [x for x in curves if x["reading"] == name and x["c_nu"] == c
                          and x["snr_ap_db"] == s and x["method"] == method][0]
                    ax.plot(cv["F"], cv["se"], ls=ls, marker=mk, ms=4, color=f"C{si}",
                            label=f"{label}, SNR_AP = {s:g} dB")
                    if method == "kalman":
                        b = cv["best_F"]
                        ax.plot([b], [cv["se"][cv["F"].index(b)]], marker="*", ms=14,
                                color=f"C{si}", mec="k", zorder=5)
            # the AP-1-only baseline does not depend on SNR_AP (no sync) nor on F
            cv = [x for x in curves if x["reading"] == name and x["c_nu"] == c
                  and x["method"] == "ap1_only"][0]
            ls, _, label = style["ap1_only"]
            ax.plot(cv["F"], cv["se"], ls=ls, color="k", lw=1.5, label=label)
            ax.set_title(f"reading '{name}'")
            ax.set_xlabel("frame length F [slots]")
            ax.set_xticks(cv["F"])
            ax.grid(alpha=0.3)
            ax.set_ylim(lo - pad, hi + pad)  # every curve of every figure, one scale
        axes[0][0].set_ylabel("average per-UE SE [bit/s/Hz]")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
        fig.suptitle(f"Fig. {fig_no} style: c_nu = {c:g} (star: best F with Kalman)")
        fig.tight_layout(rect=(0, 0.13, 1, 1))
        path = os.path.join(out_dir, f"tdd_kalman_fig{fig_no}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _acceptance_text(key, r, quick):
    if key == "1_kalman_above_direct":
        return f"Kalman > direct at every F (min margin {r['min_margin']:+.4f})"
    if key == "2_ap1_only_below":
        return f"AP-1-only below both schemes (min margin {r['min_margin']:+.4f})"
    if key == "2_range":
        return (f"values in {r['range'][0]}..{r['range'][1]} "
                f"(min {r['min']:.3f}, max {r['max']:.3f})")
    if key == "2_best_F_kalman":
        return (f"best F with Kalman = paper's ({r['best_F']})"
                + (" [--quick: indicative]" if quick else ""))
    return (f"one-way MSE within 1 dB of 1/(2 rho ||G||^2) "
            f"(max {r['max_abs_db']:.2f} dB, N = {r['N']})")


# ----------------------------------------------------------------------------
# run
# ----------------------------------------------------------------------------

def check_curve_options(args, error):
    """Configuration errors of the SE curves (not --stream): error(message)."""
    for option, values in (("--c-nu", args.c_nu), ("--snr-ap", args.snr_ap)):
        dup = sorted({v for v in values if values.count(v) > 1})
        if dup:  # the same configuration twice: two different Monte Carlo results
            error(f"{option}: repeated value{'s' if len(dup) > 1 else ''} "
                  f"{', '.join(f'{v:g}' for v in dup)}")
    frames = args.frames or (2000 if args.quick else 10_000)
    f_max = min(args.f_max, 4) if args.quick else args.f_max
    if frames < 2:
        error(f"--frames {frames}: must be >= 2 (E[Delta] is a mean over frames)")
    size = frames * len(args.c_nu) * len(args.snr_ap) * max(f_max, 4 if args.sensitivity else 1)
    if size > MAX_FRAME_CONFIG_SLOTS:
        error(f"--frames {frames}: frames x configurations ({len(args.c_nu)} --c-nu x "
              f"{len(args.snr_ap)} --snr-ap) x largest F is {size}, above "
              f"{MAX_FRAME_CONFIG_SLOTS} (about 4 kB of memory each)")
    return frames, f_max


# options of the SE curves alone, with the --stream option that plays their
# part in the streaming run (None: no counterpart)
CURVE_ONLY_OPTIONS = (("reading", "--reading", None), ("c_nu", "--c-nu", "--stream-c-nu"),
                      ("snr_ap", "--snr-ap", "--stream-sync-snr"), ("f_max", "--f-max", "--stream-F"),
                      ("N", "--N", "--stream-N"), ("quick", "--quick", None),
                      ("sensitivity", "--sensitivity", None))


def curve_options_given(args):
    """The SE-curve options of `args` set to something other than their
    default (--stream would ignore them), each with its --stream counterpart."""
    defaults = add_arguments(argparse.ArgumentParser())
    return [flag + (f" (use {alt})" if alt else "")
            for dest, flag, alt in CURVE_ONLY_OPTIONS
            if getattr(args, dest) != defaults.get_default(dest)]


def run(args, parser_error=None):
    """Entry point of `cohere reproduce tdd-kalman`; returns the exit code (1 when
    an acceptance check fails). parser_error: the parser's error, for the
    configuration errors (one line, exit 2)."""
    t0 = time.monotonic()
    error = parser_error or exit_error("cohere reproduce tdd-kalman")
    if getattr(args, "stream", False):
        from .reproduce_tdd_stream import run_stream

        if args.frames is not None:
            error("--frames sets the SE curves' Monte Carlo; with --stream use --stream-frames")
        ignored = curve_options_given(args)
        if ignored:
            error(f"{', '.join(ignored)}: options of the SE curves, not used with --stream "
                  "(the streaming run's options are --stream-*)")
        out_dir = args.out_dir or results_dir("tdd_kalman")
        json_path = args.json or os.path.join(out_dir, "tdd_stream.json")
        code = run_stream(args, out_dir, error, json_path)
        print(f"done in {time.monotonic() - t0:.1f} s")
        return code
    frames, f_max = check_curve_options(args, error)
    F_values = list(range(1, f_max + 1))
    readings = ["paper", "simple"] if args.reading == "both" else [args.reading]
    out_dir = args.out_dir or results_dir("tdd_kalman")
    json_path = args.json or os.path.join(out_dir, "tdd_kalman.json")
    check_output(error, out_dir, [("--json", json_path)])

    print(f"broken-TDD Kalman phase sync: N = {args.N}, F = 1..{f_max}, {frames} frames, "
          f"seed {args.seed}, readings: {', '.join(readings)}")
    curves = compute_curves(readings, args.c_nu, args.snr_ap, F_values, frames, args.seed,
                            N=args.N)
    print_tables(curves, readings, args.c_nu, args.snr_ap)
    mse_rows = one_way_mse_check(args.seed)
    print("\none-way estimate MSE at rho ||G||_op^2 = 30 dB vs 1 / (2 rho ||G||_op^2):")
    for r in mse_rows:
        print(f"  N = {r['N']:>2d}: 2->1 {r['db_2to1']:+.2f} dB, 1->2 {r['db_1to2']:+.2f} dB")

    summary = {"config": {"frames": frames, "seed": args.seed, "F": F_values, "N": args.N,
                          "c_nu": args.c_nu, "snr_ap_db": args.snr_ap, "readings": readings,
                          "quick": bool(args.quick)},
               "one_way_mse": mse_rows}
    print("\nbest F with Kalman (paper: 2 for c_nu = 5e-18, 1 for 1.58e-17):")
    for name in readings:
        best = {f"{c['c_nu']:g}/{c['snr_ap_db']:g} dB": c["best_F"] for c in curves
                if c["reading"] == name and c["method"] == "kalman"}
        print(f"  {name:<7} " + ", ".join(f"{k}: {v}" for k, v in best.items()))
    failed = []
    if "paper" in readings:
        acc = acceptance(curves, mse_rows, "paper")
        failed = [k for k, r in acc.items() if not r["pass"]]
        summary["acceptance"] = acc
        print("\nacceptance (reading 'paper'):")
        for k, r in acc.items():
            r["text"] = _acceptance_text(k, r, args.quick)
            print(f"  [{'PASS' if r['pass'] else 'FAIL'}] {k}: {r['text']}")
    if args.sensitivity:
        rows = sensitivity(args.c_nu, args.snr_ap, frames, args.seed, N=args.N)
        summary["sensitivity"] = rows
        print("\nsensitivity: best F with Kalman (F = 1..4) changing one assumption")
        for r in rows:
            print(f"  {r['label']:<48} " + ", ".join(f"{k}: {v}" for k, v in r["best_F"].items()))

    with open(json_path, "w") as f:
        json.dump(curves, f, indent=1)
    summary_path = os.path.join(out_dir, "tdd_kalman_summary.json")
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=1)
    print(f"\nwrote {json_path}\nwrote {summary_path}")
    if not args.no_plot:
        for path in plot(out_dir, curves, readings, args.c_nu, args.snr_ap):
            print(f"wrote {path}")
    if failed:
        print(f"FAILED: acceptance check{'s' if len(failed) > 1 else ''} {', '.join(failed)}")
    print(f"done in {time.monotonic() - t0:.1f} s")
    return 1 if failed else 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="cohere reproduce tdd-kalman", description=__doc__)
    add_arguments(p)
    return run(p.parse_args(argv), p.error)


if __name__ == "__main__":
    sys.exit(main())
