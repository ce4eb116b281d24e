# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Broken-TDD phase synchronization model (gnuradio.cohere.algorithms.tdd_sync) and the
`cohere reproduce tdd-kalman` app: the issue's acceptance checks 1, 2 and 4.

Monte Carlo tests are seeded; each docstring states its tolerance and where it
comes from. The SE checks use the app's default reading ("paper") and the
paper's 1e4 frames.
"""

import json
import math

import numpy as np
import pytest

from gnuradio.cohere.algorithms import tdd_sync as T
from gnuradio.cohere.algorithms.kalman import wrap

from cohere_testing import run_app

SP = T.SystemParams()
CONFIGS = [(5e-18, -15.0), (5e-18, -20.0), (1.58e-17, -15.0), (1.58e-17, -20.0)]
PAPER_BEST_F = {5e-18: 2, 1.58e-17: 1}


# ----------------------------------------------------------------------------
# geometry and closed forms
# ----------------------------------------------------------------------------

def test_slot_geometry():
    """Paper's numbers: tau_u = 100 - 10 - 6 - 42 = 42, i1 = tau_p + tau_u = 52,
    i2 = i1 + tau_g + tau_d = 97 (10). Conventional slot: DL 56..97, demodulation
    pilot on 56, data 57..97 (41 samples). Shifted slot, AP 2's DL 52..93 (moved
    tau_s + tau_g = 4 earlier), sync on 52 (AP 2 -> AP 1) and 97 (AP 1 -> AP 2):
      'simple' (only the sync samples lost): AP 2 data 53..55 + 57..93 = 40,
          AP 1 data 57..96 = 40;
      'paper' (users keep the conventional slot): AP 2 data 57..93 = 37, AP 1 40;
      'joint': 37 each."""
    assert (SP.tau_u, SP.i1, SP.i2) == (42, 52, 97)
    conv, brk = T.schedules(SP, T.READINGS["paper"])
    assert conv.pilots == [(56, True, True)]
    assert list(conv.data_samples()) == list(range(57, 98))
    assert conv.a1.sum() == conv.a2.sum() == 41
    assert brk.sync21 == [52] and brk.sync12 == [97]
    assert brk.a2.sum() == 37 and brk.a1.sum() == 40
    assert list(np.flatnonzero(brk.a2) + 1) == list(range(57, 94))
    _, brk_s = T.schedules(SP, T.READINGS["simple"])
    assert brk_s.a2.sum() == 40 and brk_s.a1.sum() == 40
    assert list(np.flatnonzero(brk_s.a2) + 1)[:3] == [53, 54, 55]
    _, brk_j = T.schedules(SP, T.Reading("j", shifted_slot="joint"))
    assert brk_j.a1.sum() == brk_j.a2.sum() == 37


def test_shifted_pilot_references_the_users_to_ap2():
    """Reading.shifted_pilot: AP 2 sends a second demodulation pilot alone at
    its first DL data sample (i1 + 1 = 53), which stops being a data sample
    (AP 1's schedule is unchanged). A pilot from AP 2 alone gives the user
    psi = phi^(2) - theta2, so on the AP-2-only samples after it (54, 55)
    E[Delta_2] = exp(j(theta2 - nu2_k + psi - nu2_p)) = 1 exactly when the
    LO phases are constant, whatever theta2; without it those samples keep
    the previous slot's reference (psi = 0 here: E[Delta_2] = exp(j(theta2 -
    2 nu2)))."""
    rd = T.Reading("sp", shifted_slot="sync", shifted_pilot=True)
    _, plain = T.schedules(SP, T.READINGS["simple"])
    _, shifted = T.schedules(SP, rd)
    assert shifted.pilots == [(53, False, True), (56, True, True)]
    assert np.array_equal(shifted.a1, plain.a1)
    assert list(np.flatnonzero(plain.a2 & ~shifted.a2) + 1) == [53]
    assert shifted.a2.sum() == plain.a2.sum() - 1

    nu2_const, theta = 0.3, 1.0
    nu1 = np.zeros((1, SP.tau_c, 1))
    nu2 = np.full((1, SP.tau_c, 1), nu2_const)
    theta2 = np.full((1, 1, 1), theta)
    psi_prev = np.zeros((1, 1, 1, 1))
    for sched, expected in ((shifted, 1.0), (plain, np.exp(1j * (theta - 2 * nu2_const)))):
        samples, _, E2, _ = T._slot_expectations(nu1, nu2, sched, theta2, psi_prev, "ap1", 1)
        for p in (54, 55):
            j = int(np.flatnonzero(samples == p)[0])
            assert abs(E2[0, 0, j, 0] - expected) < 1e-6, (p, E2[0, 0, j, 0], expected)


def test_kalman_variances_formula():
    """sigma_nu^2 = 4 pi^2 fc^2 c_nu / fs = 3.948e-5 rad^2 for c_nu = 5e-18;
    sigma_zeta^2 = [8 F tau_c - 4 (i2 - 5)] sigma_nu^2 = 432 sigma_nu^2 at F = 1,
    1232 sigma_nu^2 at F = 2; sigma_xi^2 = 2 (i1 - 5) sigma_nu^2 = 94 sigma_nu^2.
    Exact arithmetic: rel 1e-12."""
    s2 = T.sigma_nu2(5e-18, SP)
    assert s2 == pytest.approx(4 * math.pi ** 2 * 4e18 * 5e-18 / 20e6, rel=1e-12)
    assert s2 == pytest.approx(3.9478e-5, rel=1e-4)
    assert T.kalman_variances(1, 5e-18, SP) == pytest.approx((432 * s2, 94 * s2), rel=1e-12)
    assert T.kalman_variances(2, 5e-18, SP)[0] == pytest.approx(1232 * s2, rel=1e-12)


def test_rate_26_without_phase_noise():
    """With E[Delta] = 1, (26) is the conjugate-beamforming rate of [12, eq. (24)]
    with K eta = 1: SINR = N rho eta gamma (a1 + a2)^2 / (rho beta (a1 + a2) + 1).
    Paper numbers: gamma = rho_UE K beta^2 / (rho_UE K beta + 1) = 0.1/11,
    rho_AP = 200: two APs 3.36 bit/s/Hz, one AP 2.29. Exact: rel 1e-12."""
    assert SP.gamma == pytest.approx(0.1 / 11, rel=1e-12)
    x = SP.N * SP.rho_ap * SP.eta * SP.gamma
    for a1, a2 in [(1, 1), (1, 0), (0, 1)]:
        sinr = x * (a1 + a2) ** 2 / (SP.rho_ap * SP.beta * (a1 + a2) + 1)
        assert T.rate_26(1.0, 1.0, a1, a2, SP) == pytest.approx(math.log2(1 + sinr), rel=1e-12)
    assert T.rate_26(1.0, 1.0, 1, 1, SP) == pytest.approx(3.36, abs=0.01)
    assert T.rate_26(1.0, 1.0, 1, 0, SP) == pytest.approx(2.29, abs=0.01)
    # a phase error on AP 2 lowers the rate, and a 180 degree error cancels the gain
    assert T.rate_26(1.0, 0.9, 1, 1, SP) < T.rate_26(1.0, 1.0, 1, 1, SP)
    assert T.rate_26(1.0, -1.0, 1, 1, SP) == pytest.approx(0.0, abs=1e-12)


def test_ap1_only_baseline_matches_closed_form():
    """AP-1-only baseline: E[Delta] = E[exp(-j(nu_p - nu_pd))] = exp(-sigma_nu^2 (p - p_d)/2).
    Monte Carlo with 4000 realizations: the phase spread is at most
    sigma_nu^2 * 41 = 5e-3 rad^2, so |E[Delta]| is estimated to ~1e-3 and the SE
    (about 0.93) to within 2e-4; tolerance 1e-3 absolute."""
    mc = T.ap1_only_se(CONFIGS, frames=4000, seed=5)
    th = T.ap1_only_se_theory(CONFIGS)
    assert mc == pytest.approx(th, abs=1e-3)
    assert 0.9 < th.min() and th.max() < 0.95


# ----------------------------------------------------------------------------
# acceptance 4: one-way estimate MSE
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("N", [1, 4, 64])
def test_one_way_mse_matches_theory(N):
    """Acceptance 4: each one-way estimate of (11)-(12) with u_2 = v_1 and
    x_1 = conj(u_1) has MSE 1 / (2 rho ||G||_op^2) at high SNR. One seeded G ~
    CN(0, I) per N, rho ||G||_op^2 = 30 dB, 20000 trials with uniform alphas.
    Tolerance: the acceptance's 1 dB; the expected deviation is far smaller
    (the angle of a complex Gaussian at SNR s has MSE (1/(2s))(1 + O(1/s)),
    0.004 dB at 30 dB, and the Monte Carlo relative std is sqrt(2/20000) = 1 %,
    0.04 dB), so 0.2 dB is also asserted. The difference alphabar of (13)
    estimates alpha12 - alpha21 with MSE 1 / (rho ||G||_op^2) (sum of two)."""
    rng = np.random.default_rng(100 + N)
    G = (rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))) / math.sqrt(2)
    s1 = np.linalg.norm(G, 2) ** 2
    rho = 1e3 / s1
    n = 20000
    a21 = rng.uniform(-np.pi, np.pi, n)
    a12 = rng.uniform(-np.pi, np.pi, n)
    e21, e12 = T.one_way_estimates(G, a21, a12, rho, rng)
    th = T.one_way_mse_theory(G, rho)
    assert th == pytest.approx(1 / (2 * 1e3))
    for e, a in ((e21, a21), (e12, a12)):
        db = 10 * math.log10(np.mean(wrap(e - a) ** 2) / th)
        assert abs(db) < 1.0
        assert abs(db) < 0.2
    mse_sum = np.mean(wrap((e12 - e21) - (a12 - a21)) ** 2)
    assert 10 * math.log10(mse_sum / (2 * th)) == pytest.approx(0.0, abs=0.2)
    # AP 1's beam conj(u_1) through G^T reaches the full ||G||_op
    x1, u2 = T.sync_vectors(G)
    assert np.linalg.norm(G.T @ x1) ** 2 == pytest.approx(s1, rel=1e-10)
    assert np.linalg.norm(G @ u2) ** 2 == pytest.approx(s1, rel=1e-10)


def test_one_way_literal_u1_loses_array_gain():
    """Read literally, the paper's x_1 = u_1 (leading left singular vector) sent
    through G^T has gain ||G^T u_1||^2 ~ N (no array gain for i.i.d. G) instead
    of ||G||_op^2 ~ 4N: for N = 64 the AP 1 -> AP 2 MSE is > 3 dB above
    1/(2 rho ||G||_op^2) (about 6 dB expected), while AP 2 -> AP 1 is unaffected
    (within 0.2 dB, as above)."""
    rng = np.random.default_rng(7)
    N = 64
    G = (rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))) / math.sqrt(2)
    rho = 1e3 / np.linalg.norm(G, 2) ** 2
    a = rng.uniform(-np.pi, np.pi, 20000)
    e21, e12 = T.one_way_estimates(G, a, a, rho, rng, literal_u1=True)
    th = T.one_way_mse_theory(G, rho)
    assert 10 * math.log10(np.mean(wrap(e12 - a) ** 2) / th) > 3.0
    assert abs(10 * math.log10(np.mean(wrap(e21 - a) ** 2) / th)) < 0.2


def test_common_phase_of_G_cancels():
    """The paper's remark: the APs need G only up to a common phase. With
    Gk = exp(j 0.7) G known instead of G, each one-way estimate is biased by
    -0.7 rad, and the difference (13) is unbiased. Mean of 5000 trials at 30 dB:
    std of the mean sqrt(1/(2000 * 5000)) = 3e-4 rad; tolerance 5e-3 rad."""
    rng = np.random.default_rng(8)
    N = 4
    G = (rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))) / math.sqrt(2)
    rho = 1e3 / np.linalg.norm(G, 2) ** 2
    a21 = rng.uniform(-np.pi, np.pi, 5000)
    a12 = rng.uniform(-np.pi, np.pi, 5000)
    e21, e12 = T.one_way_estimates(G, a21, a12, rho, rng, G_known=np.exp(0.7j) * G)
    assert np.mean(wrap(e21 - a21)) == pytest.approx(-0.7, abs=5e-3)
    assert np.mean(wrap(e12 - a12)) == pytest.approx(-0.7, abs=5e-3)
    assert np.mean(wrap((e12 - e21) - (a12 - a21))) == pytest.approx(0.0, abs=5e-3)


# ----------------------------------------------------------------------------
# the simulated sync geometry against the Kalman model
# ----------------------------------------------------------------------------

def test_simulated_errors_match_the_kalman_model():
    """In the frame simulation (default reading: alphabar follows (16)), the
    direct estimate's error alphabar_n - alpha_n is xi_n + mu_n: its variance is
    sigma_xi^2 + sigma_mu^2, which checks the simulated sync samples i1, i2 and
    the reference [i2]_{K/2} against the paper's sigma_xi^2 = 2 (i1 - 5) sigma_nu^2.
    The Kalman a-posteriori error variance is P_n - sigma_zeta^2 at F = 5
    (within 15 %). At F = 1 it is larger (> 10 %): the physical drift xi_n on
    [[i2]_{K/2}, i1] is also part of zeta_{n+1} (the [i]_{K/2} term of alpha
    moves by a whole frame), a correlation that (15)-(16) leave out.
    3000 realizations x ~20 frames pooled: variance estimates to ~1 %
    (correlated frames: a few %); tolerances 5 % / 15 %."""
    out, d = T.simulate_se(5, CONFIGS, frames=3000, seed=2, return_details=True)
    expected = d["sigma_xi2"] + d["sigma_mu2_mean"]
    assert d["error_var"]["direct"] == pytest.approx(expected, rel=0.05)
    P_post = (d["kalman_P_steady"] - d["sigma_zeta2"][:, None]).mean(axis=1)
    assert d["error_var"]["kalman"] == pytest.approx(P_post, rel=0.15)
    _, d1 = T.simulate_se(1, CONFIGS, frames=3000, seed=2, return_details=True)
    P1 = (d1["kalman_P_steady"] - d1["sigma_zeta2"][:, None]).mean(axis=1)
    assert np.all(d1["error_var"]["kalman"] > 1.1 * P1)


def test_angle_reading_has_the_model_measurement_variance_at_high_snr():
    """The "angle" measurement (the angle of the summed sync samples, each
    sqrt(rho) g e^{j alpha} + CN(0, 1)) has, at high SNR, the variance of the
    paper's Gaussian model (16): the direct error alphabar_n - alpha_n has
    variance sigma_xi^2 + sigma_mu^2 within 5 % (as the Gaussian reading
    above; at SNR_AP = -5 dB the angle's excess over 1 / (2 SNR) is below
    1 %). Only the Gaussian reading was checked: twice the noise in the
    angle reading passed."""
    import dataclasses

    rd = dataclasses.replace(T.READINGS["paper"], name="angle", measurement="angle")
    _, d = T.simulate_se(5, [(1.58e-17, -5.0)], reading=rd, frames=3000, seed=2,
                         return_details=True)
    expected = d["sigma_xi2"] + d["sigma_mu2_mean"]
    assert d["error_var"]["direct"] == pytest.approx(expected, rel=0.05)


def test_exact_wiener_variance_matches_the_simulation_at_F1():
    """At F = 1, where (15)-(16) leave out covariances of the physical Wiener
    phase noise (the test above: the error exceeds P_n - sigma_zeta^2 by more
    than 10 %), tdd_sync.wiener_error_variances' exact steady-state
    a-posteriori variance V_post, with those covariances, is what the frame
    simulation measures: within 3 % for every configuration (3000 x ~20
    pooled frames: about 1 % standard deviation; measured 0.1-1.4 %)."""
    _, d = T.simulate_se(1, CONFIGS, frames=3000, seed=2, return_details=True)
    for i, (c_nu, _) in enumerate(CONFIGS):
        th = T.wiener_error_variances(1, c_nu, T.SystemParams(), d["sigma_mu2_mean"][i])
        assert d["error_var"]["kalman"][i] == pytest.approx(th["V_post"], rel=0.03), (c_nu, th)


# ----------------------------------------------------------------------------
# acceptance 1 and 2 (default reading, 1e4 frames)
# ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def paper_curves():
    from gnuradio.cohere.apps.reproduce_tdd_kalman import compute_curves
    return compute_curves(["paper"], [5e-18, 1.58e-17], [-15.0, -20.0], [1, 2, 3, 4, 6, 10],
                          frames=10_000, seed=0)


def _curve(curves, c, s, method):
    return [x for x in curves if x["c_nu"] == c and x["snr_ap_db"] == s
            and x["method"] == method][0]


def test_acceptance_1_kalman_beats_direct(paper_curves):
    """Acceptance 1: Kalman SE > direct-estimation SE at every F (1, 2, 3, 4, 6, 10),
    both LO qualities, both SNR_AP. Common random numbers (the same phase noise
    and measurements feed both methods), so the difference has far less Monte
    Carlo noise than each curve; the smallest margin (c_nu = 1.58e-17,
    -15 dB, F = 10, where the filter's gain tends to 1) is ~3e-3 bit/s/Hz."""
    for c, s in CONFIGS:
        k = np.array(_curve(paper_curves, c, s, "kalman")["se"])
        d = np.array(_curve(paper_curves, c, s, "direct")["se"])
        assert np.all(k > d), (c, s, k - d)


def test_acceptance_2_baseline_range_and_best_F(paper_curves):
    """Acceptance 2 with the default reading: the AP-1-only baseline is below both
    synchronized schemes at every F; every value is in the paper's plotted range
    0.8..1.6 bit/s/Hz; the best F with Kalman is the paper's, 2 for
    c_nu = 5e-18 and 1 for 1.58e-17, at both SNR_AP.

    The best-F margins are small by nature: SE(2) - SE(1) at 5e-18/-20 dB and
    SE(1) - SE(2) at 1.58e-17/-15 dB are ~3e-3 bit/s/Hz with a Monte Carlo
    spread of ~2e-3 at 1e4 frames (12 seeds: 10 reproduce all four optima, two
    give F = 2 at 1.58e-17/-15 dB by 5e-4; docs/tdd_kalman.md). This test pins
    seed 0."""
    for c, s in CONFIGS:
        k = _curve(paper_curves, c, s, "kalman")
        d = _curve(paper_curves, c, s, "direct")
        a = _curve(paper_curves, c, s, "ap1_only")
        assert np.all(np.array(a["se"]) < np.minimum(k["se"], d["se"])), (c, s)
        for cv in (k, d, a):
            assert 0.8 <= min(cv["se"]) and max(cv["se"]) <= 1.6, (c, s, cv["method"])
        assert k["best_F"] == PAPER_BEST_F[c], (c, s, k["se"])


def test_simple_reading_prefers_F1():
    """The 'simple' reading (only the two sync samples lost, user knows phi^(1)
    at its pilot, angle estimator) gives best F = 1 for every curve, as the
    issue's quick model: the SE drops by >= 0.02 bit/s/Hz from F = 1 to F = 2
    (4000 frames: Monte Carlo spread ~3e-3)."""
    se = np.array([T.simulate_se(F, CONFIGS, reading=T.READINGS["simple"], frames=4000,
                                 seed=1, methods=("kalman",))["kalman"] for F in (1, 2, 3)])
    assert np.all(se[0] - se[1] > 0.02)
    assert np.all(se[1] > se[2])


# ----------------------------------------------------------------------------
# the app
# ----------------------------------------------------------------------------

def test_app_quick_writes_json(tmp_path):
    """`cohere reproduce tdd-kalman --quick` ends with exit code 0, prints where it
    wrote its files, writes the JSON curves (a list of {"c_nu", "snr_ap_db",
    "method", "reading", "F", "se"} for both readings, 4 configs x 3 methods),
    the summary with the acceptance verdicts, and the Fig. 2 / Fig. 3 PNGs."""
    out = tmp_path / "out"
    json_path = tmp_path / "curves.json"
    proc = run_app(tmp_path, "reproduce", "tdd-kalman", "--quick", "--out-dir", out,
                   "--json", json_path, timeout=300)
    assert str(json_path) in proc.stdout
    with open(json_path) as f:
        curves = json.load(f)
    assert isinstance(curves, list) and len(curves) == 2 * 4 * 3
    for cv in curves:
        assert {"c_nu", "snr_ap_db", "method", "reading", "F", "se"} <= cv.keys()
        assert len(cv["F"]) == len(cv["se"]) >= 2
        assert all(0.5 < v < 2.0 for v in cv["se"])
    assert {cv["method"] for cv in curves} == {"kalman", "direct", "ap1_only"}
    assert {cv["reading"] for cv in curves} == {"paper", "simple"}
    assert {(cv["c_nu"], cv["snr_ap_db"]) for cv in curves} == set(CONFIGS)
    with open(out / "tdd_kalman_summary.json") as f:
        summary = json.load(f)
    assert {"1_kalman_above_direct", "2_ap1_only_below", "2_range", "2_best_F_kalman",
            "4_one_way_mse"} <= summary["acceptance"].keys()
    assert summary["acceptance"]["4_one_way_mse"]["pass"]
    for fig in ("tdd_kalman_fig2.png", "tdd_kalman_fig3.png"):
        assert (out / fig).stat().st_size > 10_000
