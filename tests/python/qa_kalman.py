# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the wrapped Kalman phase trackers (gnuradio.cohere.algorithms.kalman)
and of the kalman_phase_tracker message block.

Every random test is seeded. Tolerances are stated in each docstring with the
statistics they come from.
"""

import logging
import math
import time

import numpy as np
import pytest

from gnuradio.cohere.algorithms.kalman import (LOGGER_NAME, PhaseTracker, WrappedPhaseKalman,
                                                wrap)

SZ, SX, SM = 0.1, 0.02, 0.5         # sigma_zeta^2, sigma_xi^2, sigma_mu^2 of the hand examples


# ----------------------------------------------------------------------------
# known answers
# ----------------------------------------------------------------------------

def test_wrap_range_and_values():
    """wrap(a) = ((a + pi) mod 2 pi) - pi lies in [-pi, pi) and differs from a by
    a multiple of 2 pi (exact up to float rounding, 1e-12)."""
    a = np.linspace(-50.0, 50.0, 10001)
    w = wrap(a)
    assert np.all(w >= -math.pi) and np.all(w < math.pi)
    k = (a - w) / (2 * math.pi)
    assert np.allclose(k, np.round(k), atol=1e-12)
    assert wrap(math.pi) == pytest.approx(-math.pi)
    assert wrap(-6.0) == pytest.approx(2 * math.pi - 6.0, abs=1e-15)


def test_wrapped_kalman_known_answer():
    """Three steps of (17)-(19) worked by hand, sigma_zeta^2 = 0.1,
    sigma_xi^2 = 0.02, sigma_mu^2 = 0.5, alphahat_0 = 0, P_0 = 1:

      n = 1, z = 0.3:  kappa = 1.02 / 1.56 = 17/26 = 0.6538462
                       alphahat = 0.3 * 17/26 = 0.1961538
                       P = 1 - (17/26) 1.02 + 0.1 = 0.4330769
      n = 2, z = -0.2: kappa = 0.4530769 / 0.9930769 = 0.4562355
                       alphahat = 0.1961538 + kappa (-0.3961538) = 0.0154144
                       P = 0.4330769 - kappa 0.4530769 + 0.1 = 0.3263672
      n = 3, z = 0.1:  kappa = 0.3463672 / 0.8863672 = 0.3907717
                       alphahat = 0.0154144 + kappa 0.0845856 = 0.0484681
                       P = 0.2910167
    Tolerance 1e-6 (the hand values are rounded to 7 digits)."""
    kf = WrappedPhaseKalman(SZ, SX, SM, estimate=0.0, P0=1.0)
    expected = [(0.3, 0.6538462, 0.1961538, 0.4330769),
                (-0.2, 0.4562355, 0.0154144, 0.3263672),
                (0.1, 0.3907717, 0.0484681, 0.2910167)]
    for z, kappa, est, P in expected:
        out = kf.update(z)
        assert kf.gain == pytest.approx(kappa, abs=1e-6)
        assert out == pytest.approx(est, abs=1e-6)
        assert kf.estimate == pytest.approx(est, abs=1e-6)
        assert kf.P == pytest.approx(P, abs=1e-6)
        assert kf.P_posterior == pytest.approx(P - SZ, abs=1e-6)
    assert kf.steps == 3


def test_wrapped_kalman_known_answer_across_pi():
    """Wrapped innovation and output across the branch cut, by hand
    (P_0 = 0.5, alphahat_0 = 3.0):

      z = -3.0: innovation wrap(-6.0) = 2 pi - 6 = 0.2831853 (not -6.0),
                kappa = 0.52 / 1.06 = 0.4905660, alphahat = 3.0 + 0.1389211 = 3.1389211,
                P = 0.5 - kappa 0.52 + 0.1 = 0.3449057
      z = -3.1: innovation wrap(-6.2389211) = 0.0442642,
                kappa = 0.3649057 / 0.9049057 = 0.4032527,
                alphahat = 3.1389211 + 0.0178500 = 3.1567711 -> wrapped to -3.1264145
    Tolerance 1e-6."""
    kf = WrappedPhaseKalman(SZ, SX, SM, estimate=3.0, P0=0.5)
    kf.update(-3.0)
    assert kf.innovation == pytest.approx(0.2831853, abs=1e-6)
    assert kf.gain == pytest.approx(0.4905660, abs=1e-6)
    assert kf.estimate == pytest.approx(3.1389211, abs=1e-6)
    assert kf.P == pytest.approx(0.3449057, abs=1e-6)
    kf.update(-3.1)
    assert kf.innovation == pytest.approx(0.0442642, abs=1e-6)
    assert kf.gain == pytest.approx(0.4032527, abs=1e-6)
    assert kf.estimate == pytest.approx(-3.1264145, abs=1e-6)
    # without output wrapping the same step stays on the + side
    kf2 = WrappedPhaseKalman(SZ, SX, SM, estimate=3.0, P0=0.5, wrap_output=False)
    kf2.update(-3.0)
    kf2.update(-3.1)
    assert kf2.estimate == pytest.approx(3.1567711, abs=1e-6)


def test_phase_tracker_constant_velocity_known_answer():
    """Constant-velocity tracker, q = 0, r = 1, P_0 = I, x_0 = 0, z = 1 at t = 1 and t = 2
    (dt = 1, F = [[1, 1], [0, 1]], H = [1, 0]), by hand:

      t = 1: P- = F I F^T = [[2, 1], [1, 1]], S = 3, K = [2/3, 1/3],
             x = [2/3, 1/3], P = P- - S K K^T = [[2/3, 1/3], [1/3, 2/3]]
      t = 2: x- = [1, 1/3], P- = [[2, 1], [1, 2/3]], innovation 0, S = 3,
             K = [2/3, 1/3], x = [1, 1/3], P = [[2/3, 1/3], [1/3, 1/3]]
    Exact fractions; tolerance 1e-12."""
    pt = PhaseTracker("constant_velocity", q_phase=0.0, q_freq=0.0, r=1.0, P0=1.0)
    pt.update(1.0, t=1)
    assert pt.state == pytest.approx([2 / 3, 1 / 3], abs=1e-12)
    assert pt.P == pytest.approx(np.array([[2 / 3, 1 / 3], [1 / 3, 2 / 3]]), abs=1e-12)
    pt.update(1.0, t=2)
    assert pt.innovation == pytest.approx(0.0, abs=1e-12)
    assert pt.gain == pytest.approx([2 / 3, 1 / 3], abs=1e-12)
    assert pt.state == pytest.approx([1.0, 1 / 3], abs=1e-12)
    assert pt.P == pytest.approx(np.array([[2 / 3, 1 / 3], [1 / 3, 1 / 3]]), abs=1e-12)
    assert pt.frequency == pytest.approx(1 / 3, abs=1e-12)
    with pytest.raises(ValueError, match="time must increase"):
        pt.update(1.0, t=2)


def test_phase_tracker_reproduces_wrapped_kalman():
    """PhaseTracker(random_walk, q_phase = sigma_zeta^2, r = sigma_xi^2 + sigma_mu^2,
    cross = sigma_xi^2) is the filter (17)-(19): same estimates on the same
    (wrapping) measurements, and its a-posteriori P equals P_n - sigma_zeta^2 of
    WrappedPhaseKalman. Both are exact recursions: tolerance 1e-12.

    PhaseTracker predicts first (P- = P + q), so it starts from the
    a-posteriori variance P_0 - sigma_zeta^2."""
    rng = np.random.default_rng(11)
    P0 = 1.5
    kf = WrappedPhaseKalman(SZ, SX, SM, estimate=0.4, P0=P0)
    pt = PhaseTracker("random_walk", q_phase=SZ, r=SX + SM, cross=SX, phase0=0.4, P0=P0 - SZ)
    for z in rng.uniform(-10, 10, 200):
        a = kf.update(z)
        b = pt.update(z)
        assert b == pytest.approx(a, abs=1e-12)
        assert pt.P[0, 0] == pytest.approx(kf.P - SZ, abs=1e-12)


# ----------------------------------------------------------------------------
# wrapping, divergence
# ----------------------------------------------------------------------------

def test_wrap_handling_no_divergence():
    """The true phase is a random walk with sigma_zeta^2 = 0.3 (std 0.55 rad per
    step) observed modulo 2 pi for 5000 steps: it crosses the +-pi cut hundreds
    of times and its unwrapped value wanders over many turns. With the wrapped
    innovation the error wrap(alphahat - alpha) stays at the filter's a-posteriori
    variance: the empirical variance over the last 4000 steps is within 15 % of
    P_n - sigma_zeta^2 (the errors are correlated over ~1/kappa ~ 2 steps, so
    the effective sample size is >~ 1000 and 4 sigma of a chi-square variance
    estimate is 4 sqrt(2/1000) = 18 %; the wrap of the few large noise draws
    adds a little), and no error exceeds 6 sqrt(P_n - sigma_zeta^2). A filter fed the
    plain innovation z - alphahat (no wrap) is kicked by up to 2 pi at every cut
    crossing: its error variance is > 2.5 P and more than 20 errors exceed 6 sigma
    (the wrapped filter: none)."""
    rng = np.random.default_rng(1)
    sz, sx, sm = 0.3, 0.0, 0.2
    n = 5000
    alpha = np.cumsum(rng.normal(0.0, math.sqrt(sz), n))
    z = wrap(alpha + rng.normal(0.0, math.sqrt(sm), n))
    crossings = int(np.sum(np.abs(np.diff(wrap(alpha))) > math.pi))
    assert crossings > 200
    assert np.ptp(alpha) > 6 * math.pi
    kf = WrappedPhaseKalman(sz, sx, sm, estimate=z[0], P0=sm)
    err = np.empty(n)
    for i in range(n):
        err[i] = wrap(kf.update(z[i]) - alpha[i])
    P_post = kf.P - sz
    emp = np.mean(err[1000:] ** 2)
    assert emp == pytest.approx(P_post, rel=0.15)
    assert np.max(np.abs(err[1000:])) < 6 * math.sqrt(P_post)

    # the same filter without the wrap in the innovation: broken
    x, P = z[0], sm
    bad = np.empty(n)
    for i in range(n):
        k = (P + sx) / (P + 3 * sx + sm)
        x = x + k * (z[i] - x)
        P = P - k * (P + sx) + sz
        bad[i] = wrap(x - alpha[i])
    assert np.mean(bad[1000:] ** 2) > 2.5 * P_post
    assert np.sum(np.abs(bad[1000:]) > 6 * math.sqrt(P_post)) > 20


def test_constant_velocity_tracks_fast_rotation():
    """A phase rotating at 0.7 rad/step (a full turn every 9 steps) plus a small
    random walk (q_phase = 1e-4), measured with var r = 0.01: the constant-velocity
    tracker locks (frequency error < 0.01 rad/step after 500 steps; the
    a-posteriori frequency std is sqrt(P[1,1]) ~ 5e-3) and its phase error
    variance over the last 1500 steps is within 20 % of P[0, 0] (lightly
    correlated errors, >~ 500 effective samples: 4 sigma = 25 %, bound kept at
    20 % with this seed), while a random-walk tracker with the same r and q lags
    by ~ the rotation per step and fails (error variance > 10x)."""
    rng = np.random.default_rng(2)
    n, w, q, r = 2000, 0.7, 1e-4, 0.01
    alpha = w * np.arange(n) + np.cumsum(rng.normal(0, math.sqrt(q), n))
    z = wrap(alpha + rng.normal(0, math.sqrt(r), n))
    cv = PhaseTracker("constant_velocity", q_phase=q, q_freq=1e-8, r=r,
                      P0=np.diag([1.0, 1.0]))
    rw = PhaseTracker("random_walk", q_phase=q, r=r, P0=1.0)
    e_cv, e_rw = np.empty(n), np.empty(n)
    for i in range(n):
        e_cv[i] = wrap(cv.update(z[i], t=i) - alpha[i])
        e_rw[i] = wrap(rw.update(z[i], t=i) - alpha[i])
    assert abs(cv.frequency - w) < 0.01
    assert np.mean(e_cv[500:] ** 2) == pytest.approx(cv.P[0, 0], rel=0.2)
    assert np.mean(e_rw[500:] ** 2) > 10 * np.mean(e_cv[500:] ** 2)


# ----------------------------------------------------------------------------
# NaN measurements, validation
# ----------------------------------------------------------------------------

def test_nan_measurement_is_prediction_with_warning(caplog):
    """A NaN or Inf measurement: estimate unchanged, kappa = 0, P grows by
    sigma_zeta^2 (prediction only, eq. (19) with kappa = 0), and a warning on
    the gnuradio.cohere.kalman logger; a second NaN right after is
    rate-limited (no second record), and is reported with the next warning."""
    kf = WrappedPhaseKalman(SZ, SX, SM, estimate=0.2, P0=1.0, warn_interval=60.0)
    kf.update(0.3)
    est, P = kf.estimate, kf.P
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        assert kf.update(float("nan")) == est
        assert kf.P == pytest.approx(P + SZ, abs=1e-15)
        assert kf.gain == 0.0 and math.isnan(kf.innovation)
        kf.update(float("inf"))
    recs = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert len(recs) == 1 and recs[0].levelno == logging.WARNING
    assert "skipped" in recs[0].getMessage()
    assert kf.skipped == 2
    bank = WrappedPhaseKalman(SZ, SX, SM, estimate=np.zeros(5), P0=1.0)
    bank.update([math.nan, math.nan, math.inf, 0.1, 0.2])
    bank.predict()                      # a prediction is not a skipped measurement
    assert bank.skipped == 3            # elements, not calls (it said 1)
    assert kf.P == pytest.approx(P + 2 * SZ, abs=1e-15)
    kf.update(0.25)                     # normal update again
    assert kf.gain > 0

    # the suppressed count is reported with the next emitted warning
    caplog.clear()
    kf._warn.interval = 0.0
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        kf.update(float("nan"))
    assert "1 similar warnings suppressed" in caplog.records[-1].getMessage()

    # PhaseTracker: same behaviour
    pt = PhaseTracker("constant_velocity", q_phase=1e-3, q_freq=1e-4, r=0.1, P0=1.0,
                      warn_interval=60.0)
    pt.update(0.5, t=10)
    x, P = pt.state, pt.P
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        pt.update(float("nan"), t=12)
    assert len([r for r in caplog.records if r.name == LOGGER_NAME]) == 1
    F = np.array([[1.0, 2.0], [0.0, 1.0]])
    assert pt.state == pytest.approx(F @ x, abs=1e-12)
    assert pt.P[0, 0] > P[0, 0] and pt.time == 12
    assert math.isnan(pt.innovation)


def test_nan_elements_in_a_filter_bank(caplog):
    """Array mode: only the NaN elements skip the update; one warning counts them."""
    kf = WrappedPhaseKalman(SZ, SX, np.array([0.5, 0.5, 1.0]), estimate=0.0, P0=1.0)
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        out = kf.update(np.array([0.3, np.nan, 0.3]))
    assert out[1] == 0.0 and out[0] == pytest.approx(0.1961538, abs=1e-6)
    assert kf.P[1] == pytest.approx(1.0 + SZ)
    assert "1 non-finite" in caplog.records[-1].getMessage()


@pytest.mark.parametrize("name,kwargs", [
    ("sigma_zeta2", {"sigma_zeta2": -0.1}),
    ("sigma_zeta2", {"sigma_zeta2": float("nan")}),
    ("sigma_zeta2", {"sigma_zeta2": float("inf")}),
    ("sigma_xi2", {"sigma_xi2": -1e-3}),
    ("sigma_xi2", {"sigma_xi2": float("nan")}),
    ("sigma_mu2", {"sigma_mu2": 0.0}),
    ("sigma_mu2", {"sigma_mu2": -1.0}),
    ("sigma_mu2", {"sigma_mu2": float("nan")}),
    ("P0", {"P0": -1.0}),
    ("P0", {"P0": float("nan")}),
    ("sigma_mu2", {"sigma_mu2": np.array([0.5, -0.5])}),
    ("sigma_zeta2", {"sigma_zeta2": "abc"}),
    # E[zeta (xi + mu)] = sigma_xi^2 needs sigma_xi^4 <= sigma_zeta^2 (sigma_xi^2 + sigma_mu^2)
    ("sigma_xi2", {"sigma_zeta2": 1e-4, "sigma_xi2": 0.5, "sigma_mu2": 0.1}),
])
def test_wrapped_kalman_rejects_bad_variances(name, kwargs):
    """Negative, NaN, Inf, non-numeric variances, a zero measurement variance and
    a non positive semi-definite joint covariance raise ValueError naming the
    argument."""
    args = {"sigma_zeta2": SZ, "sigma_xi2": SX, "sigma_mu2": SM}
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        WrappedPhaseKalman(**args)


@pytest.mark.parametrize("name,kwargs", [
    ("q_phase", {"q_phase": -1.0}),
    ("q_phase", {"q_phase": float("nan")}),
    ("q_freq", {"q_freq": -1e-9}),
    ("r", {"r": 0.0}),
    ("r", {"r": float("inf")}),
    ("P0", {"P0": -0.5}),
    ("P0", {"P0": np.array([[1.0, 2.0], [2.0, 1.0]])}),     # not PSD
    ("model", {"model": "kalman"}),
    ("cross", {"cross": [0.1]}),                            # CV needs 2 elements
])
def test_phase_tracker_rejects_bad_arguments(name, kwargs):
    """Same validation for PhaseTracker (constant-velocity model)."""
    args = {"model": "constant_velocity", "q_phase": 1e-3, "q_freq": 1e-5, "r": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        PhaseTracker(**args)


# ----------------------------------------------------------------------------
# Riccati recursion and statistics on the exact model
# ----------------------------------------------------------------------------

def test_P_converges_to_riccati_fixed_point():
    """From P_0 = 0 and P_0 = 10, P_n of (19) converges to the fixed point
    x = P + sigma_xi^2, x^2 - sigma_zeta^2 x - sigma_zeta^2 (2 sigma_xi^2 + sigma_mu^2) = 0
    (substitute (17) into (19) with P_n = P_{n-1}). The recursion is a
    contraction with factor (1 - kappa)^2 per step: 1e-12 after 200 steps."""
    for sz, sx, sm in [(SZ, SX, SM), (0.017, 0.0037, 0.39), (1e-4, 0.0, 1.0)]:
        P_inf = WrappedPhaseKalman.riccati_fixed_point(sz, sx, sm)
        x = P_inf + sx
        assert x * x - sz * x - sz * (2 * sx + sm) == pytest.approx(0.0, abs=1e-12)
        for P0 in (0.0, 10.0):
            kf = WrappedPhaseKalman(sz, sx, sm, P0=P0)
            for _ in range(2000 if sz < 1e-3 else 200):
                kf.update(0.0)
            assert kf.P == pytest.approx(P_inf, rel=1e-9, abs=1e-12)
            assert kf.steady_state_P() == pytest.approx(P_inf)


def test_error_variance_matches_P_on_the_exact_model():
    """Data drawn from exactly the model (15)-(16): zeta_n = xi_n + eta_n with
    eta_n ~ N(0, sigma_zeta^2 - sigma_xi^2) independent (so var zeta = sigma_zeta^2
    and E[zeta_n xi_n] = sigma_xi^2), mu_n ~ N(0, sigma_mu^2) independent; the
    initial prediction error alpha_1 - alphahat_0 has variance P_0 and the same
    correlation with xi_1 (alpha_0 - alphahat_0 ~ N(0, P_0 - sigma_zeta^2)).
    A bank of R = 4000 independent filters (array mode, seed 3), 40 steps; small
    variances keep the errors far from +-pi, so the wrap is inactive and the
    filter is the exact MMSE filter:

      * a-posteriori error alpha_n - alphahat_n: sample variance within
        4 sqrt(2 / R) = 9 % of P_n - sigma_zeta^2 at every step (chi-square
        with R degrees of freedom, 4 sigma; 40 steps x 2 checks at 4 sigma has
        a false-alarm probability < 1e-2), sample mean within 4 sqrt(P / R);
      * prediction error alpha_{n+1} - alphahat_n: within 9 % of P_n;
      * a filter that ignores the correlation (sigma_xi^2 as plain measurement
        noise, gain k = P/(P + sigma_xi^2 + sigma_mu^2)) has the steady-state
        error variance of the mismatched recursion
        e_n = (1 - k)(e_{n-1} + zeta_n) - k (xi_n + mu_n):
        V = [(1-k)^2 s_zeta + k^2 (s_xi + s_mu) - 2 k (1-k) s_xi] / (1 - (1-k)^2),
        here 1.33 x the correct P: empirical within 9 % of V, and > 1.2 x P.
    sigma_xi^2 = 0.008 close to sigma_zeta^2 = 0.01 with a precise link
    (sigma_mu^2 = 0.002) makes the correlation matter."""
    rng = np.random.default_rng(3)
    R, steps = 4000, 40
    sz, sx, sm = 0.01, 0.008, 0.002
    P0 = 0.5
    tol = 4 * math.sqrt(2.0 / R)
    alpha = rng.normal(0.0, math.sqrt(P0 - sz), R)              # alpha_0 - alphahat_0
    kf = WrappedPhaseKalman(sz, sx, np.full(R, sm), estimate=0.0, P0=P0)
    # the uncorrelated filter: plain Kalman with R = sigma_xi^2 + sigma_mu^2
    x_u, P_u = np.zeros(R), P0
    for n in range(1, steps + 1):
        xi = rng.normal(0.0, math.sqrt(sx), R)
        zeta = xi + rng.normal(0.0, math.sqrt(sz - sx), R)
        mu = rng.normal(0.0, math.sqrt(sm), R)
        P_prior = float(kf.P[0])
        err_prior = wrap(alpha + zeta - kf.estimate)                # alpha_n - alphahat_{n-1}
        assert np.var(err_prior) == pytest.approx(P_prior, rel=tol)
        alpha = alpha + zeta
        z = alpha + xi + mu
        est = kf.update(z)
        err = wrap(alpha - est)
        P_post = float(kf.P[0]) - sz
        assert np.var(err) == pytest.approx(P_post, rel=tol), n
        assert abs(np.mean(err)) < 4 * math.sqrt(P_post / R)
        k_u = P_u / (P_u + sx + sm)
        x_u = x_u + k_u * (z - x_u)
        P_u = P_u - k_u * P_u + sz
    k = P_u / (P_u + sx + sm)
    V = ((1 - k) ** 2 * sz + k * k * (sx + sm) - 2 * k * (1 - k) * sx) / (1 - (1 - k) ** 2)
    v_u = np.var(wrap(alpha - x_u))
    assert v_u == pytest.approx(V, rel=tol)
    assert v_u > 1.2 * (float(kf.P[0]) - sz)


# ----------------------------------------------------------------------------
# message block
# ----------------------------------------------------------------------------

def _dict(**kw):
    import pmt
    d = pmt.make_dict()
    for k, v in kw.items():
        d = pmt.dict_add(d, pmt.intern(k), pmt.to_pmt(v))
    return d


def _run_block(block, messages, n_expected, timeout=10.0):
    import pmt
    from gnuradio import blocks, gr
    tb = gr.top_block()
    dbg = blocks.message_debug()
    tb.msg_connect((block, "est"), (dbg, "store"))
    tb.start()
    for m in messages:
        block.to_basic_block()._post(pmt.intern("meas"), m)
    t0 = time.monotonic()
    while (block.n_in < len(messages) or dbg.num_messages() < n_expected) \
            and time.monotonic() - t0 < timeout:
        time.sleep(0.005)
    time.sleep(0.05)
    tb.stop()
    tb.wait()
    return [pmt.to_python(dbg.get_message(i)) for i in range(dbg.num_messages())]


def test_message_block_paper_model():
    """kalman_phase_tracker("paper") on PMT dicts: the outputs are the hand values
    of test_wrapped_kalman_known_answer (1e-6); 'time' passes through; a NaN
    phase gives a prediction (measured False, innovation NaN, P + sigma_zeta^2);
    malformed messages (a symbol, a dict without phase, a non-numeric phase, no
    time) are dropped and counted."""
    import pmt
    from gnuradio import cohere
    blk = cohere.kalman_phase_tracker("paper", sigma_zeta2=SZ, sigma_xi2=SX, sigma_mu2=SM,
                                      P0=1.0)
    msgs = [_dict(phase=0.3, time=1000),
            pmt.intern("junk"),
            _dict(time=1100),
            _dict(phase="abc", time=1150),
            _dict(phase=0.1),
            _dict(phase=-0.2, time=1200),
            _dict(phase=float("nan"), time=1300),
            _dict(phase=0.1, time=1400)]
    out = _run_block(blk, msgs, 4)
    assert blk.n_in == 8 and blk.n_dropped == 4 and blk.n_out == 4
    assert [o["time"] for o in out] == [1000, 1200, 1300, 1400]
    assert out[0]["phase"] == pytest.approx(0.1961538, abs=1e-6)
    assert out[0]["P"] == pytest.approx(0.4330769, abs=1e-6)
    assert out[0]["gain"] == pytest.approx(0.6538462, abs=1e-6)
    assert out[0]["innovation"] == pytest.approx(0.3, abs=1e-12)
    assert out[1]["phase"] == pytest.approx(0.0154144, abs=1e-6)
    assert out[1]["P"] == pytest.approx(0.3263672, abs=1e-6)
    assert out[2]["measured"] is False and math.isnan(out[2]["innovation"])
    assert out[2]["phase"] == pytest.approx(out[1]["phase"], abs=1e-15)
    assert out[2]["P"] == pytest.approx(0.3263672 + SZ, abs=1e-6)
    assert out[3]["measured"] is True and out[3]["gain"] > 0
    assert set(out[0]) == {"phase", "P", "time", "innovation", "gain", "measured"}


def test_message_block_constant_velocity_and_bad_time():
    """Constant-velocity model on messages 1 sample apart: the hand values of
    test_phase_tracker_constant_velocity_known_answer (phase 2/3 then 1,
    frequency 1/3); a message whose time does not increase is dropped; bad
    variances are rejected when the block is built."""
    from gnuradio import cohere
    blk = cohere.kalman_phase_tracker("constant_velocity", q_phase=0.0, q_freq=0.0, r=1.0,
                                      P0=1.0, freq_var0=1.0)
    out = _run_block(blk, [_dict(phase=1.0, time=5), _dict(phase=1.0, time=6),
                           _dict(phase=1.0, time=6)], 2)
    assert blk.n_dropped == 1 and len(out) == 2
    assert out[0]["phase"] == pytest.approx(2 / 3, abs=1e-12)
    assert out[1]["phase"] == pytest.approx(1.0, abs=1e-12)
    assert out[1]["frequency"] == pytest.approx(1 / 3, abs=1e-12)
    assert out[1]["P"] == pytest.approx(2 / 3, abs=1e-12)
    with pytest.raises(ValueError, match="sigma_mu2"):
        cohere.kalman_phase_tracker("paper", sigma_mu2=0.0)
    with pytest.raises(ValueError, match="r"):
        cohere.kalman_phase_tracker("random_walk", r=-1.0)
    with pytest.raises(ValueError, match="model"):
        cohere.kalman_phase_tracker("nope")


def test_message_block_survives_an_out_of_range_time():
    """A finite 'time' beyond the integers a double holds (1e30) is logged and
    dropped, and the block goes on (it raised in the handler, which ended the
    message thread: nothing after it was ever handled)."""
    from gnuradio import cohere
    for model in ("paper", "random_walk"):
        blk = cohere.kalman_phase_tracker(model)
        msgs = [_dict(phase=0.1, time=1), _dict(phase=0.2, time=1e30),
                _dict(phase=0.2, time=-1e30), _dict(phase=0.3, time=3), _dict(phase=0.3, time=4)]
        out = _run_block(blk, msgs, 3)
        assert blk.n_in == 5 and blk.n_dropped == 2 and len(out) == 3, model
        assert [o["time"] for o in out] == [1, 3, 4]


def test_wrap_never_returns_plus_pi():
    """The rounding of a + pi can give exactly 2 pi for a just below -pi:
    wrap keeps its [-pi, pi) promise (it returned +pi, and so could an estimate)."""
    a = np.nextafter(-np.pi, -4.0)
    assert wrap(a) == -np.pi and isinstance(wrap(a), np.floating)
    assert np.all(wrap(np.array([a, np.pi, -np.pi, 3 * np.pi])) < np.pi)
    kf = WrappedPhaseKalman(1e-3, 0.0, 1e-2, estimate=-np.pi, P0=1e-3)
    assert all(kf.update(-np.pi - d) < np.pi for d in np.linspace(1e-16, 1e-14, 50))


@pytest.mark.parametrize("cross", [0.5, -0.06])
def test_phase_tracker_rejects_a_cross_covariance_that_is_not_one(cross):
    """cross^2 > q_phase r: [[Q, cross], [cross, r]] is not positive
    semi-definite; accepted, it made P negative (cross 0.5) or the gain 5
    (cross -0.06). Rejected when built (unit step) and for any other step."""
    with pytest.raises(ValueError, match="cross"):
        PhaseTracker(q_phase=1e-4, r=0.1, P0=0.01, cross=cross)
    ok = PhaseTracker(q_phase=1e-2, r=0.1, P0=0.01, cross=0.03)  # 9e-4 <= 1e-3
    ok.update(0.3, 1.0)
    with pytest.raises(ValueError, match="cross"):
        ok.update(0.3, 1.5)  # dt = 0.5: 9e-4 > 5e-4


# ----------------------------------------------------------------------------
# constant-velocity model against its continuous-time theory
# ----------------------------------------------------------------------------

def _cv_theory(q_phase, q_freq, dt):
    """F and Q of the constant-velocity model over dt, Q by numerical
    integration of the continuous-time model (independent of the tracker's
    closed form): d[phase, freq] = [[0, 1], [0, 0]] [phase, freq] dt + dW with
    white densities diag(q_phase, q_freq), Q = int_0^dt e^{A s} S e^{A^T s} ds."""
    from scipy.integrate import quad_vec

    S = np.diag([q_phase, q_freq])

    def integrand(s):
        E = np.array([[1.0, s], [0.0, 1.0]])  # e^{A s}
        return (E @ S @ E.T).ravel()

    Q = quad_vec(integrand, 0.0, dt, epsabs=1e-14, epsrel=1e-12)[0].reshape(2, 2)
    return np.array([[1.0, dt], [0.0, 1.0]]), Q


@pytest.mark.parametrize("dt", [1.0, 0.37, 2.5])
def test_constant_velocity_steady_state_solves_the_riccati_equation(dt):
    """With measurements every dt, the tracker's covariance converges to the
    discrete algebraic Riccati equation's solution for the model's F and Q
    (Q from the continuous-time model, integrated numerically): a-priori
    P- = DARE(F^T, H^T, Q, r), a-posteriori P = P- - P- H^T H P- / (H P- H^T + r),
    to 1e-9 (relative). A wrong Q term or a missing F in the propagation
    changes P by far more."""
    from scipy.linalg import solve_discrete_are

    qp, qf, r = 2e-3, 5e-4, 0.05
    F, Q = _cv_theory(qp, qf, dt)
    H = np.array([[1.0, 0.0]])
    Pm = solve_discrete_are(F.T, H.T, Q, np.array([[r]]))
    Pp = Pm - Pm @ H.T @ H @ Pm / float(H @ Pm @ H.T + r)
    pt = PhaseTracker("constant_velocity", q_phase=qp, q_freq=qf, r=r, P0=[[3.0, 0.0], [0.0, 0.2]])
    rng = np.random.default_rng(3)
    for n in range(1, 3001):
        pt.update(float(rng.normal()), t=n * dt)
    assert pt.P == pytest.approx(Pp, rel=1e-9)
    # the Kalman gain is P- H^T / S at the fixed point
    assert pt.gain == pytest.approx((Pm @ H.T).ravel() / float(H @ Pm @ H.T + r), rel=1e-9)


def test_constant_velocity_prediction_propagates_the_covariance():
    """predict() (no measurement) over dt gives F P F^T + Q(dt) with Q from the
    continuous-time model: the phase variance grows by 2 dt P01 + dt^2 P11 +
    q_phase dt + q_freq dt^3 / 3, not only by Q (1e-12)."""
    qp, qf, r = 1e-3, 2e-4, 0.1
    pt = PhaseTracker("constant_velocity", q_phase=qp, q_freq=qf, r=r, P0=[[0.5, 0.1], [0.1, 0.3]])
    pt.update(0.2, t=0.0)
    P = pt.P
    for dt in (1.0, 3.7):
        F, Q = _cv_theory(qp, qf, dt)
        pt.predict(t=pt.time + dt)
        P = F @ P @ F.T + Q
        assert pt.P == pytest.approx(P, rel=1e-12, abs=1e-15)


def test_message_block_constant_velocity_matches_the_tracker_at_irregular_times():
    """kalman_phase_tracker("constant_velocity") on messages at irregular times
    gives, message by message, what a PhaseTracker built with P0 = diag(P0,
    freq_var0) gives with update(phase, time): phase, P (the phase variance),
    gain (on the phase), innovation and frequency, to 1e-12."""
    from gnuradio import cohere

    kw = dict(q_phase=3e-4, q_freq=2e-5, r=0.02)
    times = [10, 13, 14, 31, 32, 60, 61, 62, 90]
    rng = np.random.default_rng(5)
    phases = [float(wrap(0.4 + 0.03 * t + rng.normal(0, 0.1))) for t in times]
    blk = cohere.kalman_phase_tracker("constant_velocity", P0=2.0, freq_var0=0.01, **kw)
    out = _run_block(blk, [_dict(phase=p, time=t) for p, t in zip(phases, times)], len(times))
    ref = PhaseTracker("constant_velocity", P0=[[2.0, 0.0], [0.0, 0.01]], **kw)
    assert len(out) == len(times)
    for o, p, t in zip(out, phases, times):
        ref.update(p, t)
        assert o["time"] == t
        assert o["phase"] == pytest.approx(ref.phase, abs=1e-12)
        assert o["P"] == pytest.approx(ref.P[0, 0], rel=1e-12)
        assert o["gain"] == pytest.approx(ref.gain[0], rel=1e-12)
        assert o["innovation"] == pytest.approx(ref.innovation, abs=1e-12)
        assert o["frequency"] == pytest.approx(ref.frequency, abs=1e-12)
