# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase-coded pilots (Sahin): closed forms (8)-(13) next to a Monte Carlo of the four steps.

Default mode: the 10 items of the reproduce list in docs/papers/pcp-oac.md.
For each item the table shows what the paper states, the closed form
(gnuradio.cohere.algorithms.pcp: (8)-(13), the schedule and the rates), a
symbol-level Monte Carlo of the literal four steps (noisy pilots, exact angles,
per-node random CFO / PO / channel phases / Rayleigh speed and angle) and
whether the closed form matches the digest's derived value within the
acceptance tolerance (0.1 deg, 0.5 percentage points, 1 symbol; item 8: exact
to 1e-9 rad; item 10: Monte Carlo within 0.5 deg of (12) at 30 dB).
Writes a JSON list of {"id", "paper", "closed_form", "simulated", ...} and
Fig. 4/5/6-style PNGs (rate vs M; RMSE vs symbol index for K = 5 and 20; CDF
of the absolute phase deviation at m = 20 and 100).

Point mode (--point): one configuration, printing and writing
{"rmse_deg_closed_form", "rmse_deg_closed_form_wrapped", "rmse_deg_simulated",
"p_exceed_15deg_closed_form", "p_exceed_15deg_closed_form_wrapped",
"p_exceed_15deg_simulated"} (probabilities as fractions, not percent).

Worst node k = 1, reversed schedule, Rayleigh mobility (11) unless stated.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

from gnuradio.cohere.algorithms import pcp
from .common import (HelpFormatter, check_output, exit_error, nonnegative_float, positive_int,
                     results_dir, snr_db)

__all__ = ["add_arguments", "run", "main", "compute_items", "point"]

HIGH = (30.0, 30.0)  # (SNR@UE, SNR@BS) dB
LOW = (20.0, 10.0)
CFO_VARS = (100.0, 1000.0)  # Hz^2
SPEEDS = (0.1, 1.5)  # vbar, m/s
THRESH_RMSE_DEG = 20.0  # coherence-length threshold of Sec. IV
THRESH_P_DEG = 15.0  # Pr(|err| > 15 deg) of Fig. 6
FIG5_M_MAX = 250
FIG5_M_MC = np.arange(0, FIG5_M_MAX + 1, 25)
ITEM10_M = (0, 25, 50, 75, 100)  # RMSE <= 23 deg there: wrapping to +-180 deg is negligible
DEFAULT_TRIALS = 100000
# memory bounds of the Monte Carlo (measured peak: about 2.5 kB per trial for
# the 10 items, 150 bytes per trial with --point)
MAX_TRIALS = 10 ** 6
MAX_TRIALS_POINT = 10 ** 7
MAX_K = 10 ** 6          # --point: the schedule holds every node's times

# tolerances of the acceptance criteria
TOL_DEG = 0.1
TOL_PCT = 0.5
TOL_SYMBOLS = 1
TOL_EXACT_RAD = 1e-9
TOL_MC_DEG = 0.5
TOL_RATE = 0.001


def _snr_name(snr):
    return "high SNR (UE %g / BS %g dB)" % snr if snr == HIGH else "low SNR (UE %g / BS %g dB)" % snr


# ----------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """Keep the description's layout and show defaults (not None or flags)."""


def add_arguments(parser):
    """Add the options of `cohere reproduce pcp` to `parser`."""
    parser.formatter_class = _HelpFormatter
    g = parser.add_argument_group("Monte Carlo")
    g.add_argument("--trials", type=positive_int, default=DEFAULT_TRIALS,
                   help=f"Monte Carlo trials per configuration (accepts 4e4), at most "
                   f"{MAX_TRIALS:g} ({MAX_TRIALS_POINT:g} with --point)")
    g.add_argument("--seed", type=int, default=1, help="seed of every random draw")
    p = parser.add_argument_group("single point (--point)")
    p.add_argument("--point", action="store_true",
                   help="evaluate one configuration instead of the 10 items")
    p.add_argument("--K", type=positive_int, default=5,
                   help=f"number of nodes K (at most {MAX_K:g})")
    p.add_argument("--m", type=int, default=0, help="OFDM symbol index m (>= 0)")
    p.add_argument("--snr-ue", type=snr_db, default=30.0, metavar="DB",
                   help="SNR at the nodes, 1/sigma_UE^2 (dB), -100..100")
    p.add_argument("--snr-bs", type=snr_db, default=30.0, metavar="DB",
                   help="SNR at the BS, 1/sigma_BS^2 (dB), -100..100")
    p.add_argument("--var-cfo", type=nonnegative_float, default=100.0, metavar="HZ2",
                   help="residual CFO variance sigma_cfo^2 (Hz^2)")
    p.add_argument("--vbar", type=nonnegative_float, default=0.1, metavar="MPS",
                   help="mean speed of the Rayleigh speed model (11), or the fixed "
                   "speed with --speed-model fixed (10) (m/s)")
    p.add_argument("--speed-model", choices=("rayleigh", "fixed"), default="rayleigh",
                   help="mobility model: Rayleigh speed (11) or fixed speed (10)")
    p.add_argument("--node", type=positive_int, default=1, metavar="k",
                   help="node index k in 1..K (k = 1 is the worst node)")
    p.add_argument("--order", choices=pcp.ORDERS, default="reversed",
                   help="feedback order of the schedule")
    o = parser.add_argument_group("output")
    o.add_argument("--out-dir", default=None,
                   help="directory for the PNGs and JSON (default: "
                   "$COHERE_BUILD_DIR/results/reproduce_pcp, or ./results/reproduce_pcp)")
    o.add_argument("--json", default=None, metavar="FILE",
                   help="JSON results file (default: OUT_DIR/reproduce_pcp.json, "
                   "or OUT_DIR/reproduce_pcp_point.json with --point)")
    o.add_argument("--no-plot", action="store_true", help="skip the PNGs")
    return parser



def _rng(seed, tag):
    """Independent generator per experiment, reproducible for a given --seed."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(tag)])


# ----------------------------------------------------------------------------
# experiments
# ----------------------------------------------------------------------------

def _configs():
    for snr in (HIGH, LOW):
        for vc in CFO_VARS:
            for v in SPEEDS:
                yield snr, vc, v


def fig5_data(trials, seed):
    """RMSE vs m for k = 1, K in {5, 20}, 8 configurations: closed form (12) on
    every m, Monte Carlo at FIG5_M_MC (same draws for every m)."""
    m_line = np.arange(0, FIG5_M_MAX + 1)
    out = []
    for ik, K in enumerate((5, 20)):
        for ic, (snr, vc, v) in enumerate(_configs()):
            err = pcp.simulate_four_steps(K, FIG5_M_MC, vc, snr[0], snr[1], v, trials=trials,
                                          nodes=[1], rng=_rng(seed, 100 + 10 * ik + ic))
            out.append({
                "K": K, "snr": snr, "var_cfo": vc, "vbar": v,
                "m_line": m_line,
                "rmse_cf_deg": pcp.rmse_deg(K, 1, m_line, vc, snr[0], snr[1], v),
                "m_mc": FIG5_M_MC,
                "rmse_mc_deg": np.degrees(pcp.rmse_of(err[:, 0, :])),
            })
    return out


def fig6_data(trials, seed):
    """|phase deviation| at m = 20 and 100, K = 20, k = 1, 8 configurations:
    Monte Carlo samples and sigma_err of (12) for (13)."""
    out = []
    for ic, (snr, vc, v) in enumerate(_configs()):
        err = pcp.simulate_four_steps(20, [20, 100], vc, snr[0], snr[1], v, trials=trials,
                                      nodes=[1], rng=_rng(seed, 200 + ic))
        for j, m in enumerate((20, 100)):
            out.append({
                "K": 20, "m": m, "snr": snr, "var_cfo": vc, "vbar": v,
                "abs_err_deg": np.degrees(np.abs(err[:, 0, j])),
                "sigma_deg": float(pcp.rmse_deg(20, 1, m, vc, snr[0], snr[1], v)),
            })
    return out


def _find(rows, **kw):
    for r in rows:
        if all(r[k] == v for k, v in kw.items()):
            return r
    raise KeyError(kw)


def _p_exceed_cf_pct(sigma_deg):
    return 100.0 * float(pcp.prob_exceed(THRESH_P_DEG, sigma_deg))


def _p_exceed_mc_pct(abs_err_deg):
    return 100.0 * float(np.mean(abs_err_deg > THRESH_P_DEG))


def _coherence_mc(K, vc, snr, v, trials, seed, tag, cf):
    """Last m with Monte Carlo RMSE <= 20 deg (same draws for every m)."""
    m = np.arange(0, int(1.5 * cf) + 30)
    # the RMSE grows with m; split the m range to bound the memory
    rm = []
    rng = _rng(seed, tag)
    draws_seed = int(rng.integers(2 ** 31))
    for chunk in np.array_split(m, max(1, len(m) // 60)):
        err = pcp.simulate_four_steps(K, chunk, vc, snr[0], snr[1], v, trials=trials,
                                      nodes=[1], rng=draws_seed)
        rm.append(np.degrees(pcp.rmse_of(err[:, 0, :])))
    rm = np.concatenate(rm)
    over = np.nonzero(rm > THRESH_RMSE_DEG)[0]
    return int(m[over[0]] - 1) if over.size else int(m[-1])


def item8_exact(seed, trials=2000):
    """Noise-free, mobility-free four steps: max |error| at m = 0 (rad) for the
    reversed schedule, K in {1, 5, 20}, all nodes, CFO ~ N(0, (1 kHz)^2),
    random PO, channel phases, data phases and theta_des; plus the naive
    schedule for contrast and the m > 0 check error = wrap(-2 pi Df m Ts)."""
    res = {"reversed_max_abs_err_rad_m0": 0.0, "naive_max_abs_err_rad_m0": {},
           "reversed_m_gt0_max_dev_from_2pi_df_m_ts_rad": 0.0}
    rng = _rng(seed, 800)
    for K in (1, 5, 20):
        params = pcp.PAPER.replace(theta_des=float(rng.uniform(-math.pi, math.pi)))
        m = np.array([0, 1, 7, 50])
        err, draws = pcp.simulate_four_steps(K, m, 1e6, None, None, 0.0, trials=trials,
                                             params=params, rng=rng, return_draws=True)
        res["reversed_max_abs_err_rad_m0"] = max(res["reversed_max_abs_err_rad_m0"],
                                                 float(np.max(np.abs(err[..., 0]))))
        expect = -2.0 * math.pi * draws["cfo"][..., None] * m[None, None, :] * params.ts
        dev = float(np.max(np.abs(pcp.wrap(err - expect))))
        res["reversed_m_gt0_max_dev_from_2pi_df_m_ts_rad"] = max(
            res["reversed_m_gt0_max_dev_from_2pi_df_m_ts_rad"], dev)
        errn = pcp.simulate_four_steps(K, 0, 1e6, None, None, 0.0, trials=trials,
                                       params=params, rng=rng, order="naive")
        res["naive_max_abs_err_rad_m0"][str(K)] = float(np.max(np.abs(errn)))
    return res


def item9_rates():
    """Closed-form rates and the same rates from the explicit packet timeline."""
    P = pcp.PAPER
    cf = {"R_oac_limit": float(pcp.rate_oac_limit(P)),
          "R_oac_K20_M10": float(pcp.rate_oac(20, 10, P)),
          "R_trad_K20": float(pcp.rate_traditional(20, Q=8, r_eff=4.0))}

    def timeline_rate(K, M):
        ev = pcp.timeline(K, M, P)
        return M * P.t_ofdm / (ev[-1]["end"] - ev[0]["start"])

    sim = {"R_oac_limit": float(timeline_rate(20, 200000)),
           "R_oac_K20_M10": float(timeline_rate(20, 10)),
           # communicate-then-compute: K nodes send M parameters of Q bits each at
           # r_eff bits/(s Hz): M Q K / r_eff seconds per Hz for M functions
           "R_trad_K20": float(10 / (10 * 8 * 20 / 4.0))}
    return cf, sim


def compute_items(trials, seed, verbose=False):
    """Evaluate the 10 items; returns (items, fig5, fig6)."""
    P = pcp.PAPER
    t0 = time.monotonic()
    f5 = fig5_data(trials, seed)
    f6 = fig6_data(trials, seed)
    if verbose:
        print(f"  Fig. 5 / Fig. 6 Monte Carlo: {time.monotonic() - t0:.1f} s", flush=True)
    items = []

    def add(id_, label, desc, unit, paper, paper_text, digest, cf, sim, tol, ok, **extra):
        d = {"id": id_, "label": label, "description": desc, "unit": unit, "paper": paper,
             "paper_text": paper_text, "digest": digest, "closed_form": cf,
             "simulated": sim, "tolerance": tol, "pass": bool(ok)}
        d.update(extra)
        items.append(d)

    # 1, 2: noise floors at m = 0, K = 5, sigma_cfo^2 = 100, vbar = 0.1
    r = _find(f5, K=5, snr=HIGH, var_cfo=100.0, vbar=0.1)
    cf1 = float(r["rmse_cf_deg"][0])
    add(1, "RMSE floor, 30/30 dB, K=5, m=0",
        "RMSE (12) of node k=1, SNR 30/30 dB, K=5, m=0, var_cfo=100 Hz^2, vbar=0.1 m/s", "deg",
        3.0, "minimum RMSE is about 3 deg for the high-SNR configurations", 2.22,
        cf1, float(r["rmse_mc_deg"][0]), TOL_DEG, abs(cf1 - 2.22) <= TOL_DEG)
    r = _find(f5, K=5, snr=LOW, var_cfo=100.0, vbar=0.1)
    cf2 = float(r["rmse_cf_deg"][0])
    exact2 = float(np.degrees(pcp.sigma_err_exact_angle(5, 1, 0, 100.0, *LOW, 0.1)))
    add(2, "RMSE floor, UE 20 / BS 10 dB, K=5, m=0",
        "RMSE (12) of node k=1, SNR UE 20 / BS 10 dB, K=5, m=0, var_cfo=100 Hz^2, vbar=0.1 m/s",
        "deg",
        15.0, "it increases to 15 deg for the low-SNR configurations", 14.0,
        cf2, float(r["rmse_mc_deg"][0]), TOL_DEG, abs(cf2 - 14.0) <= TOL_DEG,
        closed_form_exact_angle=exact2,
        note="(9) is a small-angle approximation; the exact per-pilot phase variance "
             "gives closed_form_exact_angle, which the Monte Carlo follows "
             "(digest: exact-angle Monte Carlo 14.45 deg)")

    # 3, 4: coherence length; the digest's 84 / 207 need vbar = 1.5 (vbar = 0.1: 93 / 293)
    thr = math.radians(THRESH_RMSE_DEG)
    t1 = time.monotonic()
    for id_, vc, paper, digest in ((3, 1000.0, 80, 84), (4, 100.0, 200, 207)):
        cf = pcp.coherence_length(thr, 20, 1, vc, *HIGH, 1.5)
        sim = _coherence_mc(20, vc, HIGH, 1.5, max(2000, trials // 2), seed, 300 + id_, cf)
        alt = pcp.coherence_length(thr, 20, 1, vc, *HIGH, 0.1)
        add(id_, f"last m with RMSE<=20 deg, var_cfo={vc:g}",
            f"coherence length: last m with RMSE (12) <= 20 deg, node k=1, K=20, SNR 30/30 dB, "
            f"var_cfo={vc:g} Hz^2, vbar=1.5 m/s", "symbols", paper,
            f"M = {paper} OFDM symbols can be used (20 deg max tolerable RMSE)", digest,
            cf, sim, TOL_SYMBOLS, abs(cf - digest) <= TOL_SYMBOLS,
            closed_form_vbar_0p1=alt,
            note="the digest's value is reproduced with vbar = 1.5 m/s (the worst "
                 "mobility of Fig. 5); vbar = 0.1 gives closed_form_vbar_0p1")
    if verbose:
        print(f"  coherence-length Monte Carlo: {time.monotonic() - t1:.1f} s", flush=True)

    # 5, 6, 7: Pr(|err| > 15 deg), K = 20
    def pe_rows(m, snr):
        rows = [_find(f6, m=m, snr=snr, var_cfo=vc, vbar=v) for vc in CFO_VARS for v in SPEEDS]
        return ([_p_exceed_cf_pct(r["sigma_deg"]) for r in rows],
                [_p_exceed_mc_pct(r["abs_err_deg"]) for r in rows],
                [{"var_cfo": r["var_cfo"], "vbar": r["vbar"]} for r in rows])

    cf, mc, cfgs = pe_rows(20, HIGH)
    i = int(np.argmax(cf))
    add(5, "Pr(|err|>15deg), m=20, 30/30 dB, worst cfg",
        "Pr(|err| > 15 deg) (13), node k=1, K=20, m=20, SNR 30/30 dB: max over "
        "var_cfo in {100, 1000} x vbar in {0.1, 1.5}", "%",
        5.0, "for all high-SNR configurations, Pr(|err| > 15 deg) is 5%", 3.1,
        cf[i], mc[i], TOL_PCT, abs(cf[i] - 3.1) <= TOL_PCT,
        configs=cfgs, closed_form_all=cf, simulated_all=mc)
    cf, mc, cfgs = pe_rows(20, LOW)
    rng_cf, rng_mc = [min(cf), max(cf)], [min(mc), max(mc)]
    add(6, "Pr(|err|>15deg), m=20, 20/10 dB, range",
        "Pr(|err| > 15 deg) (13), node k=1, K=20, m=20, SNR UE 20 / BS 10 dB: [min, max] over "
        "var_cfo in {100, 1000} x vbar in {0.1, 1.5}", "%",
        30.0, "it increases to 30% for all low-SNR configurations", [28.8, 33.3],
        rng_cf, rng_mc, TOL_PCT,
        abs(rng_cf[0] - 28.8) <= TOL_PCT and abs(rng_cf[1] - 33.3) <= TOL_PCT,
        configs=cfgs, closed_form_all=cf, simulated_all=mc)
    r = _find(f6, m=100, snr=HIGH, var_cfo=1000.0, vbar=1.5)
    cf7, mc7 = _p_exceed_cf_pct(r["sigma_deg"]), _p_exceed_mc_pct(r["abs_err_deg"])
    add(7, "Pr(|err|>15deg), m=100, cfo 1000, vbar 1.5",
        "Pr(|err| > 15 deg) (13), node k=1, K=20, m=100, SNR 30/30 dB, var_cfo=1000 Hz^2, "
        "vbar=1.5 m/s", "%",
        50.0, "the probability increases to 50% for the 100th OFDM symbol", 51.8,
        cf7, mc7, TOL_PCT, abs(cf7 - 51.8) <= TOL_PCT)

    # 8: exactness of the reversed schedule without noise and mobility
    r8 = item8_exact(seed)
    sim8 = r8["reversed_max_abs_err_rad_m0"]
    ok8 = (sim8 <= TOL_EXACT_RAD
           and r8["reversed_m_gt0_max_dev_from_2pi_df_m_ts_rad"] <= TOL_EXACT_RAD)
    add(8, "noise/mobility-free max|err| at m=0",
        "four steps without noise and mobility, random CFO (std 1 kHz), PO, channel and "
        "data phases, theta_des; K in {1, 5, 20}, all nodes: max |err| at m=0", "rad",
        0.0, "identical time difference for all nodes, eliminating the impact of the "
        "residual CFOs of all nodes on the first OAC symbol", 0.0,
        0.0, sim8, TOL_EXACT_RAD, ok8, details=r8)

    # 9: computation rates (Q = 8, r_eff = 4)
    cf9, sim9 = item9_rates()
    digest9 = {"R_oac_limit": 0.889, "R_oac_K20_M10": 0.166, "R_trad_K20": 0.025}
    ok9 = all(abs(cf9[k] - digest9[k]) <= TOL_RATE for k in digest9)
    add(9, "R_OAC(M->inf) / R_OAC(20,10) / R_trad(20)",
        "computation rates, Q=8, r_eff=4: R_OAC for M -> inf, R_OAC(K=20, M=10), R_trad(K=20)",
        "functions/(s Hz)", None,
        "Fig. 4: OAC rate notably larger than communicate-then-compute, grows with M",
        digest9, cf9, sim9, TOL_RATE, ok9,
        note="simulated: M Tofdm / (end of the last OAC symbol - start of the request) "
             "from the explicit packet timeline; R_oac_limit at M = 200000")

    # 10: Monte Carlo vs (12) at 30 dB over the Fig. 5 grid (m <= 100)
    pts, worst = [], 0.0
    for r in f5:
        if r["snr"] != HIGH:
            continue
        for j, m in enumerate(r["m_mc"]):
            if m not in ITEM10_M:
                continue
            cfv = float(r["rmse_cf_deg"][m])
            mcv = float(r["rmse_mc_deg"][j])
            pts.append({"K": r["K"], "m": int(m), "var_cfo": r["var_cfo"], "vbar": r["vbar"],
                        "closed_form_deg": cfv, "simulated_deg": mcv,
                        "stat_std_deg": cfv / math.sqrt(2.0 * trials)})
            worst = max(worst, abs(mcv - cfv))
    add(10, "max|RMSE MC - (12)| at 30 dB (40 points)",
        "max |RMSE_MonteCarlo - RMSE_(12)|, SNR 30/30 dB, K in {5, 20}, m in {0, 25, 50, 75, "
        "100}, var_cfo in {100, 1000} x vbar in {0.1, 1.5}",
        "deg", None, "Fig. 5: simulation markers on the theory lines (12)", TOL_MC_DEG,
        0.0, worst, TOL_MC_DEG, worst <= TOL_MC_DEG, points=pts,
        note="stat_std_deg = RMSE / sqrt(2 trials), the standard error of an RMSE "
             "estimate of Gaussian errors")
    return items, f5, f6


# ----------------------------------------------------------------------------
# output
# ----------------------------------------------------------------------------

def _fmt(value, unit):
    if value is None:
        return "-"
    if isinstance(value, dict):
        return "/".join(_fmt(v, unit) for v in value.values())
    if isinstance(value, (list, tuple)):
        return "-".join(_fmt(v, unit) for v in value)
    if unit == "rad":
        return "0" if value == 0 else f"{value:.1e}"
    if unit == "symbols":
        return f"{value:g}"
    if unit == "functions/(s Hz)":
        return f"{value:.3f}"
    if unit == "%":
        return f"{value:.1f}"
    return f"{value:.2f}"


def print_table(items):
    head = (f"{'id':>2}  {'item':<44} {'unit':<6} {'paper':>8} {'digest':>17} "
            f"{'closed form':>17} {'simulated':>17}  pass")
    print(head)
    print("-" * len(head))
    for d in items:
        unit = d["unit"]
        u = "f/sHz" if unit == "functions/(s Hz)" else unit
        print(f"{d['id']:>2}  {d['label']:<44} {u:<6} {_fmt(d['paper'], unit):>8} "
              f"{_fmt(d['digest'], unit):>17} {_fmt(d['closed_form'], unit):>17} "
              f"{_fmt(d['simulated'], unit):>17}  {'PASS' if d['pass'] else 'FAIL'}")


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    return x


_COLORS = {(100.0, 0.1): "C0", (100.0, 1.5): "C1", (1000.0, 0.1): "C2", (1000.0, 1.5): "C3"}


def plot_fig5(path, f5, trials):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(14, 7.3), sharey=True)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.90, bottom=0.27, wspace=0.06)
    for ax, K, tag in zip(axes, (5, 20), ("a", "b")):
        for r in f5:
            if r["K"] != K:
                continue
            c = _COLORS[(r["var_cfo"], r["vbar"])]
            ls = "-" if r["snr"] == HIGH else "--"
            snr = "SNR 30/30 dB" if r["snr"] == HIGH else "SNR UE 20 / BS 10 dB"
            ax.plot(r["m_line"], r["rmse_cf_deg"], ls=ls, color=c, lw=1.4,
                    label=f"{snr}, $\\sigma_{{cfo}}^2$ = {r['var_cfo']:g} Hz$^2$, "
                    f"$\\bar v$ = {r['vbar']:g} m/s")
            ax.plot(r["m_mc"], r["rmse_mc_deg"], "x", color=c, ms=7, mew=1.5)
        ax.axhline(THRESH_RMSE_DEG, color="k", lw=0.8, ls=":")
        ax.text(2, THRESH_RMSE_DEG + 0.8, "20 deg", fontsize=9)
        ax.set_title(f"({tag}) K = {K} nodes, worst node k = 1")
        ax.set_xlabel("OFDM symbol index m")
        ax.grid(alpha=0.3)
        ax.set_xlim(0, FIG5_M_MAX)
        ax.set_ylim(0, 60)
    axes[0].set_ylabel("RMSE of the phase deviation (deg)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.005), ncol=2, fontsize=9, frameon=False,
               title="lines: theory (12); x: literal four-step Monte Carlo "
               f"({trials} trials per configuration)", title_fontsize=9)
    fig.suptitle("Fig. 5 style: RMSE of the phase deviation vs OFDM symbol index "
                 "(reversed schedule, Rayleigh mobility (11), fc 1.8 GHz, Ts = Tp = 18.75 us)",
                 fontsize=11)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_fig6(path, f6, trials):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.linspace(0.0, 90.0, 361)
    xm = np.arange(0.0, 91.0, 5.0)
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.8), constrained_layout=True, sharey=True)
    for ax, m, tag in zip(axes, (20, 100), ("a", "b")):
        for r in f6:
            if r["m"] != m:
                continue
            c = _COLORS[(r["var_cfo"], r["vbar"])]
            ls = "-" if r["snr"] == HIGH else "--"
            snr = "high" if r["snr"] == HIGH else "low"
            s = np.sort(r["abs_err_deg"])
            ecdf = np.searchsorted(s, x, side="right") / len(s)
            ax.plot(x, ecdf, ls=ls, color=c, lw=1.4,
                    label=f"{snr} SNR, $\\sigma_{{cfo}}^2$={r['var_cfo']:g}, "
                    f"$\\bar v$={r['vbar']:g}")
            ax.plot(xm, pcp.prob_within(xm, r["sigma_deg"]), "x", color=c, ms=6, mew=1.3)
        ax.axvline(THRESH_P_DEG, color="k", lw=0.8, ls=":")
        ax.text(THRESH_P_DEG + 1, 0.03, "15 deg", fontsize=9)
        ax.set_title(f"({tag}) m = {m}, K = 20 nodes, worst node k = 1")
        ax.set_xlabel("absolute phase deviation |error| (deg)")
        ax.set_xlim(0, 90)
        ax.set_ylim(0, 1.01)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("CDF  Pr(|error| <= x)")
    axes[1].legend(fontsize=8.5, loc="lower right",
                   title=f"lines: Monte Carlo ({trials} trials)\nx: theory (13)",
                   title_fontsize=8.5)
    fig.suptitle("Fig. 6 style: CDF of the absolute phase deviation "
                 "(reversed schedule, Rayleigh mobility (11))", fontsize=11)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_fig4(path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    M = np.unique(np.round(np.logspace(0, 4, 200)).astype(int))
    fig, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    for i, K in enumerate((5, 10, 20)):
        ax.semilogx(M, pcp.rate_oac(K, M), color=f"C{i}", label=f"OAC with PCP, K = {K}")
        ax.axhline(float(pcp.rate_traditional(K)), color=f"C{i}", ls="--", lw=1,
                   label=f"communicate-then-compute, K = {K}")
    ax.axhline(pcp.rate_oac_limit(), color="k", ls=":", lw=1, label="Tofdm / Ts = 0.889")
    ax.set_xlabel("number of OFDM symbols M for OAC")
    ax.set_ylabel("computation rate (functions / (s Hz))")
    ax.set_title("Fig. 4 style: computation rate (Q = 8 bits, r_eff = 4 bits/(s Hz))",
                 fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------
# run
# ----------------------------------------------------------------------------

def point(K, m, snr_ue, snr_bs, var_cfo, vbar, node, trials, seed,
          speed_model="rayleigh", order="reversed"):
    """Closed form and Monte Carlo at one configuration (probabilities as fractions)."""
    sig = float(pcp.sigma_err(K, node, m, var_cfo, snr_ue, snr_bs, vbar, speed_model,
                              order=order))
    err = pcp.simulate_four_steps(K, m, var_cfo, snr_ue, snr_bs, vbar, speed_model,
                                  trials=trials, nodes=[node], order=order,
                                  rng=_rng(seed, 900))[:, 0, 0]
    th = math.radians(THRESH_P_DEG)
    return {
        "rmse_deg_closed_form": math.degrees(sig),
        "rmse_deg_closed_form_wrapped": math.degrees(pcp.rmse_wrapped(sig)),
        "rmse_deg_simulated": math.degrees(float(pcp.rmse_of(err))),
        "p_exceed_15deg_closed_form": float(pcp.prob_exceed(th, sig)),
        "p_exceed_15deg_closed_form_wrapped": float(pcp.prob_exceed_wrapped(th, sig)),
        "p_exceed_15deg_simulated": float(np.mean(np.abs(err) > th)),
    }


def _write_json(path, obj):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        json.dump(_jsonable(obj), f, indent=2)
    print(f"wrote {os.path.abspath(path)}")


def run_point(args, error):
    if args.trials > MAX_TRIALS_POINT:
        error(f"--trials {args.trials}: at most {MAX_TRIALS_POINT} with --point")
    if args.K > MAX_K:
        error(f"--K {args.K}: at most {MAX_K}")
    if args.node > args.K:
        error(f"--node must be in 1..K ({args.K}), got {args.node}")
    if args.m < 0:
        error(f"--m must be >= 0, got {args.m}")
    out_dir = args.out_dir or results_dir("reproduce_pcp")
    json_path = args.json or os.path.join(out_dir, "reproduce_pcp_point.json")
    check_output(error, files=[("--json" if args.json else "--out-dir", json_path)])
    res = point(args.K, args.m, args.snr_ue, args.snr_bs, args.var_cfo, args.vbar, args.node,
                args.trials, args.seed, args.speed_model, args.order)
    print(f"cohere reproduce pcp --point: K={args.K} m={args.m} node k={args.node} "
          f"SNR UE {args.snr_ue:g} dB / BS {args.snr_bs:g} dB, var_cfo {args.var_cfo:g} Hz^2, "
          f"{'vbar' if args.speed_model == 'rayleigh' else 'v'} {args.vbar:g} m/s "
          f"({args.speed_model}), {args.order} schedule, {args.trials} trials")
    print(f"  RMSE (deg):          closed form (12) {res['rmse_deg_closed_form']:8.3f}   "
          f"wrapped to +-180 {res['rmse_deg_closed_form_wrapped']:8.3f}   "
          f"simulated {res['rmse_deg_simulated']:8.3f}")
    print(f"  Pr(|err| > 15 deg):  closed form (13) {res['p_exceed_15deg_closed_form']:8.4f}   "
          f"wrapped to +-180 {res['p_exceed_15deg_closed_form_wrapped']:8.4f}   "
          f"simulated {res['p_exceed_15deg_simulated']:8.4f}")
    _write_json(json_path, res)
    return 0


def run_default(args, error):
    if args.trials > MAX_TRIALS:
        error(f"--trials {args.trials}: at most {MAX_TRIALS} for the 10 items "
              f"({MAX_TRIALS_POINT} with --point)")
    out_dir = args.out_dir or results_dir("reproduce_pcp")
    json_path = args.json or os.path.join(out_dir, "reproduce_pcp.json")
    check_output(error, out_dir, [("--json", json_path)])
    t0 = time.monotonic()
    print(f"cohere reproduce pcp: Sahin, phase-coded pilots; worst node k = 1, reversed "
          f"schedule, Rayleigh mobility (11); {args.trials} Monte Carlo trials, seed {args.seed}")
    items, f5, f6 = compute_items(args.trials, args.seed, verbose=True)
    print_table(items)
    n_pass = sum(d["pass"] for d in items)
    print(f"{n_pass}/{len(items)} pass (closed form vs the digest's derived value: 0.1 deg, "
          f"0.5 %-points, 1 symbol, 0.001 rate; item 8: simulated <= 1e-9 rad; item 10: "
          f"Monte Carlo within 0.5 deg of (12))")
    print(f"  item 2: exact-angle closed form {items[1]['closed_form_exact_angle']:.2f} deg "
          f"(the Monte Carlo has no small-angle approximation)")
    r8 = items[7]["details"]["naive_max_abs_err_rad_m0"]
    print("  item 8: naive same-order schedule, max |err| at m = 0: "
          + ", ".join(f"K={k}: {v:.2f} rad" for k, v in r8.items())
          + " (K = 1: both orders coincide)")
    _write_json(json_path, items)
    if not args.no_plot:
        paths = [os.path.join(out_dir, n) for n in
                 ("pcp_fig4_rate.png", "pcp_fig5_rmse.png", "pcp_fig6_cdf.png")]
        plot_fig4(paths[0])
        plot_fig5(paths[1], f5, args.trials)
        plot_fig6(paths[2], f6, args.trials)
        for p in paths:
            print(f"wrote {os.path.abspath(p)}")
    failed = [d["id"] for d in items if not d["pass"]]
    if failed:
        print(f"FAILED: item{'s' if len(failed) > 1 else ''} "
              f"{', '.join(map(str, failed))} outside the acceptance tolerance"
              + (" (item 10 is a Monte Carlo: more --trials shrink its spread)"
                 if 10 in failed else ""))
    print(f"total {time.monotonic() - t0:.1f} s")
    return 1 if failed else 0


def run(args, parser_error=None):
    """Entry point used by `cohere reproduce pcp`; returns the exit code.
    parser_error: the parser's error (configuration errors: one line, exit 2)."""
    error = parser_error or exit_error("cohere reproduce pcp")
    if args.point:
        return run_point(args, error)
    return run_default(args, error)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cohere reproduce pcp", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv), parser.error)


if __name__ == "__main__":
    sys.exit(main())
